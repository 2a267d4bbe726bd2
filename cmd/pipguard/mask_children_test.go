package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/gittest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/redact"
)

// dumpEnvHook is build code (a PEP 517 backend's build_wheel) that writes
// its environment where $ENVDUMP says.
const dumpEnvHook = `import os
d = os.environ.get("ENVDUMP")
if d:
    with open(os.path.join(d, "backend.%d" % os.getpid()), "w") as f:
        f.write("".join("%s=%s\n" % kv for kv in os.environ.items()))
`

// envShim writes an executable dir/name that records its environment in
// $ENVDUMP/name.PID, then runs real with extra arguments and its own.
func envShim(t *testing.T, dir, name, real string, extra ...string) string {
	t.Helper()
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	args := ""
	for _, e := range extra {
		args += " " + q(e)
	}
	p := filepath.Join(dir, name)
	script := "#!/bin/sh\n[ -n \"$ENVDUMP\" ] && env > \"$ENVDUMP/" + name + ".$$\"\nexec " + q(real) + args + " \"$@\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// No child process pipguard starts sees a token or the cache key: not the
// target interpreter (probes and pip), not a build backend, not git (the
// build's clone, over https, file:// and ssh), not ssh, not the
// git-upload-pack that lists a git+file:// repository's refs; through
// resolve, a guarded install built from git, verify = "pin" installs from
// a file:// and an ssh repository, and audit --online.
func TestNoChildSeesASecret(t *testing.T) {
	bin := pipguardBinary(t)
	a := newArena(t)
	secrets := map[string]string{
		"GH_TOKEN": "ghp_CHILDTESTghTOKEN0123456789abcdefABCD", "GITHUB_TOKEN": "ghs_CHILDTESTgithubTOKEN0123456789abcdef",
		"GH_ENTERPRISE_TOKEN": "CHILDTESTgheTOKENvalue", "GITHUB_ENTERPRISE_TOKEN": "CHILDTESTgithubeTOKENvalue",
		"PIPGUARD_CACHE_KEY": "CHILDTESTcacheKEYvalue",
	}
	// The local GitHub takes the token pipguard sends a GitHub host
	// other than github.com (and only that host).
	a.gh.Token = secrets["GH_ENTERPRISE_TOKEN"]
	if len(secrets) != len(redact.SecretEnv) {
		t.Fatalf("the test sets %d secrets, redact.SecretEnv names %d", len(secrets), len(redact.SecretEnv))
	}

	// Shims on PATH that record their environment: git, ssh (git's, as
	// GIT_SSH_COMMAND names it) and git-upload-pack (what lists a file://
	// repository's refs).
	shims := filepath.Join(a.dir, "shims")
	os.Mkdir(shims, 0o755)
	look := func(name string) string {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("no %s: %v", name, err)
		}
		return p
	}
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	envShim(t, shims, "git", look("git"))
	envShim(t, shims, "git-upload-pack", filepath.Join(strings.TrimSpace(string(execPath)), "git-upload-pack"))
	// The local ssh server's host key is in its own known_hosts.
	root := filepath.Join(a.dir, "repos")
	ssh := gittest.ServeSSH(t, root, t.TempDir())
	envShim(t, shims, "ssh", look("ssh"), "-F", "/dev/null", "-o", "UserKnownHostsFile="+ssh.KnownHosts, "-o", "StrictHostKeyChecking=yes")
	// The target interpreter, named by a wrapper that records its
	// environment each time pipguard starts it.
	py := envShim(t, filepath.Dir(a.py), "python-envdump", a.py)

	// A file:// and an ssh repository, pinned by the policy, whose
	// backends record their environment when they build; a release on
	// the local GitHub whose source does the same.
	project := func(dir, name string) *gittest.Repo {
		r := gittest.NewRepo(t, dir)
		if err := (pkgtest.Project{Name: name, Version: "0.5.0", BuildHook: dumpEnvHook}).WriteSource(r.Dir); err != nil {
			t.Fatal(err)
		}
		r.Git("add", "-A")
		r.Commit("release 0.5.0")
		r.Tag("v0.5.0")
		return r
	}
	fileRepo := project(filepath.Join(root, "team", "tool"), "tool")
	project(filepath.Join(root, "team", "sshtool"), "sshtool")
	a.publish(t, "acme/demo", "demo", "1.0.0", githubtest.Publish{Project: pkgtest.Project{BuildHook: dumpEnvHook}})
	pol := filepath.Join(a.dir, "pin.toml")
	os.WriteFile(pol, []byte("[[repo]]\nmatch = \"file://"+fileRepo.Dir+"\"\nverify = \"pin\"\n\n[[repo]]\nmatch = \"127.0.0.1/team/sshtool\"\nverify = \"pin\"\n"), 0o644)
	fileReq := "tool @ git+" + fileRepo.FileURL() + "@v0.5.0"
	sshReq := "sshtool @ git+" + ssh.URL("team/sshtool") + "@v0.5.0"
	gh := []string{"--github-url", a.gh.URL(), "--trusted-root", a.root, "--cache-dir", filepath.Join(a.dir, "cache")}

	env := withEnv(a.env, "PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"), "SSH_AUTH_SOCK="+ssh.AgentSock, "SSH_KNOWN_HOSTS="+ssh.KnownHosts)
	for k, v := range secrets {
		env = append(env, k+"="+v)
	}
	for _, step := range []struct {
		name string
		args []string
		// want are the children that must have run (and so were
		// looked at).
		want []string
	}{
		{"resolve git+file", []string{"resolve", fileReq}, []string{"git-upload-pack"}},
		{"install verify = pin, git+file", append([]string{"install", "--python", py, "--policy", pol, fileReq}, "--", "--no-index"), []string{"git-upload-pack", "git", "backend", "python-envdump"}},
		{"install verify = pin, git+ssh", append([]string{"install", "--python", py, "--policy", pol, sshReq}, "--", "--no-index"), []string{"git", "ssh", "backend", "python-envdump"}},
		{"install --from git", append(append([]string{"install", "--python", py, "--from", "git"}, gh...), a.req("acme/demo", "demo", "v1.0.0"), "--", "--no-index"), []string{"git", "backend", "python-envdump"}},
		{"audit --online", append([]string{"audit", "--python", py, "--policy", pol, "--online"}, gh[:2]...), []string{"git-upload-pack", "python-envdump"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			dump := t.TempDir()
			stdout, stderr, code := runBinary(t, bin, a.dir, withEnv(env, "ENVDUMP="+dump), step.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			files, _ := os.ReadDir(dump)
			ran := map[string]bool{}
			for _, f := range files {
				child, _, _ := strings.Cut(f.Name(), ".")
				ran[child] = true
				data, err := os.ReadFile(filepath.Join(dump, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(data), "ENVDUMP=") {
					t.Errorf("%s recorded no environment: %q", f.Name(), data)
				}
				for k, v := range secrets {
					if strings.Contains(string(data), k+"=") || strings.Contains(string(data), v) {
						t.Errorf("%s (%s) saw %s", child, f.Name(), k)
					}
				}
			}
			var missing []string
			for _, w := range step.want {
				if !ran[w] {
					missing = append(missing, w)
				}
			}
			if len(missing) > 0 {
				var got []string
				for c := range ran {
					got = append(got, c)
				}
				sort.Strings(got)
				t.Errorf("%v did not run (ran: %v): not under test\n%s%s", missing, got, stdout, stderr)
			}
		})
	}
}
