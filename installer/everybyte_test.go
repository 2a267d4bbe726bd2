package installer

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/pep610"
)

// The tests of "pipguard holds every byte": pip installs only files
// pipguard hashed, every path is known before pip writes it, and the disk
// is checked after. Each attacks one guarantee with real pip and compares
// the whole prefix (every file, its mode and bytes, __pycache__ included)
// after each refusal and rollback.

// prefixOf is the venv's sys.prefix.
func prefixOf(python string) string { return filepath.Dir(filepath.Dir(python)) }

// prefixState lists every path under dir with its type, mode, size and
// sha256 (or link target): equal states are equal trees, byte for byte.
func prefixState(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += fmt.Sprintf(" %d %s", len(data), hex.EncodeToString(sum[:8]))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// sameState reports how two prefix states differ (at most 20 lines).
func sameState(t testing.TB, before, after string) {
	t.Helper()
	if before == after {
		return
	}
	was, now := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		was[l] = true
	}
	for _, l := range strings.Split(after, "\n") {
		now[l] = true
	}
	var diff []string
	for l := range was {
		if !now[l] {
			diff = append(diff, "- "+l)
		}
	}
	for l := range now {
		if !was[l] {
			diff = append(diff, "+ "+l)
		}
	}
	sort.Strings(diff)
	if len(diff) > 20 {
		diff = append(diff[:20], fmt.Sprintf("... and %d more", len(diff)-20))
	}
	t.Errorf("the prefix changed:\n%s", strings.Join(diff, "\n"))
}

// rawWheel builds a wheel from members exactly as given: RECORD is
// whatever the test says (an attacker's wheel).
func rawWheel(t testing.TB, members map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := z.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(members[n]))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// witness is Python for a build hook that proves build code ran.
func witness(path string) string { return "open(" + jsonString(path) + ", 'w').write('ran')" }

// noFile fails when path exists: build code ran.
func noFile(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s: the build hook ran", what)
	}
}

// No code that nothing verified runs during the resolution, also under
// --dry-run: a verified release that depends on an unverified git
// repository or an sdist URL, a requirements line naming a local sdist or
// a local source directory, each with a build hook. Each is refused
// before pip downloads, prepares or builds it, naming the chain.
func TestNoUnverifiedBuildCodeRunsDuringTheResolution(t *testing.T) {
	w := newInstallWorld(t)
	dir := t.TempDir()
	mark := func(name string) string { return filepath.Join(dir, name+".witness") }

	evil := w.gh.AddRepo("mallory", "evilgit")
	w.gh.Publish(evil, githubtest.Publish{Project: pkgtest.Project{Name: "evilgit", Version: "0.1", BuildHook: witness(mark("git"))}, Signer: w.signer})

	evilSdist := pkgtest.Project{Name: "evilsdist", Version: "0.1", BuildHook: witness(mark("sdist"))}
	sdistPath := filepath.Join(dir, evilSdist.SdistName())
	os.WriteFile(sdistPath, evilSdist.Sdist(), 0o644)

	evilDir := pkgtest.Project{Name: "evildir", Version: "0.1", BuildHook: witness(mark("dir"))}
	srcDir := filepath.Join(dir, "evildir-src")
	if err := evilDir.WriteSource(srcDir); err != nil {
		t.Fatal(err)
	}

	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", Requires: []string{
		"evilgit @ git+" + w.gh.URL() + "/mallory/evilgit.git@v0.1"}}})
	prefix := prefixOf(w.python)
	for _, c := range []struct {
		name, mark, chain string
		reqs              []string
	}{
		{"git dependency of a verified release", mark("git"), "demo 1.0.0", []string{w.req("v1.0.0")}},
		{"local sdist line", mark("sdist"), "", []string{"evilsdist @ file://" + sdistPath}},
		{"local sdist path", mark("sdist"), "", []string{"-r", sdistPath}},
		{"local source directory", mark("dir"), "", []string{"-r", srcDir}},
	} {
		for _, dry := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/dry-run=%v", c.name, dry), func(t *testing.T) {
				before := prefixState(t, prefix)
				o := InstallOptions{Requirements: c.reqs, DryRun: dry}
				if c.reqs[0] == "-r" {
					// A requirements file line naming a local file or
					// directory, as pip reads it.
					f := filepath.Join(t.TempDir(), "requirements.txt")
					os.WriteFile(f, []byte(c.reqs[1]+"\n"), 0o644)
					o.Requirements, o.Files = nil, []string{f}
				}
				_, err := w.install(t, o)
				var re *RefusedError
				var pe *pip.Error
				if err == nil || errors.As(err, &pe) || c.chain != "" && (!errors.As(err, &re) || !strings.Contains(err.Error(), "nothing was downloaded or built") || !strings.Contains(err.Error(), c.chain)) {
					t.Fatalf("err = %v\n%s", err, w.out.String())
				}
				noFile(t, c.mark, c.name)
				sameState(t, before, prefixState(t, prefix))
			})
		}
	}
}

