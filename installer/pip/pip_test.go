package pip

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// No child ever sees a GitHub token; everything else passes through.
func TestEnvDropsTokens(t *testing.T) {
	got := Env([]string{"GH_TOKEN=a", "GITHUB_TOKEN=b", "GH_ENTERPRISE_TOKEN=c", "GITHUB_ENTERPRISE_TOKEN=d", "GH_TOKENX=keep", "PATH=/bin", "HOME=/h"})
	for _, kv := range got {
		for _, s := range secretEnv {
			if len(kv) > len(s) && kv[:len(s)+1] == s+"=" {
				t.Errorf("%s reached a child", kv)
			}
		}
	}
	for _, want := range []string{"GH_TOKENX=keep", "PATH=/bin", "HOME=/h", "PIP_NO_INPUT=1"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %v", want, got)
		}
	}
}

// A directory reached twice through a symlink is one directory.
func TestUniqueDirs(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "lib", "site"), 0o755)
	os.Symlink("lib", filepath.Join(d, "lib64"))
	got := uniqueDirs([]string{filepath.Join(d, "lib", "site"), filepath.Join(d, "lib64", "site"), filepath.Join(d, "lib", "site")})
	if len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

// An interpreter that does not exist, or is not Python, is reported as
// such, with the hint to pass another --python.
func TestUnusableInterpreter(t *testing.T) {
	for _, py := range []string{filepath.Join(t.TempDir(), "no-such-python"), "/bin/true"} {
		s, err := Start(context.Background(), Options{Python: py})
		if err == nil {
			_, err = s.Info()
			s.Close()
		}
		var ie *InterpreterError
		if !errors.As(err, &ie) || ie.Hint() == "" {
			t.Errorf("%s: err = %v", py, err)
		}
	}
}
