// Package githubtest is a local GitHub for tests: the REST endpoints
// pipguard uses and git smart HTTP for the same repositories, served over
// TLS on 127.0.0.1 from an in-memory model that tests build.
//
// Three servers stand in for GitHub's three hosts, as in production:
//
//	API     https://127.0.0.1:A  REST under /api/v3 (GitHub Enterprise Server
//	                             paths) and git at /OWNER/REPO.git (real
//	                             git http-backend)
//	Assets  https://127.0.0.1:B  asset bytes; the API answers an asset
//	                             download with 302 to here
//	Blobs   https://127.0.0.1:C  attestation bundles, snappy-compressed,
//	                             at the entries' bundle_url
//
// Responses carry GitHub's status codes and headers (JSON content type,
// X-GitHub-Api-Version, X-RateLimit-*, Link pagination with an "after"
// cursor). Every request is logged with its headers, and faults can be
// injected per route: statuses, delays, rate limits, truncated bodies and
// wrong Content-Length.
//
// Publish makes a release the way real projects do (see the fastapi-paseto
// layout): a wheel, an sdist, SHA256SUMS, an SPDX SBOM per asset, build
// provenance and SBOM attestations signed by a sigstoretest instance, and a
// release attestation when the release is immutable.
package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/pipguard/pipguard/internal/gittest"
)

// TB is what the server needs of a test.
type TB = gittest.TB

// Server is the local GitHub.
type Server struct {
	API, Assets, Blobs *httptest.Server
	// Root holds the git repositories: Root/OWNER/REPO.git.
	Root string
	// Token, when set, is the only token the API accepts; requests for a
	// private repository without it get 404, as on GitHub.
	Token string
	// InlineBundles serves attestations with an inline "bundle" instead of
	// "bundle": null and a bundle_url.
	InlineBundles bool

	t      TB
	mu     sync.Mutex
	repos  map[string]*Repo
	faults []*Fault
	log    []Request
	nextID int64
	git    http.Handler
}

// Request is one logged request.
type Request struct {
	Server string // "api", "assets" or "blobs"
	Method string
	Path   string
	Query  string
	Header http.Header
}

// Repo is a repository of the local GitHub.
type Repo struct {
	Owner, Name   string
	ID            int64
	Private       bool
	DefaultBranch string
	Git           *gittest.Repo
	Releases      map[string]*Release
	Attestations  []*Attestation
}

// FullName is OWNER/REPO.
func (r *Repo) FullName() string { return r.Owner + "/" + r.Name }

// Release is a GitHub release.
type Release struct {
	ID                int64
	Tag               string
	Draft, Prerelease bool
	Immutable         bool
	Assets            []*Asset
}

// Asset is a release asset.
type Asset struct {
	ID          int64
	Name        string
	Data        []byte
	ContentType string
	// NoDigest leaves the API's digest field null, as for assets uploaded
	// before GitHub computed digests.
	NoDigest bool
	// APIDigest, when set, is the digest the API lists instead of the
	// bytes' own (GitHub's record and the stored body disagree).
	APIDigest string
}

// Digest is "sha256:HEX" of the asset's bytes.
func (a *Asset) Digest() string {
	s := sha256.Sum256(a.Data)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Attestation is stored for the digests it is listed under.
type Attestation struct {
	// Digests are "sha256:HEX" or "sha1:COMMIT".
	Digests       []string
	PredicateType string
	Bundle        []byte
	Initiator     string // "user" or "github"
}

// New starts the three servers; they stop when the test ends.
func New(t TB) *Server {
	t.Helper()
	s := &Server{t: t, repos: map[string]*Repo{}, nextID: 1000}
	dir, err := os.MkdirTemp("", "githubtest-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Root = dir
	if s.git, err = gittest.Handler(dir); err != nil {
		t.Fatalf("%v", err)
	}
	s.API = httptest.NewTLSServer(s.serve("api", s.api))
	s.Assets = httptest.NewTLSServer(s.serve("assets", s.assets))
	s.Blobs = httptest.NewTLSServer(s.serve("blobs", s.blobs))
	t.Cleanup(s.API.Close)
	t.Cleanup(s.Assets.Close)
	t.Cleanup(s.Blobs.Close)
	return s
}

// URL is the web URL to pass as --github-url.
func (s *Server) URL() string { return s.API.URL }

// Host is the API server's host:port.
func (s *Server) Host() string { return strings.TrimPrefix(s.API.URL, "https://") }

// Client is an http.Client that trusts the three servers.
func (s *Server) Client() *http.Client { return s.API.Client() }

// WriteCA writes the servers' certificate (all three share httptest's) as
// PEM, for SSL_CERT_FILE and GIT_SSL_CAINFO in subprocesses.
func (s *Server) WriteCA(path string) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.API.Certificate().Raw}), 0o644)
}

