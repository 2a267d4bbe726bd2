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
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/internal/hashcopy"
	"github.com/pipguard/pipguard/internal/safefile"
)

// A guarded release asset in a hermetic install. pipguard fetch verifies
// the release as install does and records, in the fetch directory, every
// answer of GitHub's the verification used: the release, the attestation
// listings by digest, comparisons, the repository, and the assets it
// downloaded (SHA256SUMS, the asset itself). pipguard install --files
// replays them through the same code (verifyFrom): every bundle is
// verified again against the trusted root and the policy, every asset
// hashed again, and the asset must be the lock's bytes. What is not
// replayed is git: the tag is not listed again, the lock's commit is used
// (the lock is the user's trusted input), and every signed statement must
// still bind to it. A question the recording holds no answer for is an
// error that says to fetch again; nothing reaches the network.

// recordSchema versions a release record.
const recordSchema = "pipguard.release-record/v1"

// releaseRecord is one guarded release's recorded GitHub answers.
type releaseRecord struct {
	Schema string `json:"schema"`
	// Repo, Tag and Commit are what the fetch verified.
	Repo   string `json:"repo"`
	Tag    string `json:"tag"`
	Commit string `json:"commit"`
	// Release is GET /repos/{o}/{r}/releases/tags/{tag}.
	Release *github.Release `json:"release,omitempty"`
	// Repository is GET /repos/{o}/{r}, when it was asked.
	Repository *github.Repository `json:"repository,omitempty"`
	// Attestations are the listings by digest (lower case).
	Attestations map[string][]github.Attestation `json:"attestations"`
	// Compare are comparisons by "BASE...HEAD".
	Compare map[string]github.Comparison `json:"compare"`
	// Assets are the downloaded assets' files, relative to the fetch
	// directory.
	Assets map[string]string `json:"assets"`
}

// recording records GitHub's answers for one release (fetch) or replays
// them (install --files).
type recording struct {
	replay bool
	// dir is the fetch directory; path is the record's file in it, rel
	// that path under root (dir, through which every read and write goes).
	dir, path, rel string
	root           *os.Root
	mu             sync.Mutex
	rec            releaseRecord
	// downloaded are, when recording, the assets' paths in the download
	// directory.
	downloaded map[string]string
}

// RecordMissingError is a question a hermetic install asked that the
// fetch directory holds no answer for: the directory was fetched for
// another lock, or is incomplete.
type RecordMissingError struct {
	Dir  string
	What string
}

func (e *RecordMissingError) Error() string {
	return fmt.Sprintf("%s holds no recorded answer for %s", e.Dir, e.What)
}

// Hint says what to do.
func (e *RecordMissingError) Hint() string {
	return "fetch again (pipguard fetch pylock.toml DIR) for this lock: a hermetic install asks nothing of GitHub"
}

// recordPath is where DIR keeps the record of repo's tag on host:
// DIR/releases/HOST/OWNER/REPO/TAG/record.json (the tag path-escaped).
func recordPath(dir, host, repo, tag string) (string, error) {
	owner, name, err := github.SplitRepo(repo)
	if err != nil {
		return "", err
	}
	parts := []string{dir, "releases"}
	for _, p := range []string{host, owner, name, tag} {
		e := url.PathEscape(strings.ToLower(p))
		if p == tag {
			e = url.PathEscape(p)
		}
		if e == "" || e == "." || e == ".." {
			return "", fmt.Errorf("cannot record %q in a directory name", p)
		}
		parts = append(parts, e)
	}
	return filepath.Join(append(parts, "record.json")...), nil
}

func newRecording(dir, host, repo, tag, commit string) (*recording, error) {
	p, err := recordPath(dir, host, repo, tag)
	if err != nil {
		return nil, err
	}
	root, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	return &recording{dir: dir, path: p, rel: recordRel(dir, p), root: root, downloaded: map[string]string{},
		rec: releaseRecord{Schema: recordSchema, Repo: repo, Tag: tag, Commit: commit,
			Attestations: map[string][]github.Attestation{}, Compare: map[string]github.Comparison{}, Assets: map[string]string{}}}, nil
}

// openRecording reads the record of repo's tag in dir, for replay.
func openRecording(dir, host, repo, tag string) (*recording, error) {
	p, err := recordPath(dir, host, repo, tag)
	if err != nil {
		return nil, err
	}
	root, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	data, err := safefile.ReadFile(root, recordRel(dir, p), maxDirRecord)
	if errors.Is(err, fs.ErrNotExist) {
		root.Close()
		return nil, &RecordMissingError{Dir: dir, What: fmt.Sprintf("release %s of %s (no %s)", tag, repo, p)}
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("the release record in %s: %w", dir, err)
	}
	r := &recording{replay: true, dir: dir, path: p, rel: recordRel(dir, p), root: root}
	if err := json.Unmarshal(data, &r.rec); err != nil || r.rec.Schema != recordSchema {
		return nil, fmt.Errorf("%s is not a release record pipguard fetch wrote (%s): fetch again", p, firstOf(errString(err), "schema "+r.rec.Schema))
	}
	return r, nil
}

// recordRel is the record's path p under the fetch directory dir, with
// slashes.
func recordRel(dir, p string) string {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *recording) missing(what string) error {
	return &RecordMissingError{Dir: r.dir, What: fmt.Sprintf("%s (release %s of %s)", what, r.rec.Tag, r.rec.Repo)}
}

