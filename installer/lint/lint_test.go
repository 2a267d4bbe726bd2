package lint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/policy"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func parsePolicy(t *testing.T, toml string) *policy.Policy {
	t.Helper()
	if toml == "" {
		return nil
	}
	p, err := policy.Parse("pipguard.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// short renders findings as "LINE:COL RULE SEVERITY", one per finding.
func short(fs []Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%d:%d %s %s", f.Line, f.Column, f.Rule, f.Severity))
	}
	return strings.Join(out, "; ")
}

func TestRequirementsFile(t *testing.T) {
	const gh = "https://github.com/acme/demo.git"
	for _, tc := range []struct {
		name, body, policy, want string
	}{
		// Clean.
		{"tag", "demo @ git+" + gh + "@v1.2.3\n", "", ""},
		{"refs/tags", "demo @ git+" + gh + "@refs/tags/main\n", "", ""},
		{"full sha", "demo @ git+" + gh + "@0123456789abcdef0123456789abcdef01234567\n", "", ""},
		{"ssh on the GitHub host", "demo @ git+ssh://git@github.com/acme/demo.git@v1\n", "", ""},
		{"bare url with egg", "git+" + gh + "@1.0.0#egg=demo\n", "", ""},
		{"pinned index", "six==1.16.0\nattrs===23.1\n", "", ""},
		{"comments and blanks", "# nothing\n\n   # still nothing\n", "", ""},
		{"index_pins off", "requests>=2\n", `index_pins = "off"`, ""},
		{"allowed index", "--index-url https://pypi.org/simple/\n-f https://wheels.example/\n", `indexes = ["https://pypi.org/simple", "https://wheels.example"]`, ""},
		{"any index without indexes", "--extra-index-url https://evil.example/simple\n", "", ""},
		{"pinned other host", "tool @ git+https://gitlab.example.com/team/tool.git@v2\n", "[[repo]]\nmatch = \"gitlab.example.com/team/tool\"\nverify = \"pin\"\n", ""},
		{"allowed direct url", "w @ https://files.example/w-1.0-py3-none-any.whl\n", `allow_direct = ["https://files.example"]`, ""},
		{"constraint not pinned", "-c c.txt\n", "", ""},

		// Refs.
		{"no ref", "demo @ git+" + gh + "\n", "", "1:8 vcs-no-ref error"},
		{"no ref, bare", "  git+" + gh + "#egg=demo\n", "", "1:3 vcs-no-ref error"},
		{"branch", "demo @ git+" + gh + "@main\n", "", "1:45 vcs-branch-ref error"},
		{"HEAD", "demo @ git+" + gh + "@HEAD\n", "", "1:45 vcs-branch-ref error"},
		{"refs/heads", "demo @ git+" + gh + "@refs/heads/v1.2.3\n", "", "1:45 vcs-branch-ref error"},
		{"branch prefix", "demo @ git+" + gh + "@release/1.2\n", "", "1:45 vcs-branch-ref error"},
		{"maintenance line", "demo @ git+" + gh + "@2.x\n", "", "1:45 vcs-branch-ref error"},
		{"not a tag", "demo @ git+" + gh + "@my-feature\n", "", "1:45 vcs-ref-not-tag error"},
		{"pull ref", "demo @ git+" + gh + "@refs/pull/7/head\n", "", "1:45 vcs-ref-not-tag error"},
		{"short sha", "demo @ git+" + gh + "@abc1234\n", "", "1:45 vcs-short-sha error"},
		{"39 hex", "demo @ git+" + gh + "@0123456789abcdef0123456789abcdef0123456\n", "", "1:45 vcs-short-sha error"},
		{"ref after credentials", "demo @ git+https://user@github.com/acme/demo.git@main\n", "", "1:50 vcs-branch-ref error"},
		{"ref before fragment", "git+" + gh + "@main#egg=demo\n", "", "1:38 vcs-branch-ref error"},
		{"ref with marker", "demo@git+" + gh + "@main ; python_version >= \"3.8\"\n", "", "1:43 vcs-branch-ref error"},
		{"continuation", "demo @ \\\n    git+" + gh + "@main \\\n    ; python_version >= \"3\"\n", "", "2:42 vcs-branch-ref error"},
		{"comment ending in a backslash", "# see below \\\ndemo @ git+" + gh + "@main\n", "", "2:45 vcs-branch-ref error"},

		// Transport and hosts.
		{"plain http", "demo @ git+http://github.com/acme/demo.git@v1\n", "", "1:8 vcs-plain-http error"},
		{"plain http elsewhere", "demo @ git+http://git.example/acme/demo.git@v1\n", "", "1:8 vcs-plain-http error; 1:8 vcs-host-not-allowed error"},
		{"plain http pinned", "demo @ git+http://git.example/acme/demo.git@v1\n", "[[repo]]\nmatch = \"git.example/acme/demo\"\nverify = \"pin\"\n", "1:8 vcs-plain-http error"},
		{"other host", "tool @ git+https://gitlab.com/team/tool.git@v2\n", "", "1:8 vcs-host-not-allowed error"},
		{"local repository", "tool @ git+file:///srv/git/tool.git@v2\n", "", "1:8 vcs-host-not-allowed error"},
		{"other host, pin for another repo", "tool @ git+https://gitlab.com/team/tool.git@v2\n", "[[repo]]\nmatch = \"gitlab.com/team/other\"\nverify = \"pin\"\n", "1:8 vcs-host-not-allowed error"},
		{"several at once", "x @ git+http://gitlab.com/team/tool.git@main\n", "", "1:5 vcs-plain-http error; 1:5 vcs-host-not-allowed error; 1:41 vcs-branch-ref error"},
		{"direct url", "w @ https://files.example/w-1.0-py3-none-any.whl\n", "", "1:5 direct-url-not-allowed error"},
		{"bare direct url", "https://files.example/w-1.0-py3-none-any.whl\n", "", "1:1 direct-url-not-allowed error"},

		// Editable installs.
		{"editable directory", "-e .\n", "", "1:1 editable error"},
		{"editable long", "  --editable=./src\n", "", "1:3 editable error"},
		{"editable git on a branch", "-e git+" + gh + "@develop#egg=demo\n", "", "1:1 editable error; 1:41 vcs-branch-ref error"},
		{"editable git tag", "-e   git+" + gh + "@v1#egg=demo\n", "", "1:1 editable error"},
		{"editable git, tab and =", "-e\tgit+" + gh + "@main#egg=demo\n--editable=git+" + gh + "@main#egg=demo\n", "", "1:1 editable error; 1:41 vcs-branch-ref error; 2:1 editable error; 2:49 vcs-branch-ref error"},

		// Index requirements and package sources.
		{"unpinned warns by default", "requests>=2\n", "", "1:1 index-unpinned warning"},
		{"unpinned required", "  requests\n", `index_pins = "require"`, "1:3 index-unpinned error"},
		{"wildcard is not a pin", "requests==2.*\n", `index_pins = "require"`, "1:1 index-unpinned error"},
		{"range is not a pin", "requests==2.0,<3\n", `index_pins = "require"`, "1:1 index-unpinned error"},
		{"index outside policy", "--index-url https://pypi.org/simple\n--extra-index-url=https://evil.example/simple\n-i   https://x.example\n-f https://wheels.example\n",
			`indexes = ["https://pypi.org/simple"]`, "2:19 index-not-allowed error; 3:6 index-not-allowed error; 4:4 index-not-allowed error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "c.txt", "urllib3<3\n")
			p := write(t, dir, "requirements.txt", tc.body)
			rep, err := Check([]string{p}, Options{Policy: parsePolicy(t, tc.policy), Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if got := short(rep.Findings); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			for _, f := range rep.Findings {
				if f.File != "requirements.txt" || f.Message == "" || f.Hint == "" {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}

func TestPolicyIsNamed(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "r.txt", "requests>=2\n--index-url https://evil.example/simple\n")
	rep, err := Check([]string{p}, Options{Policy: parsePolicy(t, "index_pins = \"require\"\nindexes = [\"https://pypi.org/simple\"]\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 2 {
		t.Fatalf("%+v", rep.Findings)
	}
	if got := rep.Findings[0].Text(); got != `requests>=2 is not pinned with == (policy pipguard.toml top level: index_pins = "require")` {
		t.Errorf("text %q", got)
	}
	if got := rep.Findings[1].Policy; got != `pipguard.toml top level: indexes = ["https://pypi.org/simple"]` {
		t.Errorf("policy %q", got)
	}
	if rep.PolicyFile != "pipguard.toml" || rep.Schema != "pipguard.check/v1" || rep.Requirements != 1 {
		t.Errorf("report %+v", rep)
	}
}

func TestGitHubHost(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "r.txt", "a @ git+https://ghe.example/o/a.git@v1\nb @ git+https://github.com/o/b.git@v1\n")
	rep, err := Check([]string{p}, Options{GitHubHost: "ghe.example"})
	if err != nil {
		t.Fatal(err)
	}
	if got := short(rep.Findings); got != "2:5 vcs-host-not-allowed error" {
		t.Errorf("got %s", got)
	}
}

func TestNestedFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sub/common.txt", "# shared\nsix==1\ndemo @ git+https://github.com/o/demo.git@main\n")
	write(t, dir, "sub/constraints.txt", "--extra-index-url https://evil.example/simple\nurllib3<3\n")
	a := write(t, dir, "requirements.txt", "y @ git+https://github.com/o/y.git\n-r sub/common.txt\n-c sub/constraints.txt\nx @ git+https://github.com/o/x.git@abcdef1\n")
	b := write(t, dir, "requirements-dev.txt", "-r sub/common.txt\n")
	rep, err := Check([]string{a, b}, Options{Policy: parsePolicy(t, `indexes = []`), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, fmt.Sprintf("%s:%d:%d %s", f.File, f.Line, f.Column, f.Rule))
	}
	// Reported at the nested file's own lines, once although two files
	// include it, in the order pip reads the lines.
	want := []string{
		"requirements.txt:1:5 vcs-no-ref",
		filepath.Join("sub", "common.txt") + ":3:42 vcs-branch-ref",
		filepath.Join("sub", "constraints.txt") + ":1:19 index-not-allowed",
		"requirements.txt:4:36 vcs-short-sha",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Requirements != 5 {
		t.Errorf("requirements %d", rep.Requirements)
	}
}

func TestPyproject(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"clean", "[project]\nname = \"x\"\ndependencies = [\"demo @ git+https://github.com/o/demo.git@v1.0.0\", \"six==1\"]\n", ""},
		{"no project", "[tool.other]\ndependencies = [\"demo @ git+https://github.com/o/demo.git@main\"]\n", ""},
		{"dynamic", "[project]\ndynamic = [\"dependencies\"]\n", ""},
		{"dependencies", "[project]\nname = \"x\"\ndependencies = [\n  \"demo @ git+https://github.com/o/demo.git@main\",\n  'six>=1',\n]\n",
			"4:45 vcs-branch-ref error; 5:4 index-unpinned warning"},
		{"optional table", "[project.optional-dependencies]\ndev = [\"d @ git+http://github.com/o/d.git@v1\"]\ntest = ['t @ git+https://github.com/o/t.git']\n",
			"2:13 vcs-plain-http error; 3:14 vcs-no-ref error"},
		{"optional inline", "[project]\noptional-dependencies = { dev = [\"d @ git+https://github.com/o/d.git@abc1234\"] }\n",
			"2:70 vcs-short-sha error"},
		{"dotted keys", "project.dependencies = [\"d @ git+https://github.com/o/d.git@trunk\"]\n",
			"1:61 vcs-branch-ref error"},
		{"project inline", "project = { name = \"x\", dependencies = [\"d @ git+https://github.com/o/d.git@dev\"] }\n",
			"1:77 vcs-branch-ref error"},
		// An escape shifts bytes: the finding points at the string.
		{"escaped", "[project]\ndependencies = [\"d @ git+https://github.com/o/d.git@\\u006dain\"]\n", "2:17 vcs-branch-ref error"},
		{"multiline string", "[project]\ndependencies = [\"\"\"d @ git+https://github.com/o/d.git@main\"\"\"]\n", "2:17 vcs-branch-ref error"},
		{"after other tables", "[project]\nname = \"x\"\n[tool.pipguard]\ndependencies = [\"d @ git+https://github.com/o/d.git@main\"]\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := write(t, dir, "pyproject.toml", tc.body)
			rep, err := Check([]string{p}, Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if got := short(rep.Findings); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file, body, want string
		line, col              int
	}{
		{"missing", "", "", "no such file", 0, 0},
		{"bad toml", "pyproject.toml", "[project]\ndependencies = [\"a\",\n  oops]\n", "not valid TOML", 3, 3},
		{"bad requirement in toml", "pyproject.toml", "[project]\ndependencies = [\"a @ git://github.com/o/a.git@v1\"]\n", "git:// protocol", 2, 22},
		{"dependencies not a list", "pyproject.toml", "[project]\ndependencies = \"notalist\"\n", "project.dependencies must be a list of requirement strings", 0, 0},
		{"a dependency not a string", "pyproject.toml", "[project]\ndependencies = [1]\n", "must hold requirement strings only", 0, 0},
		{"duplicate key", "pyproject.toml", "[project]\ndependencies = []\ndependencies = [\"a\"]\n", "not valid TOML", 3, 1},
		{"bad requirements file", "requirements.txt", "ok==1\n--frobnicate\n", `no such option: --frobnicate`, 2, 0},
		{"missing nested file", "requirements.txt", "ok==1\n-r gone.txt\n", "-r gone.txt: no such file", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "nope.txt")
			if tc.file != "" {
				p = write(t, t.TempDir(), tc.file, tc.body)
			}
			rep, err := Check([]string{p}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if rep == nil || len(rep.Findings) != 0 {
				t.Errorf("report %+v", rep)
			}
			var le *Error
			var re *reqfile.Error
			switch {
			case errors.As(err, &le):
				if le.Line != tc.line || le.Column != tc.col {
					t.Errorf("at %d:%d, want %d:%d (%v)", le.Line, le.Column, tc.line, tc.col, err)
				}
			case errors.As(err, &re):
				if re.Line != tc.line || filepath.Base(re.File) != tc.file {
					t.Errorf("at %s:%d, want line %d (%v)", re.File, re.Line, tc.line, err)
				}
			default:
				t.Errorf("error type %T", err)
			}
		})
	}
}

func TestOneUnreadableFileDoesNotHideTheOthers(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "r.txt", "demo @ git+https://github.com/o/demo.git@main\n")
	rep, err := Check([]string{filepath.Join(dir, "gone.txt"), good}, Options{})
	if err == nil || len(rep.Findings) != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestSARIF(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "requirements.txt", "demo @ git+https://github.com/o/demo.git@main\nrequests\n")
	rep, err := Check([]string{p}, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.SARIF("1.2.3")
	run := s["runs"].([]any)[0].(map[string]any)
	results := run["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("results %v", results)
	}
	r0 := results[0].(map[string]any)
	loc := r0["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
	region := loc["region"].(map[string]any)
	art := loc["artifactLocation"].(map[string]any)
	if r0["ruleId"] != "vcs-branch-ref" || r0["level"] != "error" || region["startLine"] != 1 || region["startColumn"] != 42 ||
		art["uri"] != "requirements.txt" || art["uriBaseId"] != "%SRCROOT%" {
		t.Errorf("result %v", r0)
	}
	if results[1].(map[string]any)["level"] != "warning" {
		t.Errorf("result %v", results[1])
	}
	rules := run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)
	if len(rules) != 2 || rules[0].(map[string]any)["id"] != "index-unpinned" {
		t.Errorf("rules %v", rules)
	}
}

// check decides from the text what install decides: a line break pip sees
// (a form feed) starts a requirement, a local wheel is an unverified
// direct reference (an error), a plain-http source and --trusted-host are
// findings whether or not the policy lists indexes.
func TestReadsAsPipAndInstallDo(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "requirements.txt", "pkg==1.0 # pinned\fevil @ git+https://evil.example/x.git@v1\n"+
		"pkg-1.0-py3-none-any.whl\n--extra-index-url http://insecure.example/simple\n--trusted-host insecure.example\n")
	rep, err := Check([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Severity{}
	for _, f := range rep.Findings {
		got[fmt.Sprintf("%d:%s", f.Line, f.Rule)] = f.Severity
	}
	for k, sev := range map[string]Severity{"2:" + RuleHostNotAllowed: envaudit.Error, "3:" + RuleDirectURL: envaudit.Error,
		"4:" + RuleInsecureSource: envaudit.Warning, "5:" + RuleInsecureSource: envaudit.Warning} {
		if got[k] != sev {
			t.Errorf("%s: severity %q, want %q (findings %s)", k, got[k], sev, short(rep.Findings))
		}
	}
	if rep.Requirements != 3 {
		t.Errorf("%d requirements, want 3", rep.Requirements)
	}
}

// A hostile line megabytes long is quoted by its start in a finding,
// never whole.
func TestALongLineIsQuotedBounded(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "requirements.txt")
	os.WriteFile(p, []byte(strings.Repeat("a", 2<<20)+"\n"), 0o644)
	rep, err := Check([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if len(f.Message) > MaxMessage+100 {
			t.Errorf("a %d-byte message", len(f.Message))
		}
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no finding")
	}
}

// A pyproject.toml list may hold several requirements on one line; each
// is counted, and each is counted once however many files name the file.
func TestPyprojectCountsEachRequirement(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"a==1\", \"b==1\"]\n"+
		"optional-dependencies = { dev = [\"c==1\", \"d==1\", \"e==1\"] }\n")
	rep, err := Check([]string{p, p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requirements != 5 {
		t.Errorf("%d requirements, want 5", rep.Requirements)
	}
}

// A file included under several spellings (./sub, sub/../sub, a symlink)
// is one file: its requirements are counted once.
func TestCountsAFileOnceHoweverItIsSpelled(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sub/c.txt", "six==1\nurllib3==2\n")
	if err := os.Symlink(filepath.Join("sub", "c.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	a := write(t, dir, "a.txt", "-r sub/c.txt\nidna==3\n")
	b := write(t, dir, "b.txt", "-r ./sub/c.txt\n-r sub/../sub/c.txt\n-r link.txt\n")
	rep, err := Check([]string{a, b, filepath.Join(dir, "sub", "c.txt")}, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requirements != 3 {
		t.Errorf("%d requirements, want 3 (six, urllib3, idna)", rep.Requirements)
	}
}

// The policy's [[index]] tables: one that can never match is an error at
// the table (policy.Policy.UnmatchableIndexTables has the rule), and an
// index line whose project must have provenance is a note at the line,
// under a require table (by its normalised name, or a pattern) or a
// global index_attestations = "require"; constraints, git lines and other
// projects are not.
func TestIndexTables(t *testing.T) {
	dir := t.TempDir()
	req := write(t, dir, "r.txt", "Acme_Tool==1.0\nrequests==2.0\n-c c.txt\nother @ git+https://github.com/o/other@v1.0\nacme-web==2\n")
	write(t, dir, "c.txt", "acme-tool==1.0\n")
	pol := parsePolicy(t, `
[[index]]
match = "acme-*"
publisher = { kind = "GitHub", repository = "acme/tools", workflow = "release.yml" }

[[index]]
match = "acme-tool-*"
require = true

[[index]]
match = "a?b"
`)
	rep, err := Check([]string{req}, Options{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if got := short(rep.Findings); got != "1:1 index-provenance-required info; 5:1 index-provenance-required info; 6:1 index-table-never-matches error; 10:1 index-table-never-matches error" {
		t.Errorf("findings: %s", got)
	}
	for _, f := range rep.Findings {
		switch f.Rule {
		case RuleIndexTableNeverMatches:
			if f.File != "pipguard.toml" || !strings.Contains(f.Message, "can never match") {
				t.Errorf("%+v", f)
			}
		case RuleProvenanceRequired:
			if !strings.Contains(f.Message, "attested by GitHub acme/tools release.yml") || !strings.Contains(f.Policy, `index "acme-*"`) {
				t.Errorf("%+v", f)
			}
		}
	}

	rep, err = Check([]string{req}, Options{Policy: parsePolicy(t, `index_attestations = "require"`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := short(rep.Findings); got != "1:1 index-provenance-required info; 2:1 index-provenance-required info; 5:1 index-provenance-required info" {
		t.Errorf("under require: %s", got)
	}
	rep, err = Check([]string{req}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("under the defaults: %s", short(rep.Findings))
	}
}
