package installer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/provenance"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// Drift is something about a receipt's origin that changed since pipguard
// installed the distribution.
type Drift struct {
	// Rule is "tag-moved" or "release-changed".
	Rule    string
	Message string
}

var fullCommit = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// Recheck asks the origin a receipt names again (pipguard audit --online):
// whether its tag still points at the commit installed (listed with git,
// not the REST API), and for a release install whether the release still
// has the asset with the digest installed. A remote that cannot be reached
// is an error, not a finding; one on a host the policy does not name is
// not asked (see mayAsk).
func Recheck(ctx context.Context, cfg Config, pol *policy.Policy, r *pep610.Receipt) ([]Drift, error) {
	if err := mayAsk(cfg, pol, r.Repository); err != nil {
		return nil, err
	}
	var out []Drift
	if r.Tag != "" && !fullCommit.MatchString(r.Tag) {
		refs, err := gitref.List(ctx, r.Repository, cfg.gitOptions())
		if err != nil {
			return nil, err
		}
		res, err := gitref.Classify(r.Repository, refs, r.Tag)
		var re *gitref.RefusedError
		switch {
		case errors.As(err, &re):
			out = append(out, Drift{"tag-moved", fmt.Sprintf("%s of %s is no longer an immutable tag: %s", r.Tag, r.Repository, re.Reason)})
		case err != nil:
			return nil, err
		case !strings.EqualFold(res.Commit, r.Commit):
			out = append(out, Drift{"tag-moved", fmt.Sprintf("tag %s of %s now points at %s; %s was installed", r.Tag, r.Repository, res.Commit, r.Commit)})
		}
	}
	if r.From != string(FromRelease) || r.Asset == "" {
		return out, nil
	}
	u, err := url.Parse(r.Repository)
	if err != nil || !strings.EqualFold(u.Host, cfg.tokenHost()) {
		return out, nil
	}
	gh, err := cfg.client()
	if err != nil {
		return nil, err
	}
	repo := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	rel, err := gh.ReleaseByTag(ctx, repo, r.Tag)
	if errors.Is(err, github.ErrNotFound) {
		return append(out, Drift{"release-changed", fmt.Sprintf("the release %s of %s is gone", r.Tag, repo)}), nil
	}
	if err != nil {
		return nil, err
	}
	a, ok := rel.AssetNamed(r.Asset)
	switch {
	case !ok:
		out = append(out, Drift{"release-changed", fmt.Sprintf("the release %s of %s no longer has %s", r.Tag, repo, r.Asset)})
	case a.Digest != "" && !strings.EqualFold(a.Digest, "sha256:"+r.SHA256):
		out = append(out, Drift{"release-changed", fmt.Sprintf("%s in release %s of %s is now %s; sha256:%s was installed", r.Asset, r.Tag, repo, a.Digest, r.SHA256)})
	}
	return out, nil
}

// MutableRef lists the refs of a git repository pip installed from (no
// receipt) and says why ref is not an immutable one (a branch, a name
// that is both branch and tag, gone), or "" when it is a tag or a full
// commit (pipguard audit --online). A repository on a host the policy
// does not name is not asked (see mayAsk).
func MutableRef(ctx context.Context, cfg Config, pol *policy.Policy, repoURL, ref string) (string, error) {
	if fullCommit.MatchString(ref) {
		return "", nil
	}
	if err := mayAsk(cfg, pol, repoURL); err != nil {
		return "", err
	}
	refs, err := gitref.List(ctx, repoURL, cfg.gitOptions())
	if err != nil {
		return "", err
	}
	_, err = gitref.Classify(repoURL, refs, ref)
	var re *gitref.RefusedError
	if errors.As(err, &re) {
		return re.Error(), nil
	}
	return "", err
}

