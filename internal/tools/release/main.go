// Command release builds pipguard's release into dist/, the way its release
// workflow (.github/workflows/release.yml) publishes it: static binaries for
// linux and darwin on amd64 and arm64 (pipguard_GOOS_GOARCH), one SPDX 2.3
// JSON SBOM per binary made from the modules linked into it
// (pipguard_GOOS_GOARCH.spdx.json), and SHA256SUMS over all of them.
//
// make release runs it. The version is the tag on HEAD (git describe --tags
// --exact-match), else a Go pseudo-version of the commit, with "+dirty" when
// the working tree has changes; it and the commit are stamped into the
// binary with -ldflags -X, and SOURCE_DATE_EPOCH (default: the commit's
// time) dates the SBOMs. Nothing else of the machine, the checkout's path or
// the clock reaches the output: two runs on the same commit write the same
// bytes (TestReproducible).
//
// It trusts the go command on PATH and the module cache (go.sum pins every
// module; -mod=readonly refuses to change go.mod).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
)

// platform is a GOOS/GOARCH pair the release ships a binary for.
type platform struct{ GOOS, GOARCH string }

// platforms are the release's binaries. The release workflow attests
// exactly these (TestWorkflowAttestsEveryBinary).
var platforms = []platform{
	{"linux", "amd64"},
	{"linux", "arm64"},
	{"darwin", "amd64"},
	{"darwin", "arm64"},
}

func (p platform) String() string { return p.GOOS + "/" + p.GOARCH }

// binary is the release asset's name: pipguard_linux_amd64.
func (p platform) binary() string { return "pipguard_" + p.GOOS + "_" + p.GOARCH }

// sbom is the name of the binary's SPDX SBOM: pipguard_linux_amd64.spdx.json.
func (p platform) sbom() string { return p.binary() + ".spdx.json" }

// mainPackage is what the release builds.
const mainPackage = "./cmd/pipguard"

// options say what to build, from where, into where.
type options struct {
	// Src is the module's root directory (the git checkout).
	Src string
	// Out is the output directory; it is replaced.
	Out string
	// Platforms to build; default all of platforms.
	Platforms []platform
	// Version, Commit and Epoch override what git says.
	Version, Commit string
	Epoch           *int64
	// Log receives progress (the go command's own output included).
	Log io.Writer
}

// source is what is built: the version stamped into the binaries, the
// commit, and the time the SBOMs are dated.
type source struct {
	Version, Commit string
	Time            time.Time
}

// artifact is a file the release wrote.
type artifact struct {
	Name   string
	Size   int64
	SHA256 string
}

func main() {
	out := flag.String("out", "dist", "output `DIR` (replaced)")
	only := flag.String("platforms", "", "comma-separated GOOS/GOARCH `LIST` (default: all the release ships)")
	version := flag.String("version", "", "version to stamp (default: the tag on HEAD, else a pseudo-version)")
	commit := flag.String("commit", "", "commit to stamp (default: HEAD)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected argument %q", flag.Arg(0)), "usage: go run ./internal/tools/release [-out DIR] [-platforms linux/amd64,...]")
	}
	o := options{Src: ".", Out: *out, Version: *version, Commit: *commit, Log: os.Stderr}
	if *only != "" {
		ps, err := parsePlatforms(*only)
		if err != nil {
			fail(err, "platforms the release ships: "+fmt.Sprint(platforms))
		}
		o.Platforms = ps
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			fail(fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s), "unset it to date the SBOMs by the commit")
		}
		o.Epoch = &n
	}
	arts, err := release(context.Background(), o)
	if err != nil {
		fail(err, "")
	}
	for _, a := range arts {
		fmt.Printf("%10d  %s\n", a.Size, filepath.Join(o.Out, a.Name))
	}
}

func fail(err error, hint string) {
	fmt.Fprintf(os.Stderr, "release: error: %v\n", err)
	if hint != "" {
		fmt.Fprintf(os.Stderr, "release: hint: %s\n", hint)
	}
	os.Exit(1)
}

func parsePlatforms(list string) ([]platform, error) {
	var ps []platform
	for _, s := range strings.Split(list, ",") {
		var found bool
		for _, p := range platforms {
			if p.String() == strings.TrimSpace(s) {
				ps, found = append(ps, p), true
			}
		}
		if !found {
			return nil, fmt.Errorf("the release ships no binary for %q", s)
		}
	}
	return ps, nil
}

// release builds every platform's binary and SBOM into o.Out, then
// SHA256SUMS, and returns what it wrote, sorted by name.
func release(ctx context.Context, o options) ([]artifact, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if len(o.Platforms) == 0 {
		o.Platforms = platforms
	}
	src, err := describe(ctx, o)
	if err != nil {
		return nil, err
	}
	out, err := prepareOut(o.Src, o.Out)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "release: pipguard %s (commit %s, dated %s)\n", src.Version, src.Commit, src.Time.Format(time.RFC3339))
	var names []string
	for _, p := range o.Platforms {
		bin := filepath.Join(out, p.binary())
		fmt.Fprintf(o.Log, "release: building %s\n", p.binary())
		if err := build(ctx, o, p, src, bin); err != nil {
			return nil, err
		}
		if err := writeSBOM(bin, filepath.Join(out, p.sbom()), p, src); err != nil {
			return nil, err
		}
		names = append(names, p.binary(), p.sbom())
	}
	sort.Strings(names)
	arts, err := writeSums(out, names)
	if err != nil {
		return nil, err
	}
	return arts, nil
}

