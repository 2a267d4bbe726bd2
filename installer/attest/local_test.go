package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// A local Sigstore (package sigstoretest) makes the bundles no real
// repository would give us: every way an attestation can be wrong.

type local struct {
	pg, gh *sigstoretest.Instance
	trust  *Trust
	digest string
}

func newLocal(t testing.TB) *local {
	t.Helper()
	pg, err := sigstoretest.NewPublicGood()
	if err != nil {
		t.Fatal(err)
	}
	gh, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	pgRoot, err := pg.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	ghRoot, err := gh.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("pretend this is pkg-1.0.0-py3-none-any.whl"))
	return &local{pg: pg, gh: gh, digest: hex.EncodeToString(sum[:]),
		trust: NewTrust(map[Deployment]root.TrustedMaterial{PublicGood: pgRoot, GitHub: ghRoot})}
}

const (
	repo   = "acme/pkg"
	commit = "0123456789abcdef0123456789abcdef01234567"
)

func provenance(digest string) sigstoretest.Statement {
	return sigstoretest.Statement{
		PredicateType: ProvenanceV1,
		Subjects:      []sigstoretest.Subject{{Name: "pkg-1.0.0-py3-none-any.whl", Digest: map[string]string{"sha256": digest}}},
		Predicate:     map[string]any{"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1"}},
	}
}

func releaseID() sigstoretest.Identity {
	return sigstoretest.GitHubActions(repo, ".github/workflows/release.yml", "refs/tags/v1.0.0", commit)
}

