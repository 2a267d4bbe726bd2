package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/installer/txn"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"

	"github.com/pipguard/pipguard/internal/parallel"
)

// The stages after pip's one resolution, each reading the lock and what
// the stage before it made: fetch (every file of the lock, in pipguard's
// hands, hashed by pipguard), plan (every path each wheel writes, and the
// conflicts), stage (the stash, by plan), install (pip on the local files
// alone), check (the disk against the wheels, nothing else changed,
// dependencies) and commit (receipts) or roll back.

// ConflictError is a lock whose wheels would write a path they must not:
// a path another wheel of the lock writes, one a distribution outside the
// lock owns, or an existing file no distribution owns (pyvenv.cfg, a .pth
// file, anything in the prefix). Nothing was installed.
type ConflictError struct{ Conflicts []layout.Conflict }

func (e *ConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		parts = append(parts, conflictText(c))
	}
	return "the lock's wheels would overwrite what they do not own: " + strings.Join(parts, "; ")
}

func conflictText(c layout.Conflict) string {
	s := fmt.Sprintf("%s writes %s", c.Wheel, c.Path)
	switch {
	case c.Why != "":
		s += " (" + c.Why + ")"
	case c.Other != "":
		s += ", which " + c.Other + " owns"
	default:
		s += ", which exists and no distribution owns"
	}
	return s
}

// Hint says what to do.
func (e *ConflictError) Hint() string {
	return "nothing was installed; a wheel that writes over another distribution's files or the environment's own is refused: remove the other distribution first, or find out why the wheel ships that path"
}

// WheelError is a locked file that is not a wheel pipguard can install
// exactly: malformed, its RECORD disagreeing with its members, shipping
// files pip or pipguard write, or another project's. Nothing was
// installed.
type WheelError struct {
	Name string
	Err  error
}

func (e *WheelError) Error() string { return e.Name + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *WheelError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *WheelError) Hint() string {
	return "nothing was installed; a wheel that is malformed or whose RECORD does not describe its own files cannot be installed exactly: tell its maintainers"
}

// fetched is one file of the lock in pipguard's hands.
type fetched struct {
	path   string
	sha256 string
	size   int64
}

