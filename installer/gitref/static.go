package gitref

import (
	"regexp"
	"strings"
)

// Shape is what a requested ref's text alone says it is, without asking
// the repository: what pipguard check can judge offline. Classify, which
// lists the repository's refs, has the last word.
type Shape string

const (
	// ShapeNone is no ref at all: pip installs the default branch.
	ShapeNone Shape = "none"
	// ShapeBranch is HEAD, refs/heads/…, refs/remotes/…, a conventional
	// branch name (main, master, develop, trunk, ...), a name under a
	// conventional branch prefix (feature/…, release/…, dependabot/…) or
	// a maintenance line (1.x, v2.x).
	ShapeBranch Shape = "branch"
	// ShapeShortSHA is 4 to 39 (or 41 to 63) hexadecimal characters:
	// pip fetches it as a name, and it can become ambiguous. A tag named
	// like that (2024, cafe) reads the same; write it as refs/tags/NAME.
	ShapeShortSHA Shape = "short sha"
	// ShapeNotTag is another refs/ namespace (refs/pull/…), or a name with
	// no digit in it: release tags carry a version number.
	ShapeNotTag Shape = "not a tag"
	// ShapeTag is refs/tags/…, or a name with a digit that is none of the
	// above (v1.2.3, 1.0rc1, pkg-v2): tag-like, to be confirmed online.
	ShapeTag Shape = "tag"
	// ShapeCommit is a full commit SHA (40, or 64 for SHA-256 repositories).
	ShapeCommit Shape = "commit"
)

// BranchNames are names that are branches by convention (compared
// case-insensitively).
var BranchNames = []string{
	"HEAD", "main", "master", "develop", "development", "devel", "dev", "trunk", "default", "mainline",
	"stable", "unstable", "next", "latest", "nightly", "edge", "canary", "beta", "alpha", "testing",
	"staging", "production", "prod", "release", "releases", "integration", "gh-pages",
}

// branchPrefixes are first path segments that name branches by convention.
var branchPrefixes = []string{
	"feature", "features", "feat", "fix", "bugfix", "hotfix", "release", "releases", "dev", "develop",
	"dependabot", "renovate", "wip", "topic", "user", "users", "stable", "maint", "maintenance", "backport",
}

var (
	maintenanceRE = regexp.MustCompile(`(?i)[.-]x$`)
	digitRE       = regexp.MustCompile(`[0-9]`)
)

// StaticShape judges ref from its text alone.
func StaticShape(ref string) Shape {
	switch {
	case ref == "":
		return ShapeNone
	case ref == "HEAD", strings.HasPrefix(ref, branchPrefix), strings.HasPrefix(ref, "refs/remotes/"):
		return ShapeBranch
	case strings.HasPrefix(ref, tagPrefix):
		return ShapeTag
	case strings.HasPrefix(ref, "refs/"):
		return ShapeNotTag
	case fullSHA.MatchString(ref):
		return ShapeCommit
	case partialSHA.MatchString(ref):
		return ShapeShortSHA
	}
	for _, b := range BranchNames {
		if strings.EqualFold(ref, b) {
			return ShapeBranch
		}
	}
	if first, _, ok := strings.Cut(ref, "/"); ok {
		for _, p := range branchPrefixes {
			if strings.EqualFold(first, p) {
				return ShapeBranch
			}
		}
	}
	if maintenanceRE.MatchString(ref) {
		return ShapeBranch
	}
	if !digitRE.MatchString(ref) {
		return ShapeNotTag
	}
	return ShapeTag
}
