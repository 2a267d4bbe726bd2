package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/gittest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/rogpeppe/go-internal/testscript"
)

// exitFile is where the pipguard test command records its exit code, for
// the exitcode script command.
const exitFile = ".pipguard-exit-code"

func TestMain(m *testing.M) {
	testscript.Main(removingBinary{m}, map[string]func(){
		// pipguard runs as its own process, with the real exit code; it
		// also leaves the code in $WORK for the exitcode command.
		"pipguard": func() {
			record := func(code int) {
				if w := os.Getenv("WORK"); w != "" {
					os.WriteFile(filepath.Join(w, exitFile), []byte(strconv.Itoa(code)), 0o600)
				}
			}
			beforeExit = record
			code := run(mainContext(), os.Args, os.Stdout, os.Stderr, os.Getenv)
			record(code)
			os.Exit(code)
		},
	})
}

// removingBinary runs the tests, then removes the binary pipguardBinary
// built, so that test runs do not fill the temporary directory.
type removingBinary struct{ m *testing.M }

func (r removingBinary) Run() int {
	code := r.m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

// TestScripts runs the CLI scripts in testdata/script: one behaviour each,
// with the exact words users see on stderr.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Condition:           condition,
		Setup: func(env *testscript.Env) error {
			for _, kv := range gittest.Env(env.WorkDir) {
				k, v, _ := strings.Cut(kv, "=")
				if k != "PATH" {
					env.Setenv(k, v)
				}
			}
			td, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
			if err != nil {
				return err
			}
			env.Setenv("TESTDATA", td)
			env.Setenv("GH_TOKEN", "")
			env.Setenv("GITHUB_TOKEN", "")
			env.Values[stateKey{}] = &scriptState{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":   cmdExitcode,
			"mkrepo":     cmdMkrepo,
			"githttp":    cmdGithttp,
			"gitssh":     cmdGitssh,
			"gitsha":     cmdGitsha,
			"ghserver":   cmdGhserver,
			"ghpublish":  cmdGhpublish,
			"ghfault":    cmdGhfault,
			"ghnoauth":   cmdGhnoauth,
			"mkvenv":     cmdMkvenv,
			"snapshot":   cmdSnapshot,
			"unchanged":  cmdUnchanged,
			"stallindex": cmdStallindex,
			"stallpip":   cmdStallpip,
			"mkindex":    cmdMkindex,
			"stallhttp":  cmdStallhttp,
			"waitfor":    cmdWaitfor,
			"sigproc":    cmdSigproc,
			"mkproject":  cmdMkproject,
			"ghmovetag":  cmdGhmovetag,
			"gitmovetag": cmdGitmovetag,
			"ghreplace":  cmdGhreplace,
			"oldpython":  cmdOldpython,
		},
	})
}

// exitcode N: the last pipguard run exited with N.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: exitcode N")
	}
	got, err := os.ReadFile(filepath.Join(ts.Getenv("WORK"), exitFile))
	ts.Check(err)
	if string(got) != args[0] {
		ts.Fatalf("pipguard exited with %s, want %s", got, args[0])
	}
}

// tsTB adapts a TestScript to gittest.TB.
type tsTB struct{ ts *testscript.TestScript }

func (t tsTB) Helper()                           {}
func (t tsTB) Fatalf(format string, args ...any) { t.ts.Fatalf(format, args...) }
func (t tsTB) Cleanup(f func())                  { t.ts.Defer(f) }

// mkrepo DIR: a git repository with one commit on main.
func cmdMkrepo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: mkrepo DIR")
	}
	gittest.NewRepo(tsTB{ts}, ts.MkAbs(args[0]))
}

