package policy

import (
	"fmt"
	"testing"

	"github.com/pipguard/pipguard/installer/requirement"
)

// repoOf names a requirement's repository as install does.
func repoOf(t *testing.T, req string) string {
	t.Helper()
	r, err := requirement.Parse(req)
	if err != nil || r.VCS == nil {
		t.Fatalf("%s: %v", req, err)
	}
	repo, _ := r.VCS.Repo("github.com")
	return repo
}

// verify = "pin" tables name every git host path users have: GitLab's
// subgroups at any depth and file:// repositories.
func TestMatchSubgroupsAndFiles(t *testing.T) {
	p := mustParse(t, "pipguard.toml", `
[[repo]]
match = "gitlab.example.com/group/sub/tool"
verify = "pin"
[[repo]]
match = "gitlab.example.com/a/b/c/d/e"
verify = "pin"
[[repo]]
match = "git.example.com/team/*"
verify = "pin"
[[repo]]
match = "file:///srv/git/tool"
verify = "pin"
[[repo]]
match = "file:///srv/mirror/*"
verify = "pin"
[[repo]]
match = "file:///home/me/My Repos/x"
verify = "pin"
`)
	for req, want := range map[string]string{
		"t @ git+https://gitlab.example.com/group/sub/tool.git@v1":              "gitlab.example.com/group/sub/tool",
		"t @ git+ssh://git@gitlab.example.com:2222/group/sub/tool.git@v1":       "gitlab.example.com/group/sub/tool",
		"t @ git+https://GitLab.Example.com/Group/Sub/Tool@v1":                  "gitlab.example.com/group/sub/tool",
		"t @ git+https://gitlab.example.com/a/b/c/d/e.git@v1":                   "gitlab.example.com/a/b/c/d/e",
		"t @ git+https://gitlab.example.com/group/tool.git@v1":                  "",
		"t @ git+https://gitlab.example.com/group/sub/tool/extra.git@v1":        "",
		"t @ git+https://git.example.com/team/x.git@v1":                         "git.example.com/team/*",
		"t @ git+https://git.example.com/team/x/y.git@v1":                       "",
		"t @ git+https://git.example.com/team/../evil/x.git@v1":                 "",
		"t @ git+https://gitlab.example.com/group/sub/x/../tool.git@v1":         "",
		"t @ git+file:///srv/git/tool.git@v1":                                   "file:///srv/git/tool",
		"t @ git+file:///srv/git/tool@v1":                                       "file:///srv/git/tool",
		"t @ git+file://localhost/srv/git/tool@v1":                              "file:///srv/git/tool",
		"t @ git+file:///srv/git/Tool@v1":                                       "", // file systems tell case apart
		"t @ git+file:///srv/mirror/lib.git@v1":                                 "file:///srv/mirror/*",
		"t @ git+file:///srv/mirror/../git/lib@v1":                              "",
		"t @ git+https://srv/git/tool.git@v1":                                   "", // a host named srv is not a local path
		"t @ git+https://evil.example/gitlab.example.com/group/sub/tool.git@v1": "",
	} {
		repo := repoOf(t, req)
		e := p.For(repo)
		if e.Table != want || (want != "") != (e.Verify.V == VerifyPin) {
			t.Errorf("%s (repo %q): table %q, verify %s; want table %q", req, repo, e.Table, e.Verify.V, want)
		}
	}
	for _, repo := range []string{"git.example.com/team/..", "git.example.com/team/.", "git.example.com/team/", "/srv/mirror/..", "file:///srv/mirror/.."} {
		if e := p.For(repo); e.Table != "" {
			t.Errorf("%q matched %q", repo, e.Table)
		}
	}
	for _, bad := range []string{"https://gitlab.example.com/team/tool", "gitlab.example.com:2222/team/tool", "gitlab.example.com/team/tool.git",
		"file://srv/git/tool", "file:///srv/git/tool.git", "file:///", "gitlab.example.com/team//tool", "gitlab.example.com/./tool", "gitlab.example.com/*/tool", "a/b*"} {
		if _, err := Parse("pipguard.toml", []byte(fmt.Sprintf("[[repo]]\nmatch = %q\nverify = \"pin\"\n", bad))); err == nil {
			t.Errorf("match %q accepted", bad)
		}
	}
}

// MatchFor gives, for every repository install names, a match value that
// a table accepts and For then uses: what the refusal's hint prints.
func TestMatchForRoundTrips(t *testing.T) {
	for _, req := range []string{
		"t @ git+https://gitlab.example.com/team/tool.git@v1",
		"t @ git+https://gitlab.example.com/group/sub/deeper/tool.git@v1",
		"t @ git+ssh://git@gitlab.example.com:2222/group/sub/tool.git@v1",
		"t @ git+http://git.example.com/tool.git@v1",
		"t @ git+https://git.example.com/~user/tool+x@v1",
		"t @ git+file:///srv/git/tool.git@v1",
		"t @ git+https://github.com/acme/tool.git@v1",
		"t @ git+https://github.com/acme/tool/extra.git@v1",
	} {
		repo := repoOf(t, req)
		m := MatchFor(repo)
		if m == "" {
			t.Errorf("%s: no match for %q", req, repo)
			continue
		}
		body := fmt.Sprintf("[[tool.pipguard.repo]]\nmatch = %q\nverify = \"pin\"\n", m)
		p, err := Parse("pyproject.toml", []byte(body))
		if err != nil {
			t.Errorf("%s: the hint's table %q is refused: %v", req, body, err)
			continue
		}
		if e := p.For(repo); e.Table != m || e.Verify.V != VerifyPin {
			t.Errorf("%s: For(%q) = table %q, verify %s", req, repo, e.Table, e.Verify.V)
		}
	}
	if got := MatchFor("/srv/git/tool"); got != "file:///srv/git/tool" {
		t.Errorf("MatchFor(/srv/git/tool) = %q", got)
	}
	for _, repo := range []string{"gitlab.example.com/team/../tool", "/srv/../etc/x", "host/a//b", "host/*", "/a/\"b", "host/a\x01b", ""} {
		if m := MatchFor(repo); m != "" {
			t.Errorf("MatchFor(%q) = %q, which no table should name", repo, m)
		}
	}
}
