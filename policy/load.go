package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// fileRules is the TOML form of Rules: pointers, so that a key that is
// absent is told apart from one set to its zero value.
type fileRules struct {
	SignerWorkflow    *string   `toml:"signer_workflow"`
	SignerRepo        *string   `toml:"signer_repo"`
	SourceRefs        *[]string `toml:"source_refs"`
	MaxCommitDistance *int      `toml:"max_commit_distance"`
	Runner            *string   `toml:"runner"`
	Require           *[]string `toml:"require"`
	InstallFrom       *string   `toml:"install_from"`
	AllowSdist        *bool     `toml:"allow_sdist"`
	AllowSourceBuilds *bool     `toml:"allow_source_builds"`
	Verify            *string   `toml:"verify"`
}

type fileRepo struct {
	Match string `toml:"match"`
	fileRules
}

type fileTable struct {
	fileRules
	IndexPins    *string   `toml:"index_pins"`
	DepConflicts *string   `toml:"dependency_conflicts"`
	Indexes      *[]string `toml:"indexes"`
	AllowDirect  *[]string `toml:"allow_direct"`
	// AuditSeverity maps audit rule IDs to "info", "warning" or "error".
	AuditSeverity *map[string]string `toml:"audit_severity"`
	Repo          []fileRepo         `toml:"repo"`
}

// MaxFile bounds a policy file (a pyproject.toml is read whole).
const MaxFile = 4 << 20

// Find returns the policy file for dir: the nearest pyproject.toml upward
// from dir that has a [tool.pipguard] table, else pipguard.toml in dir; ""
// when there is none. The walk stops at the first pyproject.toml (the
// project's own, with or without the table) and at a repository's root
// (a directory holding .git), so a file in a parent directory the project
// does not own (a monorepo root, $HOME, /tmp) never decides its policy.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "pyproject.toml")
		if data, err := os.ReadFile(p); err == nil {
			if hasSection(data) {
				return p, nil
			}
			break
		}
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil || filepath.Dir(d) == d {
			break
		}
	}
	if p := filepath.Join(abs, "pipguard.toml"); fileExists(p) {
		return p, nil
	}
	return "", nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

var sectionRE = regexp.MustCompile(`(?m)^\s*\[\[?\s*tool\s*\.\s*pipguard\s*[\].]`)

func hasSection(data []byte) bool { return sectionRE.Match(data) }

// Load reads a policy file: [tool.pipguard] of a pyproject.toml, or a
// pipguard.toml whose keys are at the top level. Unknown keys, wrong types,
// invalid values, duplicate repository tables and contradictions are
// errors naming the key, the file and the line.
func Load(path string) (*Policy, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o002 != 0 {
		return nil, &Error{Where: path, Msg: "anyone on this machine can write it, so it cannot decide what is trusted", Fix: "chmod o-w " + path}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Where: path, Msg: err.Error(), Fix: "pass --policy with a readable file"}
	}
	if len(data) > MaxFile {
		return nil, &Error{Where: path, Msg: fmt.Sprintf("larger than %d MiB", MaxFile>>20)}
	}
	return Parse(path, data)
}

