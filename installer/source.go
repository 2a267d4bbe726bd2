package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/installer/github"
)

// source is where VerifyRelease learns what GitHub says: the REST API,
// through the cache when Config.Cache is set.
//
// The cache holds GitHub's answers, never pipguard's verdicts: a warm run
// re-verifies every cached bundle with the current trusted root and policy,
// and re-hashes every cached asset. Release metadata is keyed by the commit
// the tag resolves to now (listed over git, which is not a REST call), so a
// moved tag is asked about again. Nothing is written until the release has
// verified: a failure is never remembered, and a release the maintainers fix
// is seen on the next run.
type source struct {
	gh    *github.Client
	cache *cache.Cache
	host  string
	// read: answer from the cache when it can. warm: it did.
	read bool
	mu   sync.Mutex
	warm bool
	// pending are the cache writes made once the release verified.
	pending []func() error
	// files are the assets written into the download directory.
	files []string
	now   func() time.Time
	// rec, when set, records every answer (pipguard fetch) or replays
	// them with no network (install --files); see recording.go.
	rec *recording
}

func newSource(cfg Config, read bool) (*source, error) {
	s := &source{cache: cfg.Cache, host: strings.ToLower(cfg.tokenHost()), read: read && cfg.Cache != nil, now: clock}
	var opts []github.Option
	if cfg.Cache != nil {
		// ETags are cache entries like the others: read only when this
		// pass reads the cache, written only once the release verified.
		opts = append(opts, github.WithValidators(s))
	}
	gh, err := cfg.client(opts...)
	if err != nil {
		return nil, err
	}
	s.gh = gh
	return s, nil
}

// clock is the time the cache ages entries by (tests move it).
var clock = time.Now

// ReleaseMaxAge is how long a cached release is reused without asking
// GitHub: a release deleted or an asset replaced after it was verified is
// seen within this time (the question is conditional, so an unchanged
// release costs a 304).
const ReleaseMaxAge = 24 * time.Hour

// releaseEntry is a cached release and when it was read from GitHub.
type releaseEntry struct {
	Release github.Release `json:"release"`
	Read    time.Time      `json:"read"`
}

func (s *source) get(kind string, key []string, v any) bool {
	if !s.read || !s.cache.Get(kind, key, v) {
		return false
	}
	s.mu.Lock()
	s.warm = true
	s.mu.Unlock()
	return true
}

func (s *source) later(f func() error) {
	if s.cache == nil {
		return
	}
	s.mu.Lock()
	s.pending = append(s.pending, f)
	s.mu.Unlock()
}

// commit makes the queued cache writes. A cache that cannot be written
// costs the next run some requests, nothing else: errors are dropped.
func (s *source) commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.pending {
		_ = f()
	}
	s.pending = nil
}

// discard removes what this source downloaded, for a second attempt.
func (s *source) discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		os.Remove(f)
	}
	s.files, s.pending = nil, nil
}

func (s *source) repoKey(repo string) string { return s.host + "/" + strings.ToLower(repo) }

// release is the release of tag, keyed by the commit the tag resolves to.
func (s *source) release(ctx context.Context, repo, tag, commit string) (*github.Release, error) {
	key := []string{s.repoKey(repo), tag, commit}
	if s.replaying() {
		return s.rec.release(tag)
	}
	var e releaseEntry
	if s.get("release", key, &e) && e.Release.TagName == tag && s.now().Sub(e.Read) < ReleaseMaxAge && github.CheckRelease(&e.Release, tag) == nil {
		return &e.Release, nil
	}
	r, err := s.gh.ReleaseByTag(ctx, repo, tag)
	if err != nil {
		return nil, err
	}
	if s.recordingNow() {
		s.rec.keepRelease(r)
	}
	read := s.now()
	s.later(func() error { return s.cache.Put("release", key, releaseEntry{Release: *r, Read: read}) })
	return r, nil
}

