package installer

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// The attacks an attacker's-eye review of "pipguard holds every byte"
// found (each passed, exit 0, before its fix), kept as tests.

func recordRow(name, body string) string {
	s := sha256.Sum256([]byte(body))
	return fmt.Sprintf("%s,sha256=%s,%d\n", name, base64.RawURLEncoding.EncodeToString(s[:]), len(body))
}

// An index wheel that adds a new file inside the verified package, a
// package directory that Python imports before the verified demo/core.py,
// is refused before pip runs (no existing path is written, yet the verified
// code would be the wheel's).
func TestAWheelCannotShadowAVerifiedModule(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/core.py": "SAFE = True\n"}}})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "evil", Version: "1.0", Files: map[string]string{"demo/core/__init__.py": "SAFE = 'attacker'\n"}})
	ix.Add(pkgtest.Project{Name: "evil2", Version: "1.0", Files: map[string]string{"demo/extra.py": "X = 1\n"}})
	ix.Add(pkgtest.Project{Name: "evil3", Version: "1.0", Files: map[string]string{"demo/core.abi3.so": "\x7fELF"}})
	prefix := prefixOf(w.python)
	for _, evil := range []string{"evil", "evil2", "evil3"} {
		t.Run(evil, func(t *testing.T) {
			before := prefixState(t, prefix)
			_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), evil + "==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
			var ce *ConflictError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "demo's module") {
				t.Fatalf("err = %v\n%s", err, w.out.String())
			}
			sameState(t, before, prefixState(t, prefix))
		})
	}
}

// pip's uninstall of a replaced distribution removes whatever its
// installed RECORD lists (pip copies a wheel's RECORD rows as they are):
// a RECORD that names the verified package's file and the venv's
// pyvenv.cfg is refused before pip runs, and both stay.
func TestUninstallCannotRemoveWhatOthersOwn(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "evil", Version: "1.0"})
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	di := "evil-0.9.dist-info/"
	m := map[string]string{"evil/__init__.py": "X=1\n", di + "METADATA": "Metadata-Version: 2.1\nName: evil\nVersion: 0.9\n", di + "WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
	m[di+"RECORD"] = recordRow("evil/__init__.py", m["evil/__init__.py"]) + recordRow(di+"METADATA", m[di+"METADATA"]) + recordRow(di+"WHEEL", m[di+"WHEEL"]) +
		"demo/__init__.py,,\n../../../pyvenv.cfg,,\n" + di + "RECORD,,\n"
	p := filepath.Join(t.TempDir(), "evil-0.9-py3-none-any.whl")
	os.WriteFile(p, rawWheel(t, m), 0o644)
	if out, err := exec.Command(w.python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", p).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "evil==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "pyvenv.cfg") || !strings.Contains(err.Error(), "belongs to demo") {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	sameState(t, before, prefixState(t, prefix))
}

// polyglot is one file that Go's archive/zip reads as a and Python's
// zipfile (pip's) reads as b.
func polyglot(t *testing.T, a, b map[string]string) []byte {
	t.Helper()
	stored := func(members map[string]string, off int64, method uint16) []byte {
		var buf bytes.Buffer
		z := zip.NewWriter(&buf)
		z.SetOffset(off)
		for _, n := range sortedKeys(members) {
			f, err := z.CreateHeader(&zip.FileHeader{Name: n, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte(members[n]))
		}
		z.Close()
		return buf.Bytes()
	}
	le32 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24 }
	A := stored(a, 0, zip.Store)
	eocd := A[len(A)-22:]
	dirA, sizeA := le32(eocd[16:]), le32(eocd[12:])
	B0 := stored(b, 0, zip.Deflate)
	localsB := le32(B0[len(B0)-22+16:])
	off := int64(dirA - localsB)
	if off < 0 {
		t.Fatalf("a's members must be larger than b's")
	}
	return append(append([]byte{}, A[:dirA+sizeA]...), stored(b, off, zip.Deflate)...)
}

func wheelMembers(name, version string, files map[string]string) map[string]string {
	di := name + "-" + version + ".dist-info/"
	m := map[string]string{di + "METADATA": "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n", di + "WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
	for k, v := range files {
		m[k] = v
	}
	var rec strings.Builder
	for _, n := range sortedKeys(m) {
		rec.WriteString(recordRow(n, m[n]))
	}
	m[di+"RECORD"] = rec.String() + di + "RECORD,,\n"
	return m
}

// A wheel that Go reads as one archive and pip as another (archive A, then
// archive B whose offsets count from the start of the file) is refused
// before pip runs: otherwise pipguard plans and checks A while pip installs
// B over the verified package and pyvenv.cfg.
func TestAWheelPipReadsDifferentlyIsRefused(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}}); err != nil {
		t.Fatalf("%v\n%s", err, w.out.String())
	}
	pad := strings.Repeat("pad ", 4000)
	a := wheelMembers("evil", "1.0", map[string]string{"evil/__init__.py": "X = 1\n", "evil/pad.txt": pad, "evil/a.txt": "a", "evil/b.txt": "b"})
	b := wheelMembers("evil", "1.0", map[string]string{"evil/__init__.py": "X = 1\n", "evil/pad.txt": pad, "demo/__init__.py": "VERSION = 'attacker'\n", "evil-1.0.data/data/pyvenv.cfg": "home = /nonexistent\n"})
	dir := t.TempDir()
	path := filepath.Join(dir, "evil-1.0-py3-none-any.whl")
	os.WriteFile(path, polyglot(t, a, b), 0o644)
	// The two readers do disagree on this file.
	out, err := exec.Command(w.python, "-c", "import sys, zipfile; print('demo/__init__.py' in zipfile.ZipFile(sys.argv[1]).namelist())", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Fatalf("Python's zipfile does not see archive b: %v %s", err, out)
	}
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	_, err = w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "evil==1.0"}, PipArgs: []string{"--find-links", dir}})
	var we *WheelError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), "central directory") {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	sameState(t, before, prefixState(t, prefix))
}

// A .pth file an index wheel installed runs no code in pipguard's own
// interpreter process (pipguard runs it with -S): one that would rewrite
// the verified package at the driver's exit, after the check, does
// nothing.
func TestAPthFileDoesNotRunInPipguardsInterpreter(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{})
	ix := pkgtest.NewIndex(t)
	target := filepath.Join(w.site, "demo", "__init__.py")
	witness := filepath.Join(t.TempDir(), "pth-ran")
	code := `import atexit, os, sys; open(` + jsonString(witness) + `, "a").write("ran\n"); atexit.register(lambda: "pip._internal" in sys.modules and os.path.exists(` + jsonString(target) + `) and open(` + jsonString(target) + `, "w").write("VERSION = 'attacker'\n"))` + "\n"
	ix.Add(pkgtest.Project{Name: "helper", Version: "1.0", Files: map[string]string{"zz_helper.pth": code}})
	if _, err := w.install(t, InstallOptions{Requirements: []string{"helper==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}}); err != nil {
		t.Fatalf("run 1: %v\n%s", err, w.out.String())
	}
	os.Remove(witness)
	if _, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0")}, PipArgs: []string{"--index-url", ix.SimpleURL()}}); err != nil {
		t.Fatalf("run 2: %v\n%s", err, w.out.String())
	}
	if b, _ := os.ReadFile(target); strings.Contains(string(b), "attacker") {
		t.Error("the .pth file's code rewrote the verified package after the check")
	}
	if _, err := os.Stat(witness); err == nil {
		t.Error("the .pth file ran in pipguard's interpreter")
	}
}
