package installer

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/policy"
)

// Rules for everything else pip installs: how index requirements must be
// pinned, which package sources may be named, which unverified direct
// references may come in.

// isPinned says whether an index requirement's specifier names exactly one
// version: "==X" (no wildcard) or "===X".
func isPinned(spec string) bool {
	s := strings.TrimSpace(spec)
	if strings.Contains(s, ",") {
		return false
	}
	if v, ok := strings.CutPrefix(s, "==="); ok {
		return strings.TrimSpace(v) != ""
	}
	v, ok := strings.CutPrefix(s, "==")
	return ok && strings.TrimSpace(v) != "" && !strings.Contains(v, "*")
}

// checkOthers applies index_pins and indexes to what the user wrote: index
// requirements, and the package sources named in requirements files and
// pip's arguments (pip's configuration is checked by the driver).
func checkOthers(entries []reqfile.Entry, o InstallOptions, rep *InstallReport) error {
	pol := o.Rules
	var reasons []string
	for _, e := range entries {
		if e.Req == nil || e.Constraint || e.Req.Kind != requirement.KindIndex || isPinned(e.Req.Specifier) {
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
	if pol.Indexes.V != nil {
		check := func(at, opt, value string) {
			if !sourceAllowed(pol.Indexes.V, value) {
				reasons = append(reasons, fmt.Sprintf("%s: %s %s is not a package source the policy allows (%s)", at, opt, value, pol.Indexes.Rule("indexes")))
			}
		}
		for _, e := range entries {
			if len(e.Option) == 2 && sourceOption[e.Option[0]] {
				check(where(e), e.Option[0], e.Option[1])
			}
		}
		for i := 0; i < len(o.PipArgs); i++ {
			name, value, has := strings.Cut(o.PipArgs[i], "=")
			if !sourceOption[name] {
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

var sourceOption = map[string]bool{"-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true}

// sourceAllowed compares a package source with the policy's list,
// ignoring a trailing slash.
func sourceAllowed(allowed []string, value string) bool {
	v := strings.TrimSuffix(value, "/")
	for _, a := range allowed {
		if strings.TrimSuffix(a, "/") == v {
			return true
		}
	}
	return false
}

// DirectAllowed says whether the policy's allow_direct admits an
// unverified direct reference: OWNER/REPO or OWNER/* on the GitHub host,
// or a URL prefix.
func DirectAllowed(pol *policy.Policy, githubHost, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || hasDotSegment(u) {
		// git and HTTP clients remove "." and ".." segments: a prefix
		// check on the raw text would be fooled by host/acme/../evil.
		return false
	}
	for _, a := range pol.AllowDirect.V {
		if strings.Contains(a, "://") {
			// A prefix ends at a path boundary: https://host/acme allows
			// https://host/acme/x, never https://host/acme-evil.
			p := strings.TrimSuffix(a, "/")
			if rawURL == p || strings.HasPrefix(rawURL, p+"/") {
				return true
			}
			continue
		}
		if !strings.EqualFold(u.Host, githubHost) {
			continue
		}
		repo := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
		if ok, _ := path.Match(strings.ToLower(a), strings.ToLower(repo)); ok {
			return true
		}
	}
	return false
}

// hasDotSegment says whether a URL's path has a "." or ".." segment, also
// percent-encoded.
func hasDotSegment(u *url.URL) bool {
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		switch strings.ToLower(seg) {
		case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
			return true
		}
	}
	return false
}
