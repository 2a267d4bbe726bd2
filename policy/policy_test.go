package policy

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The seed project's policy: semantic-release builds on main and tags the
// version-bump commit after it.
const seedPyproject = `[project]
name = "app"

[tool.black]
line-length = 100

[tool.pipguard]
require = ["provenance", "checksums"]
runner = "github-hosted"

[[tool.pipguard.repo]]
match = "Raze-Systems/fastapi-paseto"
signer_workflow = ".github/workflows/release.yml"
source_refs = ["refs/heads/main"]
max_commit_distance = 1

[[tool.pipguard.repo]]
match = "acme/*"
require = ["provenance", "sbom"]

[[tool.pipguard.repo]]
match = "gitlab.example.com/team/tool"
verify = "pin"
`

func mustParse(t *testing.T, name, body string) *Policy {
	t.Helper()
	p, err := Parse(name, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRepositoryRulesOverGlobalOverDefaults(t *testing.T) {
	p := mustParse(t, "pyproject.toml", seedPyproject)
	seed := p.For("raze-systems/FastAPI-Paseto") // case-insensitive, as GitHub
	if seed.Table != "Raze-Systems/fastapi-paseto" || seed.MaxCommitDistance.V != 1 || !seed.SourceRefAllowed("refs/heads/main", "v1.3.1") || seed.SourceRefAllowed("refs/tags/v1.3.1", "v1.3.1") {
		t.Errorf("seed: %+v", seed)
	}
	if got := seed.MaxCommitDistance.Rule("max_commit_distance"); got != `repo "Raze-Systems/fastapi-paseto" (pyproject.toml:11): max_commit_distance = 1` {
		t.Errorf("rule %q", got)
	}
	if got := seed.Runner.Rule("runner"); got != `pyproject.toml [tool.pipguard]: runner = "github-hosted"` {
		t.Errorf("rule %q", got)
	}
	if seed.InstallFrom.Rule("install_from") != "default" || !seed.Requires(RequireChecksums) {
		t.Errorf("seed: %+v", seed)
	}
	other := p.For("acme/widget")
	if other.Table != "acme/*" || !other.Requires(RequireSBOM) || other.Requires(RequireChecksums) || !other.SourceRefAllowed("refs/tags/v2", "v2") {
		t.Errorf("acme/*: %+v", other)
	}
	if pin := p.For("gitlab.example.com/team/tool"); pin.Verify.V != VerifyPin {
		t.Errorf("pin: %+v", pin)
	}
	if none := p.For("someone/else"); none.Table != "" || none.Verify.V != VerifyAttested || none.MaxCommitDistance.Rule("max_commit_distance") != "default" {
		t.Errorf("no table: %+v", none)
	}
}

// Tables layer: global, then a pattern, then the exact table, each setting
// only its own keys, whatever their order in the file.
func TestTablesLayer(t *testing.T) {
	p := mustParse(t, "pipguard.toml", "runner = \"any\"\n[[repo]]\nmatch = \"acme/app\"\nmax_commit_distance = 1\n[[repo]]\nmatch = \"acme/*\"\nmax_commit_distance = 3\nrunner = \"github-hosted\"\nrequire = [\"provenance\", \"sbom\"]\n")
	e := p.For("acme/app")
	if e.MaxCommitDistance.V != 1 || e.Runner.V != "github-hosted" || !e.Requires(RequireSBOM) || e.Table != "acme/app" {
		t.Errorf("%+v", e)
	}
}

// Flags override the file, for every repository, and say so.
func TestFlagsOverrideTheFile(t *testing.T) {
	p := mustParse(t, "pyproject.toml", seedPyproject)
	zero, yes := 0, true
	q, err := p.WithFlags(Flags{MaxCommitDistance: &zero, RequireSBOM: &yes})
	if err != nil {
		t.Fatal(err)
	}
	e := q.For("Raze-Systems/fastapi-paseto")
	if e.MaxCommitDistance.V != 0 || e.MaxCommitDistance.Rule("max_commit_distance") != "flag --max-commit-distance" || !e.Requires(RequireSBOM) || e.Require.From != "flag --require-sbom" {
		t.Errorf("%+v", e)
	}
	if !e.SourceRefAllowed("refs/heads/main", "v1") {
		t.Error("an unrelated table key was lost")
	}
}

// A typo, a wrong type, an invalid value, a duplicate table or a
// contradiction is an error naming the key, the file and the line: none
// weakens the policy silently.
func TestPolicyErrors(t *testing.T) {
	for name, c := range map[string]struct{ file, body, want string }{
		"typo": {"pyproject.toml", "[tool.other]\nx = 1\n[tool.pipguard]\nmax_comit_distance = 1\n",
			"pyproject.toml:4: tool.pipguard.max_comit_distance: unknown key"},
		"typo in a table": {"pipguard.toml", "[[repo]]\nmatch = \"a/b\"\nsigner_workfow = \"x\"\n", "pipguard.toml:3: repo.signer_workfow: unknown key"},
		"wrong type": {"pipguard.toml", "max_commit_distance = \"1\"\n",
			"pipguard.toml:1: max_commit_distance: wrong type: a TOML string where an integer belongs"},
		"wrong list type": {"pipguard.toml", "[[repo]]\nmatch = \"a/b\"\nsource_refs = [\"refs/heads/main\", 2]\n", "pipguard.toml:3: repo.source_refs: wrong type"},
		"invalid value":   {"pipguard.toml", "runner = \"self-hosted\"\n", `runner: "self-hosted" is not github-hosted or any`},
		"no provenance":   {"pipguard.toml", "require = [\"sbom\"]\n", "provenance cannot be dropped"},
		"unknown require": {"pipguard.toml", "require = [\"provenance\", \"sboms\"]\n", `"sboms" is not checksums, provenance, sbom or release`},
		"short ref":       {"pipguard.toml", "source_refs = [\"main\"]\n", `"main" is not a full ref`},
		"bad match":       {"pipguard.toml", "[[repo]]\nmatch = \"just-a-name\"\n", `pipguard.toml:2: repo.match: "just-a-name" is not OWNER/REPO`},
		"port in match":   {"pipguard.toml", "[[repo]]\nmatch = \"git.example.com:2222/team/tool\"\n", `(a host without its port)`},
		"duplicate": {"pipguard.toml", "[[repo]]\nmatch = \"Acme/App\"\n\n[[repo]]\nmatch = \"acme/app\"\n",
			`pipguard.toml:5: repo.match: a second table for "acme/app" (the first is at pipguard.toml:1)`},
		"global pin": {"pipguard.toml", "verify = \"pin\"\n", `"pin" is for one repository's table, never global`},
		"contradiction": {"pipguard.toml", "install_from = \"git\"\n[[repo]]\nmatch = \"a/b\"\nmax_commit_distance = 1\n",
			`repo "a/b" (pipguard.toml:2): install_from = "git" (pipguard.toml top level) with max_commit_distance = 1 (repo "a/b" (pipguard.toml:2)) would install the tag's commit`},
		"index_pins":                   {"pipguard.toml", "index_pins = \"always\"\n", `index_pins: "always" is not require, warn or off`},
		"source builds per repository": {"pipguard.toml", "[[repo]]\nmatch = \"a/b\"\nallow_source_builds = true\n", "allow_source_builds: applies to the whole pip run, not to one repository"},
		"audit severity":               {"pipguard.toml", "audit_severity = { editable = \"fatal\" }\n", `audit_severity.editable: "fatal" is not info, warning or error`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(c.file, []byte(c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant %q", err, c.want)
			}
		})
	}
}

// The policy file is the nearest pyproject.toml with [tool.pipguard]
// upward from the working directory, else pipguard.toml there.
func TestFind(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	os.MkdirAll(sub, 0o755)
	if p, _ := Find(sub); p != "" {
		t.Errorf("found %s in an empty tree", p)
	}
	os.WriteFile(filepath.Join(sub, "pipguard.toml"), []byte(""), 0o644)
	if p, _ := Find(sub); p != filepath.Join(sub, "pipguard.toml") {
		t.Errorf("found %q", p)
	}
	os.WriteFile(filepath.Join(root, "a", "pyproject.toml"), []byte("[project]\nname = \"x\"\n"), 0o644)
	if p, _ := Find(sub); p != filepath.Join(sub, "pipguard.toml") {
		t.Errorf("a pyproject.toml without [tool.pipguard] was taken: %q", p)
	}
	os.WriteFile(filepath.Join(root, "pyproject.toml"), []byte("[tool.pipguard]\nrunner = \"any\"\n"), 0o644)
	if p, _ := Find(sub); p != filepath.Join(sub, "pipguard.toml") {
		t.Errorf("a pyproject.toml above the project's own was taken: %q", p)
	}
	os.Remove(filepath.Join(root, "a", "pyproject.toml"))
	if p, _ := Find(sub); p != filepath.Join(sub, "pipguard.toml") {
		t.Errorf("the nearest file is not the one found: %q", p)
	}
	os.Remove(filepath.Join(sub, "pipguard.toml"))
	if p, _ := Find(sub); p != filepath.Join(root, "pyproject.toml") {
		t.Errorf("found %q", p)
	}
	os.WriteFile(filepath.Join(sub, "pipguard.toml"), []byte(""), 0o644)
	// A repository's root bounds the walk.
	os.Mkdir(filepath.Join(root, "a", ".git"), 0o755)
	if p, _ := Find(sub); p != filepath.Join(sub, "pipguard.toml") {
		t.Errorf("the walk left the repository: %q", p)
	}
}

// A policy file anyone can write is refused.
func TestWorldWritablePolicy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipguard.toml")
	os.WriteFile(p, nil, 0o644)
	os.Chmod(p, 0o666)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "anyone on this machine can write it") {
		t.Errorf("err = %v", err)
	}
}

