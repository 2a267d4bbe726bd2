package provenance

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/policy"
)

// The real PEP 740 fixtures of ../shared/fixtures/pep740 (copied into
// testdata/pep740), each verified by digest, offline, as its README says.

const (
	pgRoot = "testdata/pep740/public-good-2025-10.json"
	stRoot = "testdata/pep740/staging-sigstore-python-2026-05.json"
)

var (
	rootsOnce sync.Once
	roots     map[string]root.TrustedMaterial
)

// material loads a trusted root file the way pipguard does (package
// attest's loader) once per test binary.
func material(t testing.TB, path string) root.TrustedMaterial {
	t.Helper()
	rootsOnce.Do(func() {
		roots = map[string]root.TrustedMaterial{}
		for _, p := range []string{pgRoot, stRoot} {
			tr, err := attest.TrustFromFiles(p)
			if err != nil {
				panic(err)
			}
			m, err := tr.Material(attest.PublicGood)
			if err != nil {
				panic(err)
			}
			roots[p] = m
		}
	})
	return roots[path]
}

func verifier(t testing.TB, path string) *Verifier {
	t.Helper()
	v, err := NewVerifier(material(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/pep740", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureProvenance reads a .provenance file, or wraps a bare attestation
// in a provenance object the way PyPI does.
func fixtureProvenance(t testing.TB, name string, pub IndexPublisher) *Provenance {
	t.Helper()
	data := fixture(t, name)
	if strings.HasSuffix(name, ".provenance") {
		p, err := ParseProvenance(data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if strings.HasSuffix(name, ".sigstore") {
		a, err := attestationFromBundleJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		return &Provenance{Version: 1, AttestationBundles: []AttestationBundle{{Publisher: pub, Attestations: []Attestation{*a}}}}
	}
	a, err := ParseAttestation(data)
	if err != nil {
		t.Fatal(err)
	}
	return &Provenance{Version: 1, AttestationBundles: []AttestationBundle{{Publisher: pub, Attestations: []Attestation{*a}}}}
}

func gh(repo, wf string) *Publisher {
	return &Publisher{Kind: KindGitHub, Repository: repo, Workflow: wf}
}

func gl(repo, path string) *Publisher {
	return &Publisher{Kind: KindGitLab, Repository: repo, WorkflowFilepath: path}
}

func google(email string) *Publisher { return &Publisher{Kind: KindGoogle, Email: email} }

const (
	pa19     = "pypi_attestations-0.0.19.tar.gz"
	pa19sha  = "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3"
	gcbEmail = "919436158236-compute@developer.gserviceaccount.com"
	spt3g    = "spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
)

type realCase struct {
	name      string
	file      string
	root      string
	filename  string
	sha256    string
	publisher *Publisher
	// want: "" verified; else the name of the first failed check and a
	// piece of its reason (the README's).
	failCheck, reason string
	// kind is the verified certificate's publisher kind ("" for a personal
	// identity).
	kind         string
	unverifiable bool
}

var realCases = []realCase{
	// pypi_attestations 0.0.19: a real PyPI provenance object.
	{name: "pa19 provenance", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"), kind: KindGitHub},
	{name: "pa19 provenance any publisher", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha, kind: KindGitHub},
	{name: "pa19 provenance repository in other case", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("TrailOfBits/PyPI-Attestations", "release.yml"), kind: KindGitHub},
	{name: "pa19 wrong digest", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: strings.Repeat("ab", 32),
		publisher: gh("trailofbits/pypi-attestations", "release.yml"),
		failCheck: "subject-digest", reason: "provided artifact digest does not match any digest in statement"},
	{name: "pa19 wrong workflow", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "other.yml"), kind: KindGitHub,
		failCheck: "build-config", reason: `Build Config URI "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19" does not match expected Trusted Publisher`},
	{name: "pa19 workflow in other case", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "Release.yml"), kind: KindGitHub,
		failCheck: "build-config", reason: "does not match expected Trusted Publisher"},
	{name: "pa19 wrong repository", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations-", "release.yml"), kind: KindGitHub,
		failCheck: "source-repository", reason: `expected Source Repository URI "https://github.com/trailofbits/pypi-attestations-", got "https://github.com/trailofbits/pypi-attestations"`},
	{name: "pa19 wrong version", file: pa19 + ".provenance", root: pgRoot, filename: "pypi_attestations-0.0.18.tar.gz", sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"), kind: KindGitHub,
		failCheck: "subject-name", reason: "subject does not match distribution name"},
	{name: "pa19 wrong name", file: pa19 + ".provenance", root: pgRoot, filename: "pypi_attestation-0.0.19.tar.gz", sha256: pa19sha,
		kind: KindGitHub, failCheck: "subject-name", reason: "subject does not match distribution name"},
	{name: "pa19 as a zip sdist", file: pa19 + ".provenance", root: pgRoot, filename: "pypi_attestations-0.0.19.zip", sha256: pa19sha,
		kind: KindGitHub, failCheck: "subject-name", reason: "subject does not match distribution name"},
	{name: "pa19 normalised name and version", file: pa19 + ".provenance", root: pgRoot, filename: "PyPI.Attestations-0.0.19.0.tar.gz", sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"), kind: KindGitHub},
	{name: "pa19 against staging", file: pa19 + ".provenance", root: stRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"),
		failCheck: "transparency-log", reason: "not enough verified log entries from transparency log: 0 < 1"},
	{name: "pa19 GitLab policy on a GitHub attestation", file: pa19 + ".provenance", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gl("trailofbits/pypi-attestations", ".gitlab-ci.yml"), kind: KindGitHub,
		failCheck: "issuer", reason: `expected OIDC issuer "https://gitlab.com", got "https://token.actions.githubusercontent.com"`},
	{name: "pa19 publish attestation", file: pa19 + ".publish.attestation", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"), kind: KindGitHub},
	{name: "pa19 SLSA attestation", file: pa19 + ".slsa.attestation", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"), kind: KindGitHub},
	{name: "pa19 with TSA timestamp (personal identity)", file: pa19 + ".publish.attestation.with_timestamp", root: pgRoot, filename: pa19, sha256: pa19sha},
	{name: "pa19 with TSA timestamp, pinned GitHub", file: pa19 + ".publish.attestation.with_timestamp", root: pgRoot, filename: pa19, sha256: pa19sha,
		publisher: gh("trailofbits/pypi-attestations", "release.yml"),
		failCheck: "issuer", reason: `expected OIDC issuer "https://token.actions.githubusercontent.com", got "https://github.com/login/oauth"`},
	{name: "pa19 Rekor v2 dsse 0.0.2", file: pa19 + ".publish.attestation.with_rekor2_timestamp", root: stRoot, filename: pa19, sha256: pa19sha,
		failCheck: "bundle", reason: "dsse implementation for version '0.0.2' not found", unverifiable: true},

	// GitLab.
	{name: "gitlab", file: "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation", root: pgRoot, filename: "gitlab_oidc_project-0.0.3.tar.gz",
		sha256: "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8", publisher: gl("facutuesca/gitlab-oidc-project", ".gitlab-ci.yml"), kind: KindGitLab},
	{name: "gitlab wrong.yml", file: "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation", root: pgRoot, filename: "gitlab_oidc_project-0.0.3.tar.gz",
		sha256: "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8", publisher: gl("facutuesca/gitlab-oidc-project", "wrong.yml"), kind: KindGitLab,
		failCheck: "build-config", reason: "does not match expected Trusted Publisher (wrong.yml @ facutuesca/gitlab-oidc-project)"},

	// actions/attest bundle and its PEP 740 conversion.
	{name: "models attestation", file: "pypi_attestation_models-0.0.4a2.tar.gz.attestation", root: pgRoot, filename: "pypi_attestation_models-0.0.4a2.tar.gz",
		sha256: "c9709ce6fd5b67b59b4a28758cf14d3f411803c4b89b6068b1f1a8e4ee94c8ef", publisher: gh("trailofbits/pypi-attestation-models", "release.yml"), kind: KindGitHub},
	{name: "models sigstore bundle", file: "pypi_attestation_models-0.0.4a2.tar.gz.sigstore", root: pgRoot, filename: "pypi_attestation_models-0.0.4a2.tar.gz",
		sha256: "c9709ce6fd5b67b59b4a28758cf14d3f411803c4b89b6068b1f1a8e4ee94c8ef", publisher: gh("trailofbits/pypi-attestation-models", "release.yml"), kind: KindGitHub},
	{name: "models, PEP 440 equal version", file: "pypi_attestation_models-0.0.4a2.tar.gz.attestation", root: pgRoot, filename: "pypi-attestation-models-0.0.4.0alpha2.tar.gz",
		sha256: "c9709ce6fd5b67b59b4a28758cf14d3f411803c4b89b6068b1f1a8e4ee94c8ef", kind: KindGitHub},

	{name: "pa16 attestation", file: "pypi_attestations-0.0.16.tar.gz.attestation", root: pgRoot, filename: "pypi_attestations-0.0.16.tar.gz",
		sha256: "cbd2b946fe160793606dee4516ef58ac5959456e69630a7f03e7de73aa7f2737", publisher: gh("trailofbits/pypi-attestations", "release.yml"), kind: KindGitHub},
	{name: "sigstore 3.6.1 provenance", file: "sigstore-3.6.1.tar.gz.provenance", root: pgRoot, filename: "sigstore-3.6.1.tar.gz",
		sha256: "ee60fdc9236fd6709271ad53b44027461360c3fde155d2af15482e4c451ff865", publisher: gh("sigstore/sigstore-python", "release.yml"), kind: KindGitHub},

	// Google.
	{name: "gcb provenance", file: "gcb_attestation_test-0.0.0.tar.gz.provenance", root: pgRoot, filename: "gcb_attestation_test-0.0.0.tar.gz",
		sha256: "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf", publisher: google(gcbEmail), kind: KindGoogle},
	{name: "gcb other email", file: "gcb_attestation_test-0.0.0.tar.gz.provenance", root: pgRoot, filename: "gcb_attestation_test-0.0.0.tar.gz",
		sha256: "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf", publisher: google("attacker@example.com"), kind: KindGoogle,
		failCheck: "san", reason: `expected SAN value "attacker@example.com", got "919436158236-compute@developer.gserviceaccount.com"`},
	{name: "sampleproject 3.0.0 Google", file: "sampleproject-3.0.0.tar.gz.publish.attestation", root: pgRoot, filename: "sampleproject-3.0.0.tar.gz",
		sha256: "117ed88e5db073bb92969a7545745fd977ee85b7019706dd256a64058f70963d", publisher: google(gcbEmail), kind: KindGoogle},

	// Staging.
	{name: "rfc8785 attestation on staging", file: "rfc8785-0.1.2-py3-none-any.whl.attestation", root: stRoot, filename: "rfc8785-0.1.2-py3-none-any.whl",
		sha256: "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"},
	{name: "rfc8785 publish attestation on staging", file: "rfc8785-0.1.2-py3-none-any.whl.publish.attestation", root: stRoot, filename: "rfc8785-0.1.2-py3-none-any.whl",
		sha256: "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"},
	{name: "rfc8785 bundle on staging", file: "rfc8785-0.1.2-py3-none-any.whl.sigstore", root: stRoot, filename: "rfc8785-0.1.2-py3-none-any.whl",
		sha256: "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"},
	{name: "rfc8785 against production", file: "rfc8785-0.1.2-py3-none-any.whl.attestation", root: pgRoot, filename: "rfc8785-0.1.2-py3-none-any.whl",
		sha256:    "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201",
		failCheck: "transparency-log", reason: "not enough verified log entries from transparency log: 0 < 1"},
	{name: "spt3g reordered tags", file: spt3g + ".publish.attestation", root: stRoot, filename: "spt3g-1.0-cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
		sha256: "d2772f9a5199f05ed1be8d9aa78b879e51772e3ead9d73fe8057257b1aec7cf8"},
	{name: "spt3g same tags", file: spt3g + ".publish.attestation", root: stRoot, filename: spt3g,
		sha256: "d2772f9a5199f05ed1be8d9aa78b879e51772e3ead9d73fe8057257b1aec7cf8"},
	{name: "spt3g one tag fewer", file: spt3g + ".publish.attestation", root: stRoot, filename: "spt3g-1.0-cp310-cp310-manylinux2014_x86_64.whl",
		sha256:    "d2772f9a5199f05ed1be8d9aa78b879e51772e3ead9d73fe8057257b1aec7cf8",
		failCheck: "subject-name", reason: "subject does not match distribution name"},
	{name: "spt3g with a build tag", file: spt3g + ".publish.attestation", root: stRoot, filename: "spt3g-1.0-1-cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
		sha256:    "d2772f9a5199f05ed1be8d9aa78b879e51772e3ead9d73fe8057257b1aec7cf8",
		failCheck: "subject-name", reason: "subject does not match distribution name"},

	// warehouse.
	{name: "sampleproject 4.0.0", file: "sampleproject-4.0.0.tar.gz.provenance", root: pgRoot, filename: "sampleproject-4.0.0.tar.gz",
		sha256: "0ace7980f82c5815ede4cd7bf9f6693684cec2ae47b9b7ade9add533b8627c6b", publisher: gh("pypa/sampleproject", "release.yml"), kind: KindGitHub},
	{name: "pep740-sampleproject (dash)", file: "pep740-sampleproject-1.0.0.tar.gz.provenance", root: pgRoot, filename: "pep740-sampleproject-1.0.0.tar.gz",
		sha256: "6cdd4a1a0a49aeef47265e7bf8ec1667257b397d34d731dc7b7af349deca1cd8", publisher: gl("pep740-example/sampleproject", ".gitlab-ci.yml"), kind: KindGitLab},
	{name: "pep740_sampleproject (underscore)", file: "pep740-sampleproject-1.0.0.tar.gz.provenance", root: pgRoot, filename: "pep740_sampleproject-1.0.0.tar.gz",
		sha256: "6cdd4a1a0a49aeef47265e7bf8ec1667257b397d34d731dc7b7af349deca1cd8", publisher: gl("pep740-example/sampleproject", ".gitlab-ci.yml"), kind: KindGitLab},
}

func TestRealFixtures(t *testing.T) {
	for _, c := range realCases {
		t.Run(c.name, func(t *testing.T) {
			p := fixtureProvenance(t, c.file, IndexPublisher{Kind: "GitHub"})
			res, err := verifier(t, c.root).VerifyProvenance(p, Expected{Filename: c.filename, SHA256: c.sha256, Publisher: c.publisher})
			if len(res.Attestations) == 0 {
				t.Fatalf("no attestation results: %v", err)
			}
			ar := res.Attestations[0]
			if c.failCheck == "" {
				if err != nil || !res.Verified {
					t.Fatalf("expected it to verify, got %v\n%s", err, checks(ar.Decision))
				}
				if res.Publisher == nil || res.Publisher.Kind != c.kind {
					t.Fatalf("publisher %+v, want kind %q", res.Publisher, c.kind)
				}
				return
			}
			if err == nil || res.Verified {
				t.Fatalf("expected a failure of %s, it verified\n%s", c.failCheck, checks(ar.Decision))
			}
			f := ar.Decision.Failures()
			if len(f) == 0 || f[0].Name != c.failCheck || !strings.Contains(f[0].Reason, c.reason) {
				t.Fatalf("expected first failure %s with %q, got\n%s", c.failCheck, c.reason, checks(ar.Decision))
			}
			wantErr := ErrRefused
			if c.unverifiable {
				wantErr = ErrUnverifiable
			}
			if !errors.Is(err, wantErr) || ar.Unverifiable != c.unverifiable {
				t.Fatalf("error %v (unverifiable %v), want %v", err, ar.Unverifiable, wantErr)
			}
			if c.kind != "" && (ar.Publisher == nil || ar.Publisher.Kind != c.kind) {
				t.Fatalf("publisher %+v, want kind %q", ar.Publisher, c.kind)
			}
		})
	}
}

func checks(d policy.Decision) string {
	var b strings.Builder
	for _, c := range d.Checks {
		b.WriteString("  " + c.Name + " " + string(c.Outcome))
		if c.Expected != "" || c.Actual != "" {
			b.WriteString(" expected=" + c.Expected + " actual=" + c.Actual)
		}
		if c.Reason != "" {
			b.WriteString(" : " + c.Reason)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The publisher read from each real certificate.
func TestRealPublishers(t *testing.T) {
	v := verifier(t, pgRoot)
	p := fixtureProvenance(t, pa19+".provenance", IndexPublisher{})
	res, err := v.VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha})
	if err != nil {
		t.Fatal(err)
	}
	want := Publisher{Kind: KindGitHub, Repository: "trailofbits/pypi-attestations", Workflow: "release.yml",
		Issuer: GitHubIssuer, SAN: "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
		Ref: "refs/tags/v0.0.19"}
	got := *res.Publisher
	got.Digest = ""
	if got != want {
		t.Fatalf("publisher\n got %+v\nwant %+v", got, want)
	}
	if res.Attestations[0].LogIndex != 153454663 {
		t.Fatalf("log index %d", res.Attestations[0].LogIndex)
	}
	// The index's claim agrees and is shown as such.
	var claim *policy.Check
	for i, c := range res.Attestations[0].Decision.Checks {
		if c.Name == "index-publisher" {
			claim = &res.Attestations[0].Decision.Checks[i]
		}
	}
	if claim == nil || claim.Outcome != policy.Pass {
		t.Fatalf("index-publisher check: %+v", claim)
	}
}

// An environment is only ever compared with the index's claim.
func TestEnvironmentClaim(t *testing.T) {
	v := verifier(t, pgRoot)
	p := fixtureProvenance(t, "sampleproject-4.0.0.tar.gz.provenance", IndexPublisher{})
	want := Expected{Filename: "sampleproject-4.0.0.tar.gz", SHA256: "0ace7980f82c5815ede4cd7bf9f6693684cec2ae47b9b7ade9add533b8627c6b",
		Publisher: &Publisher{Kind: KindGitHub, Repository: "pypa/sampleproject", Workflow: "release.yml", Environment: "pypi"}}
	_, err := v.VerifyProvenance(p, want)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `expected environment "pypi", the index says ""`) {
		t.Fatalf("err = %v", err)
	}
	env := "pypi"
	p.AttestationBundles[0].Publisher.Environment = &env
	res, err := v.VerifyProvenance(p, want)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range res.Attestations[0].Decision.Checks {
		found = found || c.Name == "environment" && c.Outcome == policy.Warn
	}
	if !found {
		t.Fatalf("no environment warning:\n%s", checks(res.Attestations[0].Decision))
	}
}

// The index's unsigned publisher object never decides: one that lies is
// shown as a warning and the certificate's identity is what counts.
func TestIndexPublisherIsNotTrusted(t *testing.T) {
	v := verifier(t, pgRoot)
	p := fixtureProvenance(t, pa19+".provenance", IndexPublisher{})
	p.AttestationBundles[0].Publisher.Repository = "evil/repo"
	res, err := v.VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha, Publisher: gh("evil/repo", "release.yml")})
	if err == nil || res.Verified {
		t.Fatal("the index's claim was trusted")
	}
	res, err = v.VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha, Publisher: gh("trailofbits/pypi-attestations", "release.yml")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Attestations[0].Decision.Checks {
		if c.Name == "index-publisher" && c.Outcome != policy.Warn {
			t.Fatalf("index-publisher: %+v", c)
		}
	}
}

func TestTamperedStatement(t *testing.T) {
	p := fixtureProvenance(t, pa19+".provenance", IndexPublisher{})
	a := &p.AttestationBundles[0].Attestations[0]
	a.Envelope.Statement = []byte(strings.Replace(string(a.Envelope.Statement), `"predicateType"`, ` "predicateType"`, 1))
	res, err := verifier(t, pgRoot).VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v", err)
	}
	f := res.Attestations[0].Decision.Failures()
	if len(f) == 0 || !strings.Contains(f[0].Reason, "does not match envelope payload hash") {
		t.Fatalf("failures: %+v", f)
	}
}

func TestVersion2Rejected(t *testing.T) {
	data := fixture(t, pa19+".provenance")
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = 2
	// An attestation that would not even parse: the version is rejected
	// first.
	m["attestation_bundles"] = "garbage"
	data, _ = json.Marshal(m)
	_, err := ParseProvenance(data)
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "unsupported version 2") {
		t.Fatalf("err = %v", err)
	}
	a := fixture(t, pa19+".publish.attestation")
	_, err = ParseAttestation([]byte(strings.Replace(string(a), `"version":1`, `"version":2`, 1)))
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "unsupported version 2") {
		t.Fatalf("attestation: err = %v", err)
	}
}

func TestEmptyIsNoProvenance(t *testing.T) {
	v := verifier(t, pgRoot)
	for _, doc := range []string{
		`{"version":1,"attestation_bundles":[]}`,
		`{"version":1,"attestation_bundles":[{"publisher":{"kind":"GitHub","repository":"a/b","workflow":"w.yml"},"attestations":[]}]}`,
	} {
		p, err := ParseProvenance([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha})
		if !errors.Is(err, ErrNoProvenance) || res.Verified {
			t.Fatalf("%s: err = %v verified %v", doc, err, res.Verified)
		}
	}
}

func TestUnknownPublisherKind(t *testing.T) {
	v := verifier(t, pgRoot)
	p := fixtureProvenance(t, pa19+".provenance", IndexPublisher{})
	_, err := v.VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha, Publisher: &Publisher{Kind: "ActiveState", Repository: "x"}})
	if !errors.Is(err, ErrUnverifiable) || !strings.Contains(err.Error(), `publisher kind "ActiveState" cannot be verified`) {
		t.Fatalf("err = %v", err)
	}
}

