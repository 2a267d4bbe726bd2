// Package envaudit is pipguard audit: it reads every distribution installed
// in an environment's site-packages (METADATA name and version, INSTALLER,
// direct_url.json, pipguard's receipt) and reports what a pre-deploy check
// must not let through: VCS installs of a missing ref, archives without a
// hash, local and editable
// installs, hosts the policy does not allow, malformed direct_url.json,
// receipts that no longer match, direct-URL installs that no verified
// release vouches for, and index installs by the PEP 740 provenance state
// their receipts record, judged by the policy (Options.Index). Given a PEP 751 lock (Options.Lock), it also holds
// the environment to exactly the packages the lock selects for the audited
// interpreter (package pylock's Select): each installed at its locked
// version, from the locked file's bytes as far as direct_url.json and
// pipguard's receipt record them, and nothing else installed.
//
// What it trusts: nothing in the environment. It never runs the
// environment's Python (its code could lie), reads files with size limits,
// and judges direct_url.json with package pep610's strict parser.
package envaudit

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/pipguard/pipguard/installer/txn"
	"github.com/pipguard/pipguard/pep610"
)

// Severity orders findings.
type Severity string

const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Rank orders severities: info < warning < error.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// ParseSeverity reads a --fail-on value.
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case Info, Warning, Error:
		return Severity(s), nil
	}
	return "", fmt.Errorf("%q is not info, warning or error", s)
}

// Rule is one kind of finding.
type Rule struct {
	ID          string   `json:"id"`
	Severity    Severity `json:"severity"`
	Description string   `json:"description"`
	Hint        string   `json:"hint"`
}

