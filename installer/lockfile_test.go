package installer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// pipguard lock writes what it verified as a PEP 751 lock: the index
// package's wheel with the publisher identity its verified provenance
// names, the guarded release's asset as an archive with pipguard's
// records, nothing installed. pip 26's own reader installs that lock and
// gets the same distributions.
func TestLockWritesAPylockPip26Installs(t *testing.T) {
	w := newIndexWorld(t)
	// A lock names no http:// URL: this index serves https, with a CA
	// pip (--cert) and Go (SSL_CERT_FILE) are told to trust.
	w.ix = pkgtest.NewProvenanceIndexTLS(t)
	w.put(t, "plain", "acme/plain", nil)
	dir := t.TempDir()
	ixCA := filepath.Join(dir, "index-ca.pem")
	if err := w.ix.CAFile(ixCA); err != nil {
		t.Fatal(err)
	}
	ghCA := filepath.Join(dir, "github-ca.pem")
	if err := w.gh.WriteCA(ghCA); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(ixCA)
	b, _ := os.ReadFile(ghCA)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, append(a, b...), 0o644)
	// requests (pip's) prefers REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE to
	// --cert when they are set, as some machines set them.
	for _, k := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT"} {
		t.Setenv(k, ca)
	}
	args := []string{"--index-url", w.ix.SimpleURL(), "--cert", ca}
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	o := InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: args}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	l, _, err := Lock(context.Background(), w.cfg, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	sameState(t, before, prefixState(t, prefix))
	data, err := pylock.Write(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := pylock.Read("pylock.toml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	byName := map[string]pylock.Package{}
	for _, p := range back.Packages {
		byName[p.Name] = p
	}
	plain, demo := byName["plain"], byName["demo"]
	if len(plain.Wheels) != 1 || plain.Wheels[0].Hashes["sha256"] == "" || plain.Wheels[0].Size == nil ||
		len(plain.AttestationIdentities) != 1 || plain.AttestationIdentities[0].Repository != "acme/plain" || plain.AttestationIdentities[0].Workflow != "release.yml" {
		t.Errorf("plain: %+v\n%s", plain, data)
	}
	rec, err := demo.Pipguard()
	if demo.Archive == nil || demo.Archive.Hashes["sha256"] == "" || err != nil || rec == nil || len(rec.Commit) != 40 || len(rec.Verified) == 0 {
		t.Errorf("demo: %+v %+v %v\n%s", demo, rec, err, data)
	}
	if back.CreatedBy != "pipguard" || len(back.Environments) != 1 || back.LockVersion != "1.0" {
		t.Errorf("header: %+v", back)
	}
	if strings.Contains(string(data), "****") {
		t.Errorf("a masked secret in the lock:\n%s", data)
	}

	pip26, why := pkgtest.Pip26()
	if pip26 == "" {
		t.Skip(why)
	}
	lock := filepath.Join(dir, "pylock.toml")
	os.WriteFile(lock, data, 0o644)
	target := pkgtest.NewVenv(t)
	cmd := exec.Command(pip26, "-m", "pip", "--python", target, "install", "--disable-pip-version-check", "--cert", ca, "-r", lock)
	cmd.Env = append(os.Environ(), "PIP_NO_INDEX=", "PIP_FIND_LINKS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip 26 refused pipguard's lock: %v\n%s\n%s", err, out, data)
	}
	out, err := exec.Command(target, "-c", "import demo, plain; print(demo.VERSION, plain.VERSION)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1.0.0 1.0" {
		t.Errorf("pip 26 installed: %v %s", err, out)
	}
}

// pipguard install pylock.toml installs exactly the lock, with no
// resolution: every file fetched and checked against the lock's hashes,
// each index file's provenance verified for the identity the lock records
// (not the index's claim), the guarded release verified again. A file
// whose bytes differ from the lock, an identity the provenance does not
// carry, and provenance the index dropped since the lock are refused, and
// nothing changes.
func TestInstallALockFile(t *testing.T) {
	w := newIndexWorld(t)
	w.ix = pkgtest.NewProvenanceIndexTLS(t)
	w.put(t, "plain", "acme/plain", nil)
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
	o := InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL(), "--cert", ca}}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	l, _, err := Lock(context.Background(), w.cfg, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	data, _ := pylock.Write(l)
	lockPath := filepath.Join(dir, "pylock.toml")
	os.WriteFile(lockPath, data, 0o644)

	install := func(t *testing.T, path string) (*InstallReport, error) {
		w.python = pkgtest.NewVenv(t)
		w.site = pkgtest.SitePackages(w.python)
		lo := InstallOptions{Python: w.python, Trust: w.trust, Output: &w.out}
		return InstallLockFile(context.Background(), w.cfg, lo, LockFile{Path: path})
	}
	rep, err := install(t, lockPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if v := w.python3(t, "import demo, plain; print(demo.VERSION, plain.VERSION)"); v != "1.0.0 1.0" {
		t.Errorf("installed %s", v)
	}
	for _, it := range rep.Lock {
		if it.Name == "plain" && (it.Attestation == nil || it.Attestation.State != AttestVerified || it.Attestation.Rule != "the lock's attestation-identities") {
			t.Errorf("plain: %+v", it.Attestation)
		}
		if it.Name == "demo" && it.Source != SourceVerified {
			t.Errorf("demo: %+v", it)
		}
	}

	for _, c := range []struct{ name, from, to, want string }{
		{"another file's bytes", "", "", "the lock says"},
		{"another identity", `repository = "acme/plain"`, `repository = "acme/other"`, "acme/other"},
	} {
		t.Run(c.name, func(t *testing.T) {
			changed := string(data)
			if c.from != "" {
				changed = strings.Replace(changed, c.from, c.to, 1)
			} else {
				back, _ := pylock.Read("x", data)
				for _, p := range back.Packages {
					if p.Name == "plain" {
						changed = strings.Replace(changed, p.Wheels[0].Hashes["sha256"], strings.Repeat("0", 64), 1)
					}
				}
			}
			p := filepath.Join(t.TempDir(), "pylock.toml")
			os.WriteFile(p, []byte(changed), 0o644)
			w.python = pkgtest.NewVenv(t)
			prefix := prefixOf(w.python)
			before := prefixState(t, prefix)
			lo := InstallOptions{Python: w.python, Trust: w.trust, Output: &w.out}
			_, err := InstallLockFile(context.Background(), w.cfg, lo, LockFile{Path: p})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v", err)
			}
			sameState(t, before, prefixState(t, prefix))
		})
	}
	// The index drops plain's provenance: the lock recorded an identity,
	// so the install is refused.
	w.ix.Update(pkgtest.Project{Name: "plain", Version: "1.0"}.WheelName(), func(f *pkgtest.ProvenanceFile) { f.Provenance = nil })
	w.python = pkgtest.NewVenv(t)
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	_, err = InstallLockFile(context.Background(), w.cfg, InstallOptions{Python: w.python, Trust: w.trust, Output: &w.out}, LockFile{Path: lockPath})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "has no provenance") {
		t.Fatalf("err = %v", err)
	}
	sameState(t, before, prefixState(t, prefix))
}

