package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/pep610"
)

// installWorld is a local GitHub, a trusted local Sigstore and a fresh
// venv with real pip.
type installWorld struct {
	*world
	python string
	site   string
	out    bytes.Buffer
}

func newInstallWorld(t testing.TB) *installWorld {
	t.Helper()
	w := &installWorld{world: newWorld(t)}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := w.gh.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_SSL_CAINFO", ca) // pip's git clones trust the local GitHub
	w.python = pkgtest.NewVenv(t)
	w.site = pkgtest.SitePackages(w.python)
	return w
}

func (w *installWorld) req(tag string) string {
	return "demo @ git+" + w.gh.URL() + "/acme/demo.git@" + tag
}

func (w *installWorld) install(t testing.TB, o InstallOptions) (*InstallReport, error) {
	t.Helper()
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	if !slices.Contains(o.PipArgs, "--index-url") {
		o.PipArgs = append([]string{"--no-index"}, o.PipArgs...) // nothing from PyPI
	}
	return Install(context.Background(), w.cfg, o)
}

// interpose makes the venv's pip misbehave after each real (not dry-run)
// install: a sitecustomize module wraps pip's install command and runs the
// Python code after, which sees the command's "status" and may change it.
// It works whether pip runs in the driver's process or in its own. Take
// site-packages snapshots after calling it: the module is part of them.
func (w *installWorld) interpose(t testing.TB, after string) {
	t.Helper()
	var body strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(after), "\n") {
		body.WriteString("        " + l + "\n")
	}
	code := `import glob, json, os
import pip._internal.commands.install as _m
_orig = _m.InstallCommand.run
SITE = ` + fmt.Sprintf("%q", w.site) + `
def _run(self, options, args):
    status = _orig(self, options, args)
    if not options.dry_run:
` + body.String() + `    return status
_m.InstallCommand.run = _run
`
	if err := os.WriteFile(filepath.Join(w.site, "sitecustomize.py"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	// pipguard runs the interpreter with -S (no sitecustomize, no .pth):
	// this one runs them anyway, as a hostile interpreter would.
	w.python = pkgtest.SiteRunning(t, w.python)
}

func (w *installWorld) python3(t *testing.T, code string) string {
	t.Helper()
	out, err := exec.Command(w.python, "-c", code).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *installWorld) directURL(t *testing.T, name string) *pep610.DirectURL {
	t.Helper()
	ds, err := pep610.Find(w.site, name)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%s installed %d times: %v", name, len(ds), err)
	}
	d, err := ds[0].DirectURL()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestInstallVerifiedWheel(t *testing.T) {
	w := newInstallWorld(t)
	pub := w.publish(t, githubtest.Publish{Immutable: true})
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if v := w.python3(t, "import demo; print(demo.VERSION)"); v != "1.0.0" {
		t.Errorf("installed VERSION %s", v)
	}
	d := w.directURL(t, "demo")
	if d.ArchiveInfo.SHA256() != strings.TrimPrefix(pub.Wheel.Digest(), "sha256:") {
		t.Errorf("direct_url.json %+v", d.ArchiveInfo)
	}
	if len(rep.Installed) != 1 || rep.Installed[0].Outcome != "installed" || rep.Installed[0].Decision.Verdict() != "accept" {
		t.Errorf("installed %+v", rep.Installed)
	}
	// The same install again: pip leaves it, and its record already matches.
	rep, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Installed[0].Outcome != "already verified" {
		t.Errorf("second install: %+v %+v", rep.Installed, rep.Lock)
	}
}

func TestInstallFromGit(t *testing.T) {
	w := newInstallWorld(t)
	pub := w.publish(t, githubtest.Publish{})
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, From: FromGit})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	// pipguard built the verified commit into a wheel and had pip install
	// that wheel: direct_url.json names the wheel's digest, the receipt
	// the commit it was built from.
	d := w.directURL(t, "demo")
	dists, _ := pep610.Find(w.site, "demo")
	key, _ := pep610.LoadReceiptKey(prefixOf(w.python), false)
	r, err := dists[0].Receipt(key)
	if err != nil || !r.Built || r.Commit != pub.Commit || d.ArchiveInfo == nil || d.ArchiveInfo.SHA256() != r.WheelSHA256 {
		t.Fatalf("direct_url.json %+v, receipt %+v, %v", d, r, err)
	}
}