// attestations is every attestation GitHub lists for digest, of any
// predicate type (one listing serves provenance, SBOM and release checks).
func (s *source) attestations(ctx context.Context, repo, digest string) ([]github.Attestation, error) {
	key := []string{s.repoKey(repo), strings.ToLower(digest)}
	if s.replaying() {
		return s.rec.attestations(digest)
	}
	var atts []github.Attestation
	if s.get("attestations", key, &atts) {
		return atts, nil
	}
	atts, err := s.gh.Attestations(ctx, repo, digest, "")
	if err != nil {
		return nil, err
	}
	if s.recordingNow() {
		s.rec.keepAttestations(digest, atts)
	}
	s.later(func() error { return s.cache.Put("attestations", key, atts) })
	return atts, nil
}

// compare is GitHub's comparison of two commits (a fact about two full
// SHAs, which never changes).
func (s *source) compare(ctx context.Context, repo, base, head string) (*github.Comparison, error) {
	key := []string{s.repoKey(repo), base, head}
	if s.replaying() {
		return s.rec.compare(base, head)
	}
	var cmp github.Comparison
	if s.get("compare", key, &cmp) && cmp.Status != "" {
		return &cmp, nil
	}
	c, err := s.gh.Compare(ctx, repo, base, head)
	if err != nil {
		return nil, err
	}
	if s.recordingNow() {
		s.rec.keepCompare(base, head, c)
	}
	s.later(func() error { return s.cache.Put("compare", key, c) })
	return c, nil
}

// assetBlob is what the cache remembers of an uploaded asset: GitHub gives
// each upload its own id, so (id, name, size) names one set of bytes.
type assetBlob struct {
	SHA256 string `json:"sha256"`
}

// download writes the asset into dir/NAME: from the cache when its bytes
// are there and hash to what was stored (and to the API's digest, when it
// gives one), else from GitHub.
func (s *source) download(ctx context.Context, repo string, a github.Asset, dir string) (*github.Downloaded, error) {
	if s.replaying() {
		dl, err := s.rec.download(a, dir)
		if err == nil {
			s.mu.Lock()
			s.files = append(s.files, dl.Path)
			s.mu.Unlock()
		}
		return dl, err
	}
	key := []string{s.repoKey(repo), fmt.Sprint(a.ID), a.Name, fmt.Sprint(a.Size)}
	var ab assetBlob
	if s.read && s.cache.Get("asset", key, &ab) && (a.Digest == "" || strings.EqualFold(a.Digest, "sha256:"+ab.SHA256)) {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("download directory %s is not private: refusing", dir)
		}
		dst := filepath.Join(dir, a.Name)
		if filepath.Dir(dst) != filepath.Clean(dir) {
			return nil, fmt.Errorf("asset name %q escapes the download directory", a.Name)
		}
		ok, err := s.cache.CopyBlob(ab.SHA256, dst)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if ok {
			if fi, err := os.Stat(dst); err == nil && fi.Size() == a.Size {
				s.mu.Lock()
				s.warm = true
				s.files = append(s.files, dst)
				s.mu.Unlock()
				return &github.Downloaded{Path: dst, SHA256: ab.SHA256, Size: a.Size}, nil
			}
			os.Remove(dst)
		}
	}
	dl, err := s.gh.Download(ctx, a, dir)
	if err != nil {
		return nil, err
	}
	if s.recordingNow() {
		s.rec.keepDownload(a.Name, dl.Path)
	}
	s.mu.Lock()
	s.files = append(s.files, dl.Path)
	s.mu.Unlock()
	s.later(func() error {
		if err := s.cache.PutBlob(dl.SHA256, dl.Path); err != nil {
			return err
		}
		return s.cache.Put("asset", key, assetBlob{SHA256: dl.SHA256})
	})
	return dl, nil
}

// validator is an ETag and the body it names, as cached.
type validator struct {
	ETag string `json:"etag"`
	Body []byte `json:"body"`
}

// Validator implements github.Validators: the cached ETag, when this pass
// reads the cache.
func (s *source) Validator(key string) (string, []byte, bool) {
	var v validator
	if !s.read || !s.cache.Get("etag", []string{key}, &v) || v.ETag == "" {
		return "", nil, false
	}
	return v.ETag, v.Body, true
}

// StoreValidator implements github.Validators: kept once the release
// verified, like every other entry.
func (s *source) StoreValidator(key, etag string, body []byte) {
	s.later(func() error { return s.cache.Put("etag", []string{key}, validator{ETag: etag, Body: body}) })
}
