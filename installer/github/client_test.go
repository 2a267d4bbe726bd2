package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

const token = "ghp_TESTTOKEN"

type fixture struct {
	gh   *githubtest.Server
	repo *githubtest.Repo
	pub  *githubtest.Published
	c    *github.Client
}

func newFixture(t *testing.T, opts ...github.Option) *fixture {
	t.Helper()
	signer, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.New(t)
	gh.Token = token
	repo := gh.AddRepo("acme", "demo")
	pub := gh.Publish(repo, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0"}, Signer: signer, Immutable: true})
	base := []github.Option{github.WithHTTPClient(gh.Client()), github.WithRetries(3, time.Millisecond), github.WithTimeout(5 * time.Second)}
	c, err := github.New(gh.URL(), token, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{gh: gh, repo: repo, pub: pub, c: c}
}

func privateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp(t.TempDir(), "dl-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHappyPath(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	repo, err := f.c.Repository(ctx, "acme/demo")
	if err != nil || repo.ID != f.repo.ID || repo.DefaultBranch != "main" {
		t.Fatalf("repo %+v %v", repo, err)
	}
	rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Immutable || len(rel.Assets) != 5 {
		t.Fatalf("release %+v", rel)
	}
	a, ok := rel.AssetNamed("demo-1.0.0-py3-none-any.whl")
	if !ok || a.Digest != f.pub.Wheel.Digest() {
		t.Fatalf("asset %+v", a)
	}
	dir := privateDir(t)
	dl, err := f.c.Download(ctx, a, dir)
	if err != nil {
		t.Fatal(err)
	}
	if "sha256:"+dl.SHA256 != f.pub.Wheel.Digest() || filepath.Base(dl.Path) != a.Name {
		t.Errorf("downloaded %+v", dl)
	}
	fi, _ := os.Stat(dl.Path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("asset file mode %v, want 0600", fi.Mode().Perm())
	}
	atts, err := f.c.Attestations(ctx, "acme/demo", f.pub.Wheel.Digest(), "https://slsa.dev/provenance/v1")
	if err != nil || len(atts) != 1 {
		t.Fatalf("%d attestations, %v", len(atts), err)
	}
	rels, err := f.c.Attestations(ctx, "acme/demo", "sha1:"+f.pub.Commit, "https://in-toto.io/attestation/release/v0.2")
	if err != nil || len(rels) != 1 || rels[0].Initiator != "github" {
		t.Fatalf("release attestations %+v %v", rels, err)
	}
}

// The token goes to the API host only: not to the asset host the download
// redirects to, not to the blob host of bundle_url.
func TestTokenNeverLeavesTheAPIHost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := rel.AssetNamed("SHA256SUMS")
	if _, err := f.c.Download(ctx, a, privateDir(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Attestations(ctx, "acme/demo", f.pub.Wheel.Digest(), ""); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range f.gh.Requests() {
		auth := r.Header.Get("Authorization")
		switch r.Server {
		case "api":
			if strings.HasPrefix(r.Path, "/api/v3/") != (auth == "Bearer "+token) {
				t.Errorf("%s: Authorization %q (only the REST API gets the token)", r.Path, auth)
			}
		default:
			if auth != "" || strings.Contains(r.Query, token) {
				t.Errorf("token sent to the %s host: %s %q", r.Server, r.Path, auth)
			}
		}
		seen[r.Server]++
	}
	if seen["assets"] == 0 || seen["blobs"] == 0 {
		t.Fatalf("redirect and bundle hosts not exercised: %v", seen)
	}
}

func TestNoTokenOverPlainHTTP(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": 1, "full_name": "o/r"}`))
	}))
	defer srv.Close()
	c, err := github.New(srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Repository(context.Background(), "o/r"); err != nil {
		t.Fatal(err)
	}
	if len(auth) != 1 || auth[0] != "" {
		t.Fatalf("Authorization over plain http: %q", auth)
	}
}

func TestNotFoundAndDraft(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.c.ReleaseByTag(ctx, "acme/demo", "v9.9.9"); !errors.Is(err, github.ErrNotFound) {
		t.Errorf("missing release: %v", err)
	}
	if _, err := f.c.Repository(ctx, "acme/nope"); !errors.Is(err, github.ErrNotFound) {
		t.Errorf("missing repo: %v", err)
	}
	atts, err := f.c.Attestations(ctx, "acme/demo", "sha256:"+strings.Repeat("0", 64), "")
	if err != nil || len(atts) != 0 {
		t.Errorf("no attestations: %v %v", atts, err)
	}
	f.gh.AddRelease(f.repo, &githubtest.Release{Tag: "v2.0.0-draft", Draft: true})
	anon, _ := github.New(f.gh.URL(), "", github.WithHTTPClient(f.gh.Client()))
	if _, err := anon.ReleaseByTag(ctx, "acme/demo", "v2.0.0-draft"); !errors.Is(err, github.ErrNotFound) {
		t.Errorf("draft visible without a token: %v", err)
	}
	rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v2.0.0-draft")
	if err != nil || !rel.Draft {
		t.Errorf("draft with a token: %+v %v", rel, err)
	}
}

func TestPaginationInlineAndURLBundles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	digest := f.pub.Wheel.Digest()
	// 250 more attestations for the wheel, 253 in all (provenance, SBOM and
	// release attestation): three pages of 100.
	for i := 0; i < 250; i++ {
		f.gh.AddAttestation(f.repo, &githubtest.Attestation{Digests: []string{digest}, PredicateType: "https://example.com/x", Bundle: []byte(`{"n":` + strings.Repeat("1", i%5+1) + `}`), Initiator: "user"})
	}
	atts, err := f.c.Attestations(ctx, "acme/demo", digest, "")
	if err != nil || len(atts) != 253 {
		t.Fatalf("%d attestations, %v", len(atts), err)
	}
	pages := 0
	for _, r := range f.gh.Requests() {
		if strings.Contains(r.Path, "/attestations/") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d pages fetched, want 3", pages)
	}
	f.gh.InlineBundles = true
	inline, err := f.c.Attestations(ctx, "acme/demo", digest, "https://slsa.dev/provenance/v1")
	if err != nil || len(inline) != 1 || compact(t, inline[0].Bundle) != compact(t, atts[0].Bundle) {
		t.Fatalf("inline bundle differs from bundle_url one: %v", err)
	}
}

