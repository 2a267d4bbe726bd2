// Package lint is pipguard check: a static reading of requirements files
// (as pip reads them, nested -r and -c files included, through package
// reqfile) and of pyproject.toml dependencies ([project] dependencies and
// optional-dependencies) that reports, each at its file, line and column,
// what pipguard install would refuse or warn about and what can be told
// from the text alone: git requirements with no ref, a ref that is a
// branch by name or does not look like a tag, a short SHA, plain
// git+http://, a git host the policy does not allow, a direct URL outside
// allow_direct (a local archive such as pkg-1.0-py3-none-any.whl
// included), editable installs, index requirements not pinned with ==
// (index_pins), package sources outside indexes, and package sources over
// plain http or --trusted-host (reqfile.Entry.Insecure). A PEP 751 lock
// file (pylock.toml, pylock.NAME.toml) is read by package pylock: what
// pylock.Read refuses (required keys and types, one source kind per
// package, normalised names, a checkable hash on every file, no plain http,
// no credentials in a URL), each at its key; index packages without
// attestation identities; and what a valid lock lacks (pylock.Lock.Notes),
// as info. From the policy itself: [[index]] tables that can never match
// (policy.Policy.UnmatchableIndexTables), and, as info, each index line a
// require rule refuses at install when its index publishes no PEP 740
// provenance.
//
// What it trusts: the policy it is given, nothing it reads. It never
// touches the network: whether a tag-like ref is really a tag, and not
// also a branch, is for pipguard install (or resolve) to find out by
// listing the repository. It never prints.
package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/policy"
)

// Severity is a finding's severity, as pipguard audit's.
type Severity = envaudit.Severity

// Rule is one kind of finding.
type Rule struct {
	ID          string   `json:"id"`
	Severity    Severity `json:"severity"`
	Description string   `json:"description"`
	Hint        string   `json:"hint"`
}

// Rule IDs.
const (
	RuleNoRef          = "vcs-no-ref"
	RuleBranchRef      = "vcs-branch-ref"
	RuleRefNotTag      = "vcs-ref-not-tag"
	RuleShortSHA       = "vcs-short-sha"
	RulePlainHTTP      = "vcs-plain-http"
	RuleHostNotAllowed = "vcs-host-not-allowed"
	RuleDirectURL      = "direct-url-not-allowed"
	RuleEditable       = "editable"
	RuleUnpinned       = "index-unpinned"
	RuleIndex          = "index-not-allowed"
	RuleInsecureSource = "index-insecure"
	// The policy's [[index]] tables, and what they ask of index lines.
	RuleIndexTableNeverMatches = "index-table-never-matches"
	RuleProvenanceRequired     = "index-provenance-required"

	// A PEP 751 lock file's (pylock.toml): what pylock.Read refuses.
	RulePylockInvalid    = "pylock-invalid"
	RulePylockSource     = "pylock-source"
	RulePylockName       = "pylock-name"
	RulePylockHash       = "pylock-hash"
	RulePylockHTTP       = "pylock-http"
	RulePylockCredential = "pylock-credential"
	// What the policy asks of a lock.
	RulePylockUnattested = "pylock-unattested"
	// What a valid lock lacks or says (pylock.Lock.Notes), as info.
	RulePylockNoEnvironments   = "pylock-no-environments"
	RulePylockNoRequiresPython = "pylock-no-requires-python"
	RulePylockNoIdentities     = "pylock-no-identities"
	RulePylockNoSize           = "pylock-no-size"
	RulePylockUnknownKey       = "pylock-unknown-key"
	RulePylockNewerVersion     = "pylock-newer-version"
	RulePylockNote             = "pylock-note"
)

