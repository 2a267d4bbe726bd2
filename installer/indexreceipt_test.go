package installer

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// indexPolicy is audit's view of pol's index rules, as the CLI gives it.
func indexPolicy(pol *policy.Policy) func(string) envaudit.IndexPolicy {
	return func(project string) envaudit.IndexPolicy {
		eff := pol.ForProject(project)
		ip := envaudit.IndexPolicy{Require: eff.Require, Rule: eff.Rule}
		if p := eff.Publisher; p != nil {
			ip.Publisher = &pep610.Publisher{Kind: p.Kind, Repository: p.Repository, Workflow: p.Workflow, WorkflowFilepath: p.WorkflowFilepath, Email: p.Email}
		}
		return ip
	}
}

func receiptOf(t *testing.T, w *indexWorld, name string) *pep610.Receipt {
	t.Helper()
	ds, err := pep610.Find(w.site, name)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%s: %v %v", name, ds, err)
	}
	key, err := pep610.LoadReceiptKey(prefixOf(w.python), false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ds[0].Receipt(key)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// findings is an audit's rules and severities by distribution.
func findings(rep *envaudit.Report) map[string][]string {
	out := map[string][]string{}
	for _, f := range rep.Findings {
		out[f.Dist] = append(out[f.Dist], f.Rule+":"+string(f.Severity))
	}
	return out
}

func pkgOf(rep *envaudit.Report, name string) envaudit.Package {
	for _, p := range rep.Packages {
		if p.Name == name {
			return p
		}
	}
	return envaudit.Package{}
}

// Every index install gets a receipt, authenticated and bound to RECORD
// as release receipts are: the file pipguard hashed, the index, and its
// provenance's state, with the certificate's identity and the log index
// only when it verified. pipguard audit reads them: a verified index
// install counts as verified and shows its identity; an unattested one is
// a note under "verify" and an error where the policy requires
// provenance; a receipt whose identity the policy's [[index]] table now
// contradicts is a finding; an edited receipt fails its MAC.
func TestIndexInstallsHaveReceiptsAuditReads(t *testing.T) {
	w := newIndexWorld(t)
	plain := w.put(t, "plain", "acme/plain", nil)
	bareP := pkgtest.Project{Name: "bare", Version: "1.0"}
	bare := bareP.Wheel()
	w.ix.Put(pkgtest.ProvenanceFile{Project: "bare", Version: "1.0", Filename: bareP.WheelName(), Data: bare})
	args := []string{"--index-url", w.ix.SimpleURL()}
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0", "bare==1.0"}, PipArgs: args}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}

	r := receiptOf(t, w, "plain")
	p := r.Provenance
	if r.From != pep610.FromIndex || r.SHA256 != sha256hex(plain) || r.WheelSHA256 != r.SHA256 || r.File != (pkgtest.Project{Name: "plain", Version: "1.0"}).WheelName() ||
		r.Index != w.ix.SimpleURL() || p == nil || p.State != pep610.ProvenanceVerified || p.LogIndex == nil || p.Publisher == nil ||
		p.Publisher.Kind != "GitHub" || p.Publisher.Repository != "acme/plain" || p.Publisher.Workflow != "release.yml" || p.Source == "" {
		data, _ := json.Marshal(r)
		t.Errorf("plain's receipt: %s", data)
	}
	r = receiptOf(t, w, "bare")
	if p := r.Provenance; r.From != pep610.FromIndex || r.SHA256 != sha256hex(bare) || p == nil || p.State != pep610.ProvenanceUnattested || p.Publisher != nil || p.LogIndex != nil {
		data, _ := json.Marshal(r)
		t.Errorf("bare's receipt: %s", data)
	}

	audit := func(pol *policy.Policy, online bool) *envaudit.Report {
		t.Helper()
		o := envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(pol)}
		if online {
			ix := NewIndexRecheck(w.cfg, pol, w.trust)
			o.Online = func(r *pep610.Receipt) ([][2]string, error) {
				if r.From != pep610.FromIndex {
					return nil, nil
				}
				ds, err := ix.Recheck(context.Background(), r)
				var out [][2]string
				for _, d := range ds {
					out = append(out, [2]string{d.Rule, d.Message})
				}
				return out, err
			}
		}
		rep, err := envaudit.Audit([]string{w.site}, o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	rep := audit(policy.Default(), false)
	got := findings(rep)
	if strings.Join(got["bare"], ",") != "index-unattested:info" || len(got["plain"]) > 0 {
		t.Errorf("under verify: %v", got)
	}
	if pk := pkgOf(rep, "plain"); !pk.Verified || pk.Source != "index" || pk.Attestation != "verified" || pk.Publisher == nil || pk.Publisher.String() != "GitHub:acme/plain/release.yml" {
		t.Errorf("plain listed as %+v", pk)
	}
	if pk := pkgOf(rep, "bare"); pk.Verified || pk.Attestation != "unattested" {
		t.Errorf("bare listed as %+v", pk)
	}
	hits := func() int {
		return w.ix.Hits("page") + w.ix.Hits("provenance") + w.ix.Hits("integrity") + w.ix.Hits("file")
	}
	before := hits()
	if got := audit(policy.Default(), true); len(findings(got)["plain"]) > 0 || !pkgOf(got, "plain").Verified {
		t.Errorf("--online with nothing changed: %v", findings(got))
	}
	// Only the verified index install is asked again: its project page and
	// its provenance, never the file.
	if n := hits() - before; n != 2 {
		t.Errorf("--online made %d requests to the index, want 2", n)
	}

	for _, c := range []struct{ name, policy, dist, want string }{
		{"required globally", `index_attestations = "require"`, "bare", "index-unattested:error"},
		{"required by its table", "[[index]]\nmatch = \"bare\"\nrequire = true", "bare", "index-unattested:error"},
		{"a pattern table pins a publisher", "[[index]]\nmatch = \"ba*\"\npublisher = { kind = \"GitHub\", repository = \"acme/bare\", workflow = \"release.yml\" }", "bare", "index-unattested:error"},
		{"another publisher than the receipt's", "[[index]]\nmatch = \"plain\"\npublisher = { kind = \"GitHub\", repository = \"acme/other\", workflow = \"release.yml\" }", "plain", "index-identity-mismatch:error"},
		{"another workflow", "[[index]]\nmatch = \"plain\"\npublisher = { kind = \"GitHub\", repository = \"ACME/Plain\", workflow = \"other.yml\" }", "plain", "index-identity-mismatch:error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := audit(mustPolicy(t, c.policy), false)
			if got := findings(rep)[c.dist]; strings.Join(got, ",") != c.want {
				t.Errorf("%s: %v, want %s", c.dist, got, c.want)
			}
			if pkgOf(rep, c.dist).Verified {
				t.Errorf("%s counted as verified", c.dist)
			}
		})
	}
	// Under a global require, an index install no receipt vouches for
	// (pip itself, installed by venv) is an error too.
	if got := findings(audit(mustPolicy(t, `index_attestations = "require"`), false)); strings.Join(got["pip"], ",") != "index-unattested:error" {
		t.Errorf("pip under require: %v", got["pip"])
	}
	// --online asks only an index the policy's indexes still list.
	if got := findings(audit(mustPolicy(t, `indexes = ["https://pypi.org/simple/"]`), true)); strings.Join(got["plain"], ",") != "not-rechecked:info" {
		t.Errorf("an index the policy no longer lists: %v", got["plain"])
	}
	// The same identity, its owner/repo in another case: GitHub's
	// comparison.
	if got := findings(audit(mustPolicy(t, "[[index]]\nmatch = \"plain\"\npublisher = { kind = \"GitHub\", repository = \"ACME/Plain\", workflow = \"release.yml\" }"), false)); len(got["plain"]) > 0 {
		t.Errorf("the pinned identity: %v", got)
	}

	// --online: the index drops the provenance, then serves one by
	// another publisher for the same bytes.
	filename := pkgtest.Project{Name: "plain", Version: "1.0"}.WheelName()
	saved := w.ixFile(t, filename)
	w.ix.Update(filename, func(f *pkgtest.ProvenanceFile) { f.Provenance = nil })
	if got := findings(audit(policy.Default(), true)); strings.Join(got["plain"], ",") != "index-provenance-gone:error" {
		t.Errorf("provenance gone: %v", got)
	}
	other, err := pkgtest.Signed(w.pg, sigstoretest.GitHubActions("evil/plain", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("b", 40)),
		sigstoretest.GitHubPublisher("evil/plain", "release.yml"), "plain", "1.0", filename, plain)
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(other)
	rep = audit(policy.Default(), true)
	if got := findings(rep); strings.Join(got["plain"], ",") != "index-identity-changed:error" || pkgOf(rep, "plain").Verified {
		t.Errorf("identity changed: %v", got)
	}
	w.ix.Put(saved)

	// An edited receipt (the identity changed to another repository)
	// fails its MAC: not verified, and said so.
	ds, _ := pep610.Find(w.site, "plain")
	path := filepath.Join(ds[0].Dir, pep610.ReceiptFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"repository": "acme/plain"`, `"repository": "acme/other"`, 1)
	if edited == string(data) {
		t.Fatalf("no repository in %s", data)
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = audit(mustPolicy(t, "[[index]]\nmatch = \"plain\"\npublisher = { kind = \"GitHub\", repository = \"acme/other\", workflow = \"release.yml\" }"), false)
	if got := findings(rep); strings.Join(got["plain"], ",") != "receipt-unauthenticated:error,index-unattested:error" || pkgOf(rep, "plain").Verified {
		t.Errorf("edited receipt: %v", got)
	}
}

// A wheel that ships its own receipt, claiming verified provenance by a
// publisher, never passes for pipguard's: pipguard's plan refuses to
// install it, and installed by pip itself into an environment that has a
// receipt key it fails the MAC, is a finding, and is not counted verified.
func TestAForgedIndexReceiptIsNotVerified(t *testing.T) {
	w := newIndexWorld(t)
	w.put(t, "plain", "acme/plain", nil)
	forged := `{"schema": "pipguard.receipt/v2", "requirement": "forgery==1.0", "name": "forgery", "version": "1.0", "repository": "", "commit": "", "sha256": "` + strings.Repeat("ab", 32) + `", "from": "index", "policy_sha256": "", "pipguard": "v1", "installed_at": "2026-01-01T00:00:00Z", "wheel_sha256": "` + strings.Repeat("ab", 32) + `", "file": "forgery-1.0-py3-none-any.whl", "index": "https://pypi.org/simple/", "provenance": {"state": "verified", "publisher": {"kind": "GitHub", "repository": "acme/forgery", "workflow": "release.yml"}, "log_index": 1}, "record_sha256": "", "mac": "` + strings.Repeat("00", 32) + `"}` + "\n"
	fp := pkgtest.Project{Name: "forgery", Version: "1.0", Files: map[string]string{"forgery-1.0.dist-info/" + pep610.ReceiptFile: forged}}
	data := fp.Wheel()
	f, err := pkgtest.Signed(w.pg, sigstoretest.GitHubActions("acme/forgery", ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40)),
		sigstoretest.GitHubPublisher("acme/forgery", "release.yml"), "forgery", "1.0", fp.WheelName(), data)
	if err != nil {
		t.Fatal(err)
	}
	w.ix.Put(f)
	args := []string{"--index-url", w.ix.SimpleURL()}
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "forgery==1.0"}, PipArgs: args}); err == nil || !strings.Contains(err.Error(), pep610.ReceiptFile) {
		t.Fatalf("pipguard installed a wheel that ships its receipt: %v", err)
	}
	sameState(t, before, prefixState(t, prefix))
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: args}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	// pip itself, from the index (an index install: no direct_url.json).
	if out, err := exec.Command(w.python, "-m", "pip", "install", "--isolated", "--no-deps", "--index-url", w.ix.SimpleURL(), "forgery==1.0").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rep, err := envaudit.Audit([]string{w.site}, envaudit.Options{GitHubHost: w.cfg.tokenHost(), Index: indexPolicy(policy.Default())})
	if err != nil {
		t.Fatal(err)
	}
	got := findings(rep)
	if strings.Join(got["forgery"], ",") != "receipt-unauthenticated:error" || pkgOf(rep, "forgery").Verified || pkgOf(rep, "forgery").Attestation != "" {
		t.Errorf("forgery: %v %+v", got["forgery"], pkgOf(rep, "forgery"))
	}
	if !pkgOf(rep, "plain").Verified {
		t.Errorf("plain: %+v", pkgOf(rep, "plain"))
	}
}
