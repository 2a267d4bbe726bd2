package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

// findingsFailed is audit's or check's findings at or above --fail-on:
// exit 6, labelled by the command ("audit failed", "check failed").
type findingsFailed struct {
	command string
	worst   envaudit.Severity
	n       int
}

func (e *findingsFailed) Error() string {
	return fmt.Sprintf("%s at or above %s", plural(e.n, "finding"), e.worst)
}

func (e *findingsFailed) Hint() string {
	return "each finding above says what to do; --fail-on sets the severity that fails the check"
}

func auditCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "audit",
		Usage:     "check a whole environment before deploy",
		ArgsUsage: "[--python PY | --path SITE_PACKAGES]...",
		Description: `Reads every distribution Python would see (METADATA, INSTALLER,
   direct_url.json, pipguard's receipt) in Go, without running the
   environment's code: --python runs the interpreter once as -I -S for its
   sys.path and site directories, and pipguard reads their .pth files itself
   (a line that would run code is a finding, never run). It reports: git installs of a missing ref or a commit that is not a full SHA,
   archives without a hash, local and editable installs, hosts the policy does
   not allow, malformed direct_url.json, receipts that no longer match, and
   direct-URL or VCS installs that no verified release vouches for; index
   installs by the PEP 740 provenance state their receipt records
   (index-unattested: a note, an error where the policy requires provenance;
   index-identity-mismatch: another publisher than the policy's [[index]]
   table names).

   --lock pylock.toml holds the environment to exactly the lock: the packages
   it selects for this interpreter (its markers and tags, which the --python
   interpreter reports when run once with -I -S, or --lock-environment FILE
   gives) each installed at the locked version (lock-missing, lock-version),
   from the locked file as far as direct_url.json and pipguard's receipt record
   its hash (lock-hash; every audit also checks each file against RECORD:
   files-changed), and nothing else installed (lock-extra; pip, setuptools and
   wheel only when the lock names them).

   Exit 0 clean, 6 when a finding is at or above --fail-on (default error).

   Examples:
     pipguard audit                                # $VIRTUAL_ENV
     pipguard audit -v                             # and list every distribution
     pipguard audit --python /app/.venv/bin/python --format sarif > pipguard.sarif
     pipguard audit --path /usr/lib/python3/dist-packages --fail-on warning
     pipguard audit --python /app/.venv/bin/python --lock pylock.toml`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "python", Usage: "an environment's interpreter `PY`, run once as PY -I -S (no .pth file or sitecustomize runs) for its sys.path (repeatable)"},
			&cli.StringSliceFlag{Name: "path", Usage: "a site-packages `DIR`, read with its .pth files as site.addsitedir reads them (repeatable)"},
			&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "lowest `SEVERITY` that fails the check: info, warning or error"},
			&cli.StringFlag{Name: "lock", Usage: "a PEP 751 lock `FILE` (pylock.toml) the environment must be exactly: each package it selects installed at its version from its bytes, nothing else (pip, setuptools and wheel unless it names them); runs the --python interpreter once, isolated, for its markers and tags"},
			&cli.StringFlag{Name: "lock-environment", Usage: "with --lock: the environment's markers and tags as JSON `FILE` ({\"markers\": {...}, \"tags\": [...]}) instead of asking the interpreter; needed with --path"},
			&cli.StringSliceFlag{Name: "lock-extra", Usage: "with --lock: an `EXTRA` the lock was installed with (repeatable)"},
			&cli.StringSliceFlag{Name: "lock-group", Usage: "with --lock: a dependency `GROUP` the lock was installed with (repeatable; default: the lock's default-groups)"},
			&cli.BoolFlag{Name: "online", Usage: "ask each git origin on the GitHub host or in a verify = \"pin\" table again: tags that moved, release assets that changed; other hosts are reported as not re-checked; and each index install's index (the one its receipt names) for the file's PEP 740 provenance again: gone, or by another publisher"},
			&cli.StringSliceFlag{Name: "trusted-root", EnvVars: []string{"PIPGUARD_TRUSTED_ROOT"}, Usage: "with --online: Sigstore trusted_root.json `FILE` index provenance is verified with (repeatable); default: TUF"},
		},
		Action: func(cCtx *cli.Context) error {
			failOn, err := envaudit.ParseSeverity(cCtx.String("fail-on"))
			if err != nil {
				return usagef("--fail-on: %v", err)
			}
			sites := cCtx.StringSlice("path")
			pythons := cCtx.StringSlice("python")
			if len(sites) == 0 && len(pythons) == 0 {
				if e.getenv("VIRTUAL_ENV") == "" {
					return &usageError{err: fmt.Errorf("no virtual environment is active ($VIRTUAL_ENV is not set), and no --python or --path names one"),
						hint: "pass --python with an environment's interpreter (or its directory), or --path with a site-packages directory"}
				}
				pythons = []string{pip.Default(e.getenv)}
			}
			for _, site := range sites {
				if err := siteDir(site); err != nil {
					return err
				}
			}
			var base, prefixes []string
			var version [2]int
			for i, py := range pythons {
				py, err := auditPython(py)
				if err != nil {
					return err
				}
				pythons[i] = py
				sp, err := probeSitePath(cCtx.Context, py)
				if err != nil {
					return err
				}
				v := [2]int{sp.Version[0], sp.Version[1]}
				if i > 0 && v != version {
					v = [2]int{} // the rules of every version
				}
				version = v
				base = append(base, sp.Base...)
				sites = append(sites, sp.Sites...)
				prefixes = append(prefixes, sp.Prefix)
			}
			pol, err := e.policy(cCtx)
			if err != nil {
				return err
			}
			cfg := e.config(cCtx)
			host := cfg.GitHubHost()
			o := envaudit.Options{GitHubHost: host, Severity: map[string]envaudit.Severity{}, AllowDirect: func(u string) bool {
				return pol.DirectAllowed(host, u)
			}, Base: base, Python: version, Prefixes: prefixes, Index: func(project string) envaudit.IndexPolicy {
				return auditIndexPolicy(pol, project)
			}}
			for rule, sev := range pol.AuditSeverity.V {
				if _, ok := envaudit.Rules[rule]; !ok {
					return &policy.Error{Where: pol.AuditSeverity.From, Key: "audit_severity." + rule, Msg: "no such audit rule", Fix: "pipguard audit --help lists them; the README's Pre-deploy check section too"}
				}
				o.Severity[rule] = envaudit.Severity(sev)
			}
			if lock := cCtx.String("lock"); lock != "" {
				var groups []string
				if cCtx.IsSet("lock-group") {
					groups = append([]string{}, cCtx.StringSlice("lock-group")...)
				}
				if o.Lock, err = auditLock(cCtx.Context, lock, cCtx.String("lock-environment"), pythons, cCtx.StringSlice("lock-extra"), groups); err != nil {
					return err
				}
			} else {
				for _, f := range []string{"lock-environment", "lock-extra", "lock-group"} {
					if cCtx.IsSet(f) {
						return usagef("--%s is for --lock, which is not given", f)
					}
				}
			}
			if cCtx.Bool("online") {
				o.OnlineRef = func(repoURL, ref string) (string, error) {
					return installer.MutableRef(cCtx.Context, cfg, pol, repoURL, ref)
				}
				trust, err := e.trust(cCtx)
				if err != nil {
					return err
				}
				ix := installer.NewIndexRecheck(cfg, pol, trust)
				o.Online = func(r *pep610.Receipt) ([][2]string, error) {
					recheck := installer.Recheck
					if r.From == pep610.FromIndex {
						recheck = func(ctx context.Context, _ installer.Config, _ *policy.Policy, r *pep610.Receipt) ([]installer.Drift, error) {
							return ix.Recheck(ctx, r)
						}
					}
					drifts, err := recheck(cCtx.Context, cfg, pol, r)
					var out [][2]string
					for _, d := range drifts {
						out = append(out, [2]string{d.Rule, d.Message})
					}
					return out, err
				}
			}
			rep, err := envaudit.Audit(sites, o)
			if err != nil {
				return err
			}
			switch cCtx.String("format") {
			case "json":
				err = e.writeJSON(rep)
			case "sarif":
				err = e.writeJSON(rep.SARIF(pipguardVersion()))
			default:
				if !cCtx.Bool("quiet") {
					renderAudit(e.stdout, rep, cCtx.Bool("verbose"))
				}
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
				return &findingsFailed{command: "audit", worst: failOn, n: n}
			}
			return nil
		},
	}
}