// fetch puts every file of the lock into files (pipguard's private
// directory) and hashes it there: a guarded release's verified asset, and
// every other file exactly as pip's resolution read it (kept by the
// driver). A file whose bytes are not the sha256 the lock holds is refused:
// the install step then reads these files alone (--no-index).
func fetch(lk *lock, kept []pip.Kept, files string) error {
	if err := os.MkdirAll(files, 0o700); err != nil {
		return err
	}
	byName := map[string]pip.Kept{}
	for _, k := range kept {
		byName[pep610.Normalize(k.Name)] = k
	}
	srcs := make([]string, len(lk.items))
	reasons := make([]string, len(lk.items))
	for i := range lk.items {
		it := &lk.items[i]
		switch {
		case it.built != "":
			srcs[i] = it.built
		case it.guarded != nil && it.guarded.wheelPath != "":
			srcs[i] = it.guarded.wheelPath
		default:
			k, ok := byName[pep610.Normalize(it.Name)]
			if !ok {
				reasons[i] = fmt.Sprintf("%s %s: pip's resolution kept no file for it", it.Name, it.Version)
				continue
			}
			srcs[i] = k.Path
			it.URL = k.URL
		}
	}
	// The files are linked (or copied) and hashed several at a time; each
	// item's outcome is its own, and they are reported in the lock's order.
	errs := make([]error, len(lk.items))
	run := parallel.Each
	seen := map[string]bool{}
	for _, src := range srcs {
		if b := filepath.Base(src); src != "" && seen[b] {
			// Two items of one file name: one after the other, the last
			// one's file kept, as ever.
			run = func(n int, f func(int)) {
				for i := 0; i < n; i++ {
					f(i)
				}
			}
		} else {
			seen[b] = true
		}
	}
	run(len(lk.items), func(i int) {
		it := &lk.items[i]
		if srcs[i] == "" {
			return
		}
		f, err := copyHashed(srcs[i], filepath.Join(files, filepath.Base(srcs[i])))
		if err != nil {
			errs[i] = fmt.Errorf("fetching %s: %w", it.Name, err)
			return
		}
		if it.SHA256 != "" && !strings.EqualFold(it.SHA256, f.sha256) {
			reasons[i] = fmt.Sprintf("%s %s: the file pip resolved (%s) has sha256:%s, the lock holds sha256:%s", it.Name, it.Version, filepath.Base(srcs[i]), f.sha256, it.SHA256)
			return
		}
		it.SHA256, it.Size, it.file = f.sha256, f.size, f.path
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	var refused []string
	for _, r := range reasons {
		if r != "" {
			refused = append(refused, r)
		}
	}
	if len(refused) > 0 {
		return &AuditError{Reasons: refused}
	}
	return nil
}

// copyHashed links (or copies) src to dst and hashes dst: what pip will
// read is what pipguard hashed, whatever happens to src afterwards.
func copyHashed(src, dst string) (fetched, error) {
	os.Remove(dst)
	if err := os.Link(src, dst); err != nil {
		in, err := os.Open(src)
		if err != nil {
			return fetched{}, err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			in.Close()
			return fetched{}, err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fetched{}, err
		}
	}
	return hashFile(dst)
}

// paths is the plan of every path the lock's wheels write.
type paths struct {
	plans []*layout.Plan
	env   *layout.Env
	// keep are the files pip's uninstall of the replaced distributions
	// removes.
	keep []string
}

// planPaths reads every locked wheel (its members and RECORD, which must
// agree) and maps each member to where it lands in the target
// interpreter's scheme, then refuses conflicts before pip runs.
func planPaths(lk *lock, info *pip.Info) (*paths, error) {
	env, err := layout.ReadEnv(info.Site, info.Prefix)
	if err != nil {
		return nil, fmt.Errorf("reading the environment: %w", err)
	}
	p := &paths{env: env}
	// Each wheel is read and planned on its own, several at a time; the
	// plans and the errors keep the lock's order.
	plans := make([]*layout.Plan, len(lk.items))
	werrs := make([]error, len(lk.items))
	refused := make([][]layout.Conflict, len(lk.items))
	parallel.Each(len(lk.items), func(i int) {
		it := &lk.items[i]
		w, err := layout.Open(it.file)
		if err != nil {
			werrs[i] = &WheelError{Name: it.Name, Err: err}
			return
		}
		// The plan is of the bytes the fetch hashed (and pip is given with
		// that hash): a file that changed since is refused.
		if it.SHA256 != "" && !strings.EqualFold(w.SHA256, it.SHA256) {
			werrs[i] = &WheelError{Name: it.Name, Err: fmt.Errorf("the locked file %s changed after pipguard hashed it: sha256:%s, then sha256:%s", filepath.Base(it.file), it.SHA256, w.SHA256)}
			return
		}
		if pep610.Normalize(w.Name) != pep610.Normalize(it.Name) || it.Version != "" && canonical(w.Version) != canonical(it.Version) {
			werrs[i] = &WheelError{Name: it.Name, Err: fmt.Errorf("the locked file %s is %s %s, expected %s %s", filepath.Base(it.file), w.Name, w.Version, it.Name, it.Version)}
			return
		}
		pl, err := layout.PlanWheel(w, schemeFor(info, it.Name), layout.PlanOptions{Direct: it.direct(), Requested: true})
		var re *layout.RefusedError
		if errors.As(err, &re) {
			refused[i] = re.Conflicts // the environment's files or pipguard's: conflicts
			return
		}
		if err != nil {
			werrs[i] = &WheelError{Name: it.Name, Err: err}
			return
		}
		plans[i] = pl
	})
	var errs []error
	var envConflicts []layout.Conflict
	for i := range lk.items {
		if werrs[i] != nil {
			errs = append(errs, werrs[i])
			continue
		}
		if refused[i] != nil {
			envConflicts = append(envConflicts, refused[i]...)
			continue
		}
		it := &lk.items[i]
		it.Files = len(plans[i].Files)
		it.plan = plans[i]
		p.plans = append(p.plans, plans[i])
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	conflicts := append(envConflicts, layout.Conflicts(p.plans, env)...)
	// pipguard's own directory in the prefix (the receipt key, the
	// journal) is written by pipguard alone.
	own := filepath.Join(info.Prefix, ".pipguard")
	for _, pl := range p.plans {
		for _, f := range pl.Files {
			if f.Path == own || strings.HasPrefix(f.Path, own+string(filepath.Separator)) {
				conflicts = append(conflicts, layout.Conflict{Path: f.Path, Wheel: pl.Name, Why: "pipguard's own directory in the environment"})
			}
		}
	}
	// What pip's uninstall of each replaced distribution removes is what
	// its installed RECORD lists, which the wheel that installed it wrote:
	// it may name another distribution's file or the environment's own.
	inLock := map[string]bool{}
	for _, it := range lk.items {
		inLock[pep610.Normalize(it.Name)] = true
	}
	for _, it := range lk.items {
		name := pep610.Normalize(it.Name)
		for _, f := range env.Files(name) {
			if why := removalConflict(f, name, env, inLock, info); why != "" {
				conflicts = append(conflicts, layout.Conflict{Path: f, Wheel: it.Name, Why: why})
				continue
			}
			p.keep = append(p.keep, f)
		}
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Conflicts: conflicts}
	}
	return p, nil
}

func canonical(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// removalConflict says why pip's uninstall of the installed distribution
// name must not remove f ("" when it may): a file another distribution
// outside the lock owns, the environment's own files (pyvenv.cfg, its
// interpreter and activation scripts), pipguard's, or anything outside the
// environment.
func removalConflict(f, name string, env *layout.Env, inLock map[string]bool, info *pip.Info) string {
	for _, o := range env.Owners(f) {
		if o != name && !inLock[o] {
			return fmt.Sprintf("pip's uninstall of the installed %s would remove it (its RECORD lists it), but it belongs to %s, which the lock does not replace", name, o)
		}
	}
	prefix := filepath.Clean(info.Prefix)
	rel, err := filepath.Rel(prefix, f)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Sprintf("pip's uninstall of the installed %s would remove it (its RECORD lists it), and it is outside the environment", name)
	}
	top, rest, _ := strings.Cut(filepath.ToSlash(rel), "/")
	base := filepath.Base(f)
	switch {
	case rel == "pyvenv.cfg",
		top == ".pipguard" || strings.HasPrefix(top, ".pipguard-"),
		(top == "bin" || top == "Scripts") && rest == base && (strings.HasPrefix(base, "python") || strings.HasPrefix(strings.ToLower(base), "activate")):
		return fmt.Sprintf("pip's uninstall of the installed %s would remove the environment's own %s (its RECORD lists it)", name, rel)
	}
	return ""
}

// schemeFor is where pip installs the distribution name in the target
// interpreter.
func schemeFor(info *pip.Info, name string) layout.Scheme {
	s := info.Scheme(name)
	xy := info.Version
	if parts := strings.SplitN(xy, ".", 3); len(parts) >= 2 {
		xy = parts[0] + "." + parts[1]
	}
	return layout.Scheme{Purelib: s.Purelib, Platlib: s.Platlib, Scripts: s.Scripts, Data: s.Data, Headers: s.Headers, CacheTag: s.CacheTag, PythonVersion: xy, Prefix: info.Prefix, Stdlib: info.Stdlib}
}

// spec is the transaction of the plan: every path a wheel writes, every
// directory it may create, every file pip's uninstall may remove.
func (p *paths) spec(info *pip.Info, label string) txn.Spec {
	s := txn.Spec{Prefix: info.Prefix, Sites: info.Site, Label: label, Keep: p.keep}
	dirs := map[string]bool{}
	for _, pl := range p.plans {
		for _, f := range pl.Files {
			s.Write = append(s.Write, f.Path)
		}
		for _, d := range pl.Dirs {
			dirs[d] = true
		}
	}
	for d := range dirs {
		s.Dirs = append(s.Dirs, d)
	}
	sort.Strings(s.Dirs)
	return s
}

// outsidePlan lists the paths that changed between two surveys of the
// prefix and are neither written, created nor removed by the plan, nor
// pipguard's own (the stash, the journal).
func (p *paths) outsidePlan(changed []string, prefix string, ownDirs ...string) []string {
	ok := map[string]bool{}
	for _, pl := range p.plans {
		for _, f := range pl.Files {
			ok[f.Path] = true
		}
		for _, d := range pl.Dirs {
			ok[d] = true
		}
	}
	for _, k := range p.keep {
		ok[k] = true
	}
	var out []string
	for _, c := range changed {
		if ok[c] || isDirOfPlan(c, ok) {
			continue
		}
		own := false
		for _, d := range append(ownDirs, filepath.Join(prefix, ".pipguard")) {
			if d != "" && (c == d || strings.HasPrefix(c, d+string(filepath.Separator))) {
				own = true
			}
		}
		if !own {
			out = append(out, c)
		}
	}
	return out
}

// isDirOfPlan says whether c is a directory the plan writes into or
// removes from (its modification time changes with its entries).
func isDirOfPlan(c string, ok map[string]bool) bool {
	fi, err := os.Lstat(c)
	if err == nil && !fi.IsDir() {
		return false
	}
	for p := range ok {
		if filepath.Dir(p) == c {
			return true
		}
	}
	return false
}

// lockLine is what pip is given for one locked item: the local file,
// pinned by its sha256. Index items stay index installs (found in the
// local directory with --find-links, so pip writes no direct_url.json, as
// PEP 610 says for them); guarded and direct items are direct references
// to the local file.
func (it Locked) lockLine() string {
	if it.direct() {
		fu := url.URL{Scheme: "file", Path: it.file, Fragment: "sha256=" + it.SHA256}
		return it.Name + " @ " + fu.String()
	}
	return fmt.Sprintf("%s==%s --hash=sha256:%s", it.Name, it.Version, it.SHA256)
}

// direct says whether pip installs the item as a direct reference (and
// writes direct_url.json).
func (it Locked) direct() bool { return it.Source != SourceIndex }

// needsBuild says whether a locked item is a source pipguard must turn
// into a wheel before it can plan its paths: an allowed direct reference
// to an sdist or a repository, an index sdist under allow_source_builds.
// (Guarded sources are built before the resolution, with locked build
// requirements.)
func needsBuild(it Locked, kept map[string]pip.Kept) (req string, ok bool) {
	if it.guarded != nil {
		return "", false // built before the resolution (buildGuarded)
	}
	k, found := kept[pep610.Normalize(it.Name)]
	if found && strings.HasSuffix(k.Path, ".whl") {
		return "", false
	}
	if found {
		// An sdist pip's resolution read: built from those bytes.
		fu := url.URL{Scheme: "file", Path: k.Path}
		if it.SHA256 != "" {
			fu.Fragment = "sha256=" + it.SHA256
		}
		return it.Name + " @ " + fu.String(), true
	}
	return it.Requirement, true
}

// buildDirect makes a wheel of every locked item that is a source, with pip's
// own wheel command in the target interpreter, into pipguard's private
// directory; the wheel then goes through every check any wheel does.
// Its build requirements are those pip's build isolation fetches: they
// are not locked yet (see the README's "What runs").
func buildDirect(ctx context.Context, py *pip.Session, out io.Writer, dir string, lk *lock, kept []pip.Kept, args []string, pol *policy.Policy) error {
	byName := map[string]pip.Kept{}
	for _, k := range kept {
		byName[pep610.Normalize(k.Name)] = k
	}
	// An index sdist whose project the policy requires provenance for is
	// refused before anything is built: pipguard verifies provenance for
	// the file it installs, and a wheel built here has none (its sdist's
	// provenance says nothing about what its build code writes).
	var refused []string
	for _, it := range lk.items {
		if _, ok := needsBuild(it, byName); !ok || it.Source != SourceIndex {
			continue
		}
		if eff := pol.ForProject(it.Name); eff.Require || eff.Publisher != nil {
			refused = append(refused, fmt.Sprintf("%s %s would be built from its sdist, and the policy requires PEP 740 provenance for it (%s): a wheel built here has none", it.Name, it.Version, eff.Rule))
		}
	}
	if len(refused) > 0 {
		return &RefusedError{Reasons: refused, Fix: "install a wheel its index publishes with provenance (drop --no-binary for it), or lower the policy's requirement for that project if you accept the build unverified"}
	}
	for i := range lk.items {
		it := &lk.items[i]
		req, ok := needsBuild(*it, byName)
		if !ok {
			continue
		}
		if k, found := byName[pep610.Normalize(it.Name)]; found && it.Source == SourceIndex {
			// An index sdist: a lock records it (the wheel built from it
			// exists only here), by the bytes pipguard hashes now, at the
			// URL pip's resolution found it.
			f, err := hashFile(k.Path)
			if err != nil {
				return err
			}
			it.sdist = &sdistFile{name: filepath.Base(k.Path), sha256: f.sha256, size: f.size}
			if it.URL == "" {
				it.URL = redact.String(k.URL)
			}
		}
		outDir := filepath.Join(dir, fmt.Sprintf("built-%d", i))
		if err := os.Mkdir(outDir, 0o700); err != nil {
			return err
		}
		reqFile := filepath.Join(dir, fmt.Sprintf("build-%d.txt", i))
		if err := os.WriteFile(reqFile, []byte(req+"\n"), 0o600); err != nil {
			return err
		}
		if err := py.Wheel(ctx, out, reqFile, outDir, args...); err != nil {
			return fmt.Errorf("building %s: %w", it.Name, err)
		}
		wheels, _ := filepath.Glob(filepath.Join(outDir, "*.whl"))
		if len(wheels) != 1 {
			return &WheelError{Name: it.Name, Err: fmt.Errorf("building it made %d wheels, expected one", len(wheels))}
		}
		// The lock now holds the built wheel's bytes (hashed by the
		// fetch); the source's digest or commit stays in the report.
		it.built, it.SHA256 = wheels[0], ""
	}
	return nil
}

// checkSatisfiedPins makes "already installed" mean the same bytes for the
// index requirements the user pinned by hash (name==version
// --hash=sha256:…): pip leaves such a requirement alone when a
// distribution of that name and version is installed, whatever its files.
// Each one pip left is resolved alone (no dependencies, as if nothing were
// installed, under the same no-code rule), its file kept and hashed by
// pipguard, and the installed files compared with it; one that differs is
// locked and reinstalled.
func checkSatisfiedPins(py *pip.Session, dir string, entries []reqfile.Entry, plan *pip.Report, lk *lock, info *pip.Info, args []string) error {
	inPlan := map[string]bool{}
	for _, it := range plan.Install {
		inPlan[pep610.Normalize(it.Metadata.Name)] = true
	}
	var lines []string
	for _, e := range entries {
		if e.Req == nil || e.Constraint || e.Req.Kind != requirement.KindIndex || len(e.Hashes()) == 0 || !requirement.IsPinned(e.Req.Specifier) || inPlan[pep610.Normalize(e.Req.Name)] {
			continue
		}
		if len(findDist(info, e.Req.Name)) == 0 {
			continue
		}
		lines = append(lines, e.PipLine())
	}
	if len(lines) == 0 {
		return nil
	}
	reqFile := filepath.Join(dir, "pinned.pipguard.txt")
	if err := os.WriteFile(reqFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	rep, err := py.InstallWith(dir, pip.InstallRequest{DryRun: true, Fresh: true, ReqFile: reqFile, Args: append([]string{"--no-deps"}, args...), KeepDir: filepath.Join(dir, "kept-pins")})
	if err != nil {
		return err
	}
	kept := map[string]pip.Kept{}
	for _, k := range rep.Kept {
		kept[pep610.Normalize(k.Name)] = k
	}
	for _, it := range rep.Install {
		k, ok := kept[pep610.Normalize(it.Metadata.Name)]
		if !ok || !strings.HasSuffix(k.Path, ".whl") {
			continue
		}
		why := sameAsInstalled(k.Path, info, it.Metadata.Name)
		if why == "" {
			continue
		}
		plan.Kept = append(plan.Kept, k)
		lk.items = append(lk.items, Locked{Name: it.Metadata.Name, Version: it.Metadata.Version, Source: SourceIndex, SHA256: it.DownloadInfo.ArchiveInfo.SHA256(),
			Reason: "the installed distribution is not the pinned file: " + why})
	}
	return nil
}

// sameAsInstalled says how the installed distribution name differs from
// the wheel at path ("" when its files are the wheel's).
func sameAsInstalled(path string, info *pip.Info, name string) string {
	w, err := layout.Open(path)
	if err != nil {
		return err.Error()
	}
	pl, err := layout.PlanWheel(w, schemeFor(info, name), layout.PlanOptions{Requested: true})
	if err != nil {
		return err.Error()
	}
	withReceipt(pl) // pipguard's receipt of an index install
	if probs := layout.Check([]*layout.Plan{pl}); len(probs) > 0 {
		return fmt.Sprintf("%s: %s", probs[0].Path, probs[0].Why)
	}
	return ""
}
