// Command pipguard-demo shows pipguard's whole job offline: it starts a
// local GitHub (REST API, release assets, git over https) and a local
// Sigstore on 127.0.0.1, publishes a release the way fastapi-paseto does
// (semantic-release builds on main and tags a version-bump commit; wheel,
// sdist, SHA256SUMS, SBOMs, provenance, an immutable release with GitHub's
// release attestation), makes a fresh venv, and runs the real pipguard
// binary against it: a refused branch, a refused name that is both branch
// and tag, a refused tampered asset, a verified install, a clean audit. It
// prints each command, exits 0 only if every step behaved as shown, and
// removes what it made.
//
// It lives apart from cmd/pipguard so that no test harness is in the
// shipped binary. Run it from the repository: go run ./cmd/pipguard-demo
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

func main() {
	keep := len(os.Args) > 1 && os.Args[1] == "-keep"
	if len(os.Args) > 1 && !keep {
		fmt.Fprintln(os.Stderr, "usage: pipguard-demo [-keep]\n  -keep: after the steps, keep the local GitHub running until Enter, to rerun the commands shown")
		os.Exit(2)
	}
	d := &demo{out: os.Stdout}
	if keep {
		d.wait = func() {
			fmt.Fprintln(os.Stdout, "The local GitHub keeps running: paste the export lines and any command above into another shell. Press Enter to stop.")
			bufio.NewReader(os.Stdin).ReadString('\n')
		}
	}
	os.Exit(d.run(os.Stdout, os.Stderr))
}

// demo is the harness's TB: a fatal error stops the demo.
type demo struct {
	work     string
	cleanups []func()
	out      io.Writer
	// ran is each command the demo ran, as its argument list (pipguard
	// first), and env the variables the printed commands use; wait, when
	// set, runs before the servers stop.
	ran  [][]string
	env  map[string]string
	wait func()
}

type fatal struct{ error }

func (d *demo) Helper()          {}
func (d *demo) Cleanup(f func()) { d.cleanups = append(d.cleanups, f) }
func (d *demo) Fatalf(format string, args ...any) {
	panic(fatal{fmt.Errorf(format, args...)})
}
func (d *demo) TempDir() string {
	dir, err := os.MkdirTemp(d.work, "tmp-")
	if err != nil {
		d.Fatalf("%v", err)
	}
	return dir
}

// step is one pipguard command and what it must do.
type step struct {
	title string
	args  []string
	code  int
	want  string // in the combined output
}