// githttp ROOT: serve the repositories under ROOT with git http-backend on
// 127.0.0.1 and set $GITHTTP to the server's URL, $GITHTTP_HOST to its host:port.
func cmdGithttp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: githttp ROOT")
	}
	s := gittest.Serve(tsTB{ts}, ts.MkAbs(args[0]))
	ts.Setenv("GITHTTP", s.URL)
	ts.Setenv("GITHTTP_HOST", strings.TrimPrefix(s.URL, "http://"))
}

// gitssh ROOT: serve the repositories under ROOT over ssh on 127.0.0.1
// (real git-upload-pack); sets $GITSSH to ssh://git@HOST:PORT and
// SSH_AUTH_SOCK and SSH_KNOWN_HOSTS to an agent with the accepted key and
// the server's host key.
func cmdGitssh(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: gitssh ROOT")
	}
	tmp, err := os.MkdirTemp(ts.Getenv("WORK"), "ssh-")
	ts.Check(err)
	s := gittest.ServeSSH(tsTB{ts}, ts.MkAbs(args[0]), tmp)
	ts.Setenv("GITSSH", "ssh://git@"+s.Addr)
	ts.Setenv("SSH_AUTH_SOCK", s.AgentSock)
	ts.Setenv("SSH_KNOWN_HOSTS", s.KnownHosts)
}

// gitsha VAR DIR [REV-PARSE-ARGS...] REV: set $VAR to git rev-parse's
// answer in DIR.
func cmdGitsha(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 || neg {
		ts.Fatalf("usage: gitsha VAR DIR [OPTIONS] REV")
	}
	sha, err := gittest.Run(ts.MkAbs(args[1]), append([]string{"rev-parse"}, args[2:]...)...)
	ts.Check(err)
	ts.Setenv(args[0], sha)
}

type stateKey struct{}

// scriptState is what the local-GitHub commands share within one script.
type scriptState struct {
	gh     *githubtest.Server
	signer *sigstoretest.Instance
	repos  map[string]*githubtest.Repo
	pubs   map[string]*githubtest.Published
}

func state(ts *testscript.TestScript) *scriptState { return ts.Value(stateKey{}).(*scriptState) }

// ghserver [token=T] [public-good]: start a local GitHub (REST API, asset
// and blob hosts, git over https) and a local Sigstore instance, GitHub's
// kind unless public-good is given. Sets $GITHUB_URL,
// $GITHUB_HOST, SSL_CERT_FILE and GIT_SSL_CAINFO (so pipguard, git and pip
// trust it), and writes the instance's trusted root to
// $WORK/trusted-root.json.
func cmdGhserver(ts *testscript.TestScript, neg bool, args []string) {
	st := state(ts)
	st.gh = githubtest.New(tsTB{ts})
	st.repos = map[string]*githubtest.Repo{}
	var err error
	st.signer, err = sigstoretest.NewGitHub()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "token="); ok {
			st.gh.Token = v
		}
		if a == "public-good" {
			st.signer, err = sigstoretest.NewPublicGood()
		}
	}
	ts.Check(err)
	root, err := st.signer.TrustedRootJSON()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs("trusted-root.json"), root, 0o644))
	ca := ts.MkAbs("github-ca.pem")
	ts.Check(st.gh.WriteCA(ca))
	ts.Setenv("SSL_CERT_FILE", ca)
	ts.Setenv("GIT_SSL_CAINFO", ca)
	ts.Setenv("GITHUB_URL", st.gh.URL())
	ts.Setenv("GITHUB_HOST", st.gh.Host())
}

