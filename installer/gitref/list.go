// Package gitref lists a git remote's advertised references with go-git
// (no clone, nothing fetched but the ref advertisement) and classifies a
// requested ref as immutable (a tag or a full commit SHA) or refuses it.
//
// It trusts the remote to advertise its refs truthfully at the moment of the
// request and nothing more: a tag can be moved later, which is why later
// stages bind the resolved commit to a signed build. The advertisement must
// carry peeled values for annotated tags (git's upload-pack and http-backend
// always send them); without one, an annotated tag would look lightweight.
package gitref

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Refs is a remote's ref advertisement.
type Refs struct {
	// Hashes maps full ref names (refs/tags/v1) to the object they point at.
	Hashes map[string]string
	// Peeled maps annotated tag ref names to the commit they peel to.
	Peeled map[string]string
}

// Options say how to reach a remote.
type Options struct {
	// Token is a GitHub token, sent as HTTP basic auth only over https and
	// only to TokenHost. Never to any other host, never over plain http.
	Token string
	// TokenHost is the host[:port] the token belongs to (github.com, or a
	// GitHub Enterprise Server host).
	TokenHost string
	// HTTPClient is used for http(s) remotes; nil means a client with
	// Timeout. Its redirect policy applies; net/http drops the
	// Authorization header on a redirect to another host.
	HTTPClient *http.Client
	// Timeout bounds the whole listing; zero means 30 seconds.
	Timeout time.Duration
}

// RemoteError is a failure to list a remote's refs: unreachable, denied, not
// a repository. Retrying, or fixing credentials, may help.
type RemoteError struct {
	// Host is the remote's host (or "local" for file URLs).
	Host string
	// Cause is what went wrong, with every secret masked.
	Cause string
	// Fix says what to do.
	Fix string
	err error
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("cannot list refs of %s: %s", e.Host, e.Cause)
}

// Hint says what to do about the error.
func (e *RemoteError) Hint() string { return e.Fix }

// Unwrap returns the transport's sentinel error, if one was recognised.
func (e *RemoteError) Unwrap() error { return e.err }

// List fetches the ref advertisement of the repository at rawURL (https,
// http, ssh or file; credentials may be embedded in the URL). secrets are
// masked out of any error text.
func List(ctx context.Context, rawURL string, opts Options, secrets ...string) (*Refs, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	host := "local"
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		host = u.Host
	}
	if opts.Token != "" {
		secrets = append(secrets, opts.Token)
	}
	fail := func(err error, fix string) error {
		return &RemoteError{Host: host, Cause: Mask(err.Error(), secrets...), Fix: fix, err: sentinel(err)}
	}

	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fail(err, "check the repository URL")
	}
	lim := newAdvLimit()
	ar, err := advertisement(ctx, ep, host, opts, timeout, lim)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return &Refs{Hashes: map[string]string{}, Peeled: map[string]string{}}, nil
	}
	if lerr := lim.tripped(); lerr != nil {
		err = lerr
	}
	if errors.Is(err, ErrAdvertisementTooLarge) {
		return nil, &RemoteError{Host: host, Cause: Mask(err.Error(), secrets...), err: ErrAdvertisementTooLarge,
			Fix: "check the repository URL: a git server that advertises this much, or never ends its answer, is not one pipguard reads"}
	}
	var re *RemoteError
	if errors.As(err, &re) {
		return nil, err
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
		}
		return nil, fail(err, hintFor(err, host))
	}
	refs := &Refs{Hashes: make(map[string]string, len(ar.References)), Peeled: make(map[string]string, len(ar.Peeled))}
	for name, h := range ar.References {
		refs.Hashes[name] = h.String()
	}
	for name, h := range ar.Peeled {
		refs.Peeled[name] = h.String()
	}
	return refs, nil
}

// advertisement reads the advertisement of the repository at ep, bounded by
// lim: over http(s) through go-git with every response body bounded, over
// ssh through go-git with the connection's bytes bounded, and for a file
// URL by running git-upload-pack without pipguard's secrets (listFile).
func advertisement(ctx context.Context, ep *transport.Endpoint, host string, opts Options, timeout time.Duration, lim *advLimit) (*packp.AdvRefs, error) {
	var auth transport.AuthMethod
	var tr transport.Transport
	var ssh *connLimit
	switch ep.Protocol {
	case "file":
		return listFile(ctx, ep.Path, lim)
	case "http", "https":
		hc := opts.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: timeout}
		}
		tr = githttp.NewClient(limitedClient(hc, lim))
		if ep.User == "" && opts.Token != "" && ep.Protocol == "https" && sameHost(host, opts.TokenHost) {
			auth = &githttp.BasicAuth{Username: "x-access-token", Password: opts.Token}
		}
	case "ssh":
		var proxyURL string
		var done func()
		ssh, proxyURL, done = newSSHLimit()
		defer done()
		ep.Proxy = transport.ProxyOptions{URL: proxyURL}
		fallthrough
	default:
		var err error
		tr, err = client.NewClient(ep)
		if err != nil {
			return nil, &RemoteError{Host: host, Cause: Mask(err.Error()), Fix: "use an https, ssh or file URL"}
		}
	}
	sess, err := tr.NewUploadPackSession(ep, auth)
	if err != nil && ep.Protocol == "ssh" && strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		// go-git authenticates over ssh through the agent only.
		return nil, &RemoteError{Host: host, Cause: "no SSH agent to authenticate with (SSH_AUTH_SOCK is not set)",
			Fix: "start ssh-agent and ssh-add the key that can read the repository, or use the https URL (with GH_TOKEN for a private repository)"}
	}
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil && ssh != nil && ssh.tripped.Load() {
		return nil, lim.trip(strconv.Itoa(MaxAdvertisement>>20) + " MiB")
	}
	return ar, err
}

func sameHost(a, b string) bool {
	return b != "" && strings.EqualFold(a, b)
}

func sentinel(err error) error {
	for _, s := range []error{transport.ErrRepositoryNotFound, transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

func hintFor(err error, host string) string {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return "set GH_TOKEN (or GITHUB_TOKEN) to a token that can read " + host + " repositories"
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return "check the owner and repository name; a private repository also needs GH_TOKEN"
	case errors.Is(err, context.DeadlineExceeded):
		return "the remote did not answer in time; retry, or raise --timeout"
	}
	return "check the URL and your network, then retry"
}

var userinfoRE = regexp.MustCompile(`(://)[^/\s]*@`)

// Mask replaces every secret, and any user info in URLs, in s with "***".
func Mask(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return userinfoRE.ReplaceAllString(s, "${1}***@")
}
