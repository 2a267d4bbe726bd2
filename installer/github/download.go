package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pipguard/pipguard/internal/hashcopy"
)

// Downloaded is an asset written to disk.
type Downloaded struct {
	// Path is DIR/NAME, mode 0600.
	Path   string
	SHA256 string
	Size   int64
}

// IntegrityError means the bytes received are not the asset GitHub
// describes: another size or digest. Never retried; nothing is kept.
type IntegrityError struct {
	Asset            string
	What             string
	Expected, Actual string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("asset %s: expected %s %s, got %s", e.Asset, e.What, e.Expected, e.Actual)
}

// Hint says what to do.
func (e *IntegrityError) Hint() string {
	return "the download does not match the release's metadata; do not install it, and tell the maintainers"
}

// Download streams the asset into dir/NAME (created 0600; dir must be
// private, 0700), hashing as it reads. The file exists only when the whole
// asset arrived with the size and digest GitHub lists; on any error nothing
// is left behind.
//
// A public asset is fetched from its browser_download_url on the GitHub
// host, without the token: that is not a REST API call, so it does not spend
// the rate limit. When that URL answers 404 (a private repository, whose
// web downloads need a browser session), the asset comes through the API
// URL with the token, and so do the client's later downloads. Either way
// GitHub redirects to a storage host, which gets no token.
func (c *Client) Download(ctx context.Context, a Asset, dir string) (*Downloaded, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("download directory %s is readable by others (mode %v): refusing", dir, fi.Mode().Perm())
	}
	u, err := url.Parse(a.URL)
	if err != nil || !strings.EqualFold(u.Host, c.api.Host) {
		return nil, fmt.Errorf("asset %s: URL %q is not on the GitHub API host", a.Name, a.URL)
	}
	if a.Size < 0 {
		return nil, fmt.Errorf("asset %s: negative size", a.Name)
	}
	final := filepath.Join(dir, a.Name)
	if filepath.Dir(final) != filepath.Clean(dir) {
		return nil, fmt.Errorf("asset name %q escapes the download directory", a.Name)
	}

	// A download may take long; what is bounded is each pause.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := newIdleTimer(c.timeout, cancel)
	defer idle.stop()

	var resp *http.Response
	if b := c.browserURL(a, u); b != nil && !c.apiDownloads.Load() {
		resp, err = c.do(context.WithValue(ctx, bareKey{}, true), b, "application/octet-stream")
		var he *HTTPError
		switch {
		case errors.As(err, &he):
			// 404 for a private repository; a sign-in page or another
			// refusal where the web host wants a session (GitHub Enterprise
			// Server in private mode, SSO): the API URL, with the token.
			c.apiDownloads.Store(true)
			resp, err = nil, nil
		case err != nil:
			return nil, err
		case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"),
			resp.ContentLength >= 0 && resp.ContentLength != a.Size:
			// A page, not the asset (a sign-in page answered 200).
			resp.Body.Close()
			c.apiDownloads.Store(true)
			resp = nil
		}
	}
	if resp == nil {
		if resp, err = c.do(ctx, u, "application/octet-stream"); err != nil {
			return nil, err
		}
	}
	defer resp.Body.Close()

	// A body announced at another size than the release lists is another
	// file, not a download to retry.
	if resp.ContentLength >= 0 && resp.ContentLength != a.Size {
		return nil, &IntegrityError{Asset: a.Name, What: "size", Expected: fmt.Sprint(a.Size), Actual: fmt.Sprintf("%d bytes announced", resp.ContentLength)}
	}
	part, err := os.CreateTemp(dir, ".partial-*")
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			part.Close()
			os.Remove(part.Name())
		}
	}()
	h := sha256.New()
	pr := &progressReader{r: resp.Body, idle: idle}
	if c.progress != nil {
		pr.report = c.progress.Begin(a.Name, a.Size)
		defer pr.report(-1)
	}
	// Read one byte more than promised, to notice an oversized body.
	n, err := hashcopy.Copy(part, h, io.LimitReader(pr, a.Size+1))
	if err != nil {
		if idle.fired() {
			err = fmt.Errorf("no data for %s", c.timeout)
		}
		return nil, &UnavailableError{URL: redact(resp.Request.URL), Err: fmt.Errorf("download of %s interrupted after %d of %d bytes: %v", a.Name, n, a.Size, scrub(err, c.token))}
	}
	if resp.ContentLength >= 0 && n < resp.ContentLength {
		return nil, &UnavailableError{URL: redact(resp.Request.URL), Err: fmt.Errorf("download of %s truncated: %d of %d bytes", a.Name, n, resp.ContentLength)}
	}
	if n != a.Size {
		return nil, &IntegrityError{Asset: a.Name, What: "size", Expected: fmt.Sprint(a.Size), Actual: fmt.Sprintf("%d bytes", n)}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if a.Digest != "" {
		alg, want, _ := strings.Cut(a.Digest, ":")
		if alg == "sha256" && !strings.EqualFold(want, sum) {
			return nil, &IntegrityError{Asset: a.Name, What: "digest", Expected: a.Digest, Actual: "sha256:" + sum}
		}
	}
	if err := part.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(part.Name(), final); err != nil {
		return nil, fmt.Errorf("asset %s: %w", a.Name, err)
	}
	os.Remove(part.Name())
	keep = true
	return &Downloaded{Path: final, SHA256: sum, Size: n}, nil
}

// browserURL is the asset's browser_download_url when it is where GitHub
// puts it: https on the GitHub host, /OWNER/REPO/releases/download/TAG/NAME.
// Anything else is ignored (the API URL is used).
func (c *Client) browserURL(a Asset, api *url.URL) *url.URL {
	b, err := url.Parse(a.BrowserDownloadURL)
	if err != nil || b.Scheme != c.web.Scheme || !strings.EqualFold(b.Host, c.web.Host) || b.User != nil || b.RawQuery != "" || b.Fragment != "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(b.Path, "/"), "/")
	if len(parts) != 6 || parts[2] != "releases" || parts[3] != "download" || parts[5] != a.Name {
		return nil
	}
	// The same repository as the API URL: .../repos/OWNER/REPO/releases/assets/ID.
	ap := strings.Split(strings.TrimPrefix(strings.TrimPrefix(api.Path, c.api.Path), "/"), "/")
	if len(ap) != 6 || ap[0] != "repos" || ap[3] != "releases" || ap[4] != "assets" || !strings.EqualFold(ap[1], parts[0]) || !strings.EqualFold(ap[2], parts[1]) {
		return nil
	}
	return b
}

// idleTimer cancels a download when no byte arrives for d.
type idleTimer struct {
	mu     sync.Mutex
	t      *time.Timer
	d      time.Duration
	didRun bool
}

func newIdleTimer(d time.Duration, cancel func()) *idleTimer {
	it := &idleTimer{d: d}
	it.t = time.AfterFunc(d, func() {
		it.mu.Lock()
		it.didRun = true
		it.mu.Unlock()
		cancel()
	})
	return it
}

func (it *idleTimer) touch() { it.t.Reset(it.d) }
func (it *idleTimer) stop()  { it.t.Stop() }
func (it *idleTimer) fired() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.didRun
}

type progressReader struct {
	r      io.Reader
	idle   *idleTimer
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.idle.touch()
		if p.report != nil {
			p.report(int64(n))
		}
	}
	return n, err
}
