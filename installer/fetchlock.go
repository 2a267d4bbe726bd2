package installer

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/provenance"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/internal/safefile"
	"github.com/pipguard/pipguard/policy"
)

// FetchedFile is what pipguard fetch stored for one locked package.
type FetchedFile struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	File       string `json:"file"`
	SHA256     string `json:"sha256"`
	Provenance bool   `json:"provenance"`
}

// FetchedRelease is a guarded release asset's release, verified by
// pipguard fetch as install verifies it, with GitHub's answers recorded.
type FetchedRelease struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Repo    string `json:"repo"`
	Tag     string `json:"tag"`
	Commit  string `json:"commit"`
	Asset   string `json:"asset"`
	SHA256  string `json:"sha256"`
	// Record is the file holding GitHub's answers.
	Record string `json:"record"`
	// Checks are the release's and the asset's checks.
	Checks []policy.Check `json:"checks"`
}

// FetchReport is what pipguard fetch stored in a directory.
type FetchReport struct {
	Dir      string           `json:"dir"`
	Files    []FetchedFile    `json:"files"`
	Releases []FetchedRelease `json:"releases"`
	// Trust are the TUF files recorded per Sigstore deployment; empty
	// when the trusted roots were given as files (TrustNote says so).
	Trust     []*attest.TUFRecord `json:"trust"`
	TrustNote string              `json:"trust_note,omitempty"`
}

