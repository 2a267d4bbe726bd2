package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