// Parsing untrusted policy text never panics and every error names where.
func FuzzParse(f *testing.F) {
	f.Add([]byte(seedPyproject), true)
	f.Add([]byte("[[repo]]\nmatch = \"a/*\"\nverify = \"pin\"\n"), false)
	// The spellings of [tool.pipguard] discovery must find.
	for _, s := range []string{
		"[tool]\npipguard = { runner = \"github-hosted\", repo = [{ match = \"a/b\" }] }\n",
		"tool.pipguard.require = [\"provenance\"]\n[project]\nname = \"x\"\n",
		"[tool.\"pipguard\"]\nrunner = \"any\"\n[[tool.\"pipguard\".repo]]\nmatch = \"file:///srv/git/tool\"\nverify = \"pin\"\n",
		"[tool.'pipguard']\naudit_severity = { editable = \"warning\" }\n[[tool.'pipguard'.repo]]\nmatch = \"gitlab.example.com/g/s/t\"\nverify = \"pin\"\n",
		"[tool.pipgaurd]\nrunner = \"any\"\n",
		"[project]\ndescription = \"\"\"\n[tool.pipguard]\n\"\"\"\n",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, pyproject bool) {
		name := "pipguard.toml"
		if pyproject {
			name = "pyproject.toml"
		}
		p, err := Parse(name, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name) {
				t.Errorf("error without its file: %v", err)
			}
			return
		}
		for _, r := range p.Repos {
			p.For(r.Match)
		}
	})
}

