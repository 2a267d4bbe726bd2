//go:build linux

package bench

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/gittest"
)

// fastImport feeds a git fast-import stream to the repository in dir.
func fastImport(b *testing.B, dir string, stream *bytes.Buffer) {
	b.Helper()
	cmd := exec.Command("git", "fast-import", "--quiet", "--done")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, gittest.Env(dir), stream
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, out)
	}
}

func git(b *testing.B, dir string, args ...string) string {
	b.Helper()
	out, err := gittest.Run(dir, args...)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// blob writes an inline file modification to a fast-import stream.
func blob(w *bytes.Buffer, path, body string) {
	fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", path, len(body), body)
}

func message(w *bytes.Buffer, when int64, msg string) {
	fmt.Fprintf(w, "committer Dev <dev@example.com> %d +0000\ndata %d\n%s\n", when, len(msg), msg)
}

var vocabulary = strings.Fields(`request response client server cache token digest verify release asset
bundle policy commit branch tag remote resolve install wheel sdist metadata record version config
option parse render format check audit report entry index lock stage timeout retry error result value
count limit path name source target header payload buffer stream reader writer session context handler`)

func word(r *rand.Rand) string { return vocabulary[r.IntN(len(vocabulary))] }

func hexWord(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

// function is one plausible Python function of about 1 KB, different at
// every revision.
func function(r *rand.Rand, fn, rev int) string {
	var s strings.Builder
	w0 := word(r)
	fmt.Fprintf(&s, "\n\ndef %s_%s_%d(%s, %s=None):\n", word(r), word(r), fn, word(r), word(r))
	fmt.Fprintf(&s, "    \"\"\"%s the %s of a %s from its %s (revision %d).\"\"\"\n", strings.ToUpper(w0[:1])+w0[1:], word(r), word(r), word(r), rev)
	for i, n := 0, 12+r.IntN(16); i < n; i++ {
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&s, "    %s_%d = %s(%q, %d)\n", word(r), i, word(r), hexWord(r, 12), r.IntN(100000))
		case 1:
			fmt.Fprintf(&s, "    if %s_%d > %d:\n        return %s\n", word(r), i, r.IntN(1000), word(r))
		case 2:
			fmt.Fprintf(&s, "    %s.%s(%s, key=%q)\n", word(r), word(r), word(r), word(r)+"-"+hexWord(r, 6))
		default:
			fmt.Fprintf(&s, "    # %s %s %s %s %s\n", word(r), word(r), word(r), word(r), word(r))
		}
	}
	s.WriteString("    return None\n")
	return s.String()
}

func pyproject(name, version string) string {
	return fmt.Sprintf(`[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = %q
version = %q
description = "A project with a long history, for pipguard's benchmarks"
readme = "README.md"
requires-python = ">=3.8"
license = {text = "MIT"}

[tool.setuptools]
packages = [%q]
`, name, version, name)
}

// history is what makeHistory made.
type history struct {
	Commits  int
	PackSize int64
	Tag      string
}