// The install step reads only pipguard's local files: an index that is
// stopped after the resolution changes nothing, and neither does one that
// answers differently from then on.
func TestTheInstallNeedsNoIndex(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", Requires: []string{"plain>=1"}}})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0"})
	hookAfterResolve = ix.Close
	t.Cleanup(func() { hookAfterResolve = nil })
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if v := w.python3(t, "import demo, plain; print(demo.VERSION, plain.VERSION)"); v != "1.0.0 1.0" {
		t.Errorf("installed %s", v)
	}
	for _, l := range rep.Lock {
		if l.SHA256 == "" || l.Size == 0 || l.Files == 0 {
			t.Errorf("lock item %+v: no digest, size or planned files", l)
		}
	}
}

// Wheels that would write what they do not own are refused before pip
// runs (exit 3), naming both sides: the venv's own pyvenv.cfg, another
// distribution's module, pip's own script, the guarded package's files
// from a dependency of the same lock.
func TestConflictingWheelsAreRefusedBeforePip(t *testing.T) {
	w := newInstallWorld(t)
	w.preinstall(t, pkgtest.Project{Name: "other", Version: "1.0"})
	w.publish(t, githubtest.Publish{})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "cfg", Version: "1.0", Files: map[string]string{"cfg-1.0.data/data/pyvenv.cfg": "home = /evil\n"}})
	ix.Add(pkgtest.Project{Name: "shadow", Version: "1.0", Files: map[string]string{"other/__init__.py": "BACKDOOR = 1\n"}})
	ix.Add(pkgtest.Project{Name: "zzz", Version: "1.0", Files: map[string]string{"demo/__init__.py": "VERSION = 'evil'\n"}})
	ix.Add(pkgtest.Project{Name: "pipper", Version: "1.0", Files: map[string]string{"pipper-1.0.dist-info/entry_points.txt": "[console_scripts]\npip = pipper:main\n"}})
	prefix := prefixOf(w.python)
	for _, c := range []struct{ name, req, want string }{
		{"pyvenv.cfg", "cfg==1.0", "pyvenv.cfg"},
		{"another distribution's module", "shadow==1.0", "other/__init__.py"},
		{"the guarded package's files", "zzz==1.0", "demo/__init__.py"},
		{"pip's own script", "pipper==1.0", filepath.Join("bin", "pip")},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := prefixState(t, prefix)
			_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), c.req}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
			var ce *ConflictError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\n%s", err, w.out.String())
			}
			if strings.Contains(w.out.String(), "Successfully installed") {
				t.Error("pip ran")
			}
			sameState(t, before, prefixState(t, prefix))
		})
	}
}