func TestRetriesAndRateLimits(t *testing.T) {
	ctx := context.Background()
	route := regexp.MustCompile(`/releases/tags/`)

	f := newFixture(t)
	fault := f.gh.AddFault(&githubtest.Fault{Route: route, Status: 502, Times: 2})
	if _, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0"); err != nil || fault.Hits() != 2 {
		t.Fatalf("500 then success: %v after %d faults", err, fault.Hits())
	}

	f = newFixture(t)
	fault = f.gh.AddFault(&githubtest.Fault{Route: route, Status: 429, RetryAfter: "0", Times: 1})
	if _, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0"); err != nil || fault.Hits() != 1 {
		t.Fatalf("429 with Retry-After: %v", err)
	}

	f = newFixture(t, github.WithMaxRateLimitWait(time.Second))
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	f.gh.AddFault(&githubtest.Fault{Route: route, Status: 403, RateLimitReset: reset})
	_, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || !rl.Reset.Equal(reset) {
		t.Fatalf("rate limit exhausted: %v", err)
	}
	anon, _ := github.New(f.gh.URL(), "", github.WithHTTPClient(f.gh.Client()), github.WithMaxRateLimitWait(time.Second))
	_, err = anon.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if !errors.As(err, &rl) || !strings.Contains(rl.Hint(), "GH_TOKEN") {
		t.Fatalf("anonymous rate limit hint: %v", err)
	}

	f = newFixture(t)
	f.gh.AddFault(&githubtest.Fault{Route: route, Status: 503})
	var un *github.UnavailableError
	if _, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0"); !errors.As(err, &un) {
		t.Fatalf("persistent 503: %v", err)
	}

	f = newFixture(t, github.WithTimeout(100*time.Millisecond), github.WithRetries(0, 0))
	f.gh.AddFault(&githubtest.Fault{Route: route, Delay: time.Second})
	if _, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0"); !errors.As(err, &un) {
		t.Fatalf("slow server: %v", err)
	}
}

