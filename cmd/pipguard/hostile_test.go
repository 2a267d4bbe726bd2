package main

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// 5 MB of random bytes given as --bundle print a few short lines, not
// one per line of the file (38,971 on stdout before, and a 1 MB line on
// stderr).
func TestRandomBundlePrintsLittle(t *testing.T) {
	random := make([]byte, 5_000_000)
	rand.New(rand.NewSource(1)).Read(random)
	f := filepath.Join(t.TempDir(), "random.bin")
	os.WriteFile(f, random, 0o600)
	root, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "trusted-roots", "public-good.json"))
	for _, format := range []string{"text", "json"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"pipguard", "verify", "sha256:" + strings.Repeat("0", 64), "--repo", "o/r",
			"--bundle", f, "--trusted-root", root, "--format", format}, &stdout, &stderr, func(string) string { return "" })
		if code != exitVerify {
			t.Errorf("%s: exit %d, want %d\n%s", format, code, exitVerify, stderr.String())
		}
		for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
			lines := strings.Split(out, "\n")
			longest := 0
			for _, l := range lines {
				longest = max(longest, len(l))
			}
			if len(lines) > 100 || longest > 4096 {
				t.Errorf("%s %s: %d lines, the longest %d bytes:\n%.2000s", format, name, len(lines), longest, out)
			}
		}
	}
}
