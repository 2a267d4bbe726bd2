package pep440_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unicode"

	"github.com/pipguard/pipguard/internal/pep440"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// handWritten are the spellings PEP 440 and packaging's tests name, and
// near misses.
var handWritten = []string{
	"1", "1.0", "1.0.0", "01.00", "v1.0", "V1.0", "1.0a1", "1.0alpha1", "1.0.0A1", "1.0-a.1", "1.0b2", "1.0beta2",
	"1.0c1", "1.0rc1", "1.0pre1", "1.0preview1", "1.0-1", "1.0post1", "1.0.post1", "1.0-r1", "1.0rev1", "1.0.post",
	"1.0dev", "1.0.dev0", "1.0.dev1", "1!1.0", "0!1.0", "00!1.0", "1.0+local.1", "1.0+local.01", "1.0+LOCAL-1",
	"1.0+abc_1", "1.0+0", "1.0+00.a", "1.0a", "1.0a0", " 1.0 ", "\t1.0\n", "1.0.0.0.0", "2.32.0", "0.0.4a2",
	"0.0.4.0alpha2", "0", "0.0", "000", "1.0_", "1..0", "a1", "", "1.0+", "1.0-dev", "1.0-post-1", "1.0-post1",
	"1.0_post_1", "1.0.a.1", "1.0a1.post2.dev3+x.y", "1.0RC1", "1.0-RC-1", "1.0-", "-1.0", "1.0 a1", "1.0+a+b",
	"1.0+a..b", "1.0+-a", "1!", "!1", "1.0.post1.post2", "1.0a1b2", "1.0.dev1.dev2", "99999999999999999999.0",
	"1.0\x00", "1.0\u00a0", "\u20031.0", "1.0\u0085", "1.0\u2028", "1.0pr\u0131view1", "1.0\u212a", "\uff11.0",
	"1.0+\u0130", "1.0\ufeff", "ﬁ1.0",
}

// corpus is handWritten plus versions built from PEP 440's parts and
// mutations of both (a character inserted, deleted, doubled or swapped).
func corpus(seed uint64, n int) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	out := append([]string(nil), handWritten...)
	for range n / 2 {
		var b strings.Builder
		b.WriteString(pick("", "", "", "v", "V", " ", "1!", "0!", "01!"))
		for i := range 1 + r.IntN(4) {
			if i > 0 {
				b.WriteString(".")
			}
			b.WriteString(pick("0", "1", "00", "10", "007", "2"))
		}
		b.WriteString(pick("", "", "a", "A", "alpha", "b", "beta", "c", "rc", "RC", "pre", "preview", "-a", ".b", "_rc") + pick("", "0", "1", "01", ".1", "-2"))
		b.WriteString(pick("", "", "-1", ".post", "post1", "-post2", "_r3", "rev", ".rev04", "-r"))
		b.WriteString(pick("", "", ".dev", "dev1", "-dev2", "_dev03", "DEV"))
		b.WriteString(pick("", "", "+local", "+LOCAL.01", "+a-b_c", "+0", "+007.x", "+a..b", "+"))
		b.WriteString(pick("", "", " ", "\n", "\t"))
		out = append(out, b.String())
	}
	chars := []rune("0123456789.-_+!vVaAbcrpostdevlPOSTDEV \t\n\u00a0\u2003\u0131\u212a\x00é")
	for len(out) < n {
		s := []rune(out[r.IntN(len(out))])
		switch i := r.IntN(len(s) + 1); r.IntN(4) {
		case 0:
			s = append(s[:i], append([]rune{chars[r.IntN(len(chars))]}, s[i:]...)...)
		case 1:
			if i < len(s) {
				s = append(s[:i], s[i+1:]...)
			}
		case 2:
			if i < len(s) {
				s = append(s[:i+1], s[i:]...)
			}
		case 3:
			if i+1 < len(s) {
				s[i], s[i+1] = s[i+1], s[i]
			}
		}
		out = append(out, string(s))
	}
	return out
}

