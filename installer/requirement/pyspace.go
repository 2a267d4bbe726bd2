package requirement

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Python's notion of whitespace and line breaks, which pip's readers use
// (str.strip, str.splitlines, the \s of its regular expressions).

// IsPySpace reports whether Python's str.isspace is true for r: Go's
// unicode.IsSpace plus the separators U+001C to U+001F.
func IsPySpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// IsPyLineBreak reports whether Python's str.splitlines ends a line at r.
func IsPyLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// PyStrip is Python's str.strip(): leading and trailing Unicode whitespace
// removed.
func PyStrip(s string) string { return strings.TrimFunc(s, IsPySpace) }

// SplitLines is Python's str.splitlines(): lines end at \n, \r, \r\n, \v,
// \f, \x1c, \x1d, \x1e, \x85, U+2028 and U+2029; no empty last line.
func SplitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !IsPyLineBreak(r) {
			i += n
			continue
		}
		out = append(out, s[start:i])
		i += n
		if r == '\r' && i < len(s) && s[i] == '\n' {
			i++
		}
		start = i
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
