package policy

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pipguard/pipguard/installer/envaudit"
)

// fileRules are the keys of Rules as the file set them: pointers, so that
// a key that is absent is told apart from one set to its zero value.
type fileRules struct {
	SignerWorkflow    *string
	SignerRepo        *string
	SourceRefs        *[]string
	MaxCommitDistance *int
	Runner            *string
	Require           *[]string
	InstallFrom       *string
	AllowSdist        *bool
	AllowSourceBuilds *bool
	Verify            *string
}

// MaxFile bounds a policy file (a pyproject.toml is read whole).
const MaxFile = 4 << 20

// Load reads a policy file: [tool.pipguard] of a pyproject.toml, or a
// pipguard.toml whose keys are at the top level. It must be a regular file
// that only its owner (and root) can write; it may belong to another user,
// since naming it with --policy says it is trusted (discovery, Find, is
// stricter). Unknown keys, wrong types, invalid values, duplicate
// repository tables and contradictions are errors naming the file, the
// line and the key, all of them at once.
func Load(path string) (*Policy, error) {
	c, err := readCandidate(path, false)
	if err != nil {
		return nil, err
	}
	return Parse(path, c.data)
}

// Parse is Load on bytes; name says where they came from (a pyproject.toml
// by its base name; any other name is read as a pipguard.toml).
func Parse(name string, data []byte) (*Policy, error) {
	p, _, err := parse(name, data)
	return p, err
}

// parse is Parse, also saying whether the file has a policy table (a
// pipguard.toml always has).
func parse(name string, data []byte) (*Policy, bool, error) {
	pyproject := filepath.Base(name) == "pyproject.toml"
	var doc map[string]any
	if err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, false, syntaxError(name, err)
	}
	r := &reader{name: name, lines: keyLines(data)}
	var tbl map[string]any
	var prefix []string
	section := "top level"
	if pyproject {
		tbl, prefix, section = r.pyprojectTable(doc), []string{"tool", "pipguard"}, "[tool.pipguard]"
	} else {
		tbl = r.standaloneTable(doc)
	}
	p := Default()
	p.File = name
	if tbl == nil {
		if len(r.errs) > 0 {
			return nil, false, r.sorted()
		}
		return p, false, nil // a pyproject.toml without [tool.pipguard]
	}
	r.policy(p, tbl, prefix, fmt.Sprintf("%s %s", name, section))
	if err := p.check(); err != nil {
		r.errs = append(r.errs, err)
	}
	if len(r.errs) > 0 {
		return nil, true, r.sorted()
	}
	return p, true, nil
}

// syntaxError is TOML that does not parse, or defines a key twice: the
// file, the line and go-toml's words.
func syntaxError(name string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		msg := de.Error()
		if key := de.Key(); len(key) > 0 {
			return &Error{Where: fmt.Sprintf("%s:%d", name, row), Key: displayKey(key), Msg: "invalid TOML: " + msg, Fix: "fix the file's TOML syntax (TOML 1.0, https://toml.io)"}
		}
		return &Error{Where: fmt.Sprintf("%s:%d", name, row), Msg: "invalid TOML: " + msg, Fix: "fix the file's TOML syntax (TOML 1.0, https://toml.io)"}
	}
	return &Error{Where: name, Msg: "invalid TOML: " + err.Error(), Fix: "fix the file's TOML syntax (TOML 1.0, https://toml.io)"}
}

// reader collects every error in one file, each at its key's own line.
type reader struct {
	name  string
	lines map[string]int
	errs  []error
}

// where is "FILE:LINE" for path (its nearest written ancestor's line when
// the key itself has none).
func (r *reader) where(path []string) string {
	if l := r.line(path); l > 0 {
		return fmt.Sprintf("%s:%d", r.name, l)
	}
	return r.name
}

func (r *reader) line(path []string) int {
	for n := len(path); n > 0; n-- {
		if l := r.lines[pathKey(path[:n])]; l > 0 {
			return l
		}
	}
	return 0
}

func (r *reader) fail(path []string, fix, format string, args ...any) {
	r.errs = append(r.errs, &Error{Where: r.where(path), Key: displayKey(path), Msg: fmt.Sprintf(format, args...), Fix: fix, line: r.line(path)})
}

// sorted are the errors in the file's order (those of no one line last).
func (r *reader) sorted() error {
	sort.SliceStable(r.errs, func(i, j int) bool {
		li, lj := lineOfErr(r.errs[i]), lineOfErr(r.errs[j])
		return li < lj
	})
	return errors.Join(r.errs...)
}

