package pkgtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// TB is what venv helpers need of a test.
type TB interface {
	Helper()
	Fatalf(string, ...any)
	TempDir() string
}

// NewVenv returns the python of a fresh virtual environment (python3 -m
// venv, offline, with the pip and setuptools Python ships). A template is
// built once per Python version and kept in the temporary directory, shared
// by test processes; each call copies it, which is much faster.
func NewVenv(t TB) string {
	t.Helper()
	templateOnce.Do(func() { templateDir, templateErr = template() })
	if templateErr != nil {
		t.Fatalf("%v", templateErr)
	}
	dst := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command("cp", "-a", templateDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the template venv: %v\n%s", err, out)
	}
	// Scripts in bin/ name the template's path in their shebang; pipguard
	// only ever runs bin/python -m pip, which does not care.
	return filepath.Join(dst, "bin", "python")
}

// SitePackages is the venv's site-packages directory.
func SitePackages(python string) string {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(python)), "lib", "python3*", "site-packages"))
	if len(matches) == 0 {
		return ""
	}
	return matches[0]
}

// Snapshot returns a digest of every path and file content under dir
// (ignoring __pycache__), to prove a failed install changed nothing.
func Snapshot(dir string) string {
	s := sha256.Sum256([]byte(strings.Join(listing(dir), "\n")))
	return hex.EncodeToString(s[:])
}

var listings sync.Map // snapshot digest -> listing, for Diff

// Diff says how dir differs from the snapshot digest before (taken with
// Snapshot in this process), for test failure messages.
func Diff(dir, before string) string {
	old, ok := listings.Load(before)
	if !ok {
		return "(no listing kept for that snapshot)"
	}
	was := map[string]bool{}
	for _, l := range old.([]string) {
		was[l] = true
	}
	var out []string
	for _, l := range listing(dir) {
		if !was[l] {
			out = append(out, "+ "+l)
		}
		delete(was, l)
	}
	for l := range was {
		out = append(out, "- "+l)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func listing(dir string) []string {
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(dir, p)
		line := rel
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err == nil {
				h := sha256.New()
				io.Copy(h, f)
				f.Close()
				line += " " + hex.EncodeToString(h.Sum(nil))
			}
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	s := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	listings.Store(hex.EncodeToString(s[:]), lines)
	return lines
}

// template returns the shared template venv, building it if needed. It is
// built beside its final place and renamed into it, so concurrent test
// processes never see a half-made one.
func template() (string, error) {
	// Keyed by the interpreter's real path and full version, so that a
	// python3 reinstalled or moved never meets a template made from another.
	v, err := exec.Command("python3", "-c", "import os, sys; print(sys.version.split()[0]); print(os.path.realpath(sys.executable), sys.version)").Output()
	if err != nil {
		return "", fmt.Errorf("python3: %v", err)
	}
	version, ident, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
	key := sha256.Sum256([]byte(ident))
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
	if out, err := exec.Command("python3", "-m", "venv", filepath.Join(work, "venv")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("python3 -m venv: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(work, "venv"), final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "pyvenv.cfg")); serr == nil {
			return final, nil // another process won the race
		}
		return "", err
	}
	return final, nil
}
