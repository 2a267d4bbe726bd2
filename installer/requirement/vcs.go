package requirement

import (
	"net/url"
	"path"
	"regexp"
	"strings"
)

// VCSURL is a pip git URL, split into its parts. pip's form is
//
//	git+SCHEME://[USER[:PASS]@]HOST/PATH[@REF][#egg=NAME&subdirectory=DIR]
//
// where REF is everything after the last "@" in the path (so refs may
// contain "/", as in @refs/tags/v1.2.3).
type VCSURL struct {
	// Scheme is the transport: "https", "http", "ssh" or "file".
	Scheme string
	// Host is host[:port]; empty for file URLs.
	Host string
	// Path is the repository path, e.g. "/o/r.git".
	Path string
	// Ref is the requested revision; empty when none was given.
	Ref string
	// Egg is the #egg= name, if any.
	Egg string
	// Subdirectory is the #subdirectory= value, if any.
	Subdirectory string

	user *url.Userinfo // never rendered unmasked
}

// HasCredentials reports whether the URL carries a user or password.
func (v *VCSURL) HasCredentials() bool { return v.user != nil }

// Credentials returns the user info embedded in the URL, for the transport.
func (v *VCSURL) Credentials() (user, password string, ok bool) {
	if v.user == nil {
		return "", "", false
	}
	pw, _ := v.user.Password()
	return v.user.Username(), pw, true
}

// Secrets returns the strings that must never be printed: the URL's
// password, and its user name for http(s), where a token is often put.
func (v *VCSURL) Secrets() []string {
	if v.user == nil {
		return nil
	}
	var out []string
	if pw, ok := v.user.Password(); ok && pw != "" {
		out = append(out, pw)
	}
	if v.Scheme != "ssh" && v.user.Username() != "" {
		out = append(out, v.user.Username())
	}
	return out
}

// RepoURL is the repository's URL for display and comparison: no "git+",
// no credentials, no ref, no fragment. For example https://github.com/o/r.git.
func (v *VCSURL) RepoURL() string {
	u := url.URL{Scheme: v.Scheme, Host: v.Host, Path: v.Path}
	if v.Scheme == "ssh" && v.user != nil {
		u.User = url.User(v.user.Username())
	}
	return u.String()
}

// TransportURL is the URL to hand to git, with the user's credentials.
// Never print it.
func (v *VCSURL) TransportURL() string {
	u := url.URL{Scheme: v.Scheme, Host: v.Host, Path: v.Path, User: v.user}
	return u.String()
}

// Redacted renders the pip URL with any secret masked.
func (v *VCSURL) Redacted() string {
	u := url.URL{Scheme: "git+" + v.Scheme, Host: v.Host, Path: v.Path}
	if v.user != nil {
		u.User = maskUser(v.Scheme, v.user)
	}
	s := u.String()
	if v.Ref != "" {
		s += "@" + v.Ref
	}
	var frag []string
	if v.Egg != "" {
		frag = append(frag, "egg="+v.Egg)
	}
	if v.Subdirectory != "" {
		frag = append(frag, "subdirectory="+v.Subdirectory)
	}
	if len(frag) > 0 {
		s += "#" + strings.Join(frag, "&")
	}
	return s
}

// WithRef returns a copy of v pinned to ref.
func (v *VCSURL) WithRef(ref string) *VCSURL {
	c := *v
	c.Ref = ref
	return &c
}

const mask = "***"

func maskUser(scheme string, u *url.Userinfo) *url.Userinfo {
	if scheme == "ssh" {
		if _, ok := u.Password(); ok {
			return url.UserPassword(u.Username(), mask)
		}
		return u
	}
	return url.User(mask)
}

func redactURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = maskUser(u.Scheme, u.User)
	return c.String()
}

// userinfoRE finds "scheme://userinfo@" so secrets can be masked in text that
// failed to parse.
var userinfoRE = regexp.MustCompile(`(://)[^/@\s]*(?:@[^/@\s]*)*@`)

