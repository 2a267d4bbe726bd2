package attest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// tufRepo writes a TUF repository serving trustedRoot as the target
// trusted_root.json, in the layout of tuf-repo.github.com: consistent
// snapshots, and a first root version that has expired and was replaced by
// version 2, like the root pipguard embeds. It returns the directory and
// the expired 1.root.json a client starts from.
func tufRepo(t *testing.T, trustedRoot []byte) (string, []byte) {
	r := newTUFRepo(t, trustedRoot)
	return r.dir, r.first
}

// testTUF is a TUF repository on disk and the key that signs every role.
type testTUF struct {
	dir    string
	first  []byte
	signer signature.Signer
}

func newTUFRepo(t *testing.T, trustedRoot []byte) *testTUF {
	t.Helper()
	dir := t.TempDir()
	signer, key := tufKey(t)
	week := time.Now().Add(7 * 24 * time.Hour)

	targets := metadata.Targets(week)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", trustedRoot, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	root := metadata.Root(time.Now().Add(-24 * time.Hour)) // version 1: expired
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	r := &testTUF{dir: dir, signer: signer}
	r.signWrite(t, "1.root.json", root)
	first, err := os.ReadFile(filepath.Join(dir, "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.first = first
	root.Signed.Version = 2
	root.Signed.Expires = week
	root.ClearSignatures()
	r.signWrite(t, "2.root.json", root)

	r.signWrite(t, "1.targets.json", targets)
	r.signWrite(t, "1.snapshot.json", metadata.Snapshot(week))
	r.signWrite(t, "timestamp.json", metadata.Timestamp(week))

	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(trustedRoot)
	if err := os.WriteFile(filepath.Join(dir, "targets", hex.EncodeToString(sum[:])+".trusted_root.json"), trustedRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// tufKey is a fresh ed25519 signer and its TUF key.
func tufKey(t *testing.T) (signature.Signer, *metadata.Key) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return signer, key
}

// signWrite signs m with the repository's key and writes it as name
// under dir (the repository's, unless another is given).
func (r *testTUF) signWrite(t *testing.T, name string, m interface {
	Sign(signature.Signer) (*metadata.Signature, error)
	ToFile(string, bool) error
}, dir ...string) {
	t.Helper()
	if _, err := m.Sign(r.signer); err != nil {
		t.Fatal(err)
	}
	d := r.dir
	if len(dir) > 0 {
		d = dir[0]
	}
	if err := m.ToFile(filepath.Join(d, name), true); err != nil {
		t.Fatal(err)
	}
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
