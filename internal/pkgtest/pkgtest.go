// Package pkgtest builds real Python distributions for tests, offline and
// without setuptools: wheels (PEP 427 zip with a dist-info), sdists, and a
// source tree with an in-tree PEP 517 backend, so that pip can build the
// project from a git checkout with --no-build-isolation and nothing from an
// index.
//
// It is for tests only and trusts its callers.
package pkgtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Project is a tiny pure-Python project: one module named after the project
// whose VERSION constant is the version.
type Project struct {
	Name    string // e.g. "demo-pkg"
	Version string // e.g. "1.0.0"
	// RequiresPython is the Requires-Python metadata, if any.
	RequiresPython string
	// Requires are Requires-Dist lines, e.g. "other @ git+https://…".
	Requires []string
	// Tag is the wheel tag; default py3-none-any.
	Tag string
	// Files are extra files in the wheel, by archive path (a path that
	// escapes the install directory makes pip fail part way through).
	Files map[string]string
	// BuildHook is Python code the in-tree backend runs when it builds a
	// wheel: a test's witness that build code ran.
	BuildHook string
	// BuildRequires are the source's build-system.requires.
	BuildRequires []string
}

// Module is the import name (PEP 8 style from the project name).
func (p Project) Module() string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(p.Name))
}

// dist is the distribution name escaped per the wheel spec.
func (p Project) dist() string { return p.Module() }

func (p Project) tag() string {
	if p.Tag == "" {
		return "py3-none-any"
	}
	return p.Tag
}

// WheelName is the wheel's file name.
func (p Project) WheelName() string { return fmt.Sprintf("%s-%s-%s.whl", p.dist(), p.Version, p.tag()) }

// SdistName is the sdist's file name.
func (p Project) SdistName() string { return fmt.Sprintf("%s-%s.tar.gz", p.dist(), p.Version) }

// Metadata is the core metadata (METADATA / PKG-INFO).
func (p Project) Metadata() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", p.Name, p.Version)
	if p.RequiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", p.RequiresPython)
	}
	for _, r := range p.Requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	return b.String()
}

func (p Project) moduleSource() string {
	return fmt.Sprintf("VERSION = %q\n", p.Version)
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Wheel returns the wheel's bytes (deterministic).
func (p Project) Wheel() []byte {
	di := p.dist() + "-" + p.Version + ".dist-info/"
	files := map[string]string{
		p.Module() + "/__init__.py": p.moduleSource(),
		di + "METADATA":             p.Metadata(),
		di + "WHEEL":                fmt.Sprintf("Wheel-Version: 1.0\nGenerator: pipguard-pkgtest\nRoot-Is-Purelib: true\nTag: %s\n", p.tag()),
	}
	for name, body := range p.Files {
		files[name] = body
	}
	return zipWithRecord(files, di+"RECORD")
}

func zipWithRecord(files map[string]string, record string) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var rec strings.Builder
	for _, n := range names {
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	fmt.Fprintf(&rec, "%s,,\n", record)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string) {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch})
		w.Write([]byte(body))
	}
	for _, n := range names {
		add(n, files[n])
	}
	add(record, rec.String())
	zw.Close()
	return buf.Bytes()
}

// backend is an in-tree PEP 517 build backend: it builds this project's
// wheel and sdist with the standard library only.
const backend = `"""In-tree PEP 517 backend for tests (no setuptools, no wheel)."""
import base64, hashlib, io, os, tarfile, zipfile

NAME, VERSION, TAG, REQUIRES_PYTHON, REQUIRES, HOOK = %s

def _module():
    return NAME.lower().replace("-", "_").replace(".", "_")

def _metadata():
    lines = ["Metadata-Version: 2.1", "Name: " + NAME, "Version: " + VERSION]
    if REQUIRES_PYTHON:
        lines.append("Requires-Python: " + REQUIRES_PYTHON)
    lines += ["Requires-Dist: " + r for r in REQUIRES]
    return "\n".join(lines) + "\n"

def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_sdist(config_settings=None):
    return []

def _wheel(wheel_directory, files):
    """Writes a wheel of files (plus METADATA, WHEEL and RECORD)."""
    mod = _module()
    di = "%%s-%%s.dist-info/" %% (mod, VERSION)
    files = dict(files)
    files[di + "METADATA"] = _metadata().encode()
    files[di + "WHEEL"] = ("Wheel-Version: 1.0\nGenerator: in-tree\nRoot-Is-Purelib: true\nTag: %%s\n" %% TAG).encode()
    record = ""
    for name, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%%s,sha256=%%s,%%d\n" %% (name, digest, len(data))
    record += di + "RECORD,,\n"
    wheel = "%%s-%%s-%%s.whl" %% (mod, VERSION, TAG)
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
        z.writestr(di + "RECORD", record)
    return wheel

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    exec(HOOK)
    mod = _module()
    with open(os.path.join(mod, "__init__.py"), "rb") as f:
        return _wheel(wheel_directory, {mod + "/__init__.py": f.read()})

def get_requires_for_build_editable(config_settings=None):
    return []

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 660: a wheel whose .pth puts this source tree on sys.path."""
    return _wheel(wheel_directory, {"__editable__.%%s.pth" %% _module(): (os.path.abspath(".") + "\n").encode()})

def build_sdist(sdist_directory, config_settings=None):
    base = "%%s-%%s" %% (_module(), VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for path in ("pyproject.toml", "pipguard_test_backend.py", os.path.join(_module(), "__init__.py")):
            t.add(path, arcname=base + "/" + path)
        info = _metadata().encode()
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(info)
        t.addfile(ti, io.BytesIO(info))
    return name
`

func pyList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// SourceFiles is the project's source tree: pyproject.toml naming the
// in-tree backend, the backend, and the module.
func (p Project) SourceFiles() map[string]string {
	consts := fmt.Sprintf("%q, %q, %q, %q, %s, %q", p.Name, p.Version, p.tag(), p.RequiresPython, pyList(p.Requires), p.BuildHook)
	return map[string]string{
		"pyproject.toml": "[build-system]\nrequires = " + pyList(p.BuildRequires) + "\nbuild-backend = \"pipguard_test_backend\"\nbackend-path = [\".\"]\n\n" +
			fmt.Sprintf("[project]\nname = %q\nversion = %q\n", p.Name, p.Version),
		"pipguard_test_backend.py":  fmt.Sprintf(backend, consts),
		p.Module() + "/__init__.py": p.moduleSource(),
	}
}

// WriteSource writes SourceFiles into dir.
func (p Project) WriteSource(dir string) error {
	for name, body := range p.SourceFiles() {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Sdist returns the sdist's bytes: the source tree plus PKG-INFO.
func (p Project) Sdist() []byte {
	base := p.dist() + "-" + p.Version + "/"
	files := p.SourceFiles()
	files["PKG-INFO"] = p.Metadata()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: base + n, Mode: 0o644, Size: int64(len(files[n])), ModTime: epoch, Typeflag: tar.TypeReg})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// SPDX returns a minimal SPDX 2.3 JSON document describing the file.
func SPDX(fileName, sha256hex string) []byte {
	return []byte(fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":%q,`+
		`"documentNamespace":"https://example.com/spdx/%s","creationInfo":{"created":"2025-01-01T00:00:00Z","creators":["Tool: pipguard-pkgtest"]},`+
		`"packages":[{"SPDXID":"SPDXRef-Package","name":%q,"downloadLocation":"NOASSERTION","checksums":[{"algorithm":"SHA256","checksumValue":%q}]}]}`,
		fileName, sha256hex, fileName, sha256hex))
}
