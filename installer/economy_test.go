package installer

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/policy"
)

// traffic is what the local GitHub saw, by kind.
type traffic struct {
	rest, notModified, listings, webDownloads, storage, bundles int
	paths                                                       []string
}

func (tr traffic) String() string {
	return fmt.Sprintf("%d REST (%d answered 304), %d ref listings, %d web downloads, %d storage downloads, %d bundle fetches",
		tr.rest, tr.notModified, tr.listings, tr.webDownloads, tr.storage, tr.bundles)
}

// trafficSince counts the requests logged after the first n.
func trafficSince(gh *githubtest.Server, n int) traffic {
	var tr traffic
	for _, r := range gh.Requests()[n:] {
		switch {
		case r.Server == "api" && strings.HasPrefix(r.Path, "/api/v3/"):
			tr.rest++
			tr.paths = append(tr.paths, r.Path)
			if r.Header.Get("If-None-Match") != "" {
				tr.notModified++ // every conditional request here is answered 304
			}
		case r.Server == "api" && strings.HasSuffix(r.Path, "/info/refs"):
			tr.listings++
		case r.Server == "api" && strings.Contains(r.Path, "/releases/download/"):
			tr.webDownloads++
		case r.Server == "assets":
			tr.storage++
		case r.Server == "blobs":
			tr.bundles++
		}
	}
	return tr
}

// TestAPIEconomy counts what one guarded requirement costs GitHub, cold
// and warm, for 1 and 20 requirements: cold, at most 3 REST calls each
// (plus 1 for the comparison a commit distance needs) and one ref listing;
// warm, no REST call at all, and nothing downloaded.
func TestAPIEconomy(t *testing.T) {
	cases := []struct {
		name     string
		repos    int
		publish  githubtest.Publish
		distance int
		coldREST int // per requirement
	}{
		{"tag-triggered, immutable", 1, githubtest.Publish{Immutable: true}, 0, 2},
		{"release attestation listed by commit only", 1, githubtest.Publish{Immutable: true, ReleaseAttestationByCommit: true}, 0, 3},
		{"semantic-release (build one commit before the tag)", 1, githubtest.Publish{Immutable: true, BumpCommit: true}, 1, 3},
		{"mutable release", 1, githubtest.Publish{}, 0, 2},
		{"20 requirements from 20 repositories", 20, githubtest.Publish{Immutable: true}, 0, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newInstallWorld(t)
			var reqs []string
			for i := 0; i < tc.repos; i++ {
				name := fmt.Sprintf("pkg%d", i)
				r := w.gh.AddRepo("acme", name)
				p := tc.publish
				p.Project, p.Signer = pkgtest.Project{Name: name, Version: "1.0.0"}, w.signer
				w.gh.Publish(r, p)
				reqs = append(reqs, name+" @ git+"+w.gh.URL()+"/acme/"+name+".git@v1.0.0")
			}
			var err error
			if w.cfg.Cache, err = cache.Open(t.TempDir(), testCacheKey); err != nil {
				t.Fatal(err)
			}
			rules := distancePolicy(t, tc.distance)
			run := func(label string) traffic {
				t.Helper()
				n := len(w.gh.Requests())
				rep, err := w.install(t, InstallOptions{Requirements: reqs, DryRun: true, Rules: rules})
				if err != nil {
					t.Fatalf("%s: %v\n%s", label, err, w.out.String())
				}
				tr := trafficSince(w.gh, n)
				calls := 0
				for _, g := range rep.Guarded {
					calls += g.Release.APIRequests
				}
				if calls != tr.rest {
					t.Errorf("%s: the reports count %d REST calls, the server saw %d", label, calls, tr.rest)
				}
				t.Logf("%s: %s", label, tr)
				return tr
			}

			cold := run("cold")
			if want := tc.coldREST * tc.repos; cold.rest != want {
				t.Errorf("cold: %d REST calls, want %d: %v", cold.rest, want, cold.paths)
			}
			if cold.listings != tc.repos {
				t.Errorf("cold: %d ref listings, want %d", cold.listings, tc.repos)
			}
			if cold.storage == 0 || cold.webDownloads != cold.storage {
				t.Errorf("cold: assets not fetched through their web URLs: %s", cold)
			}

			warm := run("warm")
			if warm.rest != 0 || warm.storage != 0 || warm.bundles != 0 || warm.webDownloads != 0 {
				t.Errorf("warm: %s, want only ref listings", warm)
			}
			if warm.listings != tc.repos {
				t.Errorf("warm: %d ref listings, want %d (the tag is always listed again)", warm.listings, tc.repos)
			}
			for _, g := range func() []*Guarded {
				rep, _ := w.install(t, InstallOptions{Requirements: reqs, DryRun: true, Rules: rules})
				return rep.Guarded
			}() {
				if g.Release.Cache != "warm" || !g.Release.Verified {
					t.Errorf("%s: cache %q, verified %v", g.Name, g.Release.Cache, g.Release.Verified)
				}
			}
		})
	}
}

