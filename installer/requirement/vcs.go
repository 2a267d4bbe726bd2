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

	user   *url.Userinfo // never rendered unmasked
	netloc string        // as written, credentials included
}

// PipURL is the repository URL pip hands git: the scheme without "git+",
// the user info, host and path as written (never percent-decoded), no
// ref, no fragment. Never print it.
func (v *VCSURL) PipURL() string {
	return v.Scheme + "://" + v.netloc + v.Path
}

// urlString renders scheme://[user@]host+rawPath without re-encoding the
// path.
func urlString(scheme string, user *url.Userinfo, host, rawPath string) string {
	s := scheme + "://"
	if user != nil {
		s += user.String() + "@"
	}
	return s + host + rawPath
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
	var user *url.Userinfo
	if v.Scheme == "ssh" && v.user != nil {
		user = url.User(v.user.Username())
	}
	return urlString(v.Scheme, user, v.Host, v.Path)
}

// TransportURL is the URL to hand to git, with the user's credentials.
// Never print it.
func (v *VCSURL) TransportURL() string {
	return urlString(v.Scheme, v.user, v.Host, v.Path)
}

// Redacted renders the pip URL with any secret masked.
func (v *VCSURL) Redacted() string {
	var user *url.Userinfo
	if v.user != nil {
		user = maskUser(v.Scheme, v.user)
	}
	s := urlString("git+"+v.Scheme, user, v.Host, v.Path)
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

// firstFragment is pip's reading of #egg= and #subdirectory=: the first
// "#KEY=" or "&KEY=" anywhere in the URL, up to the next "&". at is where
// it starts.
func firstFragment(raw, key string) (value string, at int, ok bool) {
	for i := 0; i < len(raw); i++ {
		if (raw[i] == '#' || raw[i] == '&') && strings.HasPrefix(raw[i+1:], key+"=") {
			v := raw[i+len(key)+2:]
			if j := strings.IndexByte(v, '&'); j >= 0 {
				v = v[:j]
			}
			return v, i, true
		}
	}
	return "", 0, false
}

// vcsURL reads a pip git URL from its raw text, as pip and git do: the
// ref, #egg= and #subdirectory= are never percent-decoded.
func (p *parser) vcsURL(off int, raw string) (*VCSURL, error) {
	rest := raw[len("git+"):]
	sep := strings.Index(rest, "://")
	if sep < 0 || strings.ContainsAny(rest[:sep], "/?#@") {
		return nil, p.strictFail(StrictURLForm, off+1, "write ssh URLs as git+ssh://git@host/owner/repo.git@v1.2.3", "not a URL (scp-like git addresses are not supported)")
	}
	scheme := strings.ToLower(rest[:sep])
	after := rest[sep+3:]
	netloc := after
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		netloc = after[:i]
	}
	pathPart := after[len(netloc):]
	frag := ""
	if i := strings.IndexByte(pathPart, '#'); i >= 0 {
		pathPart, frag = pathPart[:i], pathPart[i+1:]
	}
	if strings.Contains(pathPart, "?") {
		return nil, p.strictFail(StrictURLForm, off+1, "remove the query string", "git URLs take no query string")
	}
	switch scheme {
	case "https", "http", "ssh", "file":
	case "git":
		return nil, p.strictFail(StrictUnsupportedVCS, off+1, "use git+https:// instead", "the git:// protocol is neither encrypted nor authenticated")
	default:
		return nil, p.strictFail(StrictURLForm, off+1, "use git+https://, git+ssh:// or git+file://", "unsupported git transport %q", rest[:sep])
	}
	if strings.ContainsAny(netloc, "[]") {
		return nil, p.fail(off+1, "write the host plainly", "invalid host")
	}
	if scheme == "file" && strings.Contains(pathPart, "%") {
		// pip rewrites a git+file: URL's path (and decodes it).
		return nil, p.strictFail(StrictURLForm, off+1, "write the repository path without percent-encoding", "percent-encoding in a git+file: URL")
	}
	u, err := url.Parse(scheme + "://" + netloc + "/")
	if err != nil {
		return nil, p.strictFail(StrictURLForm, off+1, "check the URL for stray characters", "malformed URL: %s", strings.TrimPrefix(errText(err), "parse "))
	}
	v := &VCSURL{Scheme: scheme, Host: netloc, user: u.User}
	if at := strings.LastIndexByte(netloc, '@'); at >= 0 {
		v.Host = netloc[at+1:]
	}
	switch v.Scheme {
	case "https", "http", "ssh":
		if u.Hostname() == "" {
			return nil, p.strictFail(StrictURLForm, off+1, "write the host, e.g. git+https://github.com/o/r.git", "URL has no host")
		}
	case "file":
		if v.Host != "" && !strings.EqualFold(v.Host, "localhost") || v.user != nil {
			return nil, p.strictFail(StrictURLForm, off+1, "write file URLs as git+file:///absolute/path", "file URL with host %q", v.Host)
		}
		v.Host = ""
	}
	repoPath := pathPart
	if i := strings.LastIndexByte(repoPath, '@'); i >= 0 {
		v.Ref = repoPath[i+1:]
		repoPath = repoPath[:i]
		at := off + len("git+") + sep + 3 + len(netloc) + i + 1
		if v.Ref == "" {
			return nil, p.fail(at, "write a tag or full commit after @, or drop the @", "empty ref after @")
		}
		if strings.Contains(v.Ref, ";") {
			return nil, p.strictFail(StrictGitRef, at, `put whitespace before the ";" of an environment marker: URL ; marker`, "ref %q contains \";\"", v.Ref)
		}
		if badRefRE.MatchString(v.Ref) {
			return nil, p.strictFail(StrictGitRef, off+1, "use a tag name or a full 40-character commit SHA", "%q is not a valid git ref name", v.Ref)
		}
		if strings.Contains(v.Ref, "%") {
			// pip 23 and 24 hand git the ref as written; pip 26 decodes
			// it first: "v1%2F0" is two different refs to them.
			return nil, p.strictFail(StrictGitRef, at, "write the ref as git names it, without percent-encoding", "ref %q is percent-encoded, which pip versions read differently", v.Ref)
		}
	}
	if strings.HasPrefix(repoPath, "//") {
		// Python's urlunsplit turns git+file:////h/r into file://h/r.
		return nil, p.strictFail(StrictURLForm, off+1, "write the repository path with one leading /", "repository path starts with //")
	}
	if repoPath == "" || repoPath == "/" {
		return nil, p.strictFail(StrictURLForm, off+1, "write the repository path, e.g. /owner/repo.git", "URL has no repository path")
	}
	if _, err := url.PathUnescape(repoPath); err != nil {
		return nil, p.strictFail(StrictURLForm, off+1, "check the percent-encoding", "malformed percent-encoding in the repository path")
	}
	v.Path = repoPath
	v.netloc = netloc
	// pip takes the first egg= and subdirectory= anywhere in the URL;
	// pipguard reads them from the fragment only, so one elsewhere is
	// refused.
	fragAt := len(raw) - len(frag) - 1
	for _, key := range []string{"egg", "subdirectory"} {
		if _, at, ok := firstFragment(raw, key); ok && (frag == "" || at < fragAt) {
			return nil, p.strictFail(StrictURLForm, off+1, "put #egg= and #subdirectory= in the URL's fragment only", "%s= outside the URL's fragment", key)
		}
	}
	if strings.ContainsAny(frag, "#") {
		return nil, p.strictFail(StrictURLForm, off+1, "write one fragment: #egg=NAME&subdirectory=DIR", "URL with two fragments")
	}
	if frag != "" {
		seen := map[string]bool{}
		for _, kv := range strings.Split(frag, "&") {
			k, val, hasValue := strings.Cut(kv, "=")
			if !hasValue {
				k = kv + " (without =)"
			}
			if seen[k] {
				return nil, p.strictFail(StrictURLForm, off+1, "write #egg= and #subdirectory= once each", "%s= given twice", k)
			}
			seen[k] = true
			switch k {
			case "egg":
				if !ValidName(val) {
					if val == "" {
						return nil, p.fail(off+1, "#egg= takes a project name only, e.g. #egg=pkg", "empty #egg=")
					}
					return nil, p.strictFail(StrictURLForm, off+1, "#egg= takes a project name only, e.g. #egg=pkg", "invalid #egg=%s", val)
				}
				v.Egg = val
			case "subdirectory":
				clean := path.Clean(val)
				if val != "" && (path.IsAbs(val) || clean == ".." || strings.HasPrefix(clean, "../")) {
					return nil, p.strictFail(StrictGitRef, off+1, "#subdirectory= is a relative path inside the repository", "invalid #subdirectory=%s", val)
				}
				v.Subdirectory = val
			default:
				return nil, p.strictFail(StrictURLForm, off+1, "git URLs take #egg= and #subdirectory= only", "unknown URL fragment %q", k)
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
