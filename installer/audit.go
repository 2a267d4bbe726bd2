package installer

import (
	"fmt"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// findDist returns the installed distributions named name, in every
// site-packages directory (each directory counted once; see pip.Info).
func findDist(info *pip.Info, name string) []pep610.Dist {
	var out []pep610.Dist
	for _, site := range info.Site {
		ds, err := pep610.Find(site, name)
		if err != nil {
			continue
		}
		out = append(out, ds...)
	}
	return out
}

// auditOne checks one verified requirement's installed record (PEP 610
// direct_url.json) against what was verified.
func auditOne(info *pip.Info, g *Guarded) policy.Decision {
	var d policy.Decision
	dists := findDist(info, g.Name)
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
	if g.from == FromGit {
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