func lineOfErr(err error) int {
	if e, ok := err.(*Error); ok && e.line > 0 {
		return e.line
	}
	return 1 << 30
}

func with(path []string, more ...string) []string {
	return append(append([]string{}, path...), more...)
}

// pyprojectTable is a pyproject.toml's [tool.pipguard], however the TOML
// spells it ([tool] pipguard = {...}, dotted keys, quoted keys), or nil.
// A near miss of the table's name is an error: a misspelt table must not
// drop a policy silently.
func (r *reader) pyprojectTable(doc map[string]any) map[string]any {
	if _, ok := doc["pipguard"]; ok {
		r.fail([]string{"pipguard"}, "write it as [tool.pipguard]", "unknown key: pipguard's table in a pyproject.toml is [tool.pipguard]")
	}
	tool, ok := doc["tool"].(map[string]any)
	if !ok {
		return nil
	}
	for _, k := range sortedKeys(tool) {
		if k != "pipguard" && distance(strings.ToLower(k), "pipguard") <= 2 {
			r.fail([]string{"tool", k}, "did you mean [tool.pipguard]?", "not pipguard's table, though its name is close")
		}
	}
	v, ok := tool["pipguard"]
	if !ok {
		return nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		r.fail([]string{"tool", "pipguard"}, "", "wrong type: a TOML %s where a table belongs", tomlType(v))
		return nil
	}
	return t
}

// standaloneTable is a pipguard.toml's document, whose keys are the
// policy's. A [tool.pipguard] in it (a pyproject.toml's table in a file of
// another name) is one error with a hint, not one for every key.
func (r *reader) standaloneTable(doc map[string]any) map[string]any {
	tool, ok := doc["tool"].(map[string]any)
	if !ok {
		return doc
	}
	if _, ok := tool["pipguard"]; ok {
		r.fail([]string{"tool", "pipguard"}, fmt.Sprintf("in %s the keys go at the top level: drop the [tool.pipguard] header and write [[repo]] for [[tool.pipguard.repo]]; or put the table in a pyproject.toml",
			filepath.Base(r.name)), "unknown key: [tool.pipguard] is read only from a pyproject.toml")
	} else {
		r.unknown([]string{"tool"}, globalKeys)
	}
	rest := map[string]any{}
	for k, v := range doc {
		if k != "tool" {
			rest[k] = v
		}
	}
	return rest
}

// The keys of the policy, with the scope they belong to.
var (
	ruleKeyNames  = []string{"signer_workflow", "signer_repo", "source_refs", "max_commit_distance", "runner", "require", "install_from", "allow_sdist", "allow_source_builds", "verify"}
	globalOnly    = []string{"index_pins", "dependency_conflicts", "indexes", "allow_direct", "audit_severity", "repo", "index_attestations", "index"}
	indexKeys     = []string{"match", "publisher", "require"}
	publisherKeys = []string{"kind", "repository", "workflow", "workflow_filepath", "email", "environment"}
	globalKeys    = append(append([]string{}, ruleKeyNames...), globalOnly...)
	repoKeys      = append([]string{"match"}, ruleKeyNames...)
)

// unknown reports a key that is not one of known, suggesting the nearest
// known key within two edits.
func (r *reader) unknown(path []string, known []string) {
	key := path[len(path)-1]
	switch {
	case contains(known, "match") && contains(globalOnly, key):
		r.fail(path, "set it at the top level of the policy", "applies to the whole policy, not to one repository")
	case !contains(known, "match") && key == "match":
		r.fail(path, `put it in a repository table: [[tool.pipguard.repo]] match = "OWNER/REPO"`, "unknown key: match belongs to a repository table")
	default:
		fix := "see the README's Policy section for the keys; a misspelt key must not weaken a policy silently"
		if s := suggest(key, known); s != "" {
			fix = fmt.Sprintf("did you mean %s?", s)
		}
		r.fail(path, fix, "unknown key")
	}
}

