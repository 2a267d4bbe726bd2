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
	"sync"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
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

	req      *requirement.Requirement
	hashes   []string
	assetDir string
}

// Planned is one distribution pip would install.
type Planned struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url,omitempty"`
	Direct  bool   `json:"direct"`
	Guarded bool   `json:"guarded"`
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
	Python      string      `json:"python"`
	Site        []string    `json:"site_packages"`
	From        From        `json:"from"`
	DryRun      bool        `json:"dry_run"`
	Guarded     []*Guarded  `json:"guarded"`
	PassThrough []string    `json:"pass_through"`
	Plan        []Planned   `json:"plan"`
	Installed   []Installed `json:"installed"`
	// Uninstalled lists what was removed after a failed audit.
	Uninstalled []string `json:"uninstalled,omitempty"`
	// Timings says where the time went, per stage.
	Timings []Timing `json:"timings"`
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
type NotGitHubError struct{ Requirement, Host string }

func (e *NotGitHubError) Error() string {
	return fmt.Sprintf("%s: the repository is not on %s, so there is no GitHub release to verify", e.Requirement, e.Host)
}

// Hint says what to do.
func (e *NotGitHubError) Hint() string {
	return "point the requirement at the GitHub repository, or pass --github-url for GitHub Enterprise Server"
}

// RefusedError is an install refused before pip changed anything.
type RefusedError struct {
	Reasons []string
	Fix     string
}

func (e *RefusedError) Error() string { return strings.Join(e.Reasons, "; ") }

// Hint says what to do.
func (e *RefusedError) Hint() string { return e.Fix }

// AuditError is a direct_url.json that does not match what was verified.
// What this run installed has been uninstalled.
type AuditError struct {
	Reasons     []string
	Uninstalled []string
}

func (e *AuditError) Error() string {
	msg := "pip did not install what was verified: " + strings.Join(e.Reasons, "; ")
	if len(e.Uninstalled) > 0 {
		msg += " (uninstalled " + strings.Join(e.Uninstalled, ", ") + ")"
	}
	return msg
}

// Hint says what to do.
func (e *AuditError) Hint() string {
	return "something between pipguard and pip changed what was installed (pip configuration, a cache, a wrapper); investigate before retrying"
}

// Install runs the whole pipeline: parse, resolve and verify every guarded
// requirement, pick and verify the asset for the interpreter, dry-run pip
// and refuse any unverified direct reference, install exactly the verified
// bytes (or commit), and audit what pip recorded. Nothing reaches pip unless
// everything verified.
func Install(ctx context.Context, cfg Config, o InstallOptions) (*InstallReport, error) {
	if o.From == "" {
		o.From = FromRelease
	}
	rep := &InstallReport{Python: o.Python, From: o.From, DryRun: o.DryRun, Guarded: []*Guarded{}, PassThrough: []string{}, Plan: []Planned{}, Installed: []Installed{}, Timings: []Timing{}}

	entries, err := collect(o)
	if err != nil {
		return nil, err
	}
	py := pip.Python{Path: o.Python, Output: o.Output}
	var markers []string
	for _, e := range entries {
		if e.Req != nil && e.Req.Kind == requirement.KindVCS {
			rep.Guarded = append(rep.Guarded, &Guarded{Requirement: e.Req.String(), Source: where(e), Name: e.Req.Name, req: e.Req, hashes: e.Hashes()})
			if e.Req.Marker != "" {
				markers = append(markers, e.Req.Marker)
			}
		} else if e.Req != nil {
			rep.PassThrough = append(rep.PassThrough, e.Req.String())
		}
	}
	start := time.Now()
	info, err := py.Probe(ctx, markers)
	if err != nil {
		return nil, err
	}
	rep.Site = info.Site
	rep.timed("probe interpreter", start)

	dir, cleanup, err := DownloadDir()
	if err != nil {
		return nil, err
	}
	defer cleanup()

	start = time.Now()
	if err := verifyAll(ctx, cfg, o, info, rep.Guarded, dir); err != nil {
		return rep, err
	}
	rep.timed("resolve and verify", start)

	reqFile, err := writeRequirements(dir, entries, rep.Guarded)
	if err != nil {
		return rep, err
	}
	args := append([]string{"-r", reqFile}, o.PipArgs...)
	if o.From == FromGit {
		// A cached wheel built from a VCS URL would bypass pip's checks.
		args = append(args, "--no-cache-dir")
	}

	start = time.Now()
	plan, err := py.Install(ctx, dir, true, args...)
	if err != nil {
		return rep, err
	}
	rep.timed("pip dry run", start)
	if err := checkPlan(plan, rep, o.AllowDirect); err != nil {
		return rep, err
	}
	if o.DryRun {
		return rep, nil
	}

	start = time.Now()
	before := installedSet(info)
	done, err := py.Install(ctx, dir, false, args...)
	if err != nil {
		// pip builds every wheel before installing any, but an install can
		// still fail half way (a full disk, a killed process): remove what
		// appeared, so a failure leaves the environment as it was.
		if added := newDists(before, installedSet(info)); len(added) > 0 {
			if uerr := py.Uninstall(ctx, added...); uerr == nil {
				rep.Uninstalled = added
			}
		}
		return rep, err
	}
	rep.timed("pip install", start)
	start = time.Now()
	err = audit(ctx, py, info, rep, done, dir, o.PipArgs)
	rep.timed("audit", start)
	return rep, err
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
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	if len(entries) == 0 {
		return nil, &RefusedError{Reasons: []string{"nothing to install"}, Fix: "pass a requirement or -r FILE"}
	}
	return entries, nil
}

