// Package pep610 reads what pip records about where a distribution came
// from: direct_url.json in the .dist-info directory, as specified by PEP 610
// and the Direct URL Data Structure specification
// (https://packaging.python.org/specifications/direct-url-data-structure/).
//
// What it trusts: nothing. direct_url.json is written by whatever installed
// the distribution and can be edited by anyone who can write
// site-packages; pipguard reads it to check that pip recorded what pipguard
// verified, and to audit environments. Parsing is strict: a file two readers
// could read differently (duplicate keys, two info keys, malformed hashes)
// is an error that names the rule it breaks.
package pep610

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxSize bounds direct_url.json.
const MaxSize = 1 << 20

// DirectURL is a parsed direct_url.json.
type DirectURL struct {
	// URL is the direct reference; for VCS, without the "git+" prefix.
	URL string `json:"url"`
	// Subdirectory is the path inside the archive or repository.
	Subdirectory string       `json:"subdirectory,omitempty"`
	VCSInfo      *VCSInfo     `json:"vcs_info,omitempty"`
	ArchiveInfo  *ArchiveInfo `json:"archive_info,omitempty"`
	DirInfo      *DirInfo     `json:"dir_info,omitempty"`
}

// VCSInfo is the "vcs_info" of a VCS install.
type VCSInfo struct {
	VCS string `json:"vcs"`
	// CommitID is the exact commit installed.
	CommitID string `json:"commit_id"`
	// RequestedRevision is whatever the user typed after "@": never proof
	// of anything.
	RequestedRevision string `json:"requested_revision,omitempty"`
}

// ArchiveInfo is the "archive_info" of an archive (wheel, sdist) install.
type ArchiveInfo struct {
	// Hash is the deprecated "<algorithm>=<hex>" form.
	Hash string `json:"hash,omitempty"`
	// Hashes maps algorithm names to hex digests.
	Hashes map[string]string `json:"hashes,omitempty"`
}

// DirInfo is the "dir_info" of a local directory install.
type DirInfo struct {
	Editable bool `json:"editable,omitempty"`
}

// Kind says which info key the file has.
func (d *DirectURL) Kind() string {
	switch {
	case d.VCSInfo != nil:
		return "vcs"
	case d.ArchiveInfo != nil:
		return "archive"
	}
	return "dir"
}

// Error names the rule of the specification a file breaks.
type Error struct {
	Rule string
}

func (e *Error) Error() string { return "invalid direct_url.json: " + e.Rule }

func invalid(format string, args ...any) error { return &Error{Rule: fmt.Sprintf(format, args...)} }

var (
	hexRE     = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	algRE     = regexp.MustCompile(`^[a-z0-9_]+$`)
	gitHashRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

// Parse reads and validates direct_url.json.
func Parse(data []byte) (*DirectURL, error) {
	if len(data) > MaxSize {
		return nil, invalid("larger than %d KiB", MaxSize>>10)
	}
	if !utf8.Valid(data) {
		// pip decodes the file as UTF-8 strictly and refuses it; Go's
		// decoder would replace the bytes and accept it.
		return nil, invalid("not valid UTF-8")
	}
	if err := noDuplicateKeys(data); err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, invalid("not a JSON object: %v", err)
	}
	var d DirectURL
	if err := field(raw, "url", &d.URL, true); err != nil {
		return nil, err
	}
	if d.URL == "" {
		return nil, invalid(`"url" must be a non-empty string`)
	}
	if err := field(raw, "subdirectory", &d.Subdirectory, false); err != nil {
		return nil, err
	}
	n := 0
	for _, k := range []string{"vcs_info", "archive_info", "dir_info"} {
		if _, ok := raw[k]; ok {
			n++
		}
	}
	if n != 1 {
		return nil, invalid(`exactly one of "vcs_info", "archive_info" and "dir_info" must be present, found %d`, n)
	}
	switch {
	case raw["vcs_info"] != nil:
		var v map[string]json.RawMessage
		if err := json.Unmarshal(raw["vcs_info"], &v); err != nil || v == nil {
			return nil, invalid(`"vcs_info" must be an object`)
		}
		d.VCSInfo = &VCSInfo{}
		if err := field(v, "vcs", &d.VCSInfo.VCS, true); err != nil {
			return nil, err
		}
		if err := field(v, "commit_id", &d.VCSInfo.CommitID, true); err != nil {
			return nil, err
		}
		if err := field(v, "requested_revision", &d.VCSInfo.RequestedRevision, false); err != nil {
			return nil, err
		}
		if d.VCSInfo.VCS == "" || d.VCSInfo.CommitID == "" {
			return nil, invalid(`"vcs_info" needs non-empty "vcs" and "commit_id"`)
		}
		if d.VCSInfo.VCS == "git" && !gitHashRE.MatchString(d.VCSInfo.CommitID) {
			return nil, invalid(`"commit_id" of a git install must be a full lowercase commit hash, got %q`, d.VCSInfo.CommitID)
		}
	case raw["archive_info"] != nil:
		var a map[string]json.RawMessage
		if err := json.Unmarshal(raw["archive_info"], &a); err != nil || a == nil {
			return nil, invalid(`"archive_info" must be an object`)
		}
		d.ArchiveInfo = &ArchiveInfo{}
		if err := field(a, "hash", &d.ArchiveInfo.Hash, false); err != nil {
			return nil, err
		}
		if _, ok := a["hash"]; ok && d.ArchiveInfo.Hash == "" {
			return nil, invalid(`"hash" must be <algorithm>=<hex digest>, got ""`)
		}
		if h, ok := a["hashes"]; ok {
			if err := json.Unmarshal(h, &d.ArchiveInfo.Hashes); err != nil || d.ArchiveInfo.Hashes == nil {
				return nil, invalid(`"hashes" must be an object of strings`)
			}
		}
		if err := d.ArchiveInfo.validate(); err != nil {
			return nil, err
		}
	default:
		// pip 26 (packaging's DirectUrl) refuses a dir_info whose url is
		// not file://; pip 23 and 24 read it.
		if !strings.HasPrefix(d.URL, "file://") {
			return nil, invalid(`"dir_info" needs a "url" that starts with file://, got %q`, d.URL)
		}
		var di map[string]json.RawMessage
		if err := json.Unmarshal(raw["dir_info"], &di); err != nil || di == nil {
			return nil, invalid(`"dir_info" must be an object`)
		}
		d.DirInfo = &DirInfo{}
		if e, ok := di["editable"]; ok {
			// null is not a boolean (pip refuses it too).
			if err := json.Unmarshal(e, &d.DirInfo.Editable); err != nil || bytes.Equal(bytes.TrimSpace(e), []byte("null")) {
				return nil, invalid(`"editable" must be a boolean`)
			}
		}
	}
	return &d, nil
}