// policy reads the policy's table tbl (at prefix) into p; src is what its
// global values say they came from.
func (r *reader) policy(p *Policy, tbl map[string]any, prefix []string, src string) {
	for _, k := range sortedKeys(tbl) {
		if !contains(globalKeys, k) {
			r.unknown(with(prefix, k), globalKeys)
		}
	}
	var f fileRules
	r.rules(&f, tbl, prefix)
	r.setRules(&p.Global, &f, prefix, src, nil)
	if s, ok := r.str(tbl, prefix, "index_pins"); ok {
		if !oneOf(s, "require", "warn", "off") {
			r.fail(with(prefix, "index_pins"), "", "%q is not require, warn or off", s)
		}
		p.IndexPins = Value[string]{s, src}
	}
	if s, ok := r.str(tbl, prefix, "dependency_conflicts"); ok {
		if !oneOf(s, "warn", "error") {
			r.fail(with(prefix, "dependency_conflicts"), "", "%q is not warn or error", s)
		}
		p.DependencyConflicts = Value[string]{s, src}
	}
	if s, ok := r.str(tbl, prefix, "index_attestations"); ok {
		if !oneOf(s, "off", "verify", "require") {
			r.fail(with(prefix, "index_attestations"), "", "%q is not off, verify or require", s)
		}
		p.IndexAttestations = Value[string]{s, src}
	}
	r.indexTables(p, tbl, prefix)
	if l, ok := r.strs(tbl, prefix, "indexes"); ok {
		p.Indexes = Value[[]string]{l, src}
	}
	if l, ok := r.strs(tbl, prefix, "allow_direct"); ok {
		p.AllowDirect = Value[[]string]{l, src}
	}
	if v, ok := tbl["audit_severity"]; ok {
		path := with(prefix, "audit_severity")
		if m, ok := v.(map[string]any); !ok {
			r.fail(path, `audit_severity = { "unverified-direct" = "error" }`, "wrong type: a TOML %s where a table belongs", tomlType(v))
		} else {
			sev := map[string]string{}
			for _, rule := range sortedKeys(m) {
				rp := with(path, rule)
				s, ok := m[rule].(string)
				if !ok {
					r.fail(rp, "", "wrong type: a TOML %s where a string belongs", tomlType(m[rule]))
					continue
				}
				if _, known := envaudit.Rules[rule]; !known {
					fix := "pipguard audit --help lists the rules; the README's Pre-deploy check section too"
					if s := suggest(rule, auditRules()); s != "" {
						fix = fmt.Sprintf("did you mean %q?", s)
					}
					r.fail(rp, fix, "no such audit rule")
				}
				if !oneOf(s, "info", "warning", "error") {
					r.fail(rp, "", "%q is not info, warning or error", s)
				}
				sev[rule] = s
			}
			p.AuditSeverity = Value[map[string]string]{sev, src}
		}
	}
	r.repos(p, tbl, prefix)
}

