package main

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify an artifact's Sigstore attestations (build provenance, SBOM, release)",
		ArgsUsage: "[ARTIFACT|sha256:HEX]",
		Description: `Checks that at least one attestation bundle for the artifact is valid
   (certificate chain, transparency log or RFC 3161 timestamp, signature,
   subject digest) and says what the policy requires: built from --repo by
   one of its workflows (or --signer-workflow), from --source-ref and
   --source-digest when given, with the predicate type expected.

   With --tag, checks GitHub's release attestation instead: the artifact is
   part of release TAG of --repo, and (with --source-digest) the release's
   commit. With --cert-identity and --cert-oidc-issuer, checks any Sigstore
   signature by that exact identity.

   Without ARTIFACT, --repo and --tag verify a whole release online: every
   wheel and sdist (or --asset NAME) is downloaded and checked against
   SHA256SUMS, its build provenance (bound to the tag's commit and
   refs/tags/TAG unless --source-digest/--source-ref say otherwise), its SBOM
   and, for an immutable release, GitHub's release attestation.

   Without --bundle, attestations are fetched from GitHub.

   Exit 0 verified, 4 not verified, 2 usage, 3 refused ref, 7 GitHub or
   trusted root unavailable.

   Examples:
     pipguard verify pkg-1.0-py3-none-any.whl --repo o/r --signer-workflow .github/workflows/release.yml --bundle pkg.jsonl
     pipguard verify sha256:ae5793… --repo o/r --predicate-type https://spdx.dev/Document/v2.3 --bundle sbom.jsonl
     pipguard verify gh_2.96.0_checksums.txt --repo cli/cli --tag v2.96.0 --bundle release.jsonl
     pipguard verify --repo Raze-Systems/fastapi-paseto --tag v1.3.1 --signer-workflow .github/workflows/release.yml`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "repo", Usage: "`OWNER/REPO` that must have built (or released) the artifact"},
			&cli.StringFlag{Name: "signer-workflow", Usage: "workflow that must have signed: `PATH` (.github/workflows/release.yml), OWNER/REPO/PATH or a full URI"},
			&cli.StringFlag{Name: "signer-repo", Usage: "`OWNER/REPO` of a reusable signer workflow (default: --repo)"},
			&cli.StringFlag{Name: "source-ref", Usage: "required SourceRepositoryRef, e.g. refs/tags/v1.2.3"},
			&cli.StringFlag{Name: "source-digest", Usage: "required source commit `SHA` (the release's commit with --tag)"},
			&cli.StringFlag{Name: "predicate-type", Usage: "required predicate type `URI` (default https://slsa.dev/provenance/v1)"},
			&cli.BoolFlag{Name: "deny-self-hosted-runners", Usage: "require a GitHub-hosted runner"},
			&cli.StringFlag{Name: "tag", Usage: "verify GitHub's release attestation of release `TAG`"},
			&cli.StringFlag{Name: "cert-identity", Usage: "generic check: exact certificate `SAN`"},
			&cli.StringFlag{Name: "cert-oidc-issuer", Usage: "generic check: exact OIDC issuer `URL`"},
			&cli.StringSliceFlag{Name: "bundle", Usage: "Sigstore bundle `FILE` (JSON or JSONL; repeatable)"},
			&cli.StringSliceFlag{Name: "trusted-root", EnvVars: []string{"PIPGUARD_TRUSTED_ROOT"}, Usage: "Sigstore trusted_root.json `FILE` (repeatable; the variable takes a comma-separated list); default: TUF"},
			&cli.StringFlag{Name: "cache-dir", Usage: "`DIR` for TUF metadata and GitHub's answers and verified assets (default: $PIPGUARD_CACHE_DIR, else pipguard in the user cache dir)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "ask GitHub everything again; read and write no cache (TUF metadata excepted)"},
			&cli.BoolFlag{Name: "offline", Usage: "never use the network: trusted roots from files or the TUF cache"},
			&cli.StringSliceFlag{Name: "asset", Usage: "with --tag and no ARTIFACT: verify only release asset `NAME` (repeatable)"},
			&cli.IntFlag{Name: "max-commit-distance", Usage: "accept a build `N` commits before the tag's commit (projects that tag a version-bump commit)"},
			&cli.BoolFlag{Name: "require-sbom", Usage: "fail when an asset has no SBOM attestation"},
			&cli.BoolFlag{Name: "require-release-attestation", Usage: "fail when GitHub's release attestation is missing, even for a mutable release"},
		}, provenanceFlags()...),
		Action: func(cCtx *cli.Context) error {
			if len(cCtx.StringSlice("provenance")) > 0 {
				return e.verifyProvenance(cCtx)
			}
			p := policyFromFlags(cCtx)
			if cCtx.NArg() == 0 && p.Tag != "" {
				return e.verifyRelease(cCtx, p)
			}
			// The repository's identity rules come from the policy (file
			// and flags, in one place); the flags only say what to verify.
			var rules *policy.Effective
			if p.Mode() == attest.ModeWorkflow && p.Repo != "" {
				pol, err := e.policy(cCtx)
				if err != nil {
					return err
				}
				eff := pol.For(p.Repo)
				rules = &eff
				p = installer.ArtifactPolicy(eff, p)
			}
			if cCtx.NArg() != 1 {
				return usagef("verify takes one ARTIFACT or sha256:HEX (or none, with --repo and --tag), got %d arguments", cCtx.NArg())
			}
			arg := cCtx.Args().First()
			var a *attest.Artifact
			var err error
			if strings.HasPrefix(arg, "sha256:") || strings.HasPrefix(arg, "sha512:") {
				a, err = attest.ArtifactFromDigest(arg)
			} else {
				a, err = attest.ArtifactFromFile(arg)
			}
			if err != nil {
				return usagef("%v", err)
			}
			if cCtx.Bool("offline") && len(cCtx.StringSlice("bundle")) == 0 {
				return usagef("--offline needs --bundle FILE: attestations are fetched from GitHub otherwise")
			}
			var bundles []attest.Bundle
			for _, f := range cCtx.StringSlice("bundle") {
				b, err := attest.LoadBundles(f)
				if err != nil {
					return usagef("--bundle %s: %v", f, err)
				}
				bundles = append(bundles, b...)
			}
			if len(cCtx.StringSlice("bundle")) == 0 {
				if bundles, err = e.fetchBundles(cCtx, p, a); err != nil {
					return err
				}
			}
			trust, err := e.trust(cCtx)
			if err != nil {
				return err
			}
			v, err := attest.NewVerifier(trust, p)
			if err != nil {
				return err
			}
			rep, verr := v.Verify(a, bundles)
			if verr == nil && rules != nil {
				verr = installer.CheckSourceRefs(*rules, rep)
			}
			out := verifyOutput{Schema: "pipguard.verify/v1", Report: rep}
			switch {
			case cCtx.String("format") == "json":
				if err := e.writeJSON(out); err != nil {
					return err
				}
			case !cCtx.Bool("quiet"):
				renderVerify(e.stdout, rep, cCtx.Bool("verbose"))
			}
			return verr
		},
	}
}

