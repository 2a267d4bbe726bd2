package pip

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// Review 7c: ways around review 7b's fixes.

// zipOf is a zip archive of files (name -> content).
func zipOf(t *testing.T, files map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for n, c := range files {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(c))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Review 7c, finding 1: every CPython puts PREFIX/lib/pythonXY.zip on
// sys.path, ahead of PREFIX/lib/pythonX.Y, whether or not it exists (an
// embedded or frozen distribution's standard library lives there; a pyenv,
// Docker /usr/local or conda base interpreter has none). The probe's
// stdlib_dirs keeps only the sys.path entries that are directories, so the
// absent zip is no "interpreter's own library directory", and
// PREFIX/lib/pythonXY.zip is in none of the reported ones: a non-venv
// interpreter's data scheme (PREFIX) lets NAME.data/data/lib/pythonXY.zip
// create it, as a zip file or as a directory (zipimport refuses a
// directory, the path finder's FileFinder then takes it). Every later
// Python process, the driver included, imports from it ahead of the
// standard library: _NothingFromSiteButPip trusts it as "not a site
// directory", so packaging's `import _manylinux` runs it (and a json/ or
// encodings/ in it would replace the standard library's for every
// process).
func TestAttackDataSchemeStdlibZipOnSysPath(t *testing.T) {
	isolatePip(t)
	for _, form := range []string{"zip-file", "directory"} {
		t.Run(form, func(t *testing.T) {
			python := nonVenvPython(t, "python3")
			xy := strings.TrimPrefix(filepath.Base(python), "python")
			zipName := "python" + strings.Replace(xy, ".", "", 1) + ".zip"
			prefix := filepath.Dir(filepath.Dir(python))
			out, err := exec.Command(python, "-I", "-c", "import sys; print('\\n'.join(sys.path))").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), filepath.Join(prefix, "lib", zipName)+"\n") {
				t.Skipf("%s is not on sys.path: %s", zipName, out)
			}
			ran := filepath.Join(t.TempDir(), "the-zip-ran")
			files := map[string]string{}
			if form == "zip-file" {
				files["innocent-1.0.data/data/lib/"+zipName] = zipOf(t, map[string]string{"_manylinux.py": hookPayload(ran)})
			} else {
				files["innocent-1.0.data/data/lib/"+zipName+"/_manylinux.py"] = hookPayload(ran)
			}
			hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: files}
			hw := writeWheel(t, python, hook)
			r := planRefusals(t, python, hw, "innocent")
			if len(r) > 0 {
				t.Logf("the plan refuses: %v", r)
				return
			}
			t.Errorf("pipguard's plan lets a wheel create %s/lib/%s (%s), an entry of sys.path ahead of the standard library", prefix, zipName, form)
			pipInstallWheel(t, python, hw)
			if _, err := os.Stat(filepath.Join(prefix, "lib", zipName)); err != nil {
				t.Fatalf("pip did not install it: %v", err)
			}
			heldInstallHolds(t, python, false, ran, "the environment's lib/"+zipName+" (a data file)")
		})
	}
}

// Review 7c, finding 2: review 7b's shadow fix counts a .pyc a wheel ships
// as a module "wherever it is, __pycache__ included", but the check keys
// a __pycache__ member by the directories above it: pip/__pycache__/X.pyc
// conflicts because pip/ is another distribution's regular package, and
// nothing else does. The module a D/__pycache__/NAME.TAG.pyc stands for is
// D's NAME, and when D is a site directory (a single-file top-level module
// such as six.py, typing_extensions.py) or a namespace package shared with
// the other distribution (google/, azure/), the path belongs to no one
// the check sees (the owners' map skips every __pycache__ path). With the
// owner installed without bytecode (pip --no-compile, uv's default, a
// slimmed image: review 7b's premise), Python's source loader reads the
// unchecked hash-based .pyc in place of the owner's NAME.py: the other
// wheel's code runs as that distribution's module, in every process that
// imports it, and no .pth file (which audit reports) is involved.
func TestAttackBytecodeForAnotherDistsTopLevelModule(t *testing.T) {
	isolatePip(t)
	for _, where := range []string{"top-level", "namespace"} {
		t.Run(where, func(t *testing.T) {
			python := nonVenvPython(t, "python3")
			dir := t.TempDir()
			ran := filepath.Join(dir, "the-bytecode-ran")
			rel, mod := "victimmod.py", "victimmod"
			if where == "namespace" {
				rel, mod = "victimns/mod.py", "victimns.mod"
			}
			victim := pkgtest.Project{Name: "victim", Version: "1.0", Files: map[string]string{rel: "X = 1\n"}}
			vw := writeWheel(t, python, victim)
			if out, err := exec.Command(python, "-m", "pip", "install", "-q", "--no-compile", "--no-index", "--no-deps", "--disable-pip-version-check", vw).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			src := filepath.Join(dir, "src.py")
			pyc := filepath.Join(dir, "out.pyc")
			os.WriteFile(src, []byte("X = 1\nopen("+strconv.Quote(ran)+", 'w').close()\n"), 0o600)
			if out, err := exec.Command(python, "-I", "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)", src, pyc).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			code, _ := os.ReadFile(pyc)
			tag, err := exec.Command(python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)").Output()
			if err != nil {
				t.Fatal(err)
			}
			d, base := filepath.Split(rel)
			member := d + "__pycache__/" + strings.TrimSuffix(base, ".py") + "." + strings.TrimSpace(string(tag)) + ".pyc"
			hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{member: string(code)}}
			hw := writeWheel(t, python, hook)
			if r := planRefusals(t, python, hw, "innocent"); len(r) > 0 {
				t.Logf("the plan refuses: %v", r)
				return
			}
			t.Errorf("pipguard's plan lets a wheel write %s, the bytecode of victim's module %s", member, mod)
			pipInstallWheel(t, python, hw)
			out, err := exec.Command(python, "-I", "-c", "import "+mod).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Errorf("importing victim's %s ran the other wheel's bytecode", mod)
			}
		})
	}
}