// distancePolicy is a policy allowing builds up to n commits before the
// tag, from refs/heads/main or the tag (nil for n = 0: the default).
func distancePolicy(t *testing.T, n int) *policy.Policy {
	t.Helper()
	if n == 0 {
		return nil
	}
	p, err := policy.Parse("pipguard.toml", []byte(fmt.Sprintf("max_commit_distance = %d\nsource_refs = [\"refs/heads/main\", \"refs/tags/*\"]\n", n)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cachedWorld is a world whose verifications share a cache.
func cachedWorld(t *testing.T) (*world, *cache.Cache) {
	t.Helper()
	w := newWorld(t)
	c, err := cache.Open(t.TempDir(), testCacheKey)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.Cache = c
	return w, c
}

// The cache is trusted as much as the user's home, but whoever rewrites it
// still cannot get unverified bytes past a warm run: every cached bundle and
// asset is verified again, and a warm run that does not verify asks GitHub.
func TestTamperedCacheIsNeverAVerdict(t *testing.T) {
	for _, alsoRelease := range []bool{false, true} {
		t.Run(fmt.Sprintf("release entry rewritten too: %v", alsoRelease), func(t *testing.T) {
			w, c := cachedWorld(t)
			pub := w.publish(t, githubtest.Publish{Immutable: true})
			rep, err := w.verify(t, "v1.0.0", pub.Wheel.Name)
			if err != nil {
				t.Fatal(err)
			}
			// Other bytes in the cache, the cached asset entry pointing at
			// them, and (second case) the cached release listing their digest.
			evil := pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/evil.py": "x"}}.Wheel()
			evilPath := filepath.Join(t.TempDir(), "evil.whl")
			writeFile(t, evilPath, evil)
			evilSHA := sha256hex(evil)
			if err := c.PutBlob(evilSHA, evilPath); err != nil {
				t.Fatal(err)
			}
			repo := strings.ToLower(w.cfg.tokenHost()) + "/acme/demo"
			var e releaseEntry
			relKey := []string{repo, "v1.0.0", rep.Commit}
			if !c.Get("release", relKey, &e) {
				t.Fatal("release not cached")
			}
			rel := &e.Release
			for i, a := range rel.Assets {
				if a.Name == pub.Wheel.Name {
					if alsoRelease {
						rel.Assets[i].Digest, rel.Assets[i].Size = "sha256:"+evilSHA, int64(len(evil))
						a = rel.Assets[i]
					}
					c.Put("asset", []string{repo, fmt.Sprint(a.ID), a.Name, fmt.Sprint(a.Size)}, assetBlob{SHA256: evilSHA})
				}
			}
			c.Put("release", relKey, e)

			n := len(w.gh.Requests())
			rep, err = w.verify(t, "v1.0.0", pub.Wheel.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Assets[0].SHA256; got != sha256hex(pub.Wheel.Data) {
				t.Errorf("verified sha256:%s, want the genuine wheel", got)
			}
			if b, _ := os.ReadFile(rep.Assets[0].Path); sha256hex(b) != sha256hex(pub.Wheel.Data) {
				t.Error("the file handed on is not the genuine wheel")
			}
			if tr := trafficSince(w.gh, n); tr.storage == 0 {
				t.Errorf("the genuine wheel was not downloaded again: %s", tr)
			}
		})
	}
}

// A cache entry that is corrupt is ignored and replaced; the run still
// verifies.
func TestCorruptCacheEntriesAreReplaced(t *testing.T) {
	w, c := cachedWorld(t)
	pub := w.publish(t, githubtest.Publish{Immutable: true})
	if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(c.Dir() + "/v1/*/*/*")
	if len(files) == 0 {
		t.Fatal("nothing cached")
	}
	for _, f := range files {
		writeFile(t, f, []byte("{garbage"))
	}
	n := len(w.gh.Requests())
	rep, err := w.verify(t, "v1.0.0", pub.Wheel.Name)
	if err != nil || rep.Cache != "cold" {
		t.Fatalf("cache %q: %v", rep.Cache, err)
	}
	if tr := trafficSince(w.gh, n); tr.rest != 2 || tr.notModified != 0 {
		// The ETags were garbage too: plain requests.
		t.Errorf("after corruption: %s", tr)
	}
	n = len(w.gh.Requests())
	if rep, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err != nil || rep.Cache != "warm" || trafficSince(w.gh, n).rest != 0 {
		t.Errorf("not replaced: cache %q, %v, %s", rep.Cache, err, trafficSince(w.gh, n))
	}
}

// A failure is never remembered: once the maintainers add the missing
// provenance, the next run sees it.
func TestFailuresAreNotCached(t *testing.T) {
	w, c := cachedWorld(t)
	pub := w.publish(t, githubtest.Publish{SkipProvenance: true})
	if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err == nil {
		t.Fatal("verified without provenance")
	}
	if files, _ := filepath.Glob(c.Dir() + "/v1/[^e]*/*/*"); len(files) != 0 {
		t.Errorf("a failed verification cached %v", files)
	}
	w.gh.AttestProvenance(w.repo, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0"}, Signer: w.signer}, pub.Commit, pub.Wheel)
	if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err != nil {
		t.Fatalf("after the maintainers attested: %v", err)
	}
}

// A tag moved to another commit misses the cache: the release is asked
// for again, conditionally (GitHub answers 304 when it is unchanged).
func TestMovedTagAsksAgainConditionally(t *testing.T) {
	w, _ := cachedWorld(t)
	pub := w.publish(t, githubtest.Publish{Immutable: true})
	if _, err := w.verify(t, "v1.0.0", pub.Wheel.Name); err != nil {
		t.Fatal(err)
	}
	g := w.repo.Git
	g.Git("tag", "-f", "-a", "-m", "moved", "v1.0.0", g.Commit("moved"))
	n := len(w.gh.Requests())
	_, err := w.verify(t, "v1.0.0", pub.Wheel.Name)
	if err == nil || !strings.Contains(err.Error(), "release commit") {
		t.Fatalf("a moved tag verified: %v", err)
	}
	tr := trafficSince(w.gh, n)
	if tr.paths[0] != "/api/v3/repos/acme/demo/releases/tags/v1.0.0" || tr.notModified == 0 {
		t.Errorf("the release was not asked for again, conditionally: %s %v", tr, tr.paths)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// --hash pins are checked as pip checks them: any one listed hash of an
// allowed algorithm (sha256, sha384, sha512) must match; others refused.
func TestCheckHashes(t *testing.T) {
	data := []byte("the verified wheel")
	path := filepath.Join(t.TempDir(), "demo.whl")
	writeFile(t, path, data)
	a := &AssetReport{Name: "demo.whl", Path: path, SHA256: sha256hex(data)}
	s384, s512 := sha512.Sum384(data), sha512.Sum512(data)
	h384, h512 := "sha384:"+hex.EncodeToString(s384[:]), "sha512:"+hex.EncodeToString(s512[:])
	other := "sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		hashes []string
		want   string // "" for accepted
	}{
		{nil, ""},
		{[]string{"sha256:" + a.SHA256}, ""},
		{[]string{"SHA256:" + strings.ToUpper(a.SHA256)}, ""},
		{[]string{h384}, ""},
		{[]string{h512}, ""},
		{[]string{other, h512}, ""},
		{[]string{other}, "matches none of the pinned hashes"},
		{[]string{"sha512:" + strings.Repeat("a", 128)}, "matches none of the pinned hashes"},
		{[]string{"sha384:" + strings.Repeat("a", 96)}, "matches none"},
		{[]string{"md5:" + strings.Repeat("a", 32)}, "pip allows sha256, sha384 and sha512 only"},
	} {
		err := checkHashes("demo", tc.hashes, a)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.hashes, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: got %v, want %q", tc.hashes, err, tc.want)
		}
	}
}

// testCacheKey authenticates the tests' caches; benchKey the benchmarks'.
var (
	testCacheKey = []byte("pipguard-test-cache-key-0123456789")
	benchKey     = testCacheKey
)
