// Hygiene checks, as govulncheck's all_test.go: the tree is gofmt-clean,
// go vet finds nothing, and go mod tidy has nothing to change.
package pipguard_test

import (
	"bytes"
	"os/exec"
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
