package layout_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// corpus is the differential test's wheels: every class of path pip maps.
// broken lists the .py members that do not compile (no .pyc expected).
func corpus() (specs []pkgtest.WheelSpec, broken map[string]bool) {
	broken = map[string]bool{"alpha/broken.py": true}
	specs = []pkgtest.WheelSpec{
		{Name: "alpha", Version: "1.0", Members: []member{
			{Name: "alpha/__init__.py", Body: "X = 1\n"},
			{Name: "alpha/sub/__init__.py", Body: ""},
			{Name: "alpha/sub/deep/mod.py", Body: "def f():\n    return 2\n"},
			{Name: "alpha/data.json", Body: "{}\n"},
			{Name: "alpha/README", Body: "read me\n"},
			{Name: "alpha/a.b.py", Body: "Y = 3\n"},
			{Name: "alpha/.py", Body: "Z = 4\n"},
			{Name: "alpha/UPPER.PY", Body: "U = 5\n"},
			{Name: "alpha/broken.py", Body: "def (:\n"},
			{Name: "alpha/tool.sh", Body: "#!/bin/sh\necho hi\n", Mode: 0o100755},
			{Name: "alpha/mode644.txt", Body: "x", Mode: 0o100644},
			{Name: "alpha/bare755.txt", Body: "x", Mode: 0o755}, // no S_IFREG: pip does not make it executable
			{Name: "alpha/empty.txt", Body: "", Store: true},
			{Name: "alpha_top.py", Body: "T = 1\n"},
			{Name: "alpha/", Body: ""},
		}},
		{Name: "Beta_Pkg", Version: "0.1.post1", Platlib: true, Members: []member{
			{Name: "beta_pkg/__init__.py", Body: ""},
			{Name: "Beta_Pkg-0.1.post1.data/purelib/beta_extra.py", Body: "E = 1\n"},
			{Name: "Beta_Pkg-0.1.post1.data/platlib/beta_plat/x.py", Body: "P = 1\n"},
			{Name: "Beta_Pkg-0.1.post1.data/data/share/beta/data.txt", Body: "data\n"},
			{Name: "Beta_Pkg-0.1.post1.data/data/share/beta/tool.py", Body: "S = 1\n"},
			{Name: "Beta_Pkg-0.1.post1.data/headers/beta.h", Body: "#define BETA 1\n"},
			{Name: "Beta_Pkg-0.1.post1.data/headers/sub/inner.h", Body: "#define INNER 1\n"},
			{Name: "Beta_Pkg-0.1.post1.data/scripts/beta-run", Body: "#!python\nprint('run')\n", Mode: 0o100755},
			{Name: "Beta_Pkg-0.1.post1.data/scripts/beta-pyw", Body: "#!pythonw -u\nprint('w')\n"},
			{Name: "Beta_Pkg-0.1.post1.data/scripts/beta-sh", Body: "#!/bin/sh\necho sh\n", Mode: 0o100755},
			{Name: "Beta_Pkg-0.1.post1.data/scripts/beta-noline", Body: "#!python"},
			{Name: "Beta_Pkg-0.1.post1.data/scripts/beta_script.py", Body: "#!python\nprint('py')\n"},
			{Name: "Beta_Pkg-0.1.post1.data/scripts/sub/nested", Body: "no shebang\n"},
		}},
		{Name: "gamma.Dots", Version: "2.0.0", DistInfo: "gamma_dots-2.0.dist-info",
			EntryPoints: "[console_scripts]\ngamma = gamma:main\ngamma-two = gamma.cli:two\n[gui_scripts]\ngamma-gui = gamma:gui\n",
			Members: []member{
				{Name: "gamma/__init__.py", Body: "def main(): pass\ndef gui(): pass\n"},
				{Name: "gamma/cli.py", Body: "def two(): pass\n"},
				{Name: "gamma.Dots-2.0.0.data/scripts/gamma", Body: "#!python\nsetuptools wrapper\n"},
				{Name: "gamma.Dots-2.0.0.data/scripts/gamma-script.py", Body: "wrapper\n"},
				{Name: "gamma.Dots-2.0.0.data/scripts/GAMMA-GUI.EXE"[:0] + "gamma.Dots-2.0.0.data/scripts/gamma-gui.EXE", Body: "MZ"},
				{Name: "gamma.Dots-2.0.0.data/scripts/gamma-three", Body: "#!python\nkept\n"},
			}},
		{Name: "epsilon", Version: "1.0", Members: []member{
			{Name: "epsilon.py", Body: "import sys\n"},
			{Name: "epsilon-1.0.dist-info/top_level.txt", Body: "epsilon\n"},
			{Name: "epsilon-1.0.dist-info/licenses/LICENSE", Body: "MIT\n"},
			{Name: "epsilon-1.0.dist-info/hook.py", Body: "H = 1\n"},
			{Name: "epsilon-1.0.dist-info/RECORD.jws", Body: "{}"},
			{Name: "epsilon-1.0.data/data/epsilon.cfg", Body: "[x]\n"},
		}},
		{Name: "empty_dist", Version: "3"},
		// Last: its "pip" console script overwrites the venv's bin/pip*.
		{Name: "delta", Version: "1.0",
			EntryPoints: "[console_scripts]\npip = delta:main\npip3.8 = delta:main\npip4 = delta:main\neasy_install = delta:ez\neasy_install-2.7 = delta:ez\ndelta = delta:main\n",
			Members:     []member{{Name: "delta.py", Body: "def main(): pass\ndef ez(): pass\n"}}},
	}
	return specs, broken
}

