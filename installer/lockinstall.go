package installer

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/policy"
)

// LockFile says which PEP 751 lock file to install and how.
type LockFile struct {
	// Path is the pylock.toml (or pylock.NAME.toml).
	Path string
	// From, when set, is a directory pipguard fetch filled (FILENAME,
	// FILENAME.provenance, releases/..., tuf/...): no file is downloaded
	// and GitHub is not asked; a guarded release is verified again from
	// the answers recorded there.
	From string
	// Extras and Groups select the lock's extras and dependency groups
	// (nil Groups: the lock's default-groups).
	Extras, Groups []string
	// TUF (pipguard fetch, when InstallOptions.Trust is nil) are the TUF
	// repositories and embedded roots whose files are recorded in the
	// directory; zero: Sigstore's public-good and GitHub's.
	TUF attest.TUFOptions
}

// LockFileError is a lock file pipguard cannot read: malformed, or of an
// unsupported lock-version.
type LockFileError struct {
	Path string
	Err  error
}

func (e *LockFileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *LockFileError) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *LockFileError) Hint() string {
	return "pipguard check " + filepath.Base(e.Path) + " lists every problem; write the lock again with pipguard lock (or the tool that wrote it)"
}

// IsLockFile says whether a requirements file name is a PEP 751 lock
// file: pylock.toml or pylock.NAME.toml.
func IsLockFile(path string) bool {
	b := filepath.Base(path)
	return b == "pylock.toml" || strings.HasPrefix(b, "pylock.") && strings.HasSuffix(b, ".toml") && strings.Count(b, ".") == 2
}

