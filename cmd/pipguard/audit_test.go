package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pipguard/pipguard/installer/envaudit"
)

// TestAuditRulesInREADME pins the README's "Pre-deploy check" rule table
// to the rules pipguard audit applies, with their default severities.
func TestAuditRulesInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Pre-deploy check\n")
	if !ok {
		t.Fatal(`README.md has no "## Pre-deploy check" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| ([a-z]+) \\|").FindAllStringSubmatch(section, -1) {
		listed[m[1]] = m[2]
	}
	for id, r := range envaudit.Rules {
		sev, ok := listed[id]
		switch {
		case !ok:
			t.Errorf("README.md does not list the audit rule %q", id)
		case sev != string(r.Severity):
			t.Errorf("README.md gives %q severity %s, pipguard audit %s", id, sev, r.Severity)
		}
		delete(listed, id)
	}
	for id := range listed {
		t.Errorf("README.md lists %q, which pipguard audit does not apply", id)
	}
}

// --verbose lists every distribution the summary counts, and which are
// verified; without it only findings and the summary are printed.
func TestAuditVerboseListsEveryDistribution(t *testing.T) {
	rep := &envaudit.Report{Distributions: 2, Verified: 1, Findings: []envaudit.Finding{}, Packages: []envaudit.Package{
		{Name: "demo", Version: "1.0.0", Path: "/v/lib/site-packages/demo-1.0.0.dist-info", Verified: true},
		{Name: "six", Version: "1.16.0", Path: "/v/lib/site-packages/six-1.16.0.dist-info"},
	}}
	var quiet, verbose strings.Builder
	renderAudit(&quiet, rep, false)
	renderAudit(&verbose, rep, true)
	if strings.Contains(quiet.String(), "six") {
		t.Errorf("without --verbose:\n%s", quiet.String())
	}
	lines := strings.Split(verbose.String(), "\n")
	if len(lines) < 3 || strings.Fields(lines[1])[2] != "yes" || strings.Fields(lines[2])[0] != "six" || strings.Fields(lines[2])[2] != "no" {
		t.Errorf("with --verbose:\n%s", verbose.String())
	}
	if !strings.Contains(verbose.String(), "2 distributions, 1 verified by pipguard") {
		t.Errorf("summary missing:\n%s", verbose.String())
	}
}

// A distribution's METADATA chooses its name and version: an escape
// sequence or a bidi override in them reaches the terminal quoted, never
// as a control sequence.
func TestAuditTextNeverPrintsControlCharacters(t *testing.T) {
	rep := &envaudit.Report{Distributions: 1, Findings: []envaudit.Finding{
		{Dist: "evil\x1b[31mRED", Version: "1.0\x1b[2J", Path: "/s/evil\u202e-1.0.dist-info", Severity: envaudit.Error, Rule: "metadata-invalid", Message: "name \x1b]0;x\x07"},
	}, Packages: []envaudit.Package{{Name: "evil\x1b[31mRED", Version: "1.0\x1b[2J", Path: "/s/evil\u202e-1.0.dist-info"}}}
	var out strings.Builder
	renderAudit(&out, rep, true)
	for _, r := range out.String() {
		if r != '\n' && !unicode.IsPrint(r) {
			t.Fatalf("printed %U:\n%q", r, out.String())
		}
	}
	if !strings.Contains(out.String(), `"evil\x1b[31mRED"`) {
		t.Errorf("the name is not shown quoted:\n%s", out.String())
	}
}

// A name with spaces cannot pass for the columns after it: a METADATA
// Name "evil 1.0 yes" (not a valid name, which audit reports, but its
// files are installed) is quoted in its row.
func TestAuditRowsQuoteNamesWithSpaces(t *testing.T) {
	rep := &envaudit.Report{Distributions: 1, Packages: []envaudit.Package{{Name: "evil   1.0   yes", Version: "6.6", Path: "/s/evil.dist-info"}},
		Findings: []envaudit.Finding{{Dist: "evil   1.0", Version: "6.6", Severity: envaudit.Error, Rule: "metadata-invalid", Message: "bad"}}}
	var out strings.Builder
	renderAudit(&out, rep, true)
	for _, want := range []string{`"evil   1.0   yes"  6.6`, `"evil   1.0"  6.6`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in:\n%s", want, out.String())
		}
	}
}

// An invalid byte decodes as the printable U+FFFD, but the terminal gets
// the byte: 0x9b is an 8-bit CSI. A directory name can hold any bytes.
func TestShownQuotesInvalidUTF8(t *testing.T) {
	if got := shown("evil\x9b2J"); got != `"evil\x9b2J"` {
		t.Errorf("shown = %s", got)
	}
}

// Error messages carry names a file or an environment chose: stderr gets
// them with line breaks kept and every other control escaped.
func TestErrorsNeverPrintControlCharacters(t *testing.T) {
	var stderr strings.Builder
	e := &env{stderr: &stderr}
	report(e, usagef("-r \x1b]0;PWNED\x07x\x9b\u202e.txt: no such file\nsecond line"))
	out := stderr.String()
	for i, r := range out {
		if r == utf8.RuneError || r != '\n' && !unicode.IsPrint(r) {
			t.Fatalf("printed %U at %d:\n%q", r, i, out)
		}
	}
	if !strings.Contains(out, `\x1b]0;PWNED\ax\x9b\u202e.txt`) || !strings.Contains(out, "\nsecond line") {
		t.Errorf("printed:\n%q", out)
	}
}
