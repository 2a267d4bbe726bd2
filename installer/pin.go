package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/pep610"
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

// checkPinsDidNotMove refuses a pinned requirement whose tag now names
// another commit than the one pipguard installed it at (its authenticated
// receipt says which): nothing verified either commit, so the change is
// the user's to look at, not pipguard's to follow.
func checkPinsDidNotMove(info *pip.Info, gs []*Guarded) error {
	key, err := pep610.LoadReceiptKey(info.Prefix, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the environment's receipt key: %w", err)
	}
	var reasons []string
	for _, g := range gs {
		if !g.Pinned || g.Resolution == nil || g.Resolution.Kind == gitref.Commit {
			continue
		}
		for _, d := range findDist(info, g.Name) {
			r, err := d.Receipt(key)
			if err != nil || !r.Pinned || r.Tag != g.Tag || !strings.EqualFold(r.Repository, g.req.VCS.RepoURL()) {
				continue
			}
			if !strings.EqualFold(r.Commit, g.Resolution.Commit) {
				reasons = append(reasons, fmt.Sprintf("%s: %s was installed pinned at commit %s (its receipt says so); %s now points at commit %s", g.Source, g.Requirement, r.Commit, g.Tag, g.Resolution.Commit))
			}
		}
	}
	if len(reasons) > 0 {
		return &RefusedError{Reasons: reasons, Fix: "a pinned tag moved: find out why before trusting either commit; to install the new commit, pin it by its full SHA (@COMMIT) instead of the tag"}
	}
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

// ArtifactPolicy sets the identity rules of one repository's effective
// policy (signer, runner, one exact source ref) on p, which says what to
// verify (repository, digest, predicate). Source ref patterns are checked
// after verification by CheckSourceRefs.
func ArtifactPolicy(eff policy.Effective, p attest.Policy) attest.Policy {
	p.SignerWorkflow, p.SignerRepo = eff.SignerWorkflow.V, eff.SignerRepo.V
	p.DenySelfHosted = eff.Runner.V == "github-hosted"
	p.SourceRef = ""
	if refs := eff.SourceRefs.V; len(refs) == 1 && !strings.ContainsAny(refs[0], "*?[") {
		p.SourceRef = refs[0]
	}
	return p
}

// CheckSourceRefs checks the accepted bundle's source ref against the
// policy's source_refs patterns (when they are not one exact ref, which
// the verifier checked itself).
func CheckSourceRefs(eff policy.Effective, rep *attest.Report) error {
	refs := eff.SourceRefs.V
	if len(refs) == 0 || len(refs) == 1 && !strings.ContainsAny(refs[0], "*?[") || rep == nil || rep.Accepted < 0 {
		return nil
	}
	b := rep.Bundles[rep.Accepted]
	if b.Identity == nil {
		return nil
	}
	for _, pat := range refs {
		if ok, err := path.Match(pat, b.Identity.SourceRepositoryRef); err == nil && ok {
			return nil
		}
	}
	return &attest.Error{Artifact: rep.Artifact,
		Reasons: []string{fmt.Sprintf("%s: the build's source ref %s is not one of %s (%s)", b.Source, b.Identity.SourceRepositoryRef, strings.Join(refs, ", "), eff.SourceRefs.Rule("source_refs"))},
		Fix:     fmt.Sprintf("source_refs = [%q] in the repository's policy table would accept it, if that is how the project builds releases", b.Identity.SourceRepositoryRef)}
}
