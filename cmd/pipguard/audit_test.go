package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

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