// verifyAll resolves and verifies every guarded requirement, at most
// o.Concurrency at a time. All are tried so every problem is reported.
func verifyAll(ctx context.Context, cfg Config, o InstallOptions, info *pip.Info, gs []*Guarded, dir string) error {
	n := o.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	errs := make([]error, len(gs))
	var wg sync.WaitGroup
	for i, g := range gs {
		if g.req.Marker != "" {
			if v, ok := info.Markers[g.req.Marker].(bool); !ok {
				errs[i] = &RefusedError{Reasons: []string{fmt.Sprintf("%s: invalid marker %q: %v", g.Source, g.req.Marker, info.Markers[g.req.Marker])}}
				continue
			} else if !v {
				g.Skipped = "environment marker is false for the target interpreter"
				continue
			}
		}
		wg.Add(1)
		go func(i int, g *Guarded) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = verifyOne(ctx, cfg, o, info, g, filepath.Join(dir, fmt.Sprintf("asset-%d", i)))
		}(i, g)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// verifyOne resolves, picks the asset, verifies the release and checks
// the wheel's own metadata, then sets PipRequirement.
func verifyOne(ctx context.Context, cfg Config, o InstallOptions, info *pip.Info, g *Guarded, dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	g.assetDir = dir
	v := g.req.VCS
	label := g.Source + ": " + g.Requirement
	host := cfg.tokenHost()
	onGitHub := v.Scheme == "https" && strings.EqualFold(v.Host, host) ||
		v.Scheme == "ssh" && strings.EqualFold(hostname(v.Host), hostname(host))
	if !onGitHub {
		return &NotGitHubError{Requirement: label, Host: host}
	}
	repo := strings.TrimSuffix(strings.Trim(v.Path, "/"), ".git")
	if strings.Count(repo, "/") != 1 {
		return &NotGitHubError{Requirement: label, Host: host}
	}
	g.Repo = repo
	if g.Name == "" {
		g.Name = strings.TrimSuffix(filepath.Base(v.Path), ".git")
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
		rr, err := VerifyRelease(ctx, cfg, ReleaseOptions{
			Repo: repo, Tag: tag, Policy: o.Policy, Dir: dir, Trust: o.Trust, MaxCommitDistance: o.MaxCommitDistance,
			RequireSBOM: o.RequireSBOM, RequireReleaseAttestation: o.RequireReleaseAttestation,
			Choose: func(names []string) ([]string, error) {
				c, err := wheel.Choose(names, g.Name, version, info.Tags, o.AllowSdist)
				choice = c
				if err != nil {
					return nil, noAssetError(label, tag, c)
				}
				return []string{c.Asset}, nil
			},
		})
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
		g.Asset, g.SHA256, g.AssetReason = a.Name, a.SHA256, choice.Reason
		if err := checkAsset(label, g, a, choice, version); err != nil {
			return err
		}
		g.PipRequirement = pipRequirement(g, a, o.From, res.Commit)
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
		if requirement.Normalize(name) != requirement.Normalize(g.Name) || wheel.CanonicalVersion(ver) != wheel.CanonicalVersion(version) {
			return &RefusedError{Reasons: []string{fmt.Sprintf("%s: the wheel's METADATA says %s %s, expected %s %s", label, name, ver, g.Name, version)},
				Fix: "the release carries another project's wheel; tell the maintainers"}
		}
	}
	for _, h := range g.hashes {
		alg, hexd, _ := strings.Cut(h, ":")
		if alg == "sha256" && !strings.EqualFold(hexd, a.SHA256) {
			return &RefusedError{Reasons: []string{fmt.Sprintf("%s: --hash %s does not match the verified asset sha256:%s", label, h, a.SHA256)},
				Fix: "update the pinned hash after checking the release"}
		}
	}
	return nil
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

// writeRequirements writes what pip installs: option lines, pass-through
// requirements as written (with their per-line options), and each verified
// requirement rewritten. Lines come from parsed entries, so none contains a
// line break.
func writeRequirements(dir string, entries []reqfile.Entry, gs []*Guarded) (string, error) {
	var b strings.Builder
	gi := 0
	for _, e := range entries {
		switch {
		case e.Option != nil:
			b.WriteString(strings.Join(e.Option, " ") + "\n")
		case e.Req.Kind == requirement.KindVCS:
			g := gs[gi]
			gi++
			if g.Skipped == "" {
				b.WriteString(g.PipRequirement + "\n")
			}
		default:
			b.WriteString(strings.TrimSpace(e.ReqText+" "+strings.Join(e.LineOptions, " ")) + "\n")
		}
	}
	path := filepath.Join(dir, "requirements.pipguard.txt")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// checkPlan refuses any direct reference pip would install that pipguard
// did not verify, naming what requires it.
func checkPlan(plan *pip.Report, rep *InstallReport, allowDirect bool) error {
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
		rep.Plan = append(rep.Plan, p)
		if it.IsDirect && !p.Guarded && !allowDirect {
			reasons = append(reasons, fmt.Sprintf("pip would install %s %s from %s, which pipguard did not verify%s", name, p.Version, p.URL, requiredBy(plan, name)))
		}
		if g != nil && !p.Guarded {
			reasons = append(reasons, fmt.Sprintf("pip would install %s from %s instead of the verified %s", name, p.URL, g.PipRequirement))
		}
	}
	if len(reasons) > 0 {
		return &RefusedError{Reasons: reasons, Fix: "pin that dependency through a verified release, or pass --allow-direct if you accept it unverified"}
	}
	return nil
}

func sameDownload(it pip.InstallItem, g *Guarded) bool {
	if g.Resolution != nil && it.DownloadInfo.VCSInfo != nil {
		return it.DownloadInfo.VCSInfo.CommitID == g.Resolution.Commit
	}
	if a := it.DownloadInfo.ArchiveInfo; a != nil {
		if a.Hashes["sha256"] == g.SHA256 || a.Hash == "sha256="+g.SHA256 {
			return true
		}
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

// hostname drops the port of host:port.
func hostname(hostport string) string {
	u := url.URL{Host: hostport}
	return u.Hostname()
}

// installedSet lists the distributions in the interpreter's site-packages
// as "name==version".
func installedSet(info *pip.Info) map[string]string {
	out := map[string]string{}
	for _, site := range info.Site {
		ds, _ := pep610.Installed(site)
		for _, d := range ds {
			out[pep610.Normalize(d.Name)+"=="+d.Version] = d.Name
		}
	}
	return out
}

// newDists are the distributions in after that were not in before.
func newDists(before, after map[string]string) []string {
	var out []string
	for k, name := range after {
		if _, ok := before[k]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