// refScript prints, for each input string, packaging's
// canonicalize_version of it, or null when Version refuses it: the
// packaging pip vendors, which is what pip and pipguard's other readers
// compare versions with.
const refScript = `
import json, sys
from pip._vendor.packaging.version import Version, InvalidVersion
from pip._vendor.packaging.utils import canonicalize_version
out = []
for v in json.load(sys.stdin):
    try:
        Version(v)
    except InvalidVersion:
        out.append(None)
        continue
    out.append(canonicalize_version(v))
print(json.dumps(out))
`

// strictRefusal says whether pipguard refuses a version packaging
// accepts on purpose: one with characters outside ASCII (Python's \s
// and case-insensitive matching take Unicode spaces and, say, a dotless
// ı or the Kelvin sign for letters; no published version needs them), or
// with a number of more than 18 digits (too large for an int).
func strictRefusal(v string) bool {
	digits := 0
	for _, r := range v {
		if r > unicode.MaxASCII {
			return true
		}
		if r >= '0' && r <= '9' {
			digits++
		} else {
			digits = 0
		}
		if digits > 18 {
			return true
		}
	}
	return false
}

// TestCanonicalAgainstPackaging runs packaging's own Version and
// canonicalize_version, as each supported pip vendors it, on the same
// strings: a version is valid to both or refused on purpose, and its
// canonical form is packaging's, character for character.
func TestCanonicalAgainstPackaging(t *testing.T) {
	n := 3000
	if os.Getenv("PIPGUARD_PARITY_SCALE") != "" {
		n = 30000
	}
	in := corpus(440, n)
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, p := range pkgtest.Readers() {
		t.Run(p.Name, func(t *testing.T) {
			if p.Missing != "" {
				t.Skip(p.Missing)
			}
			cmd := exec.Command(p.Python, "-I", "-c", p.Prelude()+refScript)
			cmd.Stdin = strings.NewReader(string(data))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("packaging: %v", err)
			}
			var ref []*string
			if err := json.Unmarshal(out, &ref); err != nil || len(ref) != len(in) {
				t.Fatalf("packaging's answer: %v (%d of %d)", err, len(ref), len(in))
			}
			valid, strict := 0, 0
			for i, v := range in {
				got, err := pep440.Canonical(v)
				switch {
				case ref[i] == nil && err == nil:
					t.Errorf("%q: pipguard reads %q, packaging refuses it", v, got)
				case ref[i] != nil && err != nil:
					if strictRefusal(v) {
						strict++
						continue
					}
					t.Errorf("%q: pipguard refuses it (%v), packaging reads %q", v, err, *ref[i])
				case ref[i] != nil:
					valid++
					if got != *ref[i] {
						t.Errorf("%q: pipguard %q, packaging %q", v, got, *ref[i])
					}
				}
			}
			ran++
			t.Logf("%d strings: %d valid and equal, %d refused by both, %d strict refusals", len(in), valid, len(in)-valid-strict, strict)
		})
	}
	if ran == 0 {
		t.Fatal("no pip to compare with")
	}
}

func TestCanonicalForms(t *testing.T) {
	for in, want := range map[string]string{
		"1.0.0": "1", "01.00": "1", "v1.0": "1", "1.0RC1": "1rc1", "1.0-1": "1.post1", "1.0alpha": "1a0",
		"1.0c1": "1rc1", "1.0.preview2": "1rc2", "0!1.0": "1", "2!1.0": "2!1", "1.0+LOCAL-01": "1+local.1",
		"1.0.post": "1.post0", "1.0-dev": "1.dev0", " 1.0 ": "1", "0.0": "0",
	} {
		if got, err := pep440.Canonical(in); err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1..0", "1.0+", "a1", strings.Repeat("1.", 150) + "1", "1.0\x1b[31m"} {
		_, err := pep440.Canonical(bad)
		if err == nil {
			t.Errorf("Canonical(%q) accepted", bad)
		} else if strings.ContainsAny(err.Error(), "\x1b\x00") {
			t.Errorf("Canonical(%q): the error quotes a control character: %q", bad, err)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, v := range handWritten {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := pep440.Canonical(s)
		if err != nil {
			return
		}
		if c2, err := pep440.Canonical(c); err != nil || c2 != c {
			t.Fatalf("Canonical(%q) = %q, and again %q, %v: not a fixed point", s, c, c2, err)
		}
	})
}