// Requests returns the requests logged so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) id() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// AddRepo creates OWNER/NAME with a real git repository on disk (one
// commit on main) served at URL()/OWNER/NAME.git.
func (s *Server) AddRepo(owner, name string) *Repo {
	s.t.Helper()
	r := &Repo{Owner: owner, Name: name, ID: s.id(), DefaultBranch: "main", Releases: map[string]*Release{}}
	r.Git = gittest.NewRepo(s.t, filepath.Join(s.Root, owner, name+".git"))
	// http-backend serves non-bare repositories from their .git directory.
	s.mu.Lock()
	s.repos[strings.ToLower(r.FullName())] = r
	s.mu.Unlock()
	return r
}

// GitURL is the repository's https clone URL on the local GitHub.
func (s *Server) GitURL(r *Repo) string { return s.URL() + "/" + r.FullName() + ".git" }

// AddRelease adds a release with the given assets.
func (s *Server) AddRelease(r *Repo, rel *Release) *Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rel.ID == 0 {
		s.nextID++
		rel.ID = s.nextID
	}
	for _, a := range rel.Assets {
		if a.ID == 0 {
			s.nextID++
			a.ID = s.nextID
		}
	}
	r.Releases[rel.Tag] = rel
	return rel
}

// AddAttestation stores a bundle under its digests.
func (s *Server) AddAttestation(r *Repo, a *Attestation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Attestations = append(r.Attestations, a)
}

// Fault changes the answer to requests whose "METHOD /path" matches Route
// (a regular expression), on any of the three servers.
type Fault struct {
	Route *regexp.Regexp
	// Times is how many matching requests are affected; 0 means all.
	Times int
	// Status, when set, is answered instead (with Body, or GitHub's JSON
	// message).
	Status int
	Body   string
	// RetryAfter sets Retry-After; RateLimitReset sets X-RateLimit-Reset
	// with X-RateLimit-Remaining: 0.
	RetryAfter     string
	RateLimitReset time.Time
	// Delay sleeps before answering.
	Delay time.Duration
	// Truncate sends only this many bytes of a normal answer, with the full
	// Content-Length (the connection then closes).
	Truncate int
	// WrongLength announces this Content-Length for a normal answer.
	WrongLength int
	// Before and After run around a normal answer: a repository that
	// changes under the client (a tag moved for one answer only).
	Before, After func()
	hits          int
}

// AddFault installs a fault.
func (s *Server) AddFault(f *Fault) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
	return f
}

// Hits is how many requests the fault has changed.
func (f *Fault) Hits() int { return f.hits }

func (s *Server) fault(route string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Route.MatchString(route) && (f.Times == 0 || f.hits < f.Times) {
			f.hits++
			return f
		}
	}
	return nil
}