func TestBadDownloadsLeaveNothing(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		fault githubtest.Fault
		asset func(*githubtest.Published)
		want  any
		// timeout, when set, is the downloading client's (the fixture's
		// is 5 s).
		timeout time.Duration
	}{
		{name: "truncated", fault: githubtest.Fault{Route: regexp.MustCompile(`^GET /download/`), Truncate: 100}, want: new(*github.UnavailableError)},
		{name: "short content-length", fault: githubtest.Fault{Route: regexp.MustCompile(`^GET /download/`), WrongLength: 10}, want: new(*github.IntegrityError)},
		// Announced longer than the release lists: another file, not a
		// download to retry.
		{name: "long content-length", fault: githubtest.Fault{Route: regexp.MustCompile(`^GET /download/`), WrongLength: 1 << 20}, want: new(*github.IntegrityError)},
		{name: "swapped bytes", asset: func(p *githubtest.Published) { p.Wheel.Data = append([]byte{}, p.Sdist.Data[:len(p.Wheel.Data)]...) }, want: new(*github.IntegrityError)},
		// Stalls until the client gives up: only this case has a short
		// timeout, so a loaded machine cannot turn the others into it.
		{name: "slow", fault: githubtest.Fault{Route: regexp.MustCompile(`^GET /download/`), Delay: time.Minute}, want: new(*github.UnavailableError), timeout: time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			if c.fault.Route != nil {
				fc := c.fault
				f.gh.AddFault(&fc)
			}
			if c.asset != nil {
				c.asset(f.pub)
			}
			a, _ := rel.AssetNamed(f.pub.Wheel.Name)
			dir := privateDir(t)
			client := f.c
			if c.timeout > 0 {
				client, err = github.New(f.gh.URL(), token, github.WithHTTPClient(f.gh.Client()), github.WithRetries(0, 0), github.WithTimeout(c.timeout))
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err = client.Download(ctx, a, dir)
			switch w := c.want.(type) {
			case **github.UnavailableError:
				if !errors.As(err, w) {
					t.Fatalf("err = %v", err)
				}
			case **github.IntegrityError:
				if !errors.As(err, w) {
					t.Fatalf("err = %v", err)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

func TestDownloadRefusesSharedDirectory(t *testing.T) {
	f := newFixture(t)
	rel, _ := f.c.ReleaseByTag(context.Background(), "acme/demo", "v1.0.0")
	a, _ := rel.AssetNamed("SHA256SUMS")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if _, err := f.c.Download(context.Background(), a, dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("err = %v", err)
	}
}

func TestJSONBombIsCapped(t *testing.T) {
	f := newFixture(t)
	huge := `{"tag_name": "v1.0.0", "assets": [], "x": "` + strings.Repeat("A", github.MaxJSON) + `"}`
	f.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/releases/tags/`), Status: 200, Body: huge})
	_, err := f.c.ReleaseByTag(context.Background(), "acme/demo", "v1.0.0")
	if err == nil || !strings.Contains(err.Error(), "larger than 10 MiB") {
		t.Fatalf("err = %v", err)
	}
	f.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/repos/acme/demo$`), Status: 200, Body: `{"id": "not a number"`})
	if _, err := f.c.Repository(context.Background(), "acme/demo"); err == nil || !strings.Contains(err.Error(), "malformed JSON") {
		t.Fatalf("err = %v", err)
	}
}

func TestRealAPIResponseShape(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "github", "attestations-api-response.redacted.json"))
	if err != nil {
		t.Fatal(err)
	}
	atts, next, err := github.ParseAttestationsPage(data, "")
	if err != nil || len(atts) != 2 || next != "" {
		t.Fatalf("%+v %q %v", atts, next, err)
	}
	for _, a := range atts {
		if a.BundleURL == "" || a.Inline {
			t.Errorf("entry %+v", a)
		}
	}
}

