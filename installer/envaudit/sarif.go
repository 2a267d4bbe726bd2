package envaudit

import "sort"

// SARIF renders the report as SARIF 2.1.0 (the subset GitHub code scanning
// reads): one run, the rules that fired, one result per finding located at
// the distribution's metadata directory.
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
		results = append(results, map[string]any{
			"ruleId":  f.Rule,
			"level":   level(f.Severity),
			"message": map[string]any{"text": f.Dist + " " + f.Version + ": " + f.Message + ". " + f.Hint},
			"locations": []any{map[string]any{
				"physicalLocation": map[string]any{"artifactLocation": map[string]any{"uri": "file://" + f.Path}},
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

func level(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}
