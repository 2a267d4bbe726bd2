package policy

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A repository table's match names repositories the way pipguard names a
// git requirement's repository (requirement.VCSURL.Repo):
//
//   - OWNER/REPO on the GitHub host, compared case-insensitively as GitHub
//     does;
//   - HOST/PATH anywhere else, PATH being every segment of the repository's
//     path (GitLab's subgroups: gitlab.example.com/group/sub/tool, any
//     depth), without a port and without ".git"; the host and the path are
//     compared case-insensitively (host names are; GitLab and Gitea paths
//     are too);
//   - file:///ABS/PATH for a git+file:// repository (pipguard names it
//     /ABS/PATH, without ".git"), compared exactly: file systems tell case
//     apart.
//
// The last segment may be "*", any one segment: OWNER/*,
// gitlab.example.com/group/*, file:///srv/git/*. No other glob is
// special, and a repository whose path has an empty, "." or ".." segment
// matches no table (git and HTTP clients remove such segments: a table
// for team/tool must not match team/x/../tool's text, nor team/* reach
// team/..).

const fileScheme = "file://"

// hostOrOwnerRE is a match's first segment: a GitHub owner, or a host name
// without its port.
var hostOrOwnerRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// matchKey is a valid match's comparison form: a local path for file:///,
// else the lower-cased text. ok is false when m is not a valid match.
func matchKey(m string) (key string, local, ok bool) {
	if p, isFile := strings.CutPrefix(m, fileScheme); isFile {
		if !strings.HasPrefix(p, "/") || !validSegments(strings.Split(p[1:], "/"), true, 1) {
			return "", true, false
		}
		return p, true, true
	}
	segs := strings.Split(m, "/")
	if len(segs) < 2 || !hostOrOwnerRE.MatchString(segs[0]) || !validSegments(segs[1:], false, 1) {
		return "", false, false
	}
	return strings.ToLower(m), false, true
}

// validSegments says whether every segment is a name a repository path can
// have (local: any printable text but "/"; else no space either), with
// "*" allowed as the last one; at least min segments.
func validSegments(segs []string, local bool, min int) bool {
	if len(segs) < min {
		return false
	}
	for i, s := range segs {
		if s == "*" && i == len(segs)-1 {
			continue
		}
		if !validSegment(s, local) {
			return false
		}
	}
	return true
}

func validSegment(s string, local bool) bool {
	if s == "" || s == "." || s == ".." || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '*' || r == '"' || r == '\\' || !unicode.IsPrint(r) || r == ' ' && !local {
			return false
		}
	}
	return true
}

// matchRepo says whether a table's match names repo, as
// requirement.VCSURL.Repo names it ("OWNER/REPO", "HOST/PATH" or
// "/ABS/PATH"; "file:///ABS/PATH" is taken as "/ABS/PATH").
func matchRepo(pattern, repo string) bool {
	key, local, ok := matchKey(pattern)
	if !ok {
		return false
	}
	repo = strings.TrimPrefix(repo, "file://")
	if local != strings.HasPrefix(repo, "/") {
		return false
	}
	if local {
		repo = repo[1:]
		key = key[1:]
	} else {
		repo = strings.ToLower(repo)
	}
	psegs, rsegs := strings.Split(key, "/"), strings.Split(repo, "/")
	if len(psegs) != len(rsegs) || !validSegments(rsegs, local, 1) {
		return false
	}
	for i, p := range psegs {
		if p == "*" && i == len(psegs)-1 {
			continue
		}
		if p != rsegs[i] {
			return false
		}
	}
	return true
}

// MatchFor returns a match value that a [[tool.pipguard.repo]] table can
// use to name repo, as requirement.VCSURL.Repo names it: "OWNER/REPO" and
// "HOST/PATH" as they are, "/ABS/PATH" (a git+file:// repository) as
// "file:///ABS/PATH". It is "" when no table can name repo (an empty, "."
// or ".." segment, a "*", a quote, a backslash or a control character in
// it). The value holds no character that needs escaping in a TOML string
// except as Go's %q writes it, so
//
//	fmt.Sprintf(`[[tool.pipguard.repo]] match = %q verify = "pin"`, policy.MatchFor(repo))
//
// is a table the policy accepts, and For(repo) then uses it.
func MatchFor(repo string) string {
	m := repo
	if strings.HasPrefix(repo, "/") {
		m = fileScheme + repo
	}
	if strings.Contains(m, "*") {
		return ""
	}
	if _, _, ok := matchKey(m); !ok || !matchRepo(m, repo) {
		return ""
	}
	return m
}
