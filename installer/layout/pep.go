package layout

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pipguard/pipguard/internal/pep440"
)

// normalize is PEP 503 name normalisation: "the name should be lowercased
// with all runs of the characters ., -, or _ replaced with a single -".
func normalize(name string) string { return normRE.ReplaceAllString(strings.ToLower(name), "-") }

var normRE = regexp.MustCompile(`[-_.]+`)

// canonicalVersion is packaging's canonicalize_version of a valid
// version, so that 1.0 and 1.0.0 compare equal; it fails for a string
// that is not a PEP 440 version (internal/pep440).
func canonicalVersion(v string) (string, error) { return pep440.Canonical(v) }

// splitLines is Python's str.splitlines(): the line boundaries are \n, \r,
// \r\n, \v, \f, \x1c, \x1d, \x1e, \x85, U+2028 and U+2029; no empty
// string after a final boundary.
func splitLines(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		switch r {
		case '\n', '\r', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
		default:
			continue
		}
		if i < start { // the \n of a \r\n already consumed
			continue
		}
		out = append(out, s[start:i])
		start = i + len(string(r))
		if r == '\r' && start < len(s) && s[start] == '\n' {
			start++
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// headerValue reads a header as pip reads WHEEL: email.parser.Parser with
// the compat32 policy, then Message.get, which returns the first header of
// that name (case-insensitive). The value keeps trailing spaces (compat32
// strips only the line ending) and continuation lines are appended. Headers
// end at an empty line or at the first line that is neither a header nor a
// continuation.
func headerValue(text, name string) (string, bool) {
	lines := strings.SplitAfter(text, "\n")
	found, value := false, ""
	var cur string
	var curValue strings.Builder
	flush := func() {
		if cur != "" && !found && strings.EqualFold(cur, name) {
			found, value = true, strings.TrimRight(curValue.String(), "\r\n")
		}
		cur = ""
		curValue.Reset()
	}
	for _, line := range lines {
		bare := strings.TrimRight(line, "\r\n")
		if bare == "" {
			break
		}
		if bare[0] == ' ' || bare[0] == '\t' {
			if cur != "" {
				curValue.WriteString(line)
			}
			continue
		}
		i := strings.IndexByte(bare, ':')
		if i <= 0 || !printableName(bare[:i]) {
			break
		}
		flush()
		cur = bare[:i]
		curValue.WriteString(strings.TrimLeft(line[i+1:], " \t"))
	}
	flush()
	return value, found
}

func printableName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ':' {
			return false
		}
	}
	return true
}

// entryNameRE is what pipguard accepts as a console or gui script name.
// distlib's ENTRY_RE is not anchored (a name "a b" makes a script "b", a
// name "../x" a script "x"), so pipguard accepts only names distlib reads
// whole and that stay a single file name in the scripts directory.
var entryNameRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)

// entryValueRE is the "module:attr [extras]" form of the entry points
// specification, which is also the form distlib's ENTRY_RE reads whole
// with a callable suffix (pip raises MissingCallableSuffix without one,
// after it has written the wheel's files).
var entryValueRE = regexp.MustCompile(`^[\p{L}\p{N}_]+(?:\.[\p{L}\p{N}_]+)*:[\p{L}\p{N}_]+(?:\.[\p{L}\p{N}_]+)*` +
	`(?:\s*\[\s*[\w-]+(?:=\w+)?(?:,\s*\w+(?:=\w+)?)*\s*\])?$`)

// parseEntryPoints reads entry_points.txt as importlib.metadata does
// (Sectioned.section_pairs: lines stripped, "#" lines and empty lines
// skipped, "[group]" headers read with strip("[]"), entries split at the
// first "="; the last entry of a name wins in pip's dict) and returns the
// console_scripts and gui_scripts groups. Every line that would make
// importlib or distlib fail, or make pip write a script other than the name
// says, is a reason.
func parseEntryPoints(text string) (console, gui map[string]string, reasons []string) {
	console, gui = map[string]string{}, map[string]string{}
	group, inGroup := "", false
	for n, raw := range splitLines(text) {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			group, inGroup = strings.Trim(line, "[]"), true
			continue
		}
		if !inGroup {
			reasons = append(reasons, fmt.Sprintf("entry_points.txt line %d %q is outside any [group]", n+1, line))
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			reasons = append(reasons, fmt.Sprintf("entry_points.txt line %d %q has no \"=\" (importlib.metadata fails on it)", n+1, line))
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		var m map[string]string
		switch group {
		case "console_scripts":
			m = console
		case "gui_scripts":
			m = gui
		default:
			continue
		}
		if !entryNameRE.MatchString(name) || strings.Trim(name, ".") == "" {
			reasons = append(reasons, fmt.Sprintf("%s entry %q is not a script name pipguard accepts (letters, digits, _ . + -, not only dots)", group, name))
			continue
		}
		if !entryValueRE.MatchString(value) {
			reasons = append(reasons, fmt.Sprintf("%s entry %q = %q is not of the form module:attr (pip refuses it after writing the wheel's files)", group, name, value))
			continue
		}
		m[name] = value
	}
	return console, gui, reasons
}