func TestInstallRequirementsFileMixesGuardedAndPlain(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	links := t.TempDir()
	plain := pkgtest.Project{Name: "plain", Version: "2.0"}
	os.WriteFile(filepath.Join(links, plain.WheelName()), plain.Wheel(), 0o644)
	reqs := filepath.Join(t.TempDir(), "requirements.txt")
	os.WriteFile(reqs, []byte("# app\n--find-links "+links+"\n"+w.req("v1.0.0")+"\nplain==2.0\n"), 0o644)
	rep, err := w.install(t, InstallOptions{Files: []string{reqs}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if len(rep.PassThrough) != 1 || len(rep.Plan) != 2 {
		t.Errorf("pass-through %v plan %+v", rep.PassThrough, rep.Plan)
	}
	if v := w.python3(t, "import plain, demo; print(plain.VERSION, demo.VERSION)"); v != "2.0 1.0.0" {
		t.Errorf("got %s", v)
	}
}

// Every failure leaves site-packages exactly as it was.
func TestInstallFailuresChangeNothing(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(*testing.T, *installWorld) InstallOptions
		errType any
		msg     string
	}{
		{name: "branch", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{})
			return InstallOptions{Requirements: []string{w.req("main")}}
		}, msg: "is a branch"},
		{name: "transitive VCS dependency", setup: func(t *testing.T, w *installWorld) InstallOptions {
			evil := w.gh.AddRepo("mallory", "evil")
			w.gh.Publish(evil, githubtest.Publish{Project: pkgtest.Project{Name: "evil", Version: "0.1"}, Signer: w.signer})
			w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0",
				Requires: []string{"evil @ git+" + w.gh.URL() + "/mallory/evil.git@v0.1"}}})
			return InstallOptions{Requirements: []string{w.req("v1.0.0")}}
		}, msg: "/mallory/evil.git@v0.1, which pipguard did not verify (demo 1.0.0 requires", errType: new(*RefusedError)},
		{name: "direct sdist in a requirements file", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{})
			dir := t.TempDir()
			sdist := filepath.Join(dir, "foo-1.0.tar.gz")
			os.WriteFile(sdist, nil, 0o644)
			reqs := filepath.Join(dir, "req.txt")
			os.WriteFile(reqs, []byte(w.req("v1.0.0")+"\nfoo @ file://"+sdist+"\n"), 0o644)
			return InstallOptions{Files: []string{reqs}}
		}, msg: "/req.txt:2); nothing was downloaded", errType: new(*RefusedError)},
		{name: "wrong wheel uploaded", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{Wheel: pkgtest.Project{Name: "other", Version: "1.0.0"}.Wheel()})
			return InstallOptions{Requirements: []string{w.req("v1.0.0")}}
		}, msg: "the wheel's METADATA says other 1.0.0, expected demo 1.0.0", errType: new(*RefusedError)},
		{name: "incompatible wheel only", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", Tag: "cp39-cp39-win_amd64"}})
			return InstallOptions{Requirements: []string{w.req("v1.0.0")}}
		}, msg: "has no asset for the target interpreter", errType: new(*RefusedError)},
		{name: "Requires-Python mismatch", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", RequiresPython: ">=4"}})
			return InstallOptions{Requirements: []string{w.req("v1.0.0")}}
		}, msg: "exited with status 1", errType: new(*pip.Error)},
		{name: "pip fails on a pass-through requirement", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{})
			return InstallOptions{Requirements: []string{w.req("v1.0.0"), "does-not-exist==1.0"}}
		}, msg: "exited with status 1", errType: new(*pip.Error)},
		{name: "not on GitHub", setup: func(t *testing.T, w *installWorld) InstallOptions {
			w.publish(t, githubtest.Publish{})
			return InstallOptions{Requirements: []string{"demo @ git+file://" + w.repo.Git.Dir + "@v1.0.0"}}
		}, msg: "is not on 127.0.0.1", errType: new(*NotGitHubError)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newInstallWorld(t)
			o := c.setup(t, w)
			before := pkgtest.Snapshot(w.site)
			_, err := w.install(t, o)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %q\n%s", err, c.msg, w.out.String())
			}
			switch want := c.errType.(type) {
			case **RefusedError:
				if !errors.As(err, want) {
					t.Errorf("err %T", err)
				}
			case **pip.Error:
				if !errors.As(err, want) {
					t.Errorf("err %T", err)
				}
			case **NotGitHubError:
				if !errors.As(err, want) {
					t.Errorf("err %T", err)
				}
			}
			if after := pkgtest.Snapshot(w.site); after != before {
				t.Error("site-packages changed")
			}
		})
	}
}

