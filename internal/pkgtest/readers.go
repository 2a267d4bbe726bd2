package pkgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Reader is one pip whose own code a differential test runs to read what
// pipguard reads (requirements files, direct_url.json, installed
// distributions): an interpreter and, for a pip wheel run in place, the
// wheel put first on sys.path.
type Reader struct {
	// Name says which pip, for sub-test names.
	Name string
	// Python runs the harness; "" when this pip is not on this machine
	// (Missing says why).
	Python string
	// Wheel, when set, is a pip wheel the harness imports pip from
	// (PYTHONPATH, or sys.path for a harness run with -I).
	Wheel   string
	Missing string
}

// Readers are the pips every differential test compares pipguard with:
// the machine's python3 and its pip (23.2.1 here), Python 3.13 under pyenv
// and its pip (24.2), Debian's pip 23.0.1 wheel (python3-pip-whl) run by
// python3, and pip 26 (Pip26: Debian sid's python3-pip-whl, in CI
// $PIPGUARD_PIP26). Only a pip that cannot be obtained has Missing set.
func Readers() []Reader {
	out := []Reader{{Name: "python3", Python: "python3"}}
	if _, err := exec.LookPath("python3"); err != nil {
		out[0] = Reader{Name: "python3", Missing: "no python3"}
	}
	py313 := ""
	if root, err := exec.Command("pyenv", "root").Output(); err == nil {
		m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(root)), "versions", "3.13*", "bin", "python3.13"))
		sort.Strings(m)
		if len(m) > 0 {
			py313 = m[len(m)-1]
		}
	}
	r := Reader{Name: "pyenv-3.13", Python: py313}
	if py313 == "" {
		r.Missing = "no Python 3.13 under pyenv: pip 24.2 is its pip (CI installs it)"
	}
	out = append(out, r)
	wheels, _ := filepath.Glob("/usr/share/python-wheels/pip-23.0*-py3-none-any.whl")
	sort.Strings(wheels)
	r = Reader{Name: "debian-pip-23.0.1", Python: "python3"}
	if len(wheels) == 0 {
		r = Reader{Name: "debian-pip-23.0.1", Missing: "no /usr/share/python-wheels/pip-23.0*.whl (Debian's python3-pip-whl; CI installs it)"}
	} else {
		r.Wheel = wheels[len(wheels)-1]
	}
	out = append(out, r)
	r = Reader{Name: "pip-26"}
	if py, why := Pip26(); py != "" {
		if _, err := os.Stat(py); err != nil && filepath.IsAbs(py) {
			r.Missing = "pip 26: " + err.Error()
		} else {
			r.Python = py
		}
	} else {
		r.Missing = why
	}
	return append(out, r)
}

// Env is the environment the harness runs in: base plus PYTHONPATH for a
// wheel.
func (r Reader) Env(base []string) []string {
	if r.Wheel == "" {
		return base
	}
	return append(base, "PYTHONPATH="+r.Wheel)
}

// Prelude is Python that puts the wheel first on sys.path, for a harness
// that runs with -I (which ignores PYTHONPATH).
func (r Reader) Prelude() string {
	if r.Wheel == "" {
		return ""
	}
	return "import sys; sys.path.insert(0, " + pyQuote(r.Wheel) + ")\n"
}

func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range s {
		switch {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString("\\x")
			b.WriteString(strings.ToLower(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
