package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/internal/safefile"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// A hermetic install cannot ask TUF for Sigstore's trusted roots, and a
// trusted_root.json copied into a directory proves nothing by itself. So
// pipguard fetch records the TUF repository's files the client workflow
// (TUF specification 5, "Detailed client workflow") needed to reach the
// trusted root, starting from pipguard's embedded root with an empty cache:
// every newer N.root.json, timestamp.json, the snapshot and targets
// metadata and the trusted_root.json target. The install runs the same
// workflow again over those files only, from the same embedded root: a
// root re-signed by another key, a target swapped for other bytes or
// metadata that has expired since the fetch are refused there, as TUF
// refuses them online.

// tufDirName is where, under a fetch directory, each deployment's TUF
// files are: DIR/tuf/<deployment>/.
const tufDirName = "tuf"

// TUFDir is the directory of DIR holding deployment d's recorded TUF files.
func TUFDir(dir string, d Deployment) string { return filepath.Join(dir, tufDirName, string(d)) }

// TUFRecord is what RecordTUF stored for one deployment.
type TUFRecord struct {
	Deployment Deployment `json:"deployment"`
	// Repository is the TUF repository's URL.
	Repository string `json:"repository"`
	// Dir is where the files are.
	Dir string `json:"dir"`
	// Files are the recorded files, relative to Dir.
	Files []string `json:"files"`
	// RootVersion is the newest root's version.
	RootVersion int `json:"root_version"`
	// Expires is when the first of the recorded metadata expires: an
	// install from the directory after it is refused.
	Expires time.Time `json:"expires"`
}

// repo is deployment d's embedded (or overridden) TUF root and repository.
func (o TUFOptions) repo(d Deployment) ([]byte, string, error) {
	switch d {
	case PublicGood:
		r, u := tuf.DefaultRoot(), tuf.DefaultMirror
		if o.PublicGoodRoot != nil {
			r = o.PublicGoodRoot
		}
		if o.PublicGoodURL != "" {
			u = o.PublicGoodURL
		}
		return r, strings.TrimSuffix(u, "/"), nil
	case GitHub:
		r, u := githubTUFRoot, GitHubTUFURL
		if o.GitHubRoot != nil {
			r = o.GitHubRoot
		}
		if o.GitHubURL != "" {
			u = o.GitHubURL
		}
		return r, strings.TrimSuffix(u, "/"), nil
	}
	return nil, "", fmt.Errorf("unknown Sigstore deployment %q", d)
}

// RecordTUF runs the TUF client workflow for deployment d from pipguard's
// embedded root with a fresh empty cache (never the user's cache, whose
// newer root would leave the chain from the embedded root unrecorded),
// fetches the trusted_root.json target, and, once all of it verified,
// writes every file the workflow downloaded into TUFDir(dir, d), replacing
// what was there. TrustFromDir verifies them again.
func RecordTUF(o TUFOptions, d Deployment, dir string) (*TUFRecord, error) {
	rootJSON, base, err := o.repo(d)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "pipguard-tuf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rec := &recordingFetcher{next: fetcher.NewDefaultFetcher(), base: base, files: map[string][]byte{}}
	opts := tuf.DefaultOptions()
	opts.RepositoryBaseURL, opts.Root, opts.CachePath, opts.Fetcher = base, rootJSON, tmp, rec
	opts.DisableLocalCache = true
	client, err := tuf.New(opts)
	if err == nil {
		_, err = root.GetTrustedRoot(client)
	}
	if err != nil {
		return nil, &TrustError{Deployment: d, Err: fmt.Errorf("TUF repository %s: %w", base, err), Fix: "check your network (pipguard fetch asks Sigstore's TUF repository), or pass --trusted-root FILE to fetch and to install"}
	}
	out := TUFDir(dir, d)
	// Every write goes through an os.Root of dir: a symbolic link planted
	// in dir (dir/tuf -> elsewhere) is removed, never followed, and no
	// name escapes dir.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	droot, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer droot.Close()
	sub := tufDirName + "/" + string(d)
	if err := safefile.Clear(droot, sub); err != nil {
		return nil, err
	}
	if err := droot.MkdirAll(sub, 0o755); err != nil {
		return nil, err
	}
	r := &TUFRecord{Deployment: d, Repository: base, Dir: out, Files: []string{}}
	for rel, data := range rec.files {
		if err := safefile.WriteFile(droot, sub+"/"+rel, data, 0o644); err != nil {
			return nil, err
		}
		r.Files = append(r.Files, rel)
		m := signedHeader(data)
		switch {
		case m.Type == "root" && m.Version > r.RootVersion:
			r.RootVersion = m.Version
		}
		if m.Type != "" && m.Type != "root" && (r.Expires.IsZero() || m.Expires.Before(r.Expires)) {
			r.Expires = m.Expires
		}
	}
	sort.Strings(r.Files)
	if r.RootVersion == 0 {
		r.RootVersion = signedHeader(rootJSON).Version
	}
	// The newest root's expiry counts too (the embedded one when no newer
	// was fetched).
	newest := rootJSON
	if r.RootVersion > signedHeader(rootJSON).Version {
		newest = rec.files[fmt.Sprintf("%d.root.json", r.RootVersion)]
	}
	if e := signedHeader(newest).Expires; !e.IsZero() && (r.Expires.IsZero() || e.Before(r.Expires)) {
		r.Expires = e
	}
	return r, nil
}