// makeHistory imports a setuptools project with commits commits into the
// repository at dir (on main, after its existing commit): modules modules
// of 20 functions each, every commit rewriting one function, a lightweight
// tag v0.N.0 every 100 commits (bumping the version) and the last commit
// annotated-tagged "v"+version. Then it repacks as a server would and
// enables partial clone (GitHub serves --filter=blob:none, which pip uses).
func makeHistory(b *testing.B, dir, name, version string, commits, modules int) history {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	const perModule = 20
	mods := make([][]string, modules)
	var w bytes.Buffer
	when := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	render := func(m int) string {
		return fmt.Sprintf("\"\"\"%s.mod_%02d: %s %s.\"\"\"\nimport os\nimport sys\n", name, m, word(r), word(r)) + strings.Join(mods[m], "")
	}
	// The first commit: the whole tree.
	fmt.Fprintf(&w, "commit refs/heads/main\nmark :1\n")
	message(&w, when, "Initial import")
	fmt.Fprintf(&w, "from %s\nD file.txt\n", git(b, dir, "rev-parse", "HEAD"))
	blob(&w, "pyproject.toml", pyproject(name, "0.0.1"))
	blob(&w, "README.md", "# "+name+"\n\nA project with a long history.\n")
	blob(&w, "LICENSE", "MIT License\n\nCopyright (c) 2019 Dev\n")
	blob(&w, name+"/__init__.py", "\"\"\""+name+".\"\"\"\n")
	for m := range mods {
		for f := 0; f < perModule; f++ {
			mods[m] = append(mods[m], function(r, f, 0))
		}
		blob(&w, fmt.Sprintf("%s/mod_%02d.py", name, m), render(m))
		blob(&w, fmt.Sprintf("tests/test_mod_%02d.py", m), fmt.Sprintf("import %s.mod_%02d\n\n\ndef test_import():\n    assert %s.mod_%02d\n", name, m, name, m))
	}
	for c := 2; c <= commits; c++ {
		when += 3600 + int64(r.IntN(48*3600))
		m, f := r.IntN(modules), r.IntN(perModule)
		mods[m][f] = function(r, f, c)
		fmt.Fprintf(&w, "commit refs/heads/main\nmark :%d\n", c)
		message(&w, when, fmt.Sprintf("mod_%02d: rework %s handling (#%d)", m, word(r), c))
		blob(&w, fmt.Sprintf("%s/mod_%02d.py", name, m), render(m))
		if c == commits {
			blob(&w, "pyproject.toml", pyproject(name, version))
			blob(&w, name+"/__init__.py", fmt.Sprintf("\"\"\"%s.\"\"\"\n__version__ = %q\n", name, version))
			msg := "release v" + version
			fmt.Fprintf(&w, "\ntag v%s\nfrom :%d\ntagger Dev <dev@example.com> %d +0000\ndata %d\n%s", version, c, when, len(msg), msg)
		} else if c%100 == 0 {
			v := fmt.Sprintf("0.%d.0", c/100)
			blob(&w, "pyproject.toml", pyproject(name, v))
			fmt.Fprintf(&w, "\nreset refs/tags/v%s\nfrom :%d\n", v, c)
		}
		w.WriteString("\n")
	}
	w.WriteString("done\n")
	fastImport(b, dir, &w)
	git(b, dir, "reset", "-q", "--hard", "main")
	git(b, dir, "repack", "-a", "-d", "-f", "-q", "--window=50", "--depth=50")
	git(b, dir, "prune-packed")
	git(b, dir, "config", "uploadpack.allowFilter", "true")
	h := history{Tag: "v" + version}
	fmt.Sscan(git(b, dir, "rev-list", "--count", h.Tag), &h.Commits)
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil {
			h.PackSize += fi.Size()
		}
	}
	return h
}

// makeRefs imports commits commits into the repository at dir and points
// tags tags (v0.0.0 …, every other one annotated) and branches branches
// (feature/…) at them, then packs the refs, as a server keeps them.
func makeRefs(b *testing.B, dir string, commits, tags, branches int) {
	b.Helper()
	var w bytes.Buffer
	when := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for c := 1; c <= commits; c++ {
		fmt.Fprintf(&w, "commit refs/heads/main\nmark :%d\n", c)
		message(&w, when+int64(c)*3600, fmt.Sprintf("change %d", c))
		if c == 1 {
			fmt.Fprintf(&w, "from %s\n", git(b, dir, "rev-parse", "HEAD"))
		}
		blob(&w, "file.txt", fmt.Sprintf("change %d\n", c))
		w.WriteString("\n")
	}
	for i := 0; i < tags; i++ {
		name := fmt.Sprintf("v%d.%d.%d", i/1000, i/10%100, i%10)
		mark := i%commits + 1
		if i%2 == 0 {
			msg := "release " + name
			fmt.Fprintf(&w, "tag %s\nfrom :%d\ntagger Dev <dev@example.com> %d +0000\ndata %d\n%s\n", name, mark, when, len(msg), msg)
		} else {
			fmt.Fprintf(&w, "reset refs/tags/%s\nfrom :%d\n\n", name, mark)
		}
	}
	for i := 0; i < branches; i++ {
		fmt.Fprintf(&w, "reset refs/heads/feature/%s-%04d\nfrom :%d\n\n", vocabulary[i%len(vocabulary)], i, i%commits+1)
	}
	w.WriteString("done\n")
	fastImport(b, dir, &w)
	git(b, dir, "reset", "-q", "--hard", "main")
	git(b, dir, "pack-refs", "--all")
}

