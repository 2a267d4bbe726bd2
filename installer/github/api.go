package github

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Repository is what pipguard uses of GET /repos/{owner}/{repo}.
type Repository struct {
	ID            int64  `json:"id"`
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	Visibility    string `json:"visibility"`
	Private       bool   `json:"private"`
}

// Release is what pipguard uses of a release.
type Release struct {
	ID              int64   `json:"id"`
	TagName         string  `json:"tag_name"`
	TargetCommitish string  `json:"target_commitish"`
	Draft           bool    `json:"draft"`
	Prerelease      bool    `json:"prerelease"`
	Immutable       bool    `json:"immutable"`
	Assets          []Asset `json:"assets"`
}

// Asset is a release asset.
type Asset struct {
	ID                 int64  `json:"id"`
	Name               string `json:"name"`
	Size               int64  `json:"size"`
	State              string `json:"state"`
	ContentType        string `json:"content_type"`
	Digest             string `json:"digest"` // "sha256:HEX", or empty when GitHub has none
	URL                string `json:"url"`
	BrowserDownloadURL string `json:"browser_download_url"`
}

var namePart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// SplitRepo checks and splits "OWNER/REPO".
func SplitRepo(s string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(s, "/")
	if !ok || !namePart.MatchString(owner) || !namePart.MatchString(repo) || repo == "." || repo == ".." {
		return "", "", fmt.Errorf("repository %q is not OWNER/REPO", s)
	}
	return owner, repo, nil
}

func repoPath(fullName string) (string, error) {
	o, r, err := SplitRepo(fullName)
	if err != nil {
		return "", err
	}
	return "repos/" + url.PathEscape(o) + "/" + url.PathEscape(r), nil
}

// Repository returns GET /repos/{owner}/{repo}.
func (c *Client) Repository(ctx context.Context, fullName string) (*Repository, error) {
	p, err := repoPath(fullName)
	if err != nil {
		return nil, err
	}
	var r Repository
	if _, err := c.getJSON(ctx, p, &r); err != nil {
		return nil, err
	}
	if r.ID == 0 {
		return nil, fmt.Errorf("GitHub returned repository %s without an id", fullName)
	}
	return &r, nil
}

// ReleaseByTag returns GET /repos/{owner}/{repo}/releases/tags/{tag}.
func (c *Client) ReleaseByTag(ctx context.Context, fullName, tag string) (*Release, error) {
	p, err := repoPath(fullName)
	if err != nil {
		return nil, err
	}
	var r Release
	if _, err := c.getJSON(ctx, p+"/releases/tags/"+url.PathEscape(tag), &r); err != nil {
		return nil, err
	}
	if err := CheckRelease(&r, tag); err != nil {
		return nil, err
	}
	return &r, nil
}

// CheckRelease checks what pipguard relies on in a release read from
// GitHub (or from a cache of what GitHub said): it is the tag's, and its
// asset names are plain file names.
func CheckRelease(r *Release, tag string) error {
	if r.TagName != tag {
		return fmt.Errorf("GitHub returned release %q for tag %q", r.TagName, tag)
	}
	for _, a := range r.Assets {
		if !namePart.MatchString(a.Name) {
			return fmt.Errorf("release %s has an asset with an unsafe name %q", tag, a.Name)
		}
	}
	return nil
}

// AssetNamed returns the release's asset called name.
func (r *Release) AssetNamed(name string) (Asset, bool) {
	for _, a := range r.Assets {
		if a.Name == name {
			return a, true
		}
	}
	return Asset{}, false
}

// Comparison is what GET /repos/{o}/{r}/compare/{base}...{head} says of two
// commits.
type Comparison struct {
	// Status is "identical", "ahead" (head is base plus commits), "behind"
	// or "diverged".
	Status   string `json:"status"`
	AheadBy  int    `json:"ahead_by"`
	BehindBy int    `json:"behind_by"`
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Compare compares two full commit SHAs of a repository.
func (c *Client) Compare(ctx context.Context, fullName, base, head string) (*Comparison, error) {
	p, err := repoPath(fullName)
	if err != nil {
		return nil, err
	}
	if !shaRE.MatchString(base) || !shaRE.MatchString(head) {
		return nil, fmt.Errorf("compare needs two full commit SHAs, got %q and %q", base, head)
	}
	var cmp Comparison
	// per_page=1: only the counts are needed, not the commit list.
	if _, err := c.getJSON(ctx, p+"/compare/"+base+"..."+head+"?per_page=1", &cmp); err != nil {
		return nil, err
	}
	switch cmp.Status {
	case "identical", "ahead", "behind", "diverged":
	default:
		return nil, fmt.Errorf("GitHub compare returned an unknown status %q", cmp.Status)
	}
	return &cmp, nil
}