// serve logs the request, applies faults, and hands on.
func (s *Server) serve(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, Request{Server: name, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()})
		s.mu.Unlock()
		f := s.fault(r.Method + " " + r.URL.Path)
		if f == nil {
			h(w, r)
			return
		}
		if f.Before != nil {
			f.Before()
		}
		if f.After != nil {
			defer f.After()
		}
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if !f.RateLimitReset.IsZero() {
			w.Header().Set("X-RateLimit-Limit", "60")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(f.RateLimitReset.Unix(), 10))
		}
		if f.Status != 0 {
			if f.Body != "" {
				w.WriteHeader(f.Status)
				fmt.Fprint(w, f.Body)
				return
			}
			msg := http.StatusText(f.Status)
			if f.Status == http.StatusForbidden || f.Status == http.StatusTooManyRequests {
				msg = "API rate limit exceeded for 127.0.0.1."
			}
			jsonError(w, f.Status, msg)
			return
		}
		if f.Truncate > 0 || f.WrongLength > 0 {
			rec := httptest.NewRecorder()
			h(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			body := rec.Body.Bytes()
			n := len(body)
			if f.WrongLength > 0 {
				n = f.WrongLength
			}
			w.Header().Set("Content-Length", strconv.Itoa(n))
			w.WriteHeader(rec.Code)
			if f.WrongLength > 0 {
				// A consistent but wrong answer: as many bytes as announced.
				w.Write(body[:min(n, len(body))])
				return
			}
			if f.Truncate < len(body) {
				body = body[:f.Truncate]
			}
			w.Write(body)
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			panic(http.ErrAbortHandler) // close the connection mid-body
		}
		h(w, r)
	})
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// writeJSON answers with v and GitHub's headers, including a strong ETag;
// a request whose If-None-Match names it gets 304 Not Modified and no body.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Api-Version", "2022-11-28")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// authorized accepts the token as the REST API takes it (Bearer) and as git
// over https takes it (basic auth, any user name).
func (s *Server) authorized(r *http.Request) bool {
	if s.Token == "" {
		return false
	}
	if r.Header.Get("Authorization") == "Bearer "+s.Token {
		return true
	}
	_, pw, ok := r.BasicAuth()
	return ok && pw == s.Token
}

func (s *Server) repo(owner, name string, r *http.Request) *Repo {
	s.mu.Lock()
	rp := s.repos[strings.ToLower(owner+"/"+name)]
	s.mu.Unlock()
	if rp == nil || rp.Private && !s.authorized(r) {
		return nil
	}
	return rp
}

