package installer

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/installer/layout"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// findDist returns the installed distributions named name, in every
// site-packages directory (each directory counted once; see pip.Info).
func findDist(info *pip.Info, name string) []pep610.Dist {
	return listInstalled(info).find(name)
}

// installedDists is one listing of the environment's distributions (every
// site-packages directory, each counted once), by normalized name: for a
// stage that looks many names up in one state of the disk.
type installedDists map[string][]pep610.Dist

func listInstalled(info *pip.Info) installedDists {
	m := installedDists{}
	for _, site := range info.Site {
		ds, err := pep610.Installed(site)
		if err != nil {
			continue
		}
		for _, d := range ds {
			n := pep610.Normalize(d.Name)
			m[n] = append(m[n], d)
		}
	}
	return m
}

func (m installedDists) find(name string) []pep610.Dist { return m[pep610.Normalize(name)] }

// auditOne checks one guarded requirement's installed record (PEP 610
// direct_url.json) against the wheel pipguard had pip install, whose
// sha256 is wheelSHA: the verified release asset, or the wheel pipguard
// built from the verified (or pinned) commit.
func auditOne(info *pip.Info, g *Guarded, wheelSHA string) policy.Decision {
	return auditIn(listInstalled(info), g, wheelSHA)
}

// auditIn is auditOne on a listing of the environment.
func auditIn(installed installedDists, g *Guarded, wheelSHA string) policy.Decision {
	var d policy.Decision
	dists := installed.find(g.Name)
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
	if wheelSHA == "" {
		d.Add(policy.Check{Name: "direct-url", Outcome: policy.Fail, Reason: "no wheel digest to compare direct_url.json with (no authenticated receipt records the wheel pipguard built)"})
		return d
	}
	mism := pep610.CheckArchive(du, wheelSHA)
	if len(mism) == 0 {
		d.Add(policy.Check{Name: "direct-url", Outcome: policy.Pass, Actual: du.Kind() + "_info matches the wheel pipguard installed"})
		return d
	}
	for _, m := range mism {
		d.Add(policy.Check{Name: "direct-url", Outcome: policy.Fail, Expected: m.Expected, Actual: m.Actual, Reason: "direct_url.json " + m.String()})
	}
	return d
}

// installedWheel says which wheel a guarded requirement's installed
// distribution was installed from, as far as pipguard can prove it, and
// whether its files are that wheel's: for a release, the verified asset
// (its archive read and planned, the disk compared with it); for a wheel
// pipguard built, the authenticated receipt of the same commit, and the
// files RECORD hashes. "" and a reason when it cannot say.
func installedWheel(info *pip.Info, g *Guarded, key []byte) (sha string, why string) {
	dists := findDist(info, g.Name)
	if len(dists) != 1 {
		return "", fmt.Sprintf("found %d installed distributions named %s", len(dists), g.Name)
	}
	if g.from == FromRelease && strings.HasSuffix(g.Asset, ".whl") && g.assetPath != "" {
		w, err := layout.Open(g.assetPath)
		if err != nil {
			return "", err.Error()
		}
		pl, err := layout.PlanWheel(w, schemeFor(info, g.Name), layout.PlanOptions{Direct: true, Requested: true})
		if err != nil {
			return "", err.Error()
		}
		withReceipt(pl)
		if probs := layout.Check([]*layout.Plan{pl}); len(probs) > 0 {
			return "", fmt.Sprintf("its files are not the verified wheel's: %s: %s", probs[0].Path, probs[0].Why)
		}
		return g.SHA256, ""
	}
	r, err := dists[0].Receipt(key)
	if err != nil {
		return "", err.Error()
	}
	if !r.Built || !strings.EqualFold(r.Commit, g.Resolution.Commit) || r.WheelSHA256 == "" {
		return "", fmt.Sprintf("its receipt records commit %s (built %v), not a wheel built from %s", r.Commit, r.Built, g.Resolution.Commit)
	}
	if probs, err := dists[0].CheckRecord(1); err != nil || len(probs) > 0 {
		if err != nil {
			return "", err.Error()
		}
		return "", probs[0].String()
	}
	return r.WheelSHA256, ""
}

// withReceipt adds pipguard's receipt, which it writes after pip (for
// every verified, pinned or index install), to a wheel's plan, so that
// comparing an installed distribution with the plan does not take the
// receipt for a file the wheel does not write.
func withReceipt(pl *layout.Plan) {
	path := filepath.Join(pl.DistInfo, pep610.ReceiptFile)
	for _, f := range pl.Files {
		if f.Path == path {
			return // the wheel ships one (the plan refuses such a wheel)
		}
	}
	pl.Files = append(pl.Files, layout.File{Path: path, Kind: layout.Metadata})
	sort.Slice(pl.Files, func(i, j int) bool { return pl.Files[i].Path < pl.Files[j].Path })
}
