package pep610

import (
	"fmt"
	"net/url"
	"strings"
)

// Mismatch is one way a direct_url.json differs from what was verified.
type Mismatch struct {
	Field            string
	Expected, Actual string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: expected %q, got %q", m.Field, m.Expected, m.Actual)
}

// CheckArchive compares d with an archive install of a file whose sha256
// is digest (lowercase hex). Both "hashes" and the legacy "hash" must agree.
func CheckArchive(d *DirectURL, digest string) []Mismatch {
	if d.ArchiveInfo == nil {
		return []Mismatch{{Field: "kind", Expected: "archive_info", Actual: d.Kind() + "_info"}}
	}
	got := d.ArchiveInfo.SHA256()
	if got == "" {
		return []Mismatch{{Field: "archive_info.hashes.sha256", Expected: digest, Actual: "(none recorded)"}}
	}
	var out []Mismatch
	if got != strings.ToLower(digest) {
		out = append(out, Mismatch{Field: "archive_info.hashes.sha256", Expected: digest, Actual: got})
	}
	if alg, h, ok := strings.Cut(d.ArchiveInfo.Hash, "="); ok && alg == "sha256" && !strings.EqualFold(h, digest) {
		out = append(out, Mismatch{Field: "archive_info.hash", Expected: "sha256=" + digest, Actual: d.ArchiveInfo.Hash})
	}
	return out
}

// CheckGit compares d with a git install of repoURL (without "git+", no
// credentials) at commit. requested_revision is never compared: it is
// whatever was typed.
func CheckGit(d *DirectURL, repoURL, commit string) []Mismatch {
	if d.VCSInfo == nil {
		return []Mismatch{{Field: "kind", Expected: "vcs_info", Actual: d.Kind() + "_info"}}
	}
	var out []Mismatch
	if d.VCSInfo.VCS != "git" {
		out = append(out, Mismatch{Field: "vcs_info.vcs", Expected: "git", Actual: d.VCSInfo.VCS})
	}
	if !strings.EqualFold(d.VCSInfo.CommitID, commit) {
		out = append(out, Mismatch{Field: "vcs_info.commit_id", Expected: commit, Actual: d.VCSInfo.CommitID})
	}
	if SameRepo(d.URL, repoURL) == false {
		out = append(out, Mismatch{Field: "url", Expected: repoURL, Actual: StripCredentials(d.URL)})
	}
	return out
}

// SameRepo compares repository URLs ignoring credentials, a trailing
// ".git" or "/", and case (GitHub's host, owner and repository names are
// case-insensitive).
func SameRepo(a, b string) bool { return canonicalRepo(a) == canonicalRepo(b) }

func canonicalRepo(s string) string {
	u, err := url.Parse(strings.TrimPrefix(s, "git+"))
	if err != nil {
		return s
	}
	u.User = nil
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git"))
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// StripCredentials removes user info from a URL for display.
func StripCredentials(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
