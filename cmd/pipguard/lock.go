package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/urfave/cli/v2"
)

// lockCommand is pipguard lock: install's resolution and verification,
// written as a PEP 751 pylock.toml instead of installed.
func lockCommand(e *env) *cli.Command {
	var flags []cli.Flag
	for _, f := range installCommand(e).Flags {
		switch f.Names()[0] {
		case "dry-run", "provenance-dir":
			continue
		}
		flags = append(flags, f)
	}
	flags = append(flags, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "pylock.toml", Usage: "write the lock to `FILE` (- for stdout)"},
		&cli.BoolFlag{Name: "upgrade", Usage: "when FILE exists, allow newer versions than it locks (default: keep them)"},
		&cli.StringSliceFlag{Name: "accept-identity-change", Usage: "accept that project `NAME`'s publisher identity changed or disappeared since FILE was written (repeatable)"})
	return &cli.Command{
		Name:      "lock",
		Usage:     "resolve and verify as install does, and write what was verified as a PEP 751 pylock.toml",
		ArgsUsage: "[REQ...] [-r FILE]... [-o pylock.toml] [-- PIP_ARGS...]",
		Description: `pipguard lock resolves exactly as pipguard install does (one pip resolution for
   the target interpreter, wheels only, nothing unverified run; as if nothing were
   installed, so the lock is the whole set), verifies every guarded git requirement's
   release and every index file's PEP 740 provenance, installs nothing, and writes a
   PEP 751 lock file: each index package's wheel (name, URL, size, sha256) with the
   publisher identity its verified provenance names ([[packages.attestation-identities]]),
   each guarded requirement's verified release asset as an archive (or its commit as a
   vcs entry) with pipguard's records in [packages.tool.pipguard]. URLs are written
   without credentials; a file that would need them inline is refused. pip 26's own
   reader installs the file (pip install -r pylock.toml).

   Exit codes as for install; 0 when the lock was written.`,
		Flags: flags,
		Action: func(cCtx *cli.Context) error {
			from := installer.From(cCtx.String("from"))
			if from != installer.FromRelease && from != installer.FromGit {
				return usagef("--from must be release or git, not %q", from)
			}
			reqs, pipArgs := splitPipArgs(cCtx.Args().Slice())
			if len(reqs) == 0 && len(cCtx.StringSlice("requirement")) == 0 {
				return usagef("lock needs a requirement or -r FILE")
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
			pol, err := e.policy(cCtx)
			if err != nil {
				return err
			}
			out := e.stderr
			if cCtx.String("format") == "json" || cCtx.Bool("quiet") {
				out = io.Discard
			}
			cfg, err := e.releaseConfig(cCtx)
			if err != nil {
				return err
			}
			dest := cCtx.String("output")
			files := cCtx.StringSlice("requirement")
			// Re-locking over an existing lock: it is the record of what
			// was trusted. Its versions are kept (as constraints) unless
			// --upgrade, and a publisher identity it recorded may not
			// change silently.
			var prev *pylock.Lock
			if dest != "-" {
				if data, err := os.ReadFile(dest); err == nil {
					if prev, err = pylock.Read(dest, data); err != nil {
						return &installer.LockFileError{Path: dest, Err: err}
					}
					if !cCtx.Bool("upgrade") {
						c, err := keepVersions(prev)
						if err != nil {
							return err
						}
						defer os.RemoveAll(filepath.Dir(c))
						files = append(files, c)
					}
				}
			}
			l, rep, err := installer.Lock(cCtx.Context, cfg, installer.InstallOptions{
				Requirements: reqs, Files: files, PipArgs: pipArgs,
				Python: py, AllowDirect: cCtx.Bool("allow-direct"), Rules: pol, Version: pipguardVersion(),
				Trust: trust, Output: out, Concurrency: cCtx.Int("jobs"),
			})
			err = oldPip(cCtx.Context, py, err)
			if rep != nil && !cCtx.Bool("quiet") {
				for _, w := range rep.Warnings {
					fmt.Fprintf(e.stderr, "pipguard: warning: %s\n", w)
				}
			}
			if err != nil {
				return err
			}
			if prev != nil {
				changes, err := installer.CompareLocks(prev, l, cCtx.StringSlice("accept-identity-change"))
				for _, c := range changes {
					if !cCtx.Bool("quiet") {
						fmt.Fprintf(e.stderr, "pipguard: changed: %s\n", c)
					}
				}
				if err != nil {
					return err
				}
			}
			data, err := pylock.Write(l)
			if err != nil {
				return err
			}
			if dest == "-" {
				_, err = e.stdout.Write(data)
				return err
			}
			if err := writeFileAtomic(dest, data); err != nil {
				return err
			}
			attested := 0
			for _, p := range l.Packages {
				if len(p.AttestationIdentities) > 0 {
					attested++
				}
			}
			if cCtx.String("format") == "json" {
				return e.writeJSON(struct {
					Schema   string `json:"schema"`
					OK       bool   `json:"ok"`
					File     string `json:"file"`
					Packages int    `json:"packages"`
					Attested int    `json:"attested"`
					*installer.InstallReport
				}{"pipguard.lock/v1", true, dest, len(l.Packages), attested, rep})
			}
			if !cCtx.Bool("quiet") {
				fmt.Fprintf(e.stdout, "locked %d package(s) into %s (%d with attestation identities)\n", len(l.Packages), dest, attested)
			}
			return nil
		},
	}
}

// writeFileAtomic writes data to path through a temporary file in its
// directory, so a reader never sees half a lock.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".pylock-*.toml")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// keepVersions writes a requirements file whose only line constrains the
// resolution to the versions prev locks, and returns its path.
func keepVersions(prev *pylock.Lock) (string, error) {
	dir, err := os.MkdirTemp("", "pipguard-relock-")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range prev.Packages {
		if p.Version != "" {
			fmt.Fprintf(&b, "%s==%s\n", p.Name, p.Version)
		}
	}
	cons := filepath.Join(dir, "constraints.txt")
	if err := os.WriteFile(cons, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	req := filepath.Join(dir, "requirements.txt")
	return req, os.WriteFile(req, []byte("-c "+cons+"\n"), 0o600)
}
