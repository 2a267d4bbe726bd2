// Package gittest builds real git repositories for tests and serves them
// over real smart HTTP (git http-backend behind net/http/cgi) on 127.0.0.1.
//
// It runs the git binary found on PATH with a private HOME and fixed
// identities and dates, so repositories are the same on every machine. It
// is for tests only and trusts its callers.
package gittest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// TB is the part of testing.TB gittest needs; testscript's TestScript
// satisfies it through an adapter.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Repo is a git repository on disk.
type Repo struct {
	t   TB
	Dir string
	n   int
}

// Env is the environment git runs in: no user or system config, fixed
// identity and dates.
func Env(home string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2025-01-01T00:00:00Z",
	}
	return env
}

// NewRepo creates a repository in dir (created if needed) with one commit on
// branch main.
func NewRepo(t TB, dir string) *Repo {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	r := &Repo{t: t, Dir: dir}
	r.Git("init", "-q", "-b", "main")
	r.Commit("initial")
	return r
}

// Git runs git in the repository and returns its trimmed stdout.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	out, err := Run(r.Dir, args...)
	if err != nil {
		r.t.Fatalf("%v", err)
	}
	return out
}

// Run runs git in dir with Env and returns its trimmed stdout.
func Run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env(dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// Commit adds a commit changing a file and returns its SHA.
func (r *Repo) Commit(msg string) string {
	r.t.Helper()
	r.n++
	if err := os.WriteFile(filepath.Join(r.Dir, "file.txt"), []byte(fmt.Sprintf("%s %d\n", msg, r.n)), 0o644); err != nil {
		r.t.Fatalf("%v", err)
	}
	r.Git("add", "-A")
	r.Git("commit", "-q", "-m", msg)
	return r.Head()
}

// Head returns the SHA of HEAD.
func (r *Repo) Head() string { return r.Git("rev-parse", "HEAD") }

// Tag creates a lightweight tag at HEAD.
func (r *Repo) Tag(name string) { r.Git("tag", name) }

// AnnotatedTag creates an annotated tag at HEAD and returns the tag
// object's SHA.
func (r *Repo) AnnotatedTag(name string) string {
	r.Git("tag", "-a", "-m", "release "+name, name)
	return r.Git("rev-parse", "refs/tags/"+name)
}

// Branch creates a branch at HEAD.
func (r *Repo) Branch(name string) { r.Git("branch", name) }

// ManyTags creates n lightweight tags prefix0..prefix(n-1) at HEAD in one
// git call.
func (r *Repo) ManyTags(prefix string, n int) {
	r.t.Helper()
	head := r.Head()
	var in bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "create refs/tags/%s%d %s\n", prefix, i, head)
	}
	cmd := exec.Command("git", "update-ref", "--stdin")
	cmd.Dir = r.Dir
	cmd.Env = Env(r.Dir)
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git update-ref: %v\n%s", err, out)
	}
	r.Git("pack-refs", "--all")
}

// FileURL is the repository's file:// URL.
func (r *Repo) FileURL() string { return "file://" + r.Dir }

// Server serves every repository under Root over git's smart HTTP protocol.
type Server struct {
	*httptest.Server
	Root string

	mu       sync.Mutex
	requests []*http.Request
}

// Requests returns copies of the requests received so far (headers
// included), for tests that check what a client sent.
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

// Handler returns an http.Handler running git http-backend for the
// repositories under root.
func Handler(root string) (http.Handler, error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	return &cgi.Handler{
		Path: backend,
		Env:  append(Env(root), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1"),
	}, nil
}

// Serve starts a smart HTTP server on 127.0.0.1 for the repositories under
// root; the repository in root/name is at URL + "/name". It stops when the
// test ends.
func Serve(t TB, root string) *Server {
	t.Helper()
	h, err := Handler(root)
	if err != nil {
		t.Fatalf("%v", err)
	}
	s := &Server{Root: root}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, req.Clone(req.Context()))
		s.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(s.Close)
	return s
}