// auditIndexPolicy is what the policy asks of project's index files, as
// audit judges an index install's receipt.
func auditIndexPolicy(pol *policy.Policy, project string) envaudit.IndexPolicy {
	eff := pol.ForProject(project)
	ip := envaudit.IndexPolicy{Require: eff.Require, Rule: eff.Rule}
	if p := eff.Publisher; p != nil {
		ip.Publisher = &pep610.Publisher{Kind: p.Kind, Repository: p.Repository, Workflow: p.Workflow, WorkflowFilepath: p.WorkflowFilepath, Email: p.Email}
	}
	return ip
}

// auditPython is --python for audit, which never runs it: a virtual
// environment's directory stands for its interpreter, and a bare name is
// looked up on $PATH (see pythonPath).
func auditPython(py string) (string, error) {
	p, err := pythonPath(py)
	if err != nil {
		return "", err
	}
	if !strings.ContainsRune(p, os.PathSeparator) {
		found, err := exec.LookPath(p)
		if err != nil {
			return "", &usageError{err: fmt.Errorf("--python %s: no such interpreter on $PATH", py), hint: "pass the interpreter's path or the virtual environment's directory"}
		}
		p = found
	}
	return p, nil
}

// renderAudit prints the findings as a table, what to do about each rule
// they break (the hints JSON carries per finding), and a summary.
func renderAudit(w io.Writer, rep *envaudit.Report, verbose bool) {
	if verbose && len(rep.Packages) > 0 {
		// Every distribution read, and what vouches for it: the table a
		// reviewer reads to see what the summary's numbers count.
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DISTRIBUTION\tVERSION\tVERIFIED\tSOURCE\tIDENTITY\tPATH")
		for _, p := range rep.Packages {
			v := "no"
			if p.Verified {
				v = "yes"
			}
			// SOURCE is what an authenticated receipt records; IDENTITY an
			// index install's provenance: the verified publisher, or its
			// state.
			src, id := "-", "-"
			if p.Source != "" {
				src = p.Source
			}
			switch {
			case p.Publisher != nil && p.Attestation == pep610.ProvenanceVerified:
				id = p.Publisher.String()
			case p.Attestation != "":
				id = p.Attestation
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(p.Name), cell(p.Version), v, src, shown(id), cell(p.Path))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(rep.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DISTRIBUTION\tVERSION\tSEVERITY\tRULE\tFINDING")
		for _, f := range rep.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(f.Dist), cell(f.Version), f.Severity, f.Rule, shown(f.Message))
		}
		tw.Flush()
		fmt.Fprintln(w)
		fmt.Fprintln(w, "what to do:")
		seen := map[string]bool{}
		for _, f := range rep.Findings {
			if f.Hint != "" && !seen[f.Rule] {
				seen[f.Rule] = true
				fmt.Fprintf(w, "  %s: %s\n", f.Rule, f.Hint)
			}
		}
		fmt.Fprintln(w)
	}
	against := ""
	if rep.Lock != "" {
		against = " against " + rep.Lock
	}
	fmt.Fprintf(w, "%s%s, %d verified by pipguard; %s, %s, %s\n",
		plural(rep.Distributions, "distribution"), against, rep.Verified, plural(rep.Count(envaudit.Error), "error"),
		plural(rep.Count(envaudit.Warning), "warning"), plural(rep.Count(envaudit.Info), "note"))
}

// shown is text an installed distribution chose (its METADATA name and
// version, its directory's name) as a terminal may print it: quoted, with
// escapes, when it holds a control, format (bidi) or other unprintable
// character, which would otherwise reach the terminal as an escape sequence
// or make the table lie about what it lists.
func shown(s string) string {
	if !utf8.ValidString(s) {
		// An invalid byte reads as U+FFFD, printable, but the terminal
		// gets the byte: 0x9b is an 8-bit CSI.
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// cell is text an installed distribution chose, shown in a column of a
// table: as shown says, and also quoted when it holds a space, so that a name such as "evil 1.0 yes" cannot pass for the
// columns after it.
func cell(s string) string {
	if q := shown(s); q != s {
		return q
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return strconv.Quote(s)
	}
	return s
}

// safeLines is an error message as stderr may print it: its line breaks
// and tabs kept, every other control, format or unprintable character and
// every invalid byte written as an escape. Error messages carry names a
// file, a wheel or an environment chose.
func safeLines(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t' || unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// plural is "1 error", "2 errors".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
