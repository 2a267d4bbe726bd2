package installer

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// TestPipFile: pip's errors that name pipguard's own temporary file are
// told with the user's file and line, in pip's output and in the error.
func TestPipFile(t *testing.T) {
	dir := t.TempDir()
	entries := []reqfile.Entry{{File: "requirements.txt", Line: 2, Option: []string{"--no-index"}}}
	for i, s := range []string{"demo @ git+https://github.com/o/demo.git@v1.0.0", "six==1.16", "nosuch==9"} {
		r, err := requirement.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, reqfile.Entry{File: "requirements.txt", Line: 4 + i, Req: r, ReqText: s})
	}
	gs := []*Guarded{{PipRequirement: "demo @ file:///tmp/demo-1.0.0-py3-none-any.whl#sha256=00"}}
	path, err := writeRequirements(dir, entries, gs)
	if err != nil {
		t.Fatal(err)
	}
	var p PipFile
	var out bytes.Buffer
	w := p.Writer(&out)
	p.Learn(path, entries, gs)
	pipSays := "ERROR: Could not find a version that satisfies the requirement nosuch==9 (from -r " + path + " (line 4))\n"
	w.Write([]byte(pipSays[:20]))
	w.Write([]byte(pipSays[20:]))
	if got, want := out.String(), "ERROR: Could not find a version that satisfies the requirement nosuch==9 (from requirements.txt:6)\n"; got != want {
		t.Errorf("output: got %q, want %q", got, want)
	}
	err = p.MapError(&pip.Error{Tail: "Invalid requirement: 'six==1.16' (from line 3 of " + path + ")"})
	if got := err.Error(); !strings.Contains(got, "(from requirements.txt:5)") || strings.Contains(got, filepath.Base(path)) {
		t.Errorf("error: got %q", got)
	}
	if got := p.Rewrite(path + " (line 1)"); got != "requirements.txt:2" {
		t.Errorf("option line: got %q", got)
	}
	if got := p.Rewrite(path + " (line 2)"); got != "requirements.txt:4" {
		t.Errorf("verified requirement's line: got %q", got)
	}
}
