package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/policy"
)

// lockEnvironment is the JSON of an interpreter's environment, as the
// probe prints it and --lock-environment FILE holds it: packaging's
// default_environment() and [str(t) for t in sys_tags()].
type lockEnvironment struct {
	Markers map[string]string `json:"markers"`
	Tags    []string          `json:"tags"`
}

// envProbe prints the interpreter's lockEnvironment, from pip's vendored
// packaging. It runs with -I -S: no .pth file or sitecustomize of the
// environment runs, so the site directories are added here as the pip
// driver adds them (installer/pip/driver.py's top block: site.venv's
// rule, pyvenv.cfg beside the executable or one directory up makes its
// parent sys.prefix, without any .pth file).
const envProbe = venvRule + `import site

_prefix, _system_site = _venv()
_prefixes = [sys.prefix, sys.exec_prefix]
if _prefix is not None:
    sys.prefix = sys.exec_prefix = _prefix
    _prefixes = [_prefix] + (_prefixes if _system_site else [])
for _d in site.getsitepackages(_prefixes):
    if os.path.isdir(_d) and _d not in sys.path:
        sys.path.append(_d)

import json
from pip._vendor.packaging.markers import default_environment
from pip._vendor.packaging.tags import sys_tags
json.dump({"markers": default_environment(), "tags": [str(t) for t in sys_tags()]}, sys.stdout)
`

// probeEnvironment runs py once, isolated (-I -S), for its marker
// environment and tags.
func probeEnvironment(ctx context.Context, py string) (pylock.Environment, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-I", "-S", "-c", envProbe)
	cmd.Env = pip.Env(os.Environ())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		why := strings.TrimSpace(stderr.String())
		if lines := strings.Split(why, "\n"); len(lines) > 0 && why != "" {
			why = ": " + lines[len(lines)-1]
		}
		return pylock.Environment{}, &usageError{err: fmt.Errorf("--lock: cannot ask %s for its marker environment and tags (%v%s)", py, err, why),
			hint: "pass --lock-environment FILE with the environment's markers and tags (see pipguard audit --help)"}
	}
	return parseLockEnvironment(py, out)
}

// parseLockEnvironment reads a lockEnvironment: every marker variable of
// PEP 508, and at least one tag.
func parseLockEnvironment(from string, data []byte) (pylock.Environment, error) {
	var le lockEnvironment
	bad := func(why string) error {
		return &usageError{err: fmt.Errorf("--lock: the environment from %s %s", from, why),
			hint: `write it as {"markers": {...}, "tags": [...]}: packaging's default_environment() and [str(t) for t in sys_tags()]`}
	}
	if err := json.Unmarshal(data, &le); err != nil {
		return pylock.Environment{}, bad("is not JSON: " + err.Error())
	}
	var missing []string
	for _, k := range pylock.EnvironmentKeys {
		if _, ok := le.Markers[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return pylock.Environment{}, bad("has no " + strings.Join(missing, ", ") + " marker")
	}
	if len(le.Tags) == 0 {
		return pylock.Environment{}, bad("has no tags")
	}
	return pylock.Environment{Markers: le.Markers, Tags: le.Tags}, nil
}

// readLock reads --lock FILE; a lock pylock.Read refuses is a usage error
// for each problem, at its line.
func readLock(path string) (*pylock.Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("--lock %s: %v", path, errors.Unwrap(err)), hint: "name a pylock.toml that exists"}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, policy.MaxFile+1))
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("--lock %s: %v", path, err)}
	}
	if len(data) > policy.MaxFile {
		return nil, usagef("--lock %s is larger than %d MiB", path, policy.MaxFile>>20)
	}
	l, err := pylock.Read(path, data)
	if err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = &usageError{err: e, hint: "pipguard check " + path + " reports each problem at its line and column"}
		}
		return nil, errors.Join(out...)
	}
	return l, nil
}

// auditLock is --lock's part of audit's options: the lock, and the
// environment it is selected for (--lock-environment FILE, else the one
// interpreter's own answer).
func auditLock(ctx context.Context, path, envFile string, pythons []string, extras, groups []string) (*envaudit.Lock, error) {
	l, err := readLock(path)
	if err != nil {
		return nil, err
	}
	var env pylock.Environment
	switch {
	case envFile != "":
		data, err := os.ReadFile(envFile)
		if err != nil {
			return nil, &usageError{err: fmt.Errorf("--lock-environment %s: %v", envFile, errors.Unwrap(err))}
		}
		if env, err = parseLockEnvironment(envFile, data); err != nil {
			return nil, err
		}
	case len(pythons) == 1:
		if env, err = probeEnvironment(ctx, pythons[0]); err != nil {
			return nil, err
		}
	case len(pythons) == 0:
		return nil, &usageError{err: errors.New("--lock with --path alone: no interpreter to select the lock's packages for"),
			hint: "pass --python with the environment's interpreter, or --lock-environment FILE with its markers and tags"}
	default:
		return nil, &usageError{err: fmt.Errorf("--lock compares one environment, and %d interpreters are named", len(pythons)),
			hint: "audit each environment on its own, with one --python"}
	}
	return &envaudit.Lock{File: path, Lock: l, Env: env, Extras: extras, Groups: groups}, nil
}
