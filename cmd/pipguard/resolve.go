package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

func resolveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "resolve git requirements to immutable commits, refusing mutable refs",
		ArgsUsage: "REQ|URL@REF...",
		Description: `Lists the remote's refs (no clone) and accepts a tag or a full commit SHA.
   Refuses (exit 3) a branch, a name that is both a branch and a tag, HEAD,
   other refs, a short SHA, no ref, or a ref that does not exist.

   Examples:
     pipguard resolve "fastapi-paseto @ git+https://github.com/Raze-Systems/fastapi-paseto.git@v1.3.1"
     pipguard resolve --format json git+file:///srv/repo@v1.0.0`,
		Action: func(cCtx *cli.Context) error {
			if !cCtx.Args().Present() {
				return usagef("resolve needs a requirement, e.g. pipguard resolve \"pkg @ git+https://github.com/o/r.git@v1.2.3\"")
			}
			cfg := e.config(cCtx)
			var results []resolveView
			var errs []error
			for _, arg := range cCtx.Args().Slice() {
				res, err := installer.Resolve(cCtx.Context, cfg, arg)
				if res != nil {
					results = append(results, viewResolved(res))
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			out := resolveOutput{Schema: "pipguard.resolve/v1", Results: results}
			if out.Results == nil {
				out.Results = []resolveView{}
			}
			if cCtx.String("format") == "json" {
				if err := e.writeJSON(out); err != nil {
					return err
				}
			} else if !cCtx.Bool("quiet") {
				renderResolve(e.stdout, out, cCtx.Bool("verbose"))
			}
			return errors.Join(errs...)
		},
	}
}

// resolveOutput is the JSON document of pipguard resolve; text output is
// rendered from the same value.
type resolveOutput struct {
	Schema  string        `json:"schema"`
	Results []resolveView `json:"results"`
}

type resolveView struct {
	Requirement  string         `json:"requirement"`
	Name         string         `json:"name"`
	Repo         string         `json:"repo_url"`
	Ref          string         `json:"ref"`
	Kind         string         `json:"kind,omitempty"`
	RefName      string         `json:"ref_name,omitempty"`
	Commit       string         `json:"commit,omitempty"`
	TagObject    string         `json:"tag_object,omitempty"`
	TagsAtCommit []string       `json:"tags_at_commit"`
	Decision     policy.Verdict `json:"decision"`
	Reasons      []string       `json:"reasons"`
	Hint         string         `json:"hint,omitempty"`
	Checks       []policy.Check `json:"checks"`
}

func viewResolved(r *installer.Resolved) resolveView {
	v := resolveView{
		Requirement:  r.Requirement.String(),
		Name:         r.Name,
		Repo:         r.Repo,
		Ref:          r.Requested,
		Kind:         string(r.Kind),
		RefName:      r.RefName,
		Commit:       r.Commit,
		TagObject:    r.TagObject,
		TagsAtCommit: r.TagsAtCommit,
		Decision:     r.Decision.Verdict(),
		Checks:       r.Decision.Checks,
		Reasons:      []string{},
	}
	for _, c := range r.Decision.Checks {
		if c.Outcome == policy.Fail {
			v.Reasons = append(v.Reasons, fmt.Sprintf("ref %q %s", r.Requested, c.Reason))
			v.Hint = c.Hint
		}
	}
	if v.Decision == policy.Accept {
		v.Reasons = append(v.Reasons, acceptReason(r.Resolution))
	}
	return v
}

func acceptReason(r *gitref.Resolution) string {
	switch r.Kind {
	case gitref.Commit:
		return "a full commit SHA names one immutable commit"
	default:
		return "a tag that is not also a branch (" + string(r.Kind) + ")"
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

func renderResolve(w io.Writer, out resolveOutput, verbose bool) {
	for _, r := range out.Results {
		if r.Decision != policy.Accept {
			continue // refusals are reported on stderr
		}
		detail := r.Kind
		if r.TagObject != "" {
			detail += ", tag object " + short(r.TagObject)
		}
		if r.Kind == string(gitref.Commit) && len(r.TagsAtCommit) > 0 {
			detail += ", tagged " + strings.Join(r.TagsAtCommit, ", ")
		}
		fmt.Fprintf(w, "%s  %s -> %s (%s)\n", r.Name, r.Ref, r.Commit, detail)
		for _, c := range r.Checks {
			if c.Outcome == policy.Warn {
				fmt.Fprintf(w, "  warning: %s\n", c.Reason)
			}
		}
		if verbose {
			fmt.Fprintf(w, "  repository: %s\n", r.Repo)
			fmt.Fprintf(w, "  tags at commit: %s\n", strings.Join(r.TagsAtCommit, ", "))
			for _, c := range r.Checks {
				fmt.Fprintf(w, "  %-4s %s: %s\n", c.Outcome, c.Name, c.Actual)
			}
		}
	}
}
