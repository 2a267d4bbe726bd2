package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// Attacks against a local index serving provenance made by a local
// Sigstore (package sigstoretest: a Fulcio-like CA, Rekor entries with
// inclusion proofs, SCTs).

const (
	reqProject = "requests"
	reqVersion = "2.32.0"
	reqCommit  = "0123456789abcdef0123456789abcdef01234567"
)

type localIndex struct {
	pg, staging *sigstoretest.Instance
	v           *Verifier
	ix          *pkgtest.ProvenanceIndex
	file        pkgtest.ProvenanceFile
}

func reqWheel() (string, []byte) {
	p := pkgtest.Project{Name: reqProject, Version: reqVersion}
	return p.WheelName(), p.Wheel()
}

func actions(repo string) sigstoretest.Identity {
	return sigstoretest.GitHubActions(repo, ".github/workflows/publish.yml", "refs/tags/v"+reqVersion, reqCommit)
}

func newLocalIndex(t testing.TB) *localIndex {
	t.Helper()
	pg, err := sigstoretest.NewPublicGood()
	if err != nil {
		t.Fatal(err)
	}
	staging, err := sigstoretest.NewPublicGood()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := pg.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(tr)
	if err != nil {
		t.Fatal(err)
	}
	l := &localIndex{pg: pg, staging: staging, v: v, ix: pkgtest.NewProvenanceIndex(t)}
	l.file = l.signed(t, pg, actions("psf/requests"))
	l.ix.Put(l.file)
	return l
}

