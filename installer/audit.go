package installer

import (
	"context"
	"fmt"
	"strings"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// audit checks, for every verified requirement, the direct_url.json pip
// wrote (PEP 610) against what was verified. A distribution pip left alone
// (same version already installed) is accepted only if its existing record
// already matches; otherwise that one distribution is reinstalled. On any
// mismatch everything this run installed is uninstalled.
func audit(ctx context.Context, py pip.Python, info *pip.Info, rep *InstallReport, done *pip.Report, dir string, args []string) error {
	installed := map[string]bool{}
	var order []string
	for _, it := range done.Install {
		n := pep610.Normalize(it.Metadata.Name)
		if !installed[n] {
			installed[n] = true
			order = append(order, it.Metadata.Name)
		}
	}
	var reasons []string
	for _, g := range rep.Guarded {
		if g.Skipped != "" || g.PipRequirement == "" {
			continue
		}
		outcome := "installed"
		d := auditOne(info, rep.From, g)
		if !installed[pep610.Normalize(g.Name)] {
			outcome = "already verified"
			if d.Verdict() != policy.Accept {
				// pip kept an install of the same version from elsewhere:
				// replace just that distribution with the verified one.
				r, err := py.Install(ctx, dir, false, append([]string{"--force-reinstall", "--no-deps", g.PipRequirement}, args...)...)
				if err != nil {
					return err
				}
				for _, it := range r.Install {
					if !installed[pep610.Normalize(it.Metadata.Name)] {
						installed[pep610.Normalize(it.Metadata.Name)] = true
						order = append(order, it.Metadata.Name)
					}
				}
				outcome = "reinstalled"
				d = auditOne(info, rep.From, g)
			}
		}
		inst := Installed{Name: g.Name, Outcome: outcome, Decision: d}
		if dists, _ := findDist(info, g.Name); len(dists) == 1 {
			inst.Version = dists[0].Version
		}
		rep.Installed = append(rep.Installed, inst)
		for _, c := range d.Failures() {
			reasons = append(reasons, g.Name+": "+c.Reason)
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	if len(order) > 0 {
		if err := py.Uninstall(ctx, order...); err != nil {
			return fmt.Errorf("%w; and uninstalling %s failed: %v", &AuditError{Reasons: reasons}, strings.Join(order, ", "), err)
		}
		rep.Uninstalled = order
	}
	return &AuditError{Reasons: reasons, Uninstalled: order}
}

func findDist(info *pip.Info, name string) ([]pep610.Dist, error) {
	var out []pep610.Dist
	for _, site := range info.Site {
		ds, err := pep610.Find(site, name)
		if err != nil {
			continue
		}
		out = append(out, ds...)
	}
	return out, nil
}

// auditOne checks one verified requirement's installed record.
func auditOne(info *pip.Info, from From, g *Guarded) policy.Decision {
	var d policy.Decision
	dists, _ := findDist(info, g.Name)
	if len(dists) != 1 {
		d.Add(policy.Check{Name: "installed", Outcome: policy.Fail, Expected: "one " + g.Name + " distribution", Actual: fmt.Sprint(len(dists)),
			Reason: fmt.Sprintf("found %d installed distributions named %s", len(dists), g.Name)})
		return d
	}
	dist := dists[0]
	d.Add(policy.Check{Name: "installed", Outcome: policy.Pass, Actual: dist.Name + " " + dist.Version})
	if inst := dist.Installer(); inst != "pip" {
		d.Add(policy.Check{Name: "installer", Outcome: policy.Fail, Expected: "pip", Actual: inst, Reason: fmt.Sprintf("INSTALLER is %q, not pip", inst)})
	} else {
		d.Add(policy.Check{Name: "installer", Outcome: policy.Pass, Actual: inst})
	}
	du, err := dist.DirectURL()
	if err != nil {
		d.Add(policy.Check{Name: "direct-url", Outcome: policy.Fail, Reason: err.Error()})
		return d
	}
	var mism []pep610.Mismatch
	if from == FromGit {
		mism = pep610.CheckGit(du, g.req.VCS.RepoURL(), g.Resolution.Commit)
	} else {
		mism = pep610.CheckArchive(du, g.SHA256)
	}
	if len(mism) == 0 {
		d.Add(policy.Check{Name: "direct-url", Outcome: policy.Pass, Actual: du.Kind() + "_info matches what was verified"})
		return d
	}
	for _, m := range mism {
		d.Add(policy.Check{Name: "direct-url", Outcome: policy.Fail, Expected: m.Expected, Actual: m.Actual, Reason: "direct_url.json " + m.String()})
	}
	return d
}
