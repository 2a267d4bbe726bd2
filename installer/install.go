package installer

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/installer/txn"
	"github.com/pipguard/pipguard/installer/wheel"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// From says what pip installs for a guarded requirement.
type From string

const (
	// FromRelease installs the verified release asset's bytes (default).
	FromRelease From = "release"
	// FromGit installs the repository at the verified commit.
	FromGit From = "git"
)

// InstallOptions describe one pipguard install.
type InstallOptions struct {
	// Requirements are given on the command line; Files are -r files.
	Requirements []string
	Files        []string
	// PipArgs are passed to pip as they are (after --).
	PipArgs []string
	// Python is the target interpreter.
	Python string
	From   From
	// DryRun stops after pip's dry run.
	DryRun bool
	// AllowSdist lets an sdist be installed when no wheel fits.
	AllowSdist bool
	// AllowDirect lets pip install other direct-URL or VCS requirements
	// (ones pipguard did not verify). Off by default.
	AllowDirect bool
	// AllowSourceBuilds lets pip build index sdists, running their build
	// code (and their build requirements, which pip's report does not
	// show). Off by default: pip gets --only-binary :all:.
	AllowSourceBuilds bool
	// Version is pipguard's version, recorded in receipts.
	Version string
	// SeparatePip runs each pip command as its own process instead of
	// driving pip in one interpreter (slower; what an unsupported pip gets).
	SeparatePip bool
	// Rules is the policy (package policy: defaults, file and flags); when
	// nil it is made from the fields below, as flags.
	Rules *policy.Policy
	// Policy is the identity policy for every guarded requirement's
	// attestations (signer workflow, source ref, runner).
	Policy                                 attest.Policy
	MaxCommitDistance                      int
	RequireSBOM, RequireReleaseAttestation bool
	Trust                                  *attest.Trust
	// Output receives pip's output.
	Output io.Writer
	// Concurrency bounds concurrent verifications; default 4.
	Concurrency int
	// ProvenanceDir, when set, holds index files' PEP 740 provenance as
	// FILENAME.provenance: an offline install reads it there instead of
	// asking the index.
	ProvenanceDir string

	// deferCacheWrites is set by Install for its releases.
	deferCacheWrites func(func())
	// lockOnly (pipguard lock) resolves as if nothing were installed and
	// stops once every file is fetched and verified: a lock describes the
	// whole set, whatever the target environment holds now.
	lockOnly bool
}

// Guarded is one git requirement and what pipguard did with it.
type Guarded struct {
	Requirement string             `json:"requirement"`
	Source      string             `json:"source"`
	Name        string             `json:"name"`
	Repo        string             `json:"repo,omitempty"`
	Skipped     string             `json:"skipped,omitempty"`
	Resolution  *gitref.Resolution `json:"resolution,omitempty"`
	Tag         string             `json:"tag,omitempty"`
	Asset       string             `json:"asset,omitempty"`
	SHA256      string             `json:"sha256,omitempty"`
	AssetReason string             `json:"asset_reason,omitempty"`
	Release     *ReleaseReport     `json:"release,omitempty"`
	// PipRequirement is exactly what pip was given.
	PipRequirement string `json:"pip_requirement,omitempty"`
	// Pinned marks a requirement under verify = "pin": resolved to an
	// immutable commit and installed from it, but not verified (no
	// attested release vouches for it).
	Pinned bool `json:"pinned,omitempty"`
	// Policy is the effective policy for the repository, each value with
	// the rule that set it.
	Policy *policy.Effective `json:"policy,omitempty"`

	req      *requirement.Requirement
	hashes   []string
	assetDir string
	// assetPath is the verified asset's bytes (inside assetDir).
	assetPath string
	// Built says pipguard built the wheel pip installs from the verified
	// (or pinned) source, with BuildRequirements (name==version
	// sha256:HEX) locked in its build environment.
	Built             bool     `json:"built,omitempty"`
	BuildRequirements []string `json:"build_requirements,omitempty"`
	// wheelPath and wheelSHA are the wheel pip installs for it: the
	// verified asset, or the wheel built from the verified source.
	wheelPath, wheelSHA string
	from                From
}

// Planned is one distribution pip would install.
type Planned struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url,omitempty"`
	Direct  bool   `json:"direct"`
	Guarded bool   `json:"guarded"`
	// Pinned: a guarded requirement under verify = "pin" (not verified).
	Pinned bool `json:"pinned,omitempty"`
}

// Installed is one guarded distribution after install, with its audit.
type Installed struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	Outcome  string          `json:"outcome"` // "installed", "already verified", "reinstalled"
	Decision policy.Decision `json:"audit"`
}

// InstallReport is what an install did.
type InstallReport struct {
	Python      string     `json:"python"`
	Site        []string   `json:"site_packages"`
	From        From       `json:"from"`
	DryRun      bool       `json:"dry_run"`
	Guarded     []*Guarded `json:"guarded"`
	PassThrough []string   `json:"pass_through"`
	Plan        []Planned  `json:"plan"`
	// Lock is what pip was told to install, each item pinned.
	Lock      []Locked    `json:"lock"`
	Installed []Installed `json:"installed"`
	// RolledBack says that a failure after pip started was undone: the
	// environment is as it was before the run.
	RolledBack bool `json:"rolled_back,omitempty"`
	// Pip is the target's pip version; PipMode says how it ran
	// ("in-process": one interpreter for the whole install, or "separate").
	Pip     string `json:"pip,omitempty"`
	PipMode string `json:"pip_mode,omitempty"`
	// Timings says where the time went, per stage.
	Timings []Timing `json:"timings"`
	// Warnings are what the policy lets through but the user should see.
	Warnings      []string `json:"warnings,omitempty"`
	pythonVersion string
	indexURLs     []string
	// DependencyConflicts are what pip check reports after the install
	// (a warning, or under dependency_conflicts = "error" a failure).
	DependencyConflicts []string `json:"dependency_conflicts,omitempty"`
}