// signedHeader is the type, version and expiry of TUF metadata (read
// after the workflow verified it, for reporting).
func signedHeader(b []byte) (h struct {
	Type    string    `json:"_type"`
	Version int       `json:"version"`
	Expires time.Time `json:"expires"`
}) {
	var m struct {
		Signed json.RawMessage `json:"signed"`
	}
	if json.Unmarshal(b, &m) == nil {
		_ = json.Unmarshal(m.Signed, &h)
	}
	return h
}

// TUFDirError is a fetch directory whose TUF files do not give a trusted
// root: missing, expired, or refused by the TUF client workflow.
type TUFDirError struct {
	Deployment Deployment
	Dir        string
	// Expired says the metadata was valid when fetched and has expired.
	Expired bool
	Err     error
}

func (e *TUFDirError) Error() string {
	switch {
	case e.Expired:
		return fmt.Sprintf("trusted root for %s: the TUF metadata in %s has expired: %v", e.Deployment, e.Dir, e.Err)
	case errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("trusted root for %s: %s holds no TUF metadata (pipguard fetch stores it there)", e.Deployment, e.Dir)
	}
	return fmt.Sprintf("trusted root for %s: the TUF metadata in %s does not verify from pipguard's embedded root: %v", e.Deployment, e.Dir, e.Err)
}

// Hint says what to do.
func (e *TUFDirError) Hint() string {
	if e.Expired {
		return "fetch again (pipguard fetch pylock.toml DIR) shortly before the install: Sigstore's TUF metadata is valid for days, not months"
	}
	return "fetch again (pipguard fetch pylock.toml DIR) into a fresh directory, or pass --trusted-root FILE"
}

func (e *TUFDirError) Unwrap() error { return e.Err }

