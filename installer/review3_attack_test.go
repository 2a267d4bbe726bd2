package installer

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// An index sdist built under allow_source_builds (ea79208 locks it as
// that sdist) has its PEP 740 provenance asked for and verified as the
// wheel pipguard built from it: buildDirect clears its sha256 and the
// fetch puts the local build's name and hash in its place, so
// verifyIndexFiles never checks the sdist the index served and pip's
// resolution read. The sdist below is attested by acme/srcpkg; the
// policy requires provenance; the install is refused (or, with the
// policy off, reported unattested) although the very bytes that were
// built and run verify. The lock then records the sdist's hash next to an
// attestation state that is about another file.
func TestAttackBuiltIndexSdistProvenanceIsAskedOfTheLocalWheel(t *testing.T) {
	// Decided: a wheel pipguard builds from an index sdist is never called
	// verified (its sdist's provenance says nothing about what the build
	// code wrote), so a policy that requires provenance for the project
	// refuses the build, before pipguard builds, naming why; without such
	// a policy it installs, reported unattested, and the lock records the
	// sdist by its own bytes.
	w := newIndexWorld(t)
	p := pkgtest.Project{Name: "srcpkg", Version: "1.0"}
	data := p.Sdist()
	id := sigstoretest.GitHubActions("acme/srcpkg", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40))
	f, err := pkgtest.Signed(w.pg, id, sigstoretest.GitHubPublisher("acme/srcpkg", "release.yml"), "srcpkg", "1.0", p.SdistName(), data)
	if err != nil {
		t.Fatal(err)
	}
	f.Data = data
	w.ix.Put(f)
	args := []string{"--index-url", w.ix.SimpleURL(), "--no-build-isolation"}
	before := pkgtest.Snapshot(w.site)
	_, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "srcpkg==1.0"}, PipArgs: args, AllowSourceBuilds: true,
		Rules: mustPolicy(t, "index_attestations = \"require\"\nallow_source_builds = true")})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "would be built from its sdist") {
		t.Fatalf("a source build under a policy requiring provenance: %v, want refused before the build\n%s", err, w.out.String())
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Error("site-packages changed")
	}
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "srcpkg==1.0"}, PipArgs: args, AllowSourceBuilds: true,
		Rules: mustPolicy(t, "allow_source_builds = true")})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	for _, l := range rep.Lock {
		if l.Name != "srcpkg" {
			continue
		}
		if a := l.Attestation; a == nil || a.State == AttestVerified {
			t.Errorf("srcpkg: attestation %+v, want not verified (built here)", a)
		}
		if l.sdist == nil || l.sdist.sha256 != hexSHA256(data) {
			t.Errorf("srcpkg: locked sdist %+v, want sha256 %s", l.sdist, hexSHA256(data))
		}
		return
	}
	t.Fatalf("srcpkg not locked: %+v", rep.Lock)
}

// The laundering this allows: the index serves the genuine wheel (attested
// by acme/srcpkg) and a forged sdist of the same version with no
// provenance at all, whose build backend runs its own code and emits the
// genuine wheel's bytes. With --no-binary srcpkg (allowed under
// allow_source_builds) pip resolves and pipguard builds the forged sdist;
// provenance is then asked for the built wheel's name and hash, which
// the genuine wheel's provenance verifies: the forged sdist passes a
// policy that requires acme/srcpkg's provenance, its receipt says
// verified, and (once TestAttackBuiltIndexSdistCannotBeLocked is fixed)
// the lock records the forged sdist's hash with acme/srcpkg as its
// attestation identity for every installer that reads it. Its build code
// also ran before any provenance was looked at, as an unattested sdist's
// does under index_attestations = "require".
func TestAttackForgedSdistPassesAsTheGenuineWheelsProvenance(t *testing.T) {
	w := newIndexWorld(t)
	genuine := w.put(t, "srcpkg", "acme/srcpkg", nil)
	p := pkgtest.Project{Name: "srcpkg", Version: "1.0"}
	marker := t.TempDir() + "/forged-build-ran"
	p.BuildHook = "import base64\nopen(" + jsonString(marker) + ", 'w').write('ran')\n" +
		"globals()['_wheel'] = lambda d, files: (open(os.path.join(d, " + jsonString(p.WheelName()) + "), 'wb').write(base64.b64decode(" +
		jsonString(review3B64(genuine)) + ")), " + jsonString(p.WheelName()) + ")[1]\n"
	forged := p.Sdist()
	w.ix.Put(pkgtest.ProvenanceFile{Project: "srcpkg", Version: "1.0", Filename: p.SdistName(), Data: forged})
	// --no-binary in the requirements file: pip's resolution builds the
	// sdist; the final (local, wheels only) install takes the built wheel.
	reqs := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(reqs, []byte("--no-binary srcpkg\nsrcpkg==1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--index-url", w.ix.SimpleURL(), "--no-build-isolation"}
	rep, err := w.install(t, InstallOptions{Files: []string{reqs}, Requirements: []string{w.req("v1.0.0")}, PipArgs: args,
		Rules: mustPolicy(t, "allow_source_builds = true\n[[index]]\nmatch = \"srcpkg\"\nrequire = true\npublisher = { kind = \"GitHub\", repository = \"acme/srcpkg\", workflow = \"release.yml\" }\n")})
	// pip's resolution prepares an sdist's metadata with its build hooks
	// under --allow-source-builds (outside every guarantee, as the README
	// says), so the marker may exist; what must hold is that the forged
	// sdist is refused, never installed as the genuine wheel's publisher.
	_ = marker
	if err != nil {
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "would be built from its sdist") {
			t.Errorf("refused, but not for the build: %v", err)
		}
		return
	}
	for _, l := range rep.Lock {
		if l.Name == "srcpkg" {
			t.Errorf("the forged sdist (no provenance) was installed as verified: sdist %+v, attestation %+v", l.sdist, l.Attestation)
		}
	}
}

