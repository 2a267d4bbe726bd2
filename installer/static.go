package installer

import (
	"strings"

	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/policy"
)

// What pipguard install decides from the text alone, exported for
// pipguard check (package installer/lint) so that the static check and the
// install never disagree.

// IsPinned says whether an index requirement's specifier names exactly one
// version ("==X" without a wildcard, or "===X"): what index_pins asks for.
func IsPinned(spec string) bool { return isPinned(spec) }

// IsSourceOption says whether a pip option names a package source:
// -i/--index-url, --extra-index-url, -f/--find-links.
func IsSourceOption(name string) bool { return sourceOption[name] }

// SourceAllowed says whether the policy's indexes admit a package source
// (any, when indexes is not set).
func SourceAllowed(pol *policy.Policy, value string) bool {
	return pol.Indexes.V == nil || sourceAllowed(pol.Indexes.V, value)
}

// GitRepo names a git requirement's repository as a policy table matches
// it: OWNER/REPO on the GitHub host (https, or ssh to the same host name),
// HOST/PATH anywhere else; onGitHub says which. This is how install picks
// the repository's rules: it verifies a release only on the GitHub host,
// and pins (verify = "pin") only where a table says so.
func GitRepo(v *requirement.VCSURL, githubHost string) (repo string, onGitHub bool) {
	onGitHub = v.Scheme == "https" && strings.EqualFold(v.Host, githubHost) ||
		v.Scheme == "ssh" && strings.EqualFold(hostname(v.Host), hostname(githubHost))
	repo = strings.TrimSuffix(strings.Trim(v.Path, "/"), ".git")
	if !onGitHub || strings.Count(repo, "/") != 1 {
		return hostname(v.Host) + "/" + repo, false
	}
	return repo, true
}