func attest(t testing.TB, in *sigstoretest.Instance, id sigstoretest.Identity, st sigstoretest.Statement, opts ...sigstoretest.Option) []Bundle {
	t.Helper()
	data, err := in.Attest(id, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	b := ParseBundles("test.jsonl", data)
	if b[0].Err != nil {
		t.Fatalf("test bundle does not load: %v", b[0].Err)
	}
	return b
}

var strictPolicy = Policy{Repo: repo, SignerWorkflow: ".github/workflows/release.yml", SourceRef: "refs/tags/v1.0.0",
	SourceDigest: commit, DenySelfHosted: true, RepoID: "123456"}

func TestLocalBundlesVerify(t *testing.T) {
	l := newLocal(t)
	for _, in := range []*sigstoretest.Instance{l.pg, l.gh} {
		rep, err := run(t, l.trust, strictPolicy, digestArtifact(t, "sha256:"+l.digest), attest(t, in, releaseID(), provenance(l.digest)))
		if err != nil {
			t.Fatalf("%s: %v", in.Kind, err)
		}
		if got := rep.Bundles[0].Deployment; string(got) != string(in.Kind) {
			t.Errorf("deployment %s, want %s", got, in.Kind)
		}
		for _, c := range rep.Bundles[0].Decision.Checks {
			if c.Outcome != "pass" {
				t.Errorf("%s: check %+v", in.Kind, c)
			}
		}
	}
}

func TestLocalRefusals(t *testing.T) {
	l := newLocal(t)
	other, err := sigstoretest.NewGitHub() // an instance nobody trusts
	if err != nil {
		t.Fatal(err)
	}
	withID := func(f func(*sigstoretest.Identity)) sigstoretest.Identity {
		id := releaseID()
		f(&id)
		return id
	}
	fork := sigstoretest.GitHubActions("mallory/pkg", ".github/workflows/release.yml", "refs/tags/v1.0.0", commit)
	cases := []struct {
		name   string
		in     *sigstoretest.Instance
		id     sigstoretest.Identity
		st     sigstoretest.Statement
		opts   []sigstoretest.Option
		check  string
		reason string
	}{
		{name: "fork", in: l.pg, id: fork, check: "source-repository",
			reason: `expected SourceRepositoryURI "https://github.com/acme/pkg", got "https://github.com/mallory/pkg"`},
		{name: "wrong signer workflow", in: l.gh, id: withID(func(i *sigstoretest.Identity) {
			i.BuildSignerURI = "https://github.com/acme/pkg/.github/workflows/ci.yml@refs/tags/v1.0.0"
			i.SAN = i.BuildSignerURI
		}), check: "signer-workflow", reason: `expected BuildSignerURI "https://github.com/acme/pkg/.github/workflows/release.yml@*"`},
		{name: "self-hosted runner", in: l.pg, id: withID(func(i *sigstoretest.Identity) { i.RunnerEnvironment = "self-hosted" }),
			check: "runner-environment", reason: `expected RunnerEnvironment "github-hosted", got "self-hosted"`},
		{name: "wrong source ref", in: l.gh, id: withID(func(i *sigstoretest.Identity) { i.SourceRepositoryRef = "refs/heads/main" }),
			check: "source-ref", reason: `expected SourceRepositoryRef "refs/tags/v1.0.0", got "refs/heads/main"`},
		{name: "wrong source digest", in: l.gh, id: withID(func(i *sigstoretest.Identity) { i.SourceRepositoryDigest = strings.Repeat("f", 40) }),
			check: "source-digest", reason: "expected SourceRepositoryDigest"},
		{name: "re-created repository", in: l.pg, id: withID(func(i *sigstoretest.Identity) { i.SourceRepositoryIdentifier = "999" }),
			check: "source-repository-id", reason: `expected SourceRepositoryIdentifier "123456", got "999"`},
		{name: "look-alike issuer", in: l.pg, id: withID(func(i *sigstoretest.Identity) {
			i.Extensions.Issuer = "https://token.actions.githubusercontent.com.evil.example"
		}), check: "issuer", reason: `expected OIDC issuer "https://token.actions.githubusercontent.com", got "https://token.actions.githubusercontent.com.evil.example"`},
		{name: "wrong predicate", in: l.gh, st: sigstoretest.Statement{PredicateType: SPDXv23, Subjects: provenance(l.digest).Subjects},
			check: "predicate-type", reason: `expected predicate type "https://slsa.dev/provenance/v1", got "https://spdx.dev/Document/v2.3"`},
		{name: "digest not in subjects", in: l.pg, st: provenance(strings.Repeat("0", 64)), check: "subject-digest", reason: "is not a subject of the attestation"},
		{name: "certificate outside validity", in: l.gh, id: withID(func(i *sigstoretest.Identity) { i.NotBefore = time.Now().Add(-time.Hour) }),
			check: "certificate-chain", reason: "failed to verify leaf certificate"},
		{name: "untrusted TSA", in: l.gh, opts: []sigstoretest.Option{sigstoretest.TimestampedBy(other)}, check: "timestamps"},
		{name: "public-good chain with only a TSA timestamp", in: l.pg,
			opts: []sigstoretest.Option{sigstoretest.WithTlog(false), sigstoretest.WithTimestamp(true)}, check: "transparency-log"},
		{name: "public-good chain without SCT", in: l.pg, opts: []sigstoretest.Option{sigstoretest.WithoutSCT()}, check: "certificate-transparency"},
		{name: "GitHub chain with a log entry but no TSA", in: l.gh,
			opts: []sigstoretest.Option{sigstoretest.WithTimestamp(false), sigstoretest.WithTlog(true)}, check: "timestamps"},
		{name: "untrusted CA", in: other, opts: []sigstoretest.Option{sigstoretest.TimestampedBy(l.gh)}, check: "certificate-chain",
			reason: "leaf certificate verification failed"},
		{name: "untrusted instance", in: other, check: "timestamps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, st := c.id, c.st
			if id.SAN == "" {
				id = releaseID()
			}
			if st.PredicateType == "" {
				st = provenance(l.digest)
			}
			rep, err := run(t, l.trust, strictPolicy, digestArtifact(t, "sha256:"+l.digest), attest(t, c.in, id, st, c.opts...))
			f := failed(t, rep, err)
			if f.Name != c.check || !strings.Contains(f.Reason, c.reason) {
				t.Errorf("failed check %s: %s\nwant %s: %s", f.Name, f.Reason, c.check, c.reason)
			}
			if !strings.Contains(err.Error(), f.Reason) {
				t.Errorf("error %q does not carry the reason", err)
			}
		})
	}
}