// Policy unit tests on the two leaf certificates of the fixtures.
func TestCertificatePolicies(t *testing.T) {
	cases := []struct {
		pem       string
		pol       Publisher
		wantKind  string
		failCheck string
	}{
		{"no-source-repository-ref-extension.pem", *gh("SWIFTSIM/swiftgalaxy", "python-publish.yml"), KindGitHub, ""},
		{"no-source-repository-ref-extension.pem", *gh("swiftsim/SwiftGalaxy", "python-publish.yml"), KindGitHub, ""},
		{"no-source-repository-ref-extension.pem", *gh("SWIFTSIM/swiftgalaxy", "release.yml"), KindGitHub, "build-config"},
		{"no-source-repository-ref-extension.pem", *gh("SWIFTSIM/swiftgalax", "python-publish.yml"), KindGitHub, "source-repository"},
		{"200170367.pem", *google(gcbEmail), KindGoogle, ""},
		{"200170367.pem", *google("attacker@example.com"), KindGoogle, "san"},
		{"200170367.pem", *gh("a/b", "c.yml"), KindGoogle, "issuer"},
	}
	for _, c := range cases {
		s := summaryOf(t, c.pem)
		pub, err := PublisherFromCertificate(s)
		if err != nil || pub.Kind != c.wantKind {
			t.Fatalf("%s: %+v %v", c.pem, pub, err)
		}
		pol, err := PolicyFor(c.pol)
		if err != nil {
			t.Fatal(err)
		}
		var d, m policy.Decision
		for _, ch := range pol.Check(s) {
			d.Add(ch)
		}
		for _, ch := range pub.Matches(c.pol) {
			m.Add(ch)
		}
		f := d.Failures()
		switch {
		case c.failCheck == "" && (len(f) > 0 || m.Verdict() != policy.Accept):
			t.Errorf("%s %v: expected a pass, got\n%s%s", c.pem, c.pol, checks(d), checks(m))
		case c.failCheck != "" && (len(f) == 0 || f[0].Name != c.failCheck || m.Verdict() != policy.Refuse):
			t.Errorf("%s %v: expected %s to fail, got\n%s%s", c.pem, c.pol, c.failCheck, checks(d), checks(m))
		}
	}
	pub, _ := PublisherFromCertificate(summaryOf(t, "no-source-repository-ref-extension.pem"))
	if pub.Repository != "SWIFTSIM/swiftgalaxy" || pub.Workflow != "python-publish.yml" || pub.Ref != "" || pub.Digest != "a26eb006d04dd0c41a6e38dc15ddaf7b46143505" {
		t.Fatalf("%+v", pub)
	}
}