// pipEnv is the environment pip runs in: no pip configuration from the
// machine, no bytecode for pip's own modules (so that only what the wheel
// installs changes), no ENSUREPIP_OPTIONS.
func pipEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PIP_") || strings.HasPrefix(k, "PYTHON") || k == "ENSUREPIP_OPTIONS" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1", "PIP_CONFIG_FILE=/dev/null")
}

func schemeOf(t *testing.T, python, name string) layout.Scheme {
	t.Helper()
	cmd := exec.Command(python, "-c", layout.SchemeProgram, name)
	cmd.Env = pipEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scheme: %v", err)
	}
	var s struct {
		Purelib, Platlib, Scripts, Data, Headers string
		CacheTag                                 string `json:"cache_tag"`
		PythonVersion                            string `json:"python_version"`
		Executable                               string
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("scheme %s: %v", out, err)
	}
	return layout.Scheme{Purelib: s.Purelib, Platlib: s.Platlib, Scripts: s.Scripts, Data: s.Data, Headers: s.Headers,
		CacheTag: s.CacheTag, PythonVersion: s.PythonVersion, Executable: s.Executable}
}

func pipInstall(t *testing.T, python string, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-m", "pip", "install", "--no-index", "--no-deps", "-q"}, args...)...)
	cmd.Env = pipEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip install %v: %v\n%s", args, err, out)
	}
}

// venvWith makes a venv with another interpreter (and the pip its
// ensurepip bundles).
func venvWith(t *testing.T, interp string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(interp, "-m", "venv", dir).CombinedOutput(); err != nil {
		t.Fatalf("venv: %v\n%s", err, out)
	}
	return filepath.Join(dir, "bin", "python")
}

