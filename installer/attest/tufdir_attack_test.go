package attest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/internal/tuftest"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestAttackTUFDirRollback: TrustFromDir runs the TUF client workflow
// from the embedded root with an empty cache, so it has no trusted state
// to refuse a rollback with (TUF spec 5.4.3/5.5.5: versions must not go
// back). DIR's writer serves TUF metadata recorded earlier, still
// unexpired (Sigstore's timestamp is valid for days), naming a trusted
// root the repository has since replaced (a rotated-out, e.g.
// compromised, certificate authority): the hermetic install verifies
// bundles with it. Online, and with pipguard's TUF cache (which has seen
// the new versions), the old root is not accepted.
func TestAttackTUFDirRollback(t *testing.T) {
	old, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	oldJSON, _ := old.TrustedRootJSON()
	r := tuftest.New(t, oldJSON)
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	defer srv.Close()
	o := TUFOptions{GitHubURL: srv.URL, GitHubRoot: r.First}
	earlier := t.TempDir()
	if _, err := RecordTUF(o, GitHub, earlier); err != nil {
		t.Fatal(err)
	}

	// The repository rotates its trusted root: the old CA is out.
	cur, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	curJSON, _ := cur.TrustedRootJSON()
	week := time.Now().Add(7 * 24 * time.Hour)
	targets := metadata.Targets(week)
	targets.Signed.Version = 2
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", curJSON, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	r.SignWrite(t, "2.targets.json", targets)
	snap := metadata.Snapshot(week)
	snap.Signed.Version = 2
	snap.Signed.Meta["targets.json"].Version = 2
	r.SignWrite(t, "2.snapshot.json", snap)
	ts := metadata.Timestamp(week)
	ts.Signed.Version = 2
	ts.Signed.Meta["snapshot.json"].Version = 2
	r.SignWrite(t, "timestamp.json", ts)
	os.WriteFile(filepath.Join(r.Dir, "targets", sha256Hex(curJSON)+".trusted_root.json"), curJSON, 0o644)

	// pipguard fetch now records the new state.
	dir := t.TempDir()
	if _, err := RecordTUF(o, GitHub, dir); err != nil {
		t.Fatal(err)
	}
	sum := sha256Hex([]byte("a wheel"))
	byOld := attest(t, old, releaseID(), provenance(sum))
	verifyOld := func(trust *Trust) error {
		v, err := NewVerifier(trust, Policy{Repo: repo})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := ArtifactFromDigest("sha256:" + sum)
		_, err = v.Verify(a, byOld)
		return err
	}
	if err := verifyOld(TrustFromDir(dir, o)); err == nil {
		t.Fatal("the fetched (current) trust accepts the old CA's bundle")
	}
	// Online with a cache that has seen version 2, the old state is not
	// taken either.
	cache := t.TempDir()
	if err := verifyOld(TrustFromTUF(TUFOptions{GitHubURL: srv.URL, GitHubRoot: r.First, CacheDir: cache})); err == nil {
		t.Fatal("online trust accepts the old CA's bundle")
	}

	// DIR's writer puts the earlier recording back.
	os.RemoveAll(TUFDir(dir, GitHub))
	if out, err := exec.Command("cp", "-a", TUFDir(earlier, GitHub), TUFDir(dir, GitHub)).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	// (TrustFromDir finds pipguard's TUF cache where TrustFromTUF does:
	// TUFOptions.CacheDir, which pipguard install --files passes.)
	o.CacheDir = cache
	if err := verifyOld(TrustFromDir(dir, o)); err == nil {
		t.Errorf("ATTACK: TUF metadata rolled back to an earlier (unexpired) recording is accepted by TrustFromDir: a bundle of the rotated-out CA verifies in a hermetic install")
	}
}