// InstallLockFile installs a PEP 751 lock file as the PEP says an
// installer must, with no resolution at all: the lock is read strictly,
// its packages selected for the target interpreter (environments,
// requires-python, markers with the selected extras and groups, wheels by
// the interpreter's tags, from the lock alone; never its dependencies or
// [tool] tables, except pipguard's own records, which only add checks).
// Every selected file is fetched (or read from From) into pipguard's
// directory and its size and hashes checked there; an index file whose
// package records attestation identities must have provenance that
// verifies for those identities (the lock's, not the index's); a guarded
// release asset (pipguard's records) has its release verified again; then
// the same transaction as every install.
func InstallLockFile(ctx context.Context, cfg Config, o InstallOptions, lf LockFile) (*InstallReport, error) {
	pol, err := o.policy()
	if err != nil {
		return nil, err
	}
	o.Rules = pol
	rep := &InstallReport{Python: o.Python, From: FromRelease, DryRun: o.DryRun, Guarded: []*Guarded{}, PassThrough: []string{}, Plan: []Planned{}, Lock: []Locked{}, Installed: []Installed{}, Timings: []Timing{}}
	data, err := os.ReadFile(lf.Path)
	if err != nil {
		return nil, &LockFileError{Path: lf.Path, Err: err}
	}
	l, err := pylock.Read(lf.Path, data)
	if err != nil {
		return nil, &LockFileError{Path: lf.Path, Err: err}
	}
	for _, n := range l.Notes() {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %s", lf.Path, n.Msg))
	}
	start := time.Now()
	py, err := pip.Start(ctx, pip.Options{Python: o.Python, Output: o.Output, Indexes: o.Rules.Indexes.V})
	if err != nil {
		return nil, err
	}
	defer py.Close()
	info, err := py.Info()
	if err != nil {
		return rep, interrupted(ctx, "the interpreter probe", err, nil)
	}
	rep.Site, rep.Pip, rep.pythonVersion = info.Site, info.Pip, info.Version
	if err := recoverUnfinished(ctx, info.Prefix, o.DryRun, rep); err != nil {
		return rep, err
	}
	sel, err := l.Select(pylock.Environment{Markers: info.Environment, Tags: info.Tags}, lf.Extras, lf.Groups)
	if err != nil {
		return rep, &RefusedError{Reasons: []string{fmt.Sprintf("%s: %v", lf.Path, err)}, Fix: "lock for this interpreter (pipguard lock --python PY), or pick the extras and groups the lock has"}
	}
	dir, cleanup, err := DownloadDir()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o700); err != nil {
		return rep, err
	}
	lk := &lock{items: []Locked{}}
	var reasons []string
	// failed are the guarded releases that did not verify.
	var failed []error
	fix := "lock again (pipguard lock) and install the new lock; a file whose bytes differ from the lock's hashes is not the file that was locked"

	var fromRoot *os.Root
	if lf.From != "" {
		if fromRoot, err = openDir(lf.From); err != nil {
			return rep, &RefusedError{Reasons: []string{err.Error()}, Fix: "fetch first: pipguard fetch pylock.toml DIR"}
		}
		defer fromRoot.Close()
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	for _, s := range sel {
		p := s.Package
		if why := indexRefused(o.Rules, p); why != "" {
			reasons = append(reasons, why)
			continue
		}
		var name, rawURL string
		var size *int64
		var hashes map[string]string
		switch {
		case s.Kind == pylock.SourceWheel && s.File != nil:
			name, rawURL, size, hashes = s.File.Filename(), s.File.URL, s.File.Size, s.File.Hashes
		case s.Kind == pylock.SourceArchive && s.Archive != nil && strings.HasSuffix(strings.SplitN(s.Archive.URL, "?", 2)[0], ".whl"):
			rawURL, size, hashes = s.Archive.URL, s.Archive.Size, s.Archive.Hashes
			name = rawURL[strings.LastIndex(rawURL, "/")+1:]
		default:
			reasons = append(reasons, fmt.Sprintf("%s %s: its source in the lock is %s; pipguard installs a lock's wheels (a source would be built, running code nothing verified)", p.Name, p.Version, s.Kind))
			continue
		}
		dst := filepath.Join(files, filepath.Base(name))
		var f fetched
		if lf.From != "" {
			f, err = copyFromDir(fromRoot, name, dst, size)
		} else {
			f, err = download(ctx, client, rawURL, dst)
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s %s: fetching %s: %v", p.Name, p.Version, redact.String(rawURL), err))
			continue
		}
		if why := checkFile(f, size, hashes); why != "" {
			reasons = append(reasons, fmt.Sprintf("%s %s (%s): %s", p.Name, p.Version, name, why))
			continue
		}
		it := Locked{Name: p.Name, Version: p.Version, Source: SourceIndex, SHA256: f.sha256, Size: f.size, file: f.path, URL: redact.String(rawURL),
			Requirement: fmt.Sprintf("%s==%s --hash=sha256:%s", p.Name, p.Version, f.sha256), index: p.Index}
		for _, id := range p.AttestationIdentities {
			it.identities = append(it.identities, policy.IndexPublisher{Kind: id.Kind, Repository: id.Repository, Workflow: id.Workflow,
				WorkflowFilepath: id.WorkflowFilepath, Email: id.Email, Environment: id.Environment})
		}
		if rec, err := p.Pipguard(); err == nil && rec != nil && rec.Commit != "" {
			var h *hermetic
			if lf.From != "" {
				h = &hermetic{dir: lf.From}
			}
			g, _, err := reverify(ctx, cfg, o, p, rec, filepath.Base(f.path), &f, dir, h)
			var de *attest.TUFDirError
			if errors.As(err, &de) {
				// No trusted root: nothing in the lock can verify.
				return rep, err
			}
			var me *RecordMissingError
			if errors.As(err, &me) {
				fix = me.Hint()
			}
			var ve *ReleaseError
			if errors.As(err, &ve) {
				// The release did not verify: a verification failure
				// (exit 4), as install's, not a refusal.
				failed = append(failed, fmt.Errorf("%s %s: %w", p.Name, p.Version, err))
				continue
			}
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("%s %s: %v", p.Name, p.Version, err))
				continue
			}
			rep.Guarded = append(rep.Guarded, g)
			it.Source, it.guarded, it.Commit = SourceVerified, g, rec.Commit
			it.Requirement = g.PipRequirement
		}
		lk.items = append(lk.items, it)
	}
	rep.Lock = lk.items
	if len(reasons) > 0 {
		for _, err := range failed {
			reasons = append(reasons, err.Error())
		}
		return rep, &RefusedError{Reasons: reasons, Fix: fix}
	}
	if len(failed) > 0 {
		return rep, errors.Join(failed...)
	}
	var provDir string
	if lf.From != "" {
		provDir = lf.From
	}
	held, err := startFiles(py, dir, files, lk, o)
	if err != nil {
		return rep, interrupted(ctx, "pip install", err, nil)
	}
	warns, err := verifyIndexFiles(ctx, cfg, o, lk, nil, provDir)
	rep.Lock = lk.items
	if err != nil {
		stopHeld(held)
		return rep, interrupted(ctx, "verifying index provenance", err, nil)
	}
	rep.Warnings = append(rep.Warnings, warns...)
	rep.timed("fetch (lock file)", start)
	return installFiles(ctx, py, held, dir, files, lk, rep, info, o, time.Now())
}

