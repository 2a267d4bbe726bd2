package main

import (
	"fmt"
	"io"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/urfave/cli/v2"
)

// fetchCommand is pipguard fetch: a lock's files and their provenance in
// a directory, for an install with no network.
func fetchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "store every file a pylock.toml names (and its provenance) in a directory, for an install with no network",
		ArgsUsage: "pylock.toml DIR",
		Description: `pipguard fetch selects the lock's packages for the target interpreter (as install
   does), downloads each wheel over https into DIR, checks its size and hashes against
   the lock, and stores the PEP 740 provenance its index publishes beside it
   (FILENAME.provenance). pipguard install --files DIR pylock.toml then verifies and
   installs with no network at all (RUN --network=none in a Dockerfile); pass the
   Sigstore trusted root with --trusted-root there. Guarded release assets are not
   fetched: their release is verified again against GitHub at install time.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "python", Usage: "target interpreter `PY` (default $VIRTUAL_ENV/bin/python, else python3)"},
			&cli.StringSliceFlag{Name: "extra", Usage: "select the lock's extra `NAME` (repeatable)"},
			&cli.StringSliceFlag{Name: "group", Usage: "select the lock's dependency group `NAME` (repeatable; default: its default-groups)"},
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
			out := e.stderr
			if cCtx.String("format") == "json" || cCtx.Bool("quiet") {
				out = io.Discard
			}
			got, err := installer.FetchLockFile(cCtx.Context, installer.InstallOptions{Python: py, Output: out},
				installer.LockFile{Path: lockPath, Extras: cCtx.StringSlice("extra"), Groups: groupsFlag(cCtx)}, dir)
			if err != nil {
				return err
			}
			if cCtx.String("format") == "json" {
				return e.writeJSON(struct {
					Schema string                  `json:"schema"`
					OK     bool                    `json:"ok"`
					Files  []installer.FetchedFile `json:"files"`
				}{"pipguard.fetch/v1", true, got})
			}
			if !cCtx.Bool("quiet") {
				withProv := 0
				for _, f := range got {
					if f.Provenance {
						withProv++
					}
				}
				fmt.Fprintf(e.stdout, "fetched %d file(s) into %s (%d with provenance)\n", len(got), dir, withProv)
			}
			return nil
		},
	}
}