// ghpublish OWNER/REPO NAME VERSION [OPTION...]: publish a release of a
// tiny Python project the way real projects do. Options: immutable, private, draft,
// bump (build on main, tag a version-bump child commit),
// no-provenance, no-sbom, no-sums, wrong-wheel, bad-sums,
// source-ref=REF, source-commit=SHA, workflow=PATH, requires-python=SPEC,
// requires=REQ (repeatable). Sets $COMMIT to the tag's commit, $WHEEL_NAME
// and $WHEEL_SHA256.
func cmdGhpublish(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: ghpublish OWNER/REPO NAME VERSION [OPTION...]")
	}
	st := state(ts)
	owner, name, _ := strings.Cut(args[0], "/")
	repo := st.repos[args[0]]
	if repo == nil {
		repo = st.gh.AddRepo(owner, name)
		st.repos[args[0]] = repo
	}
	for _, o := range args[3:] {
		if o == "private" {
			repo.Private = true
		}
	}
	p := githubtest.Publish{Project: pkgtest.Project{Name: args[1], Version: args[2]}, Signer: st.signer}
	var after []func(*githubtest.Published)
	for _, o := range args[3:] {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "immutable":
			p.Immutable = true
		case "private":
		case "draft":
			p.Draft = true
		case "bump":
			p.BumpCommit = true
		case "no-provenance":
			p.SkipProvenance = true
		case "no-sbom":
			p.SkipSBOM = true
		case "no-sums":
			p.SkipSums = true
		case "source-ref":
			p.SourceRef = v
		case "source-commit":
			p.SourceCommit = v
		case "workflow":
			p.Workflow = v
		case "requires-python":
			p.Project.RequiresPython = v
		case "requires":
			p.Project.Requires = append(p.Project.Requires, v)
		case "wrong-wheel":
			after = append(after, func(pub *githubtest.Published) {
				pub.Wheel.Data = pkgtest.Project{Name: "evil", Version: args[2]}.Wheel()
			})
		case "bad-sums":
			after = append(after, func(pub *githubtest.Published) {
				pub.Sums.Data = []byte(strings.Repeat("0", 64) + "  " + pub.Wheel.Name + "\n")
			})
		default:
			ts.Fatalf("ghpublish: unknown option %q", o)
		}
	}
	pub := st.gh.Publish(repo, p)
	for _, f := range after {
		f(pub)
	}
	if st.pubs == nil {
		st.pubs = map[string]*githubtest.Published{}
	}
	st.pubs[args[0]] = pub
	ts.Setenv("COMMIT", pub.Commit)
	ts.Setenv("WHEEL_NAME", pub.Wheel.Name)
	ts.Setenv("WHEEL_SHA256", strings.TrimPrefix(pub.Wheel.Digest(), "sha256:"))
}

// ghfault ROUTE STATUS [times=N] [retry-after=S] [ratelimit]: answer
// requests matching the regular expression ROUTE ("GET /path") with STATUS.
func cmdGhfault(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: ghfault ROUTE STATUS [OPTION...]")
	}
	status, err := strconv.Atoi(args[1])
	ts.Check(err)
	f := &githubtest.Fault{Route: regexp.MustCompile(args[0]), Status: status}
	for _, o := range args[2:] {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "times":
			f.Times, err = strconv.Atoi(v)
			ts.Check(err)
		case "retry-after":
			f.RetryAfter = v
		case "ratelimit":
			f.RateLimitReset = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		default:
			ts.Fatalf("ghfault: unknown option %q", o)
		}
	}
	state(ts).gh.AddFault(f)
}

// tsVenvTB adapts a TestScript to pkgtest.TB.
type tsVenvTB struct{ tsTB }

func (t tsVenvTB) TempDir() string {
	d, err := os.MkdirTemp(t.ts.Getenv("WORK"), "venv-")
	t.ts.Check(err)
	return d
}

// mkvenv: a fresh virtual environment with real pip; sets $PY to its
// python and $SITE to its site-packages.
func cmdMkvenv(ts *testscript.TestScript, neg bool, args []string) {
	py := pkgtest.NewVenv(tsVenvTB{tsTB{ts}})
	ts.Setenv("PY", py)
	ts.Setenv("SITE", pkgtest.SitePackages(py))
}

// snapshot NAME: remember a digest of $SITE (every path and content).
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: snapshot NAME")
	}
	ts.Setenv("SNAPSHOT_"+args[0], pkgtest.Snapshot(ts.Getenv("SITE")))
}

