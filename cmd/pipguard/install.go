package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

func installCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "install requirements, verifying every git requirement's release first",
		ArgsUsage: "[REQ...] [-r FILE]... [-- PIP_ARGS...]",
		Description: `Each git requirement (pkg @ git+https://github.com/OWNER/REPO.git@TAG) is resolved
   (tags and full commits only), its GitHub release is verified (SHA256SUMS,
   build provenance bound to the tag, SBOM, release attestation), the best
   wheel for the target interpreter is picked and its METADATA checked, and
   pip installs exactly those verified bytes ("name @ file:///…#sha256=…"),
   or with --from git the repository at the verified commit.

   The install is a transaction. pip resolves once (--dry-run --report,
   wheels only unless --allow-source-builds) and any other direct-URL or VCS
   requirement is refused; that resolution becomes a lock which pip installs
   exactly (--no-deps, every item pinned by version and hash). pip's own
   report must equal the lock and direct_url.json (PEP 610) must record what
   was verified. On any failure or interruption (Ctrl-C, SIGTERM) whatever
   the run replaced is restored byte for byte and what it added is removed.
   Other requirements pass to pip's resolution as written. Nothing is
   installed unless everything verified.

   Exit 0 installed, 2 usage, 3 refused, 4 not verified, 5 pip failed
   (rolled back), 6 pip installed something else than the lock or than what
   was verified (rolled back), 7 GitHub unavailable, 130/143 interrupted by
   SIGINT/SIGTERM (rolled back).

   Examples:
     pipguard install "fastapi-paseto @ git+https://github.com/Raze-Systems/fastapi-paseto.git@v1.3.1"
     pipguard install -r requirements.txt
     pipguard install --from git -r requirements.txt -- --no-index --find-links ./wheels
     pipguard install --dry-run --format json -r requirements.txt`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "requirement", Aliases: []string{"r"}, Usage: "install from requirements `FILE` (repeatable)"},
			&cli.StringFlag{Name: "python", Usage: "target interpreter `PY` (default $VIRTUAL_ENV/bin/python, else python3)"},
			&cli.StringFlag{Name: "from", Value: "release", Usage: "what pip installs for a git requirement: release (the verified asset) or git (the verified commit)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "verify and ask pip what it would install; install nothing"},
			&cli.BoolFlag{Name: "allow-sdist", Usage: "install the verified sdist when no wheel fits (runs its build code)"},
			&cli.StringFlag{Name: "provenance-dir", Usage: "read index files' PEP 740 provenance from `DIR` (FILENAME.provenance) instead of asking the index"},
			&cli.StringFlag{Name: "files", Usage: "with a lock file: install from `DIR` (what pipguard fetch stored) with no network: its files, provenance, recorded releases and TUF metadata (the trusted roots, unless --trusted-root)"},
			&cli.StringSliceFlag{Name: "extra", Usage: "with a lock file: select its extra `NAME` (repeatable)"},
			&cli.StringSliceFlag{Name: "group", Usage: "with a lock file: select its dependency group `NAME` (repeatable; default: the lock's default-groups)"},
			&cli.BoolFlag{Name: "allow-direct", Usage: "let pip install direct-URL or VCS requirements pipguard did not verify (unsafe)"},
			&cli.BoolFlag{Name: "allow-source-builds", Usage: "let pip build index sdists, running their build code (unsafe; default: wheels only)"},
			&cli.StringFlag{Name: "signer-workflow", Usage: "workflow that must have signed each release's provenance (`PATH` or URI)"},
			&cli.StringFlag{Name: "signer-repo", Usage: "`OWNER/REPO` of a reusable signer workflow"},
			&cli.StringFlag{Name: "source-ref", Usage: "required SourceRepositoryRef (default refs/tags/TAG)"},
			&cli.BoolFlag{Name: "deny-self-hosted-runners", Usage: "require GitHub-hosted runners"},
			&cli.IntFlag{Name: "max-commit-distance", Usage: "accept a build `N` commits before the tag's commit (projects that tag a version-bump commit)"},
			&cli.BoolFlag{Name: "require-sbom", Usage: "fail when an asset has no SBOM attestation"},
			&cli.BoolFlag{Name: "require-release-attestation", Usage: "fail when GitHub's release attestation is missing, even for a mutable release"},
			&cli.StringSliceFlag{Name: "trusted-root", EnvVars: []string{"PIPGUARD_TRUSTED_ROOT"}, Usage: "Sigstore trusted_root.json `FILE` (repeatable; the variable takes a comma-separated list); default: TUF"},
			&cli.StringFlag{Name: "cache-dir", Usage: "`DIR` for TUF metadata and GitHub's answers and verified assets (default: $PIPGUARD_CACHE_DIR, else pipguard in the user cache dir)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "ask GitHub everything again; read and write no cache (TUF metadata excepted)"},
			&cli.IntFlag{Name: "jobs", Value: 4, Usage: "verify at most `N` requirements at once"},
		},
		Action: func(cCtx *cli.Context) error {
			from := installer.From(cCtx.String("from"))
			if from != installer.FromRelease && from != installer.FromGit {
				return usagef("--from must be release or git, not %q", from)
			}
			if cCtx.Bool("allow-direct") {
				fmt.Fprintln(e.stderr, "pipguard: warning: --allow-direct: pip may install direct-URL and VCS requirements that nothing verified")
			}
			if cCtx.Bool("allow-source-builds") {
				fmt.Fprintln(e.stderr, "pipguard: warning: --allow-source-builds: pip may run the build code of index sdists and their build requirements, which nothing verified")
			}
			reqs, pipArgs := splitPipArgs(cCtx.Args().Slice())
			if len(reqs) == 0 && len(cCtx.StringSlice("requirement")) == 0 {
				return usagef("install needs a requirement or -r FILE")
			}
			if err := requirementFiles(cCtx.StringSlice("requirement")); err != nil {
				return err
			}
			py, err := pythonPath(cCtx.String("python"))
			if err != nil {
				return err
			}
			if py == "" {
				py = pip.Default(e.getenv)
			}
			trust, err := e.trust(cCtx)
			if err != nil {
				return err
			}
			if dir := cCtx.String("files"); dir != "" && len(cCtx.StringSlice("trusted-root")) == 0 {
				// Hermetic: the trusted roots from the TUF metadata pipguard
				// fetch recorded in DIR, verified from the embedded roots.
				// pipguard's own TUF cache, when there is one, is a floor
				// (no version older than it has seen is taken from DIR).
				cache, _, err := e.cacheDir(cCtx)
				if err != nil {
					cache = "" // no cache: no floor (the README says so)
				}
				trust = attest.TrustFromDir(dir, attest.TUFOptions{CacheDir: cache})
			}
			pol, err := e.policy(cCtx)
			if err != nil {
				return err
			}
			out := e.stderr // pip's chatter goes to stderr; stdout carries results
			if cCtx.String("format") == "json" || cCtx.Bool("quiet") {
				out = io.Discard
			}
			cfg, err := e.releaseConfig(cCtx)
			if err != nil {
				return err
			}
			opts := installer.InstallOptions{
				Requirements: reqs, Files: cCtx.StringSlice("requirement"), PipArgs: pipArgs,
				Python: py, DryRun: cCtx.Bool("dry-run"), AllowDirect: cCtx.Bool("allow-direct"), Rules: pol, Version: pipguardVersion(),
				Trust: trust, Output: out, Concurrency: cCtx.Int("jobs"), ProvenanceDir: cCtx.String("provenance-dir"),
			}
			var rep *installer.InstallReport
			var ierr error
			if lockFile, err := lockFileArg(reqs, cCtx.StringSlice("requirement"), pipArgs); err != nil {
				return err
			} else if lockFile != "" {
				// A PEP 751 lock: installed as the lock says, no resolution.
				rep, ierr = installer.InstallLockFile(cCtx.Context, cfg, opts, installer.LockFile{Path: lockFile, From: cCtx.String("files"),
					Extras: cCtx.StringSlice("extra"), Groups: groupsFlag(cCtx)})
			} else {
				if cCtx.String("files") != "" {
					return usagef("--files DIR is for installing a lock file (pylock.toml): the files pipguard fetch stored")
				}
				rep, ierr = installer.Install(cCtx.Context, cfg, opts)
			}
			ierr = oldPip(cCtx.Context, py, ierr)
			if rep == nil {
				return ierr
			}
			managed := ""
			if rep.DryRun {
				managed = externallyManaged(cCtx.Context, py)
			}
			quiet := cCtx.Bool("quiet")
			for _, w := range rep.Warnings {
				if !quiet {
					fmt.Fprintf(e.stderr, "pipguard: warning: %s\n", w)
				}
			}
			for _, g := range rep.Guarded {
				if g.Pinned && !quiet {
					fmt.Fprintf(e.stderr, "pipguard: warning: %s is pinned to commit %s but not verified: no attested release vouches for it (%s)\n",
						g.Name, g.Resolution.Commit, g.Policy.Verify.Rule("verify"))
				}
			}
			switch {
			case cCtx.String("format") == "json":
				if err := e.writeJSON(struct {
					Schema string `json:"schema"`
					OK     bool   `json:"ok"`
					*installer.InstallReport
					ExternallyManaged string `json:"externally_managed,omitempty"`
				}{"pipguard.install/v1", ierr == nil, rep, managed}); err != nil {
					return err
				}
			case !quiet:
				renderInstall(e.stdout, rep, ierr == nil, cCtx.Bool("verbose"))
				if rep.DryRun {
					renderTarget(e.stdout, e.stderr, rep, managed)
				}
			}
			return ierr
		},
	}
}

