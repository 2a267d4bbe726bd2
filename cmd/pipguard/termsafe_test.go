package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// What a child process prints (pip's messages quote what an index and
// a wheel's METADATA chose; here a fake interpreter) reaches the
// terminal escaped, like pipguard's own text: every byte pipguard writes
// passes termsafe.
func TestChildOutputNeverReachesTheTerminalRaw(t *testing.T) {
	py := filepath.Join(t.TempDir(), "python")
	script := "#!/bin/sh\nprintf 'Collecting evil\\033]0;pwned\\007\\033[2J\\rverified\\n' >&2\nprintf '\\033[31mfrom stdout\\233\\n'\nexit 1\n"
	if err := os.WriteFile(py, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"pipguard", "install", "--python", py, "six==1.0"}, &stdout, &stderr, func(string) string { return "" })
	if code == exitOK {
		t.Fatalf("exit %d", code)
	}
	out := stdout.String() + stderr.String()
	for i, r := range out {
		if r == utf8.RuneError || r != '\n' && r != '\t' && !unicode.IsPrint(r) {
			t.Fatalf("printed %U at %d:\n%q", r, i, out)
		}
	}
	if !strings.Contains(out, `Collecting evil\u001b]0;pwned\u0007\u001b[2J\u000dverified`) {
		t.Errorf("the child's line is not shown escaped:\n%s", out)
	}
}
