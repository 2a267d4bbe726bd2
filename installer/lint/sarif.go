package lint

import (
	"path/filepath"

	"github.com/pipguard/pipguard/installer/envaudit"
)

// SARIF renders the report as SARIF 2.1.0 (the subset GitHub code scanning
// reads), as pipguard audit does: one run, the rules that fired, one result
// per finding at its file, line and column. Relative paths are relative to
// the checkout (%SRCROOT%), as code scanning expects.
func (r *Report) SARIF(version string) map[string]any {
	var fired []string
	results := []any{}
	for _, f := range r.Findings {
		fired = append(fired, f.Rule)
		artifact := map[string]any{"uri": filepath.ToSlash(f.File)}
		if filepath.IsAbs(f.File) {
			artifact["uri"] = "file://" + filepath.ToSlash(f.File)
		} else {
			artifact["uriBaseId"] = "%SRCROOT%"
		}
		results = append(results, map[string]any{
			"ruleId":  f.Rule,
			"level":   envaudit.SARIFLevel(f.Severity),
			"message": map[string]any{"text": f.Text() + ". " + f.Hint},
			"locations": []any{map[string]any{
				"physicalLocation": map[string]any{
					"artifactLocation": artifact,
					"region":           map[string]any{"startLine": f.Line, "startColumn": f.Column},
				},
			}},
		})
	}
	return envaudit.SARIFLog(version, fired, results, func(id string) (string, string, Severity) {
		return Rules[id].Description, Rules[id].Hint, Rules[id].Severity
	})
}

// Text is the finding's message with the policy rule that decided it.
func (f Finding) Text() string {
	if f.Policy == "" {
		return f.Message
	}
	return f.Message + " (policy " + f.Policy + ")"
}