// indexRefused says why the policy's indexes (when set) do not admit a
// lock's index package: a lock names where each file comes from, and the
// policy restricts that as it restricts pip's indexes ("" when admitted,
// or when the package is a guarded release, which comes from GitHub).
func indexRefused(pol *policy.Policy, p *pylock.Package) string {
	if pol == nil || pol.Indexes.V == nil {
		return ""
	}
	if rec, err := p.Pipguard(); err == nil && rec != nil && rec.Commit != "" {
		return ""
	}
	if p.Index == "" {
		return fmt.Sprintf("%s %s: the lock names no index for it, and the policy's indexes list where packages may come from", p.Name, p.Version)
	}
	if !pol.SourceAllowed(p.Index) {
		return fmt.Sprintf("%s %s: the lock says it comes from %s, which the policy's indexes do not list", p.Name, p.Version, redact.String(p.Index))
	}
	return ""
}

// checkFile compares a fetched file with the size and hashes a lock gives
// ("" when it matches). A lock must give a hash pipguard can check:
// sha256, sha384 or sha512.
func checkFile(f fetched, size *int64, hashes map[string]string) string {
	if size != nil && *size != f.size {
		return fmt.Sprintf("its size is %d bytes, the lock says %d", f.size, *size)
	}
	checked := false
	for alg, want := range hashes {
		var got string
		switch strings.ToLower(alg) {
		case "sha256":
			got = f.sha256
		case "sha384", "sha512":
			var h hash.Hash = sha512.New()
			if alg == "sha384" {
				h = sha512.New384()
			}
			r, err := os.Open(f.path)
			if err != nil {
				return err.Error()
			}
			io.Copy(h, r)
			r.Close()
			got = hex.EncodeToString(h.Sum(nil))
		default:
			continue
		}
		checked = true
		if !strings.EqualFold(got, want) {
			return fmt.Sprintf("its %s is %s, the lock says %s", alg, got, want)
		}
	}
	if !checked {
		return "the lock gives no sha256, sha384 or sha512 for it"
	}
	return ""
}

