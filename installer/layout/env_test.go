package layout_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

func planSpec(t *testing.T, python string, s pkgtest.WheelSpec) *layout.Plan {
	t.Helper()
	w, err := layout.Open(s.Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.PlanWheel(w, schemeOf(t, python, w.SchemeName()), layout.PlanOptions{Direct: true, Requested: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readEnv(t *testing.T, python string) *layout.Env {
	t.Helper()
	env, err := layout.ReadEnv([]string{pkgtest.SitePackages(python)}, filepath.Dir(filepath.Dir(python)))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// conflictsByPath maps each conflicting path to its conflicts' Other and Why.
func conflictsByPath(cs []layout.Conflict) map[string][]layout.Conflict {
	m := map[string][]layout.Conflict{}
	for _, c := range cs {
		m[c.Path] = append(m[c.Path], c)
	}
	return m
}

func wantConflict(t *testing.T, cs []layout.Conflict, path, other, why string) {
	t.Helper()
	for _, c := range conflictsByPath(cs)[path] {
		if c.Other == other && strings.Contains(c.Why, why) {
			return
		}
	}
	t.Errorf("no conflict at %s with Other %q and Why ~ %q; conflicts:\n%s", path, other, why, dump(cs))
}

func dump(cs []layout.Conflict) string {
	var s []string
	for _, c := range cs {
		s = append(s, "  "+c.String()+" [other "+c.Other+"]")
	}
	return strings.Join(s, "\n")
}

func TestConflicts(t *testing.T) {
	python := pkgtest.NewVenv(t)
	prefix := filepath.Dir(filepath.Dir(python))
	site := pkgtest.SitePackages(python)
	dir := t.TempDir()
	// victim is installed by real pip; thief writes its __init__.py.
	victim := pkgtest.WheelSpec{Name: "victim", Version: "1.0", Members: []member{{Name: "victim/__init__.py", Body: "V = 1\n"}}}
	pipInstall(t, python, victim.Write(t, dir))
	os.WriteFile(filepath.Join(site, "sitecustomize.py"), []byte("# the user's\n"), 0o644)
	os.WriteFile(filepath.Join(site, "notadir"), nil, 0o644)
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(site, "dangling.py"))
	env := readEnv(t, python)

	// A wheel writing the environment's pyvenv.cfg is refused by its plan
	// already (whether or not one exists), before any conflict.
	cfgWheel, err := layout.Open(pkgtest.WheelSpec{Name: "cfg", Version: "1", Members: []member{{Name: "cfg-1.data/data/pyvenv.cfg", Body: "home = /evil\n"}}}.Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.PlanWheel(cfgWheel, schemeOf(t, python, cfgWheel.SchemeName()), layout.PlanOptions{Direct: true, Requested: true}); err == nil || !strings.Contains(err.Error(), filepath.Join(prefix, "pyvenv.cfg")) {
		t.Errorf("a wheel writing %s: %v", filepath.Join(prefix, "pyvenv.cfg"), err)
	}
	pip := planSpec(t, python, pkgtest.WheelSpec{Name: "fakepip", Version: "1", EntryPoints: "[console_scripts]\npip = fakepip:main\n", Members: []member{{Name: "fakepip.py", Body: ""}}})
	thief := planSpec(t, python, pkgtest.WheelSpec{Name: "thief", Version: "1", Members: []member{
		{Name: "victim/__init__.py", Body: "stolen\n"},
		{Name: "distutils-precedence.pth", Body: "import os\n"},
		{Name: "sitecustomize.py", Body: "import evil\n"},
		{Name: "pip", Body: "a file where pip's package is\n"},
		{Name: "notadir/x.py", Body: ""},
		{Name: "dangling.py", Body: ""},
	}})
	a := planSpec(t, python, pkgtest.WheelSpec{Name: "twin_a", Version: "1", Members: []member{{Name: "shared.py", Body: "a"}}})
	b := planSpec(t, python, pkgtest.WheelSpec{Name: "twin_b", Version: "1", Members: []member{{Name: "shared.py", Body: "b"}}})
	cs := layout.Conflicts([]*layout.Plan{pip, thief, a, b}, env)

	for _, n := range []string{"pip", "pip3", "pip3.11"} {
		wantConflict(t, cs, filepath.Join(prefix, "bin", n), "pip", "which the lock does not replace")
	}
	wantConflict(t, cs, filepath.Join(site, "victim", "__init__.py"), "victim", "which the lock does not replace")
	wantConflict(t, cs, filepath.Join(site, "distutils-precedence.pth"), "setuptools", "which the lock does not replace")
	wantConflict(t, cs, filepath.Join(site, "sitecustomize.py"), "", "no installed distribution owns it")
	wantConflict(t, cs, filepath.Join(site, "pip"), "", "a directory exists")
	wantConflict(t, cs, filepath.Join(site, "notadir"), "", "a file exists where the wheel needs a directory")
	wantConflict(t, cs, filepath.Join(site, "dangling.py"), "", "dangling symbolic link")
	wantConflict(t, cs, filepath.Join(site, "shared.py"), a.Wheel, "both wheels write it")

	// Replacing victim with a new version writes its files: no conflict.
	v2 := planSpec(t, python, pkgtest.WheelSpec{Name: "Victim", Version: "2.0", Members: []member{{Name: "victim/__init__.py", Body: "V = 2\n"}}})
	if cs := layout.Conflicts([]*layout.Plan{v2}, env); len(cs) != 0 {
		t.Errorf("replacing victim: %s", dump(cs))
	}
	// But another wheel of a lock that also replaces victim may not.
	cs = layout.Conflicts([]*layout.Plan{v2, thief}, env)
	wantConflict(t, cs, filepath.Join(site, "victim", "__init__.py"), v2.Wheel, "both wheels write it")
	thief2 := planSpec(t, python, pkgtest.WheelSpec{Name: "thief", Version: "1", Members: []member{{Name: "victim/__init__.py", Body: "stolen\n"}}})
	v2only := planSpec(t, python, pkgtest.WheelSpec{Name: "victim", Version: "2.0", Members: []member{{Name: "victim2/__init__.py", Body: ""}}})
	cs = layout.Conflicts([]*layout.Plan{v2only, thief2}, env)
	wantConflict(t, cs, filepath.Join(site, "victim", "__init__.py"), "victim", "which the lock also replaces")
	// A plain new wheel in the venv conflicts with nothing.
	if cs := layout.Conflicts([]*layout.Plan{a}, env); len(cs) != 0 {
		t.Errorf("a new wheel: %s", dump(cs))
	}
}

func TestEnvOwner(t *testing.T) {
	python := pkgtest.NewVenv(t)
	prefix := filepath.Dir(filepath.Dir(python))
	site := pkgtest.SitePackages(python)
	env := readEnv(t, python)
	for path, want := range map[string]string{
		filepath.Join(site, "pip", "__init__.py"):                                   "pip",
		filepath.Join(site, "pip", "__pycache__", "__init__.cpython-311.pyc"):       "pip",
		filepath.Join(site, "pip", "__pycache__", "__init__.cpython-311.opt-1.pyc"): "pip",
		filepath.Join(site, "pip-23.2.1.dist-info", "anything"):                     "pip",
		filepath.Join(prefix, "bin", "pip3"):                                        "pip",
		filepath.Join(site, "setuptools", "__init__.py"):                            "setuptools",
		filepath.Join(prefix, "pyvenv.cfg"):                                         "",
		filepath.Join(site, "pip"):                                                  "",
	} {
		got, _ := env.Owner(path)
		if got != want {
			t.Errorf("Owner(%s) = %q, want %q", path, got, want)
		}
	}
}

// TestEnvFilesMatchPipUninstall is a differential test of Env.Files: what
// real pip's uninstall removes, for each wheel of the corpus installed by
// real pip.
func TestEnvFilesMatchPipUninstall(t *testing.T) {
	python := pkgtest.NewVenv(t)
	prefix := filepath.Dir(filepath.Dir(python))
	specs, _ := corpus()
	dir := t.TempDir()
	for _, s := range specs[:len(specs)-1] { // not delta: it replaces bin/pip
		pipInstall(t, python, s.Write(t, dir))
	}
	for _, s := range specs[:len(specs)-1] {
		env := readEnv(t, python)
		name := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(s.Name))
		files := env.Files(name)
		before, _ := layout.Survey(prefix)
		cmd := pipCmd(python, "uninstall", "-y", "-q", s.Name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("uninstall %s: %v\n%s", s.Name, err, out)
		}
		after, _ := layout.Survey(prefix)
		var removed []string
		for _, p := range layout.Changed(before, after) {
			if _, err := os.Lstat(p); err == nil {
				continue // a directory whose entries changed
			}
			if !before.IsDir(p) {
				removed = append(removed, p)
			}
		}
		sort.Strings(removed)
		if strings.Join(removed, "\n") != strings.Join(files, "\n") {
			t.Errorf("%s: pip removed\n  %s\nFiles says\n  %s", s.Name, strings.Join(removed, "\n  "), strings.Join(files, "\n  "))
		}
	}
}
