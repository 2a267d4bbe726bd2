// Package github is the small part of GitHub's REST API pipguard needs:
// repositories, releases by tag, asset downloads, and attestations by
// digest. It works against github.com (API at https://api.github.com) and
// GitHub Enterprise Server (API at https://HOST/api/v3).
//
// What it trusts: nothing it downloads. Release metadata, asset bytes and
// attestation bundles are untrusted input for package attest to verify; this
// package only bounds them (sizes, timeouts) and checks transport-level
// integrity (length, the API's own digest). The token is sent only over
// https and only to the API host: never to an asset or bundle host a
// response redirects to, and it never appears in an error.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Limits on what is read from the network.
const (
	// MaxJSON bounds an API response body.
	MaxJSON = 10 << 20
	// MaxBundle bounds one attestation bundle, compressed or not.
	MaxBundle = 16 << 20
)

// Client talks to one GitHub host.
type Client struct {
	api     *url.URL // https://api.github.com/ or https://HOST/api/v3/
	web     *url.URL // https://github.com or https://HOST
	http    *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
	maxWait time.Duration
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	token   string
	// validators, when set, makes API GETs conditional (If-None-Match).
	validators Validators
	progress   Progress
	// apiDownloads is set once a browser download URL answered 404 (a
	// private repository): later assets go through the API at once.
	apiDownloads atomic.Bool
	// rest counts requests sent to the REST API (retries included).
	rest atomic.Int64
}

// RESTCalls is how many requests the client has sent to the REST API, the
// ones GitHub's rate limit counts (downloads from the web and storage
// hosts, and bundle fetches, are not among them).
func (c *Client) RESTCalls() int { return int(c.rest.Load()) }

// Validators remembers API responses' ETags and bodies, so that a request
// asked again is conditional: GitHub answers 304 Not Modified without a
// body, which (when authenticated) does not count against the rate limit.
type Validators interface {
	Validator(key string) (etag string, body []byte, ok bool)
	StoreValidator(key, etag string, body []byte)
}

// Progress observes downloads, for a caller that shows them (the library
// prints nothing).
type Progress interface {
	// Begin is called as an asset's bytes start to arrive; the function it
	// returns is called with the size of each chunk read, then with -1 when
	// the download ends (whole or not).
	Begin(name string, size int64) func(n int64)
}

// WithProgress reports asset downloads to p.
func WithProgress(p Progress) Option { return func(c *Client) { c.progress = p } }

// WithValidators makes API GETs conditional on what v remembers.
func WithValidators(v Validators) Option { return func(c *Client) { c.validators = v } }

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the underlying HTTP client (its Transport is wrapped
// to add the token; its redirect policy is kept).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds each API request, and each pause in a download.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a failed request (5xx, connection reset)
// is retried, and the first backoff (doubled each time).
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, backoff }
}

// WithMaxRateLimitWait sets the longest pause the client takes to wait for
// a rate limit to reset before giving up with a *RateLimitError.
func WithMaxRateLimitWait(d time.Duration) Option { return func(c *Client) { c.maxWait = d } }

// New returns a client for the GitHub at webURL (https://github.com, or a
// GitHub Enterprise Server URL). token may be empty: public repositories
// need none.
func New(webURL, token string, opts ...Option) (*Client, error) {
	web, err := url.Parse(strings.TrimSuffix(webURL, "/"))
	if err != nil || web.Host == "" || (web.Scheme != "https" && web.Scheme != "http") {
		return nil, fmt.Errorf("invalid GitHub URL %q", webURL)
	}
	api := &url.URL{Scheme: web.Scheme, Host: web.Host, Path: "/api/v3/"}
	if strings.EqualFold(web.Host, "github.com") {
		api = &url.URL{Scheme: "https", Host: "api.github.com", Path: "/"}
	}
	c := &Client{
		api: api, web: web, timeout: 30 * time.Second, retries: 3, backoff: 500 * time.Millisecond,
		maxWait: time.Minute, now: time.Now, sleep: sleepCtx, token: token,
	}
	for _, o := range opts {
		o(c)
	}
	base := http.DefaultTransport
	var redirect func(*http.Request, []*http.Request) error
	var jar http.CookieJar
	if c.http != nil {
		if c.http.Transport != nil {
			base = c.http.Transport
		}
		redirect, jar = c.http.CheckRedirect, c.http.Jar
	}
	c.http = &http.Client{Transport: &tokenTransport{base: base, token: token, host: api.Host}, CheckRedirect: redirect, Jar: jar}
	return c, nil
}

