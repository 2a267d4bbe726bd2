package policy

import (
	"errors"
	"strings"
	"testing"
)

// Only "*" is special in an [[index]] match: "?", "[" and "\\" stand for
// themselves (path.Match's classes would make "[ab]*" match "a-tool",
// which no README line promises and check could not tell).
func TestIndexGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"acme-*", "acme-tool", true},
		{"acme-*", "acme-", true},
		{"acme-*", "acme", false},
		{"*-tool", "acme-tool", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"*", "x", true},
		{"[ab]*", "a-tool", false},
		{"a?c*", "abc-x", false},
		{"a?c*", "a?c-x", true},
		{"acme-*-*", "acme-tool-x", true},
	} {
		if got := globMatch(c.pattern, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}

// An [[index]] table that can never decide anything: a name no project's
// normalised name is, a pattern no normalised name fits, a pattern an
// earlier one shadows. The policy's own reading agrees: no project is
// judged by them.
func TestUnmatchableIndexTables(t *testing.T) {
	p, err := Parse("pipguard.toml", []byte(`
[[index]]
match = "acme-*"
require = true

[[index]]
match = "acme-tool-*"
require = true

[[index]]
match = "*-tool"

[[index]]
match = "[ab]*"

[[index]]
match = "tool-x*-"

[[index]]
match = "a?b"

[[index]]
match = "requests"

[[index]]
match = "-x"
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range p.UnmatchableIndexTables() {
		got = append(got, pr.Table.Match)
		if pr.Why == "" || pr.Table.Where == "" {
			t.Errorf("%+v", pr)
		}
	}
	if strings.Join(got, " ") != "acme-tool-* [ab]* tool-x*- a?b -x" {
		t.Errorf("unmatchable: %v", got)
	}
	for _, name := range []string{"acme-tool-x", "a-tool", "b-c"} {
		if eff := p.ForProject(name); strings.Contains(eff.Rule, `"acme-tool-*"`) || strings.Contains(eff.Rule, "[ab]") || strings.Contains(eff.Rule, "a?b") || strings.Contains(eff.Rule, "tool-x*-") {
			t.Errorf("%s is judged by %s", name, eff.Rule)
		}
	}
	if eff := p.ForProject("acme-tool-x"); !strings.Contains(eff.Rule, `"acme-*"`) {
		t.Errorf("acme-tool-x: %s", eff.Rule)
	}
}

// The loader reads a pattern as the never-matches rule does, each "*"
// standing for one letter: a "*" between two "-" is a normalised pattern
// (acme-*-plugin matches acme-x-plugin); one that only a normalisation
// could make a project's name is not.
func TestIndexPatternNormalised(t *testing.T) {
	for _, m := range []string{"acme-*-plugin", "*-*-tools", "acme-*", "*", "a*b*c", "acme-*-*"} {
		if _, err := Parse("pipguard.toml", []byte("[[index]]\nmatch = \""+m+"\"\n")); err != nil {
			t.Errorf("match = %q refused: %v", m, err)
		}
	}
	for m, want := range map[string]string{"Acme-*": `match = "acme-*"`, "acme_*": `match = "acme-*"`, "acme-*.plugin": `match = "acme-*-plugin"`, "acme--*": `match = "acme-*"`} {
		_, err := Parse("pipguard.toml", []byte("[[index]]\nmatch = \""+m+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), "not a normalised project name") {
			t.Errorf("match = %q: %v, want refused as not normalised", m, err)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Hint() != want {
			t.Errorf("match = %q: hint %q, want %q", m, hintOf(pe), want)
		}
	}
}

func hintOf(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Hint()
}