func maskSecrets(s string) string {
	return userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "://git@") && strings.Count(m, "@") == 1 {
			return m // the conventional ssh user, not a secret
		}
		return "://" + mask + "@"
	})
}

// Git ref names (git check-ref-format): no control characters, spaces,
// "~^:?*[\", no "..", no "@{", not ending in "." or "/" or ".lock".
var badRefRE = regexp.MustCompile(`[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^/|/$|\.$|\.lock$|^-`)

func (p *parser) vcsURL(off int, raw string) (*VCSURL, error) {
	rest := raw
	if strings.HasPrefix(strings.ToLower(rest), "git+") {
		rest = rest[len("git+"):]
	}
	if !strings.Contains(rest, "://") {
		return nil, p.fail(off+1, "write ssh URLs as git+ssh://git@host/owner/repo.git@v1.2.3", "not a URL (scp-like git addresses are not supported by pip)")
	}
	u, err := url.Parse(rest)
	if err != nil {
		return nil, p.fail(off+1, "check the URL for stray characters", "malformed URL: %s", strings.TrimPrefix(errText(err), "parse "))
	}
	v := &VCSURL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, user: u.User}
	switch v.Scheme {
	case "https", "http", "ssh":
		if u.Hostname() == "" {
			return nil, p.fail(off+1, "write the host, e.g. git+https://github.com/o/r.git", "URL has no host")
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, p.fail(off+1, "write file URLs as git+file:///absolute/path", "file URL with host %q", u.Host)
		}
		v.Host = ""
	case "git":
		return nil, p.fail(off+1, "use git+https:// instead", "the git:// protocol is neither encrypted nor authenticated")
	default:
		return nil, p.fail(off+1, "use git+https://, git+ssh:// or git+file://", "unsupported git transport %q", u.Scheme)
	}
	if u.RawQuery != "" {
		return nil, p.fail(off+1, "remove the query string", "git URLs take no query string")
	}
	repoPath := u.Path
	if i := strings.LastIndexByte(repoPath, '@'); i >= 0 {
		v.Ref = repoPath[i+1:]
		repoPath = repoPath[:i]
		at := off + strings.LastIndexByte(strings.SplitN(raw, "#", 2)[0], '@') + 1
		if v.Ref == "" {
			return nil, p.fail(at, "write a tag or full commit after @, or drop the @", "empty ref after @")
		}
		if strings.Contains(v.Ref, ";") {
			return nil, p.fail(at, `put whitespace before the ";" of an environment marker: URL ; marker`, "ref %q contains \";\"", v.Ref)
		}
		if badRefRE.MatchString(v.Ref) {
			return nil, p.fail(off+1, "use a tag name or a full 40-character commit SHA", "%q is not a valid git ref name", v.Ref)
		}
	}
	if repoPath == "" || repoPath == "/" {
		return nil, p.fail(off+1, "write the repository path, e.g. /owner/repo.git", "URL has no repository path")
	}
	v.Path = repoPath
	if u.Fragment != "" {
		for _, kv := range strings.Split(u.Fragment, "&") {
			k, val, _ := strings.Cut(kv, "=")
			switch k {
			case "egg":
				if !ValidName(val) {
					return nil, p.fail(off+1, "#egg= takes a project name only, e.g. #egg=pkg", "invalid #egg=%s", val)
				}
				v.Egg = val
			case "subdirectory":
				clean := path.Clean(val)
				if val == "" || path.IsAbs(val) || clean == ".." || strings.HasPrefix(clean, "../") {
					return nil, p.fail(off+1, "#subdirectory= is a relative path inside the repository", "invalid #subdirectory=%s", val)
				}
				v.Subdirectory = val
			default:
				return nil, p.fail(off+1, "git URLs take #egg= and #subdirectory= only", "unknown URL fragment %q", k)
			}
		}
	}
	return v, nil
}

// errText returns the error's message with any URL credentials masked
// (url.Error includes the URL it could not parse).
func errText(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return maskSecrets(ue.Err.Error())
	}
	return maskSecrets(err.Error())
}