// Parse is Load on bytes; name says where they came from (a pyproject.toml
// by its base name).
func Parse(name string, data []byte) (*Policy, error) {
	pyproject := filepath.Base(name) == "pyproject.toml"
	var t *fileTable
	var err error
	prefix := ""
	if pyproject {
		var doc struct {
			Tool struct {
				Pipguard *fileTable `toml:"pipguard"`
			} `toml:"tool"`
		}
		err = toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&doc)
		t, prefix = doc.Tool.Pipguard, "tool.pipguard"
	} else {
		t = &fileTable{}
		err = toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(t)
	}
	if err := decodeError(name, prefix, err); err != nil {
		return nil, err
	}
	p := Default()
	p.File = name
	if t == nil {
		return p, nil // a pyproject.toml without [tool.pipguard]
	}
	section := "[tool.pipguard]"
	if !pyproject {
		section = "top level"
	}
	lines := tableLines(data, prefix)
	var errs []error
	src := fmt.Sprintf("%s %s", name, section)
	from := func(string) string { return src }
	if err := setRules(&p.Global, &t.fileRules, name, src, nil); err != nil {
		errs = append(errs, err...)
	}
	if t.IndexPins != nil {
		if !oneOf(*t.IndexPins, "require", "warn", "off") {
			errs = append(errs, &Error{Where: name, Key: "index_pins", Msg: fmt.Sprintf("%q is not require, warn or off", *t.IndexPins)})
		}
		p.IndexPins = Value[string]{*t.IndexPins, from("index_pins")}
	}
	if t.DepConflicts != nil {
		if !oneOf(*t.DepConflicts, "warn", "error") {
			errs = append(errs, &Error{Where: name, Key: "dependency_conflicts", Msg: fmt.Sprintf("%q is not warn or error", *t.DepConflicts)})
		}
		p.DependencyConflicts = Value[string]{*t.DepConflicts, from("dependency_conflicts")}
	}
	if t.Indexes != nil {
		p.Indexes = Value[[]string]{*t.Indexes, from("indexes")}
	}
	if t.AllowDirect != nil {
		p.AllowDirect = Value[[]string]{*t.AllowDirect, from("allow_direct")}
	}
	if t.AuditSeverity != nil {
		for rule, sev := range *t.AuditSeverity {
			if !oneOf(sev, "info", "warning", "error") {
				errs = append(errs, &Error{Where: name, Key: "audit_severity." + rule, Msg: fmt.Sprintf("%q is not info, warning or error", sev)})
			}
		}
		p.AuditSeverity = Value[map[string]string]{*t.AuditSeverity, from("audit_severity")}
	}
	seen := map[string]string{}
	for i, r := range t.Repo {
		where := fmt.Sprintf("%s [[%s.repo]] #%d", name, strings.TrimPrefix(prefix+".", "."), i+1)
		if i < len(lines) {
			where = fmt.Sprintf("%s:%d", name, lines[i])
		}
		where = strings.Replace(where, "[[.repo]]", "[[repo]]", 1)
		if !validMatch(r.Match) {
			errs = append(errs, &Error{Where: where, Key: "match", Msg: fmt.Sprintf("%q is not OWNER/REPO, OWNER/* or HOST/OWNER/REPO (a host without its port)", r.Match),
				Fix: `match = "Raze-Systems/fastapi-paseto"`})
			continue
		}
		key := strings.ToLower(r.Match)
		if prev, dup := seen[key]; dup {
			errs = append(errs, &Error{Where: where, Key: "match", Msg: fmt.Sprintf("a second table for %q (the first is at %s)", r.Match, prev),
				Fix: "merge the two tables"})
			continue
		}
		seen[key] = where
		rr := RepoRules{Match: r.Match, Where: where, Rules: Defaults(), set: map[string]bool{}}
		if err := setRules(&rr.Rules, &r.fileRules, where, fmt.Sprintf("repo %q (%s)", r.Match, where), rr.set); err != nil {
			errs = append(errs, err...)
		}
		p.Repos = append(p.Repos, rr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeError turns go-toml's errors into ones naming key, file and line;
// keys outside prefix (other tools' tables in a pyproject.toml) are not
// pipguard's to judge.
func decodeError(name, prefix string, err error) error {
	if err == nil {
		return nil
	}
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		var errs []error
		for _, e := range sm.Errors {
			key := strings.Join(e.Key(), ".")
			if prefix != "" && key != prefix && !strings.HasPrefix(key, prefix+".") {
				continue
			}
			row, _ := e.Position()
			errs = append(errs, &Error{Where: fmt.Sprintf("%s:%d", name, row), Key: key, Msg: "unknown key",
				Fix: "see the README's Policy section for the keys; a misspelt key must not weaken a policy silently"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		msg := de.Error()
		if i := strings.Index(msg, "cannot decode TOML "); i >= 0 {
			msg = "wrong type: " + typeWords(msg[i+len("cannot decode TOML "):])
		}
		return &Error{Where: fmt.Sprintf("%s:%d", name, row), Key: strings.Join(de.Key(), "."), Msg: msg}
	}
	return &Error{Where: name, Msg: err.Error()}
}

var goTypeRE = regexp.MustCompile(`into struct field \S+ of type (\S+)`)

// typeWords says go-toml's "integer into struct field x.y of type string"
// in the policy's words: "an integer where a string belongs".
func typeWords(s string) string {
	got, rest, _ := strings.Cut(s, " ")
	want := "another type"
	if m := goTypeRE.FindStringSubmatch(rest); m != nil {
		want = map[string]string{"string": "a string", "int": "an integer", "bool": "true or false", "[]string": "a list of strings"}[strings.TrimPrefix(m[1], "*")]
		if want == "" {
			want = m[1]
		}
	}
	return fmt.Sprintf("a TOML %s where %s belongs", got, want)
}

var tableRE = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_."-]+?)\s*\]\]`)

// tableLines are the 1-based lines of the [[PREFIX.repo]] headers.
func tableLines(data []byte, prefix string) []int {
	want := strings.TrimPrefix(prefix+".repo", ".")
	var out []int
	for i, l := range strings.Split(string(data), "\n") {
		m := tableRE.FindStringSubmatch(l)
		if m != nil && strings.ReplaceAll(strings.ReplaceAll(m[1], " ", ""), `"`, "") == want {
			out = append(out, i+1)
		}
	}
	return out
}

// matchRE: OWNER/REPO, OWNER/*, or HOST/OWNER/REPO with the host's name
// only (a repository's key never has a port).
var matchRE = regexp.MustCompile(`^([A-Za-z0-9.-]+/)?[A-Za-z0-9_.-]+/([A-Za-z0-9_.-]+|\*)$`)

func validMatch(m string) bool { return matchRE.MatchString(m) }

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// setRules copies the keys present in f into r, validating each value.
// where is the file (and line) for errors; src is what each value says it
// came from.
func setRules(r *Rules, f *fileRules, where, src string, set map[string]bool) []error {
	var errs []error
	bad := func(key, msg, fix string) {
		errs = append(errs, &Error{Where: where, Key: key, Msg: msg, Fix: fix})
	}
	from := func(string) string { return src }
	mark := func(k string) {
		if set != nil {
			set[k] = true
		}
	}
	if f.SignerWorkflow != nil {
		r.SignerWorkflow = Value[string]{*f.SignerWorkflow, from("signer_workflow")}
		mark("signer_workflow")
	}
	if f.SignerRepo != nil {
		if !validMatch(*f.SignerRepo) || strings.Contains(*f.SignerRepo, "*") {
			bad("signer_repo", fmt.Sprintf("%q is not OWNER/REPO", *f.SignerRepo), "")
		}
		r.SignerRepo = Value[string]{*f.SignerRepo, from("signer_repo")}
		mark("signer_repo")
	}
	if f.SourceRefs != nil {
		for _, ref := range *f.SourceRefs {
			if !strings.HasPrefix(ref, "refs/") {
				bad("source_refs", fmt.Sprintf("%q is not a full ref (refs/tags/..., refs/heads/...)", ref), `source_refs = ["refs/tags/*", "refs/heads/main"]`)
			}
		}
		r.SourceRefs = Value[[]string]{*f.SourceRefs, from("source_refs")}
		mark("source_refs")
	}
	if f.MaxCommitDistance != nil {
		if *f.MaxCommitDistance < 0 || *f.MaxCommitDistance > 1000 {
			bad("max_commit_distance", fmt.Sprintf("%d is not between 0 and 1000", *f.MaxCommitDistance), "")
		}
		r.MaxCommitDistance = Value[int]{*f.MaxCommitDistance, from("max_commit_distance")}
		mark("max_commit_distance")
	}
	if f.Runner != nil {
		if !oneOf(*f.Runner, "github-hosted", "any") {
			bad("runner", fmt.Sprintf("%q is not github-hosted or any", *f.Runner), "")
		}
		r.Runner = Value[string]{*f.Runner, from("runner")}
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
		r.Require = Value[[]string]{*f.Require, from("require")}
		mark("require")
	}
	if f.InstallFrom != nil {
		if !oneOf(*f.InstallFrom, "release", "git") {
			bad("install_from", fmt.Sprintf("%q is not release or git", *f.InstallFrom), "")
		}
		r.InstallFrom = Value[string]{*f.InstallFrom, from("install_from")}
		mark("install_from")
	}
	if f.AllowSdist != nil {
		r.AllowSdist = Value[bool]{*f.AllowSdist, from("allow_sdist")}
		mark("allow_sdist")
	}
	if f.AllowSourceBuilds != nil {
		if set != nil {
			bad("allow_source_builds", "applies to the whole pip run, not to one repository", "set allow_source_builds at the top level")
		}
		r.AllowSourceBuilds = Value[bool]{*f.AllowSourceBuilds, from("allow_source_builds")}
		mark("allow_source_builds")
	}
	if f.Verify != nil {
		if !oneOf(*f.Verify, VerifyAttested, VerifyPin) {
			bad("verify", fmt.Sprintf("%q is not attested or pin", *f.Verify), "")
		}
		if set == nil && *f.Verify == VerifyPin {
			bad("verify", `"pin" is for one repository's table, never global`, `[[tool.pipguard.repo]] match = "OWNER/REPO" verify = "pin"`)
		}
		r.Verify = Value[string]{*f.Verify, from("verify")}
		mark("verify")
	}
	return errs
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