// prepareOut empties (or makes) the output directory, refusing one that
// holds the source.
func prepareOut(src, out string) (string, error) {
	absSrc, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(absOut, absSrc); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return "", fmt.Errorf("output directory %s holds the source %s; it would be removed", out, src)
	}
	if err := os.RemoveAll(absOut); err != nil {
		return "", err
	}
	return absOut, os.MkdirAll(absOut, 0o755)
}

// describe finds the version, commit and date to build with: the flags,
// else git.
func describe(ctx context.Context, o options) (source, error) {
	var s source
	s.Version, s.Commit = o.Version, o.Commit
	if s.Commit == "" {
		c, err := git(ctx, o.Src, "rev-parse", "HEAD")
		if err != nil {
			return s, fmt.Errorf("finding the commit to release: %w", err)
		}
		s.Commit = c
	}
	if o.Epoch != nil {
		s.Time = time.Unix(*o.Epoch, 0).UTC()
	} else {
		ct, err := git(ctx, o.Src, "log", "-1", "--format=%ct", s.Commit)
		if err != nil {
			return s, fmt.Errorf("finding the commit's time: %w", err)
		}
		n, err := strconv.ParseInt(ct, 10, 64)
		if err != nil {
			return s, fmt.Errorf("commit time %q: %w", ct, err)
		}
		s.Time = time.Unix(n, 0).UTC()
	}
	if s.Version == "" {
		if tag, err := git(ctx, o.Src, "describe", "--tags", "--exact-match", "--match", "v[0-9]*", s.Commit); err == nil {
			s.Version = tag
		} else {
			// A Go pseudo-version, as go install would name the commit.
			s.Version = "v0.0.0-" + s.Time.Format("20060102150405") + "-" + s.Commit[:min(12, len(s.Commit))]
		}
		status, err := git(ctx, o.Src, "status", "--porcelain")
		if err != nil {
			return s, err
		}
		if status != "" {
			s.Version += "+dirty"
		}
	}
	return s, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// buildEnv is the environment of go build: the caller's, minus everything
// that would change the binary, plus the release's settings.
func buildEnv(p platform) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOAMD64", "GOARM64", "GOEXPERIMENT", "GOWORK", "GODEBUG":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOOS="+p.GOOS, "GOARCH="+p.GOARCH,
		// Static: no cgo, so no C toolchain or libc is linked in.
		"CGO_ENABLED=0",
		// The baseline instruction sets, whatever the caller's defaults.
		"GOAMD64=v1", "GOARM64=v8.0",
		// The go.mod and go.sum of the commit, nothing else; -modcacherw
		// only lets a scratch module cache be removed (.ci/run).
		"GOWORK=off", "GOFLAGS=-mod=readonly -modcacherw", "GOEXPERIMENT=",
	)
}

// buildArgs are go build's arguments for one binary.
//
// -trimpath leaves no path of the machine in the binary; -buildvcs=false
// leaves out what git says about the checkout (its dirty state counts
// untracked files): the version and commit are stamped instead, and the
// SBOM records both. -s -w drop the symbol table and DWARF (the Go build
// information, which go version -m and govulncheck read, stays).
func buildArgs(src source, out string) []string {
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", src.Version, src.Commit)
	return []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=" + ldflags, "-o", out, mainPackage}
}

func build(ctx context.Context, o options, p platform, src source, out string) error {
	cmd := exec.CommandContext(ctx, "go", buildArgs(src, out)...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = o.Src, buildEnv(p), o.Log, o.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", p, err)
	}
	return nil
}

// writeSBOM reads the Go build information of the binary at bin (the
// modules actually linked, with their go.sum hashes) and writes its SPDX
// SBOM to path.
func writeSBOM(bin, path string, p platform, src source) error {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("reading the build information of %s: %w", bin, err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	doc, err := newSBOM(bi, p.binary(), sha256.Sum256(data), src)
	if err != nil {
		return fmt.Errorf("SBOM of %s: %w", p.binary(), err)
	}
	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf, spdxjson.Indent("  ")); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeSums writes SHA256SUMS over the named files in dir, in the format of
// sha256sum (and of the seed project's release): "HEX  NAME" per line,
// sorted by name.
func writeSums(dir string, names []string) ([]artifact, error) {
	var arts []artifact
	var sums strings.Builder
	for _, name := range names {
		a, err := hashFile(dir, name)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
		fmt.Fprintf(&sums, "%s  %s\n", a.SHA256, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		return nil, err
	}
	a, err := hashFile(dir, "SHA256SUMS")
	if err != nil {
		return nil, err
	}
	arts = append(arts, a)
	sort.Slice(arts, func(i, j int) bool { return arts[i].Name < arts[j].Name })
	return arts, nil
}

func hashFile(dir, name string) (artifact, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return artifact{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return artifact{}, err
	}
	if n == 0 {
		return artifact{}, errors.New(name + " is empty")
	}
	return artifact{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
