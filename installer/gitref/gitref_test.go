package gitref

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/gittest"
	"github.com/pipguard/pipguard/policy"
)

type fixture struct {
	repo                 *gittest.Repo
	c1, c2, c3           string
	annotatedObj         string
	fileURL, httpURL     string
	server               *gittest.Server
	nestedCommit, shared string
}

// newFixture builds one repository with every kind of ref the classifier
// must tell apart, served over file:// and smart HTTP.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	r := gittest.NewRepo(t, filepath.Join(root, "r.git"))
	f := &fixture{repo: r}
	f.c1 = r.Head()
	r.Tag("v1.0.0")
	r.Tag("v1.0.0-also")
	f.c2 = r.Commit("second")
	f.annotatedObj = r.AnnotatedTag("v1.1.0")
	r.Branch("release")
	r.Branch("v2.0.0")
	r.Tag("v2.0.0")
	f.c3 = r.Commit("third")
	r.Tag("release/2024.1")
	r.Git("update-ref", "refs/pull/1/head", f.c3)
	f.fileURL = r.FileURL()
	f.server = gittest.Serve(t, root)
	f.httpURL = f.server.URL + "/r.git"
	return f
}

func TestClassifyOverHTTPAndFile(t *testing.T) {
	f := newFixture(t)
	type want struct {
		kind      Kind
		commit    string
		tagObject string
		tags      []string
		check     string // failing check for refusals
		reason    string
	}
	cases := []struct {
		ref string
		want
	}{
		{"v1.0.0", want{kind: LightweightTag, commit: f.c1, tags: []string{"v1.0.0", "v1.0.0-also"}}},
		{"refs/tags/v1.0.0", want{kind: LightweightTag, commit: f.c1, tags: []string{"v1.0.0", "v1.0.0-also"}}},
		{"v1.1.0", want{kind: AnnotatedTag, commit: f.c2, tagObject: f.annotatedObj, tags: []string{"v1.1.0", "v2.0.0"}}},
		{"release/2024.1", want{kind: LightweightTag, commit: f.c3, tags: []string{"release/2024.1"}}},
		{f.c2, want{kind: Commit, commit: f.c2, tags: []string{"v1.1.0", "v2.0.0"}}},
		{strings.ToUpper(f.c1), want{kind: Commit, commit: f.c1, tags: []string{"v1.0.0", "v1.0.0-also"}}},
		{"refs/tags/v2.0.0", want{kind: LightweightTag, commit: f.c2, tags: []string{"v1.1.0", "v2.0.0"}}},

		{"", want{check: "ref-given", reason: "pip would install the default branch"}},
		{"main", want{check: "ref-immutable", reason: "is a branch"}},
		{"refs/heads/release", want{check: "ref-immutable", reason: "is a branch"}},
		{"v2.0.0", want{check: "ref-unambiguous", reason: "is both a branch and a tag: pip prefers the branch"}},
		{"HEAD", want{check: "ref-immutable", reason: "default branch's tip"}},
		{"refs/pull/1/head", want{check: "ref-immutable", reason: "is not a tag"}},
		{f.c1[:12], want{check: "ref-immutable", reason: "is a short commit SHA"}},
		{"v9.9.9", want{check: "ref-exists", reason: "does not exist"}},
		{"refs/tags/v9", want{check: "ref-exists", reason: "does not exist"}},
	}
	for _, transport := range []struct{ name, url string }{{"file", f.fileURL}, {"http", f.httpURL}} {
		refs, err := List(context.Background(), transport.url, Options{})
		if err != nil {
			t.Fatalf("%s: %v", transport.name, err)
		}
		for _, c := range cases {
			t.Run(transport.name+"/"+c.ref, func(t *testing.T) {
				res, err := Classify("test/r", refs, c.ref)
				if c.check != "" {
					var re *RefusedError
					if !errors.As(err, &re) {
						t.Fatalf("err = %v, want *RefusedError", err)
					}
					if !strings.Contains(re.Reason, c.reason) {
						t.Errorf("reason %q, want it to contain %q", re.Reason, c.reason)
					}
					if re.Hint() == "" {
						t.Error("refusal without a hint")
					}
					fails := res.Decision.Failures()
					if len(fails) != 1 || fails[0].Name != c.check || res.Decision.Verdict() != policy.Refuse {
						t.Errorf("failed checks %+v, want one %s", fails, c.check)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Kind != c.kind || res.Commit != c.commit || res.TagObject != c.tagObject || !slices.Equal(res.TagsAtCommit, c.tags) {
					t.Errorf("got kind %q commit %s tag object %q tags %q\nwant %q %s %q %q", res.Kind, res.Commit, res.TagObject, res.TagsAtCommit, c.kind, c.commit, c.tagObject, c.tags)
				}
				if res.Decision.Verdict() != policy.Accept {
					t.Errorf("verdict %s", res.Decision.Verdict())
				}
			})
		}
	}
}

func TestRefusalHints(t *testing.T) {
	f := newFixture(t)
	refs, err := List(context.Background(), f.fileURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Classify("r", refs, f.c3[:10])
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Hint(), "@"+f.c3) {
		t.Errorf("short SHA hint should offer the full SHA %s: %v", f.c3, re.Hint())
	}
	_, err = Classify("r", refs, "v1.0.1")
	if !errors.As(err, &re) || len(re.Suggestions) == 0 || re.Suggestions[0] != "v1.0.0" {
		t.Errorf("suggestions = %q, want v1.0.0 first", re.Suggestions)
	}
	_, err = Classify("r", refs, "v2.0.0")
	if !errors.As(err, &re) || !strings.Contains(re.Hint(), "@refs/tags/v2.0.0") || !strings.Contains(re.Hint(), f.c2) {
		t.Errorf("ambiguity hint = %q", re.Hint())
	}
	// The example is the highest release tag: not v2.0.0 (also a branch,
	// so the example would be refused), not release/2024.1 (not a version).
	_, err = Classify("r", refs, "")
	if !errors.As(err, &re) || !strings.HasSuffix(re.Hint(), "e.g. @v1.1.0") {
		t.Errorf("missing-ref hint should name the highest release tag v1.1.0: %q", re.Hint())
	}
	// Pre-releases are never the example; v1.10.0 sorts after v1.9.0.
	for _, tag := range []string{"v1.9.0", "v1.10.0", "v3.0.0rc1", "v3.0.0-beta.2"} {
		f.repo.Tag(tag)
	}
	refs, _ = List(context.Background(), f.fileURL, Options{})
	if _, err = Classify("r", refs, "main"); !errors.As(err, &re) || !strings.HasSuffix(re.Hint(), "e.g. @v1.10.0") {
		t.Errorf("hint %q, want the example v1.10.0", re.Hint())
	}
}

// A full SHA no ref points at is accepted (it is immutable), with a
// warning that its existence could not be confirmed; one a ref points at
// is confirmed.
func TestUnadvertisedCommitIsNotConfirmed(t *testing.T) {
	f := newFixture(t)
	refs, err := List(context.Background(), f.fileURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Classify("r", refs, strings.Repeat("e", 40))
	if err != nil {
		t.Fatal(err)
	}
	var exists policy.Check
	for _, c := range res.Decision.Checks {
		if c.Name == "ref-exists" {
			exists = c
		}
	}
	if exists.Outcome != policy.Warn || !strings.Contains(exists.Reason, "could not be confirmed") {
		t.Errorf("unadvertised commit: %+v", exists)
	}
	res, _ = Classify("r", refs, f.c1)
	for _, c := range res.Decision.Checks {
		if c.Name == "ref-exists" && c.Outcome != policy.Pass {
			t.Errorf("advertised commit: %+v", c)
		}
	}
}

func TestTagNamedLikeAnotherCommit(t *testing.T) {
	f := newFixture(t)
	f.repo.Git("tag", f.c1, f.c3) // a tag named c1 that points at c3
	refs, err := List(context.Background(), f.fileURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Classify("r", refs, f.c1)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "tag named like a commit SHA") {
		t.Fatalf("err = %v", err)
	}
}

func TestRemoteErrors(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, url string
		sentinel  error
	}{
		{"missing file repo", "file://" + filepath.Join(t.TempDir(), "nope"), nil},
		{"missing http repo", f.server.URL + "/nope.git", nil},
		{"refused connection", "http://127.0.0.1:1/r.git", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := List(context.Background(), c.url, Options{})
			var re *RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RemoteError", err)
			}
			if re.Hint() == "" || re.Host == "" {
				t.Errorf("remote error without host or hint: %+v", re)
			}
		})
	}
}

func TestAuthRequiredNamesTokenAndMasksIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "auth required", http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := List(context.Background(), strings.Replace(srv.URL, "http://", "http://ghp_SECRET@", 1)+"/o/r.git", Options{}, "ghp_SECRET")
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(re.Error(), "SECRET") || strings.Contains(re.Hint(), "SECRET") {
		t.Errorf("error shows the token: %v", re)
	}
	if !strings.Contains(re.Hint(), "GH_TOKEN") {
		t.Errorf("hint %q should name GH_TOKEN", re.Hint())
	}
}

// The token goes to the GitHub host over https only: never to another host,
// never over plain http, never on a redirect to another host.
func TestTokenOnlyForGitHubHostOverHTTPS(t *testing.T) {
	root := t.TempDir()
	gittest.NewRepo(t, filepath.Join(root, "r.git")).Tag("v1")
	backend, err := gittest.Handler(root)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	record := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.Host+" "+r.Header.Get("Authorization"))
			h.ServeHTTP(w, r)
		})
	}
	other := httptest.NewTLSServer(record(backend))
	defer other.Close()
	gh := httptest.NewTLSServer(record(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/moved/") {
			http.Redirect(w, r, other.URL+"/r.git/"+strings.TrimPrefix(r.URL.Path, "/moved/r.git/")+"?"+r.URL.RawQuery, http.StatusFound)
			return
		}
		backend.ServeHTTP(w, r)
	})))
	defer gh.Close()
	client := gh.Client()
	ghHost := strings.TrimPrefix(gh.URL, "https://")
	opts := Options{Token: "ghp_TOKEN", TokenHost: ghHost, HTTPClient: client}

	check := func(url string, wantAuth map[string]bool) {
		t.Helper()
		seen = nil
		if _, err := List(context.Background(), url, opts); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if len(seen) == 0 {
			t.Fatal("no request seen")
		}
		for _, s := range seen {
			host, auth, _ := strings.Cut(s, " ")
			if want := wantAuth[host]; want != (auth != "") {
				t.Errorf("%s: Authorization sent to %s = %q, want sent: %v", url, host, auth, want)
			}
		}
	}
	otherHost := strings.TrimPrefix(other.URL, "https://")
	check(gh.URL+"/r.git", map[string]bool{ghHost: true})
	check(other.URL+"/r.git", map[string]bool{otherHost: false})
	check(gh.URL+"/moved/r.git", map[string]bool{ghHost: true, otherHost: false})

	// Over plain http the token is never sent, even to the GitHub host.
	plain := httptest.NewServer(record(backend))
	defer plain.Close()
	opts.TokenHost = strings.TrimPrefix(plain.URL, "http://")
	check(plain.URL+"/r.git", map[string]bool{opts.TokenHost: false})
}

