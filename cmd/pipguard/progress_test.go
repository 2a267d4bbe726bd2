package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// The bar appears only once downloads have run for the delay, counts every
// concurrent download in one total, and is cleared when the last one ends.
func TestDownloadBarAppearsAfterTheDelay(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	d := newDownloadBar(&out, time.Second)
	d.now = func() time.Time { return now }
	a := d.Begin("a.whl", 1000)
	b := d.Begin("b.whl", 1000)
	a(500)
	b(100)
	if out.Len() != 0 {
		t.Fatalf("a bar before the delay: %q", out.String())
	}
	now = now.Add(1500 * time.Millisecond)
	a(500)
	a(-1)
	if !strings.Contains(out.String(), "downloading") {
		t.Fatalf("no bar after the delay: %q", out.String())
	}
	if d.bar == nil || d.bar.State().CurrentNum != 1100 || d.bar.State().Max != 2000 {
		t.Fatalf("bar state %+v, want 1100 of 2000", d.bar.State())
	}
	b(900)
	b(-1)
	if d.bar != nil {
		t.Error("the bar outlived the downloads")
	}
}

// No bar without a terminal, with -q, with --format json, or under CI.
func TestNoBarWhereNobodyWatches(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		quiet    bool
		format   string
		ci       string
		want     bool
	}{
		{"terminal", true, false, "text", "", true},
		{"not a terminal", false, false, "text", "", false},
		{"-q", true, true, "text", "", false},
		{"json", true, false, "json", "", false},
		{"CI=true", true, false, "text", "true", false},
	} {
		e := &env{stderr: io.Discard, format: tc.format, getenv: func(k string) string {
			if k == "CI" {
				return tc.ci
			}
			return ""
		}, terminal: func(io.Writer) bool { return tc.terminal }}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Bool("quiet", tc.quiet, "")
		cCtx := cli.NewContext(nil, fs, nil)
		if got := e.progress(cCtx) != nil; got != tc.want {
			t.Errorf("%s: bar %v, want %v", tc.name, got, tc.want)
		}
	}
}