// policyFromFlags reads the identity policy flags.
func policyFromFlags(cCtx *cli.Context) attest.Policy {
	return attest.Policy{
		Repo:           cCtx.String("repo"),
		GitHubURL:      cCtx.String("github-url"),
		SignerWorkflow: cCtx.String("signer-workflow"),
		SignerRepo:     cCtx.String("signer-repo"),
		SourceRef:      cCtx.String("source-ref"),
		SourceDigest:   cCtx.String("source-digest"),
		PredicateType:  cCtx.String("predicate-type"),
		DenySelfHosted: cCtx.Bool("deny-self-hosted-runners"),
		Tag:            cCtx.String("tag"),
		CertIdentity:   cCtx.String("cert-identity"),
		CertIssuer:     cCtx.String("cert-oidc-issuer"),
	}
}

// fetchBundles gets the attestations for the artifact from GitHub: by its
// sha256 digest, or for --tag by the tag's commit (where GitHub lists
// release attestations).
func (e *env) fetchBundles(cCtx *cli.Context, p attest.Policy, a *attest.Artifact) ([]attest.Bundle, error) {
	if p.Repo == "" {
		return nil, usagef("without --bundle, --repo OWNER/REPO says where to fetch attestations from")
	}
	cfg := e.config(cCtx)
	if p.Mode() == attest.ModeRelease {
		commit, err := installer.TagCommit(cCtx.Context, cfg, p.Repo, p.Tag)
		if err != nil {
			return nil, err
		}
		return installer.FetchAttestations(cCtx.Context, cfg, p.Repo, "sha1:"+commit, "")
	}
	d, err := a.Digest("sha256")
	if err != nil {
		return nil, usagef("fetching attestations needs the artifact file or its sha256:HEX digest")
	}
	pt := p.PredicateType
	if pt == "" && p.Mode() == attest.ModeWorkflow {
		pt = attest.ProvenanceV1
	}
	return installer.FetchAttestations(cCtx.Context, cfg, p.Repo, "sha256:"+d, pt)
}

