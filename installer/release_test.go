package installer

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/policy"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// world is a local GitHub with one repository, signed by a local GitHub
// Sigstore instance whose root is trusted.
type world struct {
	gh     *githubtest.Server
	repo   *githubtest.Repo
	signer *sigstoretest.Instance
	trust  *attest.Trust
	cfg    Config
}

func newWorld(t testing.TB) *world {
	t.Helper()
	signer, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := signer.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.New(t)
	return &world{
		gh: gh, repo: gh.AddRepo("acme", "demo"), signer: signer,
		trust: attest.NewTrust(map[attest.Deployment]root.TrustedMaterial{attest.GitHub: tr}),
		cfg:   Config{GitHubURL: gh.URL(), HTTPClient: gh.Client()},
	}
}

func (w *world) publish(t testing.TB, p githubtest.Publish) *githubtest.Published {
	t.Helper()
	if p.Project.Name == "" {
		p.Project = pkgtest.Project{Name: "demo", Version: "1.0.0"}
	}
	if p.Signer == nil {
		p.Signer = w.signer
	}
	return w.gh.Publish(w.repo, p)
}

func (w *world) verify(t *testing.T, tag string, assets ...string) (*ReleaseReport, error) {
	t.Helper()
	dir, cleanup, err := DownloadDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return VerifyRelease(context.Background(), w.cfg, ReleaseOptions{Repo: "acme/demo", Tag: tag, Assets: assets, Dir: dir, Trust: w.trust})
}

func check(t *testing.T, d policy.Decision, name string) policy.Check {
	t.Helper()
	for _, c := range d.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, d.Checks)
	return policy.Check{}
}

func TestVerifyImmutableRelease(t *testing.T) {
	w := newWorld(t)
	pub := w.publish(t, githubtest.Publish{Immutable: true})
	rep, err := w.verify(t, "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Commit != pub.Commit || rep.TagKind != "annotated tag" || len(rep.Assets) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, a := range rep.Assets {
		for _, name := range []string{"download", "sha256sums", "provenance", "sbom", "release-attestation"} {
			if c := check(t, a.Decision, name); c.Outcome != policy.Pass {
				t.Errorf("%s: %s = %+v", a.Name, name, c)
			}
		}
		data, err := os.ReadFile(a.Path)
		if err != nil || len(data) != int(a.Size) {
			t.Errorf("%s: verified bytes not on disk: %v", a.Name, err)
		}
	}
	if rel := rep.Asset(pub.Wheel.Name).ReleaseAttestation; rel == nil || rel.Bundles[rel.Accepted].Release.Commit != pub.Commit {
		t.Errorf("release attestation %+v", rel)
	}
}

func TestVerifyMutableReleaseWarns(t *testing.T) {
	w := newWorld(t)
	w.publish(t, githubtest.Publish{})
	rep, err := w.verify(t, "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, rep.Decision, "release-immutable"); c.Outcome != policy.Warn {
		t.Errorf("%+v", c)
	}
	if c := check(t, rep.Assets[0].Decision, "release-attestation"); c.Outcome != policy.NotChecked {
		t.Errorf("%+v", c)
	}
}

