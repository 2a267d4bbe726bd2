package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// preinstall installs wheels into the venv with plain pip, as a user's
// environment would already hold them.
func (w *installWorld) preinstall(t testing.TB, ps ...pkgtest.Project) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-m", "pip", "install", "-q", "--no-index", "--no-deps", "--disable-pip-version-check"}
	for _, p := range ps {
		path := filepath.Join(dir, p.WheelName())
		if err := os.WriteFile(path, p.Wheel(), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	if out, err := exec.Command(w.python, args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// An index that answers differently after pip's one resolution (another
// wheel for the same version, whose metadata pulls in a direct URL) cannot
// change what is installed: the install step reads only the files the
// resolution kept, hashed by pipguard.
func TestIndexChangingItsAnswerCannotChangeTheInstall(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	evil := pkgtest.Project{Name: "evil", Version: "0.1"}
	evilPath := filepath.Join(t.TempDir(), evil.WheelName())
	os.WriteFile(evilPath, evil.Wheel(), 0o644)
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
	hookAfterResolve = func() {
		ix.Replace(pkgtest.Project{Name: "plain", Version: "1.0", Requires: []string{"evil @ file://" + evilPath}, Files: map[string]string{"plain/evil.py": "EVIL = 1\n"}})
	}
	t.Cleanup(func() { hookAfterResolve = nil })
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if _, err := os.Stat(filepath.Join(w.site, "plain", "evil.py")); err == nil {
		t.Error("the second answer's file was installed")
	}
	if ds, _ := pep610.Find(w.site, "evil"); len(ds) > 0 {
		t.Error("evil was installed")
	}
}

// The lock pins index items by hash and keeps them index installs: no
// direct_url.json, and pip's report must equal the lock.
func TestLockedInstallPinsIndexItems(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", Requires: []string{"plain>=1"}}})
	ix := pkgtest.NewIndex(t)
	plain := pkgtest.Project{Name: "plain", Version: "1.0"}
	ix.Add(plain)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if len(rep.Lock) != 2 {
		t.Fatalf("lock %+v", rep.Lock)
	}
	for _, l := range rep.Lock {
		switch l.Name {
		case "plain":
			sum := hexSHA256(plain.Wheel())
			if l.Source != SourceIndex || l.SHA256 != sum || l.Requirement != "plain==1.0 --hash=sha256:"+sum {
				t.Errorf("plain locked as %+v", l)
			}
		case "demo":
			if l.Source != SourceVerified || !strings.Contains(l.Requirement, "#sha256=") {
				t.Errorf("demo locked as %+v", l)
			}
		}
	}
	ds, _ := pep610.Find(w.site, "plain")
	if len(ds) != 1 {
		t.Fatalf("plain installed %d times", len(ds))
	}
	if _, err := ds[0].DirectURL(); !errors.Is(err, pep610.ErrNoDirectURL) {
		t.Errorf("plain has a direct_url.json: %v", err)
	}
}

// An upgrade that fails part way (pip has already replaced plain 0.9 and
// demo 0.9 when the next wheel fails to install) is rolled back: both come
// back at their old versions, byte for byte, and nothing new stays.
func TestUpgradeFailingPartWayIsRestoredByteForByte(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.preinstall(t, pkgtest.Project{Name: "plain", Version: "0.9"}, pkgtest.Project{Name: "demo", Version: "0.9"})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"plain/extra/new.py": "NEW = 1\n"}})
	ix.Add(pkgtest.Project{Name: "broken", Version: "1.0", Requires: []string{"plain", "demo"}})
	// pip fails after it has replaced everything (a wheel that escapes
	// site-packages is refused before pip now; here pip itself says it
	// failed once it wrote its files).
	w.interpose(t, "status = 1")
	before := pkgtest.Snapshot(w.site)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0", "broken==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	var pe *pip.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	if !strings.Contains(w.out.String(), "Successfully installed") {
		t.Fatalf("pip did not get as far as replacing plain:\n%s", w.out.String())
	}
	if !rep.RolledBack {
		t.Error("not rolled back")
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Errorf("site-packages not restored:\n%s", pkgtest.Diff(w.site, before))
	}
	if v := w.python3(t, "import plain, demo; print(plain.VERSION, demo.VERSION)"); v != "0.9 0.9" {
		t.Errorf("after rollback: %s", v)
	}
}

