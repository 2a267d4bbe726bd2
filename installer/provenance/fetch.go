package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/html"
)

// Where provenance comes from:
//
//   - PEP 691 (JSON simple API), as PEP 740 extends it: each file's
//     "provenance" key, "either a JSON string (the URL of the file's
//     provenance object) or null";
//   - PEP 503 (HTML simple API): the anchor's data-provenance attribute;
//   - PyPI's Integrity API, GET /integrity/PROJECT/VERSION/FILENAME/provenance
//     with Accept: application/vnd.pypi.integrity.v1+json, as a fallback
//     when the page does not say (404: none, 403: disabled).

// Media types of the simple API and the Integrity API.
const (
	SimpleJSON    = "application/vnd.pypi.simple.v1+json"
	SimpleHTML    = "application/vnd.pypi.simple.v1+html"
	IntegrityJSON = "application/vnd.pypi.integrity.v1+json"
)

// Defaults of a Fetcher.
const (
	// DefaultMaxPage bounds a project page: PyPI's largest (thousands of
	// files, each with hashes and metadata links) are tens of MiB.
	DefaultMaxPage = 64 << 20
	// DefaultTimeout bounds each request, body included.
	DefaultTimeout = 30 * time.Second
)

// ErrDisabled is an index that answers 403 to the Integrity API:
// attestations are disabled there.
var ErrDisabled = errors.New("the index has attestations disabled (403)")

// FetchError is a request that did not give a usable answer. It wraps
// ErrNoProvenance (404, or a null provenance link), ErrDisabled (403),
// ErrTooLarge, or the transport's error.
type FetchError struct {
	// URL is the request's URL without credentials.
	URL    string
	Status int
	Err    error
}

func (e *FetchError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %v", e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.URL, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// HostError is a provenance URL (or a redirect) to another host than the
// index's, which a Fetcher refuses unless told to allow that host: an
// index must not make pipguard fetch from, or send its credentials to,
// anywhere else.
type HostError struct {
	URL       string
	IndexHost string
}

func (e *HostError) Error() string {
	return fmt.Sprintf("provenance URL %s is not on the index's host %s", e.URL, e.IndexHost)
}

// Hint says what to do.
func (e *HostError) Hint() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return ""
	}
	return "if the index keeps provenance on " + u.Host + ", allow that host explicitly"
}

// Link is what a simple API page says about one file.
type Link struct {
	Filename string `json:"filename"`
	URL      string `json:"url"`
	// Provenance is the absolute URL of the provenance object, "" when
	// the page gives none.
	Provenance string `json:"provenance,omitempty"`
	// Said is true when the page says whether there is provenance: a
	// JSON "provenance" key (a URL or null) or an HTML data-provenance
	// attribute. When false, the Integrity API is asked.
	Said bool `json:"said"`
}

// Fetched is a provenance object and where it came from.
type Fetched struct {
	Provenance *Provenance
	// Raw is the document as served, for a cache or a receipt.
	Raw []byte
	// URL is where it was fetched from; Source is "simple" or "integrity".
	URL    string
	Source string
}

// Fetcher finds and fetches provenance from one index. It is safe for
// concurrent use; each project's page is fetched once.
type Fetcher struct {
	client    *http.Client
	index     *url.URL
	integrity *url.URL
	maxPage   int64
	maxBody   int64
	timeout   time.Duration
	hosts     map[string]bool
	requests  atomic.Int64

	mu    sync.Mutex
	pages map[string]*page
}

type page struct {
	done  chan struct{}
	links map[string]Link
	err   error
}

// FetchOption configures a Fetcher.
type FetchOption func(*Fetcher)

// WithTimeout bounds each request, its body included.
func WithTimeout(d time.Duration) FetchOption { return func(f *Fetcher) { f.timeout = d } }

// WithMaxBody bounds a provenance document (default MaxProvenance) and
// WithMaxPage a project page (default DefaultMaxPage).
func WithMaxBody(n int64) FetchOption { return func(f *Fetcher) { f.maxBody = n } }

// WithMaxPage bounds a project page.
func WithMaxPage(n int64) FetchOption { return func(f *Fetcher) { f.maxPage = n } }

// AllowProvenanceHostUnsafe lets provenance URLs (and redirects) point
// to host (HOST or HOST:PORT) besides the index's own. The client's
// credentials, if it adds any, go there too.
func AllowProvenanceHostUnsafe(host string) FetchOption {
	return func(f *Fetcher) { f.hosts[strings.ToLower(host)] = true }
}

