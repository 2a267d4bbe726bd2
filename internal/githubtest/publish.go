package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/internal/gittest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// Predicate types the publisher attests with.
const (
	provenanceV1 = "https://slsa.dev/provenance/v1"
	spdxV23      = "https://spdx.dev/Document/v2.3"
	releaseV02   = "https://in-toto.io/attestation/release/v0.2"
)

// Publish describes a release to publish.
type Publish struct {
	// Project is what is built; its version is the tag without a leading v.
	Project pkgtest.Project
	// Tag is the git tag (created on the repository's HEAD if missing).
	Tag string
	// Signer signs the workflow attestations (provenance, SBOM).
	Signer *sigstoretest.Instance
	// GitHubSigner signs the release attestation when Immutable; defaults to
	// Signer.
	GitHubSigner *sigstoretest.Instance
	// Immutable marks the release immutable and adds GitHub's release
	// attestation.
	Immutable bool
	// Workflow is the signing workflow's path; default
	// .github/workflows/release.yml.
	Workflow string
	// SourceRef and SourceCommit are what the provenance certificate says;
	// default refs/tags/TAG and the tag's commit.
	SourceRef, SourceCommit string
	// SignerRepo is OWNER/REPO whose workflow signs; default the repository.
	SignerRepo string
	// Runner is the provenance's runner environment; default github-hosted.
	Runner string
	// Identity, when set, replaces the workflow identity entirely.
	Identity *sigstoretest.Identity
	// SignOptions are passed to the workflow attestations' signer (a
	// timestamp from another TSA, no transparency log entry, ...).
	SignOptions []sigstoretest.Option
	// ReleaseCommit is the commit the release attestation names; default
	// the tag's commit.
	ReleaseCommit string
	// ReleaseAttestationByCommit lists the release attestation under the
	// tag's commit only, not under each asset's digest.
	ReleaseAttestationByCommit bool
	// SkipSums, SkipSBOM, SkipProvenance leave those out.
	SkipSums, SkipSBOM, SkipProvenance bool
	// Wheel, when set, replaces the built wheel's bytes (a wrong upload).
	Wheel []byte
	// WheelName, when set, replaces the wheel's file name.
	WheelName string
	// Draft publishes a draft release.
	Draft bool
	// BumpCommit builds on main and tags a version-bump child commit, as
	// semantic-release does: the provenance says refs/heads/main and the
	// build commit, one commit before the tag.
	BumpCommit bool
}

// Published is what Publish made.
type Published struct {
	Release *Release
	Commit  string
	Wheel   *Asset
	Sdist   *Asset
	Sums    *Asset
}

// Publish writes the project's source into the repository, commits and
// tags it (unless the tag exists), builds the wheel and sdist, and
// publishes them with SHA256SUMS, SPDX SBOMs and attestations.
func (s *Server) Publish(r *Repo, p Publish) *Published {
	s.t.Helper()
	if p.Tag == "" {
		p.Tag = "v" + p.Project.Version
	}
	if err := p.Project.WriteSource(r.Git.Dir); err != nil {
		s.t.Fatalf("%v", err)
	}
	r.Git.Git("add", "-A")
	if r.Git.Git("status", "--porcelain") != "" {
		r.Git.Git("commit", "-q", "-m", "release "+p.Tag)
	}
	if p.BumpCommit {
		build := r.Git.Head()
		r.Git.Git("commit", "-q", "--allow-empty", "-m", "chore(release): "+p.Tag)
		if p.SourceCommit == "" {
			p.SourceCommit = build
		}
		if p.SourceRef == "" {
			p.SourceRef = "refs/heads/main"
		}
	}
	if out, _ := gitOK(r, "rev-parse", "-q", "--verify", "refs/tags/"+p.Tag); out == "" {
		r.Git.Git("tag", "-a", "-m", "release "+p.Tag, p.Tag)
	}
	commit := r.Git.Git("rev-parse", p.Tag+"^{commit}")

	wheelName, wheel := p.Project.WheelName(), p.Project.Wheel()
	if p.Wheel != nil {
		wheel = p.Wheel
	}
	if p.WheelName != "" {
		wheelName = p.WheelName
	}
	out := &Published{Commit: commit}
	out.Wheel = &Asset{Name: wheelName, Data: wheel, ContentType: "application/zip"}
	out.Sdist = &Asset{Name: p.Project.SdistName(), Data: p.Project.Sdist(), ContentType: "application/gzip"}
	assets := []*Asset{out.Wheel, out.Sdist}
	if !p.SkipSBOM {
		for _, a := range []*Asset{out.Wheel, out.Sdist} {
			assets = append(assets, &Asset{Name: a.Name + ".spdx.json", Data: pkgtest.SPDX(a.Name, hexOf(a.Data)), ContentType: "application/json"})
		}
	}
	if !p.SkipSums {
		var lines []string
		for _, a := range assets {
			lines = append(lines, hexOf(a.Data)+"  "+a.Name)
		}
		sort.Strings(lines)
		out.Sums = &Asset{Name: "SHA256SUMS", Data: []byte(strings.Join(lines, "\n") + "\n"), ContentType: "text/plain"}
		assets = append(assets, out.Sums)
	}
	out.Release = s.AddRelease(r, &Release{Tag: p.Tag, Immutable: p.Immutable, Draft: p.Draft, Assets: assets})

	id := s.identity(r, p, commit)
	for _, a := range []*Asset{out.Wheel, out.Sdist} {
		subject := []sigstoretest.Subject{{Name: a.Name, Digest: map[string]string{"sha256": hexOf(a.Data)}}}
		if !p.SkipProvenance {
			s.provenance(r, p, id, a)
		}
		if !p.SkipSBOM {
			s.attest(r, p.Signer, id, sigstoretest.Statement{PredicateType: spdxV23, Subjects: subject,
				Predicate: map[string]any{"spdxVersion": "SPDX-2.3", "name": a.Name}}, "user", p.SignOptions, a.Digest())
		}
	}
	if p.Immutable {
		gs := p.GitHubSigner
		if gs == nil {
			gs = p.Signer
		}
		named := commit
		if p.ReleaseCommit != "" {
			named = p.ReleaseCommit
		}
		subjects := []sigstoretest.Subject{{URI: fmt.Sprintf("pkg:github/%s@%s", strings.ToLower(r.FullName()), p.Tag), Digest: map[string]string{"sha1": named}}}
		var digests []string
		for _, a := range assets {
			subjects = append(subjects, sigstoretest.Subject{Name: a.Name, Digest: map[string]string{"sha256": hexOf(a.Data)}})
			digests = append(digests, a.Digest())
		}
		st := sigstoretest.Statement{PredicateType: releaseV02, Subjects: subjects, Predicate: map[string]any{
			"repository": r.FullName(), "repositoryId": fmt.Sprint(r.ID), "tag": p.Tag,
			"purl": fmt.Sprintf("pkg:github/%s@%s", strings.ToLower(r.FullName()), p.Tag),
		}}
		if p.ReleaseAttestationByCommit {
			digests = nil
		}
		s.attest(r, gs, sigstoretest.Identity{SAN: "https://dotcom.releases.github.com"}, st, "github", nil, append(digests, "sha1:"+commit)...)
	}
	return out
}

