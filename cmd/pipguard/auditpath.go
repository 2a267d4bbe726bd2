package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/pep610"
)

// sitePathProbe prints what an interpreter's site module starts from:
// sys.path without site (-I -S: no .pth file, sitecustomize or
// usercustomize runs), and the site directories site.main would add, in
// its order, computed with site's own functions but never site.addsitedir
// (which runs .pth files): site.venv's rule (pyvenv.cfg beside the
// executable or one directory up makes its parent sys.prefix, and
// include-system-site-packages = false leaves only it and disables the
// user's site directory), then site.getusersitepackages() when the user
// site is enabled as site.check_enableusersite would have it without -I
// (same real and effective ids), then site.getsitepackages(PREFIXES). Only
// existing directories, as site.addsitepackages adds them. The script's
// own directory ("" in sys.path) is dropped: it is where a program starts,
// not part of the environment. pipguard reads the .pth files itself
// (pep610.SitePath).
const sitePathProbe = venvRule + `import json, site

base = [p for p in sys.path if p]
prefixes = [sys.prefix, sys.exec_prefix]
prefix, system_site = _venv()
sites = []
if prefix is not None:
    sites += site.getsitepackages([prefix])
    prefixes = [prefix] + prefixes if system_site else [prefix]
user = None
if system_site and hasattr(os, "getuid") and os.getuid() == os.geteuid() and os.getgid() == os.getegid():
    user = site.getusersitepackages()
    sites.append(user)
sites += site.getsitepackages(prefixes)
sites = [d for d in sites if os.path.isdir(d)]
json.dump({"version": list(sys.version_info[:2]), "prefix": prefix or sys.prefix, "base": base, "sites": sites, "user_site": user}, sys.stdout)
`

// venvRule is site.venv's rule as a probe run with -I -S applies it
// itself (installer/pip/driver.py holds the same rule for the pip driver):
// _venv() is the environment's prefix when pyvenv.cfg is beside the
// executable or one directory up, and whether its
// include-system-site-packages is true; (None, True) outside one.
const venvRule = `import os, sys

def _venv():
    exe = sys.executable
    if sys.platform == "darwin" and "__PYVENV_LAUNCHER__" in os.environ:
        exe = os.environ["__PYVENV_LAUNCHER__"]
    exe_dir = os.path.dirname(os.path.abspath(exe))
    site_prefix = os.path.dirname(exe_dir)
    for d in (exe_dir, site_prefix):
        cfg = os.path.join(d, "pyvenv.cfg")
        if os.path.isfile(cfg):
            system_site = "true"
            with open(cfg, encoding="utf-8") as f:
                for line in f:
                    if "=" in line:
                        key, _, value = line.partition("=")
                        if key.strip().lower() == "include-system-site-packages":
                            system_site = value.strip().lower()
            return site_prefix, system_site == "true"
    return None, True

`

// sitePath is an interpreter's answer to sitePathProbe.
type sitePath struct {
	Version []int    `json:"version"`
	Prefix  string   `json:"prefix"`
	Base    []string `json:"base"`
	Sites   []string `json:"sites"`
}

// probeSitePath runs py once, isolated and without site (-I -S), for
// sitePathProbe's answer.
func probeSitePath(ctx context.Context, py string) (*sitePath, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-I", "-S", "-c", sitePathProbe)
	cmd.Env = pip.Env(os.Environ())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var sp sitePath
	if err == nil {
		err = json.Unmarshal(out, &sp)
		if err == nil && len(sp.Version) != 2 {
			err = errors.New("no version")
		}
	}
	if err != nil {
		why := strings.TrimSpace(stderr.String())
		if lines := strings.Split(why, "\n"); why != "" {
			why = ": " + lines[len(lines)-1]
		}
		return nil, &usageError{err: fmt.Errorf("--python %s: cannot ask it for its sys.path (%v%s)", py, err, why),
			hint: "pass --path with each site-packages directory instead (pipguard audit runs the interpreter only as python -I -S, which runs no code of the environment)"}
	}
	return &sp, nil
}

// siteDir refuses a --path that is no site-packages directory (a usage
// error, not an audit of nothing): one that is not there, a file, or a
// directory that holds no distribution and is not named site-packages or
// dist-packages (a virtual environment, its lib/, /etc).
func siteDir(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &usageError{err: fmt.Errorf("--path %s: no such directory", path), hint: "pass a site-packages directory, e.g. .venv/lib/python3.12/site-packages"}
	case err != nil:
		return &usageError{err: fmt.Errorf("--path %s: %v", path, errors.Unwrap(err)), hint: "pass a site-packages directory pipguard can read"}
	case !fi.IsDir():
		return &usageError{err: fmt.Errorf("--path %s is a file, not a site-packages directory", path), hint: "pass a site-packages directory, e.g. .venv/lib/python3.12/site-packages"}
	}
	below, err := pep610.CheckSiteDir(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, pep610.ErrNotSitePackages):
		return &usageError{err: fmt.Errorf("--path %s: %v", path, errors.Unwrap(err)), hint: "pass a site-packages directory pipguard can read"}
	}
	hint := "pass a site-packages directory (python -c 'import site; print(site.getsitepackages())' prints an interpreter's), or --python with the interpreter"
	if len(below) > 0 {
		hint = "pass the site-packages directory: --path " + strings.Join(below, " or --path ")
	}
	if _, err := os.Stat(filepath.Join(path, "pyvenv.cfg")); err == nil {
		return &usageError{err: fmt.Errorf("--path %s is a virtual environment, not its site-packages directory", path),
			hint: "pass --python " + path + " (the audit reads the sys.path its interpreter computes), or " + strings.TrimPrefix(hint, "pass ")}
	}
	return &usageError{err: fmt.Errorf("--path %s is not a site-packages directory: it holds no installed distribution (.dist-info, .egg-info) and no .pth file", path), hint: hint}
}
