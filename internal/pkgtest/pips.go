package pkgtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Pip is one pip a test runs against: a base interpreter and, optionally,
// a pip wheel installed instead of the interpreter's own pip.
type Pip struct {
	// Name says which pip, for sub-test names.
	Name string
	// Base is the interpreter the environment is made from; "" when it is
	// not on this machine (Missing says why).
	Base string
	// Wheel, when set, is a pip wheel installed into an environment made
	// --without-pip.
	Wheel   string
	Missing string
}

// Pips are the pips the driver supports that tests run: the machine's
// python3 with its own pip, Python 3.13 (pyenv) with its pip, and Debian's
// pip 23.0 wheel (package python3-pip-whl) in a python3 environment.
func Pips() []Pip {
	out := []Pip{{Name: "python3", Base: "python3"}}
	py313 := ""
	if root, err := exec.Command("pyenv", "root").Output(); err == nil {
		m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "versions", "3.13*", "bin", "python3.13"))
		sort.Strings(m)
		if len(m) > 0 {
			py313 = m[len(m)-1]
		}
	}
	if py313 == "" {
		if p, err := exec.LookPath("python3.13"); err == nil && !strings.Contains(p, "/shims/") {
			py313 = p
		}
	}
	p := Pip{Name: "python3.13", Base: py313}
	if py313 == "" {
		p.Missing = "no Python 3.13 (pyenv install 3.13)"
	}
	out = append(out, p)
	wheels, _ := filepath.Glob("/usr/share/python-wheels/pip-23.0*-py3-none-any.whl")
	p = Pip{Name: "debian-pip-23.0", Base: "python3"}
	if len(wheels) == 0 {
		p.Base, p.Missing = "", "no /usr/share/python-wheels/pip-23.0*.whl (apt-get install python3-pip-whl)"
	} else {
		p.Wheel = wheels[0]
	}
	return append(out, p)
}

var (
	pipTemplatesMu sync.Mutex
	pipTemplates   = map[string]string{}
)

// NewVenvWith returns the python of a fresh virtual environment for p
// (made once per test process and interpreter, then copied).
func NewVenvWith(t TB, p Pip) string {
	t.Helper()
	if p.Base == "" {
		t.Fatalf("%s: %s", p.Name, p.Missing)
	}
	pipTemplatesMu.Lock()
	tmpl, ok := pipTemplates[p.Base+"\x00"+p.Wheel]
	if !ok {
		var err error
		if tmpl, err = pipTemplate(p); err != nil {
			pipTemplatesMu.Unlock()
			t.Fatalf("%s: %v", p.Name, err)
		}
		pipTemplates[p.Base+"\x00"+p.Wheel] = tmpl
	}
	pipTemplatesMu.Unlock()
	dst := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command("cp", "-a", tmpl, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the template venv: %v\n%s", err, out)
	}
	return filepath.Join(dst, "bin", "python")
}

func pipTemplate(p Pip) (string, error) {
	v, err := exec.Command(p.Base, "-c", "import os, sys; print(sys.version.split()[0]); print(os.path.realpath(sys.executable), sys.version)").Output()
	if err != nil {
		return "", fmt.Errorf("%s: %v", p.Base, err)
	}
	version, ident, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
	key := sha256.Sum256([]byte(ident + "\x00" + p.Wheel))
	base := filepath.Join(os.TempDir(), fmt.Sprintf("pipguard-test-%d", os.Getuid()))
	final := filepath.Join(base, "venv-"+version+"-"+hex.EncodeToString(key[:6]))
	if _, err := os.Stat(filepath.Join(final, "pyvenv.cfg")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(base, "building-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	venv := filepath.Join(work, "venv")
	args := []string{"-m", "venv", venv}
	if p.Wheel != "" {
		args = []string{"-m", "venv", "--without-pip", venv}
	}
	if out, err := exec.Command(p.Base, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s -m venv: %v\n%s", p.Base, err, out)
	}
	if p.Wheel != "" {
		// pip runs from its own wheel to install itself.
		py := filepath.Join(venv, "bin", "python")
		cmd := exec.Command(py, filepath.Join(p.Wheel, "pip"), "install", "-q", "--no-index", "--disable-pip-version-check", p.Wheel)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("installing %s: %v\n%s", p.Wheel, err, out)
		}
	}
	if err := os.Rename(venv, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "pyvenv.cfg")); serr == nil {
			return final, nil
		}
		return "", err
	}
	return final, nil
}

// AddSdist publishes p's sdist (with its PEP 658 metadata) beside its
// wheels.
func (ix *Index) AddSdist(p Project) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := project(p.Name)
	if ix.files[n] == nil {
		ix.files[n] = map[string][]byte{}
	}
	ix.files[n][p.SdistName()] = p.Sdist()
	ix.meta[p.SdistName()] = p.Metadata()
}

// Downloads is how many times the file was asked for.
func (ix *Index) Downloads(file string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.hits[file]
}
