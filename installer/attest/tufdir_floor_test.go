package attest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/internal/tuftest"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestTUFDirFloor: with pipguard's TUF cache given, TrustFromDir accepts
// a fetch directory at the cache's versions or newer, refuses one played
// back from earlier (saying why), and never writes the cache.
func TestTUFDirFloor(t *testing.T) {
	sg, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	trJSON, _ := sg.TrustedRootJSON()
	r := tuftest.New(t, trJSON)
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	defer srv.Close()
	o := TUFOptions{GitHubURL: srv.URL, GitHubRoot: r.First}
	earlier := t.TempDir()
	if _, err := RecordTUF(o, GitHub, earlier); err != nil {
		t.Fatal(err)
	}
	week := time.Now().Add(7 * 24 * time.Hour)
	targets := metadata.Targets(week)
	targets.Signed.Version = 2
	tf, _ := metadata.TargetFile().FromBytes("trusted_root.json", trJSON, "sha256")
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

	dir := t.TempDir()
	if _, err := RecordTUF(o, GitHub, dir); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	if _, err := TrustFromTUF(TUFOptions{GitHubURL: srv.URL, GitHubRoot: r.First, CacheDir: cache}).Material(GitHub); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		out, _ := exec.Command("sh", "-c", "cd "+cache+" && find . -type f | sort | xargs sha256sum").CombinedOutput()
		return string(out)
	}
	before := snapshot()
	oc := o
	oc.CacheDir = cache
	if _, err := TrustFromDir(dir, oc).Material(GitHub); err != nil {
		t.Fatalf("the current recording with the cache as floor: %v", err)
	}
	if _, err := TrustFromDir(earlier, o).Material(GitHub); err != nil {
		t.Fatalf("without a cache, the earlier recording verifies (the documented window): %v", err)
	}
	os.RemoveAll(TUFDir(dir, GitHub))
	if out, err := exec.Command("cp", "-a", TUFDir(earlier, GitHub), TUFDir(dir, GitHub)).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	_, err = TrustFromDir(dir, oc).Material(GitHub)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "version") {
		t.Fatalf("the earlier recording with the cache as floor: %v", err)
	}
	t.Logf("refused: %v", err)
	if snapshot() != before {
		t.Errorf("TrustFromDir wrote pipguard's TUF cache")
	}
}
