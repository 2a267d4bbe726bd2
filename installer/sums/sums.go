// Package sums parses checksum files published beside release assets
// (SHA256SUMS, checksums.txt, NAME.sha256) in the format sha256sum writes:
//
//	<64 hex digits><space><space or *><file name>
//
// It trusts nothing: the file is as untrusted as the assets it lists, and is
// only worth something because an attestation or the release covers it. The
// parser is strict so that two readers cannot disagree about what it lists.
package sums

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// MaxSize bounds a checksum file.
const MaxSize = 1 << 20

// Sums maps file names to lowercase hex sha256 digests.
type Sums map[string]string

// ParseError says which line is wrong and how.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Parse reads a checksum file. Every non-empty line must be an entry; a
// name may appear once; names are plain file names (no directories).
func Parse(data []byte) (Sums, error) {
	if len(data) > MaxSize {
		return nil, &ParseError{Msg: fmt.Sprintf("larger than %d KiB", MaxSize>>10)}
	}
	out := Sums{}
	// Trailing newlines are fine; a blank line between entries is not.
	for i, raw := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
		n := i + 1
		line := string(raw)
		if line == "" {
			if len(bytes.TrimSpace(data)) == 0 {
				break
			}
			return nil, &ParseError{Line: n, Msg: "blank line between entries"}
		}
		if strings.ContainsAny(line, "\r\x00\t") {
			return nil, &ParseError{Line: n, Msg: "contains a carriage return, tab or NUL"}
		}
		if strings.HasPrefix(line, "SHA256 (") {
			return nil, &ParseError{Line: n, Msg: "BSD-style line; expected <digest>  <name>"}
		}
		if len(line) < 67 {
			return nil, &ParseError{Line: n, Msg: "too short for <64 hex digits>  <name>"}
		}
		digest, sep, name := line[:64], line[64:66], line[66:]
		if _, err := hex.DecodeString(digest); err != nil {
			return nil, &ParseError{Line: n, Msg: fmt.Sprintf("%q is not a 64-digit hex sha256", digest)}
		}
		if sep != "  " && sep != " *" {
			return nil, &ParseError{Line: n, Msg: "expected two spaces (or space and *) after the digest"}
		}
		if strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.TrimSpace(name) != name {
			return nil, &ParseError{Line: n, Msg: fmt.Sprintf("%q is not a plain file name", name)}
		}
		if _, dup := out[name]; dup {
			return nil, &ParseError{Line: n, Msg: fmt.Sprintf("%q is listed twice", name)}
		}
		out[name] = strings.ToLower(digest)
	}
	if len(out) == 0 {
		return nil, &ParseError{Line: 1, Msg: "no entries"}
	}
	return out, nil
}

// IsChecksumFile reports whether an asset name is a checksum file pipguard
// reads: SHA256SUMS (any case, optional .txt), *checksums.txt, *.sha256.
func IsChecksumFile(name string) bool {
	l := strings.ToLower(name)
	return l == "sha256sums" || l == "sha256sums.txt" || strings.HasSuffix(l, "checksums.txt") || strings.HasSuffix(l, ".sha256")
}
