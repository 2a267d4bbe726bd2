package main

import (
	"fmt"
	"io"
	"time"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/urfave/cli/v2"
)

// fetchCommand is pipguard fetch: what a lock installs (files,
// provenance, guarded releases verified with GitHub's answers recorded,
// Sigstore's TUF metadata) in a directory, for an install with no network.
func fetchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "store everything a pylock.toml install needs in a directory (files, provenance, releases, trusted roots), for an install with no network",
		ArgsUsage: "pylock.toml DIR",
		Description: `pipguard fetch selects the lock's packages for the target interpreter (as install
   does) and stores in DIR:
     - each index wheel (DIR/FILENAME), downloaded over https and checked against the
       lock's size and hashes, with the PEP 740 provenance its index publishes
       (DIR/FILENAME.provenance);
     - each guarded release asset (a [packages.tool.pipguard] record): its release is
       verified as install verifies it (the tag listed and compared with the lock's
       commit, SHA256SUMS, build provenance, SBOM, release attestation), every answer
       GitHub gave is recorded (DIR/releases/HOST/OWNER/REPO/TAG/record.json, with the
       assets it downloaded) and the asset, checked against the lock, is DIR/FILENAME;
     - the TUF metadata of each Sigstore deployment the lock needs (DIR/tuf/public-good,
       DIR/tuf/github): every file the TUF client workflow downloaded, from pipguard's
       embedded root with an empty cache (root chain, timestamp, snapshot, targets,
       trusted_root.json). --trusted-root FILE replaces it (then pass the same file to
       install).

   pipguard install --files DIR pylock.toml then verifies and installs with no network
   at all (RUN --network=none in a Dockerfile): trust from DIR's TUF metadata, verified
   again from the embedded root; every bundle and hash checked again; the tag is not
   listed again (no git offline), the lock's commit stands for it. TUF metadata expires
   (the timestamp in days): fetch shortly before the install.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "python", Usage: "target interpreter `PY` (default $VIRTUAL_ENV/bin/python, else python3)"},
			&cli.StringSliceFlag{Name: "extra", Usage: "select the lock's extra `NAME` (repeatable)"},
			&cli.StringSliceFlag{Name: "group", Usage: "select the lock's dependency group `NAME` (repeatable; default: its default-groups)"},
			&cli.StringSliceFlag{Name: "trusted-root", EnvVars: []string{"PIPGUARD_TRUSTED_ROOT"}, Usage: "Sigstore trusted_root.json `FILE` to verify releases with (repeatable); default: TUF, recorded in DIR"},
		},
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() != 2 {
				return usagef("fetch needs a lock file and a directory: pipguard fetch pylock.toml DIR")
			}
			lockPath, dir := cCtx.Args().Get(0), cCtx.Args().Get(1)
			if !installer.IsLockFile(lockPath) {
				return usagef("%s is not a lock file (pylock.toml or pylock.NAME.toml)", lockPath)
			}
			py, err := pythonPath(cCtx.String("python"))
			if err != nil {
				return err
			}
			if py == "" {
				py = pip.Default(e.getenv)
			}
			pol, err := e.policy(cCtx)
			if err != nil {
				return err
			}
			var trust *attest.Trust
			if len(cCtx.StringSlice("trusted-root")) > 0 {
				if trust, err = e.trust(cCtx); err != nil {
					return err
				}
			}
			out := e.stderr
			if cCtx.String("format") == "json" || cCtx.Bool("quiet") {
				out = io.Discard
			}
			cfg := e.config(cCtx)
			cfg.Progress = e.progress(cCtx)
			rep, err := installer.FetchLockFile(cCtx.Context, cfg, installer.InstallOptions{Python: py, Output: out, Rules: pol, Trust: trust},
				installer.LockFile{Path: lockPath, Extras: cCtx.StringSlice("extra"), Groups: groupsFlag(cCtx)}, dir)
			if err != nil {
				return err
			}
			if cCtx.String("format") == "json" {
				return e.writeJSON(struct {
					Schema string `json:"schema"`
					OK     bool   `json:"ok"`
					*installer.FetchReport
				}{"pipguard.fetch/v1", true, rep})
			}
			if !cCtx.Bool("quiet") {
				renderFetch(e.stdout, rep)
			}
			return nil
		},
	}
}

// renderFetch says what fetch stored, from the same report as the JSON.
func renderFetch(w io.Writer, rep *installer.FetchReport) {
	withProv := 0
	for _, f := range rep.Files {
		if f.Provenance {
			withProv++
		}
	}
	fmt.Fprintf(w, "fetched %d file(s) into %s (%d with provenance, %d guarded release(s))\n", len(rep.Files), rep.Dir, withProv, len(rep.Releases))
	for _, r := range rep.Releases {
		fmt.Fprintf(w, "verified %s %s -> %s: %s sha256:%s; GitHub's answers in %s\n", r.Name, r.Tag, r.Commit, r.Asset, r.SHA256, r.Record)
	}
	for _, t := range rep.Trust {
		fmt.Fprintf(w, "trust    %s: TUF root v%d, %d file(s) in %s, valid until %s: install before then\n", t.Deployment, t.RootVersion, len(t.Files), t.Dir, t.Expires.UTC().Format(time.RFC3339))
	}
	if rep.TrustNote != "" {
		fmt.Fprintf(w, "trust    %s\n", rep.TrustNote)
	}
}