// Every error in a file is reported at once, each at its key's own line,
// with a "did you mean" for a near miss.
func TestAllErrorsAtOnce(t *testing.T) {
	body := `[project]
name = "app"

[tool.pipguard]
max_comit_distance = 1
runner = "self-hosted"
require = ["provenance", 2]
index_pins = "always"
audit_severity = { "unverified-directs" = "error", editable = "fatal" }

[[tool.pipguard.repo]]
match = "acme/app"
indexes = ["https://pypi.org/simple"]
verfy = "pin"

[[tool.pipguard.repo]]
match = "https://gitlab.example.com/team/tool"
max_commit_distance = "1"
`
	_, err := Parse("pyproject.toml", []byte(body))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []struct{ text, hint string }{
		{"pyproject.toml:5: tool.pipguard.max_comit_distance: unknown key", "did you mean max_commit_distance?"},
		{`pyproject.toml:6: tool.pipguard.runner: "self-hosted" is not github-hosted or any`, ""},
		{"pyproject.toml:7: tool.pipguard.require: wrong type: item 2 is a TOML integer where a string belongs", ""},
		{`pyproject.toml:8: tool.pipguard.index_pins: "always" is not require, warn or off`, ""},
		{`pyproject.toml:9: tool.pipguard.audit_severity.unverified-directs: no such audit rule`, `did you mean "unverified-direct"?`},
		{`pyproject.toml:9: tool.pipguard.audit_severity.editable: "fatal" is not info, warning or error`, ""},
		{"pyproject.toml:13: tool.pipguard.repo.indexes: applies to the whole policy, not to one repository", "set it at the top level of the policy"},
		{"pyproject.toml:14: tool.pipguard.repo.verfy: unknown key", "did you mean verify?"},
		{`pyproject.toml:17: tool.pipguard.repo.match: "https://gitlab.example.com/team/tool" is not OWNER/REPO`, "write HOST/PATH without the scheme"},
		{"pyproject.toml:18: tool.pipguard.repo.max_commit_distance: wrong type: a TOML string where an integer belongs", ""},
	}
	errs := err.(interface{ Unwrap() []error }).Unwrap()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), strings.Join(got, "\n"))
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return lineOf(got[i]) < lineOf(got[j]) }) {
		t.Errorf("not in the file's order:\n%s", strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			pe, ok := e.(*Error)
			if ok && strings.HasPrefix(pe.Error(), w.text) && strings.Contains(pe.Hint(), w.hint) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %q (hint %q) in:\n%s", w.text, w.hint, strings.Join(got, "\n"))
		}
	}
}