// A signal while pip installs (here pip hangs once the real install starts
// writing, after its resolution and pipguard's go-ahead: it reads only
// local files now, so no index can stall it) stops
// pip, waits for it, leaves the environment and the temporary directory as
// they were, and says it was interrupted.
func TestInterruptDuringPip(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.preinstall(t, pkgtest.Project{Name: "plain", Version: "0.9"})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
	marker := filepath.Join(t.TempDir(), "started")
	code := `import os, time
import pip._internal.commands.install as _m
_orig = _m.install_given_reqs
def _install(*args, **kwargs):
    open(` + jsonString(marker) + `, "w").close()
    time.sleep(60)
    return _orig(*args, **kwargs)
_m.install_given_reqs = _install
`
	os.WriteFile(filepath.Join(w.site, "sitecustomize.py"), []byte(code), 0o644)
	w.python = pkgtest.SiteRunning(t, w.python)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := pkgtest.Snapshot(w.site)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(marker); err == nil {
				cancel(errors.New("test signal"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	o := InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	start := time.Now()
	_, err := Install(ctx, w.cfg, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.RollbackErr != nil || ie.Stage != "pip install" || !strings.Contains(err.Error(), "test signal") {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s to stop", d)
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Errorf("site-packages changed:\n%s", pkgtest.Diff(w.site, before))
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "pipguard-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

// An interruption after pip finished (while pipguard audits) still rolls
// back: the upgrade is undone byte for byte.
func TestInterruptAfterPipRestoresTheUpgrade(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.preinstall(t, pkgtest.Project{Name: "demo", Version: "0.9"})
	before := pkgtest.Snapshot(w.site)
	ctx, cancel := context.WithCancel(context.Background())
	hookAfterInstall = cancel
	t.Cleanup(func() { hookAfterInstall = nil })
	o := InstallOptions{Requirements: []string{w.req("v1.0.0")}, PipArgs: []string{"--no-index"}}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	rep, err := Install(ctx, w.cfg, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !rep.RolledBack {
		t.Fatalf("err = %v", err)
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Errorf("site-packages not restored:\n%s", pkgtest.Diff(w.site, before))
	}
}

// No child process (pip, and through it build backends and git) can read a
// GitHub token, whether pip runs in the driver's process or its own.
func TestChildrenCannotReadTokens(t *testing.T) {
	for _, separate := range []bool{false, true} {
		t.Run(map[bool]string{false: "in-process", true: "separate"}[separate], func(t *testing.T) {
			w := newInstallWorld(t)
			w.publish(t, githubtest.Publish{})
			for _, k := range secretNames {
				t.Setenv(k, "secret-"+k)
			}
			seen := filepath.Join(t.TempDir(), "env.json")
			w.interpose(t, `json.dump({k: os.environ.get(k) for k in `+pyNames()+`}, open(`+jsonString(seen)+`, "w"))`)
			rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, From: FromGit, SeparatePip: separate})
			if err != nil {
				t.Fatalf("%v\n%s", err, w.out.String())
			}
			if want := map[bool]string{false: "in-process", true: "separate"}[separate]; rep.PipMode != want {
				t.Errorf("pip ran %s, want %s", rep.PipMode, want)
			}
			data, err := os.ReadFile(seen)
			if err != nil {
				t.Fatal(err)
			}
			var env map[string]*string
			json.Unmarshal(data, &env)
			for _, k := range secretNames {
				if v, ok := env[k]; !ok || v != nil {
					t.Errorf("%s in pip's environment: %v", k, v)
				}
			}
		})
	}
}

var secretNames = []string{"GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}

func pyNames() string {
	b, _ := json.Marshal(secretNames)
	return string(b)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A tag that points elsewhere for one listing (a compromised or racing
// server) cannot make pipguard verify one commit and install another: the
// ref is listed once, and the release does not vouch for that commit.
func TestTagMovedBetweenListings(t *testing.T) {
	for _, from := range []From{FromGit, FromRelease} {
		t.Run(string(from), func(t *testing.T) {
			w := newInstallWorld(t)
			pub := w.publish(t, githubtest.Publish{})
			g := w.repo.Git
			os.WriteFile(filepath.Join(g.Dir, "demo", "__init__.py"), []byte("VERSION = 'evil'\n"), 0o644)
			g.Git("checkout", "-q", "-b", "evil")
			evil := g.Commit("evil")
			g.Git("checkout", "-q", "main")
			w.gh.AddFault(&githubtest.Fault{Route: regexp.MustCompile(`/acme/demo\.git/info/refs$`), Times: 1,
				Before: func() { g.Git("tag", "-f", "v1.0.0", evil) },
				After:  func() { g.Git("tag", "-f", "v1.0.0", pub.Commit) }})
			before := pkgtest.Snapshot(w.site)
			_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, From: from})
			if err == nil || !strings.Contains(err.Error(), "tag") {
				t.Fatalf("err = %v\n%s", err, w.out.String())
			}
			if !strings.Contains(err.Error(), evil[:12]) {
				t.Errorf("the refusal does not name the commit listed: %v", err)
			}
			if pkgtest.Snapshot(w.site) != before {
				t.Error("site-packages changed")
			}
		})
	}
}

// --from git installs the tag's commit; with a commit distance the
// attested build is of another commit, so the combination is refused.
func TestFromGitWithCommitDistanceRefused(t *testing.T) {
	_, err := Install(context.Background(), Config{}, InstallOptions{Requirements: []string{"x @ git+https://github.com/o/r.git@v1"}, From: FromGit, MaxCommitDistance: 1})
	var pe *policy.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `install_from = "git" (flag --from) with max_commit_distance = 1 (flag --max-commit-distance) would install the tag's commit, which no attestation covers`) ||
		!strings.Contains(pe.Hint(), `install_from = "release"`) {
		t.Fatalf("err = %v", err)
	}
}

// On Fedora-like layouts purelib is lib/ and platlib lib64/, the same
// directory through the venv's lib64 -> lib symlink: it is one
// site-packages, and the audit sees one distribution.
func TestSymlinkedLib64SitePackages(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	venv := filepath.Dir(filepath.Dir(w.python))
	if fi, err := os.Lstat(filepath.Join(venv, "lib64")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		os.Remove(filepath.Join(venv, "lib64"))
		if err := os.Symlink("lib", filepath.Join(venv, "lib64")); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(w.site, "sitecustomize.py"), []byte("import sysconfig\nsysconfig.get_config_vars()['platlibdir'] = 'lib64'\n"), 0o644)
	w.python = pkgtest.SiteRunning(t, w.python)
	if got := w.python3(t, "import sysconfig; print(sysconfig.get_paths()['platlib'])"); !strings.Contains(got, "lib64") {
		t.Fatalf("platlib %s", got)
	}
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if len(rep.Site) != 1 {
		t.Errorf("site-packages %v", rep.Site)
	}
}

// By default pip takes wheels only: an index requirement that exists only
// as an sdist is not built (its build code never runs), and --no-binary in
// a requirements file is refused; --allow-source-builds opts out.
func TestNoSourceBuildsByDefault(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	links := t.TempDir()
	marker := filepath.Join(t.TempDir(), "built")
	sd := pkgtest.Project{Name: "sdonly", Version: "1.0", BuildHook: "open(" + jsonString(marker) + ", 'w').write('ran')"}
	os.WriteFile(filepath.Join(links, sd.SdistName()), sd.Sdist(), 0o644)
	before := pkgtest.Snapshot(w.site)
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "sdonly==1.0"}, PipArgs: []string{"--find-links", links}})
	var pe *pip.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the sdist's build code ran")
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Error("site-packages changed")
	}

	// Options in files come after pipguard's --only-binary :all: and would
	// override it: --no-binary, and --only-binary :none:, also from a
	// constraints file, are refused, and so are such pip arguments.
	rdir := t.TempDir()
	os.WriteFile(filepath.Join(rdir, "constraints.txt"), []byte("--only-binary :none:\n"), 0o644)
	reqs := filepath.Join(rdir, "requirements.txt")
	os.WriteFile(reqs, []byte("--no-binary :all:\n-c constraints.txt\n"+w.req("v1.0.0")+"\n"), 0o644)
	_, err = w.install(t, InstallOptions{Files: []string{reqs}, PipArgs: []string{"--only-binary=:none:"}})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "requirements.txt:1: --no-binary :all: asks pip to build from source") ||
		!strings.Contains(err.Error(), "constraints.txt:1: --only-binary :none:") || !strings.Contains(err.Error(), "pip argument --only-binary :none:") ||
		!strings.Contains(re.Hint(), "--allow-source-builds") {
		t.Fatalf("err = %v", err)
	}

	_, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "sdonly==1.0"}, PipArgs: []string{"--find-links", links, "--no-build-isolation"}, AllowSourceBuilds: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("with --allow-source-builds the sdist was not built")
	}
}