// Rules are every rule check applies, by ID. index-unpinned's severity
// comes from the policy's index_pins ("require": error, "warn": warning,
// "off": not reported).
var Rules = map[string]Rule{
	RuleNoRef:                  {RuleNoRef, envaudit.Error, "a git requirement without a ref: pip installs whatever the default branch points at when it runs", "pin a tag or a full commit, e.g. @v1.2.3"},
	RuleBranchRef:              {RuleBranchRef, envaudit.Error, "a git ref that is a branch by name: it moves with every push", "pin a tag or a full commit, e.g. @v1.2.3"},
	RuleRefNotTag:              {RuleRefNotTag, envaudit.Error, "a git ref that looks like neither a release tag (it has no version number, or is another kind of ref) nor a full commit", "pin a tag or a full commit; write a tag without a digit as @refs/tags/NAME"},
	RuleShortSHA:               {RuleShortSHA, envaudit.Error, "a short commit SHA: it can become ambiguous, and pip fetches it as a name", "write the full 40-character commit SHA; write a tag that looks like hex as @refs/tags/NAME"},
	RulePlainHTTP:              {RulePlainHTTP, envaudit.Error, "git over plain http: anyone on the path can change what is fetched", "use git+https:// (or git+ssh://)"},
	RuleHostNotAllowed:         {RuleHostNotAllowed, envaudit.Error, "a git repository off the GitHub host that no policy table pins: pipguard install refuses it", `point it at the GitHub repository, or add [[tool.pipguard.repo]] match = "HOST/OWNER/REPO" verify = "pin" to the policy`},
	RuleDirectURL:              {RuleDirectURL, envaudit.Error, "a direct URL the policy's allow_direct does not list: pipguard install refuses it", "install a verified release instead, or list the URL in the policy's allow_direct"},
	RuleEditable:               {RuleEditable, envaudit.Error, "an editable install: a mutable local checkout, which cannot be verified", "install a tagged release instead"},
	RuleUnpinned:               {RuleUnpinned, envaudit.Warning, "an index requirement not pinned with ==: the next run may resolve another version", "pin it as name==version"},
	RuleInsecureSource:         {RuleInsecureSource, envaudit.Warning, "a package source over plain http, or a --trusted-host: pip fetches from it without TLS verification", "use https, and drop --trusted-host"},
	RuleIndexTableNeverMatches: {RuleIndexTableNeverMatches, envaudit.Error, "a [[tool.pipguard.index]] table no project's index files can ever be judged by: its match is not a normalised project name (nor a pattern any fits), or an earlier pattern matches everything it matches", "write the project's normalised name (lower case, runs of -_. as one -) or a pattern with *, before any broader pattern; or remove the table"},
	RuleProvenanceRequired:     {RuleProvenanceRequired, envaudit.Info, "an index requirement whose files the policy requires PEP 740 provenance for (index_attestations = \"require\", or an [[index]] table with require or a publisher): pipguard install refuses it if its index publishes none (check cannot tell offline whether it does)", "make sure its index publishes PEP 740 provenance for it (PyPI does for Trusted Publishing uploads), or relax the rule that requires it"},
	RuleIndex:                  {RuleIndex, envaudit.Error, "a package source (--index-url, --extra-index-url, --find-links) the policy's indexes do not list: an extra index can serve any name", "name only the package sources in the policy's indexes"},

	RulePylockInvalid:    {RulePylockInvalid, envaudit.Error, "a lock file PEP 751 does not allow: not TOML, a required key missing, a value of the wrong type, an invalid version, marker or specifier, an unsupported lock-version, a file name that disagrees with its package", "fix the lock, or lock again (pipguard lock)"},
	RulePylockSource:     {RulePylockSource, envaudit.Error, "a locked package with no source, or with more than one kind (sdist/wheels and a vcs, directory or archive; or two of those): an installer cannot tell what to install", "give each package exactly one kind of source, or lock again"},
	RulePylockName:       {RulePylockName, envaudit.Error, "a package name or an extra not in its normal form (PEP 503), as PEP 751 requires", "write the name lower case, with runs of -, _ and . as one -"},
	RulePylockHash:       {RulePylockHash, envaudit.Error, "a locked file without a hash pipguard can check (sha256, sha384 or sha512), or a digest that is not one: its bytes could be anything", "record each file's sha256, or lock again"},
	RulePylockHTTP:       {RulePylockHTTP, envaudit.Error, "a URL over plain http in the lock: anyone on the path can change the bytes", "use https"},
	RulePylockCredential: {RulePylockCredential, envaudit.Error, "a URL in the lock that carries a credential (user information, a token as the user, a credential query parameter): the lock publishes the secret", "remove the credential from the lock, give it to pip by keyring or netrc, and revoke it: it has been committed"},
	RulePylockUnattested: {RulePylockUnattested, envaudit.Warning, "an index package that records no attestation identities: its provenance cannot be checked against the lock", "lock it with pipguard lock, which records the publisher identities it verified"},

	RulePylockNoEnvironments:   {RulePylockNoEnvironments, envaudit.Info, "the lock does not say which environments it is for", "lock with an environments marker (pipguard lock records the interpreter's)"},
	RulePylockNoRequiresPython: {RulePylockNoRequiresPython, envaudit.Info, "the lock does not say which Python versions it is for", "lock with requires-python"},
	RulePylockNoIdentities:     {RulePylockNoIdentities, envaudit.Info, "packages record no attestation identities: their provenance cannot be checked against the lock", "lock with pipguard lock, which records the publisher identities it verified"},
	RulePylockNoSize:           {RulePylockNoSize, envaudit.Info, "locked files record no size", "lock with a tool that records each file's size"},
	RulePylockUnknownKey:       {RulePylockUnknownKey, envaudit.Info, "a key PEP 751 does not define, ignored", "check the key's spelling; a newer lock-version may define it"},
	RulePylockNewerVersion:     {RulePylockNewerVersion, envaudit.Info, "a lock-version newer than 1.0: keys added since are ignored", "nothing, unless the lock relies on them"},
	RulePylockNote:             {RulePylockNote, envaudit.Info, "something else about the lock a reader should know", "see the message"},
}