// WithIntegrityAPI sets the Integrity API's base URL (default: the index
// URL with its final "simple/" replaced by "integrity/", else
// /integrity/ on the index's host); "" disables the fallback.
func WithIntegrityAPI(base string) FetchOption {
	return func(f *Fetcher) {
		if base == "" {
			f.integrity = nil
			return
		}
		u, err := url.Parse(base)
		if err == nil {
			if !strings.HasSuffix(u.Path, "/") {
				u.Path += "/"
			}
			f.integrity = u
		}
	}
}

// NewFetcher returns a fetcher for the simple index at indexURL (e.g.
// https://pypi.org/simple/). The client is the caller's: it carries the
// index's credentials, if any, and nothing else.
func NewFetcher(client *http.Client, indexURL string, opts ...FetchOption) (*Fetcher, error) {
	u, err := url.Parse(indexURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("index URL %q is not an http(s) URL", printable(indexURL, 200))
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if client == nil {
		client = http.DefaultClient
	}
	f := &Fetcher{index: u, maxPage: DefaultMaxPage, maxBody: MaxProvenance, timeout: DefaultTimeout,
		hosts: map[string]bool{strings.ToLower(u.Host): true}, pages: map[string]*page{}}
	iu := *u
	iu.User = nil
	if strings.HasSuffix(iu.Path, "/simple/") {
		iu.Path = strings.TrimSuffix(iu.Path, "simple/") + "integrity/"
	} else {
		iu.Path = "/integrity/"
	}
	iu.RawQuery, iu.Fragment = "", ""
	f.integrity = &iu
	for _, o := range opts {
		o(f)
	}
	// A copy of the caller's client whose redirects stay on allowed
	// hosts and off plain http when the index is https.
	c := *client
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := f.allowed(req.URL); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	f.client = &c
	return f, nil
}

// Requests is the number of HTTP requests made so far.
func (f *Fetcher) Requests() int64 { return f.requests.Load() }

func (f *Fetcher) allowed(u *url.URL) error {
	if !f.hosts[strings.ToLower(u.Host)] || u.Scheme != "https" && u.Scheme != "http" || f.index.Scheme == "https" && u.Scheme != "https" {
		return &HostError{URL: redact(u), IndexHost: f.index.Host}
	}
	return nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// get fetches u with accept and returns the body (at most max bytes),
// the response's media type and status.
func (f *Fetcher) get(ctx context.Context, u *url.URL, accept string, max int64) ([]byte, string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", 0, &FetchError{URL: redact(u), Err: err}
	}
	req.Header.Set("Accept", accept)
	f.requests.Add(1)
	resp, err := f.client.Do(req)
	if err != nil {
		var he *HostError
		if errors.As(err, &he) {
			return nil, "", 0, he
		}
		return nil, "", 0, &FetchError{URL: redact(u), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", resp.StatusCode, nil
	}
	if resp.ContentLength > max {
		return nil, "", resp.StatusCode, &FetchError{URL: redact(u), Status: resp.StatusCode,
			Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, resp.ContentLength, max)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, "", resp.StatusCode, &FetchError{URL: redact(u), Status: resp.StatusCode, Err: err}
	}
	if int64(len(body)) > max {
		return nil, "", resp.StatusCode, &FetchError{URL: redact(u), Status: resp.StatusCode,
			Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return body, mt, resp.StatusCode, nil
}

// Links returns what the project's simple API page says about each file,
// by file name. The page is asked for as PEP 691 JSON, HTML accepted.
func (f *Fetcher) Links(ctx context.Context, project string) (map[string]Link, error) {
	key := NormalizeName(project)
	f.mu.Lock()
	p, ok := f.pages[key]
	if !ok {
		p = &page{done: make(chan struct{})}
		f.pages[key] = p
	}
	f.mu.Unlock()
	if ok {
		select {
		case <-p.done:
			return p.links, p.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.links, p.err = f.fetchLinks(ctx, key)
	close(p.done)
	if p.err != nil {
		// A failure is not remembered: the next caller asks again.
		f.mu.Lock()
		delete(f.pages, key)
		f.mu.Unlock()
	}
	return p.links, p.err
}

func (f *Fetcher) fetchLinks(ctx context.Context, project string) (map[string]Link, error) {
	u := f.index.ResolveReference(&url.URL{Path: url.PathEscape(project) + "/"})
	body, mt, status, err := f.get(ctx, u, SimpleJSON+", "+SimpleHTML+";q=0.2, text/html;q=0.01", f.maxPage)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, &FetchError{URL: redact(u), Status: status, Err: errors.New("the index has no page for project " + project)}
	}
	if mt == SimpleJSON || mt == "application/json" {
		return parseJSONPage(u, body)
	}
	return parseHTMLPage(u, body)
}

func parseJSONPage(base *url.URL, body []byte) (map[string]Link, error) {
	var doc struct {
		Files []struct {
			Filename   string          `json:"filename"`
			URL        string          `json:"url"`
			Provenance json.RawMessage `json:"provenance"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &FetchError{URL: redact(base), Err: fmt.Errorf("not a PEP 691 JSON page: %s", printable(err.Error(), 160))}
	}
	links := make(map[string]Link, len(doc.Files))
	for _, fl := range doc.Files {
		l := Link{Filename: fl.Filename, URL: resolve(base, fl.URL)}
		if fl.Provenance != nil {
			l.Said = true
			var s *string
			if err := json.Unmarshal(fl.Provenance, &s); err != nil {
				return nil, &FetchError{URL: redact(base), Err: fmt.Errorf("file %q: \"provenance\" is neither a URL nor null", printable(fl.Filename, 200))}
			}
			if s != nil && *s != "" {
				l.Provenance = resolve(base, *s)
			}
		}
		links[fl.Filename] = l
	}
	return links, nil
}

func parseHTMLPage(base *url.URL, body []byte) (map[string]Link, error) {
	z := html.NewTokenizer(bytes.NewReader(body))
	links := map[string]Link{}
	var cur *Link
	var text strings.Builder
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return links, nil
			}
			return nil, &FetchError{URL: redact(base), Err: fmt.Errorf("not an HTML page: %v", z.Err())}
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "a" {
				continue
			}
			l := Link{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "href":
					l.URL = resolve(base, string(v))
				case "data-provenance":
					l.Said, l.Provenance = true, resolve(base, string(v))
				}
			}
			cur = &l
			text.Reset()
		case html.TextToken:
			if cur != nil {
				text.Write(z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "a" && cur != nil {
				cur.Filename = strings.TrimSpace(text.String())
				if cur.Filename == "" {
					if u, err := url.Parse(cur.URL); err == nil {
						cur.Filename = path.Base(u.Path)
					}
				}
				links[cur.Filename] = *cur
				cur = nil
			}
		}
	}
}

func resolve(base *url.URL, ref string) string {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return ""
	}
	r := base.ResolveReference(u)
	r.Fragment = ""
	return r.String()
}

// Fetch returns the provenance the index publishes for one file of
// project at version: from the simple API page's link, else (when the
// page does not say) from the Integrity API. No provenance is a
// *FetchError wrapping ErrNoProvenance; a 403 from the Integrity API wraps
// ErrDisabled; a link to another host is a *HostError.
func (f *Fetcher) Fetch(ctx context.Context, project, version, filename string) (*Fetched, error) {
	links, err := f.Links(ctx, project)
	if err != nil {
		return nil, err
	}
	l, listed := links[filename]
	switch {
	case listed && l.Provenance != "":
		u, err := url.Parse(l.Provenance)
		if err != nil {
			return nil, &FetchError{URL: printable(l.Provenance, 200), Err: err}
		}
		if err := f.allowed(u); err != nil {
			return nil, err
		}
		return f.fetchProvenance(ctx, u, "application/json, "+IntegrityJSON, "simple")
	case listed && l.Said:
		return nil, &FetchError{URL: redact(f.index), Err: fmt.Errorf("%w: the index lists %s without provenance", ErrNoProvenance, filename)}
	case f.integrity == nil:
		if !listed {
			return nil, &FetchError{URL: redact(f.index), Err: fmt.Errorf("%s is not listed on the page of %s", filename, project)}
		}
		return nil, &FetchError{URL: redact(f.index), Err: fmt.Errorf("%w: the index's page says nothing about provenance for %s", ErrNoProvenance, filename)}
	}
	u := f.integrity.ResolveReference(&url.URL{Path: url.PathEscape(NormalizeName(project)) + "/" + url.PathEscape(version) + "/" + url.PathEscape(filename) + "/provenance"})
	return f.fetchProvenance(ctx, u, IntegrityJSON, "integrity")
}

func (f *Fetcher) fetchProvenance(ctx context.Context, u *url.URL, accept, source string) (*Fetched, error) {
	body, _, status, err := f.get(ctx, u, accept, f.maxBody)
	if err != nil {
		return nil, err
	}
	switch status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, &FetchError{URL: redact(u), Status: status, Err: ErrNoProvenance}
	case http.StatusForbidden:
		return nil, &FetchError{URL: redact(u), Status: status, Err: ErrDisabled}
	default:
		return nil, &FetchError{URL: redact(u), Status: status, Err: errors.New("unexpected answer")}
	}
	p, err := ParseProvenance(body)
	if err != nil {
		return nil, &FetchError{URL: redact(u), Status: status, Err: err}
	}
	return &Fetched{Provenance: p, Raw: body, URL: redact(u), Source: source}, nil
}