var (
	repoRoute    = regexp.MustCompile(`^/api/v3/repos/([^/]+)/([^/]+)$`)
	tagRoute     = regexp.MustCompile(`^/api/v3/repos/([^/]+)/([^/]+)/releases/tags/(.+)$`)
	assetRoute   = regexp.MustCompile(`^/api/v3/repos/([^/]+)/([^/]+)/releases/assets/(\d+)$`)
	attestRoute  = regexp.MustCompile(`^/api/v3/repos/([^/]+)/([^/]+)/attestations/([^/]+)$`)
	compareRoute = regexp.MustCompile(`^/api/v3/repos/([^/]+)/([^/]+)/compare/([0-9a-f]{40})\.\.\.([0-9a-f]{40})$`)
	gitRoute     = regexp.MustCompile(`^/[^/]+/[^/]+\.git/`)
	browserRoute = regexp.MustCompile(`^/([^/]+)/([^/]+)/releases/download/([^/]+)/([^/]+)$`)
	assetDLRoute = regexp.MustCompile(`^/download/(\d+)/([^/]+)$`)
	blobRoute    = regexp.MustCompile(`^/bundles/([^/]+)/(\d+)$`)
)

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && !gitRoute.MatchString(r.URL.Path) {
		jsonError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if a := r.Header.Get("Authorization"); a != "" && !s.authorized(r) {
		jsonError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	p := r.URL.Path
	switch {
	case gitRoute.MatchString(p):
		parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
		if s.repo(parts[0], strings.TrimSuffix(parts[1], ".git"), r) == nil {
			// What GitHub answers git for a repository it will not show.
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "Authentication required", http.StatusUnauthorized)
			return
		}
		s.git.ServeHTTP(w, r)
	case browserRoute.MatchString(p):
		// github.com/OWNER/REPO/releases/download/TAG/NAME: the web host,
		// not the API. A private repository's downloads need a browser
		// session, so without one they are 404 (tokens do not count).
		m := browserRoute.FindStringSubmatch(p)
		s.mu.Lock()
		rp := s.repos[strings.ToLower(m[1]+"/"+m[2])]
		var a *Asset
		if rp != nil && !rp.Private {
			if rel := rp.Releases[m[3]]; rel != nil && !rel.Draft {
				for _, x := range rel.Assets {
					if x.Name == m[4] {
						a = x
					}
				}
			}
		}
		s.mu.Unlock()
		if a == nil {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("%s/download/%d/%s?sp=r&sig=SIGNED", s.Assets.URL, a.ID, a.Name), http.StatusFound)
	case repoRoute.MatchString(p):
		m := repoRoute.FindStringSubmatch(p)
		rp := s.repo(m[1], m[2], r)
		if rp == nil {
			jsonError(w, http.StatusNotFound, "Not Found")
			return
		}
		vis := "public"
		if rp.Private {
			vis = "private"
		}
		s.writeJSON(w, r, map[string]any{"id": rp.ID, "name": rp.Name, "full_name": rp.FullName(), "private": rp.Private,
			"visibility": vis, "default_branch": rp.DefaultBranch, "owner": map[string]any{"login": rp.Owner}})
	case tagRoute.MatchString(p):
		m := tagRoute.FindStringSubmatch(p)
		rp := s.repo(m[1], m[2], r)
		var rel *Release
		if rp != nil {
			s.mu.Lock()
			rel = rp.Releases[m[3]]
			s.mu.Unlock()
		}
		// Drafts are only visible to those who can push.
		if rel == nil || rel.Draft && !s.authorized(r) {
			jsonError(w, http.StatusNotFound, "Not Found")
			return
		}
		s.writeJSON(w, r, s.releaseJSON(rp, rel))
	case assetRoute.MatchString(p):
		m := assetRoute.FindStringSubmatch(p)
		rp := s.repo(m[1], m[2], r)
		a := s.findAsset(rp, m[3])
		if a == nil {
			jsonError(w, http.StatusNotFound, "Not Found")
			return
		}
		if r.Header.Get("Accept") == "application/octet-stream" {
			// GitHub redirects to a signed URL on another host.
			http.Redirect(w, r, fmt.Sprintf("%s/download/%d/%s?sp=r&sig=SIGNED", s.Assets.URL, a.ID, a.Name), http.StatusFound)
			return
		}
		s.writeJSON(w, r, s.assetJSON(rp, s.tagOf(rp, a), a))
	case compareRoute.MatchString(p):
		m := compareRoute.FindStringSubmatch(p)
		rp := s.repo(m[1], m[2], r)
		if rp == nil {
			jsonError(w, http.StatusNotFound, "Not Found")
			return
		}
		s.compare(w, r, rp, m[3], m[4])
	case attestRoute.MatchString(p):
		m := attestRoute.FindStringSubmatch(p)
		s.attestations(w, r, s.repo(m[1], m[2], r), m[3])
	default:
		jsonError(w, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) findAsset(rp *Repo, id string) *Asset {
	if rp == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rel := range rp.Releases {
		for _, a := range rel.Assets {
			if strconv.FormatInt(a.ID, 10) == id {
				return a
			}
		}
	}
	return nil
}

// tagOf is the tag of the release holding a.
func (s *Server) tagOf(rp *Repo, a *Asset) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rel := range rp.Releases {
		for _, x := range rel.Assets {
			if x == a {
				return rel.Tag
			}
		}
	}
	return ""
}

func (s *Server) assetJSON(rp *Repo, tag string, a *Asset) map[string]any {
	var digest any
	if !a.NoDigest {
		digest = a.Digest()
	}
	if a.APIDigest != "" {
		digest = a.APIDigest
	}
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	return map[string]any{
		"id": a.ID, "name": a.Name, "size": len(a.Data), "state": "uploaded", "content_type": ct, "digest": digest,
		"url":                  fmt.Sprintf("%s/api/v3/repos/%s/releases/assets/%d", s.URL(), rp.FullName(), a.ID),
		"browser_download_url": fmt.Sprintf("%s/%s/releases/download/%s/%s", s.URL(), rp.FullName(), tag, a.Name),
	}
}

func (s *Server) releaseJSON(rp *Repo, rel *Release) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	assets := []any{}
	for _, a := range rel.Assets {
		assets = append(assets, s.assetJSON(rp, rel.Tag, a))
	}
	return map[string]any{
		"id": rel.ID, "tag_name": rel.Tag, "target_commitish": rp.DefaultBranch, "name": rel.Tag,
		"draft": rel.Draft, "prerelease": rel.Prerelease, "immutable": rel.Immutable, "assets": assets,
	}
}

