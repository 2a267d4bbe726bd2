package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/internal/tuftest"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// tufRepo writes a TUF repository serving trustedRoot as the target
// trusted_root.json, in the layout of tuf-repo.github.com (see tuftest).
// It returns the directory and the expired 1.root.json a client starts
// from.
func tufRepo(t *testing.T, trustedRoot []byte) (string, []byte) {
	r := tuftest.New(t, trustedRoot)
	return r.Dir, r.First
}

func TestTUFUpdatesThroughNewRootThenWorksOffline(t *testing.T) {
	gh, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	trJSON, err := gh.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	dir, firstRoot := tufRepo(t, trJSON)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	cache := t.TempDir()

	sum := sha256Hex([]byte("a wheel"))
	bundles := attest(t, gh, releaseID(), provenance(sum))
	verifyWith := func(trust *Trust) error {
		v, err := NewVerifier(trust, Policy{Repo: repo})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := ArtifactFromDigest("sha256:" + sum)
		_, err = v.Verify(a, bundles)
		return err
	}

	// Online: the client starts from the expired version 1, updates to
	// version 2, then fetches the trusted root and caches everything.
	online := TrustFromTUF(TUFOptions{CacheDir: cache, GitHubURL: srv.URL, GitHubRoot: firstRoot})
	if err := verifyWith(online); err != nil {
		t.Fatalf("online: %v", err)
	}
	if hits.Load() == 0 {
		t.Fatal("the TUF repository was never asked")
	}

	// Offline with that cache: no request at all.
	srv.Close()
	before := hits.Load()
	offline := TrustFromTUF(TUFOptions{CacheDir: cache, GitHubURL: srv.URL, GitHubRoot: firstRoot, Offline: true})
	if err := verifyWith(offline); err != nil {
		t.Fatalf("offline with cache: %v", err)
	}
	if hits.Load() != before {
		t.Error("--offline touched the network")
	}

	// Offline without a cache: a clear TrustError.
	empty := TrustFromTUF(TUFOptions{CacheDir: t.TempDir(), GitHubURL: srv.URL, GitHubRoot: firstRoot, Offline: true})
	err = verifyWith(empty)
	var te *TrustError
	if !errors.As(err, &te) || !strings.Contains(te.Error(), "--offline forbids") || !strings.Contains(te.Hint(), "run once without --offline") {
		t.Fatalf("err = %v", err)
	}

	// Online but unreachable: a TrustError too, not a verification failure.
	down := TrustFromTUF(TUFOptions{CacheDir: t.TempDir(), GitHubURL: srv.URL, GitHubRoot: firstRoot})
	if err := verifyWith(down); !errors.As(err, &te) {
		t.Fatalf("err = %v", err)
	}
}

func TestEmbeddedGitHubRootIsTUFRootMetadata(t *testing.T) {
	var root metadata.Metadata[metadata.RootType]
	if _, err := root.FromBytes(githubTUFRoot); err != nil {
		t.Fatal(err)
	}
	if root.Signed.Version != 3 || root.Signed.Roles["root"].Threshold != 3 {
		t.Errorf("embedded root version %d, threshold %d", root.Signed.Version, root.Signed.Roles["root"].Threshold)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
