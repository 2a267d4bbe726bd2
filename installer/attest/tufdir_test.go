package attest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/internal/tuftest"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// recordedTUF serves a real signed TUF repository for a local GitHub
// Sigstore instance, records it into a fetch directory with RecordTUF, and
// stops serving: what is left is the directory.
func recordedTUF(t *testing.T) (r *tuftest.Repo, dir string, o TUFOptions, verify func(*Trust) error) {
	t.Helper()
	gh, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	trJSON, err := gh.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	r = tuftest.New(t, trJSON)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		http.FileServer(http.Dir(r.Dir)).ServeHTTP(w, req)
	}))
	o = TUFOptions{GitHubURL: srv.URL, GitHubRoot: r.First}
	dir = t.TempDir()
	rec, err := RecordTUF(o, GitHub, dir)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if hits.Load() == 0 {
		t.Fatal("the TUF repository was never asked")
	}
	for _, want := range []string{"2.root.json", "timestamp.json", "1.snapshot.json", "1.targets.json"} {
		if !slices.Contains(rec.Files, want) {
			t.Errorf("recorded %v, not %s", rec.Files, want)
		}
	}
	if rec.RootVersion != 2 || rec.Expires.Before(time.Now().Add(6*24*time.Hour)) || !slices.ContainsFunc(rec.Files, func(f string) bool { return strings.HasSuffix(f, ".trusted_root.json") }) {
		t.Errorf("record %+v", rec)
	}
	sum := sha256Hex([]byte("a wheel"))
	bundles := attest(t, gh, releaseID(), provenance(sum))
	verify = func(trust *Trust) error {
		v, err := NewVerifier(trust, Policy{Repo: repo})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := ArtifactFromDigest("sha256:" + sum)
		_, err = v.Verify(a, bundles)
		return err
	}
	return r, dir, o, verify
}

// The TUF files pipguard fetch records verify again with no network, by
// the TUF client workflow from the embedded root, and give the trusted
// root that verifies the instance's bundles.
func TestTUFRecordedDirVerifiesOffline(t *testing.T) {
	_, dir, o, verify := recordedTUF(t)
	if err := verify(TrustFromDir(dir, o)); err != nil {
		t.Fatal(err)
	}
	// A deployment the directory holds nothing for is a TUFDirError that
	// says to fetch again, not a verification failure.
	_, err := TrustFromDir(dir, o).Material(PublicGood)
	var de *TUFDirError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "holds no TUF metadata") || !strings.Contains(de.Hint(), "fetch again") {
		t.Fatalf("err = %v", err)
	}
}

// A trusted root planted in the directory in place of the recorded target
// is refused: targets.json, signed from the embedded root's keys, names
// the target's length and hashes.
func TestTUFDirRefusesASwappedTrustedRoot(t *testing.T) {
	_, dir, o, verify := recordedTUF(t)
	mallory, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := mallory.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := filepath.Glob(filepath.Join(TUFDir(dir, GitHub), "targets", "*.trusted_root.json"))
	if len(targets) != 1 {
		t.Fatalf("targets %v", targets)
	}
	if err := os.WriteFile(targets[0], theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	err = verify(TrustFromDir(dir, o))
	var de *TUFDirError
	if !errors.As(err, &de) || de.Expired || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("err = %v", err)
	}
}

// A whole repository re-signed by another key (a root.json that trusts
// mallory's key, signed by it, and metadata signed by it naming mallory's
// trusted root) is refused: version 2 must carry the signatures version 1
// (embedded) requires.
func TestTUFDirRefusesARootSignedByAnotherKey(t *testing.T) {
	r, dir, o, verify := recordedTUF(t)
	mallory, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := mallory.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	signer, key := tuftest.Key(t)
	m := &tuftest.Repo{Dir: TUFDir(dir, GitHub), Signer: signer}
	week := time.Now().Add(7 * 24 * time.Hour)
	root := metadata.Root(week)
	root.Signed.Version = 2
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	m.SignWrite(t, "2.root.json", root)
	targets := metadata.Targets(week)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", theirs, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	m.SignWrite(t, "1.targets.json", targets)
	m.SignWrite(t, "1.snapshot.json", metadata.Snapshot(week))
	m.SignWrite(t, "timestamp.json", metadata.Timestamp(week))
	old, _ := filepath.Glob(filepath.Join(m.Dir, "targets", "*"))
	for _, f := range old {
		os.Remove(f)
	}
	os.WriteFile(filepath.Join(m.Dir, "targets", sha256Hex(theirs)+".trusted_root.json"), theirs, 0o644)
	_ = r

	err = verify(TrustFromDir(dir, o))
	var de *TUFDirError
	if !errors.As(err, &de) || !errors.Is(err, &metadata.ErrUnsignedMetadata{}) {
		t.Fatalf("err = %v", err)
	}
}

// Metadata that has expired since the fetch is refused, with a message
// that says to fetch again shortly before the install. (The repository's
// own key signs a timestamp that expired: what time does to a recording.)
func TestTUFDirRefusesExpiredMetadata(t *testing.T) {
	r, dir, o, verify := recordedTUF(t)
	r.SignWrite(t, "timestamp.json", metadata.Timestamp(time.Now().Add(-time.Hour)), TUFDir(dir, GitHub))
	err := verify(TrustFromDir(dir, o))
	var de *TUFDirError
	if !errors.As(err, &de) || !de.Expired || !strings.Contains(err.Error(), "has expired") || !strings.Contains(de.Hint(), "fetch again") {
		t.Fatalf("err = %v", err)
	}
}
