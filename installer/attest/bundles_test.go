package attest

import (
	"os"
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
