package sums

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const d1 = "ae57936def59bc4c75edd3a837d89bcefc6d3a5e31d55a6fa7a71624f92c3c3b"

func TestParseRealChecksums(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "github", "gh_2.96.0_checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 21 {
		t.Errorf("%d entries, want 21", len(s))
	}
}

func TestParse(t *testing.T) {
	s, err := Parse([]byte(d1 + "  pkg-1.0-py3-none-any.whl\n" + strings.ToUpper(d1[:32]) + d1[32:] + " *pkg-1.0.tar.gz\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s["pkg-1.0-py3-none-any.whl"] != d1 || s["pkg-1.0.tar.gz"] != d1 {
		t.Errorf("%v", s)
	}
}

func TestParseRejects(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "no entries",
		d1 + " pkg.whl":                  "expected two spaces",
		d1[:63] + "g  pkg.whl":           "is not a 64-digit hex",
		d1 + "  dir/pkg.whl":             "not a plain file name",
		d1 + `  ..\pkg.whl`:              "not a plain file name",
		d1 + "  ..":                      "not a plain file name",
		d1 + "  a\n" + d1 + "  a":        `"a" is listed twice`,
		d1 + "  a\r\n":                   "carriage return",
		"SHA256 (a) = " + d1:             "BSD-style",
		d1 + "  a\n\n" + d1 + "  b\n":    "blank line between entries",
		"deadbeef  a":                    "too short",
		d1 + "  a\n# comment about file": "too short",
	} {
		_, err := Parse([]byte(in))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(d1 + "  a.whl\n" + d1 + " *b.tar.gz\n"))
	f.Add([]byte("SHA256 (x) = 00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		for name, d := range s {
			if len(d) != 64 || strings.ContainsAny(name, "/\\\n\r") || name == "" {
				t.Fatalf("accepted %q -> %q", name, d)
			}
		}
	})
}
