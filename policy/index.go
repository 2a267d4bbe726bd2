package policy

import (
	"fmt"
	"path"
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
			if ok, _ := path.Match(r.Match, n); ok && strings.Contains(r.Match, "*") {
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