func pipVersion(t *testing.T, python string) string {
	out, err := exec.Command(python, "-c", "import pip; print(pip.__version__)").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestPlanMatchesPip is the differential test: each wheel of the corpus is
// planned, then installed by real pip into a venv, and the files that
// changed anywhere in the venv's prefix are compared with the plan; then
// Check must find nothing, and must find every mutation made after.
func TestPlanMatchesPip(t *testing.T) {
	t.Run("pip-23", func(t *testing.T) {
		differential(t, pkgtest.NewVenv(t), nil)
	})
	t.Run("pip-23-no-compile", func(t *testing.T) {
		differential(t, pkgtest.NewVenv(t), []string{"--no-compile"})
	})
	t.Run("pip-24.2-python-3.13", func(t *testing.T) {
		out, err := exec.Command("pyenv", "root").Output()
		interp := filepath.Join(strings.TrimSpace(string(out)), "versions", "3.13.0", "bin", "python3.13")
		if _, serr := os.Stat(interp); err != nil || serr != nil {
			t.Skipf("no Python 3.13 from pyenv (%v %v)", err, serr)
		}
		differential(t, venvWith(t, interp), nil)
	})
}

func differential(t *testing.T, python string, pipArgs []string) {
	prefix := filepath.Dir(filepath.Dir(python))
	t.Logf("pip %s in %s", pipVersion(t, python), prefix)
	specs, broken := corpus()
	dir := t.TempDir()
	var plans []*layout.Plan
	compared := 0
	for _, spec := range specs {
		path := spec.Write(t, dir)
		w, err := layout.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", spec.Name, err)
		}
		s := schemeOf(t, python, w.SchemeName())
		if len(pipArgs) > 0 && pipArgs[0] == "--no-compile" {
			s.CacheTag = ""
		}
		plan, err := layout.PlanWheel(w, s, layout.PlanOptions{Direct: true, Requested: true})
		if err != nil {
			t.Fatalf("%s: %v", spec.Name, err)
		}
		before, err := layout.Survey(prefix)
		if err != nil {
			t.Fatal(err)
		}
		pipInstall(t, python, append(append([]string(nil), pipArgs...), path)...)
		after, err := layout.Survey(prefix)
		if err != nil {
			t.Fatal(err)
		}
		planned := map[string]layout.File{}
		for _, f := range plan.Files {
			planned[f.Path] = f
		}
		dirs := map[string]bool{}
		for _, d := range plan.Dirs {
			dirs[d] = true
		}
		seen := map[string]bool{}
		for _, p := range layout.Changed(before, after) {
			fi, err := os.Lstat(p)
			switch {
			case err != nil:
				t.Errorf("%s: pip removed %s", spec.Name, p)
			case fi.IsDir():
				if !dirs[p] {
					t.Errorf("%s: pip created directory %s, not in Plan.Dirs", spec.Name, p)
				}
			default:
				if _, ok := planned[p]; !ok {
					t.Errorf("%s: pip wrote %s, not planned", spec.Name, p)
				}
				seen[p] = true
				compared++
			}
		}
		for _, f := range plan.Files {
			if seen[f.Path] {
				continue
			}
			if f.Kind == layout.Bytecode && (broken[f.Member] || s.CacheTag == "") {
				continue
			}
			t.Errorf("%s: planned %s %s, pip did not write it", spec.Name, f.Kind, f.Path)
		}
		for _, u := range plan.Unwritten {
			if _, err := os.Lstat(u); err == nil {
				t.Errorf("%s: %s exists, planned as unwritten", spec.Name, u)
			}
		}
		for _, p := range layout.Check([]*layout.Plan{plan}) {
			t.Errorf("%s: Check: %s", spec.Name, p)
		}
		plans = append(plans, plan)
	}
	t.Logf("%d wheels, %d files pip wrote compared with %d planned", len(specs), compared, countFiles(plans))
	if testing.Verbose() {
		for _, p := range plans {
			for _, f := range p.Files {
				rel, _ := filepath.Rel(prefix, f.Path)
				t.Logf("%s %-9s %s", p.Name, f.Kind, rel)
			}
		}
	}
	if len(layout.Check(plans)) != 0 {
		t.Error("Check of all plans together reports problems")
	}
	mutate(t, plans)
}

func countFiles(plans []*layout.Plan) int {
	n := 0
	for _, p := range plans {
		n += len(p.Files)
	}
	return n
}