// A pip the driver cannot run in its own process (here: one that says it
// is older than 23.0) runs as separate processes, and the install works.
func TestOldPipRunsAsSeparateProcesses(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	os.WriteFile(filepath.Join(w.site, "sitecustomize.py"), []byte("import pip\npip.__version__ = '22.3'\n"), 0o644)
	w.python = pkgtest.SiteRunning(t, w.python)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if rep.PipMode != "separate" || rep.Pip != "22.3" {
		t.Errorf("pip %s ran %s", rep.Pip, rep.PipMode)
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pip arguments after -- are options: a requirement there, a -r, or an
// option that installs outside the interpreter's site-packages is refused
// before anything runs.
func TestPipArgumentsThatEscapeTheLock(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"evil==1.0"}, `pip argument "evil==1.0" is not an option; requirements go before --`},
		{[]string{"-r", "more.txt"}, "pip argument -r goes before --"},
		{[]string{"--target", "/tmp/x"}, "pip argument --target installs outside the interpreter's site-packages"},
		{[]string{"--user"}, "pip argument --user installs outside"},
		{[]string{"--report=/tmp/r.json"}, "pip argument --report is pipguard's"},
		{[]string{"-e", "."}, "pip argument -e makes an editable install"},
	} {
		_, err := Install(context.Background(), Config{}, InstallOptions{Requirements: []string{"x==1"}, PipArgs: c.args, Python: "python3"})
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.msg)
		}
	}
}