// download fetches rawURL (https only) into dst, hashing it on the way.
func download(ctx context.Context, client *http.Client, rawURL, dst string) (fetched, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" {
		return fetched{}, fmt.Errorf("pipguard fetches a lock's files over https only")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fetched{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fetched{}, fmt.Errorf("HTTP %s", resp.Status)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fetched{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, 8<<30))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fetched{}, err
	}
	return fetched{path: dst, sha256: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

// hermetic says how reverify reaches GitHub: recording its answers into
// a fetch directory (pipguard fetch), or replaying them from one with no
// network (install --files). nil: online.
type hermetic struct {
	dir    string
	record bool
}

// reverify verifies again the release a lock's pipguard record names, as
// install does (the tag listed once, the asset's provenance bound to the
// tag's commit, the repository's policy), and checks that the release
// asset is the locked file and the tag still names the locked commit. It
// never asks for less than the lock says was verified: the signer workflow
// it records, its SBOM and release attestation when it records them.
//
// f is the locked file as fetched (nil for pipguard fetch, which takes the
// release's verified asset and checks it against the lock itself). With
// h replaying a fetch directory the tag is not listed (no git offline):
// the lock's commit is used, and every signed statement must bind to it.
func reverify(ctx context.Context, cfg Config, o InstallOptions, p *pylock.Package, rec *pylock.Record, asset string, f *fetched, dir string, h *hermetic) (*Guarded, *recording, error) {
	req, err := requirement.Parse(p.Name + " @ git+" + strings.TrimSuffix(strings.TrimSuffix(rec.Repository, "/"), ".git") + ".git@" + rec.Tag)
	if err != nil {
		return nil, nil, fmt.Errorf("its pipguard record names repository %q and tag %q: %v", rec.Repository, rec.Tag, err)
	}
	repo, onGitHub := req.VCS.Repo(cfg.tokenHost())
	if !onGitHub {
		return nil, nil, &NotGitHubError{Requirement: p.Name, Host: cfg.tokenHost(), Repo: repo}
	}
	eff := o.Rules.For(repo)
	var res *gitref.Resolution
	var rc *recording
	if h != nil && !h.record {
		if !fullCommit.MatchString(strings.ToLower(rec.Commit)) {
			return nil, nil, fmt.Errorf("its pipguard record names commit %q, not a full commit", rec.Commit)
		}
		res = &gitref.Resolution{Requested: rec.Tag, RefName: "refs/tags/" + rec.Tag, Commit: strings.ToLower(rec.Commit), TagsAtCommit: []string{rec.Tag}}
		if rc, err = openRecording(h.dir, cfg.tokenHost(), repo, rec.Tag); err != nil {
			return nil, nil, err
		}
		if !strings.EqualFold(rc.rec.Commit, rec.Commit) {
			return nil, nil, fmt.Errorf("the lock records tag %s at commit %s; %s was fetched for commit %s: fetch again for this lock", rec.Tag, rec.Commit, h.dir, rc.rec.Commit)
		}
	} else {
		if res, err = resolveVCS(ctx, cfg, req.VCS); err != nil {
			return nil, nil, err
		}
		if !strings.EqualFold(res.Commit, rec.Commit) {
			return nil, nil, fmt.Errorf("the lock records tag %s at commit %s; it now names commit %s: find out why the tag moved before trusting either", rec.Tag, rec.Commit, res.Commit)
		}
		if h != nil {
			if rc, err = newRecording(h.dir, cfg.tokenHost(), repo, rec.Tag, res.Commit); err != nil {
				return nil, nil, err
			}
		}
	}
	adir := filepath.Join(dir, "asset-"+p.Name)
	if err := os.Mkdir(adir, 0o700); err != nil {
		return nil, nil, err
	}
	ro := ReleaseOptionsFor(eff)
	ro.Repo, ro.Tag, ro.Dir, ro.Trust, ro.Resolution, ro.Assets = repo, rec.Tag, adir, o.Trust, res, []string{asset}
	ro.record = rc
	for _, v := range rec.Verified {
		switch v {
		case attest.ReleaseV01, attest.ReleaseV02:
			ro.RequireReleaseAttestation = true
		case attest.SPDXv23:
			ro.RequireSBOM = true
		case pylock.VerifiedSHA256SUMS:
			ro.RequireChecksums = true
		case pylock.VerifiedImmutable:
			ro.RequireImmutable, ro.RequireReleaseAttestation = true, true
		}
	}
	// The repository the lock was made from (its numeric id), and the
	// build it verified (a hermetic install takes the distance from here).
	ro.RepositoryID = rec.RepositoryID
	if rec.BuildCommit != "" {
		ro.Locked = &LockedBuild{Commit: rec.BuildCommit, Distance: rec.CommitDistance}
	}
	if ro.Policy.SignerWorkflow == "" && strings.HasPrefix(rec.SignerWorkflow, "https://") {
		// The workflow that signed when the lock was made, with its ref.
		ro.Policy.SignerWorkflow = rec.SignerWorkflow
	}
	rr, err := VerifyRelease(ctx, cfg, ro)
	if err != nil {
		return nil, nil, err
	}
	a := rr.Asset(asset)
	if a == nil {
		return nil, nil, fmt.Errorf("the release has no verified %s", asset)
	}
	if f == nil {
		f = &fetched{path: a.Path, sha256: a.SHA256, size: a.Size}
	}
	if !strings.EqualFold(a.SHA256, f.sha256) {
		return nil, nil, fmt.Errorf("the release's verified %s is not the locked file (sha256:%s)", asset, f.sha256)
	}
	fu := url.URL{Scheme: "file", Path: f.path, Fragment: "sha256=" + f.sha256}
	g := &Guarded{Requirement: req.String(), Source: "lock", Name: p.Name, Repo: repo, Resolution: res,
		Tag: rec.Tag, Asset: asset, SHA256: a.SHA256, AssetReason: "the lock's file", Release: rr, Policy: &eff,
		req: req, from: FromRelease, assetPath: f.path, wheelPath: f.path, wheelSHA: f.sha256}
	g.PipRequirement = p.Name + " @ " + fu.String()
	return g, rc, nil
}