func TestSeveralBundlesOnlyOneMatches(t *testing.T) {
	l := newLocal(t)
	fork := sigstoretest.GitHubActions("mallory/pkg", ".github/workflows/release.yml", "refs/tags/v1.0.0", commit)
	var bundles []Bundle
	bundles = append(bundles, attest(t, l.pg, fork, provenance(l.digest))...)
	bundles = append(bundles, attest(t, l.gh, releaseID(), sigstoretest.Statement{PredicateType: SPDXv23, Subjects: provenance(l.digest).Subjects})...)
	bundles = append(bundles, attest(t, l.gh, releaseID(), provenance(l.digest))...)
	rep, err := run(t, l.trust, strictPolicy, digestArtifact(t, "sha256:"+l.digest), bundles)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 2 {
		t.Fatalf("accepted bundle %d, want 2", rep.Accepted)
	}
	for i, want := range []string{"source-repository", "predicate-type"} {
		if f := rep.Bundles[i].Decision.Failures(); len(f) == 0 || f[0].Name != want {
			t.Errorf("bundle %d failures %+v, want %s", i, f, want)
		}
	}
}

func TestReleaseAttestationFromLocalGitHub(t *testing.T) {
	l := newLocal(t)
	id := sigstoretest.Identity{SAN: "https://dotcom.releases.github.com"}
	st := sigstoretest.Statement{
		PredicateType: ReleaseV02,
		Subjects: []sigstoretest.Subject{
			{URI: "pkg:github/acme/pkg@v1.0.0", Digest: map[string]string{"sha1": commit}},
			{Name: "pkg-1.0.0-py3-none-any.whl", Digest: map[string]string{"sha256": l.digest}},
		},
		Predicate: map[string]any{"repository": repo, "tag": "v1.0.0", "repositoryId": "123456"},
	}
	p := Policy{Repo: repo, Tag: "v1.0.0", SourceDigest: commit}
	rep, err := run(t, l.trust, p, digestArtifact(t, "sha256:"+l.digest), attest(t, l.gh, id, st))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bundles[0].Release.Commit != commit {
		t.Errorf("release %+v", rep.Bundles[0].Release)
	}
	// A workflow certificate cannot pass as GitHub's release signer.
	rep, err = run(t, l.trust, p, digestArtifact(t, "sha256:"+l.digest), attest(t, l.gh, releaseID(), st))
	if f := failed(t, rep, err); f.Name != "release-signer" {
		t.Errorf("failed check %+v", f)
	}
}

// BenchmarkVerifyBundle measures verifying one bundle once trusted material
// is loaded, for each deployment's profile.
func BenchmarkVerifyBundle(b *testing.B) {
	l := newLocal(b)
	for _, in := range []*sigstoretest.Instance{l.pg, l.gh} {
		bundles := attest(b, in, releaseID(), provenance(l.digest))
		a, _ := ArtifactFromDigest("sha256:" + l.digest)
		v, err := NewVerifier(l.trust, strictPolicy)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(in.Kind), func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(a, bundles); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The local instances' trusted roots work the same after a round trip
// through trusted_root.json, as --trusted-root files.
func TestLocalRootsRoundTripJSON(t *testing.T) {
	l := newLocal(t)
	for _, in := range []*sigstoretest.Instance{l.pg, l.gh} {
		js, err := in.TrustedRootJSON()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "root.json")
		os.WriteFile(path, js, 0o644)
		trust, err := TrustFromFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := run(t, trust, strictPolicy, digestArtifact(t, "sha256:"+l.digest), attest(t, in, releaseID(), provenance(l.digest))); err != nil {
			t.Errorf("%s: %v", in.Kind, err)
		}
	}
}
