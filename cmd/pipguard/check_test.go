package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/lint"
	"github.com/pipguard/pipguard/installer/reqfile"
)

// TestPreCommitHook pins the repository's .pre-commit-hooks.yaml to the
// command it runs: the hook's id, its entry (a pipguard command that
// exists), language golang (pre-commit builds this module), and a files
// pattern that picks requirements files and pyproject.toml and nothing else.
func TestPreCommitHook(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(line, "- "), "  "), ": ")
		if !ok {
			t.Fatalf("not a key: value line: %q", line)
		}
		keys[k] = v
	}
	if keys["id"] != "pipguard-check" || keys["language"] != "golang" || keys["entry"] != "pipguard check" {
		t.Errorf("hook %v", keys)
	}
	app := newApp(&env{getenv: func(string) string { return "" }})
	if cmd := app.Command(strings.Fields(keys["entry"])[1]); cmd == nil {
		t.Errorf("entry %q: no such command", keys["entry"])
	}
	files, err := regexp.Compile(keys["files"])
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"requirements.txt": true, "requirements-dev.txt": true, "services/api/requirements_test.txt": true,
		"requirements/base.txt": true, "pyproject.toml": true, "tools/x/pyproject.toml": true,
		"pylock.toml": true, "deploy/pylock.prod.toml": true, "x.pylock.toml": false, "pylock.a.b.toml": false,
		"setup.py": false, "myrequirements.txt": false, "requirements.in": false, "pyproject.toml.orig": false, "docs/requirements.md": false,
	} {
		if files.MatchString(path) != want {
			t.Errorf("files %q matches %s: %v, want %v", keys["files"], path, !want, want)
		}
	}
}

// TestCheckRulesInREADME pins the README's "In pre-commit" rule table to
// the rules pipguard check applies.
func TestCheckRulesInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## In pre-commit\n")
	if !ok {
		t.Fatal(`README.md has no "## In pre-commit" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|").FindAllStringSubmatch(section, -1) {
		listed[m[1]] = true
	}
	for id := range lint.Rules {
		if !listed[id] {
			t.Errorf("README.md does not list the check rule %q", id)
		}
		delete(listed, id)
	}
	for id := range listed {
		t.Errorf("README.md lists %q, which pipguard check does not apply", id)
	}
}

func TestCheckExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{&findingsFailed{command: "check", n: 1}, 6},
		{&lint.Error{File: "pyproject.toml", Msg: "x"}, 2},
		{&reqfile.Error{File: "r.txt", Line: 2, Msg: "-r gone.txt: no such file"}, 2},
	} {
		if got, _ := classify(fmt.Errorf("context: %w", c.err)); got != c.code {
			t.Errorf("%T: exit %d, want %d", c.err, got, c.code)
		}
	}
}

// A requirements file names the files it includes: a hostile one cannot
// send an escape sequence to the terminal through a nested file's name.
func TestCheckTextNeverPrintsControlCharacters(t *testing.T) {
	dir := t.TempDir()
	nested := "a\x1b[31m.txt"
	os.WriteFile(filepath.Join(dir, nested), []byte("x\n"), 0o644)
	top := filepath.Join(dir, "requirements.txt")
	os.WriteFile(top, []byte("-r "+nested+"\n"), 0o644)
	rep, err := lint.Check([]string{top}, lint.Options{Dir: dir})
	if err != nil || len(rep.Findings) == 0 {
		t.Fatalf("findings %v, err %v", rep.Findings, err)
	}
	var out strings.Builder
	renderCheck(&out, rep, true)
	if strings.Contains(out.String(), "\x1b") || !strings.Contains(out.String(), `"a\x1b[31m.txt"`) {
		t.Errorf("printed:\n%q", out.String())
	}
}