// Wheels whose own files lie are refused before pip runs (exit 4): one
// that ships direct_url.json and a receipt to pass for verified, one whose
// RECORD lists nothing, one whose console script pip would reject half way.
func TestLyingWheelsAreRefusedBeforePip(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	links := t.TempDir()
	di := "liar-1.0.dist-info/"
	base := map[string]string{"liar/__init__.py": "X = 1\n", di + "METADATA": "Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n", di + "WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
	withRecord := func(extra map[string]string) []byte {
		files := map[string]string{}
		for k, v := range base {
			files[k] = v
		}
		for k, v := range extra {
			files[k] = v
		}
		var rec strings.Builder
		for _, n := range sortedKeys(files) {
			sum := sha256.Sum256([]byte(files[n]))
			fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", n, b64(sum[:]), len(files[n]))
		}
		files[di+"RECORD"] = rec.String() + di + "RECORD,,\n"
		return rawWheel(t, files)
	}
	prefix := prefixOf(w.python)
	for _, c := range []struct {
		name  string
		wheel []byte
		want  string
	}{
		{"ships its own evidence", withRecord(map[string]string{di + "direct_url.json": `{"url": "file:///x.whl", "archive_info": {}}`, di + "pipguard-receipt.json": "{}"}), "direct_url.json"},
		{"RECORD lists nothing", rawWheel(t, map[string]string{"liar/__init__.py": "X = 1\n", "other/__init__.py": "BACKDOOR = 1\n", di + "METADATA": base[di+"METADATA"], di + "WHEEL": base[di+"WHEEL"], di + "RECORD": ""}), "RECORD"},
		{"console script without a callable", withRecord(map[string]string{di + "entry_points.txt": "[console_scripts]\nliar = liar\n"}), "liar"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(links, "liar-1.0-py3-none-any.whl"), c.wheel, 0o644)
			before := prefixState(t, prefix)
			_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "liar==1.0"}, PipArgs: []string{"--find-links", links}})
			var we *WheelError
			if !errors.As(err, &we) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\n%s", err, w.out.String())
			}
			sameState(t, before, prefixState(t, prefix))
		})
	}
}

// A pip that fails after writing files, leaving no RECORD behind for what
// it wrote, is rolled back by the plan: the whole prefix comes back, the
// upgrade's old version included.
func TestRollbackFollowsThePlanNotRECORD(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.preinstall(t, pkgtest.Project{Name: "demo", Version: "0.9"})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"plain/deep/er/x.py": "X = 1\n", "plain-1.0.data/data/share/x.txt": "x\n"}})
	w.interpose(t, `for rec in glob.glob(os.path.join(SITE, "demo-*.dist-info", "RECORD")) + glob.glob(os.path.join(SITE, "plain-*.dist-info", "RECORD")):
    os.remove(rec)
status = 1`)
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	var pe *pip.Error
	if !errors.As(err, &pe) || !rep.RolledBack {
		t.Fatalf("err = %v, rolled back %v\n%s", err, rep.RolledBack, w.out.String())
	}
	sameState(t, before, prefixState(t, prefix))

	// A pip that also changes what no wheel of the lock writes (another
	// distribution's RECORD) is a rollback that could not restore it, and
	// says so.
	w.interpose(t, `os.remove(glob.glob(os.path.join(SITE, "setuptools-*.dist-info", "RECORD"))[0])
status = 1`)
	rep, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "plain==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	var rbe *RollbackError
	if !errors.As(err, &rbe) || rep.RolledBack || !strings.Contains(err.Error(), "setuptools") || !strings.Contains(err.Error(), "could not restore it") {
		t.Fatalf("err = %v, rolled back %v", err, rep.RolledBack)
	}
}