// Re-locking is trust on first use, with the lock file as the record: a
// package whose publisher identity changed or disappeared since the
// previous lock is refused, naming it and both identities, unless the user
// accepts it for that project; other changes are listed.
func TestRelockRefusesAnIdentityChange(t *testing.T) {
	id := func(repo string) []pylock.Identity {
		return []pylock.Identity{{Kind: "GitHub", Repository: repo, Workflow: "release.yml"}}
	}
	prev := &pylock.Lock{Packages: []pylock.Package{
		{Name: "plain", Version: "1.0", AttestationIdentities: id("acme/plain")},
		{Name: "gone", Version: "1.0", AttestationIdentities: id("acme/gone")},
		{Name: "old", Version: "1.0"},
	}}
	next := &pylock.Lock{Packages: []pylock.Package{
		{Name: "plain", Version: "1.1", AttestationIdentities: id("mallory/plain")},
		{Name: "gone", Version: "1.0"},
		{Name: "new", Version: "2.0"},
	}}
	changes, err := CompareLocks(prev, next, nil)
	var ie *IdentityChangeError
	if !errors.As(err, &ie) || len(ie.Changes) != 2 || !strings.Contains(err.Error(), "plain: publisher identity GitHub:acme/plain/release.yml -> GitHub:mallory/plain/release.yml") ||
		!strings.Contains(err.Error(), "gone: publisher identity GitHub:acme/gone/release.yml -> none") || !strings.Contains(ie.Hint(), "--accept-identity-change plain") {
		t.Fatalf("err = %v", err)
	}
	var text []string
	for _, c := range changes {
		text = append(text, c.String())
	}
	for _, want := range []string{"plain 1.0 -> 1.1", "new 2.0 added", "old 1.0 removed"} {
		if !strings.Contains(strings.Join(text, "\n"), want) {
			t.Errorf("changes %v lack %q", text, want)
		}
	}
	if _, err := CompareLocks(prev, next, []string{"plain", "Gone"}); err != nil {
		t.Errorf("accepted: %v", err)
	}
}

