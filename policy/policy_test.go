package policy

import (
	"os"
	"path/filepath"
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