// An audit_severity rule pipguard audit does not have is an error in the
// policy itself, for every command.
func TestAuditSeverityRules(t *testing.T) {
	p := mustParse(t, "pipguard.toml", "[audit_severity]\nunverified-direct = \"error\"\npinned = \"warning\"\n")
	if p.AuditSeverity.V["unverified-direct"] != "error" || p.AuditSeverity.V["pinned"] != "warning" {
		t.Errorf("%+v", p.AuditSeverity)
	}
	if _, err := Parse("pipguard.toml", []byte("[audit_severity]\nno-such-rule = \"error\"\n")); err == nil || !strings.Contains(err.Error(), "pipguard.toml:2: audit_severity.no-such-rule: no such audit rule") {
		t.Errorf("err = %v", err)
	}
}

// A pyproject.toml's table in a file of another name says where the keys
// go; a near miss of the table's name in a pyproject.toml is an error.
func TestTableInTheWrongFile(t *testing.T) {
	_, err := Parse("policy/pipguard.toml", []byte("[tool.pipguard]\nrunner = \"github-hosted\"\n[[tool.pipguard.repo]]\nmatch = \"a/b\"\n"))
	var pe *Error
	if err == nil || !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "policy/pipguard.toml:1: tool.pipguard: unknown key") ||
		!strings.Contains(pe.Hint(), "in pipguard.toml the keys go at the top level") || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("err = %v (hint %q)", err, pe.Hint())
	}
	for body, want := range map[string]string{
		"[tool.pipgaurd]\nrunner = \"github-hosted\"\n": "pyproject.toml:1: tool.pipgaurd: not pipguard's table",
		"[pipguard]\nrunner = \"github-hosted\"\n":      "pyproject.toml:1: pipguard: unknown key",
		"[tool]\npipguard = 1\n":                        "pyproject.toml:2: tool.pipguard: wrong type: a TOML integer where a table belongs",
	} {
		if _, err := Parse("pyproject.toml", []byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}

func lineOf(s string) int {
	_, rest, _ := strings.Cut(s, ":")
	n, _ := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
	return n
}
