package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// MaxBundleFile bounds how much of a bundle file is read. Real bundles are
// a few KiB; a JSONL file of attestations for one digest rarely exceeds a
// few hundred KiB.
const MaxBundleFile = 16 << 20

// MaxBadLines bounds the lines of one JSONL file reported as not being
// bundles: the first MaxBadLines are, each with its reason, and one more
// Bundle counts the rest. MaxBundles bounds the bundles taken from one
// file (gh attestation download writes a few per digest). One bad input
// (random bytes, a log file) must not print tens of thousands of reasons.
const (
	MaxBadLines = 10
	MaxBundles  = 1000
)

// Bundle is one Sigstore bundle and where it came from. Err is set when it
// could not be loaded; such a bundle is reported, never verified.
type Bundle struct {
	// Source names the file (or URL) it came from.
	Source string
	// Line is its 1-based line in a JSONL source; 0 for a JSON file.
	Line int
	// Bundle is the parsed bundle, nil when Err is set.
	Bundle *bundle.Bundle
	// Err says why the bundle could not be loaded.
	Err error
}

// Where is "source" or "source:line".
func (b Bundle) Where() string {
	if b.Line == 0 {
		return b.Source
	}
	return fmt.Sprintf("%s:%d", b.Source, b.Line)
}

// LoadBundles reads a Sigstore bundle JSON file (media types v0.1 to v0.3),
// or a JSONL file with one bundle per line.
func LoadBundles(path string) ([]Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBundleFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBundleFile {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a bundle file", path, MaxBundleFile>>20)
	}
	return ParseBundles(path, data), nil
}

// ParseBundles parses data as one bundle in JSON, or as JSONL. A line that
// does not parse becomes a Bundle with Err set, so one bad line does not hide
// the good ones.
func ParseBundles(source string, data []byte) []Bundle {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return []Bundle{{Source: source, Err: fmt.Errorf("empty file")}}
	}
	// A single JSON document (possibly pretty-printed over many lines).
	if json.Valid(trimmed) {
		return []Bundle{parseOne(source, 0, trimmed)}
	}
	var out []Bundle
	anyJSON := false
	bad, moreBad, moreGood, firstMore := 0, 0, 0, 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		// A bundle is a JSON object: a line of random bytes that happens
		// to be a number is not a sign of JSON lines.
		anyJSON = anyJSON || line[0] == '{' && json.Valid(line)
		if len(out) >= MaxBundles {
			moreGood++
			if firstMore == 0 {
				firstMore = i + 1
			}
			continue
		}
		b := parseOne(source, i+1, line)
		if b.Err != nil {
			if bad++; bad > MaxBadLines {
				moreBad++
				continue
			}
		}
		out = append(out, b)
	}
	if !anyJSON {
		// Not JSON at all (a binary, a PEM file, a truncated download):
		// one error for the file, not one per line.
		return []Bundle{{Source: source, Err: errors.New("not a Sigstore bundle: not JSON, nor JSON lines")}}
	}
	if moreBad > 0 {
		out = append(out, Bundle{Source: source, Err: fmt.Errorf("and %d more lines that are not Sigstore bundles (the first %d are reported)", moreBad, MaxBadLines)})
	}
	if moreGood > 0 {
		out = append(out, Bundle{Source: source, Line: firstMore, Err: fmt.Errorf("and %d more lines from here on, not read: pipguard reads at most %d bundles from one file", moreGood, MaxBundles)})
	}
	return out
}

func parseOne(source string, line int, data []byte) Bundle {
	if !json.Valid(data) {
		return Bundle{Source: source, Line: line, Err: errors.New("not a Sigstore bundle: not JSON")}
	}
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON(data); err != nil {
		return Bundle{Source: source, Line: line, Err: fmt.Errorf("not a Sigstore bundle: %s", printable(err.Error(), 160))}
	}
	return Bundle{Source: source, Line: line, Bundle: b}
}

// printable is s on one line, without control or invalid bytes, and at
// most max runes: error texts that quote what they failed to parse must not
// put a file's bytes on the terminal.
func printable(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			b.WriteRune('?')
		default:
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}

// PredicateTypeOf peeks at the predicate type a bundle's DSSE statement
// claims, without verifying anything: it only routes a bundle to the check
// that will verify it (which checks the predicate type again, signed).
// It returns "" when the bundle has no readable statement.
func PredicateTypeOf(b Bundle) string {
	if b.Bundle == nil {
		return ""
	}
	env := b.Bundle.GetDsseEnvelope()
	if env == nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(env.GetPayload(), &st) != nil {
		return ""
	}
	return st.PredicateType
}
