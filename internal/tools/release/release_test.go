package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/sums"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdxlib"
)

// commitTime is when the test's commits were made: the SBOMs must be dated
// by it, not by the clock.
var commitTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestReproducible runs what make release runs, for one platform, twice:
// on two copies of the source at different paths, committed as the same
// commit and tagged v1.2.3, into two output directories. Every byte of the
// binary, its SBOM and SHA256SUMS must be equal; the binary must say the
// tag and the commit; the SBOM must list the modules linked into it and be
// dated by the commit.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pipguard twice")
	}
	for _, tool := range []string{"go", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx := t.Context()
	p := platforms[0]
	for _, q := range platforms {
		if q.GOOS == runtime.GOOS && q.GOARCH == runtime.GOARCH {
			p = q // one the test can run
		}
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	inputs := buildInputs(t, root, p)

	tmp := t.TempDir()
	srcA := filepath.Join(tmp, "a", "src")
	srcB := filepath.Join(tmp, "b", "a-longer", "path", "to", "pipguard")
	var commits []string
	for _, dir := range []string{srcA, srcB} {
		copyFiles(t, root, dir, inputs)
		commits = append(commits, commitAndTag(t, dir, "v1.2.3"))
	}
	if commits[0] != commits[1] {
		t.Fatalf("the two copies are commits %s and %s; the test needs one commit", commits[0], commits[1])
	}
	commit := commits[0]

	outA, outB := filepath.Join(tmp, "a", "dist"), filepath.Join(tmp, "b", "out")
	var logA, logB bytes.Buffer
	start := time.Now()
	artsA, err := release(ctx, options{Src: srcA, Out: outA, Platforms: []platform{p}, Log: &logA})
	if err != nil {
		t.Fatalf("release from %s: %v\n%s", srcA, err, logA.String())
	}
	t.Logf("first build: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	artsB, err := release(ctx, options{Src: srcB, Out: outB, Platforms: []platform{p}, Log: &logB})
	if err != nil {
		t.Fatalf("release from %s: %v\n%s", srcB, err, logB.String())
	}
	t.Logf("second build: %v", time.Since(start).Round(time.Millisecond))

	want := []string{"SHA256SUMS", p.binary(), p.sbom()}
	if names := names(artsA); !slices.Equal(names, want) {
		t.Fatalf("release wrote %v, want %v", names, want)
	}
	if names := dirNames(t, outA); !slices.Equal(names, want) {
		t.Fatalf("%s holds %v, want %v", outA, names, want)
	}
	for i, a := range artsA {
		b := artsB[i]
		if a != b {
			t.Errorf("not reproducible: %s is %d bytes sha256:%s from %s, %d bytes sha256:%s from %s", a.Name, a.Size, a.SHA256, srcA, b.Size, b.SHA256, srcB)
		}
		dataA, errA := os.ReadFile(filepath.Join(outA, a.Name))
		dataB, errB := os.ReadFile(filepath.Join(outB, a.Name))
		if errA != nil || errB != nil || !bytes.Equal(dataA, dataB) {
			t.Errorf("%s differs between the two builds (%v, %v)", a.Name, errA, errB)
		}
		for _, path := range []string{srcA, srcB, tmp} {
			if bytes.Contains(dataA, []byte(path)) {
				t.Errorf("%s holds the build's path %s", a.Name, path)
			}
		}
	}

	bin := filepath.Join(outA, p.binary())
	checkSums(t, outA, want[1:])
	checkSBOM(t, bin, filepath.Join(outA, p.sbom()), commit)

	if p.GOOS != runtime.GOOS || p.GOARCH != runtime.GOARCH {
		t.Logf("cannot run a %s binary here; its version is not checked", p)
		return
	}
	line := "pipguard v1.2.3 (commit " + commit + ", " + runtime.Version() + ", " + p.String() + ")\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil || string(out) != line {
			t.Errorf("pipguard %s = %q, %v; want %q", args[0], out, err, line)
		}
	}
	out, err := exec.CommandContext(ctx, bin, "version", "--format", "json").Output()
	var v map[string]string
	if err == nil {
		err = json.Unmarshal(out, &v)
	}
	if err != nil || v["schema"] != "pipguard.version/v1" || v["version"] != "v1.2.3" || v["commit"] != commit {
		t.Errorf("pipguard version --format json = %s, %v", out, err)
	}

	t.Run("the README's pipguard verify verifies the release", func(t *testing.T) { verifyOwnRelease(t, bin, outA) })
}

