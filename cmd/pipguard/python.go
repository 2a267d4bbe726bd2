package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/pip"
)

// pythonPath is what --python PY names, as users write it: a virtual
// environment's directory stands for its bin/python; a bare name (python3)
// is looked up on $PATH as a shell would, and one that is not there but
// names a file or directory here is taken as that (./v3).
func pythonPath(py string) (string, error) {
	if !strings.ContainsRune(py, os.PathSeparator) {
		if _, err := exec.LookPath(py); err == nil {
			return py, nil
		}
		if _, err := os.Stat(py); err != nil {
			return py, nil // the interpreter's own start says it is not found
		}
		py = "." + string(os.PathSeparator) + py
	}
	fi, err := os.Stat(py)
	if err != nil || !fi.IsDir() {
		return py, nil
	}
	if _, err := os.Stat(filepath.Join(py, "pyvenv.cfg")); err == nil {
		return filepath.Join(py, "bin", "python"), nil
	}
	return "", &usageError{err: fmt.Errorf("--python %s is a directory, not an interpreter, and not a virtual environment (no pyvenv.cfg in it)", py),
		hint: "pass the interpreter (e.g. " + filepath.Join(py, "bin", "python") + ") or a virtual environment's directory"}
}

// minPip is the oldest pip pipguard supports (the driver needs its
// --dry-run --report and packaging.tags); it needs Python 3.7.
var minPip = [2]int{23, 0}

// pipVersionError is an interpreter whose pip is older than minPip.
type pipVersionError struct {
	Python, Pip, PythonVersion string
}

func (e *pipVersionError) Error() string {
	return fmt.Sprintf("pip %s is older than %d.%d, the oldest pipguard supports (%s -m pip, Python %s)", e.Pip, minPip[0], minPip[1], e.Python, e.PythonVersion)
}

func (e *pipVersionError) Hint() string {
	if older(e.PythonVersion, [2]int{3, 7}) {
		return fmt.Sprintf("pip %d.%d needs Python 3.7 or later: pass --python with a newer interpreter, or a virtual environment made with one (python3 -m venv .venv)", minPip[0], minPip[1])
	}
	return fmt.Sprintf("upgrade it: %s -m pip install --upgrade 'pip>=%d.%d', or pass --python with another interpreter", e.Python, minPip[0], minPip[1])
}

// oldPip explains a failure to start the interpreter or to run its pip
// (an *pip.InterpreterError: a traceback from pip 18's missing modules; an
// *pip.OptionsError: pip 22 not knowing --dry-run) when the cause is a pip
// older than minPip. It asks the interpreter for its pip's version only
// then, so that a good run pays nothing for it; any other error, or a pip
// recent enough, is returned as it is.
func oldPip(ctx context.Context, py string, err error) error {
	if !is[*pip.InterpreterError](err) && !is[*pip.OptionsError](err) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", `import sys, pip; sys.stdout.write(pip.__version__ + " %d.%d" % sys.version_info[:2])`)
	cmd.Env = pip.Env(os.Environ())
	out, cerr := cmd.Output()
	f := strings.Fields(string(out))
	if cerr != nil || len(f) != 2 || !older(f[0], minPip) {
		return err
	}
	return &pipVersionError{Python: py, Pip: f[0], PythonVersion: f[1]}
}

// older says whether version (X.Y...) is before min; a version it cannot
// read is not.
func older(version string, min [2]int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return major < min[0] || major == min[0] && minor < min[1]
}

// externallyManaged is the EXTERNALLY-MANAGED file (PEP 668) that makes
// pip refuse to install into py's environment, or "" when there is none
// or py runs in a virtual environment (which PEP 668 leaves to pip). A
// dry run asks it: pip's own dry run with --report skips that check
// (pip 23's install command), so only the real run would fail on it.
func externallyManaged(ctx context.Context, py string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// As pip's check_externally_managed: no marker under a virtual
	// environment; else sysconfig's stdlib directory holds it.
	cmd := exec.CommandContext(ctx, py, "-I", "-c", `import os, sys, sysconfig
if sys.prefix == getattr(sys, "base_prefix", sys.prefix) and not hasattr(sys, "real_prefix"):
    p = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
    if os.path.isfile(p):
        sys.stdout.write(p)`)
	cmd.Env = pip.Env(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// renderTarget says, for a dry run, which environment the real run would
// install into, and warns when it is externally managed (PEP 668): pip
// would refuse the real install.
func renderTarget(stdout, stderr io.Writer, rep *installer.InstallReport, managed string) {
	where := rep.Python
	if len(rep.Site) > 0 {
		where += " (" + strings.Join(rep.Site, ", ") + ")"
	}
	fmt.Fprintf(stdout, "target:  %s\n", where)
	if managed != "" {
		fmt.Fprintf(stderr, "pipguard: warning: %s is externally managed (PEP 668, %s): pip would refuse the real install\n", rep.Python, managed)
		fmt.Fprintln(stderr, "pipguard: hint: install into a virtual environment (python3 -m venv .venv, then --python .venv), or use the system's package manager")
	}
}