func (d *demo) run(stdout, stderr io.Writer) (code int) {
	work, err := os.MkdirTemp("", "pipguard-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "pipguard-demo:", err)
		return 1
	}
	d.work, d.out = work, stdout
	defer func() {
		for i := len(d.cleanups) - 1; i >= 0; i-- {
			d.cleanups[i]()
		}
		os.RemoveAll(work)
	}()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			fmt.Fprintln(stderr, "pipguard-demo: failed:", f.error)
			code = 1
		}
	}()

	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	say("pipguard demo: a local GitHub and Sigstore on 127.0.0.1, a real venv and pip; no network.")
	say("")

	// The real pipguard binary.
	bin := filepath.Join(work, "pipguard")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/pipguard/pipguard/cmd/pipguard").CombinedOutput(); err != nil {
		d.Fatalf("building pipguard: %v\n%s", err, out)
	}

	gh := githubtest.New(d)
	signer, err := sigstoretest.NewGitHub()
	if err != nil {
		d.Fatalf("%v", err)
	}
	root, err := signer.TrustedRootJSON()
	if err != nil {
		d.Fatalf("%v", err)
	}
	trusted := filepath.Join(work, "trusted-root.json")
	ca := filepath.Join(work, "github-ca.pem")
	if err := os.WriteFile(trusted, root, 0o644); err != nil {
		d.Fatalf("%v", err)
	}
	if err := gh.WriteCA(ca); err != nil {
		d.Fatalf("%v", err)
	}

	// fastapi-paseto's release flow.
	paseto := gh.AddRepo("Raze-Systems", "fastapi-paseto")
	gh.Publish(paseto, githubtest.Publish{Project: pkgtest.Project{Name: "fastapi-paseto", Version: "1.3.1"}, Signer: signer, Immutable: true, BumpCommit: true})
	// A release whose wheel was replaced after it was published.
	tampered := gh.AddRepo("acme", "widget")
	pub := gh.Publish(tampered, githubtest.Publish{Project: pkgtest.Project{Name: "widget", Version: "2.0.0"}, Signer: signer})
	pub.Wheel.Data = pkgtest.Project{Name: "widget", Version: "2.0.0", Files: map[string]string{"widget/evil.py": "import os\n"}}.Wheel()

	venv := filepath.Join(work, "venv")
	if out, err := exec.Command("python3", "-m", "venv", venv).CombinedOutput(); err != nil {
		d.Fatalf("python3 -m venv: %v\n%s", err, out)
	}

	// The project's policy, as its pyproject.toml would hold it.
	app := filepath.Join(work, "app")
	os.MkdirAll(app, 0o755)
	policy := `[project]
name = "app"

[[tool.pipguard.repo]]
match = "Raze-Systems/fastapi-paseto"
signer_workflow = ".github/workflows/release.yml"
source_refs = ["refs/heads/main"]
max_commit_distance = 1
`
	if err := os.WriteFile(filepath.Join(app, "pyproject.toml"), []byte(policy), 0o644); err != nil {
		d.Fatalf("%v", err)
	}
	say("policy:  app/pyproject.toml")
	for _, l := range strings.Split(strings.TrimSpace(policy), "\n") {
		say("           %s", l)
	}
	say("")

	// Every command below runs with exactly these settings, printed so
	// that each line can be pasted into a shell (while the demo runs,
	// with -keep): the local GitHub's URL and CA, the local Sigstore's
	// trusted root, a cache of the demo's own, the venv, no token.
	d.env = map[string]string{"GITHUB": gh.URL(), "TRUSTED_ROOT": trusted, "PIPGUARD_CACHE_DIR": filepath.Join(work, "cache"),
		"SSL_CERT_FILE": ca, "GIT_SSL_CAINFO": ca, "VIRTUAL_ENV": venv, "GH_TOKEN": "", "GITHUB_TOKEN": ""}
	names := []string{"GITHUB", "TRUSTED_ROOT", "PIPGUARD_CACHE_DIR", "SSL_CERT_FILE", "GIT_SSL_CAINFO", "VIRTUAL_ENV", "GH_TOKEN", "GITHUB_TOKEN"}
	say("Every command runs with these settings (the local GitHub, its CA and the local Sigstore's")
	say("trusted root, which --github-url and --trusted-root name; a cache of its own; no token):")
	for _, n := range names {
		say("   $ export %s=%s", n, shellWord(d.env[n], nil))
	}
	say("   $ cd %s", shellWord(app, nil))
	say("")
	env := os.Environ()
	for _, n := range names[2:] {
		env = append(env, n+"="+d.env[n])
	}
	common := []string{"--github-url", gh.URL(), "--trusted-root", trusted}
	req := func(repo, name, ref string) string {
		return name + " @ git+" + gh.URL() + "/" + repo + ".git@" + ref
	}
	vars := map[string]string{gh.URL(): "$GITHUB", trusted: "$TRUSTED_ROOT"}
	show := func(s string) string { return strings.ReplaceAll(s, gh.URL(), "$GITHUB") }

	steps := []struct {
		step
		before func()
	}{
		{step: step{"a branch is mutable: refused", []string{"install", req("Raze-Systems/fastapi-paseto", "fastapi-paseto", "main")}, 3, "is a branch"}},
		{step: step{"someone pushes a branch named v1.3.1 beside the tag: the name is both a branch and a tag, refused (pip would take the branch)", []string{"install", req("Raze-Systems/fastapi-paseto", "fastapi-paseto", "v1.3.1")}, 3, "both a branch and a tag"},
			before: func() { paseto.Git.Branch("v1.3.1") }},
		{step: step{"(the v1.3.1 branch is deleted again) a release asset replaced after publication: refused, for two reasons that each suffice: SHA256SUMS, published with the release, lists other bytes, and no provenance attestation exists for the new bytes (the build signed the digest it made)", []string{"install", req("acme/widget", "widget", "v2.0.0")}, 4, "no provenance attestation"},
			before: func() { paseto.Git.Git("branch", "-D", "v1.3.1") }},
		{step: step{"the real release, verified against the project's policy (-v: every check and the rule that decided it), then installed", []string{"install", "-v", req("Raze-Systems/fastapi-paseto", "fastapi-paseto", "v1.3.1")}, 0, "audited fastapi-paseto 1.3.1: installed"}},
		{step: step{"the environment before deploy", []string{"audit"}, 0, "1 verified by pipguard; 0 errors"}},
	}
	failed := 0
	for i, s := range steps {
		if s.before != nil {
			s.before()
		}
		args := append([]string{s.args[0], "--github-url", gh.URL()}, s.args[1:]...)
		if s.args[0] == "install" {
			args = append(append([]string{s.args[0]}, common...), s.args[1:]...)
			args = append(args, "--", "--no-index")
		}
		say("%d. %s", i+1, s.title)
		shown := []string{"pipguard"}
		for _, a := range args {
			shown = append(shown, shellWord(a, vars))
		}
		say("   $ %s", strings.Join(shown, " "))
		d.ran = append(d.ran, append([]string{"pipguard"}, args...))
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = app, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			d.Fatalf("running pipguard: %v", err)
		}
		for _, l := range strings.Split(strings.TrimRight(show(out.String()), "\n"), "\n") {
			if pipChatter(l) {
				continue
			}
			say("   %s", l)
		}
		verdict := "as expected"
		if got != s.code || !strings.Contains(out.String(), s.want) {
			verdict = fmt.Sprintf("NOT as expected: wanted exit %d and %q", s.code, s.want)
			failed++
		}
		say("   -> exit %d, %s", got, verdict)
		say("")
	}
	if d.wait != nil {
		say("(pipguard is %s; put its directory on PATH to rerun a command)", bin)
		d.wait()
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "pipguard-demo: %d step(s) did not behave as shown\n", failed)
		return 1
	}
	say("Every step behaved as shown. Against the real GitHub (needs the network):")
	say("   $ pipguard install 'fastapi-paseto @ git+https://github.com/Raze-Systems/fastapi-paseto.git@v1.3.1'   # with the policy above")
	return 0
}

