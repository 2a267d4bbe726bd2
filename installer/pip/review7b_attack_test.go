package pip

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// Review 7b: ways around _NothingFromSiteButPip (review 7, finding 1's
// fix). The finder refuses top-level modules found in the site
// directories, and trusts every other sys.path entry as "the standard
// library" and every submodule as its package's. Each test below puts code
// the environment ships into the driver by one of the paths the finder
// trusts, checks that pipguard's own plan would have let a wheel write it
// (so that a wheel pipguard installed is enough, not just one plain pip
// installed), and shows the consequence review 7 showed: the code
// replaces the driver's wait_for_go and pip installs before Go, and Stop
// stops nothing.

// hookPayload is Python that leaves a witness file and releases the hold.
func hookPayload(ran string) string {
	return "open(" + strconv.Quote(ran) + ", 'w').close()\n" +
		"import __main__\n" +
		"if hasattr(__main__, 'wait_for_go'):\n" +
		"    __main__.wait_for_go = lambda: None\n"
}

// planRefusals is what pipguard's plan says of the wheel at path (name
// its distribution) in python's environment, as installer's planPaths
// asks it: the wheel's own refusals and its conflicts with the
// environment. Empty: pipguard would let pip install it.
func planRefusals(t *testing.T, python, path, name string) []string {
	t.Helper()
	s, _ := startSession(t, Options{Python: python})
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	env, err := layout.ReadEnv(info.Site, info.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	w, err := layout.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	sc := info.Scheme(name)
	xy := strings.Join(strings.SplitN(info.Version, ".", 3)[:2], ".")
	pl, err := layout.PlanWheel(w, layout.Scheme{Purelib: sc.Purelib, Platlib: sc.Platlib, Scripts: sc.Scripts, Data: sc.Data, Headers: sc.Headers, CacheTag: sc.CacheTag, PythonVersion: xy, Prefix: info.Prefix, Stdlib: info.Stdlib},
		layout.PlanOptions{Requested: true})
	var re *layout.RefusedError
	if errors.As(err, &re) {
		var out []string
		for _, c := range re.Conflicts {
			out = append(out, c.String())
		}
		return out
	}
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range layout.Conflicts([]*layout.Plan{pl}, env) {
		out = append(out, c.String())
	}
	sort.Strings(out)
	return out
}

// writeWheel writes p's wheel into a temporary directory.
func writeWheel(t *testing.T, python string, p pkgtest.Project) string {
	t.Helper()
	hw := filepath.Join(t.TempDir(), p.WheelName())
	if err := os.WriteFile(hw, p.Wheel(), 0o600); err != nil {
		t.Fatal(err)
	}
	return hw
}

func pipInstallWheel(t *testing.T, python, wheel string) {
	t.Helper()
	if out, err := exec.Command(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--disable-pip-version-check", wheel).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// heldInstallHolds is review 7's check: a held install writes nothing
// before Go, Stop stops it, Go installs; and the witness never appears.
func heldInstallHolds(t *testing.T, python string, separate bool, ran, what string) {
	t.Helper()
	dir := t.TempDir()
	wheels := filepath.Join(dir, "wheels")
	os.MkdirAll(wheels, 0o700)
	p := pkgtest.Project{Name: "heldpkg", Version: "1.0"}
	w := p.Wheel()
	os.WriteFile(filepath.Join(wheels, p.WheelName()), w, 0o600)
	reqs := filepath.Join(dir, "lock.txt")
	os.WriteFile(reqs, []byte("heldpkg==1.0 --hash=sha256:"+sum(w)+"\n"), 0o600)
	s, out := startSession(t, Options{Python: python, Separate: separate})
	info, _ := s.Info()
	before := pkgtest.Snapshot(info.Prefix)
	req := InstallRequest{ReqFile: reqs, Local: true, FindLinks: []string{wheels}, Args: []string{"--isolated", "--no-deps", "--force-reinstall", "--require-hashes", "--only-binary", ":all:"}}
	h, err := s.StartInstall(dir, req)
	if err != nil {
		t.Fatal(err)
	}
	h.Resolved()
	if got := pkgtest.Snapshot(info.Prefix); got != before {
		t.Errorf("pip wrote before Go (the hold was released by %s):\n%s", what, pkgtest.Diff(info.Prefix, before))
	}
	stopErr := h.Stop()
	if got := pkgtest.Snapshot(info.Prefix); got != before {
		t.Errorf("Stop returned %v, and pip had installed anyway:\n%s\n%s", stopErr, pkgtest.Diff(info.Prefix, before), out.String())
	}
	h, err = s.StartInstall(dir, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Go(); err != nil {
		t.Errorf("Go: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(ran); err == nil {
		t.Errorf("%s ran in pipguard's driver", what)
	}
}

// nonVenvPython is an interpreter that is no virtual environment: its
// own prefix (bin/python3.X, lib/python3.X with the standard library,
// lib/python3.X/site-packages with pip), as a pyenv, Docker (/usr/local)
// or conda base interpreter is. Made from base's files (the standard
// library's entries are symbolic links, so a file added to
// lib/python3.X itself lands in the copy).
func nonVenvPython(t *testing.T, base string) string {
	t.Helper()
	out, err := exec.Command(base, "-I", "-c", "import sys, sysconfig; print(sys.executable); print(sysconfig.get_path('stdlib')); print(sysconfig.get_path('purelib')); print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatalf("%s: %v", base, err)
	}
	f := strings.Fields(string(out))
	exe, stdlib, purelib, xy := f[0], f[1], f[2], f[3]
	prefix := filepath.Join(t.TempDir(), "py")
	lib := filepath.Join(prefix, "lib", "python"+xy)
	site := filepath.Join(lib, "site-packages")
	os.MkdirAll(filepath.Join(prefix, "bin"), 0o755)
	os.MkdirAll(site, 0o755)
	if out, err := exec.Command("cp", exe, filepath.Join(prefix, "bin", "python"+xy)).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	entries, _ := os.ReadDir(stdlib)
	for _, e := range entries {
		if e.Name() == "site-packages" || e.Name() == "__pycache__" {
			continue
		}
		os.Symlink(filepath.Join(stdlib, e.Name()), filepath.Join(lib, e.Name()))
	}
	pips, _ := filepath.Glob(filepath.Join(purelib, "pip*"))
	for _, p := range pips {
		if out, err := exec.Command("cp", "-a", p, site).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	python := filepath.Join(prefix, "bin", "python"+xy)
	if out, err := exec.Command(python, "-I", "-c", "import sys, pip; assert sys.prefix == "+strconv.Quote(prefix)+", sys.prefix; assert pip.__file__.startswith("+strconv.Quote(site)+"), pip.__file__").CombinedOutput(); err != nil {
		t.Fatalf("the non-venv interpreter: %v\n%s", err, out)
	}
	return python
}

// Review 7b, finding 1: in an interpreter that is no virtual environment
// (pyenv's, a Docker image's /usr/local, conda's base: pipguard installs
// into any interpreter --python names), the standard library is
// PREFIX/lib/python3.X, and pip's data scheme is PREFIX: a wheel's
// NAME.data/data/lib/python3.X/_manylinux.py lands in the standard
// library's directory. pipguard's plan allows it (the file does not
// exist, no distribution owns it, and it is no site directory's module),
// and the finder trusts every sys.path entry that is not a site directory
// as the standard library's, so packaging's `import _manylinux` runs it
// in the driver of every later pipguard run.
func TestAttackDataSchemeModuleInTheStandardLibrary(t *testing.T) {
	isolatePip(t)
	for _, separate := range []bool{false, true} {
		name := "in-process"
		if separate {
			name = "separate"
		}
		t.Run(name, func(t *testing.T) {
			python := nonVenvPython(t, "python3")
			xy := strings.TrimPrefix(filepath.Base(python), "python")
			ran := filepath.Join(t.TempDir(), "the-module-ran")
			hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{
				"innocent-1.0.data/data/lib/python" + xy + "/_manylinux.py": hookPayload(ran),
			}}
			hw := writeWheel(t, python, hook)
			r := planRefusals(t, python, hw, "innocent")
			if len(r) == 0 {
				t.Errorf("pipguard's plan lets a wheel write %s/lib/python%s/_manylinux.py, a module of the standard library's directory, which the driver imports", filepath.Dir(filepath.Dir(python)), xy)
				pipInstallWheel(t, python, hw)
				heldInstallHolds(t, python, separate, ran, "the environment's lib/python"+xy+"/_manylinux.py (a data file)")
				return
			}
			// A file in the interpreter's own library directory is the
			// interpreter (as a changed os.py would be): the driver runs
			// it, whoever wrote it; pipguard's part is never to write one.
			if !strings.Contains(strings.Join(r, "\n"), "the interpreter's own library directory") {
				t.Errorf("the plan refuses, but not for the standard library: %v", r)
			}
			t.Logf("the plan refuses: %v", r)
		})
	}
}

// Review 7b, finding 2: the finder stops at top-level modules; a
// submodule "is found in its package's own directories", and pip's own
// package is the site directory's pip/. Python reads pip's bytecode from
// pip/.../__pycache__/NAME.TAG.pyc (-B stops writes, not reads), and an
// unchecked hash-based .pyc is used without looking at the source at all.
// pip installed without bytecode (pip install --no-compile, as the
// official Docker images install it, uv's default, or __pycache__
// removed to slim an image) leaves those paths free, and pipguard's plan
// lets another wheel write them: its shadow check skips every path under
// __pycache__, and the conflict check only looks at files that exist.
// The wheel's pip/__pycache__/__init__.TAG.pyc then is pip's __init__ in
// the driver. (What plain pip writes into pip's package is pip, for the
// driver as for any Python: the test asks the plan, and shows what its
// acceptance leads to.)
func TestAttackBytecodeInPipsPycache(t *testing.T) {
	isolatePip(t)
	for _, separate := range []bool{false, true} {
		name := "in-process"
		if separate {
			name = "separate"
		}
		t.Run(name, func(t *testing.T) {
			forEachPip(t, func(t *testing.T, python string) {
				site := pkgtest.SitePackages(python)
				// pip without bytecode.
				filepath.WalkDir(filepath.Join(site, "pip"), func(p string, d os.DirEntry, err error) error {
					if err == nil && d.IsDir() && d.Name() == "__pycache__" {
						os.RemoveAll(p)
						return filepath.SkipDir
					}
					return nil
				})
				dir := t.TempDir()
				ran := filepath.Join(dir, "the-bytecode-ran")
				src := filepath.Join(dir, "src.py")
				pyc := filepath.Join(dir, "out.pyc")
				orig, err := os.ReadFile(filepath.Join(site, "pip", "__init__.py"))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(src, append(orig, []byte("\n"+hookPayload(ran))...), 0o600)
				if out, err := exec.Command(python, "-I", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)", src, pyc).CombinedOutput(); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				code, _ := os.ReadFile(pyc)
				tag, err := exec.Command(python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)").Output()
				if err != nil {
					t.Fatal(err)
				}
				hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{
					"pip/__pycache__/__init__." + strings.TrimSpace(string(tag)) + ".pyc": string(code),
				}}
				hw := writeWheel(t, python, hook)
				if r := planRefusals(t, python, hw, "innocent"); len(r) > 0 {
					// A file in pip's own package is pip: the driver runs
					// it, as it runs pip's .py files, whoever wrote it.
					// pipguard's part is not to write it.
					t.Logf("the plan refuses: %v", r)
					return
				}
				t.Errorf("pipguard's plan lets a wheel write bytecode into pip's package (pip/__pycache__/__init__.%s.pyc)", strings.TrimSpace(string(tag)))
				pipInstallWheel(t, python, hw)
				heldInstallHolds(t, python, separate, ran, "bytecode another wheel put in pip's __pycache__")
			})
		})
	}
}

// Review 7b, finding 3: where pip reads the installed distributions with
// pkg_resources (its metadata backend on Python before 3.11, and on any
// Python whose distributor sets importlib.metadata's
// _PIP_USE_IMPORTLIB_METADATA = False), importing pkg_resources activates
// every distribution of the site directories: each package a
// .dist-info's namespace_packages.txt names that is already imported is
// declared a namespace, and pkg_resources' _handle_ns looks for it in
// every sys.path entry with the path importer itself (get_importer,
// find_module: no meta path finder is asked) and runs the portion it finds
// (loader.load_module) in the imported module. A wheel that ships
// json/__init__.py (the standard library's json, which the driver
// imports first) and a namespace_packages.txt naming json has its code
// run in the driver as soon as pip reads the environment (its resolver's
// factory, before the hold). Nothing in the plan refuses either file: no
// distribution owns a top-level json.
func TestAttackPkgResourcesNamespacePortion(t *testing.T) {
	isolatePip(t)
	base := python310(t)
	for _, separate := range []bool{false, true} {
		name := "in-process"
		if separate {
			name = "separate"
		}
		t.Run(name, func(t *testing.T) {
			python := pkgtest.NewVenvWith(t, pkgtest.Pip{Name: "python3.10", Base: base})
			ran := filepath.Join(t.TempDir(), "the-portion-ran")
			hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{
				"innocent-1.0.dist-info/namespace_packages.txt": "json\n",
				"json/__init__.py": hookPayload(ran),
			}}
			hw := writeWheel(t, python, hook)
			// The plan lets it be (a json/ in site-packages is never
			// imported as json, and old pkg_resources-style namespace
			// packages ship namespace_packages.txt): the driver's
			// pkg_resources declares no namespace, so the portion stays
			// inert there, whoever installed it.
			t.Logf("the plan says: %v", planRefusals(t, python, hw, "innocent"))
			pipInstallWheel(t, python, hw)
			heldInstallHolds(t, python, separate, ran, "a namespace portion of json in site-packages")
		})
	}
}

// The driver's inert pkg_resources (finding 3's fix) still shows pip every
// installed distribution: with pip's pkg_resources backend (Python 3.10),
// a requirement an installed distribution satisfies is satisfied (no
// index, no find-links file could satisfy it otherwise), and pip's
// dependency check finds the conflict among installed distributions.
func TestInertPkgResourcesSeesTheEnvironment(t *testing.T) {
	isolatePip(t)
	base := python310(t)
	python := pkgtest.NewVenvWith(t, pkgtest.Pip{Name: "python3.10", Base: base})
	dir := t.TempDir()
	for _, p := range []pkgtest.Project{
		{Name: "alpha", Version: "2.0"},
		{Name: "beta", Version: "1.0", Requires: []string{"alpha==1.0"}},
	} {
		pipInstallWheel(t, python, writeWheel(t, python, p))
	}
	s, out := startSession(t, Options{Python: python})
	reqs := filepath.Join(dir, "requirements.txt")
	os.WriteFile(reqs, []byte("alpha==2.0\nbeta==1.0\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o700)
	rep, err := s.Install(dir, true, reqs, "--no-index", "--find-links", empty, "--no-deps", "--only-binary", ":all:")
	if err != nil {
		t.Fatalf("pip did not see the installed alpha and beta: %v\n%s", err, out.String())
	}
	if len(rep.Install) != 0 {
		t.Errorf("pip would install %+v, which is installed", rep.Install)
	}
	c, err := s.CheckDependencies()
	if err != nil || len(c) != 1 || c[0].Dist != "beta" || c[0].Installed != "2.0" {
		t.Errorf("CheckDependencies = %+v, %v; want beta's alpha==1.0 against the installed 2.0", c, err)
	}
}

// python310 is pyenv's newest Python 3.10 (whose pip reads the
// environment with pkg_resources), or skips the test.
func python310(t *testing.T) string {
	t.Helper()
	root, err := exec.Command("pyenv", "root").Output()
	if err != nil {
		t.Skip("no pyenv")
	}
	m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "versions", "3.10*", "bin", "python3.10"))
	if len(m) == 0 {
		t.Skip("no Python 3.10 (pyenv install 3.10)")
	}
	sort.Strings(m)
	return m[len(m)-1]
}