func TestVerifyReleaseRefusals(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(*testing.T, *world)
		tag    string
		assets []string
		reason string
	}{
		{name: "draft", setup: func(t *testing.T, w *world) {
			w.gh.Token = "t"
			w.cfg.Token = "t"
			w.publish(t, githubtest.Publish{Draft: true})
		}, reason: "the release is a draft"},
		{name: "release missing", setup: func(t *testing.T, w *world) { w.repo.Git.Tag("v1.0.0") }, reason: "no published release for tag v1.0.0"},
		{name: "asset missing", setup: func(t *testing.T, w *world) { w.publish(t, githubtest.Publish{}) },
			assets: []string{"demo-1.0.0-cp311-cp311-linux_x86_64.whl"}, reason: "the release has no asset demo-1.0.0-cp311-cp311-linux_x86_64.whl"},
		{name: "SHA256SUMS mismatch", setup: func(t *testing.T, w *world) {
			p := w.publish(t, githubtest.Publish{})
			p.Sums.Data = []byte(strings.Repeat("0", 64) + "  " + p.Wheel.Name + "\n")
		}, reason: "SHA256SUMS lists demo-1.0.0-py3-none-any.whl as sha256:0000"},
		{name: "malformed SHA256SUMS", setup: func(t *testing.T, w *world) {
			p := w.publish(t, githubtest.Publish{})
			p.Sums.Data = []byte("not a checksum file\n")
		}, reason: "SHA256SUMS is malformed: line 1"},
		{name: "provenance missing", setup: func(t *testing.T, w *world) { w.publish(t, githubtest.Publish{SkipProvenance: true}) },
			reason: "no provenance attestation published for demo-1.0.0-py3-none-any.whl"},
		{name: "built from another commit", setup: func(t *testing.T, w *world) {
			w.publish(t, githubtest.Publish{SourceCommit: strings.Repeat("f", 40)})
		}, reason: "is unrelated to the tag's commit"},
		{name: "built from main", setup: func(t *testing.T, w *world) {
			w.publish(t, githubtest.Publish{SourceRef: "refs/heads/main"})
		}, reason: `expected SourceRepositoryRef "refs/tags/v1.0.0", got "refs/heads/main"`},
		{name: "wrong wheel uploaded", setup: func(t *testing.T, w *world) {
			p := w.publish(t, githubtest.Publish{})
			p.Wheel.Data = pkgtest.Project{Name: "evil", Version: "1.0.0"}.Wheel()
		}, reason: "no provenance attestation published for demo-1.0.0-py3-none-any.whl"},
		{name: "immutable release without release attestation", setup: func(t *testing.T, w *world) {
			p := w.publish(t, githubtest.Publish{})
			p.Release.Immutable = true
		}, reason: "no release-attestation attestation published"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			c.setup(t, w)
			tag := c.tag
			if tag == "" {
				tag = "v1.0.0"
			}
			_, err := w.verify(t, tag, c.assets...)
			var re *ReleaseError
			if !errors.As(err, &re) || !strings.Contains(re.Error(), c.reason) {
				t.Fatalf("err = %v\nwant a *ReleaseError with %q", err, c.reason)
			}
		})
	}
}

func TestVerifyReleaseRefusesTagThatIsABranch(t *testing.T) {
	w := newWorld(t)
	w.publish(t, githubtest.Publish{})
	w.repo.Git.Branch("v1.0.0")
	_, err := w.verify(t, "v1.0.0")
	var re *gitref.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
}

// A project that builds on main and tags a version-bump child commit (the
// seed project, semantic-release) is refused by default, each refusal
// naming the setting that would accept it, and accepted with both.
func TestBuildOneCommitBeforeTheTag(t *testing.T) {
	w := newWorld(t)
	w.publish(t, githubtest.Publish{BumpCommit: true})
	verify := func(ref string, distance int) error {
		dir, cleanup, err := DownloadDir()
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		_, err = VerifyRelease(context.Background(), w.cfg, ReleaseOptions{Repo: "acme/demo", Tag: "v1.0.0", Dir: dir, Trust: w.trust,
			Policy: attest.Policy{SourceRef: ref}, MaxCommitDistance: distance})
		return err
	}
	var re *ReleaseError
	if err := verify("", 0); !errors.As(err, &re) || !strings.Contains(re.Hint(), "(or --source-ref refs/heads/main) would accept it") {
		t.Fatalf("default: %v (hint %q)", err, re.Hint())
	}
	if err := verify("refs/heads/main", 0); !errors.As(err, &re) || !strings.Contains(re.Error(), "is 1 commit(s) before the tag's commit") || re.Hint() != "max_commit_distance = 1 in the repository's policy table (or --max-commit-distance 1) would accept it (the project tags a commit after the one it builds)" {
		t.Fatalf("distance 0: %v (hint %q)", err, re.Hint())
	}
	if err := verify("refs/heads/main", 1); err != nil {
		t.Fatal(err)
	}

	// A build from a commit that is not in the tag's history: refused
	// whatever the distance.
	base := w.repo.Git.Head()
	w.repo.Git.Git("checkout", "-q", "-b", "side", base+"~2")
	side := w.repo.Git.Commit("unreviewed")
	w.repo.Git.Git("checkout", "-q", "main")
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "2.0.0"}, SourceCommit: side, SourceRef: "refs/heads/main"})
	dir, cleanup, _ := DownloadDir()
	defer cleanup()
	_, err := VerifyRelease(context.Background(), w.cfg, ReleaseOptions{Repo: "acme/demo", Tag: "v2.0.0", Dir: dir, Trust: w.trust,
		Policy: attest.Policy{SourceRef: "refs/heads/main"}, MaxCommitDistance: 100})
	if !errors.As(err, &re) || !strings.Contains(re.Error(), "is not an ancestor of the tag's commit") {
		t.Fatalf("side branch: %v", err)
	}
}
