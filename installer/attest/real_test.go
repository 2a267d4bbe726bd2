package attest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/policy"
)

// The real bundles and trusted roots in testdata come from GitHub and
// Sigstore (see testdata/README.md); their expected outcomes are the ones
// recorded there.

func td(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...)
}

func trustFiles(t *testing.T, names ...string) *Trust {
	t.Helper()
	var paths []string
	for _, n := range names {
		paths = append(paths, td("trusted-roots", n))
	}
	tr, err := TrustFromFiles(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func bundlesOf(t *testing.T, name string) []Bundle {
	t.Helper()
	b, err := LoadBundles(td("sigstore", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileArtifact(t *testing.T, parts ...string) *Artifact {
	t.Helper()
	a, err := ArtifactFromFile(td(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func digestArtifact(t *testing.T, s string) *Artifact {
	t.Helper()
	a, err := ArtifactFromDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func run(t *testing.T, trust *Trust, p Policy, a *Artifact, b []Bundle) (*Report, error) {
	t.Helper()
	v, err := NewVerifier(trust, p)
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(a, b)
}

// failed returns the single failed check of the only bundle.
func failed(t *testing.T, rep *Report, err error) policy.Check {
	t.Helper()
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *attest.Error", err)
	}
	if rep.Verified || len(rep.Bundles) != 1 {
		t.Fatalf("report: verified %v, %d bundles", rep.Verified, len(rep.Bundles))
	}
	f := rep.Bundles[0].Decision.Failures()
	if len(f) == 0 {
		t.Fatal("no failed check")
	}
	return f[0]
}

const (
	demoWheel  = "github_provenance_demo-0.0.12-py3-none-any.whl"
	demoBundle = "github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl"
	demoSHA256 = "sha256:ae57936def59bc4c75edd3a837d89bcefc6d3a5e31d55a6fa7a71624f92c3c3b"
)

func TestGitHubInstanceProvenance(t *testing.T) {
	trust := trustFiles(t, "github.json", "public-good.json")
	for _, a := range []*Artifact{fileArtifact(t, "sigstore", demoWheel), digestArtifact(t, demoSHA256)} {
		rep, err := run(t, trust, Policy{Repo: "actions/attest-demo", SignerWorkflow: ".github/workflows/build-python.yml",
			SourceRef: "refs/heads/main", SourceDigest: "a6c23b9806c593664f68637c8f9d45dfcf98b2db", DenySelfHosted: true},
			a, bundlesOf(t, demoBundle))
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		b := rep.Bundles[0]
		if b.Deployment != GitHub || b.Identity.BuildTrigger != "workflow_dispatch" || len(b.Timestamps) != 1 {
			t.Errorf("report %+v", b)
		}
		if got := b.Timestamps[0].Time.Format("2006-01-02T15:04:05Z"); got != "2024-04-22T17:33:26Z" {
			t.Errorf("TSA time %s", got)
		}
	}
}

func TestWrongRepositoryNamesSourceRepositoryURI(t *testing.T) {
	rep, err := run(t, trustFiles(t, "github.json"), Policy{Repo: "someone/else"},
		fileArtifact(t, "sigstore", demoWheel), bundlesOf(t, demoBundle))
	c := failed(t, rep, err)
	if c.Name != "source-repository" || c.Expected != "https://github.com/someone/else" || c.Actual != "https://github.com/actions/attest-demo" {
		t.Errorf("failed check %+v", c)
	}
	if !strings.Contains(err.Error(), `expected SourceRepositoryURI "https://github.com/someone/else", got "https://github.com/actions/attest-demo"`) {
		t.Errorf("error %q", err)
	}
}

func TestGitHubBundleNeedsGitHubRoot(t *testing.T) {
	// Only the public-good root: the bundle's chain is GitHub's, so it is
	// never tried against public-good material.
	rep, err := run(t, trustFiles(t, "public-good.json"), Policy{Repo: "actions/attest-demo"},
		fileArtifact(t, "sigstore", demoWheel), bundlesOf(t, demoBundle))
	if c := failed(t, rep, err); c.Name != "trusted-root" {
		t.Errorf("failed check %+v", c)
	}
}

func TestPublicGoodSHA512Subject(t *testing.T) {
	trust := trustFiles(t, "public-good.json", "github.json")
	p := Policy{Repo: "sigstore/sigstore-js", SignerWorkflow: ".github/workflows/release.yml"}
	rep, err := run(t, trust, p, fileArtifact(t, "sigstore", "sigstore-js-2.1.0.tgz"), bundlesOf(t, "sigstore-js-2.1.0-bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Bundles[0]
	if b.Deployment != PublicGood || b.Timestamps[0].Kind != "Tlog" {
		t.Errorf("report %+v", b)
	}
	if rep.Digests["sha512"] == "" {
		t.Error("sha512 digest not computed for a sha512-only subject")
	}
	// With only a sha256 digest the subject cannot match.
	rep, err = run(t, trust, p, digestArtifact(t, "sha256:f0c641fce0310cb43208f4272dc1423153630e44ba8cdc0b5ce8466f724e0eed"), bundlesOf(t, "sigstore-js-2.1.0-bundle.json"))
	if c := failed(t, rep, err); c.Name != "subject-digest" {
		t.Errorf("failed check %+v", c)
	}
}

func TestReusableWorkflowNeedsSignerRepo(t *testing.T) {
	trust := trustFiles(t, "public-good-2025-10.json")
	a := fileArtifact(t, "sigstore", "reusable-workflow-artifact")
	rep, err := run(t, trust, Policy{Repo: "malancas/attest-demo"}, a, bundlesOf(t, "reusable-workflow-attestation.sigstore.json"))
	c := failed(t, rep, err)
	if c.Name != "signer-workflow" || !strings.Contains(c.Hint, "--signer-repo") {
		t.Errorf("failed check %+v", c)
	}
	_, err = run(t, trust, Policy{Repo: "malancas/attest-demo", SignerRepo: "github/artifact-attestations-workflows"}, a, bundlesOf(t, "reusable-workflow-attestation.sigstore.json"))
	if err != nil {
		t.Fatal(err)
	}
}

func TestReleaseAttestation(t *testing.T) {
	trust := trustFiles(t, "github.json")
	bundles, err := LoadBundles(td("github", "checksums-gh-download.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Repo: "cli/cli", Tag: "v2.96.0", SourceDigest: "b300f2ec7ec9dc9addc39b2ad88c54097ded7ca0"}
	for _, a := range []*Artifact{fileArtifact(t, "github", "gh_2.96.0_checksums.txt"),
		digestArtifact(t, "sha256:fc046371efa250e2875208341a786a35a01717d5eebec6903e199a9b8a3f3565")} {
		rep, err := run(t, trust, p, a, bundles)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if r := rep.Bundles[0].Release; r == nil || r.Commit != "b300f2ec7ec9dc9addc39b2ad88c54097ded7ca0" || r.Tag != "v2.96.0" {
			t.Errorf("release %+v", r)
		}
	}
	// Another tag, another commit, another artifact: each named.
	for _, c := range []struct {
		p     Policy
		a     string
		check string
	}{
		{Policy{Repo: "cli/cli", Tag: "v2.95.0"}, "", "release-tag"},
		{Policy{Repo: "cli/go-gh", Tag: "v2.96.0"}, "", "release-repository"},
		{Policy{Repo: "cli/cli", Tag: "v2.96.0", SourceDigest: strings.Repeat("0", 40)}, "", "release-commit"},
		{Policy{Repo: "cli/cli", Tag: "v2.96.0"}, "sha256:" + strings.Repeat("ab", 32), "subject-digest"},
	} {
		a := c.a
		if a == "" {
			a = "sha256:fc046371efa250e2875208341a786a35a01717d5eebec6903e199a9b8a3f3565"
		}
		rep, err := run(t, trust, c.p, digestArtifact(t, a), bundles)
		if got := failed(t, rep, err); got.Name != c.check {
			t.Errorf("%+v: failed check %+v, want %s", c.p, got, c.check)
		}
	}
	// A workflow policy refuses a release attestation: wrong predicate and
	// no Actions issuer.
	rep, err := run(t, trust, Policy{Repo: "cli/cli"}, digestArtifact(t, "sha256:fc046371efa250e2875208341a786a35a01717d5eebec6903e199a9b8a3f3565"), bundles)
	if got := failed(t, rep, err); got.Name != "predicate-type" {
		t.Errorf("failed check %+v", got)
	}
}

func TestBrokenBundlesFailAtLoad(t *testing.T) {
	for name, want := range map[string]string{
		"github_provenance_demo-0.0.12-py3-none-any-bundle-missing-cert.jsonl":                  "invalid bundle: validation error: missing bundle content",
		"github_provenance_demo-0.0.12-py3-none-any-bundle-missing-verification-material.jsonl": "invalid bundle: validation error: missing verification material",
	} {
		rep, err := run(t, trustFiles(t, "github.json"), Policy{Repo: "actions/attest-demo"},
			digestArtifact(t, demoSHA256), bundlesOf(t, name))
		c := failed(t, rep, err)
		if c.Name != "bundle" || c.Reason != "not a Sigstore bundle: "+want {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

func TestOneGoodBundleAmongBad(t *testing.T) {
	var bundles []Bundle
	bundles = append(bundles, bundlesOf(t, "github_provenance_demo-0.0.12-py3-none-any-bundle-missing-cert.jsonl")...)
	bundles = append(bundles, bundlesOf(t, "sigstore-js-2.1.0-bundle.json")...)
	bundles = append(bundles, bundlesOf(t, demoBundle)...)
	rep, err := run(t, trustFiles(t, "github.json", "public-good.json"), Policy{Repo: "actions/attest-demo"},
		fileArtifact(t, "sigstore", demoWheel), bundles)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 2 || rep.Bundles[0].Verified || rep.Bundles[1].Verified {
		t.Fatalf("accepted %d", rep.Accepted)
	}
	if f := rep.Bundles[1].Decision.Failures(); len(f) == 0 || f[0].Name != "subject-digest" {
		t.Errorf("the other bundle's reason: %+v", f)
	}
}
