package main

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

// policy is the effective policy for a command: --policy FILE, else the
// file found from the working directory, else the defaults, with the
// command's flags on top. This is the one place flags become policy.
func (e *env) policy(cCtx *cli.Context) (*policy.Policy, error) {
	var p *policy.Policy
	if path := cCtx.String("policy"); path != "" {
		if err := policyPath(path); err != nil {
			return nil, err
		}
		var err error
		if p, err = policy.Load(path); err != nil {
			return nil, err
		}
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		// Discover reads the file it finds once and refuses one it
		// cannot trust (policy/find.go).
		if p, err = policy.Discover(wd); err != nil {
			return nil, err
		}
	}
	var f policy.Flags
	str := func(name string) *string {
		if !cCtx.IsSet(name) {
			return nil
		}
		v := cCtx.String(name)
		return &v
	}
	boolean := func(name string) *bool {
		if !cCtx.IsSet(name) {
			return nil
		}
		v := cCtx.Bool(name)
		return &v
	}
	f.SignerWorkflow, f.SignerRepo = str("signer-workflow"), str("signer-repo")
	if ref := str("source-ref"); ref != nil {
		f.SourceRefs = []string{*ref}
	}
	if cCtx.IsSet("max-commit-distance") {
		n := cCtx.Int("max-commit-distance")
		f.MaxCommitDistance = &n
	}
	f.DenySelfHosted, f.RequireSBOM, f.RequireRelease = boolean("deny-self-hosted-runners"), boolean("require-sbom"), boolean("require-release-attestation")
	f.InstallFrom = str("from")
	f.AllowSdist, f.AllowSourceBuilds = boolean("allow-sdist"), boolean("allow-source-builds")
	return p.WithFlags(f)
}

func policyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "policy",
		Usage:     "show the effective policy and where each value came from",
		ArgsUsage: "show",
		Description: `pipguard policy show prints the policy pipguard would apply here: the file
   (--policy FILE, else the nearest pyproject.toml with [tool.pipguard] or
   pipguard.toml upward from the working directory, never past the project's own
   pyproject.toml, a .git, or a directory the project does not own), every key,
   global and of each [[tool.pipguard.repo]] table, with flags on top, each
   value with the rule that set it. The file is validated as every command
   validates it; every error in it is reported. --format json prints the same
   data.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "signer-workflow", Usage: "as for install"},
			&cli.StringFlag{Name: "signer-repo", Usage: "as for install"},
			&cli.StringFlag{Name: "source-ref", Usage: "as for install"},
			&cli.BoolFlag{Name: "deny-self-hosted-runners", Usage: "as for install"},
			&cli.IntFlag{Name: "max-commit-distance", Usage: "as for install"},
			&cli.BoolFlag{Name: "require-sbom", Usage: "as for install"},
			&cli.BoolFlag{Name: "require-release-attestation", Usage: "as for install"},
			&cli.StringFlag{Name: "from", Usage: "as for install"},
			&cli.BoolFlag{Name: "allow-sdist", Usage: "as for install"},
			&cli.BoolFlag{Name: "allow-source-builds", Usage: "as for install"},
		},
		Action: func(cCtx *cli.Context) error {
			if cCtx.Args().Len() != 1 || cCtx.Args().First() != "show" {
				return usagef("usage: pipguard policy show [--policy FILE] [--format json]")
			}
			p, err := e.policy(cCtx)
			if err != nil {
				return err
			}
			type repo struct {
				policy.RepoRules
				Effective policy.Rules `json:"effective"`
			}
			out := struct {
				Schema string `json:"schema"`
				*policy.Policy
				Repos []repo `json:"repos"`
			}{Schema: "pipguard.policy/v1", Policy: p, Repos: []repo{}}
			for _, r := range p.Repos {
				out.Repos = append(out.Repos, repo{RepoRules: r, Effective: p.For(r.Match).Rules})
			}
			if cCtx.String("format") == "json" {
				return e.writeJSON(out)
			}
			renderPolicy(e.stdout, p)
			return nil
		},
	}
}

// ruleKeys are the rules in the order they are shown, by their TOML keys.
var ruleKeys = []string{"verify", "signer_workflow", "signer_repo", "source_refs", "max_commit_distance", "runner", "require", "install_from", "allow_sdist", "allow_source_builds"}

// ruleValues returns the rules' values by TOML key, through their JSON
// names (the same words).
func ruleValues(r policy.Rules) map[string][2]string {
	out := map[string][2]string{}
	v := reflect.ValueOf(r)
	for i := 0; i < v.NumField(); i++ {
		key := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
		f := v.Field(i)
		val := f.FieldByName("V").Interface()
		shown := fmt.Sprint(val)
		switch x := val.(type) {
		case string:
			shown = fmt.Sprintf("%q", x)
		case []string:
			shown = quoteList(x)
		}
		out[key] = [2]string{shown, f.FieldByName("From").String()}
	}
	return out
}

// quoteList is a list of strings as TOML writes it.
func quoteList(x []string) string {
	q := make([]string, len(x))
	for j, s := range x {
		q[j] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func renderPolicy(w io.Writer, p *policy.Policy) {
	file := p.File
	if file == "" {
		file = "none (defaults)"
	}
	fmt.Fprintf(w, "policy file: %s\n\nglobal:\n", file)
	show := func(r policy.Rules) {
		vals := ruleValues(r)
		for _, k := range ruleKeys {
			fmt.Fprintf(w, "  %-20s %-40s %s\n", k, vals[k][0], vals[k][1])
		}
	}
	show(p.Global)
	line := func(key, val, from string) { fmt.Fprintf(w, "  %-20s %-40s %s\n", key, val, from) }
	line("index_pins", fmt.Sprintf("%q", p.IndexPins.V), p.IndexPins.From)
	line("dependency_conflicts", fmt.Sprintf("%q", p.DependencyConflicts.V), p.DependencyConflicts.From)
	indexes := "any (not set)"
	if p.Indexes.V != nil {
		indexes = quoteList(p.Indexes.V)
	}
	line("indexes", indexes, p.Indexes.From)
	line("allow_direct", quoteList(p.AllowDirect.V), p.AllowDirect.From)
	var sev []string
	for _, rule := range slices.Sorted(maps.Keys(p.AuditSeverity.V)) {
		sev = append(sev, fmt.Sprintf("%q = %q", rule, p.AuditSeverity.V[rule]))
	}
	line("audit_severity", "{"+strings.Join(sev, ", ")+"}", p.AuditSeverity.From)
	line("index_attestations", fmt.Sprintf("%q", p.IndexAttestations.V), p.IndexAttestations.From)
	for _, r := range p.IndexRules {
		pub := "any"
		if r.Publisher != nil {
			pub = r.Publisher.String()
		}
		fmt.Fprintf(w, "\nindex %q (%s):\n  %-20s %s\n  %-20s %v\n", r.Match, r.Where, "publisher", pub, "require", r.Require)
	}
	for _, r := range p.Repos {
		fmt.Fprintf(w, "\nrepo %q (%s):\n", r.Match, r.Where)
		show(p.For(r.Match).Rules)
	}
}

// policyPath refuses a policy path that cannot be a trustworthy policy
// file before it is read: a directory (say so, rather than that anyone can
// write it, or the reader's "is a directory"), or a file in a directory
// that anyone on this machine can write without the sticky bit, where
// anyone can replace the file with their own.
func policyPath(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // policy.Load says what is wrong
	}
	if fi.IsDir() {
		return &policy.Error{Where: path, Msg: "is a directory, not a policy file",
			Fix: "pass --policy with a pipguard.toml or a pyproject.toml that has a [tool.pipguard] table"}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	dir := filepath.Dir(abs)
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o002 != 0 && di.Mode()&fs.ModeSticky == 0 {
		return &policy.Error{Where: path, Msg: fmt.Sprintf("its directory %s can be written by anyone on this machine, who can replace the file with their own, so it cannot decide what is trusted", dir),
			Fix: "chmod o-w " + dir + ", or keep the policy in a directory only you can write"}
	}
	return nil
}

// repoTable is how the policy file in use writes a repository's table:
// [[repo]] in a pipguard.toml, [[tool.pipguard.repo]] in a pyproject.toml
// (and when there is no policy file, the form pipguard looks for first).
func repoTable(pol *policy.Policy) string {
	if pol.File != "" && filepath.Base(pol.File) != "pyproject.toml" {
		return "[[repo]]"
	}
	return "[[tool.pipguard.repo]]"
}