// splitPipArgs splits the arguments at "--": requirements before, pip's
// own arguments after.
func splitPipArgs(args []string) (reqs, pipArgs []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

func renderInstall(w io.Writer, rep *installer.InstallReport, ok, verbose bool) {
	for _, g := range rep.Guarded {
		switch {
		case g.Skipped != "":
			fmt.Fprintf(w, "skipped  %s: %s\n", g.Requirement, g.Skipped)
		case g.Pinned:
			fmt.Fprintf(w, "pinned   %s %s -> %s (pinned, not verified: %s)\n", g.Name, g.Tag, g.Resolution.Commit, g.Policy.Verify.Rule("verify"))
		case g.PipRequirement != "":
			fmt.Fprintf(w, "verified %s %s -> %s\n", g.Name, g.Tag, g.Resolution.Commit)
			fmt.Fprintf(w, "         %s sha256:%s (%s)\n", g.Asset, g.SHA256, g.AssetReason)
			if g.Release != nil {
				// What a hermetic install took from the lock, said always.
				for _, c := range g.Release.Decision.Checks {
					if c.Name == "tag" && c.Outcome == policy.NotChecked {
						fmt.Fprintf(w, "         %s (%s)\n", c.Reason, c.Actual)
					}
				}
			}
			if verbose && g.Release != nil {
				fmt.Fprintf(w, "         %s\n", githubCost(g.Release))
				for _, a := range g.Release.Assets {
					for _, c := range a.Decision.Checks {
						rule := ""
						if c.Rule != "" {
							rule = " [" + c.Rule + "]"
						}
						fmt.Fprintf(w, "         %-11s %-20s %s%s\n", c.Outcome, c.Name, firstNonEmpty(c.Reason, c.Actual), rule)
					}
				}
			}
		}
	}
	if len(rep.Plan) > 0 {
		verb := "installing"
		switch {
		case rep.DryRun && ok:
			verb = "would install"
		case !ok:
			verb = "pip's plan"
		}
		var items []string
		for _, p := range rep.Plan {
			s := p.Name + " " + p.Version
			switch {
			case p.Pinned:
				s += " (pinned, not verified)"
			case p.Guarded:
				s += " (verified)"
			}
			items = append(items, s)
		}
		fmt.Fprintf(w, "%s: %s\n", verb, strings.Join(items, ", "))
	}
	if verbose {
		for _, l := range rep.Lock {
			pin := "sha256:" + l.SHA256
			switch {
			case l.SHA256 == "":
				pin = "commit " + l.Commit
			case l.Commit != "":
				pin += ", built from commit " + l.Commit
			}
			if a := l.Attestation; a != nil {
				switch {
				case a.State == installer.AttestVerified && a.Publisher != nil && a.Publisher.Kind != "":
					pin += ", attested by " + a.Publisher.String()
				case a.State == installer.AttestVerified:
					pin += ", attested (" + a.Why + ")"
				default:
					pin += ", " + a.State
				}
			}
			fmt.Fprintf(w, "locked   %s %s (%s, %s)\n", l.Name, l.Version, l.Source, pin)
		}
	}
	for _, in := range rep.Installed {
		verdict := "audited"
		if in.Decision.Verdict() != policy.Accept {
			verdict = "AUDIT FAILED"
		}
		fmt.Fprintf(w, "%s %s %s: %s (direct_url.json)\n", verdict, in.Name, in.Version, in.Outcome)
	}
	if rep.RolledBack {
		fmt.Fprintln(w, "rolled back: the environment is as it was before this run")
	}
	switch {
	case ok && rep.DryRun && len(rep.Plan) == 0:
		fmt.Fprintln(w, "would install: nothing (every requirement is installed already)")
	case ok && len(rep.Guarded) == 0 && len(rep.Lock) == 0:
		fmt.Fprintln(w, "nothing to install")
	case ok && len(rep.Lock) == 0 && !rep.DryRun:
		fmt.Fprintf(w, "nothing to install: every requirement is installed already in %s\n", strings.Join(rep.Site, ", "))
	case ok && !rep.DryRun:
		fmt.Fprintf(w, "installed into %s\n", strings.Join(rep.Site, ", "))
	}
	if verbose {
		for _, t := range rep.Timings {
			fmt.Fprintf(w, "  %-20s %s\n", t.Stage, t.Elapsed.Round(time.Millisecond))
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// githubCost says what a verification asked of GitHub's REST API.
func githubCost(rep *installer.ReleaseReport) string {
	s := fmt.Sprintf("%d GitHub REST request(s)", rep.APIRequests)
	switch {
	case rep.Cache == "warm":
		s += ", answered from the cache"
	case rep.Cache == "cold" && rep.Verified:
		s += ", now cached"
	case rep.Cache == "cold":
		s += ", nothing cached (not verified)"
	}
	return s
}

// lockFileArg is the PEP 751 lock file an install names (as a requirement
// or with -r), or "". A lock is installed alone: it says everything that
// gets installed.
func lockFileArg(reqs, files, pipArgs []string) (string, error) {
	var locks []string
	for _, r := range append(append([]string{}, reqs...), files...) {
		if installer.IsLockFile(r) {
			locks = append(locks, r)
		}
	}
	switch {
	case len(locks) == 0:
		return "", nil
	case len(locks) > 1 || len(reqs)+len(files) > 1:
		return "", usagef("a lock file (%s) is installed alone: it names everything that gets installed", strings.Join(locks, ", "))
	case len(pipArgs) > 0:
		return "", usagef("a lock file is installed with no pip arguments: pip reads only pipguard's local files")
	}
	return locks[0], nil
}

// groupsFlag is --group: nil when not given (the lock's default-groups).
func groupsFlag(cCtx *cli.Context) []string {
	if !cCtx.IsSet("group") {
		return nil
	}
	return cCtx.StringSlice("group")
}
