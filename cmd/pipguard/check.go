package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/lint"
	"github.com/urfave/cli/v2"
)

func checkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "lint requirements files, pyproject.toml dependencies and pylock.toml lock files, offline",
		ArgsUsage: "FILE...",
		Description: `Reads requirements files (nested -r and -c files too) and pyproject.toml
   dependencies ([project] dependencies and optional-dependencies; any *.toml
   file is read as a pyproject.toml) without touching the network, and reports
   each finding at FILE:LINE:COLUMN: git requirements with no ref, a ref that is
   a branch by name (HEAD, main, master, develop, trunk, refs/heads/..., feature/...,
   1.x) or has no version number in it, a short commit SHA, git+http://, a git host
   the policy does not pin, a direct URL outside allow_direct, editable installs
   (-e), index requirements not pinned with == (index_pins: "require" is an error,
   "warn" a warning), and package sources (-i, --extra-index-url, -f) outside
   the policy's indexes; [[tool.pipguard.index]] tables that can never match
   (index-table-never-matches), and, as notes, index requirements a require
   rule refuses at install when their index publishes no PEP 740 provenance
   (index-provenance-required). A tag without a digit, or one that looks like hex, is
   written @refs/tags/NAME. Whether a tag-like ref really is a tag (and not also
   a branch) is for pipguard install or resolve to find out.

   A PEP 751 lock file (pylock.toml, pylock.NAME.toml) is checked against the
   spec and pipguard's rules: required keys and types, one kind of source per
   package, normalised names, a sha256 (or sha384, sha512) on every file, no
   http:// and no credentials in any URL (never printed); index packages
   without attestation identities are warnings, and what the lock lacks (no
   environments, no requires-python, no identities, no sizes) is info.

   Exit 0 clean, 6 when a finding is at or above --fail-on (default error),
   2 when a file cannot be read.

   Examples:
     pipguard check requirements.txt pyproject.toml
     pipguard check pylock.toml
     pipguard check --format sarif requirements*.txt > pipguard-check.sarif`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "lowest `SEVERITY` that fails the check: warning or error"},
		},
		Action: func(cCtx *cli.Context) error {
			failOn, err := envaudit.ParseSeverity(cCtx.String("fail-on"))
			if err != nil {
				return usagef("--fail-on: %v", err)
			}
			if !cCtx.Args().Present() {
				return usagef("name the files to check: pipguard check requirements.txt pyproject.toml")
			}
			pol, err := e.policy(cCtx)
			if err != nil {
				return err
			}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			rep, cerr := lint.Check(cCtx.Args().Slice(), lint.Options{Policy: pol, GitHubHost: e.config(cCtx).GitHubHost(), Dir: wd})
			for i, f := range rep.Findings {
				// The table as the policy file in use writes it.
				rep.Findings[i].Hint = strings.ReplaceAll(f.Hint, "[[tool.pipguard.repo]]", repoTable(pol))
			}
			switch cCtx.String("format") {
			case "json":
				err = e.writeJSON(rep)
			case "sarif":
				err = e.writeJSON(checkSARIF(rep))
			default:
				if !cCtx.Bool("quiet") {
					renderCheck(e.stdout, rep, cerr == nil)
				}
			}
			if cerr != nil {
				return cerr
			}
			if err != nil {
				return err
			}
			n := 0
			for _, f := range rep.Findings {
				if f.Severity.Rank() >= failOn.Rank() {
					n++
				}
			}
			if n > 0 {
				return &findingsFailed{command: "check", worst: failOn, n: n}
			}
			return nil
		},
	}
}

// renderCheck prints one line per finding, as compilers and linters do
// (FILE:LINE:COLUMN: severity: message [rule]), its hint below, then a
// summary when every file was read.
func renderCheck(w io.Writer, rep *lint.Report, complete bool) {
	for _, f := range rep.Findings {
		// A nested file's name is the including file's text.
		fmt.Fprintf(w, "%s:%d:%d: %s: %s [%s]\n", shown(f.File), f.Line, f.Column, f.Severity, shown(f.Text()), f.Rule)
		fmt.Fprintf(w, "    hint: %s\n", f.Hint)
	}
	if !complete {
		return
	}
	locks := 0
	for _, f := range rep.Files {
		if lint.IsPylock(f) {
			locks++
		}
	}
	read := plural(len(rep.Files), "file")
	if rep.Requirements > 0 || locks < len(rep.Files) {
		read += ", " + plural(rep.Requirements, "requirement")
	}
	if locks > 0 {
		read += ", " + plural(rep.LockedPackages, "locked package")
	}
	counts := plural(rep.Count(envaudit.Error), "error") + ", " + plural(rep.Count(envaudit.Warning), "warning")
	if n := rep.Count(envaudit.Info); n > 0 {
		counts += ", " + plural(n, "note")
	}
	fmt.Fprintf(w, "%s: %s\n", read, counts)
}

// checkSARIF is the report's SARIF log, with each result's file as a
// percent-encoded URI (envaudit.SARIFArtifact): a path is not a URI.
func checkSARIF(rep *lint.Report) map[string]any {
	log := rep.SARIF(pipguardVersion())
	runs, _ := log["runs"].([]any)
	if len(runs) != 1 {
		return log
	}
	run, _ := runs[0].(map[string]any)
	results, _ := run["results"].([]any)
	if len(results) != len(rep.Findings) {
		return log
	}
	for i, r := range results {
		res, _ := r.(map[string]any)
		locs, _ := res["locations"].([]any)
		if len(locs) != 1 {
			continue
		}
		loc, _ := locs[0].(map[string]any)
		if pl, ok := loc["physicalLocation"].(map[string]any); ok {
			pl["artifactLocation"] = envaudit.SARIFArtifact(rep.Findings[i].File)
		}
	}
	return log
}
