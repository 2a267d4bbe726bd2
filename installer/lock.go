package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/installer/txn"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// Sources of a locked item.
const (
	// SourceVerified is a guarded requirement's verified asset or commit.
	SourceVerified = "verified"
	// SourcePinned is a requirement under verify = "pin": its repository
	// at a resolved full commit, which nothing verified.
	SourcePinned = "pinned"
	// SourceIndex is a distribution from a package index (or
	// --find-links), pinned by version and the hash pip resolved.
	SourceIndex = "index"
	// SourceDirect is a direct reference pipguard did not verify, allowed
	// by --allow-direct.
	SourceDirect = "direct"
)

// Locked is one distribution of the lock: what pip's single resolution
// chose, pinned so that the real install cannot choose again.
type Locked struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	// SHA256 pins an archive (wheel or sdist); Commit pins a git checkout.
	SHA256 string `json:"sha256,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Requirement is the line pip is given.
	Requirement string `json:"requirement"`
	// Reason says why an item pip would have left alone is in the lock.
	Reason string `json:"reason,omitempty"`
	// URL is where an index file came from (credentials masked).
	URL string `json:"url,omitempty"`
	// Size is the locked file's size, as pipguard read it.
	Size int64 `json:"size,omitempty"`
	// Files is how many paths the plan says the wheel writes.
	Files int `json:"files,omitempty"`
	// Attestation is an index file's PEP 740 provenance as pipguard
	// verified it (or found none).
	Attestation *IndexAttestation `json:"attestation,omitempty"`

	guarded *Guarded
	// file is the locked file in pipguard's private directory, hashed
	// there (the fetch stage); built is a wheel pipguard built from a
	// verified (or allowed) source, before the fetch.
	file, built string
	// sdist is the index sdist pipguard built the wheel from (allowed by
	// allow_source_builds): what a lock records, since the built wheel
	// exists only here.
	sdist *sdistFile
	plan  *layout.Plan
	// index and identities come from a lock file: the index its package
	// names, and the attestation identities it records (the file's
	// provenance must verify for them).
	index      string
	identities []policy.IndexPublisher
}

// sdistFile is an index sdist as pip's resolution downloaded it, hashed
// by pipguard.
type sdistFile struct {
	name, sha256 string
	size         int64
}

type lock struct{ items []Locked }

func (l *lock) names() []string {
	out := make([]string, len(l.items))
	for i, it := range l.items {
		out[i] = it.Name
	}
	return out
}

// buildLock turns pip's dry-run report into the lock. Every index item
// must carry the sha256 pip resolved. A guarded requirement pip would leave
// alone (the same version is installed) stays out only if its installed
// record already matches what was verified; otherwise it is locked too and
// reinstalled.
func buildLock(plan *pip.Report, rep *InstallReport, info *pip.Info) (*lock, error) {
	key, err := pep610.LoadReceiptKey(info.Prefix, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the environment's receipt key: %w", err)
	}
	ours := map[string]*Guarded{}
	for _, g := range rep.Guarded {
		if g.PipRequirement != "" {
			ours[pep610.Normalize(g.Name)] = g
		}
	}
	l := &lock{items: []Locked{}}
	inPlan := map[string]bool{}
	var reasons []string
	for _, it := range plan.Install {
		name, version := it.Metadata.Name, it.Metadata.Version
		n := pep610.Normalize(name)
		inPlan[n] = true
		di := it.DownloadInfo
		item := Locked{Name: name, Version: version}
		switch g := ours[n]; {
		case g != nil:
			item.Source, item.guarded = guardedSource(g), g
			item.Requirement = g.PipRequirement
			item.SHA256 = g.wheelSHA
			if g.from == FromGit {
				item.Commit = g.Resolution.Commit
			}
		case !it.IsDirect:
			item.Source = SourceIndex
			item.SHA256 = di.ArchiveInfo.SHA256()
			if item.SHA256 == "" {
				reasons = append(reasons, fmt.Sprintf("pip's resolution has no sha256 for %s %s from %s (the index published none and pip did not download the file), so it cannot be locked", name, version, pep610.StripCredentials(di.URL)))
				continue
			}
			item.Requirement = fmt.Sprintf("%s==%s --hash=sha256:%s", name, version, item.SHA256)
		case di.VCSInfo != nil:
			item.Source, item.Commit = SourceDirect, di.VCSInfo.CommitID
			item.Requirement = fmt.Sprintf("%s @ %s+%s@%s", name, di.VCSInfo.VCS, di.URL, di.VCSInfo.CommitID)
			if di.Subdirectory != "" {
				item.Requirement += "#subdirectory=" + di.Subdirectory
			}
		case di.ArchiveInfo != nil && di.ArchiveInfo.SHA256() != "":
			item.Source, item.SHA256 = SourceDirect, di.ArchiveInfo.SHA256()
			item.Requirement = fmt.Sprintf("%s @ %s#sha256=%s", name, strings.SplitN(di.URL, "#", 2)[0], item.SHA256)
		default:
			item.Source = SourceDirect
			item.Requirement = fmt.Sprintf("%s @ %s", name, di.URL)
		}
		l.items = append(l.items, item)
	}
	if len(reasons) > 0 {
		return nil, &RefusedError{Reasons: reasons, Fix: "use an index that publishes sha256 hashes (PyPI and its mirrors do), or a --find-links directory"}
	}
	for _, g := range rep.Guarded {
		if g.PipRequirement == "" || g.Skipped != "" || inPlan[pep610.Normalize(g.Name)] {
			continue
		}
		sha, why := installedWheel(info, g, key)
		d := auditOne(info, g, sha)
		if why != "" {
			d.Add(policy.Check{Name: "files", Outcome: policy.Fail, Reason: why})
		}
		if d.Verdict() == policy.Accept {
			outcome := "already verified"
			if g.Pinned {
				outcome = "already pinned"
			}
			inst := Installed{Name: g.Name, Outcome: outcome, Decision: d}
			if dists := findDist(info, g.Name); len(dists) == 1 {
				inst.Version = dists[0].Version
			}
			rep.Installed = append(rep.Installed, inst)
			continue
		}
		// pip would keep an install of the same version from elsewhere:
		// the verified one replaces it.
		item := Locked{Name: g.Name, Source: guardedSource(g), Requirement: g.PipRequirement, guarded: g,
			Reason: "the installed distribution is not the verified one: " + strings.Join(failureReasons(d), "; ")}
		if dists := findDist(info, g.Name); len(dists) == 1 {
			item.Version = dists[0].Version
		}
		item.SHA256 = g.wheelSHA
		if g.from == FromGit {
			item.Commit = g.Resolution.Commit
		}
		l.items = append(l.items, item)
	}
	return l, nil
}

// guardedSource is a guarded requirement's lock source: pinned is never
// called verified.
func guardedSource(g *Guarded) string {
	if g.Pinned {
		return SourcePinned
	}
	return SourceVerified
}

func failureReasons(d policy.Decision) []string {
	var out []string
	for _, c := range d.Failures() {
		out = append(out, c.Reason)
	}
	return out
}

// startLocked writes the lock as pip's requirements file and starts pip's
// install of it on pipguard's local files alone (--no-index, files as the
// only find-links, each line's --hash, no dependencies): pip resolves at
// once and is held before it writes anything.
func startLocked(py *pip.Session, dir, files string, lk *lock, o InstallOptions) (*pip.Held, error) {
	var b strings.Builder
	for _, it := range lk.items {
		b.WriteString(it.lockLine() + "\n")
	}
	path := filepath.Join(dir, "lock.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	var direct []string
	for _, it := range lk.items {
		if it.direct() {
			u, _, _ := strings.Cut(strings.TrimPrefix(it.lockLine(), it.Name+" @ "), "#")
			direct = append(direct, u)
		}
	}
	args := append([]string{"--isolated", "--no-deps", "--force-reinstall", "--require-hashes", "--only-binary", ":all:"}, localPipArgs(o.PipArgs)...)
	return py.StartInstall(dir, pip.InstallRequest{ReqFile: path, Args: args, Local: true, FindLinks: []string{files}, AllowLinks: direct})
}

// installLocked runs the real install of the lock on pipguard's local
// files alone: --no-index with the fetch directory as the only place to
// find distributions, --isolated so that no pip configuration adds another,
// --no-deps and --force-reinstall so that pip installs exactly the locked
// set, --require-hashes with each item's sha256. Then it checks, trusting
// nothing pip says: pip's own report against the lock (evidence), every
// planned file on disk against its wheel, nothing outside the plan changed,
// direct_url.json against what was verified, and the environment's
// dependency metadata as pip check reads it. Receipts are written last.
func installLocked(ctx context.Context, py *pip.Session, held *pip.Held, lk *lock, rep *InstallReport, info *pip.Info, o InstallOptions, pp *paths, before *layout.Snapshot, tx *txn.Txn) error {
	start := time.Now()
	r, err := held.Go()
	if err != nil {
		return err
	}
	rep.timed("pip install (local files)", start)
	start = time.Now()
	defer rep.timed("check", start)
	// pip's dependency check reads the environment in the interpreter
	// while Go reads it here; nothing writes it until both are done.
	type depCheck struct {
		conflicts []pip.Conflict
		err       error
	}
	deps := make(chan depCheck, 1)
	go func() {
		c, err := py.CheckDependencies()
		deps <- depCheck{c, err}
	}()
	reasons, installed, err := checkInstalled(lk, r, rep, info, pp, before, tx)
	dep := <-deps
	if err != nil {
		return err
	}
	if len(reasons) > 0 {
		return &AuditError{Reasons: reasons}
	}
	conflicts, err := dep.conflicts, dep.err
	if err != nil {
		return fmt.Errorf("checking dependencies: %w", err)
	}
	if len(conflicts) > 0 {
		var msgs []string
		for _, c := range conflicts {
			msgs = append(msgs, c.String())
		}
		rep.DependencyConflicts = msgs
		if o.Rules.DependencyConflicts.V == "error" {
			return &DependencyError{Conflicts: msgs, Rule: o.Rules.DependencyConflicts.Rule("dependency_conflicts")}
		}
		for _, m := range msgs {
			rep.Warnings = append(rep.Warnings, m+" (as pip check reports it; policy "+o.Rules.DependencyConflicts.Rule("dependency_conflicts")+")")
		}
	}
	return writeReceipts(info, installed, lk, o)
}

// checkInstalled is the check of the disk after pip, trusting nothing pip
// says: pip's report against the lock, every planned file against its
// wheel, nothing outside the plan changed, each guarded distribution's
// record against what was verified, no index install with a
// direct_url.json. It returns every reason the install fails, and the
// listing of the installed distributions it read (the receipts' too).
func checkInstalled(lk *lock, r *pip.Report, rep *InstallReport, info *pip.Info, pp *paths, before *layout.Snapshot, tx *txn.Txn) ([]string, installedDists, error) {
	reasons := compareLock(lk.items, r.Install)
	for _, p := range layout.Check(pp.plans) {
		msg := fmt.Sprintf("%s: %s: %s", p.Dist, p.Path, p.Why)
		if p.Expected != "" || p.Actual != "" {
			msg += fmt.Sprintf(" (expected %s, got %s)", p.Expected, p.Actual)
		}
		reasons = append(reasons, msg)
	}
	after, err := layout.Survey(info.Prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the environment after the install: %w", err)
	}
	installed := listInstalled(info)
	for _, c := range pp.outsidePlan(layout.Changed(before, after), info.Prefix, tx.Dir()) {
		reasons = append(reasons, fmt.Sprintf("%s changed, and no locked wheel writes it", c))
	}
	for _, it := range lk.items {
		switch it.Source {
		case SourceVerified, SourcePinned:
			g := it.guarded
			d := auditIn(installed, g, it.SHA256)
			outcome := "installed"
			if it.Reason != "" {
				outcome = "reinstalled"
			}
			inst := Installed{Name: g.Name, Version: it.Version, Outcome: outcome, Decision: d}
			if dists := installed.find(g.Name); len(dists) == 1 {
				inst.Version = dists[0].Version
			}
			rep.Installed = append(rep.Installed, inst)
			for _, r := range failureReasons(d) {
				reasons = append(reasons, g.Name+": "+r)
			}
		case SourceIndex:
			// An index install records no direct_url.json (PEP 610: it is
			// written only for direct URL requirements).
			for _, d := range installed.find(it.Name) {
				if _, err := d.DirectURL(); !errors.Is(err, pep610.ErrNoDirectURL) {
					reasons = append(reasons, fmt.Sprintf("%s %s was locked as an index install but has a direct_url.json", it.Name, it.Version))
				}
			}
		}
	}
	return reasons, installed, nil
}

// DependencyError is a locked install that leaves the environment's
// dependency metadata inconsistent, under dependency_conflicts = "error".
// The environment was rolled back.
type DependencyError struct {
	Conflicts []string
	Rule      string
}

func (e *DependencyError) Error() string {
	return "the install would leave conflicting dependencies (" + e.Rule + "): " + strings.Join(e.Conflicts, "; ")
}

// Hint says what to do.
func (e *DependencyError) Hint() string {
	return "the environment was rolled back; add the versions the conflicts name to the requirements, or set dependency_conflicts = \"warn\" to install anyway"
}

// localPipArgs are the user's pip arguments for the install step: all but
// the package sources, which the install step never uses (it reads only
// pipguard's local files).
func localPipArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		name, _, has := strings.Cut(args[i], "=")
		if requirement.IsSourceOption(name) || name == "--trusted-host" || name == "--no-index" {
			if !has && name != "--no-index" && i+1 < len(args) {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// compareLock compares what pip reports it installed with the lock: the
// same distributions, versions and hashes (or commits), nothing more.
func compareLock(items []Locked, done []pip.InstallItem) []string {
	got := map[string]pip.InstallItem{}
	var reasons []string
	for _, it := range done {
		n := pep610.Normalize(it.Metadata.Name)
		if _, dup := got[n]; dup {
			reasons = append(reasons, "pip installed "+it.Metadata.Name+" twice")
		}
		got[n] = it
	}
	for _, l := range items {
		n := pep610.Normalize(l.Name)
		it, ok := got[n]
		delete(got, n)
		switch {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("the lock has %s %s, pip did not install it", l.Name, l.Version))
		case l.Version != "" && it.Metadata.Version != l.Version:
			reasons = append(reasons, fmt.Sprintf("%s: expected version %s from the lock, pip installed %s", l.Name, l.Version, it.Metadata.Version))
		case l.SHA256 != "" && it.DownloadInfo.ArchiveInfo.SHA256() != l.SHA256:
			reasons = append(reasons, fmt.Sprintf("%s: expected sha256:%s from the lock, pip installed sha256:%s", l.Name, l.SHA256, it.DownloadInfo.ArchiveInfo.SHA256()))
		case l.Commit != "" && l.SHA256 == "" && (it.DownloadInfo.VCSInfo == nil || !strings.EqualFold(it.DownloadInfo.VCSInfo.CommitID, l.Commit)):
			reasons = append(reasons, fmt.Sprintf("%s: expected commit %s from the lock, pip installed %s", l.Name, l.Commit, pep610.StripCredentials(it.DownloadInfo.URL)))
		}
	}
	for _, it := range got {
		reasons = append(reasons, fmt.Sprintf("pip installed %s %s from %s, which is not in the lock", it.Metadata.Name, it.Metadata.Version, pep610.StripCredentials(it.DownloadInfo.URL)))
	}
	return reasons
}

// receiptRoots are the trusted root files that replaced TUF in this
// install, as a receipt records them.
func receiptRoots(t *attest.Trust) []pep610.TrustedRoot {
	var out []pep610.TrustedRoot
	for _, f := range t.Files() {
		out = append(out, pep610.TrustedRoot{Path: f.Path, SHA256: f.SHA256, FromEnv: f.FromEnv})
	}
	return out
}

// writeReceipts records, in each verified (or pinned) distribution's
// .dist-info, what was verified: pipguard audit ties the distribution to it
// by digest or commit. Each index install gets one too (indexReceipt). The receipts are written inside the transaction, so
// a rollback removes them with the distributions.
func writeReceipts(info *pip.Info, installed installedDists, lk *lock, o InstallOptions) error {
	pol, _ := json.Marshal(o.Rules)
	sum := sha256.Sum256(pol)
	version := o.Version
	if version == "" {
		version = "devel"
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var key []byte
	getKey := func() ([]byte, error) {
		if key == nil {
			// Made on the first receipt, so that a run that installs
			// nothing leaves the prefix as it was.
			k, err := pep610.LoadReceiptKey(info.Prefix, true)
			if err != nil {
				return nil, fmt.Errorf("the environment's receipt key: %w", err)
			}
			key = k
		}
		return key, nil
	}
	for _, it := range lk.items {
		if it.Source == SourceIndex {
			dists := installed.find(it.Name)
			if len(dists) != 1 {
				return fmt.Errorf("writing the receipt: %d distributions named %s", len(dists), it.Name)
			}
			r := indexReceipt(it)
			if r.Provenance != nil && r.Provenance.State == pep610.ProvenanceVerified {
				r.TrustedRoots = receiptRoots(o.Trust)
			}
			r.Name, r.Version = dists[0].Name, dists[0].Version
			r.PolicySHA256, r.Pipguard, r.InstalledAt = hex.EncodeToString(sum[:]), version, now
			k, err := getKey()
			if err != nil {
				return err
			}
			if err := dists[0].WriteReceipt(r, k); err != nil {
				return fmt.Errorf("writing the receipt of %s: %w", it.Name, err)
			}
			continue
		}
		g := it.guarded
		if it.Source != SourceVerified && it.Source != SourcePinned || g == nil {
			continue
		}
		dists := installed.find(g.Name)
		if len(dists) != 1 {
			return fmt.Errorf("writing the receipt: %d distributions named %s", len(dists), g.Name)
		}
		r := pep610.Receipt{Requirement: g.Requirement, Name: dists[0].Name, Version: dists[0].Version, Repository: g.req.VCS.RepoURL(),
			Tag: g.Tag, Commit: g.Resolution.Commit, From: string(g.from), Pinned: g.Pinned,
			PolicySHA256: hex.EncodeToString(sum[:]), Pipguard: version, InstalledAt: now}
		if g.from == FromRelease {
			r.Asset, r.SHA256 = g.Asset, g.SHA256
		}
		if !g.Pinned {
			r.TrustedRoots = receiptRoots(o.Trust)
		}
		// The wheel pip installed: the verified asset, or the one pipguard
		// built from the verified source.
		r.WheelSHA256, r.Built, r.BuildRequirements = it.SHA256, it.built != "" || g.Built, g.BuildRequirements
		if g.Release != nil {
			r.RepositoryID = g.Release.RepositoryID
			if a := g.Release.Asset(g.Asset); a != nil {
				for _, rep := range []*attest.Report{a.Provenance, a.SBOM, a.ReleaseAttestation} {
					if rep == nil || rep.Accepted < 0 {
						continue
					}
					b := rep.Bundles[rep.Accepted]
					at := pep610.Attestation{PredicateType: b.PredicateType}
					if b.Identity != nil {
						at.Signer = firstOf(b.Identity.BuildSignerURI, b.Identity.SAN)
						at.SourceRef, at.SourceDigest = b.Identity.SourceRepositoryRef, b.Identity.SourceRepositoryDigest
					}
					r.Attestations = append(r.Attestations, at)
				}
			}
		}
		k, err := getKey()
		if err != nil {
			return err
		}
		if err := dists[0].WriteReceipt(r, k); err != nil {
			return fmt.Errorf("writing the receipt of %s: %w", g.Name, err)
		}
	}
	return nil
}

// indexReceipt is the receipt of an index install: the file pipguard
// hashed (its name and sha256: the bytes pip installed), where it came
// from, and what its PEP 740 provenance said in this install. Only a
// provenance that verified (here, or as pipguard's own cached verdict for
// the same bytes and expected publisher) is recorded as verified, with the
// certificate's identity and the log index.
func indexReceipt(it Locked) pep610.Receipt {
	r := pep610.Receipt{Requirement: it.Requirement, From: pep610.FromIndex, SHA256: it.SHA256, WheelSHA256: it.SHA256,
		File: filepath.Base(it.file), URL: redact.String(it.URL)}
	p := &pep610.IndexProvenance{State: pep610.ProvenanceUnattested, Why: "pipguard did not check its provenance"}
	if a := it.Attestation; a != nil {
		p = &pep610.IndexProvenance{Source: a.Source, Rule: a.Rule, Why: a.Why, Cached: a.Cached}
		r.Index = a.Index
		switch a.State {
		case AttestVerified:
			p.State = pep610.ProvenanceVerified
			li := a.LogIndex
			p.LogIndex = &li
			pub := &pep610.Publisher{}
			if b := a.Publisher; b != nil {
				*pub = pep610.Publisher{Kind: b.Kind, Repository: b.Repository, Workflow: b.Workflow, WorkflowFilepath: b.WorkflowFilepath,
					Email: b.Email, Issuer: b.Issuer, SAN: b.SAN, Ref: b.Ref, Digest: b.Digest}
			}
			p.Publisher = pub
		case AttestOff:
			p.State = pep610.ProvenanceOff
		default:
			p.State = pep610.ProvenanceUnattested
		}
	}
	if r.Index == "" && it.index != "" {
		r.Index = IndexName(it.index)
	}
	r.Provenance = p
	return r
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// hashFile is the sha256 and size of the file at path.
func hashFile(path string) (fetched, error) {
	f, err := os.Open(path)
	if err != nil {
		return fetched{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fetched{}, err
	}
	return fetched{path: path, sha256: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}
