package lint

import (
	"path/filepath"
	"sort"

	"github.com/pipguard/pipguard/installer/envaudit"
)

// SARIF renders the report as SARIF 2.1.0 (the subset GitHub code scanning
// reads), as pipguard audit does: one run, the rules that fired, one result
// per finding at its file, line and column. Relative paths are relative to
// the checkout (%SRCROOT%), as code scanning expects.
func (r *Report) SARIF(version string) map[string]any {
	fired := map[string]bool{}
	for _, f := range r.Findings {
		fired[f.Rule] = true
	}
	var ids []string
	for id := range fired {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rules := []any{}
	for _, id := range ids {
		rule := Rules[id]
		rules = append(rules, map[string]any{
			"id":                   id,
			"shortDescription":     map[string]any{"text": rule.Description},
			"help":                 map[string]any{"text": rule.Hint},
			"defaultConfiguration": map[string]any{"level": level(rule.Severity)},
		})
	}
	results := []any{}
	for _, f := range r.Findings {
		artifact := map[string]any{"uri": filepath.ToSlash(f.File)}
		if filepath.IsAbs(f.File) {
			artifact["uri"] = "file://" + filepath.ToSlash(f.File)
		} else {
			artifact["uriBaseId"] = "%SRCROOT%"
		}
		results = append(results, map[string]any{
			"ruleId":  f.Rule,
			"level":   level(f.Severity),
			"message": map[string]any{"text": f.Text() + ". " + f.Hint},
			"locations": []any{map[string]any{
				"physicalLocation": map[string]any{
					"artifactLocation": artifact,
					"region":           map[string]any{"startLine": f.Line, "startColumn": f.Column},
				},
			}},
		})
	}
	return map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "pipguard", "version": version, "informationUri": "https://github.com/pipguard/pipguard", "rules": rules,
			}},
			"results": results,
		}},
	}
}

// Text is the finding's message with the policy rule that decided it.
func (f Finding) Text() string {
	if f.Policy == "" {
		return f.Message
	}
	return f.Message + " (policy " + f.Policy + ")"
}

func level(s Severity) string {
	switch s {
	case envaudit.Error:
		return "error"
	case envaudit.Warning:
		return "warning"
	}
	return "note"
}
