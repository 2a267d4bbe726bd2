package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/internal/tuftest"
	"github.com/pipguard/pipguard/policy"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// hermeticWorld is a lock of an index wheel with PEP 740 provenance
// (plain, public-good) and a guarded release asset (demo v2.0.0, an
// immutable release signed on GitHub's instance), fetched online into a
// directory with the TUF files of both Sigstore deployments; then every
// server it used (index, TUF) is closed, and GitHub's requests counted.
type hermeticWorld struct {
	*indexWorld
	lockPath, lockData string
	files              string
	tuf                attest.TUFOptions
	fetched            *FetchReport
	v2                 *githubtest.Published
	// tufRepos are the TUF repositories the fetch recorded, by deployment.
	tufRepos map[attest.Deployment]*tuftest.Repo
}

func newHermeticWorld(t *testing.T) *hermeticWorld {
	t.Helper()
	w := &hermeticWorld{indexWorld: newIndexWorld(t)}
	w.ix = pkgtest.NewProvenanceIndexTLS(t)
	w.put(t, "plain", "acme/plain", nil)
	w.v2 = w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "2.0.0"}, Immutable: true})
	dir := t.TempDir()
	ixCA, ghCA, ca := filepath.Join(dir, "i.pem"), filepath.Join(dir, "g.pem"), filepath.Join(dir, "ca.pem")
	w.ix.CAFile(ixCA)
	w.gh.WriteCA(ghCA)
	a, _ := os.ReadFile(ixCA)
	b, _ := os.ReadFile(ghCA)
	os.WriteFile(ca, append(a, b...), 0o644)
	for _, k := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT"} {
		t.Setenv(k, ca)
	}
	o := InstallOptions{Requirements: []string{w.req("v2.0.0"), "plain==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL(), "--cert", ca}}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	l, _, err := Lock(context.Background(), w.cfg, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	data, _ := pylock.Write(l)
	w.lockData = string(data)
	w.lockPath = filepath.Join(dir, "pylock.toml")
	os.WriteFile(w.lockPath, data, 0o644)

	// Sigstore's two TUF repositories, each serving its instance's
	// trusted root, signed with real keys.
	pgJSON, err := w.pg.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	ghJSON, err := w.signer.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	pgRepo, ghRepo := tuftest.New(t, pgJSON), tuftest.New(t, ghJSON)
	pgSrv, ghSrv := pgRepo.Serve(t), ghRepo.Serve(t)
	w.tuf = attest.TUFOptions{PublicGoodURL: pgSrv.URL, PublicGoodRoot: pgRepo.First, GitHubURL: ghSrv.URL, GitHubRoot: ghRepo.First}
	w.tufRepos = map[attest.Deployment]*tuftest.Repo{attest.PublicGood: pgRepo, attest.GitHub: ghRepo}

	// Fetch with no trusted root given: trust comes from TUF, recorded.
	w.files = filepath.Join(dir, "files")
	w.fetched, err = FetchLockFile(context.Background(), w.cfg, InstallOptions{Python: w.python, Output: &w.out}, LockFile{Path: w.lockPath, TUF: w.tuf}, w.files)
	if err != nil {
		t.Fatalf("fetch: %v\n%s", err, w.out.String())
	}
	fr := w.fetched
	if len(fr.Files) != 2 || len(fr.Releases) != 1 || len(fr.Trust) != 2 {
		t.Fatalf("fetched %+v", fr)
	}
	if r := fr.Releases[0]; r.Commit != w.v2.Commit || r.Tag != "v2.0.0" || r.Asset != w.v2.Wheel.Name {
		t.Errorf("release %+v", r)
	}
	for _, f := range fr.Files {
		if f.Name == "plain" && !f.Provenance {
			t.Errorf("plain has no provenance: %+v", f)
		}
		if _, err := os.Stat(f.File); err != nil {
			t.Error(err)
		}
	}
	// Nothing of these is reachable any more.
	pgSrv.Close()
	ghSrv.Close()
	w.ix.Close()
	return w
}

// record is the fetched release's record file in dir.
func (w *hermeticWorld) record(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "releases", "*", "*", "*", "*", "record.json"))
	if len(m) != 1 {
		t.Fatalf("records %v", m)
	}
	return m[0]
}

// copyFiles is a copy of the fetched directory, changed by change.
func (w *hermeticWorld) copyFiles(t *testing.T, change func(dir string)) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "files")
	if out, err := exec.Command("cp", "-a", w.files, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if change != nil {
		change(dst)
	}
	return dst
}

