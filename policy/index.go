package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// IndexRule is one [[index]] table: the rules for one project's (or a
// pattern's) index files and their PEP 740 attestations.
type IndexRule struct {
	// Match is a PEP 503-normalised project name, or a pattern with *.
	Match string `json:"match"`
	// Where is the table's location in its file.
	Where string `json:"where"`
	// Publisher, when set, is the identity the files must be attested by,
	// read from the signing certificate (never from the index's claim).
	Publisher *IndexPublisher `json:"publisher,omitempty"`
	// Require refuses a file without provenance (always so with a
	// Publisher).
	Require bool `json:"require"`
}

// IndexPublisher is a PEP 740 Trusted Publisher identity, with PEP 740's
// keys: GitHub (repository, workflow, environment), GitLab (repository,
// workflow_filepath, environment), Google (email).
type IndexPublisher struct {
	Kind             string `json:"kind"`
	Repository       string `json:"repository,omitempty"`
	Workflow         string `json:"workflow,omitempty"`
	WorkflowFilepath string `json:"workflow_filepath,omitempty"`
	Email            string `json:"email,omitempty"`
	Environment      string `json:"environment,omitempty"`
}

func (p IndexPublisher) String() string {
	switch p.Kind {
	case "GitHub":
		return fmt.Sprintf("GitHub %s %s", p.Repository, p.Workflow)
	case "GitLab":
		return fmt.Sprintf("GitLab %s %s", p.Repository, p.WorkflowFilepath)
	case "Google":
		return "Google " + p.Email
	}
	return p.Kind
}

// IndexEffective is what the policy says about one project's index files.
type IndexEffective struct {
	// Mode is index_attestations: "off", "verify" or "require".
	Mode Value[string] `json:"mode"`
	// Require and Publisher come from the matching [[index]] table (Rule
	// names it) or from Mode.
	Require   bool            `json:"require"`
	Publisher *IndexPublisher `json:"publisher,omitempty"`
	Rule      string          `json:"rule"`
}

var projectRE = regexp.MustCompile(`[-_.]+`)

// normalizeProject is PEP 503 name normalisation.
func normalizeProject(name string) string {
	return projectRE.ReplaceAllString(strings.ToLower(name), "-")
}

// ForProject is the effective index policy for the project name: the
// exact table, else the first matching pattern table, else the global
// index_attestations.
func (p *Policy) ForProject(name string) IndexEffective {
	n := normalizeProject(name)
	e := IndexEffective{Mode: p.IndexAttestations, Require: p.IndexAttestations.V == "require", Rule: p.IndexAttestations.Rule("index_attestations")}
	var match *IndexRule
	for i := range p.IndexRules {
		r := &p.IndexRules[i]
		if r.Match == n {
			match = r
			break
		}
	}
	if match == nil {
		for i := range p.IndexRules {
			r := &p.IndexRules[i]
			if strings.Contains(r.Match, "*") && globMatch(r.Match, n) {
				match = r
				break
			}
		}
	}
	if match != nil {
		e.Require = e.Require || match.Require
		e.Publisher = match.Publisher
		e.Rule = fmt.Sprintf("index %q (%s)", match.Match, match.Where)
	}
	return e
}

// globMatch says whether name matches pattern, in which "*" stands for any
// text (none included) and every other character for itself: an [[index]]
// match's only pattern syntax ("?", "[" and "\\" are not special).
func globMatch(pattern, name string) bool {
	// The classic two-pointer wildcard match, backtracking to the last
	// star.
	p, n, star, mark := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p, mark = star+1, mark+1
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// normalisedRE is a PEP 503-normalised name of a valid project name (PEP
// 508: letters, digits, "-", "_" and ".", starting and ending with a
// letter or digit): lower-case letters and digits, in runs joined by one
// "-".
var normalisedRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// IndexTableProblem is an [[index]] table that can never decide anything.
type IndexTableProblem struct {
	Table IndexRule
	// Why says why no project's files are ever judged by it.
	Why string
}

// UnmatchableIndexTables are the [[index]] tables no project's index
// files can ever be judged by, in the file's order. The rule:
//
//   - a table without "*" matches one project, by its normalised name:
//     it can never match when its match is not the normalised name of a
//     valid project name (lower-case letters and digits in runs joined by
//     single "-"; "_", ".", "--", a leading or trailing "-" and any other
//     character never appear in one);
//   - a pattern can never match when no normalised name fits it: when the
//     pattern with every "*" replaced by one letter is not a normalised
//     name (a "*" can always stand for a letter, so nothing else could
//     fit either);
//   - a pattern is shadowed when an earlier pattern matches every name it
//     matches: pipguard uses the first pattern that matches, so the later
//     one decides nothing. pipguard tells by matching the earlier pattern
//     against the later one's text, the later "*" as a character only an
//     earlier "*" can stand for (acme-* shadows acme-tool-*; *-tool and
//     acme-* overlap, and neither shadows the other). An exact table is
//     never shadowed: it wins over every pattern.
func (p *Policy) UnmatchableIndexTables() []IndexTableProblem {
	var out []IndexTableProblem
	for i, r := range p.IndexRules {
		if !strings.Contains(r.Match, "*") {
			if !normalisedRE.MatchString(r.Match) {
				out = append(out, IndexTableProblem{r, fmt.Sprintf("%q is not the normalised name of any valid project name (PEP 503 and PEP 508: lower-case letters and digits, in runs joined by single \"-\")", r.Match)})
			}
			continue
		}
		if witness := strings.ReplaceAll(r.Match, "*", "a"); !normalisedRE.MatchString(witness) {
			out = append(out, IndexTableProblem{r, fmt.Sprintf("no normalised project name fits the pattern %q (lower-case letters and digits, in runs joined by single \"-\"; only \"*\" is a wildcard)", r.Match)})
			continue
		}
		for _, prev := range p.IndexRules[:i] {
			if strings.Contains(prev.Match, "*") && globMatch(prev.Match, r.Match) {
				out = append(out, IndexTableProblem{r, fmt.Sprintf("the earlier pattern %q (%s) matches every project %q matches, and the first matching pattern decides", prev.Match, prev.Where, r.Match)})
				break
			}
		}
	}
	return out
}
