package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// A file two zip readers could read as two archives is refused: Python's
// zipfile (pip's) adds the bytes before the central directory to every
// offset, Go's archive/zip may not, so archive A followed by archive B is A
// to one and B to the other. Prepended bytes, trailing bytes and two
// archives in one file are refused; a wheel as builders write it, and the
// real wheel of the fixtures, are not.
func TestAmbiguousArchivesAreRefused(t *testing.T) {
	a := pkgtest.Project{Name: "demo", Version: "1.0"}.Wheel()
	b := pkgtest.Project{Name: "demo", Version: "1.0", Files: map[string]string{"demo/evil.py": "EVIL = 1\n"}}.Wheel()
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"prepended":    append([]byte("#!/bin/sh\nexit 0\n"), a...),
		"trailing":     append(append([]byte{}, a...), []byte("junk")...),
		"two archives": append(append([]byte{}, a...), b...),
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"), "demo-1.0-py3-none-any.whl")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, data, 0o644)
			_, err := Open(p)
			if err == nil || !strings.Contains(err.Error(), "archive") && !strings.Contains(err.Error(), "record") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	for _, p := range []string{"../../testdata/sigstore/github_provenance_demo-0.0.12-py3-none-any.whl"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		if _, err := Open(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	p := filepath.Join(dir, "demo-1.0-py3-none-any.whl")
	os.WriteFile(p, a, 0o644)
	if _, err := Open(p); err != nil {
		t.Errorf("a plain wheel: %v", err)
	}
}
