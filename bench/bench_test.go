//go:build linux

package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// world is a local GitHub and Sigstore with a trusted root and the CA
// certificate subprocesses need.
type world struct {
	gh     *githubtest.Server
	signer *sigstoretest.Instance
	dir    string
	root   string // trusted_root.json
	ca     string // the local GitHub's certificate (PEM)
}

func newWorld(b *testing.B) *world {
	b.Helper()
	w := &world{gh: githubtest.New(b), dir: b.TempDir()}
	var err error
	if w.signer, err = sigstoretest.NewGitHub(); err != nil {
		b.Fatal(err)
	}
	root, err := w.signer.TrustedRootJSON()
	if err != nil {
		b.Fatal(err)
	}
	w.root, w.ca = filepath.Join(w.dir, "trusted-root.json"), filepath.Join(w.dir, "ca.pem")
	if err := os.WriteFile(w.root, root, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := w.gh.WriteCA(w.ca); err != nil {
		b.Fatal(err)
	}
	return w
}

// copyVenv copies the venv whose interpreter is python and returns the
// copy's interpreter (pip only ever runs as bin/python -m pip here, which
// does not mind the scripts' shebangs naming the original).
func copyVenv(b *testing.B, python string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "venv")
	if out, err := exec.Command("cp", "-a", filepath.Dir(filepath.Dir(python)), dst).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v\n%s", err, out)
	}
	return filepath.Join(dst, "bin", "python")
}