// auditSite writes n installed distributions into site as pip leaves
// them: METADATA, INSTALLER, WHEEL, RECORD, top_level.txt, REQUESTED for
// some, direct_url.json for archives (with a hash) and git installs (with a
// full commit), and the package's module.
func auditSite(b *testing.B, site string, n int) {
	b.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		name, version := fmt.Sprintf("bench_pkg_%05d", i), fmt.Sprintf("%d.%d.%d", 1+r.IntN(5), r.IntN(20), r.IntN(10))
		di := filepath.Join(site, name+"-"+version+".dist-info")
		pkg := filepath.Join(site, name)
		for _, d := range []string{di, pkg} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		var meta strings.Builder
		fmt.Fprintf(&meta, "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: The %s %s library\nHome-page: https://example.com/%s\n"+
			"Author: Dev\nAuthor-email: dev@example.com\nLicense: MIT\nClassifier: Programming Language :: Python :: 3\nClassifier: License :: OSI Approved :: MIT License\n"+
			"Requires-Python: >=3.8\n", name, version, word(r), word(r), name)
		for j := 0; j < 3; j++ {
			fmt.Fprintf(&meta, "Requires-Dist: bench-pkg-%05d>=1.0\n", r.IntN(n))
		}
		fmt.Fprintf(&meta, "Provides-Extra: test\nRequires-Dist: pytest; extra == \"test\"\nDescription-Content-Type: text/markdown\n\n# %s\n\n", name)
		for j := 0; j < 8; j++ {
			fmt.Fprintf(&meta, "The %s %s a %s for every %s.\n", word(r), word(r), word(r), word(r))
		}
		write(filepath.Join(di, "METADATA"), meta.String())
		write(filepath.Join(di, "INSTALLER"), "pip\n")
		write(filepath.Join(di, "WHEEL"), "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.38.4)\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
		write(filepath.Join(di, "top_level.txt"), name+"\n")
		module := fmt.Sprintf("VERSION = %q\n", version)
		write(filepath.Join(pkg, "__init__.py"), module)
		base := filepath.Base(di)
		sum := sha256.Sum256([]byte(module))
		record := fmt.Sprintf("%s/__init__.py,sha256=%s,%d\n%s/INSTALLER,,\n%s/METADATA,,\n%s/WHEEL,,\n%s/top_level.txt,,\n",
			name, base64.RawURLEncoding.EncodeToString(sum[:]), len(module), base, base, base, base)
		switch {
		case i%20 == 0:
			write(filepath.Join(di, "direct_url.json"), fmt.Sprintf(`{"url": "https://github.com/acme/%s.git", "vcs_info": {"vcs": "git", "commit_id": "%s", "requested_revision": "v%s"}}`, name, hexWord(r, 40), version))
			record += base + "/direct_url.json,,\n"
		case i%10 == 1:
			write(filepath.Join(di, "direct_url.json"), fmt.Sprintf(`{"url": "https://files.example.com/%s-%s-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "%s"}}}`, name, version, hexWord(r, 64)))
			record += base + "/direct_url.json,,\n"
		}
		if i%3 == 0 {
			write(filepath.Join(di, "REQUESTED"), "")
			record += base + "/REQUESTED,,\n"
		}
		write(filepath.Join(di, "RECORD"), record+base+"/RECORD,,\n")
	}
}

// bigWheel is a valid wheel of about size bytes: one stored (uncompressed)
// data file of pseudo-random bytes beside the module and dist-info.
func bigWheel(b *testing.B, name, version string, size int) []byte {
	b.Helper()
	block := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(block)
	h := sha256.New()
	for n := 0; n < size; n += len(block) {
		h.Write(block[:min(len(block), size-n)])
	}
	dataPath := name + "/data.bin"
	di := name + "-" + version + ".dist-info/"
	files := []struct{ name, body string }{
		{name + "/__init__.py", fmt.Sprintf("VERSION = %q\n", version)},
		{di + "METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version)},
		{di + "WHEEL", "Wheel-Version: 1.0\nGenerator: pipguard-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		s := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(s[:]), len(f.body))
	}
	fmt.Fprintf(&record, "%s,sha256=%s,%d\n%sRECORD,,\n", dataPath, base64.RawURLEncoding.EncodeToString(h.Sum(nil)), size, di)

	var buf bytes.Buffer
	buf.Grow(size + 1<<16)
	zw := zip.NewWriter(&buf)
	for _, f := range files[:1] {
		fw, _ := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		fw.Write([]byte(f.body))
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: dataPath, Method: zip.Store})
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < size; n += len(block) {
		fw.Write(block[:min(len(block), size-n)])
	}
	for _, f := range files[1:] {
		fw, _ := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		fw.Write([]byte(f.body))
	}
	fw, _ = zw.CreateHeader(&zip.FileHeader{Name: di + "RECORD", Method: zip.Deflate})
	fw.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