// Timing is one stage's wall time.
type Timing struct {
	Stage   string        `json:"stage"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

func (r *InstallReport) timed(stage string, start time.Time) {
	r.Timings = append(r.Timings, Timing{Stage: stage, Elapsed: time.Since(start)})
}

// NotGitHubError is a git requirement whose repository is not on the
// configured GitHub: there is no release to verify.
type NotGitHubError struct{ Requirement, Host, Repo string }

func (e *NotGitHubError) Error() string {
	return fmt.Sprintf("%s: the repository is not on %s, so there is no GitHub release to verify", e.Requirement, e.Host)
}

// Hint says what to do.
func (e *NotGitHubError) Hint() string {
	h := "point the requirement at the GitHub repository, or pass --github-url for GitHub Enterprise Server"
	if m := policy.MatchFor(e.Repo); m != "" {
		// A value the policy accepts for this repository (a GitLab
		// subgroup, a file:// path).
		h += fmt.Sprintf(`; to install it pinned to its commit but unverified, add [[tool.pipguard.repo]] match = %q verify = "pin" to the policy`, m)
	}
	return h
}

// RefusedError is an install refused before pip changed anything.
type RefusedError struct {
	Reasons []string
	Fix     string
}

func (e *RefusedError) Error() string { return strings.Join(e.Reasons, "; ") }

// Hint says what to do.
func (e *RefusedError) Hint() string { return e.Fix }

// AuditError is pip having installed something other than the lock, or a
// direct_url.json that does not match what was verified. The environment
// has been rolled back.
type AuditError struct {
	Reasons []string
}

func (e *AuditError) Error() string {
	return "pip did not install what was verified and locked: " + strings.Join(e.Reasons, "; ")
}

// Hint says what to do.
func (e *AuditError) Hint() string {
	return "the environment was rolled back; something between pipguard and pip changed what was installed (pip configuration, a cache, a wrapper): investigate before retrying"
}

// Install runs the whole pipeline as one transaction: parse; start the
// target interpreter (it imports pip while pipguard verifies); resolve and
// verify every guarded requirement, listing each ref once; let pip resolve
// once (--dry-run --report, wheels only unless AllowSourceBuilds) and refuse
// any unverified direct reference; turn that resolution into a lock that
// pip installs exactly (--no-deps, every item pinned by version and hash)
// after stashing what it will replace; check pip's own report against the
// lock and direct_url.json against what was verified; and roll everything
// back on any failure or interruption. Nothing reaches pip unless
// everything verified.
func Install(ctx context.Context, cfg Config, o InstallOptions) (*InstallReport, error) {
	if o.From == "" {
		o.From = FromRelease
	}
	pol, err := o.policy()
	if err != nil {
		return nil, err
	}
	o.Rules = pol
	o.AllowSourceBuilds = pol.Global.AllowSourceBuilds.V
	rep := &InstallReport{Python: o.Python, From: o.From, DryRun: o.DryRun, Guarded: []*Guarded{}, PassThrough: []string{}, Plan: []Planned{}, Lock: []Locked{}, Installed: []Installed{}, Timings: []Timing{}}

	entries, err := collect(o)
	if err != nil {
		return nil, err
	}
	if !hasRequirement(entries) {
		// As pip does with an empty requirements file: nothing to do.
		rep.Warnings = append(rep.Warnings, "no requirements to install: "+strings.Join(o.Files, ", ")+" name(s) none")
		return rep, nil
	}
	// What the text alone refuses (no ref, a branch by name, a short SHA)
	// is refused before any network access.
	if err := RefuseByText(entries); err != nil {
		return nil, err
	}
	if err := checkPipOptions(entries, o); err != nil {
		return nil, err
	}
	if err := checkOthers(entries, o, rep); err != nil {
		return nil, err
	}
	var markers []string
	for _, e := range entries {
		if e.Constraint {
			continue
		}
		if e.Req != nil && e.Req.Kind == requirement.KindVCS {
			rep.Guarded = append(rep.Guarded, &Guarded{Requirement: e.Req.String(), Source: where(e), Name: e.Req.Name, req: e.Req, hashes: e.Hashes()})
			if e.Req.Marker != "" {
				markers = append(markers, e.Req.Marker)
			}
		} else if e.Req != nil {
			rep.PassThrough = append(rep.PassThrough, e.Req.String())
		}
	}

	// pip's messages that name pipguard's own requirements file are
	// mapped back to the user's file and line.
	var pipFile PipFile
	o.Output = pipFile.Writer(o.Output)

	// The interpreter starts now and imports pip while Go verifies.
	start := time.Now()
	py, err := pip.Start(ctx, pip.Options{Python: o.Python, Output: o.Output, Markers: markers, Separate: o.SeparatePip, AllowSourceBuilds: o.AllowSourceBuilds, Indexes: o.Rules.Indexes.V})
	if err != nil {
		return nil, err
	}
	defer py.Close()

	dir, cleanup, err := DownloadDir()
	if err != nil {
		return nil, err
	}
	defer cleanup()

	// The cache writes of the releases that verified are made while pip
	// resolves, and before the download directory goes (they copy from it).
	var writes cacheWrites
	o.deferCacheWrites = writes.add
	defer writes.wait()
	verr := verifyAll(ctx, cfg, o, py, rep.Guarded, dir)
	writes.start()
	if err := verr; err != nil {
		// An interpreter that cannot be used is the first thing to fix,
		// whatever else failed meanwhile.
		if _, perr := py.Info(); perr != nil {
			return rep, interrupted(ctx, "the interpreter probe", perr, nil)
		}
		return rep, interrupted(ctx, "verification", err, nil)
	}
	info, err := py.Info()
	if err != nil {
		return rep, interrupted(ctx, "the interpreter probe", err, nil)
	}
	rep.Site, rep.Pip, rep.pythonVersion = info.Site, info.Pip, info.Version
	rep.timed("probe, resolve and verify", start)
	if err := checkPinsDidNotMove(info, rep.Guarded); err != nil {
		return rep, err
	}
	if err := recoverUnfinished(ctx, info.Prefix, o.DryRun, rep); err != nil {
		return rep, err
	}

	common := pipOptions(o, rep.Guarded)
	start = time.Now()
	if err := buildGuarded(ctx, py, dir, o, rep.Guarded, append(append([]string{}, o.PipArgs...), common...)); err != nil {
		return rep, interrupted(ctx, "building the verified source", err, nil)
	}
	for _, g := range rep.Guarded {
		if g.Built {
			rep.timed("build (locked build requirements)", start)
			break
		}
	}
	reqFile, err := writeRequirements(dir, entries, rep.Guarded)
	if err != nil {
		return rep, err
	}
	pipFile.Learn(reqFile, entries, rep.Guarded)
	start = time.Now()
	plan, err := resolveOnce(py, dir, reqFile, append(append([]string{}, o.PipArgs...), common...), o.lockOnly, rep.Guarded, func(u string) bool {
		return o.AllowDirect || o.Rules.DirectAllowed(cfg.tokenHost(), u)
	})
	rep.PipMode = py.Mode
	if err != nil {
		return rep, interrupted(ctx, "pip's resolution", pipFile.MapError(err), nil)
	}
	rep.timed("pip resolve (dry run)", start)
	if hookAfterResolve != nil {
		hookAfterResolve()
	}
	if err := checkPlan(plan, rep, func(u string) bool { return o.AllowDirect || o.Rules.DirectAllowed(cfg.tokenHost(), u) }); err != nil {
		return rep, err
	}
	lk, err := buildLock(plan, rep, info)
	if err != nil {
		return rep, err
	}
	if err := checkSatisfiedPins(py, dir, entries, plan, lk, info, append(append([]string{}, o.PipArgs...), common...)); err != nil {
		return rep, interrupted(ctx, "checking installed pins", err, nil)
	}
	rep.Lock = lk.items

	// Fetch: every file of the lock into pipguard's private directory,
	// hashed there. Plan: every path each wheel writes, and the conflicts.
	start = time.Now()
	if err := buildDirect(ctx, py, o.Output, dir, lk, plan.Kept, common, o.Rules); err != nil {
		return rep, interrupted(ctx, "building wheels", err, nil)
	}
	files := filepath.Join(dir, "files")
	if err := fetch(lk, plan.Kept, files); err != nil {
		return rep, err
	}
	var held *pip.Held
	if !o.lockOnly {
		if held, err = startFiles(py, dir, files, lk, o); err != nil {
			return rep, interrupted(ctx, "pip install", err, nil)
		}
	}
	// Index files: their PEP 740 provenance, for the bytes pipguard just
	// hashed, by the publisher the policy names (while pip resolves them).
	rep.indexURLs = plan.IndexURLs
	warns, err := verifyIndexFiles(ctx, cfg, o, lk, plan.IndexURLs, o.ProvenanceDir)
	rep.Lock = lk.items
	if err != nil {
		stopHeld(held)
		return rep, interrupted(ctx, "verifying index provenance", err, nil)
	}
	rep.Warnings = append(rep.Warnings, warns...)
	if o.lockOnly {
		return rep, nil
	}
	rep, err = installFiles(ctx, py, held, dir, files, lk, rep, info, o, start)
	return rep, pipFile.MapError(err)
}

// startFiles starts pip's install of the lock on the local files (see
// startLocked), unless this is a dry run or there is nothing to install:
// nil then. pip resolves while pipguard goes on (the provenance of the
// index files, the plan, the stash) and writes nothing until installFiles
// lets it.
func startFiles(py *pip.Session, dir, files string, lk *lock, o InstallOptions) (*pip.Held, error) {
	if o.DryRun || len(lk.items) == 0 {
		return nil, nil
	}
	return startLocked(py, dir, files, lk, o)
}

// stopHeld stops a held pip, if any, after an error of pipguard's own,
// which is the one reported.
func stopHeld(h *pip.Held) {
	if h != nil {
		_ = h.Stop()
	}
}

// installFiles is every stage after the fetch, for a lock whose every file
// is in files, hashed by pipguard: the plan of paths and its conflicts
// (where a dry run stops), the stash by plan with its journal, pip on the
// local files alone, the check, and the commit or the rollback.
//
// held is pip's install of the lock, started (startFiles) before the plan:
// it parses its options and resolves the lock on the local files (reading
// them and the installed distributions, writing nothing) while Go plans and
// stashes, and it waits before its first write until the stash is
// complete. A plan that refuses, or a stash that fails, stops it there. It
// is nil for a dry run or an empty lock.
func installFiles(ctx context.Context, py *pip.Session, held *pip.Held, dir, files string, lk *lock, rep *InstallReport, info *pip.Info, o InstallOptions, start time.Time) (*InstallReport, error) {
	pp, err := planPaths(lk, info)
	rep.Lock = lk.items
	if err != nil {
		stopHeld(held)
		return rep, err
	}
	rep.timed("fetch and plan", start)
	if held == nil {
		// A dry run, nothing to do, or everything is installed already and
		// every guarded record matches.
		return rep, nil
	}

	// Stage: every existing path the plan writes, and every file the
	// replaced distributions have, is stashed; the journal says how to
	// undo this run if pipguard itself is killed.
	start = time.Now()
	before, err := layout.Survey(info.Prefix)
	if err != nil {
		stopHeld(held)
		return rep, fmt.Errorf("reading the environment before the install: %w", err)
	}
	tx, err := txn.Begin(pp.spec(info, runLabel(lk)))
	if err != nil {
		stopHeld(held)
		return rep, interrupted(ctx, "the stash", err, nil)
	}
	rep.timed("stash", start)
	start = time.Now()
	held.Resolved()
	rep.timed("pip resolve (local files), beyond the plan", start)
	err = installLocked(ctx, py, held, lk, rep, info, o, pp, before, tx)
	if err == nil {
		if hookAfterInstall != nil {
			hookAfterInstall()
		}
		err = ctx.Err()
	}
	if err != nil {
		start = time.Now()
		rerr := rollback(ctx, tx)
		if rerr == nil {
			rerr = unrestored(pp, before, info.Prefix, tx.Dir())
		}
		rep.RolledBack = rerr == nil
		rep.timed("rollback", start)
		return rep, interrupted(ctx, "pip install", err, rerr)
	}
	if err := tx.Commit(); err != nil {
		return rep, fmt.Errorf("dropping the stash: %w", err)
	}
	return rep, nil
}

// recoverUnfinished finds the stash of a run that did not finish in this
// environment (pipguard was killed: SIGKILL, a power cut, an OOM kill)
// and puts the environment back as it was before that run, before
// anything else happens. A dry run only says so.
func recoverUnfinished(ctx context.Context, prefix string, dryRun bool, rep *InstallReport) error {
	runs, err := txn.Pending(prefix)
	if err != nil {
		return fmt.Errorf("looking for unfinished runs: %w", err)
	}
	for _, u := range runs {
		what := fmt.Sprintf("an unfinished run (%s, started %s) left its stash in %s", u.Label, u.Started.Format(time.RFC3339), u.Dir)
		if dryRun {
			rep.Warnings = append(rep.Warnings, what+"; pipguard install will restore the environment from it first")
			continue
		}
		if err := txn.Recover(ctx, u); err != nil {
			return &RollbackError{Cause: fmt.Errorf("%s", what), Err: err}
		}
		rep.Warnings = append(rep.Warnings, what+"; the environment was restored to what it was before that run")
	}
	return nil
}

// unrestored is what a rollback could not put back: paths outside the plan
// that changed during the run (the plan says everything pip may write, so
// only something else, or a pip that wrote where no wheel says, changes
// them). The prefix is surveyed again and compared with the survey made
// before the stash.
func unrestored(pp *paths, before *layout.Snapshot, prefix, stash string) error {
	after, err := layout.Survey(prefix)
	if err != nil {
		return &txn.RollbackError{Problems: []string{"reading the environment after the rollback: " + err.Error()}}
	}
	var problems []string
	for _, c := range pp.outsidePlan(layout.Changed(before, after), prefix, stash) {
		problems = append(problems, c+" changed during the run, and no locked wheel writes it, so the rollback could not restore it")
	}
	if len(problems) > 0 {
		return &txn.RollbackError{Problems: problems}
	}
	return nil
}

// runLabel names a run in its journal.
func runLabel(lk *lock) string {
	names := lk.names()
	if len(names) > 5 {
		names = append(names[:5], fmt.Sprintf("and %d more", len(names)-5))
	}
	return fmt.Sprintf("pipguard install of %s (pid %d)", strings.Join(names, ", "), os.Getpid())
}

// resolveOnce is pip's one resolution, under the rule that no code runs
// that nothing verified: the driver refuses, before pip downloads,
// prepares or builds it, every link that is neither a wheel the finder
// found on an index nor one pipguard allows (the verified assets and
// commits). A refused link that the policy's allow_direct (or
// --allow-direct) admits is allowed and the resolution asked again; any
// other is refused with the chain that required it. Every file the
// resolution read is kept in pipguard's directory for the fetch.
func resolveOnce(py *pip.Session, dir, reqFile string, args []string, fresh bool, gs []*Guarded, allowDirect func(string) bool) (*pip.Report, error) {
	var allowed []string
	for _, g := range gs {
		if _, u, ok := strings.Cut(g.PipRequirement, " @ "); ok && g.Skipped == "" {
			u, _, _ = strings.Cut(u, "#")
			allowed = append(allowed, u)
		}
	}
	for attempt := 0; ; attempt++ {
		plan, err := py.InstallWith(dir, pip.InstallRequest{DryRun: true, Fresh: fresh, ReqFile: reqFile, Args: args, AllowLinks: allowed, KeepDir: filepath.Join(dir, "kept")})
		var le *pip.LinkError
		if !errors.As(err, &le) {
			return plan, err
		}
		var reasons []string
		for _, l := range le.Links {
			if allowDirect(l.URL) && attempt < 8 {
				allowed = append(allowed, l.URL)
				continue
			}
			why := fmt.Sprintf("pip's resolution reached %s, which pipguard did not verify", l.URL)
			if len(l.Chain) > 0 {
				why += " (" + strings.Join(l.Chain, ", ") + ")"
			}
			reasons = append(reasons, why+"; nothing was downloaded or built")
		}
		if len(reasons) > 0 {
			return nil, &RefusedError{Reasons: reasons, Fix: "pin that dependency through a verified release or an index wheel, or list it in the policy's allow_direct (or pass --allow-direct) if you accept it unverified: it will be built and its code run"}
		}
	}
}

// cacheWrites are the deferred cache writes of an install's releases,
// made in one goroutine once every release is verified.
type cacheWrites struct {
	mu     sync.Mutex
	writes []func()
	done   chan struct{}
}

func (c *cacheWrites) add(w func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, w)
}

// start makes the writes in the background.
func (c *cacheWrites) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	writes := c.writes
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for _, w := range writes {
			w()
		}
	}()
}

// wait waits for the writes start began.
func (c *cacheWrites) wait() {
	if c.done != nil {
		<-c.done
	}
}

// hookAfterResolve, when set by a test, runs after pip's resolution.
var hookAfterResolve func()

// hookAfterInstall, when set by a test, runs after the locked install and
// its audit succeeded, just before the commit.
var hookAfterInstall func()

// rollbackTimeout bounds a rollback, which runs even when the install was
// interrupted.
const rollbackTimeout = 2 * time.Minute

// rollback puts the environment back under a context that the install's
// interruption does not cancel, with its own deadline.
func rollback(ctx context.Context, tx *txn.Txn) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	return tx.Rollback(rctx)
}

// InterruptedError is an install stopped by its context (Ctrl-C, SIGTERM,
// a deadline). The environment was rolled back unless RollbackErr says
// otherwise.
type InterruptedError struct {
	Stage       string
	Cause       error
	RollbackErr error
}

func (e *InterruptedError) Error() string {
	msg := fmt.Sprintf("interrupted during %s (%v)", e.Stage, e.Cause)
	if e.RollbackErr != nil {
		return msg + "; restoring the environment failed: " + e.RollbackErr.Error()
	}
	return msg + "; the environment was left as it was"
}

// Unwrap returns the cause (a signal, a deadline).
func (e *InterruptedError) Unwrap() error { return e.Cause }

// Hint says what to do.
func (e *InterruptedError) Hint() string {
	if e.RollbackErr != nil {
		return "restore the environment by hand from the stash named above, or recreate it"
	}
	return "run the same command again"
}

// interrupted returns err, or an *InterruptedError when ctx was cancelled,
// adding a failed rollback to either.
func interrupted(ctx context.Context, stage string, err, rollbackErr error) error {
	if ctx.Err() != nil {
		return &InterruptedError{Stage: stage, Cause: context.Cause(ctx), RollbackErr: rollbackErr}
	}
	if rollbackErr != nil {
		return &RollbackError{Cause: err, Err: rollbackErr}
	}
	return err
}

// RollbackError is a failure after pip started whose rollback did not
// restore everything: the environment is not as it was. Its exit code is
// its cause's; its words and hint say what is left.
type RollbackError struct {
	Cause error
	Err   error
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("%v; and the environment could not be fully restored: %v", e.Cause, e.Err)
}

// Unwrap returns the failure that made the rollback necessary.
func (e *RollbackError) Unwrap() error { return e.Cause }

// Hint says what to do.
func (e *RollbackError) Hint() string {
	return "the environment was changed and is not as it was: fix what is named above (reinstall those distributions) or recreate the environment"
}

// policy is o.Rules, or the policy the legacy fields say, as flags.
func (o InstallOptions) policy() (*policy.Policy, error) {
	if o.Rules != nil {
		return o.Rules, nil
	}
	f := policy.Flags{}
	if o.Policy.SignerWorkflow != "" {
		f.SignerWorkflow = &o.Policy.SignerWorkflow
	}
	if o.Policy.SignerRepo != "" {
		f.SignerRepo = &o.Policy.SignerRepo
	}
	if o.Policy.SourceRef != "" {
		f.SourceRefs = []string{o.Policy.SourceRef}
	}
	if o.MaxCommitDistance != 0 {
		f.MaxCommitDistance = &o.MaxCommitDistance
	}
	f.DenySelfHosted, f.RequireSBOM, f.RequireRelease = &o.Policy.DenySelfHosted, &o.RequireSBOM, &o.RequireReleaseAttestation
	from := string(o.From)
	f.InstallFrom, f.AllowSdist, f.AllowSourceBuilds = &from, &o.AllowSdist, &o.AllowSourceBuilds
	return policy.Default().WithFlags(f)
}

// pipOptions are the options pipguard adds to every pip install it runs.
func pipOptions(o InstallOptions, gs []*Guarded) []string {
	var args []string
	if !o.AllowSourceBuilds {
		// No build backend of any dependency runs: pip takes wheels only
		// from indexes. The guarded requirement itself (a verified sdist,
		// or the verified commit with --from git) is a direct reference,
		// which pip still builds.
		args = append(args, "--only-binary", ":all:")
	}
	for _, g := range gs {
		if g.from == FromGit || g.Policy != nil && g.Policy.AllowSdist.V {
			// A wheel pip cached from an earlier build would bypass the
			// build of what was verified (or pinned).
			args = append(args, "--no-cache-dir")
			break
		}
	}
	return args
}

// pipValueOptions are pip install options that take a separate value.
var pipValueOptions = map[string]bool{"-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true,
	"--trusted-host": true, "--cert": true, "--client-cert": true, "--proxy": true, "--timeout": true, "--retries": true,
	"--progress-bar": true, "--upgrade-strategy": true, "-C": true, "--config-settings": true, "--global-option": true,
	"--log": true, "--cache-dir": true, "--exists-action": true, "--keyring-provider": true, "--use-feature": true,
	"--use-deprecated": true, "--root-user-action": true, "--no-binary": true, "--only-binary": true, "--platform": true,
	"--python-version": true, "--implementation": true, "--abi": true, "--build-option": true,
	// refused below, listed so their values are not taken for requirements
	"-t": true, "--target": true, "--prefix": true, "--root": true, "--src": true, "--report": true,
	"-r": true, "--requirement": true, "-c": true, "--constraint": true, "-e": true, "--editable": true, "--python": true}

// Why pip arguments are refused.
const (
	whyOutside  = "installs outside the interpreter's site-packages, where pipguard cannot audit or roll back"
	whyReqFile  = "goes before --: pipguard must read every requirements file"
	whyEditable = "makes an editable install, which cannot be verified"
)

// pipRefusedOptions would make pip install somewhere pipguard does not
// audit or roll back, or change the run pipguard controls.
var pipRefusedOptions = map[string]string{
	"-t": whyOutside, "--target": whyOutside, "--prefix": whyOutside, "--root": whyOutside, "--user": whyOutside, "--src": whyOutside,
	"-r": whyReqFile, "--requirement": whyReqFile, "-c": whyReqFile, "--constraint": whyReqFile,
	"-e": whyEditable, "--editable": whyEditable,
	"--report":  "is pipguard's: it reads pip's report itself (see --format json)",
	"--dry-run": "is pipguard's: use pipguard install --dry-run",
	"--python":  "makes pip run in another interpreter, which would resolve and install where pipguard did not look: use pipguard's own --python",
}

// weakensBinaryOnly says whether a format-control option would let pip
// build from source: any --no-binary, or --only-binary with :none:.
func weakensBinaryOnly(name, value string) bool {
	return name == "--no-binary" || name == "--only-binary" && strings.Contains(value, ":none:")
}

// checkPipOptions checks what is passed to pip after -- and the option
// lines of requirements and constraints files. Requirements go before --
// (pipguard must read them all). Options that install elsewhere are
// refused. Unless source builds are allowed, so is anything that would let
// pip build from source behind the lock's back: pip applies option lines
// from files after the command line, so a --no-binary or --only-binary
// :none: there would override pipguard's --only-binary :all:.
func checkPipOptions(entries []reqfile.Entry, o InstallOptions) error {
	var reasons []string
	fix := "requirements go before --, and pipguard's --python picks the environment"
	args := o.PipArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "-") {
			reasons = append(reasons, fmt.Sprintf("pip argument %q is not an option; requirements go before -- (write --option=%s if it is an option's value)", a, a))
			continue
		}
		if !hasValue && pipValueOptions[name] && i+1 < len(args) {
			value = args[i+1]
			i++
		}
		if why, refused := pipRefusedOptions[name]; refused {
			reasons = append(reasons, fmt.Sprintf("pip argument %s %s", name, why))
		}
		if !o.AllowSourceBuilds && (weakensBinaryOnly(name, value) || name == "--global-option" || name == "--build-option") {
			reasons = append(reasons, fmt.Sprintf("pip argument %s %s asks pip to build from source, running the build code of what it downloads", name, value))
			fix = "drop it, or pass --allow-source-builds if you accept running index sdists' build code"
		}
	}
	for _, e := range entries {
		for _, lo := range e.LineOptions {
			if name, _, _ := strings.Cut(lo, "="); !o.AllowSourceBuilds && (name == "--global-option" || name == "--build-option") {
				reasons = append(reasons, fmt.Sprintf("%s: %s makes pip build every distribution from source, running its build code", where(e), name))
				fix = "drop it, or pass --allow-source-builds if you accept running index sdists' build code"
			}
		}
		if len(e.Option) == 2 && !o.AllowSourceBuilds && weakensBinaryOnly(e.Option[0], e.Option[1]) {
			reasons = append(reasons, fmt.Sprintf("%s: %s %s asks pip to build from source, running the build code of what it downloads", where(e), e.Option[0], e.Option[1]))
			fix = "drop it, or pass --allow-source-builds if you accept running index sdists' build code"
		}
	}
	if len(reasons) > 0 {
		return &RefusedError{Reasons: reasons, Fix: fix}
	}
	return nil
}

func where(e reqfile.Entry) string {
	if e.File == "" {
		return fmt.Sprintf("argument %d", e.Line)
	}
	return fmt.Sprintf("%s:%d", e.File, e.Line)
}

// collect parses the command-line requirements and the -r files.
func collect(o InstallOptions) ([]reqfile.Entry, error) {
	var entries []reqfile.Entry
	for i, r := range o.Requirements {
		req, err := requirement.Parse(r)
		if err != nil {
			return nil, err
		}
		entries = append(entries, reqfile.Entry{Req: req, ReqText: r, Line: i + 1})
	}
	for _, f := range o.Files {
		es, err := reqfile.ParseFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &reqfile.Error{File: f, Msg: "no such requirements file", Fix: "check the -r path (relative to the current directory)"}
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	return entries, nil
}

// verifyAll resolves and verifies every guarded requirement, at most
// o.Concurrency at a time. All are tried so every problem is reported.
func verifyAll(ctx context.Context, cfg Config, o InstallOptions, py *pip.Session, gs []*Guarded, dir string) error {
	n := o.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	errs := make([]error, len(gs))
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		go func(i int, g *Guarded) {
			defer wg.Done()
			// A requirement with a marker waits for the interpreter's
			// answer before anything else; the others list their refs and
			// read their releases meanwhile, and wait only to pick a wheel.
			if g.req.Marker != "" {
				info, err := py.Info()
				if err != nil {
					errs[i] = err
					return
				}
				if v, ok := info.Markers[g.req.Marker].(bool); !ok {
					errs[i] = &RefusedError{Reasons: []string{fmt.Sprintf("%s: invalid marker %q: %v", g.Source, g.req.Marker, info.Markers[g.req.Marker])}}
					return
				} else if !v {
					g.Skipped = "environment marker is false for the target interpreter"
					return
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = verifyOne(ctx, cfg, o, py, g, filepath.Join(dir, fmt.Sprintf("asset-%d", i)))
		}(i, g)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// verifyOne resolves, picks the asset, verifies the release and checks
// the wheel's own metadata, then sets PipRequirement.
func verifyOne(ctx context.Context, cfg Config, o InstallOptions, py *pip.Session, g *Guarded, dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	g.assetDir = dir
	v := g.req.VCS
	label := g.Source + ": " + g.Requirement
	host := cfg.tokenHost()
	// Off the GitHub host a repository is named with its host, as a
	// policy table matches it.
	repo, onGitHub := v.Repo(host)
	g.Repo = repo
	if g.Name == "" {
		g.Name = strings.TrimSuffix(filepath.Base(v.Path), ".git")
	}
	eff := o.Rules.For(repo)
	g.Policy, g.from = &eff, From(eff.InstallFrom.V)
	if eff.Verify.V == policy.VerifyPin {
		return pinOne(ctx, cfg, g)
	}
	if !onGitHub {
		return &NotGitHubError{Requirement: label, Host: host, Repo: repo}
	}

	res, err := resolveVCS(ctx, cfg, v)
	g.Resolution = res
	if err != nil {
		return fmt.Errorf("%s: %w", g.Source, err)
	}
	tags := []string{strings.TrimPrefix(res.RefName, "refs/tags/")}
	if res.Kind == gitref.Commit {
		tags = res.TagsAtCommit
		if len(tags) == 0 {
			return &RefusedError{Reasons: []string{label + ": commit " + res.Commit + " has no tag, so no release vouches for it"},
				Fix: "pin the release's tag instead"}
		}
	}

	var lastErr error
	for _, tag := range tags {
		g.Tag = tag
		version := strings.TrimPrefix(strings.TrimPrefix(tag, "v"), "V")
		var choice *wheel.Choice
		// The ref was listed once, above; the release is verified against
		// that listing's commit, never a second one.
		tagRes := *res
		if res.Kind == gitref.Commit {
			tagRes.RefName = "refs/tags/" + tag
		}
		ro := ReleaseOptionsFor(eff)
		ro.Repo, ro.Tag, ro.Dir, ro.Trust, ro.Resolution = repo, tag, dir, o.Trust, &tagRes
		ro.DeferCacheWrites = o.deferCacheWrites
		ro.Choose = func(names []string) ([]string, error) {
			info, err := py.Info()
			if err != nil {
				return nil, err
			}
			c, err := wheel.Choose(names, g.Name, version, info.Tags, eff.AllowSdist.V)
			choice = c
			if err != nil {
				return nil, noAssetError(label, tag, c)
			}
			return []string{c.Asset}, nil
		}
		rr, err := VerifyRelease(ctx, cfg, ro)
		g.Release = rr
		var re *ReleaseError
		if errors.As(err, &re) && len(tags) > 1 && strings.Contains(re.Error(), "no published release") {
			lastErr = err
			continue // another tag at this commit may have the release
		}
		if err != nil {
			return fmt.Errorf("%s: %w", g.Source, err)
		}
		a := rr.Asset(choice.Asset)
		g.Asset, g.SHA256, g.AssetReason, g.assetPath = a.Name, a.SHA256, choice.Reason, a.Path
		g.wheelPath, g.wheelSHA = a.Path, a.SHA256
		if err := checkAsset(label, g, a, choice, version); err != nil {
			return err
		}
		g.PipRequirement = pipRequirement(g, a, g.from, res.Commit)
		return nil
	}
	return lastErr
}

func noAssetError(label, tag string, c *wheel.Choice) error {
	var why []string
	for name, reason := range c.Skipped {
		why = append(why, name+": "+reason)
	}
	sort.Strings(why)
	msg := label + ": release " + tag + " has no asset for the target interpreter"
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return &RefusedError{Reasons: []string{msg}, Fix: "use --python for another interpreter, --allow-sdist to build the sdist, or --from git"}
}

// checkAsset checks the chosen asset's own metadata and the user's --hash
// pins against what was verified.
func checkAsset(label string, g *Guarded, a *AssetReport, c *wheel.Choice, version string) error {
	if !c.File.Sdist {
		name, ver, err := wheel.Metadata(a.Path)
		if err != nil {
			return &RefusedError{Reasons: []string{label + ": " + err.Error()}}
		}
		// The version the chosen file's name gives (the tag's, or the
		// tag's with a local label, which == accepts as pip does).
		if requirement.Normalize(name) != requirement.Normalize(g.Name) || wheel.CanonicalVersion(ver) != wheel.CanonicalVersion(c.File.Version) {
			return &RefusedError{Reasons: []string{fmt.Sprintf("%s: the wheel's METADATA says %s %s, expected %s %s", label, name, ver, g.Name, c.File.Version)},
				Fix: "the release carries another project's wheel; tell the maintainers"}
		}
	}
	return checkHashes(label, g.hashes, a)
}

// hasRequirement says whether entries name anything to install (not only
// options and constraints).
func hasRequirement(entries []reqfile.Entry) bool {
	for _, e := range entries {
		if e.Req != nil && !e.Constraint {
			return true
		}
	}
	return false
}

// checkHashes checks the user's --hash pins against the verified asset as
// pip does: the asset must match one of them (pip accepts any listed hash,
// as a requirement may name its wheel's and its sdist's). sha384 and sha512
// pins are computed and checked like sha256 ones; any other algorithm is
// refused, as pip refuses it.
func checkHashes(label string, hashes []string, a *AssetReport) error {
	if len(hashes) == 0 {
		return nil
	}
	digests := map[string]string{"sha256": a.SHA256}
	for _, h := range hashes {
		alg, want, _ := strings.Cut(h, ":")
		alg = strings.ToLower(alg)
		if _, ok := digests[alg]; !ok {
			var hf hash.Hash
			switch alg {
			case "sha384":
				hf = sha512.New384()
			case "sha512":
				hf = sha512.New()
			default:
				return &RefusedError{Reasons: []string{fmt.Sprintf("%s: --hash %s: pip allows sha256, sha384 and sha512 only", label, h)},
					Fix: "pin the asset's sha256 (pipguard prints it)"}
			}
			f, err := os.Open(a.Path)
			if err != nil {
				return err
			}
			_, err = io.Copy(hf, f)
			f.Close()
			if err != nil {
				return err
			}
			digests[alg] = hex.EncodeToString(hf.Sum(nil))
		}
		if strings.EqualFold(want, digests[alg]) {
			return nil
		}
	}
	return &RefusedError{Reasons: []string{fmt.Sprintf("%s: the verified asset (sha256:%s) matches none of the pinned hashes %s", label, a.SHA256, strings.Join(hashes, ", "))},
		Fix: "update the pinned hash after checking the release"}
}

// pipRequirement is what pip is given for a verified requirement.
func pipRequirement(g *Guarded, a *AssetReport, from From, commit string) string {
	name := g.Name
	if len(g.req.Extras) > 0 {
		name += "[" + strings.Join(g.req.Extras, ",") + "]"
	}
	if from == FromGit {
		// The repository at the exact commit; credentials never go to pip.
		u := g.req.VCS.WithRef(commit)
		s := "git+" + u.RepoURL() + "@" + commit
		if u.Subdirectory != "" {
			s += "#subdirectory=" + u.Subdirectory
		}
		return name + " @ " + s
	}
	// The verified bytes. The #sha256= fragment makes pip check the digest
	// itself; --hash is never added (pip would then record the fragment
	// without checking it).
	fu := url.URL{Scheme: "file", Path: a.Path, Fragment: "sha256=" + a.SHA256}
	return name + " @ " + fu.String()
}

// writeRequirements writes what pip resolves: option lines, pass-through
// requirements as written (with their per-line options), each verified
// requirement rewritten, and the constraints (from -c files) in a
// constraints file of their own. Lines come from parsed entries, so none
// contains a line break.
func writeRequirements(dir string, entries []reqfile.Entry, gs []*Guarded) (string, error) {
	var b, c strings.Builder
	gi := 0
	for _, e := range entries {
		switch {
		case e.Option != nil:
			// Written so that pip reads it back as pipguard read the
			// user's line (reqfile checks that round trip when it parses);
			// a relative --find-links is made absolute, since pip would
			// look for it next to pipguard's file first.
			if len(e.Option) == 2 && e.Option[0] == "--find-links" && !strings.Contains(e.Option[1], "://") && !filepath.IsAbs(e.Option[1]) {
				if abs, err := filepath.Abs(e.Option[1]); err == nil {
					e.Option = []string{"--find-links", abs}
				}
			}
			b.WriteString(e.PipLine() + "\n")
		case e.Constraint:
			c.WriteString(e.PipLine() + "\n")
		case e.Req.Kind == requirement.KindVCS:
			g := gs[gi]
			gi++
			if g.Skipped == "" {
				b.WriteString(g.PipRequirement + "\n")
			}
		default:
			b.WriteString(e.PipLine() + "\n")
		}
	}
	if c.Len() > 0 {
		cpath := filepath.Join(dir, "constraints.pipguard.txt")
		if err := os.WriteFile(cpath, []byte(c.String()), 0o600); err != nil {
			return "", err
		}
		b.WriteString("-c " + cpath + "\n")
	}
	path := filepath.Join(dir, "requirements.pipguard.txt")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// checkPlan refuses any direct reference pip would install that pipguard
// did not verify, naming what requires it.
func checkPlan(plan *pip.Report, rep *InstallReport, allowDirect func(url string) bool) error {
	ours := map[string]*Guarded{}
	for _, g := range rep.Guarded {
		if g.PipRequirement != "" {
			ours[pep610.Normalize(g.Name)] = g
		}
	}
	var reasons []string
	for _, it := range plan.Install {
		name := it.Metadata.Name
		p := Planned{Name: name, Version: it.Metadata.Version, URL: pep610.StripCredentials(it.DownloadInfo.URL), Direct: it.IsDirect}
		g := ours[pep610.Normalize(name)]
		p.Guarded = g != nil && it.IsDirect && sameDownload(it, g)
		p.Pinned = p.Guarded && g.Pinned
		rep.Plan = append(rep.Plan, p)
		if it.IsDirect && !p.Guarded && !allowDirect(it.DownloadInfo.URL) {
			reasons = append(reasons, fmt.Sprintf("pip would install %s %s from %s, which pipguard did not verify%s", name, p.Version, p.URL, requiredBy(plan, name)))
		}
		if g != nil && !p.Guarded {
			reasons = append(reasons, fmt.Sprintf("pip would install %s from %s instead of the verified %s", name, p.URL, g.PipRequirement))
		}
	}
	if len(reasons) > 0 {
		return &RefusedError{Reasons: reasons, Fix: "pin that dependency through a verified release, or list it in the policy's allow_direct (or pass --allow-direct) if you accept it unverified"}
	}
	return nil
}

func sameDownload(it pip.InstallItem, g *Guarded) bool {
	if g.Resolution != nil && it.DownloadInfo.VCSInfo != nil {
		return it.DownloadInfo.VCSInfo.CommitID == g.Resolution.Commit
	}
	if a := it.DownloadInfo.ArchiveInfo; a != nil && g.wheelSHA != "" {
		return strings.EqualFold(a.SHA256(), g.wheelSHA)
	}
	return false
}

// requiredBy names the distributions in the plan that depend on name.
func requiredBy(plan *pip.Report, name string) string {
	var by []string
	for _, it := range plan.Install {
		for _, r := range it.Metadata.RequiresDist {
			if req, err := requirement.Parse(r); err == nil && pep610.Normalize(req.Name) == pep610.Normalize(name) {
				by = append(by, fmt.Sprintf("%s %s requires %q", it.Metadata.Name, it.Metadata.Version, r))
			}
		}
	}
	if len(by) == 0 {
		return ""
	}
	return " (" + strings.Join(by, ", ") + ")"
}
