package termsafe

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestStringEscapesWhatATerminalObeys(t *testing.T) {
	for in, want := range map[string]string{
		"verified pkg 1.0\n":           "verified pkg 1.0\n",
		"a\tb":                         "a\tb",
		"NOT verified\rverified      ": `NOT verified\u000dverified      `,
		"\x1b[2J\x1b]0;title\x07":      `\u001b[2J\u001b]0;title\u0007`,
		"8-bit CSI \x9b2J":             `8-bit CSI \x9b2J`,
		"C1 \u009b2J":                  `C1 \u009b2J`,
		"bidi \u202eexe.txt":           `bidi \u202eexe.txt`,
		"DEL \x7f, NUL \x00":           `DEL \u007f, NUL \u0000`,
		"tag \U000e0041 char":          `tag \udb40\udc41 char`,
		"émoji 😀 and 名前 stay":          "émoji 😀 and 名前 stay",
		"nbsp\u00a0and line\u2028sep":  `nbsp\u00a0and line\u2028sep`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever goes in, what comes out is printable, line feeds and tabs.
func FuzzString(f *testing.F) {
	for _, s := range []string{"\x1b[31m", "\x9b", "\u202e", "\U000e0001", "ok\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !Safe([]byte(out)) {
			t.Fatalf("String(%q) = %q is not safe", s, out)
		}
		for _, r := range out {
			if r != '\n' && r != '\t' && (!unicode.IsPrint(r) || r == utf8.RuneError && !strings.ContainsRune(s, utf8.RuneError)) {
				t.Fatalf("String(%q) holds %U", s, r)
			}
		}
	})
}

// A JSON document passed through Writer is the same document: every
// escape it adds is inside a string and means the same character there.
func TestJSONStaysTheSameDocument(t *testing.T) {
	v := map[string]any{"name": "evil\u0085\u202e\u00ad\U000e0041x", "ok": "plain", "n": []string{"\u2028", "ß"}}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := Writer(&b).Write(data); err != nil {
		t.Fatal(err)
	}
	if Safe(data) {
		t.Fatalf("the test needs a document with characters to escape: %s", data)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(b.String()), &back); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	a, _ := json.Marshal(back)
	if string(a) != string(data) {
		t.Errorf("through Writer %s, before %s", a, data)
	}
}
