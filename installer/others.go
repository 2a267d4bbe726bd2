package installer

import (
	"fmt"
	"strings"

	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// Rules for everything else pip installs: how index requirements must be
// pinned, which package sources may be named, which unverified direct
// references may come in.

// checkOthers applies index_pins and indexes to what the user wrote: index
// requirements, and the package sources named in requirements files and
// pip's arguments (pip's configuration is checked by the driver).
func checkOthers(entries []reqfile.Entry, o InstallOptions, rep *InstallReport) error {
	pol := o.Rules
	var reasons []string
	for _, e := range entries {
		if e.Req == nil || e.Constraint || e.Req.Kind != requirement.KindIndex || requirement.IsPinned(e.Req.Specifier) {
			continue
		}
		msg := fmt.Sprintf("%s: %s is not pinned with == (policy %s)", where(e), e.ReqText, pol.IndexPins.Rule("index_pins"))
		switch pol.IndexPins.V {
		case "require":
			reasons = append(reasons, msg)
		case "warn":
			rep.Warnings = append(rep.Warnings, msg+"; the lock pins what pip resolves today, the next run may resolve another version")
		}
	}
	// What pipguard check calls index-insecure (a warning there) is a
	// warning here: the same decision from the same text.
	for _, e := range entries {
		if why := e.Insecure(); why != "" {
			rep.Warnings = append(rep.Warnings, where(e)+": "+why)
		}
	}
	if pol.Indexes.V != nil {
		check := func(at, opt, value string) {
			if !pol.SourceAllowed(value) {
				reasons = append(reasons, fmt.Sprintf("%s: %s %s is not a package source the policy allows (%s)", at, opt, value, pol.Indexes.Rule("indexes")))
			}
		}
		for _, e := range entries {
			if len(e.Option) == 2 && requirement.IsSourceOption(e.Option[0]) {
				check(where(e), e.Option[0], e.Option[1])
			}
		}
		for i := 0; i < len(o.PipArgs); i++ {
			name, value, has := strings.Cut(o.PipArgs[i], "=")
			if !requirement.IsSourceOption(name) {
				continue
			}
			if !has && i+1 < len(o.PipArgs) {
				value = o.PipArgs[i+1]
				i++
			}
			check("pip argument", name, value)
		}
	}
	if len(reasons) > 0 {
		return &RefusedError{Reasons: reasons, Fix: "pin the requirement (name==version), or name only the package sources in the policy's indexes (dependency confusion: an extra index can serve any name)"}
	}
	return nil
}