// An upgrade interrupted while pip writes a many-file wheel comes back
// byte for byte: every path the plan could create is removed, whatever pip
// got to write and whatever any RECORD says.
func TestInterruptedBigUpgradeIsRestored(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 30,000 files")
	}
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.preinstall(t, pkgtest.Project{Name: "big", Version: "1.0"})
	files := map[string]string{}
	for i := 0; i < 30000; i++ {
		files[fmt.Sprintf("big/m%02d/f%05d.py", i%100, i)] = fmt.Sprintf("N = %d\n", i)
	}
	links := t.TempDir()
	big := pkgtest.Project{Name: "big", Version: "2.0", Files: files}
	os.WriteFile(filepath.Join(links, big.WheelName()), big.Wheel(), 0o644)
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	pkg := filepath.Join(w.site, "big")
	go func() {
		// Interrupt once pip is part way through the new files.
		for ctx.Err() == nil {
			if n, _ := filepath.Glob(filepath.Join(pkg, "m*", "*.py")); len(n) > 3000 {
				cancel(errors.New("test signal"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	o := InstallOptions{Requirements: []string{w.req("v1.0.0"), "big==2.0"}, PipArgs: []string{"--find-links", links}}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	rep, err := Install(ctx, w.cfg, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.RollbackErr != nil || !rep.RolledBack {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	sameState(t, before, prefixState(t, prefix))
}

// What pip check reports after the locked install is a warning by default
// and, under dependency_conflicts = "error", a failure that rolls back.
func TestDependencyConflictsAreReported(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	w.preinstall(t, pkgtest.Project{Name: "alpha", Version: "1.0"}, pkgtest.Project{Name: "beta", Version: "1.0", Requires: []string{"alpha==1.0"}})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "alpha", Version: "2.0"})
	args := []string{"--index-url", ix.SimpleURL()}
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "alpha==2.0"}, PipArgs: args, Rules: mustPolicy(t, `dependency_conflicts = "error"`)})
	var de *DependencyError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "beta 1.0 has requirement alpha==1.0, but you have alpha 2.0") {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	sameState(t, before, prefixState(t, prefix))
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "alpha==2.0"}, PipArgs: args})
	if err != nil || len(rep.DependencyConflicts) != 1 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "beta 1.0 has requirement alpha==1.0") {
		t.Fatalf("err = %v, conflicts %v, warnings %v", err, rep.DependencyConflicts, rep.Warnings)
	}
}

// A distribution with the verified name and version but other files is not
// "already verified": its files are compared with the verified wheel, and
// it is reinstalled.
func TestAlreadyInstalledMeansTheSameBytes(t *testing.T) {
	w := newInstallWorld(t)
	pub := w.publish(t, githubtest.Publish{})
	// An impostor with the verified wheel's record: the same name and
	// version, and a direct_url.json that names the verified digest.
	impostor := pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/evil.py": "EVIL = 1\n"}}
	w.preinstall(t, impostor)
	di := filepath.Join(w.site, "demo-1.0.0.dist-info")
	os.WriteFile(filepath.Join(di, "direct_url.json"), []byte(`{"url": "file:///x/demo-1.0.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "`+strings.TrimPrefix(pub.Wheel.Digest(), "sha256:")+`"}}}`), 0o644)
	rep, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	if len(rep.Installed) != 1 || rep.Installed[0].Outcome != "reinstalled" {
		t.Fatalf("installed %+v", rep.Installed)
	}
	if _, err := os.Stat(filepath.Join(w.site, "demo", "evil.py")); err == nil {
		t.Error("the impostor's file is still there")
	}
}