// Rules are every rule the audit applies, by ID.
var Rules = map[string]Rule{
	"direct-url-invalid":      {"direct-url-invalid", Error, "direct_url.json breaks the Direct URL Data Structure specification (PEP 610)", "reinstall the distribution; something wrote a record pip would not"},
	"editable":                {"editable", Error, "an editable install: whatever is in that directory now runs", "install a pinned, verified release instead"},
	"local-directory":         {"local-directory", Warning, "installed from a local directory: nothing ties it to a release", "install a pinned, verified release instead"},
	"archive-no-hash":         {"archive-no-hash", Error, "an archive installed from a URL without a recorded hash", "install it with pipguard, or pin it with #sha256= or --hash"},
	"vcs-no-ref":              {"vcs-no-ref", Error, "a git install without a ref: pip installed whatever the default branch was", "pin a tag or a full commit and reinstall with pipguard"},
	"unverified-direct":       {"unverified-direct", Warning, "a direct-URL or VCS install that no pipguard receipt ties to a verified release", "install it with pipguard install, or allow it in the policy's allow_direct"},
	"host-not-allowed":        {"host-not-allowed", Warning, "installed from a host that is neither the GitHub host nor in the policy's allow_direct", "install from the GitHub host, or allow the URL in the policy's allow_direct"},
	"receipt-mismatch":        {"receipt-mismatch", Error, "pipguard's receipt no longer matches what is installed", "something changed the distribution after pipguard installed it: reinstall with pipguard and investigate"},
	"vcs-mutable-ref":         {"vcs-mutable-ref", Error, "a git install from a ref that is not immutable: a branch, a name that is both branch and tag, or a ref that is gone (--online)", "pin a tag or a full commit and reinstall with pipguard"},
	"tag-moved":               {"tag-moved", Error, "the tag installed now points at another commit (--online)", "find out why the tag moved before trusting either commit; reinstall with pipguard"},
	"release-changed":         {"release-changed", Error, "the release's asset changed or disappeared since it was installed (--online)", "find out why the release changed; reinstall with pipguard"},
	"legacy-install":          {"legacy-install", Warning, "a legacy install (.egg-info or .egg): no record of where it came from", "reinstall it with pip or pipguard, which record its origin"},
	"develop-install":         {"develop-install", Error, "a develop install (.egg-link): whatever is in that directory now runs", "install a pinned, verified release instead"},
	"receipt-unauthenticated": {"receipt-unauthenticated", Error, "a pipguard receipt that is not authenticated under the environment's receipt key: pipguard did not write it (a wheel can ship one), or it was changed", "reinstall the distribution with pipguard and investigate where the receipt came from"},
	"files-changed":           {"files-changed", Error, "an installed file differs from the hash its RECORD gives (sha256, sha384 or sha512), or is gone, or its RECORD row names a hash pipguard cannot check", "something changed the distribution after it was installed: reinstall it and investigate"},
	"pinned":                  {"pinned", Info, "pinned to a commit by policy (verify = \"pin\"), not verified", "prefer a project that publishes attested releases"},
	"not-rechecked":           {"not-rechecked", Info, "an origin --online does not ask: only the GitHub host and the repositories of verify = \"pin\" tables are asked (--online)", "to have it asked, name the repository in a [[repo]] table with verify = \"pin\" (after checking it yourself)"},
	"lock-missing":            {"lock-missing", Error, "a package the lock selects for this environment is not installed (--lock)", "install the lock: pipguard install pylock.toml"},
	"lock-version":            {"lock-version", Error, "a locked package is installed at another version than the lock's (--lock)", "install the lock again, or lock again if the new version is wanted"},
	"lock-hash":               {"lock-hash", Error, "a locked package was installed from other bytes than the lock's: its direct_url.json or pipguard's receipt records another hash (or commit, or kind of source) (--lock)", "reinstall it from the lock and find out where the other file came from"},
	"lock-extra":              {"lock-extra", Error, "a distribution the lock does not select for this environment is installed (--lock; pip, setuptools and wheel only when the lock names them)", "uninstall it, or lock it"},
	"unfinished-run":          {"unfinished-run", Error, "a pipguard run into this environment was killed before it finished: its stash of the files it replaced is still there", "run pipguard install into the environment again: it finishes restoring it first"},
	"library-written":         {"library-written", Error, "a distribution installed a file into the interpreter's own library directories (its standard library, lib-dynload, any sys.path entry of the interpreter's own; its RECORD lists it): every Python process imports it as the interpreter's, pipguard's pip driver included", "uninstall the distribution and restore the interpreter's files (reinstall Python); pipguard install refuses such a wheel"},
	"pth-executes":            {"pth-executes", Info, "a distribution installed a .pth file (its RECORD lists it, with the hash it has) holding a line Python runs at every start (\"import ...\"; setuptools' distutils-precedence.pth and editable finders are such)", "trust the distribution with code that runs whenever Python starts, or uninstall it"},
	"pth-unrecorded":          {"pth-unrecorded", Warning, "a .pth file no installed distribution's RECORD lists (with the hash it has) holds a line Python runs at every start (\"import ...\")", "find out what wrote it (an old easy-install.pth, a tool, an attacker) and remove it unless you trust the code it runs"},
	"customize-executes":      {"customize-executes", Info, "a distribution installed a sitecustomize or usercustomize module (its RECORD lists it, with the hash it has), which Python's site imports at every start", "trust the distribution with code that runs whenever Python starts, or uninstall it"},
	"customize-unrecorded":    {"customize-unrecorded", Warning, "a sitecustomize or usercustomize module no installed distribution's RECORD lists (with the hash it has) is on sys.path: Python's site imports it at every start", "find out what wrote it (a tool, an attacker) and remove it unless you trust the code it runs"},
	"installed-twice":         {"installed-twice", Warning, "a project installed more than once on sys.path: Python imports the copy that comes first, and no other copy counts as verified; an error when the copy Python does not import is one pipguard verified", "uninstall the copies that do not run (pip uninstall, with the --target or --user they were installed with), or the one that should not"},
	"pth-invalid":             {"pth-invalid", Error, "a .pth file Python cannot read (not UTF-8): Python fails to start", "remove or repair the .pth file"},
	"path-unread":             {"path-unread", Warning, "a .pth file puts a file (a zip or .egg) on sys.path: importlib.metadata reads the distributions in it, pipguard does not", "install the distributions it holds with pip into site-packages instead"},
	"metadata-invalid":        {"metadata-invalid", Error, "a .dist-info or .egg-info whose METADATA is missing, unreadable, or has no Name or Version: pip and importlib.metadata cannot name the distribution, but its files are installed", "reinstall the distribution, or remove its files and directory"},
	"metadata-name-mismatch":  {"metadata-name-mismatch", Error, "METADATA names another project than its .dist-info directory: pip calls the distribution by the directory's name, importlib.metadata by METADATA's", "reinstall the distribution and find out what wrote that METADATA"},
	"index-unattested":        {"index-unattested", Info, "an index install whose PEP 740 provenance did not verify when pipguard installed it (its index published none, or index_attestations = \"off\"), or, where the policy requires provenance, an index install with no pipguard receipt; an error where the policy requires provenance for the project (index_attestations = \"require\", or an [[index]] table with require or a publisher)", "install it from an index that publishes its PEP 740 provenance (PyPI does for Trusted Publishing uploads), with pipguard install"},
	"index-identity-mismatch": {"index-identity-mismatch", Error, "an index install whose receipt records a publisher identity other than the one the policy's [[index]] table now names", "find out which identity publishes the project; reinstall it with pipguard under the policy you mean"},
	"index-provenance-gone":   {"index-provenance-gone", Error, "the index no longer lists the installed file, or no longer publishes provenance for it that verifies (--online)", "find out why the index changed the file's provenance before trusting it; reinstall with pipguard"},
	"index-identity-changed":  {"index-identity-changed", Error, "the index's provenance for the installed file now names another publisher identity than the one pipguard verified at install (--online)", "find out why the publisher changed before trusting the file; reinstall with pipguard"},
	"trusted-root-from-env":   {"trusted-root-from-env", Warning, "verified against Sigstore trusted roots that only $PIPGUARD_TRUSTED_ROOT named, not Sigstore's TUF roots (its receipt records each file and its sha256)", "reinstall it without $PIPGUARD_TRUSTED_ROOT (or with --trusted-root, if those roots are meant) and find out who set the variable"},
	"lock-environment":        {"lock-environment", Error, "the lock is not for this environment: no environments marker matches, requires-python is unmet, or a package cannot be selected (--lock)", "audit with the lock made for this interpreter, or lock for it"},
}

