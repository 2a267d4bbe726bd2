// Package build turns a verified source (an sdist pipguard verified, or a
// repository at a commit it resolved) into a wheel, with build
// requirements that pipguard locked: the source's build-system.requires
// (PEP 518) and what its backend's get_requires_for_build_wheel asks for
// (PEP 517) are installed from wheels pipguard hashed into a private build
// environment, and the backend runs there, with no site-packages of the
// target environment on its path and no network of its own.
//
// What it trusts: the source it is given (its caller verified it, and its
// backend is the verified project's own code) and the wheels it is told to
// install, which must be valid as package layout reads them. Archives are
// unpacked with size limits, never outside their directory, never through
// a link. It never decides which build requirements to use: the caller
// resolves and locks them.
package build

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pipguard/pipguard/installer/layout"
)

// Limits on what an sdist may unpack to.
const (
	MaxFiles = 100_000
	MaxBytes = 4 << 30
)

// Error is a source pipguard cannot build as asked.
type Error struct {
	Source string
	Reason string
}

func (e *Error) Error() string { return e.Source + ": " + e.Reason }

// Hint says what to do.
func (e *Error) Hint() string {
	return "nothing was installed; install the project's wheel instead (drop --allow-sdist or --from git), or tell its maintainers"
}

// Unpack extracts an sdist (.tar.gz or .zip) into dir and returns the
// source tree: the archive's single top-level directory. Members with
// absolute paths, "..", links, devices or that exceed the limits are
// refused.
func Unpack(sdist, dir string) (string, error) {
	bad := func(format string, a ...any) error {
		return &Error{Source: filepath.Base(sdist), Reason: fmt.Sprintf(format, a...)}
	}
	files, total := 0, int64(0)
	tops := map[string]bool{}
	write := func(name string, r io.Reader, size int64, mode os.FileMode) error {
		clean := filepath.Clean(filepath.FromSlash(name))
		if name == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || strings.Contains(name, "\\") {
			return bad("member %q leaves the archive's directory", name)
		}
		files++
		total += size
		if files > MaxFiles || total > MaxBytes {
			return bad("unpacks to more than %d files or %d bytes", MaxFiles, int64(MaxBytes))
		}
		top, _, _ := strings.Cut(filepath.ToSlash(clean), "/")
		tops[top] = true
		dst := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm()|0o600)
		if err != nil {
			return bad("member %q: %v", name, err)
		}
		n, err := io.Copy(f, io.LimitReader(r, size+1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != size {
			err = fmt.Errorf("holds %d bytes, its header says %d", n, size)
		}
		if err != nil {
			return bad("member %q: %v", name, err)
		}
		return nil
	}
	switch {
	case strings.HasSuffix(sdist, ".tar.gz") || strings.HasSuffix(sdist, ".tgz"):
		f, err := os.Open(sdist)
		if err != nil {
			return "", err
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return "", bad("not a gzip file: %v", err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", bad("not a tar archive: %v", err)
			}
			switch h.Typeflag {
			case tar.TypeDir:
				continue
			case tar.TypeReg:
				if err := write(h.Name, tr, h.Size, os.FileMode(h.Mode)); err != nil {
					return "", err
				}
			case tar.TypeXGlobalHeader:
				continue
			default:
				return "", bad("member %q is a link or a special file (type %q)", h.Name, h.Typeflag)
			}
		}
	case strings.HasSuffix(sdist, ".zip"):
		zr, err := zip.OpenReader(sdist)
		if err != nil {
			return "", bad("not a zip archive: %v", err)
		}
		defer zr.Close()
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() {
				continue
			}
			if !zf.Mode().IsRegular() {
				return "", bad("member %q is a link or a special file", zf.Name)
			}
			rc, err := zf.Open()
			if err != nil {
				return "", bad("member %q: %v", zf.Name, err)
			}
			err = write(zf.Name, rc, int64(zf.UncompressedSize64), zf.Mode())
			rc.Close()
			if err != nil {
				return "", err
			}
		}
	default:
		return "", bad("not an sdist (.tar.gz or .zip)")
	}
	if len(tops) != 1 {
		return "", bad("has %d top-level entries, an sdist has one directory", len(tops))
	}
	for top := range tops {
		return filepath.Join(dir, top), nil
	}
	return "", nil
}