// unchanged NAME: $SITE is exactly as it was at snapshot NAME.
func cmdUnchanged(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: unchanged NAME")
	}
	if got := pkgtest.Snapshot(ts.Getenv("SITE")); got != ts.Getenv("SNAPSHOT_"+args[0]) {
		ts.Fatalf("site-packages changed since snapshot %s", args[0])
	}
}

// stallindex NAME VERSION: a package index (PEP 503) serving NAME's
// wheel, whose second download (the real install's; pip's resolution
// downloads it once) stalls: pip is stuck in the middle of the install.
// Sets $INDEX_URL; $WORK/stalled appears when a download has stalled.
func cmdStallindex(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: stallindex NAME VERSION")
	}
	ix := pkgtest.NewIndex(tsTB{ts})
	ix.Add(pkgtest.Project{Name: args[0], Version: args[1]})
	marker := filepath.Join(ts.Getenv("WORK"), "stalled")
	ix.Serve = func(w http.ResponseWriter, r *http.Request, file string, n int) bool {
		if n < 2 {
			return false
		}
		w.Header().Set("Content-Length", "100000")
		w.Write([]byte("PK"))
		w.(http.Flusher).Flush()
		os.WriteFile(marker, nil, 0o644)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
		return true
	}
	ts.Setenv("INDEX_URL", ix.SimpleURL())
}

// mkindex NAME VERSION: a local index serving NAME's wheel; sets
// $INDEX_URL.
func cmdMkindex(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: mkindex NAME VERSION")
	}
	ix := pkgtest.NewIndex(tsTB{ts})
	ix.Add(pkgtest.Project{Name: args[0], Version: args[1]})
	ts.Setenv("INDEX_URL", ix.SimpleURL())
}

// stallpip: the venv's pip hangs once the real install (not the dry run)
// starts writing (install_given_reqs, after its resolution and after
// pipguard let the held pip go on), and $WORK/stalled appears then: pip
// reads only local files in the install step, so no server can stall it;
// this stands for a slow disk or a big wheel.
func cmdStallpip(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 || neg {
		ts.Fatalf("usage: stallpip")
	}
	marker := filepath.Join(ts.Getenv("WORK"), "stalled")
	code := fmt.Sprintf(`import time
import pip._internal.commands.install as _m
_orig = _m.install_given_reqs
def _install(*args, **kwargs):
    open(%q, "w").close()
    time.sleep(120)
    return _orig(*args, **kwargs)
_m.install_given_reqs = _install
`, marker)
	ts.Check(os.WriteFile(filepath.Join(ts.Getenv("SITE"), "sitecustomize.py"), []byte(code), 0o644))
	// pipguard runs the interpreter with -S: this one runs sitecustomize
	// anyway.
	ts.Setenv("PY", pkgtest.SiteRunning(tsTB{ts}, ts.Getenv("PY")))
}

// ghnoauth: no request to the local GitHub so far carried a token.
func cmdGhnoauth(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: ghnoauth")
	}
	for _, r := range state(ts).gh.Requests() {
		if r.Header.Get("Authorization") != "" {
			ts.Fatalf("%s %s carried a token", r.Method, r.Path)
		}
	}
}

// stallhttp: an HTTP server that answers nothing: every request hangs
// until the client goes away. Sets $STALL_URL; $WORK/stalled appears when a
// request has arrived.
func cmdStallhttp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 || neg {
		ts.Fatalf("usage: stallhttp")
	}
	marker := filepath.Join(ts.Getenv("WORK"), "stalled")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		os.WriteFile(marker, nil, 0o644)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
	}))
	ts.Defer(srv.Close)
	ts.Setenv("STALL_URL", srv.URL)
}

// waitfor FILE: wait (up to a minute) until FILE exists.
func cmdWaitfor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: waitfor FILE")
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear", args[0])
}