// shellWord is a as a POSIX shell reads it back: bare when it holds only
// characters no shell treats specially, else in double quotes; each
// occurrence of a key of vars becomes the variable it maps to ($GITHUB),
// which the shell expands.
func shellWord(a string, vars map[string]string) string {
	var b strings.Builder
	special := false
	for i := 0; i < len(a); {
		if v, k := varAt(a[i:], vars); k > 0 {
			b.WriteString(v)
			i += k
			continue
		}
		c := a[i]
		switch {
		case c == '"' || c == '\\' || c == '$' || c == '`':
			b.WriteByte('\\')
			special = true
		case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@%+=:,./_-", c) >= 0):
			special = true
		}
		b.WriteByte(c)
		i++
	}
	if special || a == "" {
		return `"` + b.String() + `"`
	}
	return b.String()
}

// varAt says whether s starts with a key of vars: the variable and the
// key's length.
func varAt(s string, vars map[string]string) (string, int) {
	for k, v := range vars {
		if k != "" && strings.HasPrefix(s, k) {
			return v, len(k)
		}
	}
	return "", 0
}

// pipChatter is pip's own progress, which the demo leaves out.
func pipChatter(l string) bool {
	for _, p := range []string{"Processing ", "Installing collected", "Successfully installed", "Looking in links", "Requirement already"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
