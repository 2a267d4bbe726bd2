package installer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// A hermetic install: pipguard fetch stores every file of a lock and its
// provenance in a directory; pipguard install --files DIR then verifies
// and installs with no network at all, in a network namespace with no
// interfaces (unshare -n), as RUN --network=none in a Dockerfile would. A
// tampered file or provenance in the directory is refused.
func TestHermeticInstallFromAFetchedDirectory(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		t.Skipf("unshare -n is not permitted here: %v", err)
	}
	w := newIndexWorld(t)
	w.ix = pkgtest.NewProvenanceIndexTLS(t)
	w.put(t, "plain", "acme/plain", nil)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	w.ix.CAFile(ca)
	for _, k := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT"} {
		t.Setenv(k, ca)
	}
	o := InstallOptions{Requirements: []string{"plain==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL(), "--cert", ca}}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	l, _, err := Lock(context.Background(), w.cfg, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	data, _ := pylock.Write(l)
	lockPath := filepath.Join(dir, "pylock.toml")
	os.WriteFile(lockPath, data, 0o644)
	files := filepath.Join(dir, "files")
	fr, err := FetchLockFile(context.Background(), w.cfg, InstallOptions{Python: w.python, Output: &w.out, Trust: w.trust}, LockFile{Path: lockPath}, files)
	if err != nil || len(fr.Files) != 1 || !fr.Files[0].Provenance {
		t.Fatalf("fetch: %v %+v", err, fr)
	}
	got := fr.Files
	rootJSON, err := w.pg.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(dir, "public-good-root.json")
	os.WriteFile(rootPath, rootJSON, 0o644)
	w.ix.Close() // nothing to reach, even in this namespace

	run := func(t *testing.T, files string) (string, error) {
		py := pkgtest.NewVenv(t)
		cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run=^TestHermeticChild$", "-test.v")
		cmd.Env = append(os.Environ(), "PIPGUARD_HERMETIC_CHILD=1", "HERMETIC_LOCK="+lockPath, "HERMETIC_FILES="+files, "HERMETIC_PYTHON="+py, "HERMETIC_ROOT="+rootPath)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(t, files)
	if err != nil || !strings.Contains(out, "HERMETIC OK") {
		t.Fatalf("hermetic install: %v\n%s", err, out)
	}
	// A tampered file in the directory is refused.
	whl := got[0].File
	tampered := filepath.Join(t.TempDir(), "files")
	os.MkdirAll(tampered, 0o755)
	b, _ := os.ReadFile(whl)
	os.WriteFile(filepath.Join(tampered, filepath.Base(whl)), append(b, 0), 0o644)
	p, _ := os.ReadFile(whl + ".provenance")
	os.WriteFile(filepath.Join(tampered, filepath.Base(whl)+".provenance"), p, 0o644)
	out, err = run(t, tampered)
	if err == nil || !strings.Contains(out, "the lock says") {
		t.Fatalf("a tampered file: %v\n%s", err, out)
	}
	// A provenance in the directory for other bytes is refused.
	swapped := filepath.Join(t.TempDir(), "files")
	os.MkdirAll(swapped, 0o755)
	os.WriteFile(filepath.Join(swapped, filepath.Base(whl)), b, 0o644)
	other := w.put(t, "plain", "acme/plain", pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"x.py": ""}}.Wheel())
	_ = other
	f := w.ixFile(t, filepath.Base(whl))
	os.WriteFile(filepath.Join(swapped, filepath.Base(whl)+".provenance"), f.Provenance, 0o644)
	out, err = run(t, swapped)
	if err == nil || !strings.Contains(out, "provenance did not verify") {
		t.Fatalf("a provenance for other bytes: %v\n%s", err, out)
	}
}

// ixFile is the index's current entry for a file name.
func (w *indexWorld) ixFile(t *testing.T, name string) pkgtest.ProvenanceFile {
	var got pkgtest.ProvenanceFile
	w.ix.Update(name, func(f *pkgtest.ProvenanceFile) { got = *f })
	return got
}

// TestHermeticChild is the hermetic install itself, run by
// TestHermeticInstallFromAFetchedDirectory in a network namespace.
func TestHermeticChild(t *testing.T) {
	if os.Getenv("PIPGUARD_HERMETIC_CHILD") == "" {
		t.Skip("run by TestHermeticInstallFromAFetchedDirectory")
	}
	data, err := os.ReadFile(os.Getenv("HERMETIC_ROOT"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	trust := attest.NewTrust(map[attest.Deployment]root.TrustedMaterial{attest.PublicGood: tr})
	var out strings.Builder
	o := InstallOptions{Python: os.Getenv("HERMETIC_PYTHON"), Trust: trust, Output: &out}
	_, err = InstallLockFile(context.Background(), Config{}, o, LockFile{Path: os.Getenv("HERMETIC_LOCK"), From: os.Getenv("HERMETIC_FILES")})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("HERMETIC OK")
}