// verifyRelease is verify --repo O/R --tag T without an artifact.
func (e *env) verifyRelease(cCtx *cli.Context, p attest.Policy) error {
	if p.Repo == "" {
		return usagef("--tag without an ARTIFACT verifies a release: pass --repo OWNER/REPO")
	}
	if p.Mode() != attest.ModeRelease {
		return usagef("--cert-identity checks one ARTIFACT, not a release")
	}
	if cCtx.Bool("offline") {
		return usagef("verifying a release online cannot be --offline")
	}
	trust, err := e.trust(cCtx)
	if err != nil {
		return err
	}
	dir, cleanup, err := installer.DownloadDir()
	if err != nil {
		return err
	}
	defer cleanup()
	// The repository's policy (file and flags, in one place) decides what
	// the release must show.
	pol, err := e.policy(cCtx)
	if err != nil {
		return err
	}
	ro := installer.ReleaseOptionsFor(pol.For(p.Repo))
	ro.Repo, ro.Tag, ro.Assets, ro.Dir, ro.Trust = p.Repo, p.Tag, cCtx.StringSlice("asset"), dir, trust
	ro.Policy.SourceDigest, ro.Policy.PredicateType = p.SourceDigest, p.PredicateType
	cfg, err := e.releaseConfig(cCtx)
	if err != nil {
		return err
	}
	rep, verr := installer.VerifyRelease(cCtx.Context, cfg, ro)
	if rep == nil {
		return verr
	}
	switch {
	case cCtx.String("format") == "json":
		if err := e.writeJSON(struct {
			Schema string `json:"schema"`
			*installer.ReleaseReport
		}{"pipguard.verify-release/v1", rep}); err != nil {
			return err
		}
	case !cCtx.Bool("quiet"):
		renderRelease(e.stdout, rep, cCtx.Bool("verbose"))
	}
	return verr
}

func renderRelease(w io.Writer, rep *installer.ReleaseReport, verbose bool) {
	state := "mutable"
	if rep.Immutable {
		state = "immutable"
	}
	if rep.Commit != "" {
		fmt.Fprintf(w, "release %s %s -> %s (%s, %s release)\n", rep.Repo, rep.Tag, rep.Commit, rep.TagKind, state)
	} else {
		fmt.Fprintf(w, "release %s %s\n", rep.Repo, rep.Tag)
	}
	line := func(indent string, c policy.Check) {
		if c.Outcome == policy.Pass && !verbose {
			return
		}
		detail := c.Reason
		if detail == "" {
			detail = c.Actual
		}
		fmt.Fprintf(w, "%s%-11s %-20s %s\n", indent, c.Outcome, c.Name, detail)
	}
	if verbose {
		fmt.Fprintf(w, "  %s\n", githubCost(rep))
	}
	for _, c := range rep.Decision.Checks {
		line("  ", c)
	}
	for _, a := range rep.Assets {
		verdict := "verified"
		if !a.Verified {
			verdict = "NOT verified"
		}
		digest := ""
		if a.SHA256 != "" {
			digest = " sha256:" + a.SHA256
		}
		fmt.Fprintf(w, "  %s %s%s\n", verdict, a.Name, digest)
		for _, c := range a.Decision.Checks {
			if c.Outcome == policy.Pass {
				if verbose {
					fmt.Fprintf(w, "    %-11s %-20s %s\n", c.Outcome, c.Name, c.Actual)
				}
				continue
			}
			line("    ", c)
		}
	}
	if rep.Verified {
		fmt.Fprintf(w, "verified %d asset(s) of %s %s\n", len(rep.Assets), rep.Repo, rep.Tag)
	}
}

