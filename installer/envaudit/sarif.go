package envaudit

import (
	"net/url"
	"path/filepath"
	"sort"
)

// SARIF renders the report as SARIF 2.1.0 (the subset GitHub code scanning
// reads): one run, the rules that fired, one result per finding located at
// the distribution's metadata directory.
func (r *Report) SARIF(version string) map[string]any {
	var fired []string
	results := []any{}
	for _, f := range r.Findings {
		fired = append(fired, f.Rule)
		results = append(results, map[string]any{
			"ruleId":  f.Rule,
			"level":   SARIFLevel(f.Severity),
			"message": map[string]any{"text": f.Dist + " " + f.Version + ": " + f.Message + ". " + f.Hint},
			"locations": []any{map[string]any{
				"physicalLocation": map[string]any{"artifactLocation": SARIFArtifact(f.Path)},
			}},
		})
	}
	return SARIFLog(version, fired, results, func(id string) (string, string, Severity) {
		return Rules[id].Description, Rules[id].Hint, Rules[id].Severity
	})
}

// SARIFLog is the SARIF 2.1.0 log of one pipguard run (audit's, check's):
// the rules of fired (IDs, in any order, repeated or not) as describe
// gives them, and the results.
func SARIFLog(version string, fired []string, results []any, describe func(id string) (description, hint string, severity Severity)) map[string]any {
	ids := append([]string(nil), fired...)
	sort.Strings(ids)
	described := []any{}
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			continue
		}
		desc, hint, sev := describe(id)
		described = append(described, map[string]any{
			"id":                   id,
			"shortDescription":     map[string]any{"text": desc},
			"help":                 map[string]any{"text": hint},
			"defaultConfiguration": map[string]any{"level": SARIFLevel(sev)},
		})
	}
	return map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "pipguard", "version": version, "informationUri": "https://github.com/pipguard/pipguard", "rules": described,
			}},
			"results": results,
		}},
	}
}

// SARIFLevel is a severity as a SARIF result level.
func SARIFLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

// SARIFArtifact is a SARIF artifactLocation for a file path: a file:// URI
// for an absolute path, else a relative reference to the checkout
// (%SRCROOT%), as code scanning expects; percent-encoded either way (SARIF
// 2.1.0 §3.10: a uri is a URI, so a space, "#" or "%" in a path is
// encoded, not written as it is).
func SARIFArtifact(path string) map[string]any {
	p := filepath.ToSlash(path)
	if filepath.IsAbs(path) {
		return map[string]any{"uri": (&url.URL{Scheme: "file", Path: p}).String()}
	}
	return map[string]any{"uri": (&url.URL{Path: p}).String(), "uriBaseId": "%SRCROOT%"}
}
