// Hygiene checks, as govulncheck's all_test.go: the tree is gofmt-clean,
// go vet finds nothing, and go mod tidy has nothing to change.
package pipguard_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run runs a command and returns its stdout. stderr is kept apart: the go
// command reports progress there ("go: downloading …" on a cold module
// cache), which says nothing about the tree.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestGofmt(t *testing.T) {
	if out := run(t, "gofmt", "-l", "."); out != "" {
		t.Errorf("gofmt would change:\n%s", out)
	}
}

func TestGoVet(t *testing.T) {
	run(t, "go", "vet", "./...")
}

// TestGoModTidy: go mod tidy -diff prints the diff on stdout and exits 1
// when tidy would change go.mod or go.sum; only those two say so.
func TestGoModTidy(t *testing.T) {
	if out := run(t, "go", "mod", "tidy", "-diff"); out != "" {
		t.Errorf("go mod tidy would change:\n%s", out)
	}
}

// make test runs the tests with a TMPDIR of its own and removes it when
// it ends, failed or not: here with a stand-in go on PATH that writes
// into TMPDIR, as the tests' binaries and venv templates do.
func TestMakeTestRemovesItsTemporaryDirectory(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	for _, fail := range []bool{false, true} {
		bin, outer := t.TempDir(), t.TempDir()
		record := filepath.Join(t.TempDir(), "tmpdirs")
		script := "#!/bin/sh\necho \"$TMPDIR\" >> " + record + "\nmkdir -p \"$TMPDIR/left\" && echo x > \"$TMPDIR/left/file\" && chmod 0500 \"$TMPDIR/left\"\n"
		if fail {
			script += "exit 1\n"
		}
		if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("make", "-s", "test")
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "TMPDIR="+outer)
		out, err := cmd.CombinedOutput()
		if (err != nil) != fail {
			t.Fatalf("fail=%v: make test: %v\n%s", fail, err, out)
		}
		data, err := os.ReadFile(record)
		if err != nil {
			t.Fatal(err)
		}
		dirs := strings.Fields(string(data))
		if len(dirs) == 0 {
			t.Fatal("go never ran")
		}
		for _, d := range dirs {
			if d == outer || filepath.Dir(d) != outer {
				t.Errorf("the tests ran with TMPDIR=%s, want a directory of their own in %s", d, outer)
			}
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("fail=%v: %s is still there (%v)", fail, d, err)
			}
		}
	}
}