// editRecord changes the release record in dir.
func (w *hermeticWorld) editRecord(t *testing.T, dir string, change func(*releaseRecord)) {
	t.Helper()
	p := w.record(t, dir)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var r releaseRecord
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	change(&r)
	data, _ = json.Marshal(r)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// install installs lock from files in a fresh venv, in this process, with
// trust from the directory's TUF files; on a refusal the whole prefix must
// be unchanged, byte for byte. GitHub must not be asked anything.
func (w *hermeticWorld) install(t *testing.T, files, lock string) (*InstallReport, error) {
	t.Helper()
	py := pkgtest.NewVenv(t)
	prefix := prefixOf(py)
	before := prefixState(t, prefix)
	asked := len(w.gh.Requests())
	var out bytes.Buffer
	rep, err := InstallLockFile(context.Background(), Config{GitHubURL: w.gh.URL()}, InstallOptions{Python: py, Trust: attest.TrustFromDir(files, w.tuf), Output: &out}, LockFile{Path: lock, From: files})
	if n := len(w.gh.Requests()); n != asked {
		t.Errorf("a hermetic install asked GitHub %d time(s): %+v", n-asked, w.gh.Requests()[asked:])
	}
	if err != nil {
		sameState(t, before, prefixState(t, prefix))
	}
	return rep, err
}

// provenanceBundles are the build provenance bundles the local GitHub
// lists for digest, in the order they were published.
func (w *hermeticWorld) provenanceBundles(digest string) [][]byte {
	var out [][]byte
	for _, a := range w.repo.Attestations {
		if a.PredicateType == attest.ProvenanceV1 && slices.Contains(a.Digests, digest) {
			out = append(out, a.Bundle)
		}
	}
	return out
}

// replaceProvenance puts bundle in place of every recorded build
// provenance of digest (the SBOM and release attestations stay).
func replaceProvenance(t *testing.T, r *releaseRecord, digest string, bundle []byte) {
	t.Helper()
	n := 0
	atts := r.Attestations[digest]
	for i, a := range atts {
		for _, b := range attest.ParseBundles(a.Source, a.Bundle) {
			if attest.PredicateTypeOf(b) == attest.ProvenanceV1 {
				atts[i].Bundle = bundle
				n++
			}
		}
	}
	if n == 0 {
		t.Fatalf("no provenance recorded for %s: %+v", digest, r.Attestations)
	}
}

// A hermetic install: pipguard fetch stores every file of a lock (an
// index wheel with its provenance, a guarded release asset with GitHub's
// answers about its release) and the TUF files of both Sigstore
// deployments in a directory; pipguard install --files DIR then verifies
// and installs with no network at all, in a network namespace with no
// interfaces (unshare -n), as RUN --network=none in a Dockerfile would,
// with no trusted root given: trust comes from the directory's TUF files.
// A tampered file or provenance in the directory is refused.
func TestHermeticInstallFromAFetchedDirectory(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		t.Skipf("unshare -n is not permitted here: %v", err)
	}
	w := newHermeticWorld(t)
	tufJSON, _ := json.Marshal(w.tuf)

	run := func(t *testing.T, files string) (string, error) {
		py := pkgtest.NewVenv(t)
		cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run=^TestHermeticChild$", "-test.v")
		cmd.Env = append(os.Environ(), "PIPGUARD_HERMETIC_CHILD=1", "HERMETIC_LOCK="+w.lockPath, "HERMETIC_FILES="+files, "HERMETIC_PYTHON="+py,
			"HERMETIC_TUF="+string(tufJSON), "HERMETIC_GITHUB_URL="+w.gh.URL())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(t, w.files)
	if err != nil || !strings.Contains(out, "HERMETIC OK demo 2.0.0 plain 1.0") {
		t.Fatalf("hermetic install: %v\n%s", err, out)
	}
	if !strings.Contains(out, "tag not re-resolved: hermetic install; the lock's commit is used") {
		t.Errorf("the report does not say the tag was taken from the lock:\n%s", out)
	}
	var whl string
	for _, f := range w.fetched.Files {
		if f.Name == "plain" {
			whl = f.File
		}
	}
	// A tampered index file in the directory is refused.
	tampered := w.copyFiles(t, func(dir string) {
		b, _ := os.ReadFile(whl)
		os.WriteFile(filepath.Join(dir, filepath.Base(whl)), append(b, 0), 0o644)
	})
	out, err = run(t, tampered)
	if err == nil || !strings.Contains(out, "the lock says") {
		t.Fatalf("a tampered file: %v\n%s", err, out)
	}
	// A provenance in the directory for other bytes is refused.
	w.put(t, "plain", "acme/plain", pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"x.py": ""}}.Wheel())
	f := w.ixFile(t, filepath.Base(whl))
	swapped := w.copyFiles(t, func(dir string) {
		os.WriteFile(filepath.Join(dir, filepath.Base(whl)+".provenance"), f.Provenance, 0o644)
	})
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
// TestHermeticInstallFromAFetchedDirectory in a network namespace: trust
// from the directory's TUF files (the test's TUF repositories' first roots
// stand for the embedded ones), nothing else.
func TestHermeticChild(t *testing.T) {
	if os.Getenv("PIPGUARD_HERMETIC_CHILD") == "" {
		t.Skip("run by TestHermeticInstallFromAFetchedDirectory")
	}
	var tuf attest.TUFOptions
	if err := json.Unmarshal([]byte(os.Getenv("HERMETIC_TUF")), &tuf); err != nil {
		t.Fatal(err)
	}
	files := os.Getenv("HERMETIC_FILES")
	var out strings.Builder
	py := os.Getenv("HERMETIC_PYTHON")
	o := InstallOptions{Python: py, Trust: attest.TrustFromDir(files, tuf), Output: &out}
	rep, err := InstallLockFile(context.Background(), Config{GitHubURL: os.Getenv("HERMETIC_GITHUB_URL")}, o, LockFile{Path: os.Getenv("HERMETIC_LOCK"), From: files})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, g := range rep.Guarded {
		for _, c := range g.Release.Decision.Checks {
			t.Logf("%s %s: %s %s", g.Name, c.Name, c.Outcome, c.Reason)
		}
	}
	v, err := exec.Command(py, "-c", "import demo, plain; print('demo', demo.VERSION, 'plain', plain.VERSION)").CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, v)
	}
	t.Log("HERMETIC OK " + strings.TrimSpace(string(v)))
}

