package pkgtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

var (
	pip26Once sync.Once
	pip26Py   string
	pip26Why  string
)

// Pip26 is an interpreter whose pip is 26.x (Debian sid's
// python3-pip-whl): $PIPGUARD_PIP26 (CI sets it), else the venv
// internal/tools/pip26/fetch.sh makes, fetched once if missing. It returns
// "" and why when there is none (no route to Debian's archive).
func Pip26() (string, string) {
	pip26Once.Do(func() {
		if p := os.Getenv("PIPGUARD_PIP26"); p != "" {
			pip26Py = p
			return
		}
		_, here, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(here), "..", "tools", "pip26")
		py := filepath.Join(root, ".cache", "venv", "bin", "python")
		if _, err := os.Stat(py); err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "fetch.sh"), filepath.Join(root, ".cache"))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				s := out.String()
				if len(s) > 400 {
					s = s[len(s)-400:]
				}
				pip26Why = "pip 26 is not available and internal/tools/pip26/fetch.sh failed: " + err.Error() + ": " + s
				return
			}
		}
		pip26Py = py
	})
	return pip26Py, pip26Why
}
