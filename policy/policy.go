package policy

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Requirement names in the "require" key.
const (
	RequireChecksums  = "checksums"
	RequireProvenance = "provenance"
	RequireSBOM       = "sbom"
	RequireRelease    = "release"
)

// Verify modes.
const (
	// VerifyAttested verifies the repository's attested GitHub release.
	VerifyAttested = "attested"
	// VerifyPin resolves the ref (refusing mutable ones), installs the
	// repository at that full commit and audits commit_id: pinned, not
	// verified. Never a default.
	VerifyPin = "pin"
)

// Value is one policy value and where it came from: "default", a flag
// ("flag --require-sbom"), the file's global keys
// ("pyproject.toml [tool.pipguard]") or a repository table
// (`repo "Raze-Systems/fastapi-paseto" (pyproject.toml:12)`).
type Value[T any] struct {
	V    T      `json:"value"`
	From string `json:"from"`
}

// Rule names the rule that set the value, for reports:
// `repo "Raze-Systems/fastapi-paseto" (pyproject.toml:12): max_commit_distance = 1`,
// "default", "flag --require-sbom".
func (v Value[T]) Rule(key string) string {
	if v.From == "default" || strings.HasPrefix(v.From, "flag ") {
		return v.From
	}
	return fmt.Sprintf("%s: %s = %s", v.From, key, tomlValue(v.V))
}

func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func def[T any](v T) Value[T] { return Value[T]{V: v, From: "default"} }

// Rules are the settings that can differ per repository.
type Rules struct {
	SignerWorkflow    Value[string]   `json:"signer_workflow"`
	SignerRepo        Value[string]   `json:"signer_repo"`
	SourceRefs        Value[[]string] `json:"source_refs"`
	MaxCommitDistance Value[int]      `json:"max_commit_distance"`
	Runner            Value[string]   `json:"runner"`
	Require           Value[[]string] `json:"require"`
	InstallFrom       Value[string]   `json:"install_from"`
	AllowSdist        Value[bool]     `json:"allow_sdist"`
	AllowSourceBuilds Value[bool]     `json:"allow_source_builds"`
	Verify            Value[string]   `json:"verify"`
}

// Defaults are pipguard's secure defaults: provenance required (checksums,
// SBOM and the release attestation verified when present, and the release
// attestation required for an immutable release), built from the tag's own
// ref and commit, any runner, the attested wheel, no sdist, no source builds.
func Defaults() Rules {
	return Rules{
		SignerWorkflow:    def(""),
		SignerRepo:        def(""),
		SourceRefs:        def([]string{}),
		MaxCommitDistance: def(0),
		Runner:            def("any"),
		Require:           def([]string{RequireProvenance}),
		InstallFrom:       def("release"),
		AllowSdist:        def(false),
		AllowSourceBuilds: def(false),
		Verify:            def(VerifyAttested),
	}
}

// RepoRules are the rules of one [[tool.pipguard.repo]] table.
type RepoRules struct {
	// Match is OWNER/REPO or OWNER/* on the GitHub host, HOST/PATH (any
	// depth: GitLab's subgroups) or file:///ABS/PATH elsewhere, the last
	// segment possibly "*" (see match.go).
	Match string `json:"match"`
	// Where is the table's location in its file.
	Where string `json:"where"`
	Rules
	set map[string]bool
}