// Finding is one rule broken by one distribution.
type Finding struct {
	Dist     string   `json:"distribution"`
	Version  string   `json:"version"`
	Path     string   `json:"path"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Hint     string   `json:"hint"`
}

// Options say what the environment is judged against.
type Options struct {
	// GitHubHost is the host verified releases come from.
	GitHubHost string
	// AllowDirect says whether an unverified direct reference is allowed
	// (the policy's allow_direct).
	AllowDirect func(rawURL string) bool
	// Online, when set, asks a receipt's origin again (--online) and
	// returns the rules it breaks now ("tag-moved", "release-changed")
	// with their messages.
	Online func(r *pep610.Receipt) ([][2]string, error)
	// OnlineRef, when set, says why a git install's requested ref is not
	// immutable ("" when it is), asking the repository (--online).
	OnlineRef func(repoURL, ref string) (string, error)
	// Severity overrides rules' severities (the policy's audit_severity).
	Severity map[string]Severity
	// Lock, when set, is the lock the environment must be exactly
	// (pipguard audit --lock): the lock-* rules.
	Lock *Lock
	// Base is the interpreter's own sys.path (pipguard audit --python:
	// sys.path under -I -S, without the script's directory): searched
	// before the site directories, as Python searches it; site reads no
	// .pth file in it.
	Base []string
	// Python is the interpreter's version ({3, 12}), whose site module
	// reads the .pth files; zero (pipguard audit --path) applies the rules
	// of every version (see pep610.SitePath).
	Python [2]int
	// Prefixes are the environments' sys.prefix, where the stashes of
	// unfinished runs are looked for (besides the environment each site
	// directory is in), and whose receipt key (PREFIX/.pipguard/receipt.key)
	// authenticates the receipts in the site directories below each; a site
	// directory below none takes its virtual environment's (the pyvenv.cfg
	// above it). A directory a .pth file adds has no key.
	Prefixes []string

	// sites are the audited site directories, as Audit reads them: the
	// ones inside the interpreter's own directories (a non-venv
	// interpreter's lib/pythonX.Y/site-packages) are the distributions'.
	sites []string
	// Index, when set, is what the policy asks of a project's index
	// files: index-unattested's severity, and the identity a receipt must
	// record (index-identity-mismatch).
	Index func(project string) IndexPolicy
}

// IndexPolicy is what the policy asks of one project's index files.
type IndexPolicy struct {
	// Require: the project's files must have provenance that verifies
	// (index_attestations = "require", or an [[index]] table).
	Require bool
	// Publisher, when set, is the identity the files must be attested by
	// (Kind, and Repository and Workflow, WorkflowFilepath or Email).
	Publisher *pep610.Publisher
	// Rule names the policy rule.
	Rule string
}

// NotRecheckedError is what Online and OnlineRef return for an origin
// they do not ask: a finding (not-rechecked), not a failure of the audit.
type NotRecheckedError struct {
	// URL is the origin, without credentials; Why says why it is not asked.
	URL, Why string
}

func (e *NotRecheckedError) Error() string {
	return fmt.Sprintf("%s was not asked again: %s", e.URL, e.Why)
}

// Report is an environment's audit.
type Report struct {
	Schema string   `json:"schema"`
	Sites  []string `json:"site_packages"`
	// Path is every directory read, in sys.path order: the interpreter's
	// own, the site directories, and what their .pth files add.
	Path          []string `json:"sys_path"`
	Distributions int      `json:"distributions"`
	Verified      int      `json:"verified"`
	// Lock is the lock file the environment was compared with (--lock).
	Lock     string    `json:"lock,omitempty"`
	Findings []Finding `json:"findings"`
	// Packages is every distribution read: the .dist-info ones in sys.path
	// order, then legacy installs (.egg-info, .egg-link), each with whether
	// it counts among Verified.
	Packages []Package `json:"packages"`
}

// Package is one distribution as the audit found it on disk.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Path is its .dist-info, .egg-info or .egg-link.
	Path string `json:"path"`
	// Verified is true when pipguard's receipt, authenticated with the
	// environment's key, matches its direct_url.json, the install was
	// verified (not only pinned), no file differs from its RECORD, no other
	// copy of the project comes before it on sys.path, and --online found
	// no drift; for an
	// index install, when its receipt records provenance that verified,
	// by the identity the policy names if it names one, and --online found
	// no drift.
	Verified bool `json:"verified"`
	// Source is where its authenticated receipt says pipguard installed
	// it from: "release", "git" or "index" ("" without one).
	Source string `json:"source,omitempty"`
	// Attestation is an index install's provenance state, as its receipt
	// records it: "verified", "unattested" or "off"; Publisher is the
	// verified identity.
	Attestation string            `json:"attestation,omitempty"`
	Publisher   *pep610.Publisher `json:"publisher,omitempty"`
}

// Worst is the highest severity found ("" when clean).
func (r *Report) Worst() Severity {
	var w Severity
	for _, f := range r.Findings {
		if f.Severity.Rank() > w.Rank() {
			w = f.Severity
		}
	}
	return w
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

// Audit reads every distribution Python sees with sites as its site
// directories and o.Base as its own entries: every directory of the
// sys.path pep610.SitePath computes (each once), the directories the site
// directories' .pth files add included; each .pth file that runs code is
// a finding (pth-executes), never run.
func Audit(sites []string, o Options) (*Report, error) {
	abs := make([]string, len(sites))
	for i, s := range sites {
		a, err := filepath.Abs(s)
		if err != nil {
			return nil, err
		}
		abs[i] = a
	}
	sites = pep610.UniqueDirs(abs)
	o.sites = sites
	path, pths := pep610.SitePath(o.Base, sites, o.Python)
	rep := &Report{Schema: "pipguard.audit/v1", Sites: sites, Findings: []Finding{}, Packages: []Package{}}
	var dists []pep610.Dist
	var keys [][]byte // each distribution's environment's receipt key
	var legacy []Finding
	var legacySeen []installed
	seenPrefix := map[string]bool{}
	prefixes := append([]string{}, o.Prefixes...)
	for _, s := range sites {
		if p := envPrefix(s); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	for _, prefix := range prefixes {
		if seenPrefix[prefix] {
			continue
		}
		seenPrefix[prefix] = true
		runs, err := txn.Pending(prefix)
		if err != nil {
			return nil, fmt.Errorf("looking for unfinished runs in %s: %w", prefix, err)
		}
		for _, u := range runs {
			legacy = append(legacy, newFinding("unfinished-run", "", "", u.Dir, fmt.Sprintf("%s (started %s) did not finish; its stash is %s", u.Label, u.Started.Format("2006-01-02T15:04:05Z07:00"), u.Dir), o))
		}
	}
	var dirs []string
	addedBy := map[string]string{}
	for _, e := range path {
		fi, err := os.Stat(e.Dir)
		switch {
		case err != nil:
			continue // Python skips an entry that is not there
		case !fi.IsDir():
			if e.Pth != "" {
				legacy = append(legacy, newFinding("path-unread", "", "", e.Dir, fmt.Sprintf("%s puts the file %s on sys.path; importlib.metadata reads the distributions in a zip or .egg file, pipguard does not", filepath.Base(e.Pth), e.Dir), o))
			}
			continue
		}
		dirs = append(dirs, e.Dir)
		if e.Pth != "" {
			addedBy[e.Dir] = e.Pth
		}
	}
	dirs = pep610.UniqueDirs(dirs)
	rep.Path = dirs
	// Each site directory's receipt key is its environment's, from that
	// environment's prefix alone; a directory that is no site directory
	// (one a .pth file adds, the interpreter's own) has none, so a
	// receipt there is never authenticated.
	siteKeys := map[string][]byte{}
	for _, s := range sites {
		prefix := sitePrefix(s, o.Prefixes)
		if prefix == "" {
			continue
		}
		key, err := pep610.PrefixReceiptKey(prefix)
		if err != nil {
			return nil, fmt.Errorf("the receipt key of %s: %w", prefix, err)
		}
		siteKeys[s] = key
	}
	seenLegacy := map[string]bool{}
	var distDir, legacyDir []int // the sys.path index of each one's directory
	for di, s := range dirs {
		ds, err := pep610.Listed(s)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", s, err)
		}
		key := siteKeys[s]
		dists = append(dists, ds...)
		for range ds {
			keys = append(keys, key)
			distDir = append(distDir, di)
		}
		ls, _ := pep610.LegacyInstalled(s)
		if eggInfo := eggInfoOf(s); eggInfo != nil {
			ls = append(ls, *eggInfo)
		}
		for _, l := range ls {
			if seenLegacy[l.Path] {
				continue
			}
			seenLegacy[l.Path] = true
			rep.Distributions++
			legacySeen = append(legacySeen, installed{name: l.Name, version: l.Version, path: l.Path})
			legacyDir = append(legacyDir, di)
			rule, msg := "legacy-install", "installed as "+filepath.Base(l.Path)
			switch {
			case l.Link:
				rule, msg = "develop-install", "a develop install ("+filepath.Base(l.Path)+")"
			case addedBy[s] != "":
				rule, msg = "develop-install", fmt.Sprintf("a develop install: %s is in %s, which %s puts on sys.path", filepath.Base(l.Path), s, filepath.Base(addedBy[s]))
			}
			legacy = append(legacy, newFinding(rule, l.Name, l.Version, l.Path, msg, o))
			if l.MetadataErr != nil && !l.Link {
				legacy = append(legacy, newFinding("metadata-invalid", l.Name, l.Version, l.Path, l.MetadataErr.Error()+": pip and importlib.metadata cannot name it, but its files are installed", o))
			}
		}
	}
	rep.Distributions += len(dists)
	rep.Findings = append(rep.Findings, legacy...)
	if o.Lock != nil && o.Lock.Lock == nil {
		return nil, ErrLock
	}
	results := make([][]Finding, len(dists))
	seen := make([]installed, len(dists))
	verified := make([]bool, len(dists))
	errs := make([]error, len(dists))
	var wg sync.WaitGroup
	work := make(chan int)
	// Reading metadata is system calls on small files: a few goroutines a
	// core keep every core busy (4 a core measured best at 5,000).
	for w := 0; w < runtime.GOMAXPROCS(0)*4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				dists[i].LoadMetadata()
				results[i], verified[i], errs[i] = auditDist(dists[i], keys[i], o, &seen[i])
			}
		}()
	}
	for i := range dists {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, p := range pths {
		var owner *pep610.Dist
		for i := range dists {
			if filepath.Dir(dists[i].Dir) == filepath.Dir(p.Path) && dists[i].Records(p.Path) {
				owner = &dists[i]
				break
			}
		}
		rep.Findings = append(rep.Findings, pthFindings(p, owner, o)...)
	}
	rep.Findings = append(rep.Findings, customizeFindings(dirs, dists, o)...)
	rep.Findings = append(rep.Findings, shadowFindings(seen, distDir, legacySeen, legacyDir, verified, o)...)
	rep.Packages = make([]Package, 0, len(dists)+len(legacySeen))
	for i, fs := range results {
		rep.Findings = append(rep.Findings, fs...)
		if verified[i] {
			rep.Verified++
		}
		pkg := Package{Name: seen[i].name, Version: seen[i].version, Path: seen[i].path, Verified: verified[i]}
		if r := seen[i].receipt; r != nil {
			pkg.Source = r.From
			if r.From == pep610.FromIndex && r.Provenance != nil {
				pkg.Attestation, pkg.Publisher = r.Provenance.State, r.Provenance.Publisher
			}
		}
		rep.Packages = append(rep.Packages, pkg)
	}
	for _, l := range legacySeen {
		rep.Packages = append(rep.Packages, Package{Name: l.name, Version: l.version, Path: l.path})
	}
	if o.Lock != nil {
		rep.Lock = o.Lock.File
		rep.Findings = append(rep.Findings, lockFindings(append(seen, legacySeen...), o)...)
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		return pep610.Normalize(a.Dist) < pep610.Normalize(b.Dist)
	})
	return rep, nil
}

// sitePrefix is the prefix of the environment whose site directory site
// is: the deepest of prefixes (the interpreters' sys.prefix, from
// pipguard audit --python) that holds it, else envPrefix's (a virtual
// environment's root by its pyvenv.cfg, for --path); "" when none fits.
func sitePrefix(site string, prefixes []string) string {
	best := ""
	for _, p := range prefixes {
		p = filepath.Clean(p)
		if !filepath.IsAbs(p) {
			continue
		}
		if rel, err := filepath.Rel(p, site); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && len(p) > len(best) {
			best = p
		}
	}
	if best != "" {
		return best
	}
	return envPrefix(site)
}

// envPrefix is the sys.prefix of the environment that holds site: the
// nearest parent (at most four levels up) with pyvenv.cfg, else
// PREFIX/lib/pythonX.Y/site-packages's PREFIX; "" when neither fits.
func envPrefix(site string) string {
	dir := filepath.Clean(site)
	for i := 0; i < 4; i++ {
		dir = filepath.Dir(dir)
		if fi, err := os.Stat(filepath.Join(dir, "pyvenv.cfg")); err == nil && fi.Mode().IsRegular() {
			return dir
		}
	}
	if filepath.Base(site) == "site-packages" && filepath.Base(filepath.Dir(filepath.Dir(site))) == "lib" {
		return filepath.Dir(filepath.Dir(filepath.Dir(site)))
	}
	return ""
}

// eggInfoOf is the distribution of a sys.path entry that is an .egg
// directory (easy_install's, which easy-install.pth puts on sys.path):
// importlib.metadata reads its EGG-INFO (any case). Its Path is the .egg,
// as LegacyInstalled lists it in the directory that holds it.
func eggInfoOf(dir string) *pep610.Legacy {
	if !strings.HasSuffix(strings.ToLower(dir), ".egg") {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if strings.EqualFold(e.Name(), "EGG-INFO") {
			ls, _ := pep610.LegacyInstalled(filepath.Dir(dir))
			for _, l := range ls {
				if l.Path == dir {
					return &l
				}
			}
			base := strings.TrimSuffix(filepath.Base(dir), filepath.Ext(dir))
			name, rest, _ := strings.Cut(base, "-")
			version, _, _ := strings.Cut(rest, "-")
			return &pep610.Legacy{Path: dir, Name: name, Version: version}
		}
	}
	return nil
}

// shadowFindings reports every project installed more than once on
// sys.path (installed-twice): Python imports the copy in the directory
// that comes first on sys.path (importlib.metadata finds it first too),
// and any other copy is not what runs, so it is never counted verified
// (verified is updated). The finding is on each copy Python does not
// import, naming the one it does; an error when that copy is one
// pipguard verified (the verified install vouches for nothing that runs).
// Two copies in the directory Python imports from are both reported:
// which one importlib.metadata takes is the order the directory lists
// them in.
func shadowFindings(seen []installed, distDir []int, legacy []installed, legacyDir []int, verified []bool, o Options) []Finding {
	type copyOf struct {
		in   installed
		dir  int
		dist int // index in seen, -1 for a legacy install
	}
	groups := map[string][]copyOf{}
	var names []string
	add := func(c copyOf) {
		n := pep610.Normalize(c.in.name)
		if n == "" {
			return
		}
		if _, ok := groups[n]; !ok {
			names = append(names, n)
		}
		groups[n] = append(groups[n], c)
	}
	for i, in := range seen {
		add(copyOf{in: in, dir: distDir[i], dist: i})
	}
	for i, in := range legacy {
		add(copyOf{in: in, dir: legacyDir[i], dist: -1})
	}
	var out []Finding
	for _, n := range names {
		g := groups[n]
		if len(g) < 2 {
			continue
		}
		sort.SliceStable(g, func(i, j int) bool { return g[i].dir < g[j].dir })
		first := g[0]
		for k, c := range g {
			if k == 0 && g[1].dir != first.dir {
				continue // what Python imports, alone in its directory
			}
			wasVerified := c.dist >= 0 && verified[c.dist]
			if c.dist >= 0 {
				verified[c.dist] = false
			}
			var msg string
			if c.dir == first.dir {
				other := first
				if k == 0 {
					other = g[1]
				}
				msg = fmt.Sprintf("%s is installed more than once in %s (%s and %s): which one importlib.metadata finds first, and whose files Python imports, is the order of the directory's entries", c.in.name, filepath.Dir(c.in.path), filepath.Base(c.in.path), filepath.Base(other.in.path))
			} else {
				msg = fmt.Sprintf("%s %s in %s is not what Python imports: %s %s in %s comes first on sys.path", c.in.name, c.in.version, filepath.Dir(c.in.path), first.in.name, first.in.version, filepath.Dir(first.in.path))
			}
			f := newFinding("installed-twice", c.in.name, c.in.version, c.in.path, msg, o)
			if _, set := o.Severity["installed-twice"]; !set && wasVerified {
				f.Severity = Error
				f.Message += "; pipguard verified this copy, which does not run"
			}
			out = append(out, f)
		}
	}
	return out
}

// customizeModules are the modules site imports at every start of
// Python: sitecustomize, and usercustomize when the user site directory
// is enabled.
var customizeModules = []string{"sitecustomize", "usercustomize"}

// customizeFindings reports each sitecustomize or usercustomize module on
// sys.path (a .py or .pyc file, an extension module, a package's
// __init__.py): site imports the first one at every start of Python, as
// it runs a .pth file's import line. One a distribution's RECORD lists
// (with the hash it has) is customize-executes, on that distribution; one
// nothing accounts for is customize-unrecorded, except in the
// interpreter's own directories (o.Base: the standard library, where a
// distribution of Python itself may ship one, as Debian's does), where
// only one a distribution's RECORD lists is reported.
func customizeFindings(dirs []string, dists []pep610.Dist, o Options) []Finding {
	base := map[string]bool{}
	for _, b := range o.Base {
		base[abspath(b)] = true
	}
	first := map[string]string{}
	var out []Finding
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			mod, ext, _ := strings.Cut(n, ".")
			if mod != customizeModules[0] && mod != customizeModules[1] {
				continue
			}
			p := filepath.Join(dir, n)
			switch {
			case ext == "" && isDir(p):
				p = filepath.Join(p, "__init__.py")
				if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
					continue
				}
			case ext == "py", ext == "pyc", ext == "so", ext == "pyd", strings.HasSuffix(ext, ".so"), strings.HasSuffix(ext, ".pyd"):
			default:
				continue
			}
			var owner *pep610.Dist
			for i := range dists {
				if dists[i].Records(p) {
					owner = &dists[i]
					break
				}
			}
			if owner == nil && base[dir] {
				continue
			}
			when := "at every start of Python"
			if mod == "usercustomize" {
				when = "at every start of Python whose user site directory is enabled"
			}
			msg := fmt.Sprintf("%s is the module %s, which site imports %s", p, mod, when)
			if f, ok := first[mod]; ok {
				msg += fmt.Sprintf(" (today %s, earlier on sys.path, is the one it imports)", f)
			} else {
				first[mod] = p
			}
			if owner == nil {
				out = append(out, newFinding("customize-unrecorded", "", "", p, msg+"; no installed distribution's RECORD lists it", o))
				continue
			}
			out = append(out, newFinding("customize-executes", owner.Name, owner.Version, p, msg, o))
		}
	}
	return out
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func abspath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// maxPthLine bounds the code a pth-executes finding quotes.
const maxPthLine = 120

// pthFindings are a .pth file's findings: its lines Python runs at every
// start, in a file an installed distribution's RECORD lists with its hash
// (pth-executes, on that distribution: setuptools' distutils-precedence.pth
// and editable finder are such) or in one nothing accounts for
// (pth-unrecorded), and a file Python cannot read (pth-invalid).
func pthFindings(p pep610.Pth, owner *pep610.Dist, o Options) []Finding {
	name := filepath.Base(p.Path)
	if p.Err != nil {
		return []Finding{newFinding("pth-invalid", "", "", p.Path, fmt.Sprintf("%s is %v", name, p.Err), o)}
	}
	if len(p.Code) == 0 {
		return nil
	}
	code := p.Code[0].Text
	if len(code) > maxPthLine {
		code = code[:maxPthLine] + "..."
	}
	what := ""
	if strings.HasPrefix(name, "__editable__") {
		what = " (an editable install's finder)"
	}
	msg := fmt.Sprintf("%s%s runs code at every start of Python, line %d: %q", name, what, p.Code[0].N, code)
	if len(p.Code) > 1 {
		msg += fmt.Sprintf(" (and %d more lines)", len(p.Code)-1)
	}
	if owner == nil {
		return []Finding{newFinding("pth-unrecorded", "", "", p.Path, msg+"; no installed distribution's RECORD lists it", o)}
	}
	return []Finding{newFinding("pth-executes", owner.Name, owner.Version, p.Path, msg, o)}
}

// libraryFiles are the paths d's RECORD lists inside the interpreter's
// own sys.path directories (o.Base) and outside every site directory,
// compared without regard to case (as the install plan compares them).
func libraryFiles(d pep610.Dist, o Options) []string {
	if len(o.Base) == 0 {
		return nil
	}
	paths, err := d.RecordPaths()
	if err != nil {
		return nil // files-changed reports an unreadable RECORD
	}
	inside := func(dir, p string) bool {
		dir, p = strings.ToLower(dir), strings.ToLower(p)
		return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
	}
	base := make([]string, len(o.Base))
	for i, b := range o.Base {
		base[i] = abspath(b)
	}
	var out []string
	for _, p := range paths {
		site := false
		for _, s := range o.sites {
			if inside(s, p) {
				site = true
				break
			}
		}
		if site {
			continue
		}
		for _, b := range base {
			if inside(b, p) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// quoteSome names up to n of paths, and how many more there are.
func quoteSome(paths []string, n int) string {
	if len(paths) <= n {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:n], ", "), len(paths)-n)
}

// maxFileProblems bounds the files-changed paths one distribution reports.
const maxFileProblems = 10

// newFinding makes a finding of rule, with the policy's severity for it.
func newFinding(rule, name, version, path, msg string, o Options) Finding {
	r, ok := Rules[rule]
	if !ok {
		r = Rule{ID: rule, Severity: Error, Hint: "unknown rule"} // never drop a finding
	}
	sev := r.Severity
	if s, ok := o.Severity[rule]; ok {
		sev = s
	}
	return Finding{Dist: name, Version: version, Path: path, Rule: rule, Severity: sev, Message: msg, Hint: r.Hint}
}

// auditDist applies every rule to one distribution; verified says a
// receipt ties it to a verified release.
//
// ev gets what the lock comparison reads: direct_url.json when it is valid,
// and the receipt when it is authenticated.
func auditDist(d pep610.Dist, key []byte, o Options, ev *installed) (out []Finding, verified bool, err error) {
	changed := false
	*ev = installed{name: d.Name, version: d.Version, path: d.Dir}
	add := func(rule, msg string) {
		out = append(out, newFinding(rule, d.Name, d.Version, d.Dir, msg, o))
	}
	switch {
	case d.MetadataErr != nil:
		add("metadata-invalid", d.MetadataErr.Error()+": pip and importlib.metadata cannot name it, but its files are installed")
	case d.NameMismatch():
		add("metadata-name-mismatch", fmt.Sprintf("METADATA names %q, its directory %s another project: pip calls it %s, importlib.metadata %s", d.Name, filepath.Base(d.Dir), pep610.Normalize(d.DirProject()), pep610.Normalize(d.Name)))
	}
	// A distribution whose files are not those its RECORD (and so its
	// receipt, bound to that RECORD) records is never verified.
	defer func() {
		if changed {
			verified = false
		}
	}()
	if problems, err := d.CheckRecord(maxFileProblems); err != nil {
		changed = true
		add("files-changed", err.Error())
	} else if len(problems) > 0 {
		changed = true
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.String()
		}
		add("files-changed", strings.Join(msgs, "; "))
	}
	if in := libraryFiles(d, o); len(in) > 0 {
		add("library-written", fmt.Sprintf("its RECORD lists %s, in the interpreter's own library directories", quoteSome(in, 3)))
	}
	du, derr := d.DirectURL()
	receipt, rerr := d.Receipt(key)
	var re *pep610.ReceiptError
	if errors.As(rerr, &re) && re.Unauthenticated {
		add("receipt-unauthenticated", rerr.Error())
		receipt, rerr = nil, pep610.ErrNoReceipt
	}
	if derr == nil {
		ev.du = du
	}
	if rerr == nil {
		ev.receipt = receipt
		var named []string
		for _, tr := range receipt.TrustedRoots {
			if tr.FromEnv {
				named = append(named, tr.Path+" (sha256:"+tr.SHA256+")")
			}
		}
		if len(named) > 0 {
			add("trusted-root-from-env", "pipguard verified it against trusted roots only $PIPGUARD_TRUSTED_ROOT named: "+strings.Join(named, ", "))
		}
	}
	switch {
	case errors.Is(derr, pep610.ErrNoDirectURL):
		// An index install (PEP 610: pip writes direct_url.json only for
		// a direct URL requirement).
		switch {
		case rerr == nil && receipt.From == pep610.FromIndex:
			ok, err := indexInstall(d, receipt, o, func(rule string, sev Severity, msg string) {
				f := newFinding(rule, d.Name, d.Version, d.Dir, msg, o)
				if _, set := o.Severity[rule]; !set && sev != "" {
					f.Severity = sev
				}
				out = append(out, f)
			})
			return out, ok, err
		case rerr == nil:
			add("receipt-mismatch", "a receipt says pipguard installed it from "+receipt.Repository+", but it has no direct_url.json now")
		case !errors.Is(rerr, pep610.ErrNoReceipt):
			add("receipt-mismatch", rerr.Error())
		case o.Index != nil:
			if ip := o.Index(d.Name); ip.Require {
				f := newFinding("index-unattested", d.Name, d.Version, d.Dir, fmt.Sprintf("no pipguard receipt records that its PEP 740 provenance verified, and the policy requires provenance (%s)", ip.Rule), o)
				if _, set := o.Severity["index-unattested"]; !set {
					f.Severity = Error
				}
				out = append(out, f)
			}
		}
		return out, false, nil
	case derr != nil:
		add("direct-url-invalid", derr.Error()) // a commit_id that is not a full SHA is one
		return out, false, nil
	}
	if rerr != nil && !errors.Is(rerr, pep610.ErrNoReceipt) {
		add("receipt-mismatch", rerr.Error())
		receipt = nil
	}
	switch {
	case du.DirInfo != nil && du.DirInfo.Editable:
		add("editable", "editable install of "+pep610.StripCredentials(du.URL))
	case du.DirInfo != nil:
		add("local-directory", "installed from "+pep610.StripCredentials(du.URL))
	case du.ArchiveInfo != nil && du.ArchiveInfo.SHA256() == "" && du.ArchiveInfo.Hash == "" && len(du.ArchiveInfo.Hashes) == 0:
		add("archive-no-hash", "installed from "+pep610.StripCredentials(du.URL)+" with no hash recorded")
	case du.VCSInfo != nil:
		if du.VCSInfo.RequestedRevision == "" {
			add("vcs-no-ref", "installed from "+pep610.StripCredentials(du.URL)+" without a ref")
		}
	}
	if receipt != nil && receipt.From == pep610.FromIndex {
		add("receipt-mismatch", fmt.Sprintf("a receipt says pipguard installed it from the index (%s), but it has a direct_url.json: pip installed it from %s since", receipt.File, pep610.StripCredentials(du.URL)))
		receipt = nil
		ev.receipt = nil
	}
	if receipt != nil {
		var mism []pep610.Mismatch
		switch {
		case receipt.Built || receipt.WheelSHA256 != "" && receipt.From == "git":
			// pipguard built the wheel from the verified source and had
			// pip install that wheel.
			mism = pep610.CheckArchive(du, receipt.WheelSHA256)
		case receipt.From == "git":
			mism = pep610.CheckGit(du, receipt.Repository, receipt.Commit)
		default:
			mism = pep610.CheckArchive(du, receipt.SHA256)
		}
		if pep610.Normalize(receipt.Name) != pep610.Normalize(d.Name) || receipt.Version != d.Version {
			mism = append(mism, pep610.Mismatch{Field: "name and version", Expected: receipt.Name + " " + receipt.Version, Actual: d.Name + " " + d.Version})
		}
		if len(mism) > 0 {
			var parts []string
			for _, m := range mism {
				parts = append(parts, m.String())
			}
			add("receipt-mismatch", "the receipt says "+strings.Join(parts, "; "))
			return out, false, nil
		}
		if o.Online != nil {
			drifts, err := o.Online(receipt)
			var nr *NotRecheckedError
			if errors.As(err, &nr) {
				add("not-rechecked", nr.Error())
				err = nil
			}
			if err != nil {
				return out, false, fmt.Errorf("%s: %w", d.Name, err)
			}
			for _, dr := range drifts {
				add(dr[0], dr[1])
			}
			if len(drifts) > 0 {
				return out, false, nil
			}
		}
		if receipt.Pinned {
			add("pinned", fmt.Sprintf("pinned to %s at %s, not verified", receipt.Repository, receipt.Commit))
			return out, false, nil
		}
		return out, true, nil
	}
	allowed := o.AllowDirect != nil && o.AllowDirect(du.URL)
	if u, err := url.Parse(du.URL); err == nil && u.Scheme != "file" && !strings.EqualFold(u.Host, o.GitHubHost) && !allowed {
		add("host-not-allowed", "installed from "+pep610.StripCredentials(du.URL))
	}
	if !allowed && du.DirInfo == nil {
		add("unverified-direct", "installed from "+pep610.StripCredentials(du.URL)+" with no pipguard receipt")
	}
	if o.OnlineRef != nil && du.VCSInfo != nil && du.VCSInfo.VCS == "git" && du.VCSInfo.RequestedRevision != "" {
		why, err := o.OnlineRef(du.URL, du.VCSInfo.RequestedRevision)
		var nr *NotRecheckedError
		if errors.As(err, &nr) {
			add("not-rechecked", nr.Error())
			err = nil
		}
		if err != nil {
			return out, false, fmt.Errorf("%s: %w", d.Name, err)
		}
		if why != "" {
			add("vcs-mutable-ref", why)
		}
	}
	return out, false, nil
}

// indexInstall judges an index install by its authenticated receipt: the
// state its PEP 740 provenance had when pipguard installed it
// (index-unattested, an error where the policy requires provenance for the
// project), the recorded identity against the one the policy names now
// (index-identity-mismatch), and with --online the index's provenance now
// (index-provenance-gone, index-identity-changed). verified says the
// provenance verified and nothing contradicts it.
func indexInstall(d pep610.Dist, r *pep610.Receipt, o Options, add func(rule string, sev Severity, msg string)) (verified bool, err error) {
	if r.Version != d.Version {
		add("receipt-mismatch", "", fmt.Sprintf("the receipt says %s %s was installed, not %s", r.Name, r.Version, d.Version))
		return false, nil
	}
	var ip IndexPolicy
	if o.Index != nil {
		ip = o.Index(d.Name)
	}
	p := r.Provenance
	from := r.File
	if r.Index != "" {
		from += " from " + r.Index
	}
	if p.State != pep610.ProvenanceVerified {
		why := "its index published no provenance"
		if p.State == pep610.ProvenanceOff {
			why = "index_attestations was \"off\""
		}
		if p.Why != "" && p.State != pep610.ProvenanceOff {
			why = p.Why
		}
		msg := fmt.Sprintf("%s was installed unattested: %s", from, why)
		sev := Severity("")
		switch {
		case ip.Publisher != nil:
			msg += fmt.Sprintf("; the policy requires it attested by %s (%s)", ip.Publisher, ip.Rule)
			sev = Error
		case ip.Require:
			msg += fmt.Sprintf("; the policy requires provenance (%s)", ip.Rule)
			sev = Error
		}
		add("index-unattested", sev, msg)
		return false, nil
	}
	got := p.Publisher
	if ip.Publisher != nil && !SamePublisher(*got, *ip.Publisher) {
		add("index-identity-mismatch", "", fmt.Sprintf("%s: expected publisher %s (%s), its receipt records %s", from, ip.Publisher, ip.Rule, got))
		return false, nil
	}
	if o.Online != nil {
		drifts, err := o.Online(r)
		var nr *NotRecheckedError
		if errors.As(err, &nr) {
			add("not-rechecked", "", nr.Error())
			err = nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", d.Name, err)
		}
		for _, dr := range drifts {
			add(dr[0], "", dr[1])
		}
		if len(drifts) > 0 {
			return false, nil
		}
	}
	return true, nil
}

// SamePublisher says whether got, a verified certificate's identity, is
// the publisher want names: the kind, a GitHub or GitLab repository
// case-insensitively (as those hosts compare), the workflow or CI file and
// a Google email exactly.
func SamePublisher(got, want pep610.Publisher) bool {
	if got.Kind != want.Kind {
		return false
	}
	switch want.Kind {
	case "GitHub":
		return strings.EqualFold(got.Repository, want.Repository) && got.Workflow == want.Workflow
	case "GitLab":
		return strings.EqualFold(got.Repository, want.Repository) && got.WorkflowFilepath == want.WorkflowFilepath
	case "Google":
		return got.Email == want.Email
	}
	return false
}
