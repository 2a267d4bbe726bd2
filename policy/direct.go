package policy

import (
	"net/url"
	"path"
	"strings"
)

// Rules for what is not a guarded git requirement, decided from the text
// alone: shared by pipguard install and pipguard check (installer/lint), so
// that the static check and the install never disagree.

// DirectAllowed says whether the policy's allow_direct admits an
// unverified direct reference: OWNER/REPO or OWNER/* on the GitHub host,
// or a URL prefix that ends at a path boundary.
func (p *Policy) DirectAllowed(githubHost, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || hasDotSegment(u) {
		// git and HTTP clients remove "." and ".." segments: a prefix
		// check on the raw text would be fooled by host/acme/../evil.
		return false
	}
	for _, a := range p.AllowDirect.V {
		if strings.Contains(a, "://") {
			// https://host/acme allows https://host/acme/x, never
			// https://host/acme-evil.
			pre := strings.TrimSuffix(a, "/")
			if rawURL == pre || strings.HasPrefix(rawURL, pre+"/") {
				return true
			}
			continue
		}
		if !strings.EqualFold(u.Host, githubHost) {
			continue
		}
		repo := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
		if ok, _ := path.Match(strings.ToLower(a), strings.ToLower(repo)); ok {
			return true
		}
	}
	return false
}

// hasDotSegment says whether a URL's path has a "." or ".." segment, also
// percent-encoded.
func hasDotSegment(u *url.URL) bool {
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		switch strings.ToLower(seg) {
		case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
			return true
		}
	}
	return false
}

// SourceAllowed says whether the policy's indexes admit a package source
// (any, when indexes is not set), ignoring a trailing slash.
func (p *Policy) SourceAllowed(value string) bool {
	if p.Indexes.V == nil {
		return true
	}
	v := strings.TrimSuffix(value, "/")
	for _, a := range p.Indexes.V {
		if strings.TrimSuffix(a, "/") == v {
			return true
		}
	}
	return false
}