// TrustFromDir returns Trust whose material for each deployment comes from
// the TUF files RecordTUF stored under dir, verified on first use by the
// TUF client workflow (sigstore-go's client, the same code as online) from
// pipguard's embedded root (o's overrides in tests), with no cache and no
// network: a file the workflow asks for that dir does not hold is a file
// the repository does not have.
func TrustFromDir(dir string, o TUFOptions) *Trust {
	t := NewTrust(map[Deployment]root.TrustedMaterial{})
	t.origin = "tuf"
	for _, d := range []Deployment{PublicGood, GitHub} {
		t.loaders[d] = func() (root.TrustedMaterial, error) {
			rootJSON, base, err := o.repo(d)
			if err != nil {
				return nil, err
			}
			files := TUFDir(dir, d)
			// Read under an os.Root of dir: no name escapes it, and only
			// regular files (no link, FIFO, device) are read, bounded.
			droot, err := os.OpenRoot(dir)
			if err != nil {
				return nil, &TUFDirError{Deployment: d, Dir: files, Err: err}
			}
			defer droot.Close()
			sub := tufDirName + "/" + string(d)
			ts, _, err := safefile.Open(droot, sub+"/timestamp.json", maxTUFFile)
			if err != nil {
				return nil, &TUFDirError{Deployment: d, Dir: files, Err: err}
			}
			ts.Close()
			tmp, err := os.MkdirTemp("", "pipguard-tuf-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(tmp)
			opts := tuf.DefaultOptions()
			opts.RepositoryBaseURL, opts.Root, opts.CachePath = base, rootJSON, tmp
			opts.Fetcher = dirFetcher{base: base, root: droot, dir: sub}
			opts.DisableLocalCache = true
			if o.CacheDir != "" {
				// pipguard's own TUF cache (TrustFromTUF's), when there is
				// one, is a floor: its trusted root is where the workflow
				// starts, and its timestamp, snapshot and targets are the
				// trusted versions DIR's may not go below (TUF 5.4.3,
				// 5.5.5): metadata recorded earlier cannot be played back.
				// The cache is read, never written.
				floor, err := seedFloor(filepath.Join(o.CacheDir, "tuf", tuf.URLToPath(base)), filepath.Join(tmp, tuf.URLToPath(base)))
				if err != nil {
					return nil, err
				}
				if floor {
					opts.Root = newestRoot(rootJSON, filepath.Join(o.CacheDir, "tuf", tuf.URLToPath(base), "root.json"))
					opts.DisableLocalCache = false
					opts.CacheValidity, opts.ForceCache = 0, false
				}
			}
			client, err := tuf.New(opts)
			var tr *root.TrustedRoot
			if err == nil {
				tr, err = root.GetTrustedRoot(client)
			}
			if err != nil {
				return nil, &TUFDirError{Deployment: d, Dir: files, Expired: errors.Is(err, &metadata.ErrExpiredMetadata{}), Err: err}
			}
			return tr, nil
		}
	}
	return t
}

// seedFloor copies the trusted metadata of pipguard's TUF cache (cache:
// one repository's directory in it) into a fresh client cache (dst), so
// the client workflow over a fetch directory refuses versions older than
// those. It says whether the cache had any (no cache: no floor; TUF then
// starts from the embedded root, and only expiry bounds a rollback).
func seedFloor(cache, dst string) (bool, error) {
	croot, err := os.OpenRoot(cache)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer croot.Close()
	found := false
	for _, name := range []string{"root.json", "timestamp.json", "snapshot.json", "targets.json"} {
		b, err := safefile.ReadFile(croot, name, maxTUFFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return false, err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			return false, err
		}
		found = true
	}
	return found, nil
}

// recordingFetcher downloads through next and keeps every file it got, by
// its path under base.
type recordingFetcher struct {
	next  fetcher.Fetcher
	base  string
	mu    sync.Mutex
	files map[string][]byte
}

func (f *recordingFetcher) DownloadFile(u string, maxLength int64, timeout time.Duration) ([]byte, error) {
	rel, ok := strings.CutPrefix(u, f.base+"/")
	if !ok || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return nil, fmt.Errorf("TUF asked for %s, outside the repository %s", u, f.base)
	}
	b, err := f.next.DownloadFile(u, maxLength, timeout)
	if err == nil {
		f.mu.Lock()
		f.files[rel] = b
		f.mu.Unlock()
	}
	return b, err
}

// dirFetcher answers the TUF client from a directory of recorded files;
// a file it does not hold answers as a repository answers for a file it
// does not have (404), which ends the root chain.
type dirFetcher struct {
	base string
	root *os.Root
	// dir is the deployment's directory under root.
	dir string
}

// maxTUFFile bounds a TUF file read from a fetch directory when the
// client gives no maxLength.
const maxTUFFile = 32 << 20

func (f dirFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	rel, ok := strings.CutPrefix(u, f.base+"/")
	if !ok || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return nil, fmt.Errorf("TUF asked for %s, outside the repository %s", u, f.base)
	}
	max := int64(maxTUFFile)
	if maxLength > 0 {
		max = maxLength
	}
	b, err := safefile.ReadFile(f.root, f.dir+"/"+filepath.ToSlash(rel), max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: u}
	}
	var se *safefile.Error
	if errors.As(err, &se) && se.Max > 0 {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than %d bytes", rel, max)}
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

var (
	_ fetcher.Fetcher = (*recordingFetcher)(nil)
	_ fetcher.Fetcher = dirFetcher{}
)
