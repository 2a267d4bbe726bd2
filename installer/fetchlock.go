package installer

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/provenance"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/redact"
)

// Fetched is what pipguard fetch stored for one locked package.
type FetchedFile struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	File       string `json:"file"`
	SHA256     string `json:"sha256"`
	Provenance bool   `json:"provenance"`
}

// FetchLockFile stores every file a lock names for the target interpreter
// in dir, each checked against the lock's size and hashes, with the PEP 740
// provenance its index publishes (FILENAME.provenance) for a package that
// records attestation identities or names an index: what `pipguard install
// --files DIR pylock.toml` then installs with no network. Guarded release
// assets (pipguard's records) are not fetched: verifying their release
// again needs GitHub, so a hermetic install refuses them.
func FetchLockFile(ctx context.Context, o InstallOptions, lf LockFile, dir string) ([]FetchedFile, error) {
	data, err := os.ReadFile(lf.Path)
	if err != nil {
		return nil, &LockFileError{Path: lf.Path, Err: err}
	}
	l, err := pylock.Read(lf.Path, data)
	if err != nil {
		return nil, &LockFileError{Path: lf.Path, Err: err}
	}
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
	client := &http.Client{Timeout: 5 * time.Minute}
	var out []FetchedFile
	var reasons []string
	for _, s := range sel {
		p := s.Package
		if rec, err := p.Pipguard(); err == nil && rec != nil && rec.Commit != "" {
			reasons = append(reasons, fmt.Sprintf("%s %s: a guarded release asset is verified again against GitHub at install time, which a hermetic install cannot reach", p.Name, p.Version))
			continue
		}
		if s.Kind != pylock.SourceWheel || s.File == nil {
			reasons = append(reasons, fmt.Sprintf("%s %s: its source in the lock is %s; pipguard installs a lock's wheels", p.Name, p.Version, s.Kind))
			continue
		}
		name := filepath.Base(s.File.Filename())
		dst := filepath.Join(dir, name)
		os.Remove(dst)
		f, err := download(ctx, client, s.File.URL, dst)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s %s: fetching %s: %v", p.Name, p.Version, redact.String(s.File.URL), err))
			continue
		}
		if why := checkFile(f, s.File.Size, s.File.Hashes); why != "" {
			os.Remove(dst)
			reasons = append(reasons, fmt.Sprintf("%s %s (%s): %s", p.Name, p.Version, name, why))
			continue
		}
		ff := FetchedFile{Name: p.Name, Version: p.Version, File: dst, SHA256: f.sha256}
		if p.Index != "" {
			if fe, err := provenance.NewFetcher(client, p.Index); err == nil {
				got, err := fe.Fetch(ctx, p.Name, p.Version, name)
				switch {
				case err == nil && got.Raw != nil:
					if err := os.WriteFile(dst+".provenance", got.Raw, 0o644); err != nil {
						return nil, err
					}
					ff.Provenance = true
				case len(p.AttestationIdentities) > 0:
					reasons = append(reasons, fmt.Sprintf("%s %s: the lock records its attestation identities, but its index gives no provenance now (%v)", p.Name, p.Version, err))
					continue
				}
			}
		}
		out = append(out, ff)
	}
	if len(reasons) > 0 {
		return out, &RefusedError{Reasons: reasons, Fix: "lock again with pipguard lock; a hermetic install holds index wheels and their provenance"}
	}
	return out, nil
}