// TestDescribe: the version is the tag on the commit, else a Go
// pseudo-version of it, marked +dirty when the checkout has changes.
func TestDescribe(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	ctx := t.Context()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commit := commitAndTag(t, dir, "")
	describeAs := func(want string) {
		t.Helper()
		s, err := describe(ctx, options{Src: dir})
		if err != nil {
			t.Fatal(err)
		}
		if s.Version != want || s.Commit != commit || !s.Time.Equal(commitTime) {
			t.Errorf("describe = %+v, want version %s, commit %s, time %s", s, want, commit, commitTime)
		}
	}
	describeAs("v0.0.0-20260102030405-" + commit[:12])
	runGit(t, dir, "tag", "not-a-version")
	describeAs("v0.0.0-20260102030405-" + commit[:12])
	runGit(t, dir, "tag", "v0.9.0")
	describeAs("v0.9.0")
	if err := os.WriteFile(filepath.Join(dir, "new.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	describeAs("v0.9.0+dirty")

	epoch := int64(0)
	s, err := describe(ctx, options{Src: dir, Version: "v9.9.9", Epoch: &epoch})
	if err != nil || s.Version != "v9.9.9" || !s.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("describe with -version and SOURCE_DATE_EPOCH = %+v, %v", s, err)
	}
}

// TestPrepareOutRefusesTheSource: the output directory is replaced, so it
// can never be the checkout or hold it.
func TestPrepareOutRefusesTheSource(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, out := range []string{src, dir} {
		if _, err := prepareOut(src, out); err == nil {
			t.Errorf("prepareOut(%s, %s) = nil error", src, out)
		}
	}
	out := filepath.Join(src, "dist")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "stale"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareOut(src, out); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, out); len(names) != 0 {
		t.Errorf("%s still holds %v", out, names)
	}
}

// checkSums: SHA256SUMS lists exactly the binary and its SBOM, as pipguard
// itself reads checksum files.
func checkSums(t *testing.T, dir string, listed []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sums.Parse(data)
	if err != nil {
		t.Fatalf("SHA256SUMS: %v\n%s", err, data)
	}
	if len(s) != len(listed) {
		t.Errorf("SHA256SUMS lists %d files, want %v:\n%s", len(s), listed, data)
	}
	for _, name := range listed {
		f, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if d := sha256.Sum256(f); s[name] != hex.EncodeToString(d[:]) {
			t.Errorf("SHA256SUMS says %s is %q, it is %x", name, s[name], d)
		}
	}
}