// trust returns the trusted material from --trusted-root files, or TUF.
// Trusted roots named only by $PIPGUARD_TRUSTED_ROOT replace Sigstore's
// as the command line's do, but whoever can set a variable for a later
// step (a CI step writing $GITHUB_ENV) is not whoever runs pipguard: as
// for $PIPGUARD_GITHUB_URL, pipguard says so on stderr and in the JSON
// document (trusted_roots_from_env).
func (e *env) trust(cCtx *cli.Context) (*attest.Trust, error) {
	if files := cCtx.StringSlice("trusted-root"); len(files) > 0 {
		fromEnv := !flagGiven(e.args, "trusted-root") && e.getenv("PIPGUARD_TRUSTED_ROOT") != ""
		if fromEnv && e.rootsFromEnv == nil {
			e.rootsFromEnv = files
			fmt.Fprintf(e.stderr, "pipguard: warning: trusted roots from $PIPGUARD_TRUSTED_ROOT replace Sigstore's: %s: unset it, or pass --trusted-root, unless this run should trust them\n", strings.Join(files, ", "))
		}
		t, err := attest.TrustFromFiles(files...)
		if err == nil && fromEnv {
			// Receipts of what this run verifies say so.
			t.FromEnvironment()
		}
		return t, err
	}
	dir, _, err := e.cacheDir(cCtx)
	if err != nil {
		return nil, err
	}
	return attest.TrustFromTUF(attest.TUFOptions{CacheDir: dir, Offline: cCtx.Bool("offline"), Context: cCtx.Context}), nil
}

// cacheDir is --cache-dir, else $PIPGUARD_CACHE_DIR, else pipguard in the
// user cache directory; explicit says the user named it.
func (e *env) cacheDir(cCtx *cli.Context) (dir string, explicit bool, err error) {
	if dir = cCtx.String("cache-dir"); dir != "" {
		return dir, true, nil
	}
	if dir = e.getenv("PIPGUARD_CACHE_DIR"); dir != "" {
		return dir, true, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", false, usagef("no user cache directory (%v): pass --cache-dir DIR", err)
	}
	return filepath.Join(base, "pipguard"), false, nil
}

// releaseConfig is config with the cache of GitHub's answers: the one the
// user named (which must be usable), else the default one when it can be
// made (when not, pipguard runs without, and says so with -v).
func (e *env) releaseConfig(cCtx *cli.Context) (installer.Config, error) {
	cfg := e.config(cCtx)
	cfg.Progress = e.progress(cCtx)
	if cCtx.Bool("no-cache") {
		if cCtx.IsSet("cache-dir") {
			return cfg, usagef("--no-cache and --cache-dir cannot be combined")
		}
		return cfg, nil
	}
	dir, explicit, err := e.cacheDir(cCtx)
	var key []byte
	if err == nil {
		key, err = e.cacheKey()
	}
	if err == nil {
		var opts []cache.Option
		if cCtx.Bool("verbose") {
			opts = append(opts, cache.WithNotes(func(s string) { fmt.Fprintf(e.stderr, "pipguard: note: %s\n", s) }))
		}
		cfg.Cache, err = cache.Open(dir, key, opts...)
	}
	if err != nil && explicit {
		return cfg, err
	}
	if err != nil && cCtx.Bool("verbose") {
		fmt.Fprintf(e.stderr, "pipguard: note: running without a cache: %v\n", err)
	}
	return cfg, nil
}