// Clone checks out repo (a URL git understands, credentials included if
// the user gave them) at commit into dir with the git command, fetching
// ref (a tag, or the commit itself) and its submodules as pip does, and
// checks that HEAD is commit. env is git's environment (no tokens).
func Clone(ctx context.Context, env []string, repo, ref, commit, dir string) error {
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir, cmd.Env = dir, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
		}
		return strings.TrimSpace(out.String()), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := run("init", "-q"); err != nil {
		return err
	}
	if _, err := run("fetch", "-q", "--depth", "1", repo, ref); err != nil {
		// A server that will not serve a commit by name: everything.
		if _, err := run("fetch", "-q", repo, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err != nil {
			return err
		}
	}
	if _, err := run("checkout", "-q", "--detach", commit); err != nil {
		if _, err2 := run("checkout", "-q", "--detach", "FETCH_HEAD"); err2 != nil {
			return err
		}
	}
	head, err := run("rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if !strings.EqualFold(head, commit) {
		return &Error{Source: repo, Reason: fmt.Sprintf("the checkout is at commit %s, expected %s", head, commit)}
	}
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err == nil {
		if _, err := run("submodule", "update", "--init", "--recursive", "-q"); err != nil {
			return err
		}
	}
	return nil
}

// System is a source's build system (PEP 518 [build-system]).
type System struct {
	Requires    []string `json:"requires"`
	Backend     string   `json:"build-backend"`
	BackendPath []string `json:"backend-path"`
	// Legacy: no pyproject.toml or no [build-system] table: setuptools'
	// legacy backend, as pip uses it.
	Legacy bool `json:"legacy,omitempty"`
}

