package installer

// Attacks on the cache and on the API economy (from an attacker's-eye
// review): each one tried, each one must fail.

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

func repoKey(w *world) string { return strings.ToLower(w.cfg.tokenHost()) + "/acme/demo" }

func plainClient(t *testing.T, w *world) *github.Client {
	t.Helper()
	c, err := github.New(w.gh.URL(), "", github.WithHTTPClient(w.gh.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Whoever can write the cache directory but has not its key (another build
// on a shared BuildKit cache mount, a job saving a CI cache) plants entries
// that would decide checks: a comparison binding an unknown build commit to
// the tag, a release said to be mutable (no release attestation required),
// an old repository id. None is read.
func TestPlantedEntriesDecideNothing(t *testing.T) {
	plant := func(t *testing.T, c *cache.Cache) *cache.Cache {
		p, err := cache.Open(c.Dir(), []byte("the-attackers-own-key-0123456789"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("compare", func(t *testing.T) {
		w, c := cachedWorld(t)
		built := strings.Repeat("de", 20) // not in the repository at all
		pub := w.publish(t, githubtest.Publish{SourceCommit: built})
		plant(t, c).Put("compare", []string{repoKey(w), built, pub.Commit}, github.Comparison{Status: "ahead", AheadBy: 0})
		if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err == nil || !strings.Contains(err.Error(), "unrelated") {
			t.Fatalf("a planted comparison bound the build to the tag: %v", err)
		}
	})
	t.Run("release said to be mutable", func(t *testing.T) {
		w, c := cachedWorld(t)
		other, err := sigstoretest.NewGitHub() // a release attestation that does not verify
		if err != nil {
			t.Fatal(err)
		}
		pub := w.publish(t, githubtest.Publish{Immutable: true, GitHubSigner: other})
		rel, err := plainClient(t, w).ReleaseByTag(context.Background(), "acme/demo", "v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		rel.Immutable = false
		plant(t, c).Put("release", []string{repoKey(w), "v1.0.0", pub.Commit}, releaseEntry{Release: *rel, Read: time.Now()})
		if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err == nil || !strings.Contains(err.Error(), "release-attestation") {
			t.Fatalf("a planted release turned the release attestation off: %v", err)
		}
	})
	t.Run("old repository id", func(t *testing.T) {
		w, c := cachedWorld(t)
		pub := w.publish(t, githubtest.Publish{SkipSums: true, SkipSBOM: true})
		oldID := w.repo.ID
		atts, err := plainClient(t, w).Attestations(context.Background(), "acme/demo", pub.Wheel.Digest(), "")
		if err != nil {
			t.Fatal(err)
		}
		w.repo.ID = oldID + 777 // deleted and re-created: another id
		for i := range atts {
			atts[i].RepositoryID = oldID
		}
		plant(t, c).Put("attestations", []string{repoKey(w), pub.Wheel.Digest()}, atts)
		if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err == nil || !strings.Contains(err.Error(), "SourceRepositoryIdentifier") {
			t.Fatalf("a planted repository id was accepted: %v", err)
		}
	})
}

// A release deleted (the tag kept) or an asset replaced after it was
// verified is seen once the cached release is ReleaseMaxAge old.
func TestCachedReleasesAge(t *testing.T) {
	defer func() { clock = time.Now }()
	t.Run("release deleted", func(t *testing.T) {
		w, _ := cachedWorld(t)
		pub := w.publish(t, githubtest.Publish{})
		if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err != nil {
			t.Fatal(err)
		}
		delete(w.repo.Releases, "v1.0.0")
		clock = func() time.Time { return time.Now().Add(ReleaseMaxAge + time.Minute) }
		if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err == nil || !strings.Contains(err.Error(), "no published release") {
			t.Fatalf("a deleted release still verified from the cache: %v", err)
		}
	})
	t.Run("asset replaced", func(t *testing.T) {
		clock = time.Now
		w, _ := cachedWorld(t)
		pub := w.publish(t, githubtest.Publish{SkipSums: true, SkipSBOM: true})
		if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err != nil {
			t.Fatal(err)
		}
		fixed := pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/fixed.py": "ok = True\n"}}
		na := &githubtest.Asset{Name: pub.Wheel.Name, Data: fixed.Wheel(), ContentType: "application/zip"}
		w.gh.AttestProvenance(w.repo, githubtest.Publish{Project: fixed, Signer: w.signer}, pub.Commit, na)
		assets := []*githubtest.Asset{na}
		for _, a := range pub.Release.Assets {
			if a.Name != pub.Wheel.Name {
				assets = append(assets, a)
			}
		}
		w.gh.AddRelease(w.repo, &githubtest.Release{Tag: "v1.0.0", Assets: assets})
		clock = func() time.Time { return time.Now().Add(ReleaseMaxAge + time.Minute) }
		rep, err := w.verify(t, "v1.0.0", pub.Wheel.Name)
		if err != nil || rep.Assets[0].SHA256 != sha256hex(na.Data) {
			t.Fatalf("after a day the withdrawn asset is still used: %v", err)
		}
	})
}

// A warm pass that fails for any reason (here: the maintainers added a
// wheel the cached listing lacks, so the asset choice refuses) asks GitHub
// again.
func TestStaleListingIsAskedAgain(t *testing.T) {
	w, _ := cachedWorld(t)
	pub := w.publish(t, githubtest.Publish{SkipSums: true, SkipSBOM: true})
	want := pub.Wheel.Name
	choose := func(names []string) ([]string, error) {
		for _, n := range names {
			if n == want {
				return []string{n}, nil
			}
		}
		return nil, &RefusedError{Reasons: []string{"release has no asset for the target interpreter"}}
	}
	run := func() (*ReleaseReport, error) {
		dir, cleanup, err := DownloadDir()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		return VerifyRelease(context.Background(), w.cfg, ReleaseOptions{Repo: "acme/demo", Tag: "v1.0.0", Dir: dir, Trust: w.trust, Choose: choose})
	}
	if _, err := run(); err != nil {
		t.Fatal(err)
	}
	extra := pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/x.py": ""}}
	ea := &githubtest.Asset{Name: "demo-1.0.0-cp312-cp312-manylinux_2_17_x86_64.whl", Data: extra.Wheel()}
	w.gh.AttestProvenance(w.repo, githubtest.Publish{Project: extra, Signer: w.signer}, pub.Commit, ea)
	w.gh.AddRelease(w.repo, &githubtest.Release{Tag: "v1.0.0", Assets: append(append([]*githubtest.Asset{}, pub.Release.Assets...), ea)})
	want = ea.Name
	if rep, err := run(); err != nil || rep.Assets[0].Name != ea.Name {
		t.Fatalf("the stale listing was final: %v", err)
	}
}

// The pass that asks GitHub again reads nothing from the cache, ETag bodies
// included: a cached body that is no longer what GitHub says (here: it says
// mutable) cannot decide it.
func TestRetryReadsNoETagBodies(t *testing.T) {
	w, c := cachedWorld(t)
	pub := w.publish(t, githubtest.Publish{Immutable: true})
	rep, err := w.verify(t, "v1.0.0", pub.Wheel.Name)
	if err != nil {
		t.Fatal(err)
	}
	// GitHub's release attestation is gone; a fresh verification fails.
	var keep []*githubtest.Attestation
	for _, a := range w.repo.Attestations {
		if a.Initiator != "github" {
			keep = append(keep, a)
		}
	}
	w.repo.Attestations = keep
	// The cached ETag body says mutable, and the typed entry fails the
	// warm pass (a draft), so the second pass runs.
	vkey := []string{w.gh.URL() + "/api/v3/repos/acme/demo/releases/tags/v1.0.0 anonymous"}
	var v validator
	if !c.Get("etag", vkey, &v) {
		t.Fatal("no etag entry for the release")
	}
	var body map[string]any
	json.Unmarshal(v.Body, &body)
	body["immutable"] = false
	v.Body, _ = json.Marshal(body)
	c.Put("etag", vkey, v)
	relKey := []string{repoKey(w), "v1.0.0", rep.Commit}
	var e releaseEntry
	if !c.Get("release", relKey, &e) {
		t.Fatal("release not cached")
	}
	e.Release.Draft = true
	c.Put("release", relKey, e)
	if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err == nil || !strings.Contains(err.Error(), "release-attestation") {
		t.Fatalf("the second pass read the cached ETag body: %v", err)
	}
}

// ETags are kept per URL and per kind of caller, not per token: a new
// token (one per Actions job) does not copy every response again.
func TestETagEntriesDoNotGrowPerToken(t *testing.T) {
	w, c := cachedWorld(t)
	pub := w.publish(t, githubtest.Publish{Immutable: true})
	count := func() int {
		files, _ := filepath.Glob(c.Dir() + "/v1/etag/*/*.json")
		return len(files)
	}
	var first int
	for i := 1; i <= 3; i++ {
		w.gh.Token = "tok-" + strings.Repeat("x", i)
		w.cfg.Token = w.gh.Token
		if _, err := w.uncachedPass(t, pub.Wheel.Name); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			first = count()
		}
	}
	if first == 0 || count() != first {
		t.Errorf("etag entries: %d after one token, %d after three", first, count())
	}
}

// uncachedPass verifies reading no entry (as the second pass does),
// writing on success.
func (w *world) uncachedPass(t *testing.T, asset string) (*ReleaseReport, error) {
	t.Helper()
	dir, cleanup, err := DownloadDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	rep, err, _ := verifyRelease(context.Background(), w.cfg, ReleaseOptions{Repo: "acme/demo", Tag: "v1.0.0", Assets: []string{asset}, Dir: dir, Trust: w.trust}, false)
	return rep, err
}