// save writes the record, and the assets it downloaded into its
// directory; the asset named locked goes to DIR/NAME, where install
// --files reads a lock's files.
func (r *recording) save(locked string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	base := path.Dir(r.rel)
	for name, src := range r.downloaded {
		if filepath.Base(name) != name || !filepath.IsLocal(name) {
			return fmt.Errorf("asset name %q is not a file name", name)
		}
		dst := path.Join(base, name)
		if name == locked {
			dst = name
		}
		// A copy, never a link: DIR's writer cannot reach pipguard's
		// download; a link planted at dst is replaced, not followed.
		if err := safefile.CopyIn(r.root, src, dst, 0o644); err != nil {
			return err
		}
		r.rec.Assets[name] = dst
	}
	data, err := json.MarshalIndent(r.rec, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(r.root, r.rel, append(data, '\n'), 0o644)
}

func (r *recording) release(tag string) (*github.Release, error) {
	if r.rec.Release == nil {
		return nil, r.missing("the release")
	}
	rel := *r.rec.Release
	// As the client checks GitHub's own answer: the release of this tag,
	// with safe asset names.
	if err := github.CheckRelease(&rel, tag); err != nil {
		return nil, fmt.Errorf("recorded in %s: %w", r.path, err)
	}
	return &rel, nil
}

func (r *recording) attestations(digest string) ([]github.Attestation, error) {
	atts, ok := r.rec.Attestations[strings.ToLower(digest)]
	if !ok {
		return nil, r.missing("the attestations of " + digest)
	}
	return atts, nil
}

func (r *recording) compare(base, head string) (*github.Comparison, error) {
	c, ok := r.rec.Compare[base+"..."+head]
	if !ok {
		return nil, r.missing(fmt.Sprintf("the comparison of %s and %s", base, head))
	}
	return &c, nil
}

func (r *recording) repository() (*github.Repository, error) {
	if r.rec.Repository == nil {
		return nil, r.missing("the repository")
	}
	repo := *r.rec.Repository
	return &repo, nil
}

// download copies the recorded asset into dir/NAME (0600), hashing it, and
// checks it as a download from GitHub is checked: the release's size and
// digest.
func (r *recording) download(a github.Asset, dir string) (*github.Downloaded, error) {
	rel, ok := r.rec.Assets[a.Name]
	if !ok {
		return nil, r.missing("asset " + a.Name)
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return nil, fmt.Errorf("recorded asset %s is at %q, outside %s: fetch again", a.Name, rel, r.dir)
	}
	final := filepath.Join(dir, a.Name)
	if filepath.Dir(final) != filepath.Clean(dir) {
		return nil, fmt.Errorf("asset name %q escapes the download directory", a.Name)
	}
	// Regular files only, under DIR, read at most one byte past the
	// release's size.
	in, _, err := safefile.Open(r.root, rel, math.MaxInt64)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, r.missing("asset " + a.Name + " (" + rel + ")")
	}
	if err != nil {
		return nil, fmt.Errorf("recorded asset %s: %w", a.Name, err)
	}
	defer in.Close()
	out, err := os.OpenFile(final, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := hashcopy.Copy(out, h, io.LimitReader(in, max(a.Size, 0)+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(final)
		return nil, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if n != a.Size {
		os.Remove(final)
		return nil, &github.IntegrityError{Asset: a.Name, What: "size", Expected: fmt.Sprint(a.Size), Actual: fmt.Sprintf("%s bytes in %s", sizeSeen(n, a.Size), rel)}
	}
	if alg, want, _ := strings.Cut(a.Digest, ":"); a.Digest != "" && alg == "sha256" && !strings.EqualFold(want, sum) {
		os.Remove(final)
		return nil, &github.IntegrityError{Asset: a.Name, What: "digest", Expected: a.Digest, Actual: "sha256:" + sum}
	}
	return &github.Downloaded{Path: final, SHA256: sum, Size: n}, nil
}

// sizeSeen says how many bytes a read bounded to want+1 found.
func sizeSeen(n, want int64) string {
	if n > want {
		return fmt.Sprintf("more than %d", want)
	}
	return fmt.Sprint(n)
}

// The recording half: what GitHub answered, kept once it arrived.

func (r *recording) keepRelease(rel *github.Release) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *rel
	r.rec.Release = &c
}

func (r *recording) keepAttestations(digest string, atts []github.Attestation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if atts == nil {
		atts = []github.Attestation{}
	}
	r.rec.Attestations[strings.ToLower(digest)] = atts
}

func (r *recording) keepCompare(base, head string, c *github.Comparison) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Compare[base+"..."+head] = *c
}

func (r *recording) keepRepository(repo *github.Repository) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *repo
	r.rec.Repository = &c
}

func (r *recording) keepDownload(name, path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downloaded[name] = path
}

// replaying says whether src answers from a recording only.
func (s *source) replaying() bool { return s.rec != nil && s.rec.replay }

// recordingNow says whether src keeps GitHub's answers in a recording.
func (s *source) recordingNow() bool { return s.rec != nil && !s.rec.replay }

// repository is GET /repos/{o}/{r}, recorded or replayed.
func (s *source) repository(ctx context.Context, repo string) (*github.Repository, error) {
	if s.replaying() {
		return s.rec.repository()
	}
	r, err := s.gh.Repository(ctx, repo)
	if err == nil && s.recordingNow() {
		s.rec.keepRepository(r)
	}
	return r, err
}
