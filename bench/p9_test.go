//go:build linux

package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// p9World is P9's fixture: P7's 50 wheels on an https index (a lock names
// no http:// URL) that serves each one's PEP 740 provenance, signed by a
// local public-good Sigstore for the publisher acme/NAME's release.yml;
// the requirements file (name==1.0), the index's CA (for pip and Go) and
// the Sigstore's trusted root (for pipguard).
type p9World struct {
	ix                  *pkgtest.ProvenanceIndex
	dir, reqs, ca, root string
	pip26               string // an interpreter whose pip is 26.x
}

func newP9World(b *testing.B) *p9World {
	b.Helper()
	pip26, why := pkgtest.Pip26()
	if pip26 == "" {
		b.Skip(why)
	}
	w := &p9World{dir: b.TempDir(), pip26: pip26}
	w.ix = pkgtest.NewProvenanceIndexTLS(b)
	pg, err := sigstoretest.NewPublicGood()
	if err != nil {
		b.Fatal(err)
	}
	rootJSON, err := pg.TrustedRootJSON()
	if err != nil {
		b.Fatal(err)
	}
	w.root, w.ca, w.reqs = filepath.Join(w.dir, "trusted-root.json"), filepath.Join(w.dir, "ca.pem"), filepath.Join(w.dir, "requirements.txt")
	if err := os.WriteFile(w.root, rootJSON, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := w.ix.CAFile(w.ca); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{7}))
	var r strings.Builder
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("p7pkg%02d", i)
		p := pkgtest.Project{Name: name, Version: "1.0", Files: pkgtest.P7Files(rng, name)}
		data := p.Wheel()
		repo := "acme/" + name
		id := sigstoretest.GitHubActions(repo, ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40))
		f, err := pkgtest.Signed(pg, id, sigstoretest.GitHubPublisher(repo, "release.yml"), name, "1.0", p.WheelName(), data)
		if err != nil {
			b.Fatal(err)
		}
		w.ix.Put(f)
		fmt.Fprintf(&r, "%s==1.0\n", name)
	}
	if err := os.WriteFile(w.reqs, []byte(r.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return w
}

// env is baseEnv with the index's CA trusted by Go (SSL_CERT_FILE) and
// pip (requests reads REQUESTS_CA_BUNDLE before --cert).
func (w *p9World) env(home string) []string {
	env := baseEnv(home, "")
	return append(env, "SSL_CERT_FILE="+w.ca, "REQUESTS_CA_BUNDLE="+w.ca, "PIP_CERT="+w.ca)
}

// lock writes pipguard's lock of the 50 packages to path.
func (w *p9World) lock(b *testing.B, bin, python, home, path string) proc {
	os.Remove(path) // a lock over an existing one keeps its versions: not this figure
	return run(b, command{env: w.env(home), args: []string{bin, "lock", "--python", python, "--trusted-root", w.root, "--cache-dir", filepath.Join(home, "pipguard-cache"),
		"-r", w.reqs, "-o", path, "--", "--index-url", w.ix.SimpleURL(), "--cert", w.ca}})
}

// BenchmarkP9LockFile: P9, three figures on P7's 50 wheels from a local
// https index with PEP 740 provenance (every check: each file fetched and
// hashed, its provenance verified for the identity the lock records, every
// path planned, pip on the local files, the disk checked):
//
//   - install: pipguard install pylock.toml against pip 26's pip install
//     -r pylock.toml of the same file, warm (each side's cache filled by a
//     run before: pipguard's verified provenance, pip's HTTP cache) and
//     cold (an empty HOME and cache), each into a fresh copy of one venv,
//     alternating. pip 26 runs in a venv of its own (pip 26 installed in
//     the same Python), as a user of it would; pipguard's target is P7's
//     venv (the machine's pip 23.2 installs pipguard's local files).
//   - lock: pipguard lock against pip 26's pip lock of the same
//     requirements file, cold, alternating.
//   - hermetic: pipguard install --files DIR pylock.toml (what pipguard
//     fetch stored: no network) against the online pipguard install
//     pylock.toml, warm, alternating.
//
// Targets: install ≤ 1.2 ×, lock ≤ 1.3 ×. PIPGUARD_BENCH_P9_TARGET=pip26
// makes pipguard's target the pip 26 venv as well (the same pip installs
// on both sides; pipguard lock then resolves with pip 26 too).
//
//	go test -run '^$' -bench P9 -benchtime 1x -timeout 60m ./bench
func BenchmarkP9LockFile(b *testing.B) {
	bin := pipguardBinary(b)
	n := runs(5)
	for b.Loop() {
		w := newP9World(b)
		template := pkgtest.NewVenv(b)
		template26 := pkgtest.NewVenvWith(b, pkgtest.Pip{Name: "pip26", Base: "python3", Wheel: pip26Wheel(b, w.pip26)})
		if os.Getenv("PIPGUARD_BENCH_P9_TARGET") == "pip26" {
			// pipguard's target is the pip 26 venv too: the same pip
			// installs on both sides.
			template = template26
		}
		lockPath := filepath.Join(w.dir, "pylock.toml")
		w.lock(b, bin, template, freshDir(b, w.dir, "home-"), lockPath)
		files := filepath.Join(w.dir, "files")
		run(b, command{env: w.env(freshDir(b, w.dir, "home-")), args: []string{bin, "fetch", "--python", template, "--trusted-root", w.root, lockPath, files}})

		pgInstall := func(home string, extra ...string) proc {
			py := copyVenv(b, template)
			args := append([]string{bin, "install", "--format", "json", "--python", py, "--trusted-root", w.root, "--cache-dir", filepath.Join(home, "pipguard-cache")}, extra...)
			return run(b, command{env: w.env(home), args: append(args, lockPath)})
		}
		pipInstall := func(home string) proc {
			py := copyVenv(b, template26)
			return run(b, command{env: w.env(home), args: []string{py, "-m", "pip", "install", "-q", "--cert", w.ca, "-r", lockPath}})
		}
		// Warm: each side's cache filled once, outside the figures.
		pgHome, pipHome := freshDir(b, w.dir, "home-"), freshDir(b, w.dir, "home-")
		pgInstall(pgHome)
		pipInstall(pipHome)

		type series struct{ pg, alt []proc }
		var warm, cold, lock, hermetic series
		for i := 0; i < n; i++ {
			steps := []func(){
				func() { warm.pg = append(warm.pg, pgInstall(pgHome)) },
				func() { warm.alt = append(warm.alt, pipInstall(pipHome)) },
				func() { cold.pg = append(cold.pg, pgInstall(freshDir(b, w.dir, "home-"))) },
				func() { cold.alt = append(cold.alt, pipInstall(freshDir(b, w.dir, "home-"))) },
				func() {
					lock.pg = append(lock.pg, w.lock(b, bin, copyVenv(b, template), freshDir(b, w.dir, "home-"), filepath.Join(w.dir, "relock.toml")))
				},
				func() {
					out := filepath.Join(w.dir, "pip-lock.toml")
					os.Remove(out)
					lock.alt = append(lock.alt, run(b, command{env: w.env(freshDir(b, w.dir, "home-")), dir: w.dir,
						args: []string{w.pip26, "-m", "pip", "lock", "-q", "--cert", w.ca, "--index-url", w.ix.SimpleURL(), "-r", w.reqs, "-o", out}}))
				},
				func() { hermetic.pg = append(hermetic.pg, pgInstall(pgHome, "--files", files)) },
				func() { hermetic.alt = append(hermetic.alt, pgInstall(pgHome)) },
			}
			// Each pair alternates which side goes first.
			for k := 0; k < len(steps); k += 2 {
				if i%2 == 0 {
					steps[k]()
					steps[k+1]()
				} else {
					steps[k+1]()
					steps[k]()
				}
			}
		}
		b.Logf("install, warm:")
		reportPair(b, "pipguard-warm", "pip26-warm", warm.pg, warm.alt, true)
		b.Logf("install, cold:")
		reportPair(b, "pipguard-cold", "pip26-cold", cold.pg, cold.alt, false)
		b.Logf("lock:")
		reportPair(b, "pipguard-lock", "pip26-lock", lock.pg, lock.alt, false)
		b.Logf("hermetic (--files DIR) against online, warm:")
		reportPair(b, "hermetic", "online", hermetic.pg, hermetic.alt, false)
		logStages(b, warm.pg)
	}
}

// pip26Wheel is the pip 26 wheel beside the interpreter Pip26 returned
// (internal/tools/pip26/fetch.sh keeps it as DEST/pip.whl; a venv made
// elsewhere has it installed, which its own dist-info says).
func pip26Wheel(b *testing.B, python string) string {
	b.Helper()
	dest := filepath.Dir(filepath.Dir(filepath.Dir(python))) // DEST/venv/bin/python
	m, _ := filepath.Glob(filepath.Join(dest, "pip-26*.whl"))
	if len(m) == 0 {
		b.Skipf("no pip 26 wheel beside %s", python)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// logStages logs the median of each stage pipguard's JSON report times.
func logStages(b *testing.B, ps []proc) {
	b.Helper()
	stages := map[string][]time.Duration{}
	var order []string
	for _, p := range ps {
		for _, t := range timings(b, p.stdout) {
			if _, ok := stages[t.Stage]; !ok {
				order = append(order, t.Stage)
			}
			stages[t.Stage] = append(stages[t.Stage], t.Elapsed)
		}
	}
	for _, s := range order {
		ds := stages[s]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		b.Logf("pipguard stage %-26s median %s", s, ds[len(ds)/2].Round(time.Millisecond))
	}
}