// The lossless conversion: each real .attestation converts to exactly its
// .sigstore bundle, and back.
func TestRoundTrip(t *testing.T) {
	for _, base := range []string{"pypi_attestation_models-0.0.4a2.tar.gz", "rfc8785-0.1.2-py3-none-any.whl"} {
		a, err := ParseAttestation(fixture(t, base+".attestation"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ToBundle(a)
		if err != nil {
			t.Fatal(err)
		}
		want := bundleFromJSON(t, fixture(t, base+".sigstore"))
		// sigstore-python writes "timestampVerificationData": {} when
		// there is none; the attestation has nothing to say about it.
		if len(want.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) == 0 {
			want.VerificationMaterial.TimestampVerificationData = nil
		}
		if !protoEqual(got, want) {
			t.Fatalf("%s: the conversion differs from the .sigstore bundle\n got %s\nwant %s", base, protoJSON(got), protoJSON(want))
		}
		back, err := FromBundle(want)
		if err != nil {
			t.Fatal(err)
		}
		// Compare as JSON values (the entry's member order is free).
		if !sameJSON(t, mustJSON(t, back), fixture(t, base+".attestation")) {
			t.Fatalf("%s: from_bundle differs:\n%s", base, mustJSON(t, back))
		}
	}
	// The with_timestamp form: timestamps go to rfc3161Timestamps, and
	// back.
	a, err := ParseAttestation(fixture(t, pa19+".publish.attestation.with_timestamp"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ToBundle(a)
	if err != nil {
		t.Fatal(err)
	}
	ts := b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()
	if len(ts) != 1 || base64.StdEncoding.EncodeToString(ts[0].GetSignedTimestamp())[:20] != "MIIE7DADAgEAMIIE4wYJ" {
		t.Fatalf("timestamps: %v", ts)
	}
	back, err := FromBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, mustJSON(t, back), fixture(t, pa19+".publish.attestation.with_timestamp")) {
		t.Fatal("with_timestamp does not round-trip")
	}
}