func planOf(t *testing.T, plans []*layout.Plan, name string) *layout.Plan {
	for _, p := range plans {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plan %s", name)
	return nil
}

func fileOf(t *testing.T, p *layout.Plan, suffix string) string {
	for _, f := range p.Files {
		if strings.HasSuffix(f.Path, suffix) {
			return f.Path
		}
	}
	t.Fatalf("%s: no file *%s", p.Name, suffix)
	return ""
}

// mutate changes the disk in every way Check must see and checks it does.
func mutate(t *testing.T, plans []*layout.Plan) {
	alpha, beta, gamma := planOf(t, plans, "alpha"), planOf(t, plans, "beta-pkg"), planOf(t, plans, "gamma-dots")
	want := map[string]string{} // path -> words of the Why
	appendTo := func(p, s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	// A copied file's content, same size.
	mod := fileOf(t, alpha, "alpha/sub/deep/mod.py")
	os.WriteFile(mod, []byte("def f():\n    return 3\n"), 0o644)
	want[mod] = "content differs"
	// A copied file's size.
	readme := fileOf(t, alpha, "alpha/README")
	appendTo(readme, "!")
	want[readme] = "size differs"
	// Execute bit.
	init := fileOf(t, alpha, "alpha/__init__.py")
	os.Chmod(init, 0o755)
	want[init] = "execute bits"
	// A file added to the .dist-info.
	extra := filepath.Join(alpha.DistInfo, "extra")
	os.WriteFile(extra, nil, 0o644)
	want[extra] = "unplanned file"
	// An unplanned RECORD row.
	appendTo(filepath.Join(alpha.DistInfo, "RECORD"), "../../../etc/ghost,,\n")
	want[filepath.Clean(filepath.Join(filepath.Dir(alpha.DistInfo), "../../../etc/ghost"))] = "RECORD lists a path the plan does not write"
	// A rewritten script changed after its first line, and one whose
	// first line is no longer a #! line.
	run := fileOf(t, beta, "bin/beta-run")
	appendTo(run, "evil()\n")
	want[run] = "after its first line"
	py := fileOf(t, beta, "bin/beta_script.py")
	os.WriteFile(py, []byte("print('py')\n"), 0o644)
	want[py] = "first line"
	// A script pip must leave alone, changed in its first line.
	sh := fileOf(t, beta, "bin/beta-sh")
	os.WriteFile(sh, []byte("#!/bin/zz\necho sh\n"), 0o755)
	want[sh] = "content differs"
	// A generated script removed; one replaced by a symlink.
	two := fileOf(t, gamma, "bin/gamma-two")
	os.Remove(two)
	want[two] = "missing"
	g := fileOf(t, gamma, "bin/gamma")
	os.Remove(g)
	os.Symlink("/bin/sh", g)
	want[g] = "not a regular file"
	// A skipped wrapper that exists.
	u := gamma.Unwritten[0]
	os.MkdirAll(filepath.Dir(u), 0o755)
	os.WriteFile(u, nil, 0o644)
	want[u] = "pip skips"

	got := map[string][]string{}
	for _, p := range layout.Check(plans) {
		got[p.Path] = append(got[p.Path], p.Why)
	}
	for p, w := range want {
		ok := false
		for _, why := range got[p] {
			ok = ok || strings.Contains(why, w)
		}
		if !ok {
			t.Errorf("Check did not report %q for %s (got %q)", w, p, got[p])
		}
		delete(got, p)
	}
	var rest []string
	for p, w := range got {
		rest = append(rest, p+": "+strings.Join(w, "; "))
	}
	sort.Strings(rest)
	if len(rest) > 0 {
		t.Errorf("Check reported more than the mutations:\n%s", strings.Join(rest, "\n"))
	}
}

func pipCmd(python string, args ...string) *exec.Cmd {
	cmd := exec.Command(python, append([]string{"-m", "pip"}, args...)...)
	cmd.Env = pipEnv()
	return cmd
}
