// Hygiene checks, as govulncheck's all_test.go: the tree is gofmt-clean,
// go vet finds nothing, and go mod tidy has nothing to change.
package pipguard_test

import (
	"os/exec"
	"strings"
	"testing"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestGofmt(t *testing.T) {
	if out := run(t, "gofmt", "-l", "."); out != "" {
		t.Errorf("gofmt would change:\n%s", out)
	}
}

func TestGoVet(t *testing.T) {
	run(t, "go", "vet", "./...")
}

func TestGoModTidy(t *testing.T) {
	if out := run(t, "go", "mod", "tidy", "-diff"); out != "" {
		t.Errorf("go mod tidy would change:\n%s", out)
	}
}