// pipguard installs a lock that pip 26's own `pip lock` wrote (which
// records no identities and no index: its files are installed, checked by
// hash, and counted as unattested).
func TestInstallALockPipWrote(t *testing.T) {
	pip26, why := pkgtest.Pip26()
	if pip26 == "" {
		t.Skip(why)
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
	lock := filepath.Join(dir, "pylock.toml")
	cmd := exec.Command(pip26, "-m", "pip", "lock", "--disable-pip-version-check", "--index-url", w.ix.SimpleURL(), "--cert", ca, "-o", lock, "plain==1.0")
	cmd.Env = append(os.Environ(), "PIP_NO_INDEX=", "PIP_FIND_LINKS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip lock: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(lock)
	if !strings.Contains(string(data), `created-by = "pip"`) {
		t.Fatalf("not pip's lock:\n%s", data)
	}
	w.python = pkgtest.NewVenv(t)
	rep, err := InstallLockFile(context.Background(), w.cfg, InstallOptions{Python: w.python, Trust: w.trust, Output: &w.out}, LockFile{Path: lock})
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, w.out.String(), data)
	}
	if v := w.python3(t, "import plain; print(plain.VERSION)"); v != "1.0" {
		t.Errorf("installed %s", v)
	}
	// What pip's lock lacks is said, as notes.
	if ws := strings.Join(rep.Warnings, "\n"); !strings.Contains(ws, "record no attestation identities (plain)") || !strings.Contains(ws, "does not say which environments") {
		t.Errorf("warnings %v", rep.Warnings)
	}
}

// An index package pipguard built from its sdist (allow_source_builds) is
// locked as that sdist, by the bytes pipguard hashed: the wheel built
// from it exists only on this machine, so a lock naming it (with the
// sdist's URL) could never be installed.
func TestASourceBuildIsLockedAsItsSdist(t *testing.T) {
	sdist := strings.Repeat("a", 64)
	rep := &InstallReport{pythonVersion: "3.11.7", Lock: []Locked{{
		Name: "srcpkg", Version: "1.0", Source: SourceIndex, SHA256: strings.Repeat("b", 64), Size: 10,
		URL: "https://ix.example/files/srcpkg-1.0.tar.gz", file: "/tmp/x/files/srcpkg-1.0-py3-none-any.whl", built: "/tmp/x/built-0/srcpkg-1.0-py3-none-any.whl",
		sdist: &sdistFile{name: "srcpkg-1.0.tar.gz", sha256: sdist, size: 1234},
	}}}
	l, err := ToPylock(rep)
	if err != nil {
		t.Fatal(err)
	}
	p := l.Packages[0]
	if len(p.Wheels) != 0 || p.Sdist == nil || p.Sdist.Name != "srcpkg-1.0.tar.gz" || p.Sdist.Hashes["sha256"] != sdist || *p.Sdist.Size != 1234 {
		t.Fatalf("locked as %+v (sdist %+v)", p.Wheels, p.Sdist)
	}
	data, err := pylock.Write(l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pylock.Read("pylock.toml", data); err != nil {
		t.Fatalf("the lock does not read back: %v\n%s", err, data)
	}
}
