package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Credentials are masked in every output format and message pipguard
// renders, whoever wrote the text: a finding quoting a requirement, an
// error quoting a path, the JSON and SARIF documents that carry them.
func TestCredentialsAreMaskedEverywhere(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	req := filepath.Join(dir, "requirements.txt")
	os.WriteFile(req, []byte("foo @ https://user:hunter2pass@files.example/foo-1.0.tar.gz?token=QSECRET&X-Amz-Signature=SIGSECRET\n"), 0o600)
	secrets := []string{"hunter2pass", "QSECRET", "SIGSECRET", "pypi-AgEIcHlwaS5vcmcCJGTOKEN"}
	for _, args := range [][]string{
		{"check", req},
		{"check", "--format", "json", req},
		{"check", "--format", "sarif", req},
		{"check", "https://__token__:pypi-AgEIcHlwaS5vcmcCJGTOKEN@idx.example/requirements.txt"},
		{"check", "--format", "json", "https://__token__:pypi-AgEIcHlwaS5vcmcCJGTOKEN@idx.example/requirements.txt"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"pipguard"}, args...), &stdout, &stderr, func(string) string { return "" })
		out := stdout.String() + stderr.String()
		if code == 0 || !strings.Contains(out, "****") {
			t.Errorf("%v: exit %d, nothing masked:\n%s", args, code, out)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%v shows %s:\n%s", args, s, out)
			}
		}
	}
}