func field(m map[string]json.RawMessage, key string, dst *string, required bool) error {
	v, ok := m[key]
	if !ok {
		if required {
			return invalid("%q is required", key)
		}
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return invalid("%q must be a string", key)
	}
	return nil
}

func (a *ArchiveInfo) validate() error {
	for alg, h := range a.Hashes {
		if !algRE.MatchString(alg) || h == "" || !hexRE.MatchString(h) || len(h)%2 != 0 {
			return invalid(`"hashes" entry %q: %q is not <algorithm>: <hex digest>`, alg, h)
		}
	}
	if a.Hash != "" {
		alg, h, ok := strings.Cut(a.Hash, "=")
		if !ok || !algRE.MatchString(alg) || h == "" || !hexRE.MatchString(h) || len(h)%2 != 0 {
			return invalid(`"hash" must be <algorithm>=<hex digest>, got %q`, a.Hash)
		}
		// pip 26 (packaging's ArchiveInfo) refuses a legacy hash whose
		// algorithm "hashes" lacks or gives another value (compared
		// exactly); pip 23 and 24 read it (and 23.2 adds it to hashes).
		if a.Hashes != nil {
			other, ok := a.Hashes[alg]
			if !ok {
				return invalid(`"hash" names %s, which "hashes" does not have`, alg)
			}
			if other != h {
				return invalid(`"hash" and "hashes" disagree about %s`, alg)
			}
		}
	}
	return nil
}

// SHA256 returns the recorded sha256 digest (lowercase hex) from "hashes"
// or the legacy "hash", or "" when none is recorded.
func (a *ArchiveInfo) SHA256() string {
	if h := a.Hashes["sha256"]; h != "" {
		return strings.ToLower(h)
	}
	if alg, h, ok := strings.Cut(a.Hash, "="); ok && alg == "sha256" {
		return strings.ToLower(h)
	}
	return ""
}

// noDuplicateKeys rejects JSON objects with a repeated key at any depth:
// Go keeps the last, other readers the first.
func noDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > 32 {
			return invalid("nested more than 32 levels")
		}
		t, err := dec.Token()
		if err != nil {
			return invalid("not valid JSON: %v", err)
		}
		d, ok := t.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return invalid("not valid JSON: %v", err)
				}
				key, _ := k.(string)
				if seen[key] {
					return invalid("key %q appears twice", key)
				}
				seen[key] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case '[':
			for dec.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		if err != nil {
			return invalid("not valid JSON: %v", err)
		}
		return nil
	}
	if err := walk(0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("trailing data after the JSON object")
	}
	return nil
}
