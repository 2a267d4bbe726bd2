package attest

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseBundlesJSONL(t *testing.T) {
	one, err := os.ReadFile(td("sigstore", demoBundle))
	if err != nil {
		t.Fatal(err)
	}
	// Two good lines, a blank line, and a bad one: each reported in place.
	data := append(append(append(append([]byte{}, one...), one...), '\n'), []byte("{\"mediaType\": 3}\n")...)
	got := ParseBundles("x.jsonl", data)
	if len(got) != 3 {
		t.Fatalf("%d bundles", len(got))
	}
	if got[0].Err != nil || got[1].Err != nil || got[2].Err == nil || got[2].Where() != "x.jsonl:4" {
		t.Errorf("got %+v", got)
	}
	if b := ParseBundles("e", []byte("  \n")); len(b) != 1 || b[0].Err == nil {
		t.Errorf("empty file: %+v", b)
	}
}

func FuzzParseBundles(f *testing.F) {
	for _, name := range []string{demoBundle, "sigstore-js-2.1.0-bundle.json", "reusable-workflow-attestation.sigstore.json"} {
		data, err := os.ReadFile(td("sigstore", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("{}\n[]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range ParseBundles("fuzz", data) {
			if (b.Bundle == nil) == (b.Err == nil) {
				t.Fatalf("bundle %v and error %v", b.Bundle, b.Err)
			}
			if b.Bundle != nil {
				// Loaded bundles must survive every accessor verification uses.
				b.Bundle.VerificationContent()
				b.Bundle.SignatureContent()
				b.Bundle.Timestamps()
				b.Bundle.TlogEntries()
			}
		}
	})
}

// A file that is not a bundle is one error, on one printable line: never a
// line per line of a binary, never the file's bytes.
func TestNotABundleIsOneLine(t *testing.T) {
	bin := []byte("\x00\x01\xff\xfe garbage\n\x1b[31mred\n\x89PNG\r\n")
	bs := ParseBundles("x.bin", bin)
	if len(bs) != 1 || bs[0].Err == nil || bs[0].Err.Error() != "not a Sigstore bundle: not JSON, nor JSON lines" {
		t.Fatalf("%d bundles: %+v", len(bs), bs)
	}
	bs = ParseBundles("x.json", []byte(`{"mediaType": "\u001b[31m", "junk": "`+"\xff"+`"}`))
	if len(bs) != 1 || bs[0].Err == nil {
		t.Fatalf("%+v", bs)
	}
	for _, r := range bs[0].Err.Error() {
		if r < 0x20 || r == utf8.RuneError {
			t.Errorf("unprintable %q in %q", r, bs[0].Err.Error())
		}
	}
}

// One bad input prints a bounded report: 5 MB of random bytes (some lines
// of which are JSON numbers) are one error, not a bundle per line; a file
// of many bad JSON lines keeps its first MaxBadLines reasons and counts
// the rest; an Error quotes at most MaxReasons reasons, each cut short.
func TestHostileBundleFilesPrintLittle(t *testing.T) {
	random := make([]byte, 5_000_000)
	rand.New(rand.NewSource(1)).Read(random)
	for i := 0; i < len(random); i += 200 {
		copy(random[i:], "\n5\n") // a line that json.Valid accepts
	}
	if bs := ParseBundles("random.bin", random); len(bs) != 1 || bs[0].Err == nil {
		t.Fatalf("random bytes: %d bundles", len(bs))
	}

	bs := ParseBundles("bad.jsonl", []byte(strings.Repeat("{\"mediaType\": 3}\n", 20000)))
	if len(bs) != MaxBadLines+1 {
		t.Fatalf("%d bundles, want %d", len(bs), MaxBadLines+1)
	}
	if bs[0].Where() != "bad.jsonl:1" || bs[MaxBadLines-1].Where() != "bad.jsonl:10" {
		t.Errorf("the first reasons are not kept: %s .. %s", bs[0].Where(), bs[MaxBadLines-1].Where())
	}
	if last := bs[MaxBadLines].Err.Error(); last != "and 19990 more lines that are not Sigstore bundles (the first 10 are reported)" {
		t.Errorf("last: %q", last)
	}

	one, err := os.ReadFile(td("sigstore", demoBundle))
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.ReplaceAll(bytes.TrimSpace(one), []byte("\n"), nil)
	many := bytes.Repeat(append(line, '\n'), MaxBundles+5)
	if bs := ParseBundles("many.jsonl", many); len(bs) != MaxBundles+1 || bs[MaxBundles].Err == nil || bs[MaxBundles].Line != MaxBundles+1 {
		t.Errorf("%d bundles from %d lines; last %+v", len(bs), MaxBundles+5, bs[len(bs)-1])
	}

	e := &Error{Artifact: "a"}
	for i := 0; i < 5000; i++ {
		e.Reasons = append(e.Reasons, fmt.Sprintf("r:%d: %s", i+1, strings.Repeat("x", 10000)))
	}
	msg := e.Error()
	if len(msg) > MaxReasons*(MaxReason+10)+200 || !strings.Contains(msg, "r:1: ") || strings.Contains(msg, "r:11: ") || !strings.HasSuffix(msg, "; and 4990 more (--format json shows every bundle)") {
		t.Errorf("%d bytes: %.300s … %s", len(msg), msg, msg[max(0, len(msg)-100):])
	}
}
