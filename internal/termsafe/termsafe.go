// Package termsafe keeps what pipguard prints from acting on the terminal
// that shows it.
//
// pipguard prints text it did not write: names and versions from a
// wheel's METADATA, file names from a requirements file, ref names a git
// server advertises, reasons quoting a certificate's fields, pip's own
// messages. A terminal obeys control characters in that text: an escape
// sequence can clear the screen, rewrite the line that said "NOT
// verified", set the window title or, on some terminals, answer back; a
// carriage return overwrites a line; a bidirectional override reorders
// it. Writer is the last line of defence: every byte that reaches the
// terminal through it is printable, a line break or a tab.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Writer returns a writer that passes p to w with every character that
// is not printable, a line feed or a tab written as an escape (String).
// Each Write is escaped on its own: a multi-byte character split across
// two Writes is escaped byte by byte (pipguard writes whole lines and
// documents).
func Writer(w io.Writer) io.Writer {
	if _, ok := w.(*writer); ok {
		return w
	}
	return &writer{w: w}
}

type writer struct{ w io.Writer }

func (x *writer) Write(p []byte) (int, error) {
	if Safe(p) {
		return x.w.Write(p)
	}
	if _, err := io.WriteString(x.w, String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap returns the writer x writes to (to ask whether it is a terminal).
func (x *writer) Unwrap() io.Writer { return x.w }

// Safe says whether p prints as it is: valid UTF-8 of printable
// characters, line feeds and tabs only.
func Safe(p []byte) bool {
	for i := 0; i < len(p); {
		if c := p[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// String is s with each character that is not printable, a line feed or
// a tab written as \uXXXX (a surrogate pair above U+FFFF) and each byte
// that is not UTF-8 as \xNN. The \u form is also JSON's, so a JSON
// document stays the same document: only characters inside its strings
// can be escaped (encoding/json writes no raw control character and no
// invalid byte).
func String(s string) string {
	if Safe([]byte(s)) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = fmt.Appendf(b, `\x%02x`, s[i])
		case r == '\n' || r == '\t' || r != 0x7f && unicode.IsPrint(r):
			b = append(b, s[i:i+n]...)
		case r > 0xffff:
			r -= 0x10000
			b = fmt.Appendf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b = fmt.Appendf(b, `\u%04x`, r)
		}
		i += n
	}
	return string(b)
}

// Clip is s for quoting inside a one-line message: each control
// character, C1 control and U+FFFD (an invalid byte) replaced by "?", and
// cut after max characters with "…".
func Clip(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == 0xfffd || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