// APIURL is the API's base URL.
func (c *Client) APIURL() string { return c.api.String() }

// tokenTransport adds the token to requests for the API host over https,
// and to nothing else: a redirect to an asset or blob host goes out bare.
type tokenTransport struct {
	base  http.RoundTripper
	token string
	host  string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	if t.token != "" && req.URL.Scheme == "https" && strings.EqualFold(req.URL.Host, t.host) && req.Context().Value(bareKey{}) == nil {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	return t.base.RoundTrip(req)
}

// bareKey marks a request's context: send no token, even to the API host
// (public downloads need none).
type bareKey struct{}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrNotFound is GitHub's 404: no such repository, release or asset (or a
// private one the token cannot see).
var ErrNotFound = errors.New("not found")

// HTTPError is an unexpected status from GitHub.
type HTTPError struct {
	Method, URL string
	Status      int
	Message     string // GitHub's "message", if any
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Hint says what to do.
func (e *HTTPError) Hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "GitHub rejected the token: check GH_TOKEN (or GITHUB_TOKEN), or unset it for public repositories"
	case http.StatusForbidden:
		return "the token cannot read this repository's releases or attestations"
	}
	return ""
}

// Is makes a 404 HTTPError match ErrNotFound.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// RateLimitError is a rate limit that did not reset within the wait bound.
type RateLimitError struct {
	URL      string
	Reset    time.Time // zero if unknown
	HasToken bool
}

func (e *RateLimitError) Error() string {
	if e.Reset.IsZero() {
		return fmt.Sprintf("GitHub rate limit exceeded for %s", e.URL)
	}
	return fmt.Sprintf("GitHub rate limit exceeded for %s until %s", e.URL, e.Reset.UTC().Format(time.RFC3339))
}

// Hint says what to do.
func (e *RateLimitError) Hint() string {
	if e.HasToken {
		return "wait for the reset, or use a token with a higher limit"
	}
	return "set GH_TOKEN (or GITHUB_TOKEN): authenticated requests have a far higher rate limit"
}

// UnavailableError is a network failure or server error that persisted
// through the retries. Retrying later may help.
type UnavailableError struct {
	URL string
	Err error
}

func (e *UnavailableError) Error() string { return fmt.Sprintf("%s: %v", e.URL, e.Err) }

// Hint says what to do.
func (e *UnavailableError) Hint() string {
	return "GitHub could not be reached or kept failing; check the network and retry"
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// BadResponseError is an answer pipguard will not read: too large, or not
// the JSON GitHub's API sends. Retrying does not help.
type BadResponseError struct {
	URL, Msg string
}

func (e *BadResponseError) Error() string { return e.URL + ": " + e.Msg }

// Hint says what to do.
func (e *BadResponseError) Hint() string {
	return "the server at --github-url did not answer as GitHub's API does; check --github-url and any proxy in between (retrying will not help)"
}

// redact removes the query string (signed blob URLs carry credentials) and
// any user info from a URL for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	return c.String()
}

// do sends a GET with retries on network errors and 5xx, and waits out
// short rate limits. The caller closes the body of a 2xx response; any other
// status becomes an error.
func (c *Client) do(ctx context.Context, u *url.URL, accept string) (*http.Response, error) {
	return c.doWith(ctx, u, accept, "")
}

// doWith is do with an If-None-Match validator; a 304 answer is returned
// like a 2xx one.
func (c *Client) doWith(ctx context.Context, u *url.URL, accept, etag string) (*http.Response, error) {
	backoff := c.backoff
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		req.Header.Set("User-Agent", "pipguard")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		if strings.EqualFold(u.Host, c.api.Host) && strings.HasPrefix(u.Path, c.api.Path) {
			c.rest.Add(1)
		}
		resp, err := c.http.Do(req)
		retry := false
		var failure error
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, &UnavailableError{URL: redact(u), Err: ctx.Err()}
			}
			failure, retry = scrub(err, c.token), transient(err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300, resp.StatusCode == http.StatusNotModified && etag != "":
			return resp, nil
		case resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusForbidden && rateLimited(resp)):
			wait, reset := c.rateLimitWait(resp)
			resp.Body.Close()
			if wait < 0 || wait > c.maxWait || attempt >= c.retries {
				return nil, &RateLimitError{URL: redact(u), Reset: reset, HasToken: c.token != ""}
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, &UnavailableError{URL: redact(u), Err: err}
			}
			continue
		case resp.StatusCode >= 500:
			failure = &HTTPError{Method: "GET", URL: redact(u), Status: resp.StatusCode, Message: message(resp)}
			retry = true
		default:
			e := &HTTPError{Method: "GET", URL: redact(u), Status: resp.StatusCode, Message: message(resp)}
			return nil, e
		}
		if !retry || attempt >= c.retries {
			return nil, &UnavailableError{URL: redact(u), Err: failure}
		}
		if err := c.sleep(ctx, backoff); err != nil {
			return nil, &UnavailableError{URL: redact(u), Err: err}
		}
		backoff *= 2
	}
}