// mayAsk says whether pipguard audit --online may ask repoURL's host:
// only the GitHub host and the repositories of verify = "pin" tables,
// the hosts pipguard installs from. Any other URL is what a
// direct_url.json says, and whoever wrote it (any package's install)
// must not make pipguard connect to a host of their choosing (an endless
// ref advertisement, an internal address). It returns an
// *envaudit.NotRecheckedError for those.
func mayAsk(cfg Config, pol *policy.Policy, repoURL string) error {
	u, err := url.Parse(repoURL)
	if err == nil && u.Scheme == "file" && u.Host == "" && strings.HasPrefix(u.Path, "/") {
		// A git+file:// repository: a policy table names it
		// file:///ABS/PATH, pipguard names it /ABS/PATH (see
		// requirement.VCSURL.Repo), and only a verify = "pin" table lets
		// it be asked.
		repo := "/" + strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
		if pol != nil && pol.For(repo).Verify.V == policy.VerifyPin {
			return nil
		}
		return &envaudit.NotRecheckedError{URL: repoURL,
			Why: fmt.Sprintf("--online asks only the GitHub host (%s) and the repositories of verify = \"pin\" tables, and no table names file://%s", cfg.tokenHost(), repo)}
	}
	if err != nil || u.Host == "" {
		return &envaudit.NotRecheckedError{URL: pep610.StripCredentials(repoURL), Why: "not a URL pipguard asks"}
	}
	host := cfg.tokenHost()
	onGitHub := u.Scheme == "https" && strings.EqualFold(u.Host, host) ||
		u.Scheme == "ssh" && strings.EqualFold(u.Hostname(), (&url.URL{Host: host}).Hostname())
	if onGitHub {
		return nil
	}
	repo := u.Hostname() + "/" + strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if pol != nil && pol.For(repo).Verify.V == policy.VerifyPin {
		return nil
	}
	return &envaudit.NotRecheckedError{URL: pep610.StripCredentials(repoURL),
		Why: fmt.Sprintf("--online asks only the GitHub host (%s) and the repositories of verify = \"pin\" tables, and no table names %s", host, repo)}
}

// IndexRecheck asks again, for pipguard audit --online, the index an
// index install's receipt names: whether it still lists the installed
// file and publishes provenance for it that verifies, for the bytes
// pipguard hashed (the receipt's sha256) and the file's name, by the
// identity the receipt records. It is safe for concurrent use.
type IndexRecheck struct {
	cfg    Config
	pol    *policy.Policy
	trust  *attest.Trust
	client *http.Client

	mu       sync.Mutex
	verifier *provenance.Verifier
}

// NewIndexRecheck returns a re-check of index installs under pol, with
// Sigstore's public-good trusted root from trust.
func NewIndexRecheck(cfg Config, pol *policy.Policy, trust *attest.Trust) *IndexRecheck {
	return &IndexRecheck{cfg: cfg, pol: pol, trust: trust, client: &http.Client{Timeout: 30 * time.Second}}
}

func (c *IndexRecheck) getVerifier() (*provenance.Verifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verifier != nil {
		return c.verifier, nil
	}
	if c.trust == nil {
		return nil, errors.New("no Sigstore trusted root to verify index provenance with")
	}
	m, err := c.trust.Material(attest.PublicGood)
	if err != nil {
		return nil, fmt.Errorf("index provenance is signed by Sigstore's public-good instance: %w", err)
	}
	v, err := provenance.NewVerifier(m)
	if err != nil {
		return nil, err
	}
	c.verifier = v
	return v, nil
}

// fetchStatus is the HTTP status an index answered a provenance fetch
// with, when err is that answer (0 otherwise: no answer, or another
// error).
func fetchStatus(err error) int {
	var fe *provenance.FetchError
	if errors.As(err, &fe) {
		return fe.Status
	}
	return 0
}