// AttestProvenance adds the build provenance for a that Publish makes
// unless SkipProvenance: a release its maintainers attest late. p and
// commit are what Publish was given and made.
func (s *Server) AttestProvenance(r *Repo, p Publish, commit string, a *Asset) {
	s.t.Helper()
	if p.Tag == "" {
		p.Tag = "v" + p.Project.Version
	}
	s.provenance(r, p, s.identity(r, p, commit), a)
}

func (s *Server) provenance(r *Repo, p Publish, id sigstoretest.Identity, a *Asset) {
	subject := []sigstoretest.Subject{{Name: a.Name, Digest: map[string]string{"sha256": hexOf(a.Data)}}}
	s.attest(r, p.Signer, id, sigstoretest.Statement{PredicateType: provenanceV1, Subjects: subject,
		Predicate: map[string]any{"buildDefinition": map[string]any{"buildType": "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"ref": id.SourceRepositoryRef, "repository": "https://github.com/" + r.FullName()}}}}},
		"user", p.SignOptions, a.Digest())
}

func (s *Server) identity(r *Repo, p Publish, commit string) sigstoretest.Identity {
	if p.Identity != nil {
		return *p.Identity
	}
	wf := p.Workflow
	if wf == "" {
		wf = ".github/workflows/release.yml"
	}
	ref, sha := p.SourceRef, p.SourceCommit
	if ref == "" {
		ref = "refs/tags/" + p.Tag
	}
	if sha == "" {
		sha = commit
	}
	signer := r.FullName()
	if p.SignerRepo != "" {
		signer = p.SignerRepo
	}
	id := sigstoretest.GitHubActions(signer, wf, ref, sha)
	id.SourceRepositoryURI = "https://" + s.Host() + "/" + r.FullName()
	id.SourceRepositoryIdentifier = fmt.Sprint(r.ID)
	id.BuildSignerURI = "https://" + s.Host() + "/" + signer + "/" + wf + "@" + ref
	id.SAN = id.BuildSignerURI
	if p.Runner != "" {
		id.RunnerEnvironment = p.Runner
	}
	return id
}

func (s *Server) attest(r *Repo, in *sigstoretest.Instance, id sigstoretest.Identity, st sigstoretest.Statement, initiator string, opts []sigstoretest.Option, digests ...string) {
	s.t.Helper()
	b, err := in.Attest(id, st, opts...)
	if err != nil {
		s.t.Fatalf("attest: %v", err)
	}
	s.AddAttestation(r, &Attestation{Digests: digests, PredicateType: st.PredicateType, Bundle: b, Initiator: initiator})
}

func hexOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gitOK(r *Repo, args ...string) (string, error) {
	return gittestRun(r.Git.Dir, args...)
}

var gittestRun = gittest.Run