// Finding is one rule broken at one place.
type Finding struct {
	File string `json:"file"`
	// Line and Column are 1-based; Column counts bytes and points at the
	// start of the offending text (the URL, the ref, the option's value,
	// the requirement).
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Hint     string   `json:"hint"`
	// Policy names the policy rule that decided, when one did.
	Policy string `json:"policy,omitempty"`
}

// Report is what check found.
type Report struct {
	Schema string `json:"schema"`
	// Files are the files named, as given.
	Files []string `json:"files"`
	// PolicyFile is the policy file applied ("" for the defaults).
	PolicyFile string `json:"policy_file"`
	// Requirements counts the requirements read, nested files included.
	Requirements int `json:"requirements"`
	// LockedPackages counts the packages of the lock files read.
	LockedPackages int       `json:"locked_packages"`
	Findings       []Finding `json:"findings"`
}

// Count says how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Options say what the files are judged against.
type Options struct {
	// Policy is the effective policy (index_pins, indexes, allow_direct,
	// repository tables with verify = "pin"); nil is the defaults.
	Policy *policy.Policy
	// GitHubHost is the host verified releases come from (host[:port]);
	// empty is github.com.
	GitHubHost string
	// Dir, when set, is the directory paths are shown relative to (for
	// files inside it).
	Dir string
}

// Error is a file check cannot read: missing, or not valid TOML or
// requirements syntax (a requirements file's syntax errors are package
// reqfile's *reqfile.Error, which names the file and line too).
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
	Fix    string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Hint says what to do.
func (e *Error) Hint() string { return e.Fix }

// IsPyproject says whether check reads path as a pyproject.toml (any
// *.toml file but a lock file, see IsPylock) rather than as a requirements
// file.
func IsPyproject(path string) bool {
	return strings.EqualFold(filepath.Ext(path), ".toml") && !IsPylock(path)
}