// attestations answers GET .../attestations/{digest} with GitHub's cursor
// pagination: per_page (default 30, at most 100) and after=<cursor>, with
// a Link rel="next" while more remain. 404 when there are none.
func (s *Server) attestations(w http.ResponseWriter, r *http.Request, rp *Repo, digest string) {
	if rp == nil {
		jsonError(w, http.StatusNotFound, "Not Found")
		return
	}
	q := r.URL.Query()
	pt := q.Get("predicate_type")
	var match []*Attestation
	s.mu.Lock()
	for _, a := range rp.Attestations {
		if pt != "" && a.PredicateType != pt {
			continue
		}
		for _, d := range a.Digests {
			if d == digest {
				match = append(match, a)
				break
			}
		}
	}
	s.mu.Unlock()
	if len(match) == 0 {
		jsonError(w, http.StatusNotFound, "Not Found")
		return
	}
	per := 30
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		per = min(n, 100)
	}
	start := 0
	if c := q.Get("after"); c != "" {
		start, _ = strconv.Atoi(c)
	}
	end := min(start+per, len(match))
	entries := []any{}
	for i := start; i < end; i++ {
		a := match[i]
		e := map[string]any{"repository_id": rp.ID, "initiator": a.Initiator, "bundle": nil}
		if s.InlineBundles {
			e["bundle"] = json.RawMessage(a.Bundle)
		} else {
			e["bundle_url"] = fmt.Sprintf("%s/bundles/%s/%d?sv=2025&sig=SECRET", s.Blobs.URL, digest, s.blobIndex(rp, a))
		}
		entries = append(entries, e)
	}
	if end < len(match) {
		nq := r.URL.Query()
		nq.Set("after", strconv.Itoa(end))
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, s.URL(), r.URL.Path, nq.Encode()))
	}
	s.writeJSON(w, r, map[string]any{"attestations": entries})
}

func (s *Server) blobIndex(rp *Repo, a *Attestation) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range rp.Attestations {
		if x == a {
			return i + int(rp.ID)*100000
		}
	}
	return -1
}

func (s *Server) assets(w http.ResponseWriter, r *http.Request) {
	m := assetDLRoute.FindStringSubmatch(r.URL.Path)
	if m == nil || r.URL.Query().Get("sig") != "SIGNED" {
		http.Error(w, "AuthenticationFailed", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	var a *Asset
	for _, rp := range s.repos {
		for _, rel := range rp.Releases {
			for _, x := range rel.Assets {
				if strconv.FormatInt(x.ID, 10) == m[1] {
					a = x
				}
			}
		}
	}
	s.mu.Unlock()
	if a == nil {
		http.Error(w, "BlobNotFound", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Data)))
	w.Write(a.Data)
}

func (s *Server) blobs(w http.ResponseWriter, r *http.Request) {
	m := blobRoute.FindStringSubmatch(r.URL.Path)
	if m == nil || r.URL.Query().Get("sig") != "SECRET" {
		http.Error(w, "AuthenticationFailed", http.StatusForbidden)
		return
	}
	idx, _ := strconv.Atoi(m[2])
	s.mu.Lock()
	var a *Attestation
	for _, rp := range s.repos {
		if i := idx - int(rp.ID)*100000; i >= 0 && i < len(rp.Attestations) {
			a = rp.Attestations[i]
		}
	}
	s.mu.Unlock()
	if a == nil {
		http.Error(w, "BlobNotFound", http.StatusNotFound)
		return
	}
	body := snappy.Encode(nil, a.Bundle)
	w.Header().Set("Content-Type", "application/x-snappy")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// compare answers like GitHub's compare API, from the real repository.
func (s *Server) compare(w http.ResponseWriter, r *http.Request, rp *Repo, base, head string) {
	count := func(rng string) (int, bool) {
		out, err := gittest.Run(rp.Git.Dir, "rev-list", "--count", rng)
		if err != nil {
			return 0, false
		}
		n, err := strconv.Atoi(out)
		return n, err == nil
	}
	ahead, ok1 := count(base + ".." + head)
	behind, ok2 := count(head + ".." + base)
	if !ok1 || !ok2 {
		jsonError(w, http.StatusNotFound, "No common ancestor between "+base+" and "+head+".")
		return
	}
	status := "diverged"
	switch {
	case ahead == 0 && behind == 0:
		status = "identical"
	case behind == 0:
		status = "ahead"
	case ahead == 0:
		status = "behind"
	}
	s.writeJSON(w, r, map[string]any{"status": status, "ahead_by": ahead, "behind_by": behind, "total_commits": ahead, "commits": []any{}})
}