// A pip that records another commit than the one verified (simulated by a
// wrapper around the interpreter) is caught by the audit, and what it
// installed is removed.
func TestAuditMismatchUninstalls(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.interpose(t, `for f in glob.glob(SITE + "/demo-*.dist-info/direct_url.json"):
    d = json.load(open(f))
    d["archive_info"]["hashes"]["sha256"] = "f" * 64
    json.dump(d, open(f, "w"))`)
	before := pkgtest.Snapshot(w.site)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, From: FromGit})
	var ae *AuditError
	if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "direct_url.json") {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	if !rep.RolledBack {
		t.Error("not rolled back")
	}
	if after := pkgtest.Snapshot(w.site); after != before {
		t.Error("site-packages not restored")
	}
}

// The same version installed from elsewhere is replaced by the verified
// wheel, not trusted.
func TestSameVersionFromElsewhereIsReinstalled(t *testing.T) {
	w := newInstallWorld(t)
	pub := w.publish(t, githubtest.Publish{})
	other := pkgtest.Project{Name: "demo", Version: "1.0.0", RequiresPython: ">=3"}
	p := filepath.Join(t.TempDir(), other.WheelName())
	os.WriteFile(p, other.Wheel(), 0o644)
	if out, err := exec.Command(w.python, "-m", "pip", "install", "-q", "--no-index", p).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if rep.Installed[0].Outcome == "already verified" {
		t.Fatalf("kept an unverified install: %+v", rep.Installed)
	}
	if d := w.directURL(t, "demo"); d.ArchiveInfo == nil || "sha256:"+d.ArchiveInfo.SHA256() != pub.Wheel.Digest() {
		t.Errorf("direct_url.json %+v", d)
	}
}

func TestDryRunInstallsNothing(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	before := pkgtest.Snapshot(w.site)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plan) != 1 || !rep.Plan[0].Guarded || rep.Plan[0].Name != "demo" {
		t.Errorf("plan %+v", rep.Plan)
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Error("dry run changed site-packages")
	}
}

// Several guarded requirements are verified concurrently; every failure is
// reported, and one failure means nothing is installed.
func TestInstallSeveralGuardedAllOrNothing(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	two := w.gh.AddRepo("acme", "two")
	w.gh.Publish(two, githubtest.Publish{Project: pkgtest.Project{Name: "two", Version: "2.0.0"}, Signer: w.signer})
	three := w.gh.AddRepo("acme", "three")
	w.gh.Publish(three, githubtest.Publish{Project: pkgtest.Project{Name: "three", Version: "3.0.0"}, Signer: w.signer, SkipProvenance: true})
	reqs := []string{w.req("v1.0.0"), "two @ git+" + w.gh.URL() + "/acme/two.git@v2.0.0"}

	rep, err := w.install(t, InstallOptions{Requirements: reqs})
	if err != nil || len(rep.Installed) != 2 {
		t.Fatalf("%v %+v\n%s", err, rep, w.out.String())
	}

	w.python = pkgtest.NewVenv(t)
	w.site = pkgtest.SitePackages(w.python)
	before := pkgtest.Snapshot(w.site)
	// A branch is refused from the text alone, before anything else.
	bad := append(reqs, "three @ git+"+w.gh.URL()+"/acme/three.git@v3.0.0", "four @ git+"+w.gh.URL()+"/acme/two.git@main")
	_, err = w.install(t, InstallOptions{Requirements: bad, Concurrency: 2})
	if err == nil || !strings.Contains(err.Error(), `ref "main"`) {
		t.Fatalf("err = %v", err)
	}
	// One release that does not verify fails the whole install.
	_, err = w.install(t, InstallOptions{Requirements: bad[:3], Concurrency: 2})
	if err == nil || !strings.Contains(err.Error(), "no provenance attestation published for three-3.0.0") {
		t.Fatalf("err = %v", err)
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Error("site-packages changed")
	}
}

// A pip that fails after installing (simulated by a wrapper that exits 1
// after a real install) leaves nothing behind.
func TestPipFailingHalfWayIsRolledBack(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.interpose(t, "status = 1")
	before := pkgtest.Snapshot(w.site)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	var pe *pip.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if !rep.RolledBack {
		t.Error("not rolled back")
	}
	if pkgtest.Snapshot(w.site) != before {
		t.Error("site-packages changed")
	}
}
