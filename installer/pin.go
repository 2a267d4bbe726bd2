package installer

import (
	"context"
	"fmt"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/policy"
)

// pinOne handles a requirement whose repository's policy says verify =
// "pin": its ref is resolved and refused if mutable exactly as for a
// verified one, and pip installs the repository at the resolved full commit
// (with --no-cache-dir); the audit checks commit_id. Nothing vouches for
// the code at that commit: every report says "pinned, not verified".
func pinOne(ctx context.Context, cfg Config, g *Guarded) error {
	res, err := resolveVCS(ctx, cfg, g.req.VCS)
	g.Resolution = res
	if err != nil {
		return fmt.Errorf("%s: %w", g.Source, err)
	}
	g.Pinned, g.from = true, FromGit
	g.Tag = res.Requested
	g.PipRequirement = pipRequirement(g, nil, FromGit, res.Commit)
	return nil
}

// ReleaseOptionsFor turns one repository's effective policy into what
// VerifyRelease checks, each requirement carrying the rule that set it.
func ReleaseOptionsFor(eff policy.Effective) ReleaseOptions {
	p := attest.Policy{SignerWorkflow: eff.SignerWorkflow.V, SignerRepo: eff.SignerRepo.V, DenySelfHosted: eff.Runner.V == "github-hosted"}
	return ReleaseOptions{
		Policy:                    p,
		SourceRefs:                eff.SourceRefs.V,
		MaxCommitDistance:         eff.MaxCommitDistance.V,
		RequireSBOM:               eff.Requires(policy.RequireSBOM),
		RequireReleaseAttestation: eff.Requires(policy.RequireRelease),
		RequireChecksums:          eff.Requires(policy.RequireChecksums),
		Rules:                     &eff,
	}
}
