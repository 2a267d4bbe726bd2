package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify an artifact's Sigstore attestations (build provenance, SBOM, release)",
		ArgsUsage: "ARTIFACT|sha256:HEX",
		Description: `Checks that at least one attestation bundle for the artifact is valid
   (certificate chain, transparency log or RFC 3161 timestamp, signature,
   subject digest) and says what the policy requires: built from --repo by
   one of its workflows (or --signer-workflow), from --source-ref and
   --source-digest when given, with the predicate type expected.

   With --tag, checks GitHub's release attestation instead: the artifact is
   part of release TAG of --repo, and (with --source-digest) the release's
   commit. With --cert-identity and --cert-oidc-issuer, checks any Sigstore
   signature by that exact identity.

   Exit 0 verified, 4 not verified, 2 usage, 7 trusted root unavailable.

   Examples:
     pipguard verify pkg-1.0-py3-none-any.whl --repo o/r --signer-workflow .github/workflows/release.yml --bundle pkg.jsonl
     pipguard verify sha256:ae5793… --repo o/r --predicate-type https://spdx.dev/Document/v2.3 --bundle sbom.jsonl
     pipguard verify gh_2.96.0_checksums.txt --repo cli/cli --tag v2.96.0 --bundle release.jsonl`,
		Flags: []cli.Flag{
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
			&cli.StringSliceFlag{Name: "trusted-root", Usage: "Sigstore trusted_root.json `FILE` (repeatable); default: TUF"},
			&cli.StringFlag{Name: "cache-dir", Usage: "`DIR` for the TUF cache (default: the user cache dir)"},
			&cli.BoolFlag{Name: "offline", Usage: "never use the network: trusted roots from files or the TUF cache"},
		},
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() != 1 {
				return usagef("verify takes one ARTIFACT or sha256:HEX, got %d arguments", cCtx.NArg())
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
			p := attest.Policy{
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
			files := cCtx.StringSlice("bundle")
			if len(files) == 0 {
				return usagef("no --bundle given: fetching attestations from GitHub is not built yet; download them with gh attestation download and pass --bundle FILE")
			}
			var bundles []attest.Bundle
			for _, f := range files {
				b, err := attest.LoadBundles(f)
				if err != nil {
					return usagef("--bundle %s: %v", f, err)
				}
				bundles = append(bundles, b...)
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
			out := verifyOutput{Schema: "pipguard.verify/v1", Report: rep}
			switch {
			case cCtx.String("format") == "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			case !cCtx.Bool("quiet"):
				renderVerify(e.stdout, rep, cCtx.Bool("verbose"))
			}
			return verr
		},
	}
}

// trust returns the trusted material from --trusted-root files, or TUF.
func (e *env) trust(cCtx *cli.Context) (*attest.Trust, error) {
	if files := cCtx.StringSlice("trusted-root"); len(files) > 0 {
		return attest.TrustFromFiles(files...)
	}
	dir := cCtx.String("cache-dir")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, usagef("no user cache directory (%v): pass --cache-dir DIR", err)
		}
		dir = filepath.Join(base, "pipguard")
	}
	return attest.TrustFromTUF(attest.TUFOptions{CacheDir: dir, Offline: cCtx.Bool("offline"), Context: cCtx.Context}), nil
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
