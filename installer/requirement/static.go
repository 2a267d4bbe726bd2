package requirement

import (
	"net/url"
	"strings"
)

// IsPinned says whether an index requirement's specifier names exactly one
// version ("==X" without a wildcard, or "===X"): what index_pins asks for.
func IsPinned(spec string) bool {
	s := strings.TrimSpace(spec)
	if strings.Contains(s, ",") {
		return false
	}
	if v, ok := strings.CutPrefix(s, "==="); ok {
		return strings.TrimSpace(v) != ""
	}
	v, ok := strings.CutPrefix(s, "==")
	return ok && strings.TrimSpace(v) != "" && !strings.Contains(v, "*")
}

// IsSourceOption says whether a pip option names a package source:
// -i/--index-url, --extra-index-url, -f/--find-links.
func IsSourceOption(name string) bool {
	switch name {
	case "-i", "--index-url", "--extra-index-url", "-f", "--find-links":
		return true
	}
	return false
}

// Repo names a git requirement's repository as a policy table matches it:
// OWNER/REPO on the GitHub host (https, or ssh to the same host name),
// HOST/PATH anywhere else; onGitHub says which. pipguard verifies a
// release only on the GitHub host, and pins (verify = "pin") only where a
// table says so.
func (v *VCSURL) Repo(githubHost string) (repo string, onGitHub bool) {
	onGitHub = v.Scheme == "https" && strings.EqualFold(v.Host, githubHost) ||
		v.Scheme == "ssh" && strings.EqualFold(hostname(v.Host), hostname(githubHost))
	repo = strings.TrimSuffix(strings.Trim(v.Path, "/"), ".git")
	if !onGitHub || strings.Count(repo, "/") != 1 {
		return hostname(v.Host) + "/" + repo, false
	}
	return repo, true
}

// hostname drops the port of host:port.
func hostname(hostport string) string {
	u := url.URL{Host: hostport}
	return u.Hostname()
}