// cacheKey is the key that authenticates the cache's entries, kept out of
// the cache: $PIPGUARD_CACHE_KEY (a secret a CI job or a BuildKit build
// passes in), else a random key made once in the user's configuration
// directory (pipguard/cache-key, 0600).
func (e *env) cacheKey() ([]byte, error) {
	if k := e.getenv("PIPGUARD_CACHE_KEY"); k != "" {
		if len(k) < cache.MinKey {
			return nil, usagef("PIPGUARD_CACHE_KEY is shorter than %d characters: make one with: openssl rand -hex 32", cache.MinKey)
		}
		sum := sha256.Sum256([]byte(k))
		return sum[:], nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return nil, &cache.Error{Dir: "(cache key)", Reason: "has nowhere to live: " + err.Error()}
	}
	dir := filepath.Join(base, "pipguard")
	path := filepath.Join(dir, "cache-key")
	if data, err := os.ReadFile(path); err == nil {
		fi, serr := os.Stat(path)
		if serr != nil || fi.Mode().Perm()&0o077 != 0 || len(data) < cache.MinKey {
			return nil, &cache.Error{Dir: path, Reason: "is readable by others or too short (want 0600, at least 16 bytes)"}
		}
		return data, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &cache.Error{Dir: dir, Reason: err.Error()}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// Written whole under another name, then linked into place: a pipguard
	// running at the same time reads the whole key or makes its own.
	tmp, err := os.CreateTemp(dir, ".cache-key-*")
	if err != nil {
		return nil, &cache.Error{Dir: dir, Reason: err.Error()}
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(key)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		return nil, &cache.Error{Dir: path, Reason: "cannot be written"}
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return e.cacheKey() // another pipguard made it meanwhile
	} else if err != nil {
		return nil, &cache.Error{Dir: path, Reason: err.Error()}
	}
	return key, nil
}

type verifyOutput struct {
	Schema string `json:"schema"`
	*attest.Report
}

func renderVerify(w io.Writer, rep *attest.Report, verbose bool) {
	digest := ""
	if d := rep.Digests["sha256"]; d != "" && !strings.HasPrefix(rep.Artifact, "sha256:") {
		digest = " (sha256:" + d + ")"
	}
	if rep.Verified {
		b := rep.Bundles[rep.Accepted]
		fmt.Fprintf(w, "verified %s%s\n", rep.Artifact, digest)
		fmt.Fprintf(w, "  bundle:                      %s (%s instance)\n", b.Source, b.Deployment)
		fmt.Fprintf(w, "  predicate type:              %s\n", b.PredicateType)
		for _, ts := range b.Timestamps {
			fmt.Fprintf(w, "  signed at:                   %s (%s)\n", ts.Time.Format("2006-01-02T15:04:05Z"), ts.Kind)
		}
		renderIdentity(w, b)
		if verbose {
			renderChecks(w, b.Decision)
		}
		return
	}
	fmt.Fprintf(w, "NOT verified %s%s: %d bundle(s), none satisfies the policy\n", rep.Artifact, digest, len(rep.Bundles))
	for _, b := range rep.Bundles {
		fmt.Fprintf(w, "  bundle %s:\n", b.Source)
		for _, c := range b.Decision.Checks {
			if c.Outcome == policy.Fail || verbose {
				fmt.Fprintf(w, "    %-11s %s", c.Outcome, c.Name)
				if c.Reason != "" {
					fmt.Fprintf(w, ": %s", c.Reason)
				}
				fmt.Fprintln(w)
			}
		}
	}
}

func renderIdentity(w io.Writer, b attest.BundleReport) {
	if r := b.Release; r != nil {
		fmt.Fprintf(w, "  release:                     %s@%s\n", r.Repository, r.Tag)
		fmt.Fprintf(w, "  release commit:              %s\n", r.Commit)
	}
	id := b.Identity
	if id == nil {
		return
	}
	for _, f := range []struct{ k, v string }{
		{"SAN", id.SAN},
		{"OIDC issuer", id.Issuer},
		{"SourceRepositoryURI", id.SourceRepositoryURI},
		{"SourceRepositoryIdentifier", id.SourceRepositoryIdentifier},
		{"SourceRepositoryRef", id.SourceRepositoryRef},
		{"SourceRepositoryDigest", id.SourceRepositoryDigest},
		{"BuildSignerURI", id.BuildSignerURI},
		{"BuildSignerDigest", id.BuildSignerDigest},
		{"RunnerEnvironment", id.RunnerEnvironment},
		{"BuildTrigger", id.BuildTrigger},
		{"RunInvocationURI", id.RunInvocationURI},
	} {
		if f.v != "" {
			fmt.Fprintf(w, "  %-28s %s\n", f.k+":", f.v)
		}
	}
}

func renderChecks(w io.Writer, d policy.Decision) {
	fmt.Fprintln(w, "  checks:")
	for _, c := range d.Checks {
		detail := c.Actual
		if c.Reason != "" && detail == "" {
			detail = c.Reason
		}
		fmt.Fprintf(w, "    %-11s %-26s %s\n", c.Outcome, c.Name, detail)
	}
}