// Recheck re-checks one index receipt. A receipt whose provenance did not
// verify at install has nothing to re-check. The index asked is the one
// the receipt (authenticated: pipguard wrote it) names, and only when the
// policy's indexes, if set, still allow it; any other is an
// *envaudit.NotRecheckedError. An index that cannot be reached, or that
// answers otherwise than with the page (a 5xx, a 401, a timeout), is an
// error, not a finding: retrying may help, and a distribution whose
// index did not answer is neither gone nor re-checked. Drift rules:
// "index-provenance-gone" (the index has no page for the project any
// more, 404 or 410; the file is no longer listed; or it has no
// provenance that verifies),
// "index-identity-changed" (it verifies, by another publisher).
func (c *IndexRecheck) Recheck(ctx context.Context, r *pep610.Receipt) ([]Drift, error) {
	p := r.Provenance
	if r.From != pep610.FromIndex || p == nil || p.State != pep610.ProvenanceVerified || p.Publisher == nil {
		return nil, nil
	}
	if r.Index == "" {
		return nil, &envaudit.NotRecheckedError{URL: r.File, Why: "its receipt names no index (its provenance was read from a directory, offline)"}
	}
	if c.pol != nil && len(c.pol.Indexes.V) > 0 && !c.pol.SourceAllowed(r.Index) {
		return nil, &envaudit.NotRecheckedError{URL: r.Index, Why: "the policy's indexes no longer list the index its receipt names"}
	}
	f, err := provenance.NewFetcher(c.client, r.Index)
	if err != nil {
		return nil, &envaudit.NotRecheckedError{URL: r.Index, Why: err.Error()}
	}
	gone := func(format string, a ...any) ([]Drift, error) {
		return []Drift{{"index-provenance-gone", fmt.Sprintf(format, a...)}}, nil
	}
	links, err := f.Links(ctx, r.Name)
	if status := fetchStatus(err); status == http.StatusNotFound || status == http.StatusGone {
		// The index answered: it has no page for the project (an index
		// takes a malicious project down this way). That is what the
		// audit is asked to find, not a failure to ask.
		return gone("%s has no page for %s any more (HTTP %d): the project is gone from the index; pipguard verified %s by %s at install", r.Index, r.Name, status, r.File, p.Publisher)
	}
	if err != nil {
		return nil, err
	}
	if _, ok := links[r.File]; !ok {
		return gone("%s no longer lists %s", r.Index, r.File)
	}
	got, err := f.Fetch(ctx, r.Name, r.Version, r.File)
	switch {
	case errors.Is(err, provenance.ErrNoProvenance), errors.Is(err, provenance.ErrDisabled), fetchStatus(err) == http.StatusGone:
		return gone("%s no longer publishes provenance for %s (%v); pipguard verified it by %s at install", r.Index, r.File, err, p.Publisher)
	case err != nil:
		return nil, err
	}
	if got.Provenance == nil || got.Provenance.Count() == 0 {
		return gone("%s's provenance for %s lists no attestation now; pipguard verified it by %s at install", r.Index, r.File, p.Publisher)
	}
	v, err := c.getVerifier()
	if err != nil {
		return nil, err
	}
	res, err := v.VerifyProvenance(got.Provenance, provenance.Expected{Filename: r.File, SHA256: r.SHA256})
	if err != nil {
		return gone("the provenance %s serves for %s no longer verifies for the installed bytes (sha256:%s): %v", r.Index, r.File, r.SHA256, err)
	}
	now := pep610.Publisher{}
	if res.Publisher != nil {
		b := res.Publisher
		now = pep610.Publisher{Kind: b.Kind, Repository: b.Repository, Workflow: b.Workflow, WorkflowFilepath: b.WorkflowFilepath, Email: b.Email, Issuer: b.Issuer, SAN: b.SAN}
	}
	same := envaudit.SamePublisher(now, *p.Publisher)
	if p.Publisher.Kind == "" {
		same = now.Kind == "" && now.Issuer == p.Publisher.Issuer && now.SAN == p.Publisher.SAN
	}
	if !same {
		return []Drift{{"index-identity-changed", fmt.Sprintf("%s's provenance for %s is now by %s; pipguard verified it by %s at install", r.Index, r.File, now, p.Publisher)}}, nil
	}
	return nil, nil
}