// Policy is the effective policy: global rules, per-repository tables,
// and the rules for everything else pip installs.
type Policy struct {
	// File is where the policy was read from ("" for defaults only).
	File   string      `json:"file,omitempty"`
	Global Rules       `json:"global"`
	Repos  []RepoRules `json:"repos"`
	// IndexPins says whether index requirements must be ==-pinned:
	// "require", "warn" or "off".
	IndexPins Value[string] `json:"index_pins"`
	// Indexes, when set, are the only --index-url, --extra-index-url and
	// --find-links values allowed (dependency confusion).
	Indexes Value[[]string] `json:"indexes"`
	// AllowDirect are the direct-URL or VCS dependencies pip may install
	// unverified: OWNER/REPO (or OWNER/*) on the GitHub host, or URL
	// prefixes.
	AllowDirect Value[[]string] `json:"allow_direct"`
	// DependencyConflicts says what a locked install that leaves the
	// environment's dependency metadata inconsistent (as pip check sees
	// it) gets: "warn" (reported, the install stays) or "error" (the
	// install fails and is rolled back).
	DependencyConflicts Value[string] `json:"dependency_conflicts"`
	// IndexAttestations says what index files' PEP 740 provenance does:
	// "verify" (the default: a file whose index publishes provenance must
	// verify), "require" (a file without provenance is refused too) or
	// "off".
	IndexAttestations Value[string] `json:"index_attestations"`
	// IndexRules are the [[index]] tables: per project, the publisher
	// its files must be attested by, and whether provenance is required.
	IndexRules []IndexRule `json:"index"`
	// AuditSeverity overrides pipguard audit's severity per rule ID.
	AuditSeverity Value[map[string]string] `json:"audit_severity"`

	flags *Flags
}

// Default is the policy with no file and no flags.
func Default() *Policy {
	return &Policy{Global: Defaults(), Repos: []RepoRules{}, IndexPins: def("warn"), DependencyConflicts: def("warn"), IndexAttestations: def("verify"), IndexRules: []IndexRule{}, Indexes: def([]string(nil)), AllowDirect: def([]string{}),
		AuditSeverity: def(map[string]string{})}
}

// Effective is the policy for one repository: the global rules with the
// matching repository table's on top.
type Effective struct {
	Repo string `json:"repo"`
	// Table is the matching table's Match ("" when none matched).
	Table string `json:"table,omitempty"`
	Rules
}

// For returns the rules for repo, named as requirement.VCSURL.Repo names
// it (OWNER/REPO on the GitHub host, HOST/PATH off it, /ABS/PATH for a
// git+file:// repository): the global rules, then every matching pattern
// table (OWNER/*), then the exact table, each setting only the keys it names, and
// the flags last. Table names the exact table, else the last pattern.
func (p *Policy) For(repo string) Effective {
	e := Effective{Repo: repo, Rules: p.Global}
	var exact *RepoRules
	for i := range p.Repos {
		r := &p.Repos[i]
		if !matchRepo(r.Match, repo) {
			continue
		}
		if !strings.Contains(r.Match, "*") {
			exact = r
			continue
		}
		e.Table = r.Match
		overlay(&e.Rules, r)
	}
	if exact != nil {
		e.Table = exact.Match
		overlay(&e.Rules, exact)
	}
	p.flags.apply(&e.Rules)
	return e
}

// overlay sets in rules every key the table sets.
func overlay(rules *Rules, t *RepoRules) {
	if t.set["signer_workflow"] {
		rules.SignerWorkflow = t.SignerWorkflow
	}
	if t.set["signer_repo"] {
		rules.SignerRepo = t.SignerRepo
	}
	if t.set["source_refs"] {
		rules.SourceRefs = t.SourceRefs
	}
	if t.set["max_commit_distance"] {
		rules.MaxCommitDistance = t.MaxCommitDistance
	}
	if t.set["runner"] {
		rules.Runner = t.Runner
	}
	if t.set["require"] {
		rules.Require = t.Require
	}
	if t.set["install_from"] {
		rules.InstallFrom = t.InstallFrom
	}
	if t.set["allow_sdist"] {
		rules.AllowSdist = t.AllowSdist
	}
	if t.set["allow_source_builds"] {
		rules.AllowSourceBuilds = t.AllowSourceBuilds
	}
	if t.set["verify"] {
		rules.Verify = t.Verify
	}
}

// Requires says whether the rules require what ("sbom", ...).
func (r Rules) Requires(what string) bool {
	for _, x := range r.Require.V {
		if x == what {
			return true
		}
	}
	return false
}

// SourceRefAllowed says whether a provenance's source ref is accepted for
// tag: the tag's own ref by default, else any of source_refs (globs).
func (r Rules) SourceRefAllowed(ref, tag string) bool {
	if len(r.SourceRefs.V) == 0 {
		return ref == "refs/tags/"+tag
	}
	for _, p := range r.SourceRefs.V {
		if ok, err := path.Match(p, ref); err == nil && ok {
			return true
		}
	}
	return false
}

