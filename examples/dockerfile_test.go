// Package examples holds the files users copy (a Dockerfile, a GitHub
// Actions workflow); its test runs the Dockerfile's instructions.
package examples

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// sandboxed are the absolute paths the Dockerfile uses; the test runs them
// under a directory of its own.
var sandboxed = []string{"/usr/local/bin", "/opt/venv", "/opt/hermetic", "/wheels", "/app", "/tmp/pipguard", "/var/cache/pipguard", "/root"}

// build runs the Dockerfile's instructions as a shell script would: ARG,
// FROM (stages share one file system; each starts with no ENV and no
// WORKDIR, as in Docker), ADD (from the local release), COPY, ENV, WORKDIR,
// and RUN with its cache and secret mounts and --network=none (in a
// network namespace with no interfaces, unshare -n, when the machine
// permits it; else with the network, said in the log). The image's python
// is the machine's python3.
type build struct {
	t        *testing.T
	root     string            // the image's file system
	context  string            // the build context
	release  string            // what github.com/pipguard/pipguard/releases/download/VERSION/ serves
	args     map[string]string // --build-arg
	secrets  map[string]string // --secret id=...
	hostEnv  []string          // what the build's network needs (the local GitHub)
	vars     map[string]string
	env      map[string]string
	workdir  string
	logLines []string
	// isolated counts the RUN --network=none that ran with no network.
	isolated int
	// target, when set, is the stage to build (docker build --target):
	// only it and the stages it copies from run.
	target string
}

// stagesFor are the stages docker build --target builds for target: it,
// and those it copies from, transitively.
func stagesFor(ins []string, target string) map[string]bool {
	deps := map[string][]string{}
	cur := ""
	for _, in := range ins {
		f := strings.Fields(in)
		switch {
		case f[0] == "FROM" && len(f) >= 4 && strings.EqualFold(f[2], "AS"):
			cur = f[3]
		case f[0] == "COPY" && len(f) > 1 && strings.HasPrefix(f[1], "--from="):
			deps[cur] = append(deps[cur], strings.TrimPrefix(f[1], "--from="))
		}
	}
	need := map[string]bool{}
	var add func(string)
	add = func(s string) {
		if !need[s] {
			need[s] = true
			for _, d := range deps[s] {
				add(d)
			}
		}
	}
	add(target)
	return need
}

// canUnshare says whether unshare -n works here.
func canUnshare() bool {
	if _, err := exec.LookPath("unshare"); err != nil {
		return false
	}
	return exec.Command("unshare", "-n", "true").Run() == nil
}

// path puts the image's absolute paths in p under the test's root: each
// sandboxed path where it starts a path (not inside another one, such as
// the root itself when TMPDIR is /tmp/pipguard-…) and ends at a path
// boundary.
func (b *build) path(p string) string {
	for _, s := range sandboxed {
		re := regexp.MustCompile(`(^|[^A-Za-z0-9_.~/-])` + regexp.QuoteMeta(s) + `($|[^A-Za-z0-9_.~-])`)
		for {
			q := re.ReplaceAllString(p, "${1}"+strings.ReplaceAll(b.root, "$", "$$")+s+"${2}")
			if q == p {
				break
			}
			p = q
		}
	}
	return p
}

