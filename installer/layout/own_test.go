package layout_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// A scheme as pip's get_scheme gives it for a virtual environment at
// prefix.
func venvScheme(prefix string) layout.Scheme {
	site := filepath.Join(prefix, "lib", "python3.12", "site-packages")
	return layout.Scheme{Purelib: site, Platlib: site, Scripts: filepath.Join(prefix, "bin"), Data: prefix,
		Headers: filepath.Join(prefix, "include", "site", "python3.12", "own"), PythonVersion: "3.12", Prefix: prefix}
}

// pipguard's own directories (.pipguard: the receipt key; .pipguard-*:
// stashes) are refused at any depth of every scheme, and so are the
// environment's pip configuration and its pyvenv.cfg, where audit and
// Python look for them.
func TestPlanRefusesEnvironmentFiles(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "venv")
	s := venvScheme(prefix)
	site := s.Purelib
	for _, c := range []struct{ member, path, why string }{
		{".pipguard/receipt.key", filepath.Join(site, ".pipguard", "receipt.key"), ".pipguard"},
		{"pkg/.PipGuard/receipt.key", filepath.Join(site, "pkg", ".PipGuard", "receipt.key"), ".PipGuard"},
		{".pipguard-stash-1/journal", filepath.Join(site, ".pipguard-stash-1", "journal"), ".pipguard-stash-1"},
		{"own-1.data/data/.pipguard/receipt.key", filepath.Join(prefix, ".pipguard", "receipt.key"), ".pipguard"},
		{"own-1.data/data/lib/python3.12/.pipguard/receipt.key", filepath.Join(prefix, "lib", "python3.12", ".pipguard", "receipt.key"), ".pipguard"},
		{"own-1.data/purelib/.pipguard/receipt.key", filepath.Join(site, ".pipguard", "receipt.key"), ".pipguard"},
		{"own-1.data/scripts/.pipguard/x", filepath.Join(prefix, "bin", ".pipguard", "x"), ".pipguard"},
		{"own-1.data/headers/.pipguard-x.h", filepath.Join(s.Headers, ".pipguard-x.h"), ".pipguard-x.h"},
		{"own-1.data/data/pip.conf", filepath.Join(prefix, "pip.conf"), "pip configuration"},
		{"own-1.data/data/pip.ini", filepath.Join(prefix, "pip.ini"), "pip configuration"},
		{"own-1.data/data/pyvenv.cfg", filepath.Join(prefix, "pyvenv.cfg"), "pyvenv.cfg"},
		{"own-1.data/data/lib/python3.12/pyvenv.cfg", filepath.Join(prefix, "lib", "python3.12", "pyvenv.cfg"), "pyvenv.cfg"},
		{"own-1.data/scripts/pyvenv.cfg", filepath.Join(prefix, "bin", "pyvenv.cfg"), "pyvenv.cfg"},
	} {
		w, err := layout.Open(pkgtest.WheelSpec{Name: "own", Version: "1", Members: []member{{Name: "own/__init__.py", Body: ""}, {Name: c.member, Body: "x"}}}.Write(t, t.TempDir()))
		if err != nil {
			t.Fatalf("%s: %v", c.member, err)
		}
		_, err = layout.PlanWheel(w, s, layout.PlanOptions{Requested: true})
		var re *layout.RefusedError
		if !errors.As(err, &re) || len(re.Conflicts) != 1 || re.Conflicts[0].Path != c.path || !strings.Contains(err.Error(), c.why) {
			t.Errorf("a wheel whose %s installs %s: %v", c.member, c.path, err)
		}
	}
	// A console script named as pipguard's directory.
	w, err := layout.Open(pkgtest.WheelSpec{Name: "own", Version: "1", EntryPoints: "[console_scripts]\n.pipguard = own:main\n", Members: []member{{Name: "own/__init__.py", Body: ""}}}.Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.PlanWheel(w, s, layout.PlanOptions{}); err == nil || !strings.Contains(err.Error(), ".pipguard") {
		t.Errorf("a console script named .pipguard: %v", err)
	}
	// What only looks alike is installed.
	w, err = layout.Open(pkgtest.WheelSpec{Name: "own", Version: "1", Members: []member{{Name: "own/__init__.py", Body: ""}, {Name: "own/pip.conf", Body: "x"},
		{Name: "own/pipguard/x.py", Body: ""}, {Name: "own-1.data/data/etc/pip.conf", Body: "x"}, {Name: "own-1.data/data/share/own/pyvenv.cfg", Body: "x"}}}.Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.PlanWheel(w, s, layout.PlanOptions{}); err != nil {
		t.Errorf("a wheel with own/pip.conf, own/pipguard/, PREFIX/etc/pip.conf and a pyvenv.cfg under share/: %v", err)
	}
}
