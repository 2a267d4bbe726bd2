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
}

// apiAttestation is the API's entry. bundle may be null; bundle_url points
// at blob storage with a signed query string.
type apiAttestation struct {
	Bundle       json.RawMessage `json:"bundle"`
	BundleURL    string          `json:"bundle_url"`
	RepositoryID int64           `json:"repository_id"`
	Initiator    string          `json:"initiator"`
}

type apiAttestations struct {
	Attestations []apiAttestation `json:"attestations"`
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
		var body apiAttestations
		hdr, err := c.getJSON(ctx, next, &body)
		if errors.Is(err, ErrNotFound) && page == 0 {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, a := range body.Attestations {
			if len(out) >= MaxAttestations {
				return nil, fmt.Errorf("more than %d attestations for %s: refusing to read them all", MaxAttestations, digest)
			}
			src := fmt.Sprintf("github:attestations/%s#%d", digest, len(out)+1)
			b, err := c.bundleOf(ctx, a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			out = append(out, Attestation{Source: src, Bundle: b, Initiator: a.Initiator})
		}
		next = nextLink(hdr.Get("Link"))
	}
	return out, nil
}

// bundleOf prefers bundle_url (what GitHub now serves, with "bundle":
// null), else the inline bundle.
func (c *Client) bundleOf(ctx context.Context, a apiAttestation) ([]byte, error) {
	if a.BundleURL != "" {
		return c.fetchBundle(ctx, a.BundleURL)
	}
	if len(a.Bundle) == 0 || string(a.Bundle) == "null" {
		return nil, errors.New("entry has neither bundle nor bundle_url")
	}
	return a.Bundle, nil
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