// checkSBOM: the SBOM is SPDX 2.3 JSON that the SPDX library reads back,
// describes the binary by its digest, and lists every module the binary's
// build information says was linked, with its version, go.sum hash and
// package URL; it is dated by the commit.
func checkSBOM(t *testing.T, bin, path, commit string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := spdxjson.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("%s: %v", path, err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" {
		t.Errorf("SBOM is %s / %s, want SPDX-2.3 / CC0-1.0", doc.SPDXVersion, doc.DataLicense)
	}
	if got := doc.CreationInfo.Created; got != "2026-01-02T03:04:05Z" {
		t.Errorf("SBOM created %q, want the commit's time 2026-01-02T03:04:05Z", got)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 {
		t.Fatalf("SBOM describes %v, %v; want the binary", described, err)
	}
	byID := map[spdx.ElementID]*spdx.Package{}
	byName := map[string]*spdx.Package{}
	for _, p := range doc.Packages {
		byID[p.PackageSPDXIdentifier] = p
		byName[p.PackageName] = p
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	main := byID[described[0]]
	if main == nil || main.PackageFileName != filepath.Base(bin) || main.PackageVersion != "v1.2.3" ||
		len(main.PackageChecksums) != 1 || main.PackageChecksums[0].Value != hex.EncodeToString(digest[:]) ||
		!strings.Contains(main.PackageDownloadLocation, commit) {
		t.Errorf("the described package is %+v; want %s v1.2.3 at commit %s, sha256 %x", main, filepath.Base(bin), commit, digest)
	}

	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(bi.Deps) < 10 {
		t.Fatalf("the binary links %d modules; go-git, sigstore-go and more expected", len(bi.Deps))
	}
	if len(doc.Packages) != len(bi.Deps)+2 {
		t.Errorf("SBOM has %d packages, want the binary, stdlib and %d modules", len(doc.Packages), len(bi.Deps))
	}
	for _, m := range append(bi.Deps, &bi.Main) {
		if m.Replace != nil {
			m = m.Replace
		}
		p := byName[m.Path]
		if p == nil {
			t.Errorf("SBOM has no package for linked module %s", m.Path)
			continue
		}
		if m == &bi.Main {
			continue
		}
		c, _ := h1Checksum(m.Sum)
		if p.PackageVersion != m.Version || len(p.PackageChecksums) != 1 || p.PackageChecksums[0] != c {
			t.Errorf("SBOM package %s = %s %v, want %s %v (%s)", m.Path, p.PackageVersion, p.PackageChecksums, m.Version, c, m.Sum)
		}
		if len(p.PackageExternalReferences) == 0 || p.PackageExternalReferences[0].Locator != "pkg:golang/"+m.Path+"@"+strings.ReplaceAll(m.Version, "+", "%2B") {
			t.Errorf("SBOM package %s has references %v", m.Path, p.PackageExternalReferences)
		}
	}
	if p := byName["stdlib"]; p == nil || "go"+p.PackageVersion != bi.GoVersion {
		t.Errorf("SBOM's stdlib package is %+v, want %s", p, bi.GoVersion)
	}
}

// buildInputs lists what go build reads from the module to build pipguard
// for p: go.mod, go.sum and the Go, assembly and embedded files of every
// package of the module it imports.
func buildInputs(t *testing.T, root string, p platform) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,SFiles,EmbedFiles,Module,Standard", mainPackage)
	cmd.Dir, cmd.Env = root, buildEnv(p)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderrOf(err))
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var pkg struct {
			Dir                         string
			GoFiles, SFiles, EmbedFiles []string
			Standard                    bool
			Module                      *struct{ Main bool }
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		if pkg.Standard || pkg.Module == nil || !pkg.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, pkg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(pkg.GoFiles, pkg.SFiles, pkg.EmbedFiles) {
			files = append(files, filepath.Join(rel, f))
		}
	}
	return files
}

func copyFiles(t *testing.T, from, to string, files []string) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(to, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// commitAndTag commits everything in dir as one commit that is the same
// wherever dir is (same tree, author, dates and message), tags it when tag
// is set, and returns it.
func commitAndTag(t *testing.T, dir, tag string) string {
	t.Helper()
	runGit(t, dir, "init", "-q", "-b", "main")
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "commit", "-q", "-m", "release")
	if tag != "" {
		runGit(t, dir, "tag", tag)
	}
	return runGit(t, dir, "rev-parse", "HEAD")
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	date := commitTime.Format(time.RFC3339)
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=pipguard", "GIT_AUTHOR_EMAIL=release@example.invalid", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=pipguard", "GIT_COMMITTER_EMAIL=release@example.invalid", "GIT_COMMITTER_DATE="+date)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func names(arts []artifact) []string {
	var n []string
	for _, a := range arts {
		n = append(n, a.Name)
	}
	return n
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}