func mustExist(b *testing.B, path string) {
	b.Helper()
	if _, err := os.Stat(path); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkP1GitInstall: pipguard install of a git requirement (the
// verified release wheel) against what pip does with the same requirement
// (clone the repository over https, build it with setuptools, install),
// each into a fresh copy of the same venv with a fresh HOME, alternating
// which goes first. pipguard runs twice a round: with an empty --cache-dir
// (cold, the ratio) and with one an earlier run filled (warm). pip has no
// cache for this path: it never caches a wheel built from a git tag (only
// from a full commit). The repository is a setuptools project with 2,500
// commits served by git http-backend on the local GitHub.
//
//	go test -run '^$' -bench P1 -benchtime 1x ./bench
func BenchmarkP1GitInstall(b *testing.B) {
	// setuptools 65.5 (Python 3.11's) builds wheels with the wheel package,
	// which Python does not ship; Debian's python3-wheel-whl does.
	wheelPkg, _ := filepath.Glob("/usr/share/python-wheels/wheel-*.whl")
	if len(wheelPkg) == 0 {
		b.Skip("P1 needs the wheel package for setuptools: apt-get install python3-wheel-whl")
	}
	bin := pipguardBinary(b)
	w := newWorld(b)
	repo := w.gh.AddRepo("acme", "bigproj")
	h := makeHistory(b, repo.Git.Dir, "bigproj", "1.0.0", 2500, 40)
	b.Logf("repository: %d commits at %s, pack %.1f MiB", h.Commits, h.Tag, float64(h.PackSize)/(1<<20))

	env := baseEnv(w.dir, w.ca)
	base := pkgtest.NewVenv(b)
	run(b, command{env: env, dir: w.dir, args: []string{base, "-m", "pip", "install", "-q", "--no-index", wheelPkg[0]}})

	// The release's wheel is what setuptools builds from the tag.
	src, out := filepath.Join(w.dir, "src"), filepath.Join(w.dir, "dist")
	os.MkdirAll(src, 0o755)
	tarball := filepath.Join(w.dir, "src.tar")
	git(b, repo.Git.Dir, "archive", "--format=tar", "-o", tarball, h.Tag)
	run(b, command{env: env, dir: src, args: []string{"tar", "-xf", tarball}})
	run(b, command{env: env, dir: w.dir, args: []string{base, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-index", "--no-deps", "-w", out, src}})
	whls, _ := filepath.Glob(filepath.Join(out, "*.whl"))
	if len(whls) != 1 {
		b.Fatalf("built %v", whls)
	}
	whl, err := os.ReadFile(whls[0])
	if err != nil {
		b.Fatal(err)
	}
	tagCommit := git(b, repo.Git.Dir, "rev-parse", h.Tag+"^{commit}")
	pub := w.gh.Publish(repo, githubtest.Publish{Project: pkgtest.Project{Name: "bigproj", Version: "1.0.0"}, Signer: w.signer,
		Immutable: true, Wheel: whl, WheelName: filepath.Base(whls[0])})
	if pub.Commit != tagCommit {
		b.Fatalf("release commit %s, tag %s", pub.Commit, tagCommit)
	}
	b.Logf("release wheel %s: %d KiB", pub.Wheel.Name, len(whl)>>10)

	req := "bigproj @ git+" + w.gh.GitURL(repo) + "@" + h.Tag
	pipguard := func(python, cache string) []string {
		return []string{bin, "install", "--python", python, "--github-url", w.gh.URL(), "--trusted-root", w.root, "--cache-dir", cache, req, "--", "--no-index"}
	}
	pip := func(python string) []string {
		return []string{python, "-m", "pip", "install", "--no-build-isolation", "--no-index", req}
	}
	installed := func(python string) {
		mustExist(b, filepath.Join(pkgtest.SitePackages(python), "bigproj-1.0.0.dist-info"))
		mustExist(b, filepath.Join(pkgtest.SitePackages(python), "bigproj", "mod_39.py"))
	}
	// stages logs where a pipguard install's time goes (-v).
	stages := func(label string, args []string) {
		home := freshDir(b, w.dir, "home-")
		args = append(args[:2:2], append([]string{"-v"}, args[2:]...)...)
		p := run(b, command{env: baseEnv(home, w.ca), dir: home, args: args})
		var st []string
		for _, line := range strings.Split(string(p.stdout), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || !strings.HasPrefix(line, "  ") || strings.ContainsAny(line, "[:") {
				continue
			}
			if _, err := time.ParseDuration(f[len(f)-1]); err == nil {
				st = append(st, strings.Join(f, " "))
			}
		}
		b.Logf("pipguard %s, %v in all: %s", label, p.wall.Round(time.Millisecond), strings.Join(st, "; "))
	}
	warmCache := filepath.Join(w.dir, "warm-cache")
	stages("warm-up", pipguard(copyVenv(b, base), warmCache))

	n := runs(7)
	for b.Loop() {
		var cold, warm, alt []proc
		for i := 0; i < n; i++ {
			a, c, d := copyVenv(b, base), copyVenv(b, base), copyVenv(b, base)
			pgRun := func() {
				home := freshDir(b, w.dir, "home-")
				cold = append(cold, run(b, command{env: baseEnv(home, w.ca), dir: home, args: pipguard(a, filepath.Join(home, "cache"))}))
			}
			pipRun := func() {
				home := freshDir(b, w.dir, "home-")
				alt = append(alt, run(b, command{env: baseEnv(home, w.ca), dir: home, args: pip(c)}))
			}
			warmRun := func() {
				home := freshDir(b, w.dir, "home-")
				warm = append(warm, run(b, command{env: baseEnv(home, w.ca), dir: home, args: pipguard(d, warmCache)}))
			}
			if i%2 == 0 {
				pgRun()
				pipRun()
				warmRun()
			} else {
				warmRun()
				pipRun()
				pgRun()
			}
			installed(a)
			installed(c)
			installed(d)
		}
		reportPair(b, "pipguard", "pip-git", cold, alt, true)
		ws := report(b, "warm-ratio", ratios(warm, alt))
		wm := of(ms(warm))
		b.ReportMetric(wm.med, "pipguard-warm-ms")
		b.Logf("warm cache: ratio pipguard/pip-git %s, pipguard ms %s", ws, wm)
	}
	stages("cold", pipguard(copyVenv(b, base), filepath.Join(w.dir, "cold-cache")))
	stages("warm", pipguard(copyVenv(b, base), warmCache))
}

// BenchmarkP3Audit: pipguard audit --python of a venv with 100, 1,000 and
// 5,000 installed distributions against pip inspect --path of its
// site-packages (the same venv's Python), wall time and peak RSS.
//
//	go test -run '^$' -bench P3 -benchtime 1x ./bench
func BenchmarkP3Audit(b *testing.B) {
	bin := pipguardBinary(b)
	for _, size := range []int{100, 1000, 5000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			py := pkgtest.NewVenv(b)
			site := pkgtest.SitePackages(py)
			auditSite(b, site, size)
			home := b.TempDir()
			env := baseEnv(home, "")
			pgCmd := command{env: env, dir: home, args: []string{bin, "audit", "--python", py}}
			pipCmd := command{env: env, dir: home, args: []string{py, "-m", "pip", "inspect", "--path", site}}
			// Both warm: the directory in the page cache, pip's bytecode written.
			if got := string(run(b, pgCmd).stdout); !strings.Contains(got, fmt.Sprintf("%d distributions", size+2)) {
				b.Fatalf("pipguard audit saw another environment:\n%s", tail([]byte(got)))
			}
			if got := run(b, pipCmd).stdout; bytes.Count(got, []byte(`"metadata"`)) != size+2 {
				b.Fatalf("pip inspect listed %d distributions", bytes.Count(got, []byte(`"metadata"`)))
			}
			n := runs(7)
			for b.Loop() {
				var pg, alt []proc
				for i := 0; i < n; i++ {
					if i%2 == 0 {
						pg = append(pg, run(b, pgCmd))
						alt = append(alt, run(b, pipCmd))
					} else {
						alt = append(alt, run(b, pipCmd))
						pg = append(pg, run(b, pgCmd))
					}
				}
				reportPair(b, "pipguard", "pip-inspect", pg, alt, true)
			}
		})
	}
}

// BenchmarkP4LargeAsset: pipguard verify, with an empty --cache-dir, of a
// release whose wheel is 1 GiB (download over https from the local GitHub
// on loopback, SHA-256, SHA256SUMS, provenance, SBOM and release
// attestation): peak RSS and throughput of the whole process, against
// downloading the same asset with curl and checking it with sha256sum, and
// curl alone to /dev/null (the ceiling the local server allows). Then the
// same verify with a warm cache, logged.
//
//	go test -run '^$' -bench P4 -benchtime 1x ./bench
func BenchmarkP4LargeAsset(b *testing.B) {
	size := 1 << 30
	if s, err := strconv.Atoi(os.Getenv("PIPGUARD_BENCH_P4_BYTES")); err == nil && s > 0 {
		size = s
	}
	bin := pipguardBinary(b)
	w := newWorld(b)
	repo := w.gh.AddRepo("acme", "bigasset")
	whl := bigWheel(b, "bigasset", "1.0.0", size)
	pub := w.gh.Publish(repo, githubtest.Publish{Project: pkgtest.Project{Name: "bigasset", Version: "1.0.0"}, Signer: w.signer, Immutable: true, Wheel: whl})
	sum := strings.TrimPrefix(pub.Wheel.Digest(), "sha256:")
	bytesN := float64(len(whl))
	b.Logf("asset %s: %d bytes", pub.Wheel.Name, len(whl))
	tmp := filepath.Join(w.dir, "tmp")
	os.MkdirAll(tmp, 0o700)
	env := append(baseEnv(w.dir, w.ca), "TMPDIR="+tmp)
	assetURL := fmt.Sprintf("%s/api/v3/repos/%s/releases/assets/%d", w.gh.URL(), repo.FullName(), pub.Wheel.ID)
	file := filepath.Join(w.dir, pub.Wheel.Name)
	verify := func(cache string) command {
		return command{env: env, dir: w.dir, args: []string{bin, "verify", "--repo", repo.FullName(), "--tag", "v1.0.0",
			"--github-url", w.gh.URL(), "--trusted-root", w.root, "--cache-dir", cache, "--asset", pub.Wheel.Name}}
	}
	curlSum := command{env: env, dir: w.dir, args: []string{"bash", "-c", `set -e; curl -sSfL --cacert "$1" -H 'Accept: application/octet-stream' -o "$3" "$2"; sha256sum "$3"; rm -f "$3"`,
		"bash", w.ca, assetURL, file}}
	curlNull := command{env: env, dir: w.dir, args: []string{"curl", "-sSfL", "--cacert", w.ca, "-H", "Accept: application/octet-stream", "-o", "/dev/null", assetURL}}
	gbps := func(ps []proc) []float64 {
		out := make([]float64, len(ps))
		for i, p := range ps {
			out[i] = bytesN / p.wall.Seconds() / 1e9
		}
		return out
	}
	n := runs(5)
	for b.Loop() {
		var pg, alt, ceiling []proc
		for i := 0; i < n; i++ {
			cache := filepath.Join(w.dir, "cache")
			p := run(b, verify(cache))
			os.RemoveAll(cache)
			if !bytes.Contains(p.stdout, []byte("verified")) {
				b.Fatalf("pipguard verify said:\n%s", p.stdout)
			}
			pg = append(pg, p)
			a := run(b, curlSum)
			if !bytes.HasPrefix(a.stdout, []byte(sum)) {
				b.Fatalf("curl | sha256sum: %s, want %s", a.stdout, sum)
			}
			alt = append(alt, a)
			ceiling = append(ceiling, run(b, curlNull))
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				b.Fatalf("pipguard left %d files in TMPDIR", len(left))
			}
		}
		reportPair(b, "pipguard", "curl+sha256sum", pg, alt, true)
		report(b, "pipguard-GB/s", gbps(pg))
		b.ReportMetric(of(gbps(alt)).med, "curl+sha256sum-GB/s")
		b.ReportMetric(of(gbps(ceiling)).med, "curl-only-GB/s")
		report(b, "pipguard-peak-MiB", mib(pg))
		b.Logf("GB/s: pipguard %s, curl+sha256sum %s, curl alone %s; pipguard peak RSS MiB %s",
			of(gbps(pg)), of(gbps(alt)), of(gbps(ceiling)), of(mib(pg)))
	}
	// A warm cache: the verified asset is on disk already; pipguard checks
	// it still hashes to its digest instead of downloading it.
	warmCache := filepath.Join(w.dir, "warm-cache")
	run(b, verify(warmCache))
	var warm []proc
	for i := 0; i < n; i++ {
		warm = append(warm, run(b, verify(warmCache)))
	}
	b.Logf("warm cache: pipguard %s GB/s, %s ms, peak RSS MiB %s", of(gbps(warm)), of(ms(warm)), of(mib(warm)))
	// The hash's own speed on the same bytes from the page cache: coreutils
	// (what users run) and OpenSSL (SHA-NI, as Go's crypto/sha256).
	os.WriteFile(file, whl, 0o600)
	for _, hash := range [][]string{{"sha256sum", file}, {"openssl", "dgst", "-sha256", file}} {
		if _, err := exec.LookPath(hash[0]); err != nil {
			continue
		}
		var hs []proc
		for i := 0; i < n; i++ {
			hs = append(hs, run(b, command{env: env, dir: w.dir, args: hash}))
		}
		b.Logf("%s alone (page cache): %s GB/s", hash[0], of(gbps(hs)))
	}
	os.Remove(file)
}

// BenchmarkP6Resolve: pipguard resolve of a tag in a repository with
// 50,000 tags (half annotated) and 5,000 branches, over https (git
// http-backend behind the local GitHub) and file://, against git ls-remote
// of the same URL.
//
//	go test -run '^$' -bench P6 -benchtime 1x ./bench
func BenchmarkP6Resolve(b *testing.B) {
	bin := pipguardBinary(b)
	w := newWorld(b)
	repo := w.gh.AddRepo("acme", "manyrefs")
	makeRefs(b, repo.Git.Dir, 1000, 50000, 5000)
	commit := git(b, repo.Git.Dir, "rev-parse", "v1.0.0^{commit}")
	env := baseEnv(w.dir, w.ca)
	for _, tr := range []struct{ name, url string }{{"https", w.gh.GitURL(repo)}, {"file", "file://" + repo.Git.Dir}} {
		b.Run(tr.name, func(b *testing.B) {
			pgCmd := command{env: env, dir: w.dir, args: []string{bin, "resolve", "--github-url", w.gh.URL(), "manyrefs @ git+" + tr.url + "@v1.0.0"}}
			lsCmd := command{env: env, dir: w.dir, args: []string{"git", "ls-remote", tr.url}}
			if p := run(b, pgCmd); !bytes.Contains(p.stdout, []byte(commit)) {
				b.Fatalf("pipguard resolve said:\n%s", p.stdout)
			}
			if refs := bytes.Count(run(b, lsCmd).stdout, []byte("\n")); refs < 55000 {
				b.Fatalf("git ls-remote listed %d refs", refs)
			}
			n := runs(9)
			for b.Loop() {
				var pg, alt []proc
				for i := 0; i < n; i++ {
					pg = append(pg, run(b, pgCmd))
					alt = append(alt, run(b, lsCmd))
				}
				reportPair(b, "pipguard", "git-ls-remote", pg, alt, true)
			}
		})
	}
}

// BenchmarkStartup: pipguard version against pip --version and git
// --version (context: the tools a Dockerfile already runs).
//
//	go test -run '^$' -bench Startup -benchtime 1x ./bench
func BenchmarkStartup(b *testing.B) {
	bin := pipguardBinary(b)
	py := pkgtest.NewVenv(b)
	home := b.TempDir()
	env := baseEnv(home, "")
	pgCmd := command{env: env, dir: home, args: []string{bin, "version"}, bare: true}
	pipCmd := command{env: env, dir: home, args: []string{py, "-m", "pip", "--version"}, bare: true}
	gitCmd := command{env: env, dir: home, args: []string{"git", "--version"}, bare: true}
	for _, c := range []command{pgCmd, pipCmd, gitCmd} {
		run(b, c)
	}
	n := runs(21)
	for b.Loop() {
		var pg, pip, gitv []proc
		for i := 0; i < n; i++ {
			pg = append(pg, run(b, pgCmd))
			pip = append(pip, run(b, pipCmd))
			gitv = append(gitv, run(b, gitCmd))
		}
		reportPair(b, "pipguard", "pip", pg, pip, false)
		report(b, "pipguard-ms", ms(pg))
		b.ReportMetric(of(ms(gitv)).med, "git-ms")
		b.Logf("git --version ms %s", of(ms(gitv)))
	}
	// Peak RSS, measured apart (GNU time adds about a millisecond).
	var pg, pip []proc
	pgCmd.bare, pipCmd.bare = false, false
	for i := 0; i < 5; i++ {
		pg, pip = append(pg, run(b, pgCmd)), append(pip, run(b, pipCmd))
	}
	b.Logf("peak RSS MiB: pipguard version %s, pip --version %s", of(mib(pg)), of(mib(pip)))
}