// rateLimited tells a rate-limit 403 from a permission 403.
func rateLimited(resp *http.Response) bool {
	return resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""
}

// rateLimitWait is how long GitHub asks to wait: Retry-After seconds, else
// until X-RateLimit-Reset; -1 when it does not say.
func (c *Client) rateLimitWait(resp *http.Response) (time.Duration, time.Time) {
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			d := time.Duration(n) * time.Second
			return d, c.now().Add(d)
		}
	}
	if s := resp.Header.Get("X-RateLimit-Reset"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			reset := time.Unix(n, 0)
			d := reset.Sub(c.now())
			if d < 0 {
				d = 0
			}
			return d, reset
		}
	}
	// GitHub's guidance for secondary limits without headers: wait a minute.
	return time.Minute, c.now().Add(time.Minute)
}

func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	s := err.Error()
	for _, m := range []string{"connection reset", "connection refused", "EOF", "broken pipe", "server closed"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// scrub returns err with the token masked out of its text.
func scrub(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "***"))
}

func message(resp *http.Response) string {
	var m struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m)
	resp.Body.Close()
	if len(m.Message) > 200 {
		m.Message = m.Message[:200] + "…"
	}
	return m.Message
}

// getJSON GETs an API path (relative to the API base, or an absolute URL on
// the API host) and decodes at most MaxJSON bytes into v. It returns the
// response headers.
func (c *Client) getJSON(ctx context.Context, ref string, v any) (http.Header, error) {
	body, hdr, u, err := c.getRaw(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, &BadResponseError{URL: u, Msg: "malformed JSON: " + err.Error()}
	}
	return hdr, nil
}

// getRaw GETs an API path and returns at most MaxJSON bytes of body, the
// headers and the redacted URL.
func (c *Client) getRaw(ctx context.Context, ref string) ([]byte, http.Header, string, error) {
	u, err := c.api.Parse(ref)
	if err != nil {
		return nil, nil, "", err
	}
	if !strings.EqualFold(u.Host, c.api.Host) || u.Scheme != c.api.Scheme {
		return nil, nil, "", fmt.Errorf("refusing to follow %s: not the GitHub API", redact(u))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var etag string
	var known []byte
	key := c.validatorKey(u)
	if c.validators != nil {
		if e, b, ok := c.validators.Validator(key); ok && len(b) <= MaxJSON {
			etag, known = e, b
		}
	}
	resp, err := c.doWith(ctx, u, "application/vnd.github+json", etag)
	if err != nil {
		return nil, nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return known, resp.Header, redact(u), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJSON+1))
	if err != nil {
		return nil, nil, "", &UnavailableError{URL: redact(u), Err: scrub(err, c.token)}
	}
	if len(body) > MaxJSON {
		return nil, nil, "", &BadResponseError{URL: redact(u), Msg: fmt.Sprintf("response larger than %d MiB", MaxJSON>>20)}
	}
	if e := resp.Header.Get("ETag"); c.validators != nil && e != "" {
		c.validators.StoreValidator(key, e, body)
	}
	return body, resp.Header, redact(u), nil
}

// validatorKey names a response for Validators: its URL and who asked (a
// token sees what an anonymous caller does not).
//
// Who asked is "authenticated" or "anonymous", not which token: GitHub
// answers 304 only when the ETag is that of what the caller would get now,
// so a body cached under another token is never served for one that sees
// something else, and a new token (Actions makes one per job) does not
// copy every response again.
func (c *Client) validatorKey(u *url.URL) string {
	who := "anonymous"
	if c.token != "" {
		who = "authenticated"
	}
	return u.String() + " " + who
}
