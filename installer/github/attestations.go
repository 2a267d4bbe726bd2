package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/klauspost/compress/snappy"
)

// Attestation is one entry of GET /repos/{o}/{r}/attestations/{digest}:
// the bundle JSON (inline, or fetched from bundle_url and snappy-decoded)
// and where it came from.
type Attestation struct {
	// Source names it in reports: "github:attestations/sha256:…#N".
	Source string
	// Bundle is the Sigstore bundle's JSON, unverified.
	Bundle []byte
	// Initiator is who made it per GitHub ("user" for a workflow, "github"
	// for GitHub's own release attestations), unverified.
	Initiator string
	// RepositoryID is the numeric id of the repository GitHub stores it
	// under (the repository asked about), as the API says.
	RepositoryID int64
}

// Entry is one parsed entry of the attestations API, before its bundle is
// fetched: GitHub now answers "bundle": null with a bundle_url on blob
// storage; older answers carry the bundle inline.
type Entry struct {
	BundleURL    string
	Inline       bool
	Bundle       json.RawMessage
	RepositoryID int64
	Initiator    string
}

// ParseAttestationsPage decodes one page of GET .../attestations/{digest}
// and its Link header. Every entry must carry a bundle or a bundle_url.
func ParseAttestationsPage(body []byte, link string) ([]Entry, string, error) {
	var page struct {
		Attestations *[]struct {
			Bundle       json.RawMessage `json:"bundle"`
			BundleURL    string          `json:"bundle_url"`
			RepositoryID int64           `json:"repository_id"`
			Initiator    string          `json:"initiator"`
		} `json:"attestations"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, "", fmt.Errorf("malformed attestations response: %v", err)
	}
	if page.Attestations == nil {
		return nil, "", errors.New("malformed attestations response: no \"attestations\" list")
	}
	var out []Entry
	for i, a := range *page.Attestations {
		e := Entry{BundleURL: a.BundleURL, RepositoryID: a.RepositoryID, Initiator: a.Initiator}
		if len(a.Bundle) > 0 && string(a.Bundle) != "null" {
			e.Inline, e.Bundle = true, a.Bundle
		}
		if e.BundleURL == "" && !e.Inline {
			return nil, "", fmt.Errorf("malformed attestations response: entry %d has neither bundle nor bundle_url", i+1)
		}
		out = append(out, e)
	}
	return out, nextLink(link), nil
}

var digestRE = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}|sha1:[0-9a-f]{40})$`)

// MaxAttestations bounds how many entries are read across pages.
const MaxAttestations = 1000

// Attestations lists the attestations for subject digest (sha256:HEX, or
// sha1:COMMIT for release attestations, as gh release verify looks them up),
// optionally only those of predicateType. It follows Link rel="next" pages
// on the API host. GitHub answers 404 when there are none: that is an empty
// list, not an error.
func (c *Client) Attestations(ctx context.Context, fullName, digest, predicateType string) ([]Attestation, error) {
	p, err := repoPath(fullName)
	if err != nil {
		return nil, err
	}
	digest = strings.ToLower(digest)
	if !digestRE.MatchString(digest) {
		return nil, fmt.Errorf("digest %q is not sha256:HEX, sha512:HEX or sha1:HEX", digest)
	}
	q := url.Values{"per_page": {"100"}}
	if predicateType != "" {
		q.Set("predicate_type", predicateType)
	}
	next := p + "/attestations/" + digest + "?" + q.Encode()
	var out []Attestation
	for page := 0; next != ""; page++ {
		body, hdr, _, err := c.getRaw(ctx, next)
		if errors.Is(err, ErrNotFound) && page == 0 {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		entries, nxt, err := ParseAttestationsPage(body, hdr.Get("Link"))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if len(out) >= MaxAttestations {
				return nil, fmt.Errorf("more than %d attestations for %s: refusing to read them all", MaxAttestations, digest)
			}
			src := fmt.Sprintf("github:attestations/%s#%d", digest, len(out)+1)
			b := []byte(e.Bundle)
			if e.BundleURL != "" {
				// bundle_url is what GitHub serves now; prefer it.
				if b, err = c.fetchBundle(ctx, e.BundleURL); err != nil {
					return nil, fmt.Errorf("%s: %w", src, err)
				}
			}
			out = append(out, Attestation{Source: src, Bundle: b, Initiator: e.Initiator, RepositoryID: e.RepositoryID})
		}
		next = nxt
	}
	return out, nil
}

// fetchBundle GETs a bundle_url (blob storage on another host: no token is
// sent there) and snappy-decodes it (block format), within MaxBundle.
func (c *Client) fetchBundle(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("bad bundle_url")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.do(ctx, u, "application/x-snappy, */*")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBundle+1))
	if err != nil {
		return nil, &UnavailableError{URL: redact(u), Err: err}
	}
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("bundle at %s is larger than %d MiB", redact(u), MaxBundle>>20)
	}
	if resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		return nil, &UnavailableError{URL: redact(u), Err: fmt.Errorf("truncated: %d of %d bytes", len(data), resp.ContentLength)}
	}
	n, err := snappy.DecodedLen(data)
	if err != nil {
		return nil, fmt.Errorf("bundle at %s is not snappy-compressed: %v", redact(u), err)
	}
	if n > MaxBundle {
		return nil, fmt.Errorf("bundle at %s decompresses to %d bytes, more than %d MiB", redact(u), n, MaxBundle>>20)
	}
	out, err := snappy.Decode(nil, data)
	if err != nil {
		return nil, fmt.Errorf("bundle at %s: %v", redact(u), err)
	}
	return out, nil
}

var linkRE = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="([^"]*)"`)

// nextLink returns the rel="next" target of a Link header, or "".
func nextLink(h string) string {
	for _, m := range linkRE.FindAllStringSubmatch(h, -1) {
		for _, rel := range strings.Fields(m[2]) {
			if rel == "next" {
				return m[1]
			}
		}
	}
	return ""
}
