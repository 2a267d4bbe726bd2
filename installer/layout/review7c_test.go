package layout_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// Review 7c, finding 3: Scheme.Stdlib's refusal compares paths byte for
// byte, and a wheel chooses the case of its .data/data/ members. Where
// the file system ignores case (macOS's default APFS, where pyenv and
// python.org interpreters are no virtual environments; Windows, whose
// standard library is PREFIX\Lib while a wheel writes lib\), a wheel's
// NAME.data/data/Lib/python3.X/_manylinux.py (or data/lib/_manylinux.py
// on Windows) is the standard library's directory, and the plan lets it
// be: pipguard's own .pipguard rule already treats names
// case-insensitively for that reason.
func TestStdlibRefusalIgnoresCase(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "py")
	lib := filepath.Join(prefix, "lib", "python3.11")
	s := layout.Scheme{
		Purelib: filepath.Join(lib, "site-packages"), Platlib: filepath.Join(lib, "site-packages"),
		Scripts: filepath.Join(prefix, "bin"), Data: prefix, Headers: filepath.Join(prefix, "include", "python3.11", "innocent"),
		PythonVersion: "3.11", Prefix: prefix,
		Stdlib: []string{lib, filepath.Join(lib, "lib-dynload"), filepath.Join(prefix, "lib", "python311.zip")},
	}
	for _, member := range []string{
		"innocent-1.0.data/data/lib/python3.11/_manylinux.py", // the case pipguard refuses today
		"innocent-1.0.data/data/Lib/python3.11/_manylinux.py",
		"innocent-1.0.data/data/lib/Python3.11/_manylinux.py",
		"innocent-1.0.data/data/LIB/PYTHON311.ZIP",
	} {
		t.Run(member, func(t *testing.T) {
			p := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{member: "print('ran')\n"}}
			hw := filepath.Join(t.TempDir(), p.WheelName())
			os.WriteFile(hw, p.Wheel(), 0o600)
			w, err := layout.Open(hw)
			if err != nil {
				t.Fatal(err)
			}
			_, err = layout.PlanWheel(w, s, layout.PlanOptions{})
			var re *layout.RefusedError
			if !errors.As(err, &re) {
				t.Errorf("the plan lets %s be (%v): on a case-insensitive file system it is the interpreter's own library directory", member, err)
			}
		})
	}
}