// A constraints file is read as pip reads it: its constraints limit the
// resolution (and the lock), and a -r inside it names requirements that
// pipguard sees like any other.
func TestConstraintsFiles(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
	ix.Add(pkgtest.Project{Name: "plain", Version: "2.0"})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte(w.req("v1.0.0")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "constraints.txt"), []byte("plain<2\n-r extra.txt\n"), 0o644)
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(reqs, []byte("-c constraints.txt\nplain\n"), 0o644)
	rep, err := w.install(t, InstallOptions{Files: []string{reqs}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if len(rep.Guarded) != 1 || rep.Guarded[0].PipRequirement == "" {
		t.Errorf("the git requirement named through the constraints file was not guarded: %+v", rep.Guarded)
	}
	if v := w.python3(t, "import plain, demo; print(plain.VERSION, demo.VERSION)"); v != "1.0 1.0.0" {
		t.Errorf("got %s", v)
	}
}

// The supported pip range starts at 23.0 (report format version 1): the
// oldest, Debian's pip 23.0.1 wheel (package python3-pip-whl), and the
// interpreter's own pip both drive a whole install in process.
func TestSupportedPipVersions(t *testing.T) {
	wheels, _ := filepath.Glob("/usr/share/python-wheels/pip-23.0*-py3-none-any.whl")
	if len(wheels) == 0 {
		t.Fatal("pip 23.0's wheel is missing: apt-get install python3-pip-whl (.ci/run does)")
	}
	for _, whl := range append([]string{""}, wheels...) {
		name := filepath.Base(whl)
		if whl == "" {
			name = "the interpreter's own pip"
		}
		t.Run(name, func(t *testing.T) {
			w := newInstallWorld(t)
			w.publish(t, githubtest.Publish{})
			want := strings.TrimSpace(w.python3(t, "import pip; print(pip.__version__)"))
			if whl != "" {
				if out, err := exec.Command(w.python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", whl).CombinedOutput(); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				want = strings.SplitN(filepath.Base(whl), "-", 3)[1]
			}
			rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
			if err != nil {
				t.Fatalf("%v\n%s", err, w.out.String())
			}
			if rep.Pip != want || rep.PipMode != "in-process" || rep.Installed[0].Decision.Verdict() != "accept" {
				t.Errorf("pip %s (want %s) ran %s: %+v", rep.Pip, want, rep.PipMode, rep.Installed)
			}
		})
	}
}

func mustPolicy(t *testing.T, toml string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("pipguard.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The policy's rules for everything else pip installs: index requirements
// pinned with ==, only the package sources it lists (also from pip's own
// configuration), and the unverified direct references it allows.
func TestPolicyForEverythingElse(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
	before := pkgtest.Snapshot(w.site)
	args := []string{"--index-url", ix.SimpleURL()}
	// This machine's environment may name a find-links directory of its
	// own, which the policy below would (rightly) refuse.
	t.Setenv("PIP_FIND_LINKS", "")
	os.Unsetenv("PIP_FIND_LINKS")

	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain>=1"}, PipArgs: args, Rules: mustPolicy(t, `index_pins = "require"`)})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), `argument 2: plain>=1 is not pinned with == (policy pipguard.toml top level: index_pins = "require")`) {
		t.Errorf("index_pins: err = %v", err)
	}
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain>=1"}, PipArgs: args, DryRun: true, Rules: mustPolicy(t, `index_pins = "warn"`)})
	if err != nil || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "plain>=1 is not pinned") {
		t.Errorf("index_pins warn: %v %v", err, rep.Warnings)
	}

	only := mustPolicy(t, fmt.Sprintf("indexes = [%q]", ix.SimpleURL()))
	_, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: append(args, "--extra-index-url", "https://evil.example/simple"), Rules: only})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "pip argument: --extra-index-url https://evil.example/simple is not a package source the policy allows") {
		t.Errorf("indexes, argument: err = %v", err)
	}
	t.Setenv("PIP_EXTRA_INDEX_URL", "https://evil.example/simple")
	_, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: args, Rules: only})
	var oe *pip.OptionsError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "pip would use the package source https://evil.example/simple, which the policy's indexes do not list") {
		t.Errorf("indexes, pip's environment: err = %v", err)
	}
	os.Unsetenv("PIP_EXTRA_INDEX_URL")
	if pkgtest.Snapshot(w.site) != before {
		t.Error("site-packages changed")
	}
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: args, Rules: only}); err != nil {
		t.Errorf("an allowed index was refused: %v\n%s", err, w.out.String())
	}
}

// allow_direct admits a named unverified git dependency, and only it.
func TestPolicyAllowDirect(t *testing.T) {
	w := newInstallWorld(t)
	evil := w.gh.AddRepo("mallory", "evil")
	w.gh.Publish(evil, githubtest.Publish{Project: pkgtest.Project{Name: "evil", Version: "0.1"}, Signer: w.signer})
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0",
		Requires: []string{"evil @ git+" + w.gh.URL() + "/mallory/evil.git@v0.1"}}})
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, DryRun: true, Rules: mustPolicy(t, `allow_direct = ["mallory/other"]`)})
	if err == nil || !strings.Contains(err.Error(), "/mallory/evil.git@v0.1, which pipguard did not verify") {
		t.Errorf("err = %v", err)
	}
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, DryRun: true, Rules: mustPolicy(t, `allow_direct = ["mallory/*"]`)})
	if err != nil || len(rep.Plan) != 2 {
		t.Errorf("%v %+v", err, rep)
	}
}