// PIP_PYTHON (pip's --python in its environment) would make another
// interpreter resolve and install: refused before pip runs.
func TestPipPythonIsRefused(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	other := pkgtest.NewVenv(t)
	t.Setenv("PIP_PYTHON", other)
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
	var oe *pip.OptionsError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "python") {
		t.Fatalf("err = %v", err)
	}
	sameState(t, before, prefixState(t, prefix))
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// A guarded source's build requirements are locked: resolved once (wheels
// only), hashed by pipguard, unpacked into a private build environment,
// and never fetched again. An index that serves another buildhelper the
// second time cannot change the built package's code. Both for a verified
// sdist (--allow-sdist, no wheel fits) and for --from git; the receipt
// records the locked build requirements.
func TestBuildRequirementsAreLocked(t *testing.T) {
	for _, from := range []From{FromRelease, FromGit} {
		t.Run(string(from), func(t *testing.T) {
			w := newInstallWorld(t)
			// The release's wheel fits no interpreter here, so
			// --allow-sdist takes the sdist.
			w.publish(t, githubtest.Publish{WheelName: "demo-1.0.0-cp39-cp39-win_amd64.whl", Project: pkgtest.Project{Name: "demo", Version: "1.0.0",
				BuildRequires: []string{"buildhelper==1.0"},
				BuildHook:     "import buildhelper, os\nopen(os.path.join(_module(), '__init__.py'), 'a').write('HELPER = %r\\n' % buildhelper.VALUE)\n"}})
			ix := pkgtest.NewIndex(t)
			good := pkgtest.Project{Name: "buildhelper", Version: "1.0", Files: map[string]string{"buildhelper/__init__.py": "VALUE = 'good'\n"}}
			ix.Add(good)
			ix.OnRequest = func(path string, n int) {
				if path == "/simple/buildhelper/" && n == 2 {
					ix.Replace(pkgtest.Project{Name: "buildhelper", Version: "1.0", Files: map[string]string{"buildhelper/__init__.py": "VALUE = 'evil'\n"}})
				}
			}
			o := InstallOptions{Requirements: []string{w.req("v1.0.0")}, PipArgs: []string{"--index-url", ix.SimpleURL()}, From: from, AllowSdist: true}
			rep, err := w.install(t, o)
			if err != nil {
				t.Fatalf("%v\n%s", err, w.out.String())
			}
			if v := w.python3(t, "import demo; print(demo.HELPER)"); v != "good" {
				t.Errorf("the build used buildhelper %s", v)
			}
			want := "buildhelper==1.0 sha256:" + hexSHA256(good.Wheel())
			if g := rep.Guarded[0]; !g.Built || len(g.BuildRequirements) != 1 || g.BuildRequirements[0] != want {
				t.Errorf("built %v with %v, want %s", g.Built, g.BuildRequirements, want)
			}
			dists, _ := pep610.Find(w.site, "demo")
			key, _ := pep610.LoadReceiptKey(prefixOf(w.python), false)
			if r, err := dists[0].Receipt(key); err != nil || !r.Built || len(r.BuildRequirements) != 1 || r.BuildRequirements[0] != want {
				t.Errorf("receipt %+v %v", r, err)
			}

			// A build requirement that cannot be locked (no wheel on the
			// index) is refused, and nothing changes.
			w2 := newInstallWorld(t)
			w2.publish(t, githubtest.Publish{WheelName: "demo-1.0.0-cp39-cp39-win_amd64.whl", Project: pkgtest.Project{Name: "demo", Version: "1.0.0", BuildRequires: []string{"nowhere==1.0"}}})
			prefix := prefixOf(w2.python)
			before := prefixState(t, prefix)
			o.Requirements = []string{w2.req("v1.0.0")}
			_, err = w2.install(t, o)
			var be *BuildError
			if !errors.As(err, &be) || !strings.Contains(be.Hint(), "build requirements must be wheels") {
				t.Fatalf("err = %v", err)
			}
			sameState(t, before, prefixState(t, prefix))
		})
	}
}

// An index requirement pinned by hash is "already installed" only if the
// installed files are the pinned file's: an impostor of the same name and
// version is reinstalled; the genuine one is left alone.
func TestSatisfiedHashPinMeansTheSameBytes(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	real := pkgtest.Project{Name: "plain", Version: "1.0"}
	ix := pkgtest.NewIndex(t)
	ix.Add(real)
	w.preinstall(t, pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"plain/evil.py": "EVIL = 1\n"}})
	reqs := filepath.Join(t.TempDir(), "requirements.txt")
	os.WriteFile(reqs, []byte(w.req("v1.0.0")+"\nplain==1.0 --hash=sha256:"+hexSHA256(real.Wheel())+"\n"), 0o644)
	o := InstallOptions{Files: []string{reqs}, PipArgs: []string{"--index-url", ix.SimpleURL()}}
	rep, err := w.install(t, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	reason := ""
	for _, l := range rep.Lock {
		if l.Name == "plain" {
			reason = l.Reason
		}
	}
	if !strings.Contains(reason, "not the pinned file") {
		t.Errorf("plain not relocked: %+v", rep.Lock)
	}
	if _, err := os.Stat(filepath.Join(w.site, "plain", "evil.py")); err == nil {
		t.Error("the impostor's file is still there")
	}
	// Now the genuine file is installed: nothing to do.
	rep, err = w.install(t, o)
	if err != nil || len(rep.Lock) != 0 {
		t.Errorf("second run: %v, lock %+v", err, rep.Lock)
	}
}