// ReadSystem reads src/pyproject.toml's [build-system] as pip does: no
// file or no table means setuptools' legacy backend with
// "setuptools>=40.8.0"; a table without build-backend means the same
// backend with the table's requires; backend-path entries must stay inside
// the source tree.
func ReadSystem(src string) (*System, error) {
	data, err := os.ReadFile(filepath.Join(src, "pyproject.toml"))
	if errors.Is(err, os.ErrNotExist) {
		return &System{Requires: []string{"setuptools>=40.8.0"}, Backend: "setuptools.build_meta:__legacy__", Legacy: true}, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		BuildSystem *struct {
			Requires    *[]string `toml:"requires"`
			Backend     string    `toml:"build-backend"`
			BackendPath []string  `toml:"backend-path"`
		} `toml:"build-system"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{Source: "pyproject.toml", Reason: err.Error()}
	}
	bs := doc.BuildSystem
	if bs == nil {
		return &System{Requires: []string{"setuptools>=40.8.0"}, Backend: "setuptools.build_meta:__legacy__", Legacy: true}, nil
	}
	if bs.Requires == nil {
		return nil, &Error{Source: "pyproject.toml", Reason: "[build-system] has no requires (PEP 518 requires it)"}
	}
	s := &System{Requires: *bs.Requires, Backend: bs.Backend}
	if s.Backend == "" {
		s.Backend, s.Legacy = "setuptools.build_meta:__legacy__", true
	}
	for _, p := range bs.BackendPath {
		abs := filepath.Join(src, filepath.FromSlash(p))
		if rel, err := filepath.Rel(src, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, &Error{Source: "pyproject.toml", Reason: fmt.Sprintf("backend-path %q leaves the source tree (PEP 517 forbids it)", p)}
		}
		s.BackendPath = append(s.BackendPath, abs)
	}
	return s, nil
}

// Env is a private build environment: a directory on the backend's
// sys.path holding the locked build requirements.
type Env struct {
	Dir string
	// Installed are the wheels installed into it (name==version
	// sha256:HEX), for the receipt.
	Installed []string
}

// NewEnv makes an empty build environment in dir.
func NewEnv(dir string) (*Env, error) {
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o700); err != nil {
		return nil, err
	}
	return &Env{Dir: dir}, nil
}

// Install unpacks a wheel pipguard hashed into the environment: its root
// and its .data/purelib and .data/platlib members where the backend
// imports them, its .data/scripts where the build finds them on PATH. The
// wheel must be valid (package layout's Open).
func (e *Env) Install(wheel string) error {
	w, err := layout.Open(wheel)
	if err != nil {
		return err
	}
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return err
	}
	defer zr.Close()
	lib, bin := filepath.Join(e.Dir, "lib"), filepath.Join(e.Dir, "bin")
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		name := zf.Name
		dst := filepath.Join(lib, filepath.FromSlash(name))
		if w.Data != "" && strings.HasPrefix(name, w.Data+"/") {
			rest := strings.TrimPrefix(name, w.Data+"/")
			scheme, tail, _ := strings.Cut(rest, "/")
			switch scheme {
			case "purelib", "platlib":
				dst = filepath.Join(lib, filepath.FromSlash(tail))
			case "scripts":
				dst = filepath.Join(bin, filepath.FromSlash(tail))
			default:
				continue // headers and data do not matter to a build
			}
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if zf.Mode()&0o111 != 0 {
			mode = 0o700
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err == nil {
			_, err = io.Copy(f, io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("installing %s into the build environment: %w", filepath.Base(wheel), err)
		}
	}
	e.Installed = append(e.Installed, fmt.Sprintf("%s==%s sha256:%s", w.Normalized, w.Version, w.SHA256))
	return nil
}

//go:embed hook.py
var hookRunner string

// Hook runs one PEP 517 hook of sys's backend in src, in the target
// interpreter (python), with the build environment's lib and the
// backend-path on sys.path and no site-packages (-S), isolated (-I), no
// bytecode written (-B). get_requires_for_build_wheel returns the
// requirements the backend asks for; build_wheel the wheel's path in out.
// env is the process environment (no tokens); output receives the
// backend's output.
func (e *Env) Hook(ctx context.Context, python string, env []string, output io.Writer, src string, sys *System, hook, out string) ([]string, error) {
	answer := filepath.Join(e.Dir, "answer.json")
	os.Remove(answer)
	req, _ := json.Marshal(map[string]any{"path": append(append([]string{}, sys.BackendPath...), filepath.Join(e.Dir, "lib")), "backend": sys.Backend, "hook": hook, "out": out, "answer": answer})
	cmd := exec.CommandContext(ctx, python, "-I", "-S", "-B", "-c", hookRunner, string(req))
	cmd.Dir = src
	cmd.Env = append(withPath(env, filepath.Join(e.Dir, "bin")), "PIP_NO_INDEX=1", "PYTHONNOUSERSITE=1")
	var tail bytes.Buffer
	w := io.Writer(&tail)
	if output != nil {
		w = io.MultiWriter(output, &tail)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		last := strings.TrimSpace(tail.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return nil, &Error{Source: filepath.Base(src), Reason: fmt.Sprintf("the build backend's %s failed (%v): %s", hook, err, last)}
	}
	data, err := os.ReadFile(answer)
	if err != nil {
		return nil, &Error{Source: filepath.Base(src), Reason: "the build backend's " + hook + " gave no answer"}
	}
	var a struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	if hook == "build_wheel" {
		var name string
		if err := json.Unmarshal(a.Result, &name); err != nil || name == "" || filepath.Base(name) != name || !strings.HasSuffix(name, ".whl") {
			return nil, &Error{Source: filepath.Base(src), Reason: fmt.Sprintf("build_wheel returned %s, not a wheel's file name", a.Result)}
		}
		return []string{filepath.Join(out, name)}, nil
	}
	var reqs []string
	if err := json.Unmarshal(a.Result, &reqs); err != nil {
		return nil, &Error{Source: filepath.Base(src), Reason: fmt.Sprintf("get_requires_for_build_wheel returned %s, not a list of requirements", a.Result)}
	}
	return reqs, nil
}

// withPath puts dir first on env's PATH.
func withPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			kv, found = "PATH="+dir+string(os.PathListSeparator)+v, true
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "PATH="+dir)
	}
	return out
}