// Flags are command-line settings; each one set overrides the file for
// every repository.
type Flags struct {
	SignerWorkflow, SignerRepo *string
	SourceRefs                 []string
	MaxCommitDistance          *int
	DenySelfHosted             *bool
	RequireSBOM                *bool
	RequireRelease             *bool
	InstallFrom                *string
	AllowSdist                 *bool
	AllowSourceBuilds          *bool
}

// WithFlags returns the policy with the flags on top of the defaults, the
// file's global keys and every repository table, each value naming its
// flag.
func (p *Policy) WithFlags(f Flags) (*Policy, error) {
	q := *p
	q.flags = &f
	f.apply(&q.Global)
	if err := q.check(); err != nil {
		return nil, err
	}
	return &q, nil
}

func (f *Flags) apply(r *Rules) {
	if f == nil {
		return
	}
	if f.SignerWorkflow != nil {
		r.SignerWorkflow = Value[string]{*f.SignerWorkflow, "flag --signer-workflow"}
	}
	if f.SignerRepo != nil {
		r.SignerRepo = Value[string]{*f.SignerRepo, "flag --signer-repo"}
	}
	if f.SourceRefs != nil {
		r.SourceRefs = Value[[]string]{f.SourceRefs, "flag --source-ref"}
	}
	if f.MaxCommitDistance != nil {
		r.MaxCommitDistance = Value[int]{*f.MaxCommitDistance, "flag --max-commit-distance"}
	}
	if f.DenySelfHosted != nil && *f.DenySelfHosted {
		r.Runner = Value[string]{"github-hosted", "flag --deny-self-hosted-runners"}
	}
	if f.RequireSBOM != nil && *f.RequireSBOM && !r.Requires(RequireSBOM) {
		r.Require = Value[[]string]{append(append([]string{}, r.Require.V...), RequireSBOM), "flag --require-sbom"}
	}
	if f.RequireRelease != nil && *f.RequireRelease && !r.Requires(RequireRelease) {
		r.Require = Value[[]string]{append(append([]string{}, r.Require.V...), RequireRelease), "flag --require-release-attestation"}
	}
	if f.InstallFrom != nil {
		r.InstallFrom = Value[string]{*f.InstallFrom, "flag --from"}
	}
	if f.AllowSdist != nil && *f.AllowSdist {
		r.AllowSdist = Value[bool]{true, "flag --allow-sdist"}
	}
	if f.AllowSourceBuilds != nil && *f.AllowSourceBuilds {
		r.AllowSourceBuilds = Value[bool]{true, "flag --allow-source-builds"}
	}
}

// Error is a policy that cannot be used as written: the key, where it is,
// and why.
type Error struct {
	Where string
	Key   string
	Msg   string
	Fix   string

	line int // for the file's order
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.Where, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Where, e.Key, e.Msg)
}

// Hint says what to do.
func (e *Error) Hint() string { return e.Fix }

// check refuses contradictions: a typo or a combination must never weaken
// a policy silently.
func (p *Policy) check() error {
	var errs []string
	checkRules := func(where string, r Rules) {
		if r.InstallFrom.V == "git" && r.MaxCommitDistance.V > 0 && r.Verify.V == VerifyAttested {
			errs = append(errs, fmt.Sprintf("%s: install_from = \"git\" (%s) with max_commit_distance = %d (%s) would install the tag's commit, which no attestation covers",
				where, r.InstallFrom.From, r.MaxCommitDistance.V, r.MaxCommitDistance.From))
		}
	}
	checkRules("global", p.Global)
	for _, t := range p.Repos {
		e := p.For(t.Match)
		checkRules(fmt.Sprintf("repo %q (%s)", t.Match, t.Where), e.Rules)
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return &Error{Where: p.where(), Msg: strings.Join(errs, "; "), Fix: "install the attested wheel (install_from = \"release\"), or set max_commit_distance = 0"}
	}
	return nil
}

func (p *Policy) where() string {
	if p.File == "" {
		return "policy"
	}
	return p.File
}