// sigproc SIGNAL PATTERN: send SIGNAL (TERM or INT) to the pipguard
// process whose command line contains PATTERN (testscript's kill sends
// only INT and KILL).
func cmdSigproc(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: sigproc TERM|INT PATTERN")
	}
	sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT}[args[0]]
	if sig == 0 {
		ts.Fatalf("unknown signal %s", args[0])
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(cmdline), args[1]) || !strings.HasPrefix(filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0]), "pipguard") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ts.Check(syscall.Kill(pid, sig))
		return
	}
	ts.Fatalf("no pipguard process with %q in its command line", args[1])
}

// mkproject DIR NAME VERSION: a git repository holding a buildable Python
// project (in-tree PEP 517 backend), committed and tagged vVERSION, with no
// release anywhere: what verify = "pin" is for.
func cmdMkproject(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: mkproject DIR NAME VERSION")
	}
	r := gittest.NewRepo(tsTB{ts}, ts.MkAbs(args[0]))
	ts.Check(pkgtest.Project{Name: args[1], Version: args[2]}.WriteSource(r.Dir))
	r.Git("add", "-A")
	r.Commit("release " + args[2])
	r.Tag("v" + args[2])
}

// ghmovetag OWNER/REPO TAG: move TAG to a new commit on top of it (a
// maintainer, or an attacker, force-pushing a tag).
func cmdGhmovetag(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: ghmovetag OWNER/REPO TAG")
	}
	r := state(ts).repos[args[0]]
	if r == nil {
		ts.Fatalf("no repository %s", args[0])
	}
	r.Git.Git("commit", "-q", "--allow-empty", "-m", "moved")
	r.Git.Git("tag", "-f", args[1])
}

// gitmovetag DIR TAG: move TAG of the repository in DIR to a new commit on
// top of it.
func cmdGitmovetag(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: gitmovetag DIR TAG")
	}
	dir := ts.MkAbs(args[0])
	for _, a := range [][]string{{"commit", "-q", "--allow-empty", "-m", "moved"}, {"tag", "-f", args[1]}} {
		if _, err := gittest.Run(dir, a...); err != nil {
			ts.Fatalf("%v", err)
		}
	}
}

// ghreplace OWNER/REPO: replace the last published release's wheel with
// other bytes (a mutable release's asset swapped after the fact).
func cmdGhreplace(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: ghreplace OWNER/REPO")
	}
	pub := state(ts).pubs[args[0]]
	if pub == nil {
		ts.Fatalf("nothing published for %s", args[0])
	}
	pub.Wheel.Data = append(append([]byte{}, pub.Wheel.Data...), 0)
}

// oldpython VAR VERSION: set $VAR to pyenv's interpreter of Python VERSION
// (3.6 has pip 18.1, 3.7 pip 22.0.4); guard it with [oldpython:VERSION].
func cmdOldpython(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: oldpython VAR VERSION")
	}
	py := pyenvPython(args[1])
	if py == "" {
		ts.Fatalf("pyenv has no Python %s", args[1])
	}
	ts.Setenv(args[0], py)
}

// pyenvPython is pyenv's interpreter of Python VERSION, "" without one.
func pyenvPython(version string) string {
	root, err := exec.Command("pyenv", "root").Output()
	if err != nil {
		return ""
	}
	found, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "versions", version+".*", "bin", "python"))
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

// condition: [oldpython:VERSION] holds when pyenv has Python VERSION;
// [managed:PY] when PY's environment is externally managed (PEP 668).
func condition(cond string) (bool, error) {
	if cond == "root" {
		return os.Geteuid() == 0, nil
	}
	if v, ok := strings.CutPrefix(cond, "oldpython:"); ok {
		return pyenvPython(v) != "", nil
	}
	if py, ok := strings.CutPrefix(cond, "managed:"); ok {
		return externallyManaged(context.Background(), py) != "", nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