func (b *build) expand(s string) string {
	return os.Expand(s, func(k string) string {
		if v, ok := b.env[k]; ok {
			return v
		}
		if v, ok := b.vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
}

// instructions reads the Dockerfile: continuation lines joined, comments
// and the parser directive dropped.
func instructions(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

func (b *build) run(dockerfile string) error {
	global := true
	ins := instructions(b.t, dockerfile)
	need := stagesFor(ins, b.target)
	skip := false
	for _, in := range ins {
		op, rest, _ := strings.Cut(in, " ")
		if op == "FROM" && b.target != "" {
			f := strings.Fields(rest)
			skip = len(f) < 3 || !need[f[2]]
		}
		if skip {
			continue
		}
		b.logLines = append(b.logLines, in)
		switch op {
		case "ARG":
			name, def, hasDef := strings.Cut(rest, "=")
			switch v, given := b.args[name]; {
			case given:
				b.vars[name] = v
			case hasDef:
				b.vars[name] = b.expand(def)
			case !global:
				// ARG NAME in a stage takes the global value, set above.
			}
		case "FROM":
			global = false
			b.env, b.workdir = map[string]string{}, ""
		case "ADD":
			fields := strings.Fields(b.expand(rest))
			var checksum string
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				if v, ok := strings.CutPrefix(fields[0], "--checksum=sha256:"); ok {
					checksum = v
				}
				fields = fields[1:]
			}
			src, dst := fields[0], b.path(fields[1])
			prefix := "https://github.com/pipguard/pipguard/releases/download/" + b.vars["PIPGUARD_VERSION"] + "/"
			name, ok := strings.CutPrefix(src, prefix)
			if !ok {
				return fmt.Errorf("ADD %s: not from pipguard's release %s", src, b.vars["PIPGUARD_VERSION"])
			}
			data, err := os.ReadFile(filepath.Join(b.release, name))
			if err != nil {
				return fmt.Errorf("ADD %s: 404", src)
			}
			if sum := sha256.Sum256(data); checksum != "" && hex.EncodeToString(sum[:]) != checksum {
				return fmt.Errorf("ADD %s: checksum mismatch", src)
			}
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				return err
			}
		case "COPY":
			fields := strings.Fields(rest)
			from := ""
			if v, ok := strings.CutPrefix(fields[0], "--from="); ok {
				from, fields = v, fields[1:]
			}
			dst := b.path(fields[len(fields)-1])
			for _, src := range fields[:len(fields)-1] {
				s := filepath.Join(b.context, src)
				if from != "" {
					if s = b.path(src); s == dst {
						continue // the stages share one file system here
					}
				}
				if err := exec.Command("cp", "-a", s, dst).Run(); err != nil && src != "." {
					return fmt.Errorf("COPY %s: %v", src, err)
				}
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				b.env[k] = b.path(b.expand(v))
			}
		case "WORKDIR":
			b.workdir = b.path(rest)
			os.MkdirAll(b.workdir, 0o755)
		case "RUN":
			env := map[string]string{}
			fields := strings.Fields(rest)
			noNetwork := false
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--network=") {
				if v := strings.TrimPrefix(fields[0], "--network="); v != "none" {
					return fmt.Errorf("RUN --network=%s: only none is understood", v)
				}
				noNetwork, fields = true, fields[1:]
			}
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--mount=") {
				opts := map[string]string{}
				for _, o := range strings.Split(strings.TrimPrefix(fields[0], "--mount="), ",") {
					k, v, _ := strings.Cut(o, "=")
					opts[k] = v
				}
				switch opts["type"] {
				case "cache":
					os.MkdirAll(b.path(opts["target"]), 0o700)
				case "secret":
					if v, ok := b.secrets[opts["id"]]; ok {
						env[opts["env"]] = v
					}
				}
				fields = fields[1:]
			}
			cmd := exec.Command("sh", "-c", b.path(strings.Join(fields, " ")))
			if noNetwork {
				if canUnshare() {
					cmd = exec.Command("unshare", "-n", "sh", "-c", b.path(strings.Join(fields, " ")))
					b.isolated++
				} else {
					b.logLines = append(b.logLines, "note: RUN --network=none ran with the network: unshare -n is not permitted here")
				}
			}
			cmd.Dir = b.workdir
			if cmd.Dir == "" {
				cmd.Dir = b.root
			}
			cmd.Env = append([]string{}, b.hostEnv...)
			for k, v := range b.vars { // ARGs are in RUN's environment
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			for k, v := range b.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			b.logLines = append(b.logLines, string(out))
			if err != nil {
				return fmt.Errorf("RUN %s: %v\n%s", strings.Join(fields, " "), err, out)
			}
		default:
			return fmt.Errorf("unknown instruction %s", op)
		}
	}
	return nil
}

