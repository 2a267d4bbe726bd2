package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// indexWorld is an install world whose trust also holds a local
// public-good Sigstore (index provenance is signed there), and a local
// index that serves PEP 740 provenance.
type indexWorld struct {
	*installWorld
	pg *sigstoretest.Instance
	ix *pkgtest.ProvenanceIndex
}

func newIndexWorld(t *testing.T) *indexWorld {
	t.Helper()
	w := &indexWorld{installWorld: newInstallWorld(t)}
	pg, err := sigstoretest.NewPublicGood()
	if err != nil {
		t.Fatal(err)
	}
	pgRoot, err := pg.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	ghRoot, err := w.signer.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	w.pg = pg
	w.trust = attest.NewTrust(map[attest.Deployment]root.TrustedMaterial{attest.GitHub: ghRoot, attest.PublicGood: pgRoot})
	w.ix = pkgtest.NewProvenanceIndex(t)
	w.publish(t, githubtest.Publish{})
	return w
}

// put publishes name 1.0 on the index, attested by repo's release.yml
// (signed over the bytes of signed, which are the file's own unless the
// test says otherwise).
func (w *indexWorld) put(t *testing.T, name, repo string, signed []byte) []byte {
	t.Helper()
	p := pkgtest.Project{Name: name, Version: "1.0"}
	data := p.Wheel()
	if signed == nil {
		signed = data
	}
	id := sigstoretest.GitHubActions(repo, ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40))
	f, err := pkgtest.Signed(w.pg, id, sigstoretest.GitHubPublisher(repo, "release.yml"), name, "1.0", p.WheelName(), signed)
	if err != nil {
		t.Fatal(err)
	}
	f.Data = data
	w.ix.Put(f)
	return data
}

// Index files are verified by their PEP 740 provenance before pip
// installs anything: the publisher identity comes from the certificate
// and is recorded in the lock; a provenance for other bytes, an identity
// other than the one the policy pins, and a missing provenance the policy
// requires are each refused, and nothing changes.
func TestIndexFilesAreVerifiedByTheirProvenance(t *testing.T) {
	w := newIndexWorld(t)
	w.put(t, "plain", "acme/plain", nil)
	w.put(t, "swapped", "acme/swapped", pkgtest.Project{Name: "swapped", Version: "1.0", Files: map[string]string{"swapped/x.py": "X = 1\n"}}.Wheel())
	w.ix.Put(pkgtest.ProvenanceFile{Project: "bare", Version: "1.0", Filename: pkgtest.Project{Name: "bare", Version: "1.0"}.WheelName(), Data: pkgtest.Project{Name: "bare", Version: "1.0"}.Wheel()})
	args := []string{"--index-url", w.ix.SimpleURL()}

	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0", "bare==1.0"}, PipArgs: args})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	states := map[string]*IndexAttestation{}
	for _, l := range rep.Lock {
		states[l.Name] = l.Attestation
	}
	if a := states["plain"]; a == nil || a.State != AttestVerified || a.Publisher == nil || a.Publisher.Repository != "acme/plain" || a.Publisher.Workflow != "release.yml" {
		t.Errorf("plain: %+v", a)
	}
	if a := states["bare"]; a == nil || a.State != AttestNone {
		t.Errorf("bare: %+v", a)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "1 index file(s) installed unattested") {
		t.Errorf("warnings %v", rep.Warnings)
	}

	for _, c := range []struct {
		name, req, policy, want string
		refused                 bool
	}{
		{"provenance of other bytes", "swapped==1.0", "", "digest", false},
		{"another publisher than the pinned one", "plain==1.0", `[[index]]
match = "plain"
publisher = { kind = "GitHub", repository = "acme/other", workflow = "release.yml" }`, "acme/other", false},
		{"a look-alike repository", "plain==1.0", `[[index]]
match = "plain"
publisher = { kind = "GitHub", repository = "acme/plain-", workflow = "release.yml" }`, "acme/plain-", false},
		{"required and missing", "bare==1.0", `index_attestations = "require"`, "has no provenance", true},
		{"required by its table and missing", "bare==1.0", `[[index]]
match = "bare"
require = true`, "index \"bare\"", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w.python = pkgtest.NewVenv(t)
			w.site = pkgtest.SitePackages(w.python)
			prefix := prefixOf(w.python)
			before := prefixState(t, prefix)
			o := InstallOptions{Requirements: []string{w.req("v1.0.0"), c.req}, PipArgs: args}
			if c.policy != "" {
				o.Rules = mustPolicy(t, c.policy)
			}
			_, err := w.install(t, o)
			var pe *ProvenanceError
			var re *RefusedError
			ok := errors.As(err, &pe)
			if c.refused {
				ok = errors.As(err, &re)
			}
			if !ok || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v (%T)\n%s", err, err, w.out.String())
			}
			sameState(t, before, prefixState(t, prefix))
		})
	}
}

// Verified provenance is cached like release bundles (authenticated): a
// second install of the same bytes asks the index for no provenance, and
// records the same publisher.
func TestVerifiedProvenanceIsCached(t *testing.T) {
	w := newIndexWorld(t)
	w.put(t, "plain", "acme/plain", nil)
	c, err := cache.Open(t.TempDir(), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.Cache = c
	args := []string{"--index-url", w.ix.SimpleURL()}
	for i := 0; i < 2; i++ {
		w.python = pkgtest.NewVenv(t)
		w.site = pkgtest.SitePackages(w.python)
		before := w.ix.Hits("provenance") + w.ix.Hits("integrity")
		rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: args})
		if err != nil {
			t.Fatalf("%v\n%s", err, w.out.String())
		}
		asked := w.ix.Hits("provenance") + w.ix.Hits("integrity") - before
		var att *IndexAttestation
		for _, l := range rep.Lock {
			if l.Name == "plain" {
				att = l.Attestation
			}
		}
		if att == nil || att.State != AttestVerified || att.Publisher == nil || att.Publisher.Repository != "acme/plain" {
			t.Fatalf("run %d: %+v", i, att)
		}
		if i == 0 && asked == 0 || i == 1 && asked != 0 {
			t.Errorf("run %d asked the index for provenance %d times", i, asked)
		}
	}
}

// An index named inside a requirements file (--index-url on a line of its
// own) is where pip found the file, so it is where its provenance is
// asked for and what the lock records, not pip's default index.
func TestAnIndexNamedInTheRequirementsFileIsAsked(t *testing.T) {
	w := newIndexWorld(t)
	w.put(t, "plain", "acme/plain", nil)
	reqs := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(reqs, []byte("--index-url "+w.ix.SimpleURL()+"\nplain==1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The command line names another index (here one nothing answers
	// on); the file's line replaces it, as pip reads it.
	rep, err := w.install(t, InstallOptions{Files: []string{reqs}, PipArgs: []string{"--index-url", "http://127.0.0.1:1/simple"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	for _, l := range rep.Lock {
		if l.Name != "plain" {
			continue
		}
		if a := l.Attestation; a == nil || a.State != AttestVerified {
			t.Errorf("plain: %+v, want verified by the provenance its index (the file's --index-url) publishes\n%s", a, w.out.String())
		}
		if a := l.Attestation; a == nil || a.Index != w.ix.SimpleURL() {
			t.Errorf("plain's provenance was asked of %+v, want %q", a, w.ix.SimpleURL())
		}
		return
	}
	t.Fatalf("plain not locked: %+v", rep.Lock)
}