func FuzzParseAttestationsPage(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "github", "attestations-api-response.redacted.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, `<https://api.github.com/x?after=2>; rel="next"`)
	f.Add([]byte(`{"attestations":[{"bundle":{"mediaType":"x"}}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, link string) {
		entries, _, err := github.ParseAttestationsPage(body, link)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.BundleURL == "" && !e.Inline {
				t.Fatalf("entry without a bundle accepted: %+v", e)
			}
		}
	})
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// restCalls counts the requests that spend the REST API's rate limit.
func restCalls(gh *githubtest.Server) int {
	n := 0
	for _, r := range gh.Requests() {
		if r.Server == "api" && strings.HasPrefix(r.Path, "/api/v3/") {
			n++
		}
	}
	return n
}

// A public asset comes from browser_download_url, which is not a REST
// call and gets no token; a private one, whose web URL answers 404, comes
// through the API with the token, and so do the client's later downloads.
func TestDownloadPublicWithoutRESTPrivateThroughAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	before := restCalls(f.gh)
	for _, name := range []string{"SHA256SUMS", f.pub.Wheel.Name} {
		a, _ := rel.AssetNamed(name)
		if _, err := f.c.Download(ctx, a, privateDir(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := restCalls(f.gh) - before; n != 0 {
		t.Errorf("public downloads made %d REST calls, want 0", n)
	}

	f.repo.Private = true
	before = restCalls(f.gh)
	for _, name := range []string{"SHA256SUMS", f.pub.Wheel.Name} {
		a, _ := rel.AssetNamed(name)
		dl, err := f.c.Download(ctx, a, privateDir(t))
		if err != nil {
			t.Fatal(err)
		}
		if "sha256:"+dl.SHA256 != digestOf(f, name) {
			t.Errorf("%s: got sha256:%s", name, dl.SHA256)
		}
	}
	if n := restCalls(f.gh) - before; n != 2 {
		t.Errorf("private downloads made %d REST calls, want 2 (one 404 on the web URL, then the API for both)", n)
	}
	web := 0
	for _, r := range f.gh.Requests() {
		if strings.Contains(r.Path, "/releases/download/") {
			web++
			if r.Header.Get("Authorization") != "" {
				t.Errorf("the token went to the web download URL %s", r.Path)
			}
		}
	}
	if web != 3 {
		t.Errorf("%d web download requests, want 3 (two public, one private 404)", web)
	}
}

func digestOf(f *fixture, name string) string {
	for _, a := range f.pub.Release.Assets {
		if a.Name == name {
			return a.Digest()
		}
	}
	return ""
}

// A browser_download_url anywhere but the GitHub host's release download
// path is ignored: the API URL is used.
func TestDownloadIgnoresForeignBrowserURL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := rel.AssetNamed("SHA256SUMS")
	for _, u := range []string{"https://evil.example/acme/demo/releases/download/v1.0.0/SHA256SUMS", f.gh.URL() + "/acme/demo/releases/download/v1.0.0/other",
		f.gh.URL() + "/mallory/demo/releases/download/v1.0.0/SHA256SUMS", "http" + strings.TrimPrefix(f.gh.URL(), "https") + "/acme/demo/releases/download/v1.0.0/SHA256SUMS"} {
		a.BrowserDownloadURL = u
		before := restCalls(f.gh)
		if _, err := f.c.Download(ctx, a, privateDir(t)); err != nil {
			t.Fatal(err)
		}
		if restCalls(f.gh)-before != 1 {
			t.Errorf("%s: not ignored", u)
		}
	}
}

type memValidators map[string][2]string

func (m memValidators) Validator(key string) (string, []byte, bool) {
	v, ok := m[key]
	return v[0], []byte(v[1]), ok
}
func (m memValidators) StoreValidator(key, etag string, body []byte) {
	m[key] = [2]string{etag, string(body)}
}

// Asked again, a response is conditional: GitHub's 304 gives the same
// answer without a body. Validators are kept apart per caller (with and
// without a token), and the token is not in the key.
func TestConditionalRequests(t *testing.T) {
	v := memValidators{}
	f := newFixture(t, github.WithValidators(v))
	ctx := context.Background()
	first, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.gh.Requests()
	last := reqs[len(reqs)-1]
	if last.Header.Get("If-None-Match") == "" || len(second.Assets) != len(first.Assets) || second.ID != first.ID {
		t.Errorf("second request not conditional or answer differs: %+v", last.Header)
	}
	for k := range v {
		if strings.Contains(k, token) {
			t.Errorf("validator key holds the token: %s", k)
		}
	}
	// The release changes: a 200 with the new body, remembered.
	f.gh.AddRelease(f.repo, &githubtest.Release{Tag: "v1.0.0", Assets: []*githubtest.Asset{{Name: "new.whl", Data: []byte("x")}}})
	third, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Assets) != 1 || third.Assets[0].Name != "new.whl" {
		t.Errorf("after a change, got %+v", third.Assets)
	}
}

// A web host that wants a session answers an anonymous download with a
// sign-in page (GitHub Enterprise Server in private mode, SSO): a page is
// not the asset, and the download goes through the API with the token.
func TestDownloadSignInPageFallsBackToTheAPI(t *testing.T) {
	for _, fault := range []githubtest.Fault{
		{Status: 200, Body: "<html>Sign in to GitHub Enterprise</html>"},
		{Status: 403, Body: "Forbidden"},
	} {
		f := newFixture(t)
		ctx := context.Background()
		rel, err := f.c.ReleaseByTag(ctx, "acme/demo", "v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		fault.Route = regexp.MustCompile(`^GET /acme/demo/releases/download/`)
		f.gh.AddFault(&fault)
		a, _ := rel.AssetNamed(f.pub.Wheel.Name)
		dl, err := f.c.Download(ctx, a, privateDir(t))
		if err != nil {
			t.Fatalf("status %d: %v", fault.Status, err)
		}
		if "sha256:"+dl.SHA256 != f.pub.Wheel.Digest() {
			t.Errorf("status %d: got sha256:%s", fault.Status, dl.SHA256)
		}
	}
}