// ea79208's sdist entry is never written by a real run: the fetch stage
// sets an item's URL only for files it copies from pip's kept files, and
// a built item is fetched from its built wheel, so ToPylock finds the
// URL "" and refuses to write the lock (pipguard lock fails for every
// index sdist built under allow_source_builds). TestASourceBuildIsLockedAsItsSdist
// sets URL by hand.
func TestAttackBuiltIndexSdistCannotBeLocked(t *testing.T) {
	w := newIndexWorld(t)
	p := pkgtest.Project{Name: "srcpkg", Version: "1.0"}
	w.ix.Put(pkgtest.ProvenanceFile{Project: "srcpkg", Version: "1.0", Filename: p.SdistName(), Data: p.Sdist()})
	args := []string{"--index-url", w.ix.SimpleURL(), "--no-build-isolation"}
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "srcpkg==1.0"}, PipArgs: args,
		Rules: mustPolicy(t, "allow_source_builds = true\n")})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if _, err := ToPylock(rep); err != nil {
		t.Errorf("ToPylock: %v", err)
	}
}

func review3B64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// The policy's indexes bound where index files come from and which index
// is asked for provenance (requirements files and pip's arguments are
// checked by checkOthers, pip's configuration by the driver). A lock
// file's packages are not: its wheel URLs are downloaded and its `index`
// is asked for PEP 740 provenance whatever indexes says, so a pylock.toml
// from elsewhere makes pipguard contact any host it names.
func TestAttackLockFileIndexOutsideThePolicysIndexesIsAsked(t *testing.T) {
	w := newIndexWorld(t)
	w.ix = pkgtest.NewProvenanceIndexTLS(t)
	data := w.put(t, "plain", "acme/plain", nil)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	w.ix.CAFile(ca)
	for _, k := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT"} {
		t.Setenv(k, ca)
	}
	p := pkgtest.Project{Name: "plain", Version: "1.0"}
	size := int64(len(data))
	l := &pylock.Lock{LockVersion: "1.0", CreatedBy: "someone", Packages: []pylock.Package{{Name: "plain", Version: "1.0", Index: w.ix.SimpleURL(),
		Wheels: []pylock.File{{Name: p.WheelName(), URL: w.ix.URL + "/files/" + p.WheelName(), Size: &size, Hashes: map[string]string{"sha256": hexSHA256(data)}}}}}}
	out, err := pylock.Write(l)
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(t.TempDir(), "pylock.toml")
	if err := os.WriteFile(lock, out, 0o644); err != nil {
		t.Fatal(err)
	}
	before := w.ix.Hits("provenance") + w.ix.Hits("integrity") + w.ix.Hits("page")
	w.python = pkgtest.NewVenv(t)
	_, err = InstallLockFile(context.Background(), w.cfg, InstallOptions{Python: w.python, Trust: w.trust, Output: &w.out,
		Rules: mustPolicy(t, "indexes = [\"https://only.example/simple/\"]\n")}, LockFile{Path: lock})
	asked := w.ix.Hits("provenance") + w.ix.Hits("integrity") + w.ix.Hits("page") - before
	if asked > 0 {
		t.Errorf("the lock's index %s, which the policy's indexes do not list, was asked %d times (err = %v)", w.ix.SimpleURL(), asked, err)
	}
	if err == nil {
		t.Errorf("a lock whose index and file URLs the policy's indexes do not list was installed")
	}
}