// indexTables reads the [[index]] tables: per-project rules for index
// files' PEP 740 attestations.
func (r *reader) indexTables(p *Policy, tbl map[string]any, prefix []string) {
	v, ok := tbl["index"]
	if !ok {
		return
	}
	header := "[[" + displayKey(with(prefix, "index")) + "]]"
	list, ok := v.([]any)
	if !ok {
		r.fail(with(prefix, "index"), "write each project's table as "+header, "wrong type: a TOML %s where an array of tables belongs", tomlType(v))
		return
	}
	seen := map[string]string{}
	for i, e := range list {
		path := with(prefix, "index", index(i))
		t, ok := e.(map[string]any)
		if !ok {
			r.fail(path, "write each project's table as "+header, "wrong type: a TOML %s where a table belongs", tomlType(e))
			continue
		}
		for _, k := range sortedKeys(t) {
			if !contains(indexKeys, k) {
				r.unknown(with(path, k), indexKeys)
			}
		}
		rule := IndexRule{Where: r.where(path)}
		m, ok := r.str(t, path, "match")
		if !ok || m == "" {
			r.fail(with(path, "match"), `match = "requests" (a project name, or a pattern such as "acme-*")`, "missing: every %s table needs a match", header)
			continue
		}
		// A pattern is checked as the never-matches rule reads it
		// (IndexTableProblems): with each "*" standing for one letter.
		// Removing the "*" instead would make "acme-*-plugin" read as
		// "acme--plugin", which no normalisation leaves alone.
		if witness := strings.ReplaceAll(m, "*", "a"); normalizeProject(witness) != witness {
			r.fail(with(path, "match"), fmt.Sprintf("match = %q", normalizeProject(m)), "%q is not a normalised project name (PEP 503: lower case, runs of -_. as one -)", m)
		}
		rule.Match = m
		if prev, dup := seen[m]; dup {
			r.fail(with(path, "match"), "merge the two tables", "a second table for %q (the first is at %s)", m, prev)
		}
		seen[m] = rule.Where
		if b, ok := t["require"]; ok {
			if bv, ok := b.(bool); ok {
				rule.Require = bv
			} else {
				r.fail(with(path, "require"), "require = true", "wrong type: a TOML %s where a boolean belongs", tomlType(b))
			}
		}
		if pv, ok := t["publisher"]; ok {
			pt, ok := pv.(map[string]any)
			if !ok {
				r.fail(with(path, "publisher"), `publisher = { kind = "GitHub", repository = "OWNER/REPO", workflow = "release.yml" }`, "wrong type: a TOML %s where a table belongs", tomlType(pv))
			} else {
				pub := &IndexPublisher{}
				for _, k := range sortedKeys(pt) {
					kp := with(path, "publisher", k)
					if !contains(publisherKeys, k) {
						r.unknown(kp, publisherKeys)
						continue
					}
					sv, ok := pt[k].(string)
					if !ok {
						r.fail(kp, "", "wrong type: a TOML %s where a string belongs", tomlType(pt[k]))
						continue
					}
					switch k {
					case "kind":
						pub.Kind = sv
					case "repository":
						pub.Repository = sv
					case "workflow":
						pub.Workflow = sv
					case "workflow_filepath":
						pub.WorkflowFilepath = sv
					case "email":
						pub.Email = sv
					case "environment":
						pub.Environment = sv
					}
				}
				switch pub.Kind {
				case "GitHub":
					if pub.Repository == "" || pub.Workflow == "" {
						r.fail(with(path, "publisher"), `publisher = { kind = "GitHub", repository = "OWNER/REPO", workflow = "release.yml" }`, "a GitHub publisher needs repository and workflow")
					}
				case "GitLab":
					if pub.Repository == "" || pub.WorkflowFilepath == "" {
						r.fail(with(path, "publisher"), `publisher = { kind = "GitLab", repository = "NAMESPACE/PROJECT", workflow_filepath = ".gitlab-ci.yml" }`, "a GitLab publisher needs repository and workflow_filepath")
					}
				case "Google":
					if pub.Email == "" {
						r.fail(with(path, "publisher"), `publisher = { kind = "Google", email = "NAME@PROJECT.iam.gserviceaccount.com" }`, "a Google publisher needs email")
					}
				default:
					r.fail(with(path, "publisher", "kind"), `kind = "GitHub" (or "GitLab", "Google")`, "%q is not a publisher kind pipguard can verify (GitHub, GitLab, Google)", pub.Kind)
				}
				rule.Publisher = pub
				if rule.Publisher != nil && !rule.Require {
					// A pinned publisher is a requirement: a file without
					// provenance cannot be the pinned publisher's.
					rule.Require = true
				}
			}
		}
		p.IndexRules = append(p.IndexRules, rule)
	}
}