// TestDockerfile builds examples/Dockerfile as a script against the local
// GitHub: pipguard checked against its release's SHA256SUMS (pinned by
// digest), the requirements verified and installed into the image's venv,
// the environment audited; a rebuild with the cache mount asks GitHub's
// REST API nothing, and the token is in no file of the image.
func TestDockerfile(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed")
	}
	work := t.TempDir()
	release := filepath.Join(work, "release")
	os.MkdirAll(release, 0o755)
	bin := filepath.Join(release, "pipguard_linux_"+runtime.GOARCH)
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/pipguard").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(bin)
	sum := sha256.Sum256(data)
	sums := hex.EncodeToString(sum[:]) + "  pipguard_linux_" + runtime.GOARCH + "\n"
	os.WriteFile(filepath.Join(release, "SHA256SUMS"), []byte(sums), 0o644)
	sumsDigest := sha256.Sum256([]byte(sums))

	gh := githubtest.New(t)
	gh.Token = "ghs_BUILDSECRET"
	signer, err := sigstoretest.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	gh.Publish(gh.AddRepo("acme", "demo"), githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0"}, Signer: signer, Immutable: true})
	rootJSON, _ := signer.TrustedRootJSON()
	trusted, ca := filepath.Join(work, "trusted-root.json"), filepath.Join(work, "ca.pem")
	os.WriteFile(trusted, rootJSON, 0o644)
	if err := gh.WriteCA(ca); err != nil {
		t.Fatal(err)
	}

	context := filepath.Join(work, "context")
	os.MkdirAll(context, 0o755)
	os.WriteFile(filepath.Join(context, "requirements.txt"), []byte("demo @ git+"+gh.URL()+"/acme/demo.git@v1.0.0\n"), 0o644)
	os.WriteFile(filepath.Join(context, "pyproject.toml"), []byte("[project]\nname = \"app\"\nversion = \"0\"\n\n[tool.pipguard]\nrequire = [\"provenance\", \"checksums\"]\n"), 0o644)
	// The project's pylock.toml, as pipguard lock writes it.
	lock := exec.Command(bin, "lock", "--python", "python3", "--github-url", gh.URL(), "--trusted-root", trusted, "-o", filepath.Join(context, "pylock.toml"),
		"-r", filepath.Join(context, "requirements.txt"), "--", "--no-index")
	lock.Dir = context
	lock.Env = append(os.Environ(), "SSL_CERT_FILE="+ca, "GIT_SSL_CAINFO="+ca, "GH_TOKEN=ghs_BUILDSECRET")
	if out, err := lock.CombinedOutput(); err != nil {
		t.Fatalf("pipguard lock: %v\n%s", err, out)
	}

	newBuild := func(root string, args map[string]string) *build {
		os.MkdirAll(filepath.Join(root, "usr/local/bin"), 0o755)
		py, _ := exec.LookPath("python3")
		os.Symlink(py, filepath.Join(root, "usr/local/bin/python")) // the image's python
		return &build{t: t, root: root, context: context, release: release, args: args,
			secrets: map[string]string{"gh_token": "ghs_BUILDSECRET", "pipguard_cache_key": "0123456789abcdef0123456789abcdef"},
			hostEnv: []string{"PATH=" + filepath.Join(root, "usr/local/bin") + ":" + os.Getenv("PATH"), "HOME=" + filepath.Join(root, "root"),
				"SSL_CERT_FILE=" + ca, "GIT_SSL_CAINFO=" + ca, "PIPGUARD_GITHUB_URL=" + gh.URL(), "PIPGUARD_TRUSTED_ROOT=" + trusted, "PIP_NO_INDEX=1"},
			vars: map[string]string{}, env: map[string]string{}}
	}
	args := map[string]string{"PIPGUARD_SUMS_SHA256": hex.EncodeToString(sumsDigest[:]), "TARGETARCH": runtime.GOARCH}

	// A SHA256SUMS digest that is not the release's stops the build.
	bad := newBuild(filepath.Join(work, "bad"), map[string]string{"PIPGUARD_SUMS_SHA256": strings.Repeat("0", 64), "TARGETARCH": runtime.GOARCH})
	if err := bad.run("Dockerfile"); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("a wrong SHA256SUMS digest: %v", err)
	}

	root := filepath.Join(work, "image")
	b := newBuild(root, args)
	if err := b.run("Dockerfile"); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(b.logLines, "\n"))
	}
	out, err := exec.Command(filepath.Join(root, "opt/venv/bin/python"), "-c", "import demo; print(demo.VERSION)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1.0.0" {
		t.Fatalf("demo in the image: %v %s", err, out)
	}
	log := strings.Join(b.logLines, "\n")
	for _, want := range []string{"pipguard_linux_" + runtime.GOARCH + ": OK", "audited demo 1.0.0: installed", "1 verified by pipguard; 0 errors",
		"fetched 1 file(s) into " + filepath.Join(root, "wheels") + " (0 with provenance, 1 guarded release(s))",
		"tag not re-resolved: hermetic install; the lock's commit is used"} {
		if !strings.Contains(log, want) {
			t.Errorf("the build log lacks %q:\n%s", want, log)
		}
	}
	// The hermetic stage's venv, installed from /wheels with no network.
	out, err = exec.Command(filepath.Join(root, "opt/hermetic/bin/python"), "-c", "import demo; print(demo.VERSION)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1.0.0" {
		t.Fatalf("demo in the hermetic stage: %v %s", err, out)
	}
	if canUnshare() && b.isolated != 2 {
		t.Errorf("%d RUN --network=none ran in a network namespace, not 2", b.isolated)
	}

	// A rebuild of the install layer (another image of the default
	// target, the same cache mount) asks GitHub's REST API nothing.
	n := len(gh.Requests())
	again := newBuild(filepath.Join(work, "image2"), args)
	again.target = "app"
	os.MkdirAll(filepath.Join(work, "image2", "var/cache"), 0o755)
	if err := exec.Command("cp", "-a", filepath.Join(root, "var/cache/pipguard"), filepath.Join(work, "image2", "var/cache/")).Run(); err != nil {
		t.Fatal(err)
	}
	if err := again.run("Dockerfile"); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	for _, r := range gh.Requests()[n:] {
		if strings.HasPrefix(r.Path, "/api/v3/") {
			t.Errorf("the rebuild asked the REST API: %s", r.Path)
		}
	}

	// The token was a secret: no file of the image holds it (the cache
	// mount is not part of the image, but it must not hold it either).
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
			return nil
		}
		f, _ := os.Open(p)
		defer f.Close()
		data, _ := io.ReadAll(f)
		for _, secret := range []string{"ghs_BUILDSECRET", "0123456789abcdef0123456789abcdef"} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})
}