// A guarded release asset in a hermetic install is verified again from
// what the fetch recorded, with the same code as online: every bundle
// against the trusted root (from the directory's TUF files) and the
// policy, every asset hashed again, every signed statement bound to the
// lock's commit. Each attack on the directory or the lock is refused,
// GitHub is never asked, and the venv is unchanged byte for byte.
func TestHermeticGuardedReleaseAttacks(t *testing.T) {
	w := newHermeticWorld(t)
	wheel := w.v2.Wheel
	digest := wheel.Digest()

	// The baseline: the directory as fetched installs, offline.
	rep, err := w.install(t, w.files, w.lockPath)
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	var g *Guarded
	for _, x := range rep.Guarded {
		if x.Name == "demo" {
			g = x
		}
	}
	if g == nil || g.Release == nil || !g.Release.Verified || g.Release.APIRequests != 0 {
		t.Fatalf("guarded %+v", g)
	}
	tag := check(t, g.Release.Decision, "tag")
	if tag.Outcome != policy.NotChecked || !strings.Contains(tag.Reason, "the lock's commit is used") || !strings.Contains(tag.Actual, w.v2.Commit) {
		t.Errorf("tag check %+v", tag)
	}
	a := g.Release.Asset(wheel.Name)
	for _, name := range []string{"provenance", "sbom", "release-attestation", "sha256sums"} {
		if c := check(t, a.Decision, name); c.Outcome != policy.Pass {
			t.Errorf("%s: %+v", name, c)
		}
	}

	// Other bytes, and bundles for them or for these bytes by another
	// workflow (same tag, same commit: only the workflow differs).
	other := w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "3.0.0"}})
	otherBundle := w.provenanceBundles(other.Wheel.Digest())[0]
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "4.0.0"}, Wheel: wheel.Data, WheelName: wheel.Name,
		Workflow: ".github/workflows/other.yml", SourceRef: "refs/tags/v2.0.0", SourceCommit: w.v2.Commit, SkipSBOM: true})
	byOther := w.provenanceBundles(digest)
	if len(byOther) != 2 {
		t.Fatalf("provenance bundles for the wheel: %d", len(byOther))
	}

	lockWith := func(t *testing.T, from, to string) string {
		if !strings.Contains(w.lockData, from) {
			t.Fatalf("the lock has no %q", from)
		}
		p := filepath.Join(t.TempDir(), "pylock.toml")
		os.WriteFile(p, []byte(strings.ReplaceAll(w.lockData, from, to)), 0o644)
		return p
	}
	for _, c := range []struct {
		name string
		dir  func(dir string)
		lock func(t *testing.T) string
		want []string
		hint string
		// verification: the release did not verify (exit 4), rather
		// than a refusal.
		verification bool
	}{
		{name: "a tampered asset", dir: func(dir string) {
			p := filepath.Join(dir, wheel.Name)
			b, _ := os.ReadFile(p)
			os.Remove(p) // not the fetched file's inode
			os.WriteFile(p, append(b, 0), 0o644)
		}, want: []string{"the lock says"}},
		{name: "a tampered SHA256SUMS", dir: func(dir string) {
			p := filepath.Join(filepath.Dir(w.record(t, dir)), "SHA256SUMS")
			b, _ := os.ReadFile(p)
			os.Remove(p)
			os.WriteFile(p, bytes.Replace(b, []byte(strings.TrimPrefix(digest, "sha256:")), []byte(strings.Repeat("0", 64)), 1), 0o644)
		}, want: []string{"SHA256SUMS", "digest"}, verification: true},
		{name: "a provenance bundle for other bytes", dir: func(dir string) {
			w.editRecord(t, dir, func(r *releaseRecord) { replaceProvenance(t, r, digest, otherBundle) })
		}, want: []string{"provenance"}, verification: true},
		{name: "a provenance bundle signed by another workflow", dir: func(dir string) {
			w.editRecord(t, dir, func(r *releaseRecord) { replaceProvenance(t, r, digest, byOther[1]) })
		}, want: []string{"provenance", "other.yml"}, verification: true},
		{name: "a release that claims another tag", dir: func(dir string) {
			w.editRecord(t, dir, func(r *releaseRecord) { r.Release.TagName = "v3.0.0" })
		}, want: []string{`release "v3.0.0" for tag "v2.0.0"`}},
		{name: "a release that claims another asset digest", dir: func(dir string) {
			w.editRecord(t, dir, func(r *releaseRecord) {
				for i := range r.Release.Assets {
					if r.Release.Assets[i].Name == wheel.Name {
						r.Release.Assets[i].Digest = other.Wheel.Digest()
					}
				}
			})
		}, want: []string{"expected digest " + other.Wheel.Digest()}, verification: true},
		{name: "a release that claims to be mutable, without its release attestation", dir: func(dir string) {
			// The lock recorded a verified release attestation: a
			// directory that says there is none is refused, not believed.
			w.editRecord(t, dir, func(r *releaseRecord) {
				r.Release.Immutable = false
				for d, atts := range r.Attestations {
					var keep []github.Attestation
					for _, a := range atts {
						if bs := attest.ParseBundles(a.Source, a.Bundle); len(bs) == 1 && !strings.Contains(attest.PredicateTypeOf(bs[0]), "attestation/release") {
							keep = append(keep, a)
						}
					}
					r.Attestations[d] = keep
				}
			})
		}, want: []string{"no release-attestation attestation published"}, verification: true},
		{name: "a lock whose commit was edited", lock: func(t *testing.T) string {
			return lockWith(t, w.v2.Commit, other.Commit)
		}, want: []string{"was fetched for commit " + w.v2.Commit}},
		{name: "a lock and a record whose commit were edited", dir: func(dir string) {
			w.editRecord(t, dir, func(r *releaseRecord) { r.Commit = other.Commit })
		}, lock: func(t *testing.T) string {
			return lockWith(t, w.v2.Commit, other.Commit)
		}, want: []string{"is not the lock's commit " + other.Commit, "release-attestation"}, verification: true},
		{name: "a trusted root planted in the TUF files", dir: func(dir string) {
			mallory, err := sigstoretest.NewGitHub()
			if err != nil {
				t.Fatal(err)
			}
			theirs, _ := mallory.TrustedRootJSON()
			targets, _ := filepath.Glob(filepath.Join(attest.TUFDir(dir, attest.GitHub), "targets", "*.trusted_root.json"))
			for _, f := range targets {
				os.Remove(f)
				os.WriteFile(f, theirs, 0o644)
			}
		}, want: []string{"does not verify from pipguard's embedded root"}},
		{name: "TUF metadata that expired since the fetch", dir: func(dir string) {
			for d, r := range w.tufRepos {
				os.Remove(filepath.Join(attest.TUFDir(dir, d), "timestamp.json"))
				r.SignWrite(t, "timestamp.json", metadata.Timestamp(time.Now().Add(-time.Minute)), attest.TUFDir(dir, d))
			}
		}, want: []string{"has expired"}, hint: "fetch again (pipguard fetch pylock.toml DIR) shortly before the install"},
		{name: "a recording that lacks an answer", dir: func(dir string) {
			w.editRecord(t, dir, func(r *releaseRecord) { delete(r.Attestations, digest) })
		}, want: []string{"holds no recorded answer for the attestations of " + digest}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files, lock := w.files, w.lockPath
			if c.dir != nil {
				files = w.copyFiles(t, c.dir)
			}
			if c.lock != nil {
				lock = c.lock(t)
			}
			_, err := w.install(t, files, lock)
			if err == nil {
				t.Fatal("installed")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err lacks %q: %v", want, err)
				}
			}
			var re *ReleaseError
			if errors.As(err, &re) != c.verification {
				t.Errorf("a release verification failure: %v, want %v (%T)", !c.verification, c.verification, err)
			}
			var h interface{ Hint() string }
			if c.hint != "" && (!errors.As(err, &h) || !strings.Contains(h.Hint(), c.hint)) {
				t.Errorf("hint %v, not %q", h, c.hint)
			}
		})
	}

}