// auditRules are pipguard audit's rule IDs, which audit_severity names.
func auditRules() []string {
	out := make([]string, 0, len(envaudit.Rules))
	for id := range envaudit.Rules {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// repos reads the [[repo]] tables.
func (r *reader) repos(p *Policy, tbl map[string]any, prefix []string) {
	v, ok := tbl["repo"]
	if !ok {
		return
	}
	header := "[[" + displayKey(with(prefix, "repo")) + "]]"
	list, ok := v.([]any)
	if !ok {
		r.fail(with(prefix, "repo"), "write each repository's table as "+header, "wrong type: a TOML %s where an array of tables belongs", tomlType(v))
		return
	}
	seen := map[string]string{}
	for i, e := range list {
		path := with(prefix, "repo", index(i))
		t, ok := e.(map[string]any)
		if !ok {
			r.fail(path, "write each repository's table as "+header, "wrong type: a TOML %s where a table belongs", tomlType(e))
			continue
		}
		where := r.where(path)
		for _, k := range sortedKeys(t) {
			if !contains(repoKeys, k) {
				r.unknown(with(path, k), repoKeys)
			}
		}
		var f fileRules
		r.rules(&f, t, path)
		m, ok := r.str(t, path, "match")
		rr := RepoRules{Match: m, Where: where, Rules: Defaults(), set: map[string]bool{}}
		r.setRules(&rr.Rules, &f, path, fmt.Sprintf("repo %q (%s)", m, where), rr.set)
		mp := with(path, "match")
		if _, present := t["match"]; !present {
			r.fail(mp, `match = "OWNER/REPO"`, "missing: every %s table names the repositories it is for", header)
			continue
		}
		if !ok {
			continue // a wrong type, reported
		}
		key, _, valid := matchKey(m)
		if !valid || strings.HasSuffix(m, ".git") {
			r.fail(mp, matchFix(m), "%q is not OWNER/REPO, OWNER/*, HOST/PATH (a host without its port) or file:///ABS/PATH", m)
			continue
		}
		if prev, dup := seen[key]; dup {
			r.fail(mp, "merge the two tables", "a second table for %q (the first is at %s)", m, prev)
			continue
		}
		seen[key] = where
		p.Repos = append(p.Repos, rr)
	}
}

// matchFix says how to write a match that is not valid.
func matchFix(m string) string {
	switch {
	case strings.HasPrefix(m, "file://"):
		return "write a local repository as file:///ABS/PATH, its absolute path without .git (e.g. file:///srv/git/tool)"
	case strings.Contains(m, "://"):
		return "write HOST/PATH without the scheme, e.g. gitlab.example.com/group/sub/tool"
	case strings.HasSuffix(m, ".git"):
		return "drop the .git: pipguard names a repository without it, e.g. gitlab.example.com/team/tool"
	case strings.Contains(strings.SplitN(m, "/", 2)[0], ":"), strings.Contains(m, "@"):
		return "write the host name without a user or a port, e.g. gitlab.example.com/team/tool"
	}
	return `match = "Raze-Systems/fastapi-paseto", "gitlab.example.com/group/sub/tool" or "file:///srv/git/tool"`
}

// rules reads the rule keys of tbl.
func (r *reader) rules(f *fileRules, tbl map[string]any, path []string) {
	s := func(key string) *string {
		if v, ok := r.str(tbl, path, key); ok {
			return &v
		}
		return nil
	}
	l := func(key string) *[]string {
		if v, ok := r.strs(tbl, path, key); ok {
			return &v
		}
		return nil
	}
	b := func(key string) *bool {
		v, present := tbl[key]
		if !present {
			return nil
		}
		x, ok := v.(bool)
		if !ok {
			r.fail(with(path, key), "", "wrong type: a TOML %s where true or false belongs", tomlType(v))
			return nil
		}
		return &x
	}
	f.SignerWorkflow, f.SignerRepo, f.SourceRefs = s("signer_workflow"), s("signer_repo"), l("source_refs")
	if v, present := tbl["max_commit_distance"]; present {
		if n, ok := v.(int64); !ok {
			r.fail(with(path, "max_commit_distance"), "", "wrong type: a TOML %s where an integer belongs", tomlType(v))
		} else {
			i := int(max(min(n, 1<<31-1), -1<<31)) // reported as it is when out of range
			f.MaxCommitDistance = &i
		}
	}
	f.Runner, f.Require, f.InstallFrom = s("runner"), l("require"), s("install_from")
	f.AllowSdist, f.AllowSourceBuilds, f.Verify = b("allow_sdist"), b("allow_source_builds"), s("verify")
}

// str is the string at key; ok is false when it is absent or not a string
// (an error).
func (r *reader) str(tbl map[string]any, path []string, key string) (string, bool) {
	v, present := tbl[key]
	if !present {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		r.fail(with(path, key), "", "wrong type: a TOML %s where a string belongs", tomlType(v))
	}
	return s, ok
}

// strs is the list of strings at key, each item checked.
func (r *reader) strs(tbl map[string]any, path []string, key string) ([]string, bool) {
	v, present := tbl[key]
	if !present {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		r.fail(with(path, key), "", "wrong type: a TOML %s where a list of strings belongs", tomlType(v))
		return nil, false
	}
	out := make([]string, 0, len(list))
	good := true
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			ip := with(path, key, index(i))
			r.errs = append(r.errs, &Error{Where: r.where(ip), Key: displayKey(with(path, key)),
				Msg: fmt.Sprintf("wrong type: item %d is a TOML %s where a string belongs", i+1, tomlType(e)), line: r.line(ip)})
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

// tomlType names a decoded TOML value's type as the TOML spec does.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time, toml.LocalDateTime:
		return "date-time"
	case toml.LocalDate:
		return "date"
	case toml.LocalTime:
		return "time"
	}
	return fmt.Sprintf("%T", v)
}

// signerRepoRE is OWNER/REPO (or HOST/OWNER/REPO), no pattern.
var signerRepoRE = regexp.MustCompile(`^([A-Za-z0-9.-]+/)?[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// setRules copies the keys present in f into rules, validating each value
// (errors at the key under path); src is what each value says it came
// from; set, for a repository table, records the keys it names.
func (r *reader) setRules(rules *Rules, f *fileRules, path []string, src string, set map[string]bool) {
	bad := func(key, msg, fix string) { r.fail(with(path, key), fix, "%s", msg) }
	mark := func(k string) {
		if set != nil {
			set[k] = true
		}
	}
	if f.SignerWorkflow != nil {
		rules.SignerWorkflow = Value[string]{*f.SignerWorkflow, src}
		mark("signer_workflow")
	}
	if f.SignerRepo != nil {
		if !signerRepoRE.MatchString(*f.SignerRepo) {
			bad("signer_repo", fmt.Sprintf("%q is not OWNER/REPO", *f.SignerRepo), "")
		}
		rules.SignerRepo = Value[string]{*f.SignerRepo, src}
		mark("signer_repo")
	}
	if f.SourceRefs != nil {
		for _, ref := range *f.SourceRefs {
			if !strings.HasPrefix(ref, "refs/") {
				bad("source_refs", fmt.Sprintf("%q is not a full ref (refs/tags/..., refs/heads/...)", ref), `source_refs = ["refs/tags/*", "refs/heads/main"]`)
			}
		}
		rules.SourceRefs = Value[[]string]{*f.SourceRefs, src}
		mark("source_refs")
	}
	if f.MaxCommitDistance != nil {
		if *f.MaxCommitDistance < 0 || *f.MaxCommitDistance > 1000 {
			bad("max_commit_distance", fmt.Sprintf("%d is not between 0 and 1000", *f.MaxCommitDistance), "")
		}
		rules.MaxCommitDistance = Value[int]{*f.MaxCommitDistance, src}
		mark("max_commit_distance")
	}
	if f.Runner != nil {
		if !oneOf(*f.Runner, "github-hosted", "any") {
			bad("runner", fmt.Sprintf("%q is not github-hosted or any", *f.Runner), "")
		}
		rules.Runner = Value[string]{*f.Runner, src}
		mark("runner")
	}
	if f.Require != nil {
		for _, x := range *f.Require {
			if !oneOf(x, RequireChecksums, RequireProvenance, RequireSBOM, RequireRelease) {
				bad("require", fmt.Sprintf("%q is not checksums, provenance, sbom or release", x), "")
			}
		}
		if !contains(*f.Require, RequireProvenance) {
			bad("require", "provenance cannot be dropped: it is what binds the asset to the repository", `require = ["provenance", ...]`)
		}
		rules.Require = Value[[]string]{*f.Require, src}
		mark("require")
	}
	if f.InstallFrom != nil {
		if !oneOf(*f.InstallFrom, "release", "git") {
			bad("install_from", fmt.Sprintf("%q is not release or git", *f.InstallFrom), "")
		}
		rules.InstallFrom = Value[string]{*f.InstallFrom, src}
		mark("install_from")
	}
	if f.AllowSdist != nil {
		rules.AllowSdist = Value[bool]{*f.AllowSdist, src}
		mark("allow_sdist")
	}
	if f.AllowSourceBuilds != nil {
		if set != nil {
			bad("allow_source_builds", "applies to the whole pip run, not to one repository", "set allow_source_builds at the top level")
		}
		rules.AllowSourceBuilds = Value[bool]{*f.AllowSourceBuilds, src}
		mark("allow_source_builds")
	}
	if f.Verify != nil {
		if !oneOf(*f.Verify, VerifyAttested, VerifyPin) {
			bad("verify", fmt.Sprintf("%q is not attested or pin", *f.Verify), "")
		}
		if set == nil && *f.Verify == VerifyPin {
			bad("verify", `"pin" is for one repository's table, never global`, `[[tool.pipguard.repo]] match = "OWNER/REPO" verify = "pin"`)
		}
		rules.Verify = Value[string]{*f.Verify, src}
		mark("verify")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest is the known key nearest to key within two edits, "" when none
// is that near.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes (keys
// are ASCII), giving up beyond 3.
func distance(a, b string) int {
	if len(a)-len(b) > 3 || len(b)-len(a) > 3 {
		return 4
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
