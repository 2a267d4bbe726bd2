package policy

import "strings"

// Outcome is the result of one check.
type Outcome string

const (
	// Pass means the rule was checked and holds.
	Pass Outcome = "pass"
	// Fail means the rule was checked and does not hold.
	Fail Outcome = "fail"
	// NotChecked means the rule was not evaluated (not applicable, or an
	// earlier failure made it meaningless). A NotChecked check never makes a
	// decision pass on its own.
	NotChecked Outcome = "not-checked"
	// Warn means the rule holds but with a caveat the user should see.
	Warn Outcome = "warn"
)

// Check is one recorded rule with its outcome. Expected and Actual are the
// values compared, as the user would write them; Hint says what to do when the
// check fails.
type Check struct {
	Name     string  `json:"name"`
	Outcome  Outcome `json:"outcome"`
	Expected string  `json:"expected,omitempty"`
	Actual   string  `json:"actual,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	Hint     string  `json:"hint,omitempty"`
	// Rule names the policy rule that decided the check, e.g.
	// `repo "o/r" (pyproject.toml:12): max_commit_distance = 1`, "default",
	// "flag --require-sbom".
	Rule string `json:"rule,omitempty"`
}

// Verdict is the overall decision.
type Verdict string

const (
	// Accept means every check passed (or warned).
	Accept Verdict = "accept"
	// Refuse means at least one check failed.
	Refuse Verdict = "refuse"
)

// Decision is the list of checks made about one subject, in the order they
// were made.
type Decision struct {
	Checks []Check `json:"checks"`
}

// Add records a check and returns it for chaining in tests.
func (d *Decision) Add(c Check) Check {
	d.Checks = append(d.Checks, c)
	return c
}

// Verdict is Refuse when any check failed, else Accept.
func (d *Decision) Verdict() Verdict {
	for _, c := range d.Checks {
		if c.Outcome == Fail {
			return Refuse
		}
	}
	return Accept
}

// Failures returns the failed checks.
func (d *Decision) Failures() []Check {
	var out []Check
	for _, c := range d.Checks {
		if c.Outcome == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Summary joins the reasons of the failed checks with "; ", for errors.
func (d *Decision) Summary() string {
	var parts []string
	for _, c := range d.Failures() {
		parts = append(parts, c.Reason)
	}
	return strings.Join(parts, "; ")
}