// signed is the wheel with a provenance by id from instance in.
func (l *localIndex) signed(t testing.TB, in *sigstoretest.Instance, id sigstoretest.Identity) pkgtest.ProvenanceFile {
	t.Helper()
	name, data := reqWheel()
	f, err := pkgtest.Signed(in, id, sigstoretest.GitHubPublisher("psf/requests", "publish.yml"), reqProject, reqVersion, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var pinned = &Publisher{Kind: KindGitHub, Repository: "psf/requests", Workflow: "publish.yml"}

// check finds, fetches and verifies the wheel's provenance as the
// orchestrator will for one locked file.
func (l *localIndex) check(t testing.TB, pub *Publisher, opts ...FetchOption) (*Result, *Fetcher, error) {
	t.Helper()
	f, err := NewFetcher(l.ix.Client(), l.ix.SimpleURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	name, data := reqWheel()
	got, err := f.Fetch(context.Background(), reqProject, reqVersion, name)
	if err != nil {
		return nil, f, err
	}
	res, err := l.v.VerifyProvenance(got.Provenance, Expected{Filename: name, SHA256: sum(data), Publisher: pub})
	return res, f, err
}

func firstFailure(t testing.TB, res *Result) string {
	t.Helper()
	if res == nil || len(res.Attestations) == 0 {
		t.Fatal("no attestation result")
	}
	f := res.Attestations[0].Decision.Failures()
	if len(f) == 0 {
		t.Fatalf("no failure:\n%s", checks(res.Attestations[0].Decision))
	}
	return f[0].Name + ": " + f[0].Reason
}

func TestLocalIndexVerifies(t *testing.T) {
	for _, c := range []struct {
		name     string
		html     bool
		unlisted bool
		requests int64
	}{
		{"json", false, false, 2},
		{"html", true, false, 2},
		{"integrity API", false, true, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLocalIndex(t)
			l.ix.HTMLOnly = c.html
			l.ix.Update(l.file.Filename, func(f *pkgtest.ProvenanceFile) { f.Unlisted = c.unlisted })
			res, f, err := l.check(t, pinned)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || res.Publisher.Repository != "psf/requests" || res.Publisher.Workflow != "publish.yml" {
				t.Fatalf("%+v", res)
			}
			if f.Requests() != c.requests {
				t.Fatalf("%d requests, want %d", f.Requests(), c.requests)
			}
			wantIntegrity := 0
			if c.unlisted {
				wantIntegrity = 1
			}
			if l.ix.Hits("integrity") != wantIntegrity {
				t.Fatalf("integrity API asked %d times", l.ix.Hits("integrity"))
			}
		})
	}
}

func TestLocalGitLab(t *testing.T) {
	l := newLocalIndex(t)
	name, data := reqWheel()
	f, err := pkgtest.Signed(l.pg, sigstoretest.GitLabCI("psf/requests", "ci/release.yml", "refs/tags/v1", reqCommit),
		map[string]any{"kind": "GitLab", "repository": "psf/requests", "workflow_filepath": "ci/release.yml"}, reqProject, reqVersion, name, data)
	if err != nil {
		t.Fatal(err)
	}
	l.ix.Put(f)
	res, _, err := l.check(t, &Publisher{Kind: KindGitLab, Repository: "psf/requests", WorkflowFilepath: "ci/release.yml"})
	if err != nil || res.Publisher.Kind != KindGitLab || res.Publisher.WorkflowFilepath != "ci/release.yml" {
		t.Fatalf("%v %+v", err, res)
	}
	_, _, err = l.check(t, &Publisher{Kind: KindGitLab, Repository: "psf/requests", WorkflowFilepath: "release.yml"})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v", err)
	}
}

func TestAttacks(t *testing.T) {
	other := func(t *testing.T, l *localIndex) {
		// The provenance of another file (other bytes, other name).
		p := pkgtest.Project{Name: reqProject, Version: "2.31.0"}
		f, err := pkgtest.Signed(l.pg, actions("psf/requests"), sigstoretest.GitHubPublisher("psf/requests", "publish.yml"),
			reqProject, "2.31.0", p.WheelName(), p.Wheel())
		if err != nil {
			t.Fatal(err)
		}
		l.ix.Update(l.file.Filename, func(x *pkgtest.ProvenanceFile) { x.Provenance = f.Provenance })
	}
	sameBytesOtherName := func(t *testing.T, l *localIndex) {
		// The same bytes attested under another file name.
		_, data := reqWheel()
		f, err := pkgtest.Signed(l.pg, actions("psf/requests"), sigstoretest.GitHubPublisher("psf/requests", "publish.yml"),
			reqProject, reqVersion, "requests-2.32.1-py3-none-any.whl", data)
		if err != nil {
			t.Fatal(err)
		}
		l.ix.Update(l.file.Filename, func(x *pkgtest.ProvenanceFile) { x.Provenance = f.Provenance })
	}
	resign := func(in func(*localIndex) *sigstoretest.Instance, repo string) func(*testing.T, *localIndex) {
		return func(t *testing.T, l *localIndex) {
			f := l.signed(t, in(l), actions(repo))
			l.ix.Update(l.file.Filename, func(x *pkgtest.ProvenanceFile) { x.Provenance = f.Provenance })
		}
	}
	pgOf := func(l *localIndex) *sigstoretest.Instance { return l.pg }
	stagingOf := func(l *localIndex) *sigstoretest.Instance { return l.staging }
	tamper := func(t *testing.T, l *localIndex) {
		l.ix.Update(l.file.Filename, func(x *pkgtest.ProvenanceFile) {
			var p map[string]any
			json.Unmarshal(x.Provenance, &p)
			env := p["attestation_bundles"].([]any)[0].(map[string]any)["attestations"].([]any)[0].(map[string]any)["envelope"].(map[string]any)
			st := mustDecode(t, env["statement"].(string))
			// One more byte after the JSON: the same statement to a
			// lenient parser, another payload to the log and the signature.
			env["statement"] = encode(st + " ")
			x.Provenance, _ = json.Marshal(p)
		})
	}
	for _, c := range []struct {
		name   string
		attack func(*testing.T, *localIndex)
		want   string // the first failed check, and a piece of its reason
	}{
		{"provenance for another file", other, "subject-digest: failed to verify signature: provided artifact digest does not match any digest in statement"},
		{"same bytes under another name", sameBytesOtherName, "subject-name: subject does not match distribution name"},
		{"another identity", resign(pgOf, "evil/requests"), `source-repository: expected Source Repository URI "https://github.com/psf/requests", got "https://github.com/evil/requests"`},
		{"look-alike repository", resign(pgOf, "psf/requests-"), `source-repository: expected Source Repository URI "https://github.com/psf/requests", got "https://github.com/psf/requests-"`},
		{"staging root", resign(stagingOf, "psf/requests"), "transparency-log: "},
		{"tampered statement", tamper, "does not match envelope payload hash"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLocalIndex(t)
			c.attack(t, l)
			res, _, err := l.check(t, pinned)
			if !errors.Is(err, ErrRefused) || res.Verified {
				t.Fatalf("err = %v", err)
			}
			if got := firstFailure(t, res); !strings.Contains(got, c.want) {
				t.Fatalf("first failure %q, want %q", got, c.want)
			}
		})
	}
	t.Run("other case is the same repository", func(t *testing.T) {
		l := newLocalIndex(t)
		resign(pgOf, "PSF/Requests")(t, l)
		res, _, err := l.check(t, pinned)
		if err != nil || res.Publisher.Repository != "PSF/Requests" {
			t.Fatalf("%v %+v", err, res)
		}
	})
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	var b []byte
	if err := json.Unmarshal([]byte(`"`+s+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func encode(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}

func TestFetchFailures(t *testing.T) {
	t.Run("another host", func(t *testing.T) {
		l := newLocalIndex(t)
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(l.file.Provenance) }))
		defer elsewhere.Close()
		l.ix.Update(l.file.Filename, func(f *pkgtest.ProvenanceFile) { f.Link = elsewhere.URL + "/p.json" })
		_, _, err := l.check(t, pinned)
		var he *HostError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "is not on the index's host") {
			t.Fatalf("err = %v", err)
		}
		// Allowed explicitly, it verifies.
		res, _, err := l.check(t, pinned, AllowProvenanceHostUnsafe(strings.TrimPrefix(elsewhere.URL, "http://")))
		if err != nil || !res.Verified {
			t.Fatalf("allowed host: %v", err)
		}
	})
	t.Run("redirect to another host", func(t *testing.T) {
		l := newLocalIndex(t)
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(l.file.Provenance) }))
		defer elsewhere.Close()
		l.ix.Serve = func(w http.ResponseWriter, r *http.Request, kind, name string) bool {
			if kind == "provenance" {
				http.Redirect(w, r, elsewhere.URL+"/p.json", http.StatusFound)
				return true
			}
			return false
		}
		_, _, err := l.check(t, pinned)
		var he *HostError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v", err)
		}
	})
	for _, c := range []struct {
		name   string
		change func(*pkgtest.ProvenanceFile)
		want   error
	}{
		{"null link", func(f *pkgtest.ProvenanceFile) { f.Provenance = nil }, ErrNoProvenance},
		{"integrity 404", func(f *pkgtest.ProvenanceFile) { f.Provenance, f.Unlisted = nil, true }, ErrNoProvenance},
		{"integrity 403", func(f *pkgtest.ProvenanceFile) { f.Unlisted, f.IntegrityStatus = true, 403 }, ErrDisabled},
		{"huge", func(f *pkgtest.ProvenanceFile) { f.Provenance = []byte(strings.Repeat(" ", MaxProvenance+10)) }, ErrTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLocalIndex(t)
			l.ix.Update(l.file.Filename, c.change)
			res, _, err := l.check(t, pinned)
			if !errors.Is(err, c.want) || res != nil {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("empty provenance", func(t *testing.T) {
		l := newLocalIndex(t)
		l.ix.Update(l.file.Filename, func(f *pkgtest.ProvenanceFile) {
			f.Provenance = []byte(`{"version":1,"attestation_bundles":[{"publisher":{"kind":"GitHub","repository":"psf/requests","workflow":"publish.yml"},"attestations":[]}]}`)
		})
		res, _, err := l.check(t, pinned)
		if !errors.Is(err, ErrNoProvenance) || res.Verified {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("endless body", func(t *testing.T) {
		l := newLocalIndex(t)
		l.ix.Serve = func(w http.ResponseWriter, r *http.Request, kind, name string) bool {
			if kind != "provenance" {
				return false
			}
			chunk := []byte(strings.Repeat("[", 64<<10))
			for {
				if _, err := w.Write(chunk); err != nil {
					return true
				}
			}
		}
		_, _, err := l.check(t, pinned)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("endless slow body", func(t *testing.T) {
		l := newLocalIndex(t)
		l.ix.Serve = func(w http.ResponseWriter, r *http.Request, kind, name string) bool {
			if kind != "provenance" {
				return false
			}
			for {
				if _, err := w.Write([]byte("{")); err != nil {
					return true
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return true
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		start := time.Now()
		_, _, err := l.check(t, pinned, WithTimeout(300*time.Millisecond))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
}