// FetchLockFile stores in dir what `pipguard install --files DIR
// pylock.toml` needs to install the lock for the target interpreter with
// no network:
//   - every file the lock names, each checked against the lock's size and
//     hashes, with the PEP 740 provenance its index publishes
//     (FILENAME.provenance) for a package that names an index;
//   - for a guarded release asset (pipguard's record), its release verified
//     as install verifies it (the tag listed and compared with the lock's
//     commit, every bundle against the trusted root and the policy), with
//     every answer GitHub gave recorded (DIR/releases/...) and the asset
//     at DIR/NAME;
//   - unless o.Trust is given, the TUF files of each Sigstore deployment
//     the lock needs (DIR/tuf/DEPLOYMENT), recorded from the embedded root
//     and verified; the releases are verified with trust read back from
//     them, as the install will read it.
func FetchLockFile(ctx context.Context, cfg Config, o InstallOptions, lf LockFile, dir string) (*FetchReport, error) {
	data, err := os.ReadFile(lf.Path)
	if err != nil {
		return nil, &LockFileError{Path: lf.Path, Err: err}
	}
	l, err := pylock.Read(lf.Path, data)
	if err != nil {
		return nil, &LockFileError{Path: lf.Path, Err: err}
	}
	pol, err := o.policy()
	if err != nil {
		return nil, err
	}
	o.Rules = pol
	py, err := pip.Start(ctx, pip.Options{Python: o.Python, Output: o.Output})
	if err != nil {
		return nil, err
	}
	defer py.Close()
	info, err := py.Info()
	if err != nil {
		return nil, err
	}
	sel, err := l.Select(pylock.Environment{Markers: info.Environment, Tags: info.Tags}, lf.Extras, lf.Groups)
	if err != nil {
		return nil, &RefusedError{Reasons: []string{fmt.Sprintf("%s: %v", lf.Path, err)}, Fix: "fetch for the interpreter the lock was made for (--python PY)"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	droot, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	defer droot.Close()
	rep := &FetchReport{Dir: dir, Files: []FetchedFile{}, Releases: []FetchedRelease{}, Trust: []*attest.TUFRecord{}}

	// Trust: what the install will read from dir, recorded first.
	var needPG, needGH bool
	for _, s := range sel {
		if rec, err := s.Package.Pipguard(); err == nil && rec != nil && rec.Commit != "" {
			needPG, needGH = true, true
		} else if s.Package.Index != "" || len(s.Package.AttestationIdentities) > 0 {
			needPG = true
		}
	}
	if o.Trust != nil {
		rep.TrustNote = "trusted roots were given as files: no TUF metadata stored; pass the same --trusted-root to install"
	} else {
		for _, d := range []attest.Deployment{attest.PublicGood, attest.GitHub} {
			if d == attest.PublicGood && !needPG || d == attest.GitHub && !needGH {
				continue
			}
			r, err := attest.RecordTUF(lf.TUF, d, dir)
			if err != nil {
				return rep, err
			}
			rep.Trust = append(rep.Trust, r)
		}
		o.Trust = attest.TrustFromDir(dir, lf.TUF)
	}

	work, cleanup, err := DownloadDir()
	if err != nil {
		return rep, err
	}
	defer cleanup()
	client := &http.Client{Timeout: 5 * time.Minute}
	var reasons []string
	for _, s := range sel {
		p := s.Package
		if why := indexRefused(o.Rules, p); why != "" {
			reasons = append(reasons, why)
			continue
		}
		if rec, err := p.Pipguard(); err == nil && rec != nil && rec.Commit != "" {
			fr, why := fetchRelease(ctx, cfg, o, s, rec, work, dir)
			if why != "" {
				reasons = append(reasons, fmt.Sprintf("%s %s: %s", p.Name, p.Version, why))
				continue
			}
			rep.Releases = append(rep.Releases, *fr)
			rep.Files = append(rep.Files, FetchedFile{Name: p.Name, Version: p.Version, File: filepath.Join(dir, fr.Asset), SHA256: fr.SHA256})
			continue
		}
		if s.Kind != pylock.SourceWheel || s.File == nil {
			reasons = append(reasons, fmt.Sprintf("%s %s: its source in the lock is %s; pipguard installs a lock's wheels", p.Name, p.Version, s.Kind))
			continue
		}
		name := filepath.Base(s.File.Filename())
		dst := filepath.Join(dir, name)
		// A link planted at DIR/NAME is removed, never followed (the
		// download opens O_EXCL, which refuses one put back since).
		if err := safefile.Clear(droot, name); err != nil {
			return rep, err
		}
		f, err := download(ctx, client, s.File.URL, dst)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s %s: fetching %s: %v", p.Name, p.Version, redact.String(s.File.URL), err))
			continue
		}
		if why := checkFile(f, s.File.Size, s.File.Hashes); why != "" {
			droot.Remove(name)
			reasons = append(reasons, fmt.Sprintf("%s %s (%s): %s", p.Name, p.Version, name, why))
			continue
		}
		ff := FetchedFile{Name: p.Name, Version: p.Version, File: dst, SHA256: f.sha256}
		if p.Index != "" {
			// What DIR held for this file before is not this fetch's.
			for _, n := range []string{name + ".provenance", name + noProvenanceSuffix} {
				if err := safefile.Clear(droot, n); err != nil {
					return rep, err
				}
			}
			none := "its index is not one PEP 740 provenance can come from"
			if fe, err := provenance.NewFetcher(client, p.Index); err == nil {
				got, err := fe.Fetch(ctx, p.Name, p.Version, name)
				switch {
				case err == nil && got.Raw != nil:
					if err := safefile.WriteFile(droot, name+".provenance", got.Raw, 0o644); err != nil {
						return rep, err
					}
					ff.Provenance = true
				case len(p.AttestationIdentities) > 0:
					reasons = append(reasons, fmt.Sprintf("%s %s: the lock records its attestation identities, but its index gives no provenance now (%v)", p.Name, p.Version, err))
					continue
				case err != nil:
					none = err.Error()
				default:
					none = "its index publishes none"
				}
			}
			if !ff.Provenance {
				// The install refuses a file with neither: DIR then holds
				// no answer.
				if err := safefile.WriteFile(droot, name+noProvenanceSuffix, []byte(none+"\n"), 0o644); err != nil {
					return rep, err
				}
			}
		}
		rep.Files = append(rep.Files, ff)
	}
	if len(reasons) > 0 {
		return rep, &RefusedError{Reasons: reasons, Fix: "lock again with pipguard lock, then fetch again; a hermetic install holds the lock's wheels, their provenance, and its guarded releases verified"}
	}
	return rep, nil
}

// fetchRelease verifies a guarded release asset's release as install
// does, recording GitHub's answers, checks the verified asset against the
// lock's size and hashes, and stores the record and the assets in dir.
// It returns why not, when not.
func fetchRelease(ctx context.Context, cfg Config, o InstallOptions, s pylock.Selected, rec *pylock.Record, work, dir string) (*FetchedRelease, string) {
	p := s.Package
	if s.Kind != pylock.SourceArchive || s.Archive == nil || !strings.HasSuffix(strings.SplitN(s.Archive.URL, "?", 2)[0], ".whl") {
		return nil, fmt.Sprintf("its source in the lock is %s; pipguard installs a guarded release's wheel", s.Kind)
	}
	u := strings.SplitN(s.Archive.URL, "?", 2)[0]
	asset := u[strings.LastIndex(u, "/")+1:]
	g, rc, err := reverify(ctx, cfg, o, p, rec, asset, nil, work, &hermetic{dir: dir, record: true})
	if err != nil {
		return nil, err.Error()
	}
	if why := checkFile(fetched{path: g.assetPath, sha256: g.SHA256, size: g.Release.Asset(asset).Size}, s.Archive.Size, s.Archive.Hashes); why != "" {
		return nil, fmt.Sprintf("the release's verified %s is not the locked file: %s", asset, why)
	}
	if err := rc.save(asset); err != nil {
		return nil, err.Error()
	}
	fr := &FetchedRelease{Name: p.Name, Version: p.Version, Repo: g.Repo, Tag: g.Tag, Commit: g.Resolution.Commit, Asset: asset, SHA256: g.SHA256, Record: rc.path, Checks: []policy.Check{}}
	fr.Checks = append(fr.Checks, g.Release.Decision.Checks...)
	if a := g.Release.Asset(asset); a != nil {
		fr.Checks = append(fr.Checks, a.Decision.Checks...)
	}
	return fr, ""
}