func BenchmarkResolve5000Tags(b *testing.B) {
	root := b.TempDir()
	r := gittest.NewRepo(b, filepath.Join(root, "r.git"))
	r.ManyTags("v0.0.", 5000)
	r.AnnotatedTag("v1.0.0")
	srv := gittest.Serve(b, root)
	for _, tr := range []struct{ name, url string }{{"file", r.FileURL()}, {"http", srv.URL + "/r.git"}} {
		b.Run(tr.name, func(b *testing.B) {
			for b.Loop() {
				refs, err := List(context.Background(), tr.url, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Classify("r", refs, "v1.0.0"); err != nil {
					b.Fatal(err)
				}
				if _, err := Classify("r", refs, "v9.9.9"); err == nil {
					b.Fatal("missing tag accepted")
				}
			}
		})
	}
}

// ssh:// remotes go through go-git's ssh transport with the user's agent
// and known_hosts, as git does; here a real git-upload-pack behind a local
// SSH server.
func TestListOverSSH(t *testing.T) {
	root := t.TempDir()
	r := gittest.NewRepo(t, filepath.Join(root, "o", "r.git"))
	obj := r.AnnotatedTag("v1.0.0")
	srv := gittest.ServeSSH(t, root, t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", srv.AgentSock)
	t.Setenv("SSH_KNOWN_HOSTS", srv.KnownHosts)
	refs, err := List(context.Background(), srv.URL("o/r.git"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Classify("o/r", refs, "v1.0.0")
	if err != nil || res.Kind != AnnotatedTag || res.TagObject != obj || res.Commit != r.Head() {
		t.Fatalf("%+v %v", res, err)
	}
	// An unknown host key is a remote error, not a silent trust.
	t.Setenv("SSH_KNOWN_HOSTS", filepath.Join(t.TempDir(), "empty"))
	os.WriteFile(os.Getenv("SSH_KNOWN_HOSTS"), nil, 0o600)
	var re *RemoteError
	if _, err := List(context.Background(), srv.URL("o/r.git"), Options{}); !errors.As(err, &re) {
		t.Fatalf("unknown host key: err = %v", err)
	}
}