// Check reads every file and reports what it finds. Files that cannot be
// read are errors, joined; the report holds the findings of the others.
// A file reached twice (two files including the same -r file) is reported
// once. Findings come in the order pip reads the lines.
func Check(paths []string, o Options) (*Report, error) {
	if o.Policy == nil {
		o.Policy = policy.Default()
	}
	if o.GitHubHost == "" {
		o.GitHubHost = "github.com"
	}
	c := &checker{o: o, lines: map[string][]string{}, seen: map[Finding]bool{}, counted: map[loc]bool{}}
	rep := &Report{Schema: "pipguard.check/v1", Files: append([]string{}, paths...), PolicyFile: o.Policy.File, Findings: []Finding{}}
	var errs []error
	for _, p := range paths {
		var err error
		switch {
		case IsPylock(p):
			err = c.pylock(p)
		case IsPyproject(p):
			err = c.pyproject(p)
		default:
			err = c.requirements(p)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	c.indexTables()
	rep.Requirements = c.requirementsRead
	rep.LockedPackages = c.locked
	// In the order pip reads them: a nested file's findings where it is
	// included.
	rep.Findings = append(rep.Findings, c.findings...)
	return rep, errors.Join(errs...)
}

type checker struct {
	o                Options
	lines            map[string][]string
	findings         []Finding
	seen             map[Finding]bool
	requirementsRead int
	locked           int
	// counted are the requirements counted, by file and line; files are
	// keyed by identity (fileKey).
	counted map[loc]bool
	keys    map[string]string
}

// count counts a requirement once, however many files include its file:
// a requirements file's by its line (one requirement a line), a
// pyproject.toml's by where its string starts (a list may hold several on
// one line).
func (c *checker) count(l loc) {
	l.file = c.fileKey(l.file)
	if !c.counted[l] {
		c.counted[l] = true
		c.requirementsRead++
	}
}

// fileKey names the file at path by what it is, not how a line spelled
// it: "sub/c.txt", "./sub/c.txt", "sub/../sub/c.txt" and a symlink to it
// are one file (the real absolute path; the cleaned absolute path when it
// cannot be resolved).
func (c *checker) fileKey(path string) string {
	if k, ok := c.keys[path]; ok {
		return k
	}
	k, err := filepath.Abs(path)
	if err == nil {
		if r, err := filepath.EvalSymlinks(k); err == nil {
			k = r
		}
	} else {
		k = filepath.Clean(path)
	}
	if c.keys == nil {
		c.keys = map[string]string{}
	}
	c.keys[path] = k
	return k
}

// show is path as it is reported: relative to Options.Dir when inside it.
func (c *checker) show(path string) string {
	if c.o.Dir == "" {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(c.o.Dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}

// loc is a place in a file.
type loc struct {
	file      string
	line, col int
}

// text is a requirement's text with a way back to where each byte of it
// is in its file.
type text struct {
	s  string
	at func(i int) loc
}

func (c *checker) add(l loc, rule, msg, pol string) {
	c.addSeverity(l, rule, Rules[rule].Severity, msg, pol)
}

// MaxMessage bounds a finding's message: a hostile line (megabytes long)
// is quoted by its start, never whole.
const MaxMessage = 1000

func (c *checker) addSeverity(l loc, rule string, sev Severity, msg, pol string) {
	if len(msg) > MaxMessage {
		cut := MaxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + fmt.Sprintf("… (%d more bytes)", len(msg)-cut)
	}
	f := Finding{File: c.show(l.file), Line: l.line, Column: l.col, Rule: rule, Severity: sev, Message: msg, Hint: Rules[rule].Hint, Policy: pol}
	if c.seen[f] {
		return
	}
	c.seen[f] = true
	c.findings = append(c.findings, f)
}

func missing(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &Error{File: path, Msg: "no such file", Fix: "name a requirements file or a pyproject.toml that exists"}
	}
	return &Error{File: path, Msg: err.Error()}
}

// requirements checks a requirements file and the files it includes.
func (c *checker) requirements(path string) error {
	if _, err := os.Stat(path); err != nil {
		return missing(path, err)
	}
	entries, err := reqfile.ParseFileOptions(path, reqfile.Options{Editable: true})
	if err != nil {
		var re *reqfile.Error
		if errors.As(err, &re) {
			re.File = c.show(re.File)
		}
		return err
	}
	for _, e := range entries {
		t, err := c.logical(e.File, e.Line)
		if err != nil {
			return err
		}
		c.entry(e, t)
	}
	return nil
}

// logical is the logical line starting at line (1-based) as written,
// continuation lines joined as pip joins them, with each byte's place.
func (c *checker) logical(file string, line int) (text, error) {
	lines, ok := c.lines[file]
	if !ok {
		// As pip decodes and splits it (package reqfile: one
		// implementation).
		var err error
		if lines, err = reqfile.PhysicalLines(file); err != nil {
			return text{}, missing(file, err)
		}
		c.lines[file] = lines
	}
	type seg struct{ start, line int }
	var b strings.Builder
	var segs []seg
	for n := line; n >= 1 && n <= len(lines); n++ {
		l := lines[n-1]
		segs = append(segs, seg{b.Len(), n})
		// As package reqfile joins lines (as pip does): a whole-line
		// comment ends the logical line, backslash or not.
		if reqfile.Continues(l) {
			b.WriteString(strings.Trim(l, `\`))
			continue
		}
		b.WriteString(l)
		break
	}
	s := b.String()
	return text{s: s, at: func(i int) loc {
		k := 0
		for j := range segs {
			if segs[j].start <= i {
				k = j
			}
		}
		return loc{file, segs[k].line, i - segs[k].start + 1}
	}}, nil
}

// firstNonSpace is the index of the first byte that is not a space or tab.
func firstNonSpace(s string, from int) int {
	for from < len(s) && (s[from] == ' ' || s[from] == '\t') {
		from++
	}
	return from
}

// optionValue is where an option line's value starts: after the name and
// "=" or blanks.
func optionValue(s string, start int, name string) int {
	i := start + len(name)
	if i < len(s) && s[i] == '=' {
		return i + 1
	}
	return firstNonSpace(s, i)
}

func (c *checker) entry(e reqfile.Entry, t text) {
	start := firstNonSpace(t.s, 0)
	switch {
	case e.Option != nil:
		// The option's value where it is written (abbreviated and glued
		// forms are read as pip reads them, so the name may differ).
		at := start
		if len(e.Option) == 2 {
			if i := strings.Index(t.s, e.Option[1]); i >= 0 {
				at = i
			}
		}
		if len(e.Option) == 2 && requirement.IsSourceOption(e.Option[0]) && !c.o.Policy.SourceAllowed(e.Option[1]) {
			c.add(t.at(at), RuleIndex,
				fmt.Sprintf("%s %s is not a package source the policy allows", e.Option[0], e.Option[1]), c.o.Policy.Indexes.Rule("indexes"))
		}
		if why := e.Insecure(); why != "" {
			c.add(t.at(at), RuleInsecureSource, why, "")
		}
	case e.Editable:
		c.count(t.at(start))
		c.add(t.at(start), RuleEditable, fmt.Sprintf("-e %s is an editable install: a mutable local checkout, which cannot be verified", e.ReqText), "")
		if e.Req != nil {
			name := t.s[start:]
			if n := strings.IndexAny(name, " \t="); n >= 0 {
				name = name[:n]
			}
			c.requirement(e.Req, t, optionValue(t.s, start, name), false)
		}
	case e.Req != nil:
		c.count(t.at(start))
		c.requirement(e.Req, t, start, e.Constraint)
	}
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// urlStart is where the URL of the requirement at t.s[start:] begins: at
// the start for a bare URL, else after "@" (a PEP 508 name and extras
// contain no "@").
func urlStart(s string, start int) int {
	if schemeRE.MatchString(s[start:]) {
		return start
	}
	if i := strings.IndexByte(s[start:], '@'); i >= 0 {
		return firstNonSpace(s, start+i+1)
	}
	return start
}

// requirement checks one parsed requirement whose text starts at
// t.s[start:].
func (c *checker) requirement(r *requirement.Requirement, t text, start int, constraint bool) {
	pol := c.o.Policy
	switch r.Kind {
	case requirement.KindIndex:
		if !constraint {
			c.provenanceRequired(r, t.at(start))
		}
		if constraint || requirement.IsPinned(r.Specifier) {
			return
		}
		what := r.Name
		if r.Specifier != "" {
			what += r.Specifier
		}
		msg := fmt.Sprintf("%s is not pinned with ==", what)
		switch pol.IndexPins.V {
		case "require":
			c.addSeverity(t.at(start), RuleUnpinned, envaudit.Error, msg, pol.IndexPins.Rule("index_pins"))
		case "warn":
			c.addSeverity(t.at(start), RuleUnpinned, envaudit.Warning, msg, pol.IndexPins.Rule("index_pins"))
		}
	case requirement.KindURL:
		u := urlStart(t.s, start)
		if !pol.DirectAllowed(c.o.GitHubHost, r.URL) {
			c.add(t.at(u), RuleDirectURL, fmt.Sprintf("%s is a direct URL that pipguard does not verify", r.URL), pol.AllowDirect.Rule("allow_direct"))
		}
	case requirement.KindPath:
		// A local archive (pkg-1.0-py3-none-any.whl, foo.tar.gz) or a
		// file: URL: pip installs it as a direct reference, which
		// pipguard install refuses unless allow_direct lists it.
		file := r.Path
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		fileURL := (&url.URL{Scheme: "file", Path: file}).String()
		if !pol.DirectAllowed(c.o.GitHubHost, fileURL) {
			c.add(t.at(urlStart(t.s, start)), RuleDirectURL, fmt.Sprintf("%s is a local file that pipguard does not verify (pip installs %s)", r.Path, fileURL), pol.AllowDirect.Rule("allow_direct"))
		}
	case requirement.KindVCS:
		c.vcs(r.VCS, t, urlStart(t.s, start))
	}
}

func (c *checker) vcs(v *requirement.VCSURL, t text, u int) {
	shown := v.RepoURL()
	if v.Scheme == "http" {
		c.add(t.at(u), RulePlainHTTP, fmt.Sprintf("git+%s is fetched over plain http", shown), "")
	}
	repo, onGitHub := v.Repo(c.o.GitHubHost)
	eff := c.o.Policy.For(repo)
	plainGitHub := v.Scheme == "http" && strings.EqualFold(v.Host, c.o.GitHubHost)
	if !onGitHub && eff.Verify.V != policy.VerifyPin && !plainGitHub {
		where := "not on " + c.o.GitHubHost
		if v.Scheme == "file" {
			where = "a local repository"
		}
		c.add(t.at(u), RuleHostNotAllowed, fmt.Sprintf("git+%s is %s, and no policy table pins %s", shown, where, repo), eff.Verify.Rule("verify"))
	}
	// The ref is the text after the URL's last "@", before any "#".
	end := u
	for end < len(t.s) && t.s[end] != ' ' && t.s[end] != '\t' {
		end++
	}
	url, _, _ := strings.Cut(t.s[u:end], "#")
	refAt := u + strings.LastIndexByte(url, '@') + 1
	ref := v.Ref
	switch gitref.StaticShape(ref) {
	case gitref.ShapeNone:
		c.add(t.at(u), RuleNoRef, fmt.Sprintf("git+%s has no ref: pip installs whatever the default branch points at when it runs", shown), "")
	case gitref.ShapeBranch:
		c.add(t.at(refAt), RuleBranchRef, fmt.Sprintf("ref %q is a branch by name: it moves with every push", ref), "")
	case gitref.ShapeNotTag:
		c.add(t.at(refAt), RuleRefNotTag, fmt.Sprintf("ref %q looks like neither a release tag nor a full commit SHA", ref), "")
	case gitref.ShapeShortSHA:
		c.add(t.at(refAt), RuleShortSHA, fmt.Sprintf("ref %q is a short commit SHA", ref), "")
	}
}

// indexTables reports the policy's [[index]] tables that can never match
// (policy.Policy.UnmatchableIndexTables says the rule), at the table in
// the policy file.
func (c *checker) indexTables() {
	for _, pr := range c.o.Policy.UnmatchableIndexTables() {
		file, line := pr.Table.Where, 0
		if i := strings.LastIndexByte(file, ':'); i >= 0 {
			if n, err := strconv.Atoi(file[i+1:]); err == nil {
				file, line = file[:i], n
			}
		}
		c.add(loc{file, line, 1}, RuleIndexTableNeverMatches, fmt.Sprintf("[[index]] match = %q can never match: %s", pr.Table.Match, pr.Why), "")
	}
}

// provenanceRequired reports an index requirement whose project the
// policy requires provenance for: statically, that the line exists; only
// the install can ask its index whether it publishes provenance.
func (c *checker) provenanceRequired(r *requirement.Requirement, at loc) {
	eff := c.o.Policy.ForProject(r.Name)
	if !eff.Require {
		return
	}
	what := "PEP 740 provenance"
	if eff.Publisher != nil {
		what += " attested by " + eff.Publisher.String()
	}
	c.add(at, RuleProvenanceRequired, fmt.Sprintf("%s is an index requirement whose files must have %s: pipguard install refuses it (exit 3) if its index publishes none", r.Name, what), eff.Rule)
}
