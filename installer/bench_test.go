package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
	"github.com/pipguard/pipguard/policy"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// BenchmarkInstallVsBarePip (P2) measures pipguard install of a verified
// wheel from the local GitHub against a bare "pip install --no-index the.whl"
// of the same wheel, each into a fresh venv, alternating in one process
// (PIPGUARD_BENCH_RUNS runs each, default 7): cold (an empty cache each run)
// and warm (the cache a first run filled). It reports the median ratio with
// its min and max for both, the medians, and pipguard's median per stage.
//
//	go test -run '^$' -bench InstallVsBarePip -benchtime 1x ./installer
func BenchmarkInstallVsBarePip(b *testing.B) {
	runs := benchRuns()
	for b.Loop() {
		w := newInstallWorld(b)
		pub := w.publish(b, githubtest.Publish{Immutable: true})
		whl := filepath.Join(b.TempDir(), pub.Wheel.Name)
		os.WriteFile(whl, pub.Wheel.Data, 0o644)
		warmCache, err := cache.Open(b.TempDir(), benchKey)
		if err != nil {
			b.Fatal(err)
		}
		type series struct {
			times  []time.Duration
			ratios []float64
			stages map[string][]time.Duration
			order  []string
		}
		cold, warm := &series{stages: map[string][]time.Duration{}}, &series{stages: map[string][]time.Duration{}}
		var bare []time.Duration
		pipguard := func(s *series, c *cache.Cache) time.Duration {
			w.python = pkgtest.NewVenv(b)
			w.cfg.Cache = c
			start := time.Now()
			rep, err := w.install(b, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
			if err != nil {
				b.Fatalf("%v\n%s", err, w.out.String())
			}
			d := time.Since(start)
			for _, tm := range rep.Timings {
				if _, ok := s.stages[tm.Stage]; !ok {
					s.order = append(s.order, tm.Stage)
				}
				s.stages[tm.Stage] = append(s.stages[tm.Stage], tm.Elapsed)
			}
			s.times = append(s.times, d)
			return d
		}
		pipguard(&series{stages: map[string][]time.Duration{}}, warmCache) // fills the warm cache
		for i := 0; i < runs; i++ {
			empty, err := cache.Open(b.TempDir(), benchKey)
			if err != nil {
				b.Fatal(err)
			}
			c := pipguard(cold, empty)
			wm := pipguard(warm, warmCache)

			py := pkgtest.NewVenv(b)
			start := time.Now()
			cmd := exec.Command(py, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", whl)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			q := time.Since(start)
			bare = append(bare, q)
			cold.ratios = append(cold.ratios, float64(c)/float64(q))
			warm.ratios = append(warm.ratios, float64(wm)/float64(q))
		}
		for _, x := range []struct {
			name string
			s    *series
		}{{"cold", cold}, {"warm", warm}} {
			r := append([]float64(nil), x.s.ratios...)
			sort.Float64s(r)
			b.ReportMetric(r[len(r)/2], x.name+"-ratio-median")
			b.ReportMetric(r[0], x.name+"-ratio-min")
			b.ReportMetric(r[len(r)-1], x.name+"-ratio-max")
			b.ReportMetric(float64(median(x.s.times).Milliseconds()), x.name+"-ms-pipguard")
			for _, stage := range x.s.order {
				b.Logf("%s: pipguard stage %-28s median %s", x.name, stage, median(x.s.stages[stage]).Round(time.Millisecond))
			}
		}
		b.ReportMetric(float64(median(bare).Milliseconds()), "ms-bare-pip")
	}
}

// BenchmarkTwentyRequirements (P5) installs 20 guarded requirements from
// 20 repositories in one run and compares its wall time with one
// requirement's, each into a fresh venv with an empty cache, alternating
// (PIPGUARD_BENCH_RUNS runs each, default 7). Target: at most 2 x; pip
// runs in one interpreter (pip-processes 1).
//
//	go test -run '^$' -bench TwentyRequirements -benchtime 1x ./installer
func BenchmarkTwentyRequirements(b *testing.B) {
	runs := benchRuns()
	for b.Loop() {
		w := newInstallWorld(b)
		var reqs []string
		for i := 0; i < 20; i++ {
			name := fmt.Sprintf("pkg%02d", i)
			w.gh.Publish(w.gh.AddRepo("acme", name), githubtest.Publish{Project: pkgtest.Project{Name: name, Version: "1.0.0"}, Signer: w.signer, Immutable: true})
			reqs = append(reqs, name+" @ git+"+w.gh.URL()+"/acme/"+name+".git@v1.0.0")
		}
		one := func(rs []string) (time.Duration, *InstallReport) {
			w.python = pkgtest.NewVenv(b)
			c, err := cache.Open(b.TempDir(), benchKey)
			if err != nil {
				b.Fatal(err)
			}
			w.cfg.Cache = c
			start := time.Now()
			rep, err := w.install(b, InstallOptions{Requirements: rs, Concurrency: benchJobs()})
			if err != nil {
				b.Fatalf("%v\n%s", err, w.out.String())
			}
			return time.Since(start), rep
		}
		var single, twenty []time.Duration
		var ratios []float64
		processes := 0
		stages, stages1 := map[string][]time.Duration{}, map[string][]time.Duration{}
		var order []string
		for i := 0; i < runs; i++ {
			s, rep1 := one(reqs[:1])
			t, rep := one(reqs)
			for _, tm := range rep.Timings {
				if _, ok := stages[tm.Stage]; !ok {
					order = append(order, tm.Stage)
				}
				stages[tm.Stage] = append(stages[tm.Stage], tm.Elapsed)
			}
			for _, tm := range rep1.Timings {
				stages1[tm.Stage] = append(stages1[tm.Stage], tm.Elapsed)
			}
			if len(rep.Installed) != 20 {
				b.Fatalf("installed %d of 20", len(rep.Installed))
			}
			processes = 1
			if rep.PipMode != "in-process" {
				processes = 2
			}
			single, twenty = append(single, s), append(twenty, t)
			ratios = append(ratios, float64(t)/float64(s))
		}
		sort.Float64s(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "ratio-median")
		b.ReportMetric(ratios[0], "ratio-min")
		b.ReportMetric(ratios[len(ratios)-1], "ratio-max")
		b.ReportMetric(float64(median(single).Milliseconds()), "ms-one")
		b.ReportMetric(float64(median(twenty).Milliseconds()), "ms-twenty")
		b.ReportMetric(float64(processes), "pip-processes")
		for _, stage := range order {
			b.Logf("stage %-28s median: 20 requirements %s, one %s", stage, median(stages[stage]).Round(time.Millisecond), median(stages1[stage]).Round(time.Millisecond))
		}
	}
}

func benchRuns() int {
	if n, err := strconv.Atoi(os.Getenv("PIPGUARD_BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 7
}

// BenchmarkInstall compares, on the same local repository and release,
// pipguard install of the verified wheel with plain pip installing from
// git (clone and build), each into a fresh venv, five runs each, and
// reports the medians.
func BenchmarkInstall(b *testing.B) {
	for b.Loop() {
		w := newInstallWorld(b)
		w.publish(b, githubtest.Publish{Immutable: true})
		var pg, plain []time.Duration
		for i := 0; i < 5; i++ {
			w.python = pkgtest.NewVenv(b)
			start := time.Now()
			if _, err := w.install(b, InstallOptions{Requirements: []string{w.req("v1.0.0")}}); err != nil {
				b.Fatalf("%v\n%s", err, w.out.String())
			}
			pg = append(pg, time.Since(start))

			w.python = pkgtest.NewVenv(b)
			start = time.Now()
			cmd := exec.Command(w.python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", w.req("v1.0.0"))
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			plain = append(plain, time.Since(start))
		}
		b.ReportMetric(float64(median(pg).Milliseconds()), "ms-pipguard-install")
		b.ReportMetric(float64(median(plain).Milliseconds()), "ms-pip-from-git")
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// benchJobs is PIPGUARD_BENCH_JOBS, else install's default.
func benchJobs() int {
	n, _ := strconv.Atoi(os.Getenv("PIPGUARD_BENCH_JOBS"))
	return n
}

// BenchmarkRollbackInterruptedUpgrade measures the rollback of issue 16's
// demonstration: a 30,000-file wheel replacing a 2-file version,
// interrupted while pip writes it (once 3,000 of its files exist); the
// whole prefix must come back (TestInterruptedBigUpgradeIsRestored proves
// that). It reports the rollback stage's median and how many of the new
// files pip had written when the rollback began.
//
//	go test -run '^$' -bench RollbackInterruptedUpgrade -benchtime 1x ./installer
func BenchmarkRollbackInterruptedUpgrade(b *testing.B) {
	runs := benchRuns()
	for b.Loop() {
		w := newInstallWorld(b)
		w.publish(b, githubtest.Publish{})
		files := map[string]string{}
		for i := 0; i < 30000; i++ {
			files[fmt.Sprintf("big/m%02d/f%05d.py", i%100, i)] = fmt.Sprintf("N = %d\n", i)
		}
		links := b.TempDir()
		big := pkgtest.Project{Name: "big", Version: "2.0", Files: files}
		os.WriteFile(filepath.Join(links, big.WheelName()), big.Wheel(), 0o644)
		var rollbacks []time.Duration
		var written []int
		for i := 0; i < runs; i++ {
			w.python = pkgtest.NewVenv(b)
			w.site = pkgtest.SitePackages(w.python)
			w.preinstall(b, pkgtest.Project{Name: "big", Version: "1.0"})
			ctx, cancel := context.WithCancelCause(context.Background())
			n := 0
			go func() {
				for ctx.Err() == nil {
					if m, _ := filepath.Glob(filepath.Join(w.site, "big", "m*", "*.py")); len(m) > 3000 {
						n = len(m)
						cancel(errors.New("benchmark signal"))
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			o := InstallOptions{Requirements: []string{w.req("v1.0.0"), "big==2.0"}, PipArgs: []string{"--find-links", links}}
			o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
			rep, err := Install(ctx, w.cfg, o)
			cancel(nil)
			if err == nil || !rep.RolledBack {
				b.Fatalf("not interrupted and rolled back: %v", err)
			}
			for _, tm := range rep.Timings {
				if tm.Stage == "rollback" {
					rollbacks = append(rollbacks, tm.Elapsed)
				}
			}
			written = append(written, n)
		}
		b.ReportMetric(float64(median(rollbacks).Milliseconds()), "ms-rollback")
		sort.Ints(written)
		b.ReportMetric(float64(written[len(written)/2]), "files-written-at-interrupt")
	}
}

// BenchmarkIndexProvenance (P8) verifies the PEP 740 provenance of 100
// index files of a lock (a local index over http serving provenance signed
// by the local public-good Sigstore), as install's stage does: cold (no
// cache: each file's project page and provenance asked, verified
// concurrently) and warm (the documents cached, authenticated, each
// verification remembered under its trusted root's identity). It
// reports milliseconds per 100 files for both and requests per file cold.
//
//	go test -run '^$' -bench IndexProvenance -benchtime 1x ./installer
func BenchmarkIndexProvenance(b *testing.B) {
	for b.Loop() {
		pg, err := sigstoretest.NewPublicGood()
		if err != nil {
			b.Fatal(err)
		}
		pgRoot, err := pg.TrustedRoot()
		if err != nil {
			b.Fatal(err)
		}
		ix := pkgtest.NewProvenanceIndex(b)
		dir := b.TempDir()
		lk := &lock{}
		for i := 0; i < 100; i++ {
			name := fmt.Sprintf("p8pkg%03d", i)
			p := pkgtest.Project{Name: name, Version: "1.0"}
			data := p.Wheel()
			id := sigstoretest.GitHubActions("acme/"+name, ".github/workflows/release.yml", "refs/tags/v1.0", strings.Repeat("a", 40))
			f, err := pkgtest.Signed(pg, id, sigstoretest.GitHubPublisher("acme/"+name, "release.yml"), name, "1.0", p.WheelName(), data)
			if err != nil {
				b.Fatal(err)
			}
			ix.Put(f)
			path := filepath.Join(dir, p.WheelName())
			os.WriteFile(path, data, 0o644)
			lk.items = append(lk.items, Locked{Name: name, Version: "1.0", Source: SourceIndex, SHA256: hexSHA256(data), file: path})
		}
		o := InstallOptions{Rules: policy.Default(), Trust: attest.NewTrust(map[attest.Deployment]root.TrustedMaterial{attest.PublicGood: pgRoot})}
		c, err := cache.Open(b.TempDir(), benchKey)
		if err != nil {
			b.Fatal(err)
		}
		runs := benchRuns()
		var cold, warm []time.Duration
		requests := 0
		for i := 0; i < runs; i++ {
			before := ix.Hits("page") + ix.Hits("provenance") + ix.Hits("integrity")
			start := time.Now()
			if _, err := verifyIndexFiles(context.Background(), Config{}, o, lk, []string{ix.SimpleURL()}, ""); err != nil {
				b.Fatal(err)
			}
			cold = append(cold, time.Since(start))
			requests = ix.Hits("page") + ix.Hits("provenance") + ix.Hits("integrity") - before
			if i == 0 {
				verifyIndexFiles(context.Background(), Config{Cache: c}, o, lk, []string{ix.SimpleURL()}, "") // fills the cache
			}
			start = time.Now()
			if _, err := verifyIndexFiles(context.Background(), Config{Cache: c}, o, lk, []string{ix.SimpleURL()}, ""); err != nil {
				b.Fatal(err)
			}
			warm = append(warm, time.Since(start))
		}
		for _, it := range lk.items {
			if it.Attestation == nil || it.Attestation.State != AttestVerified {
				b.Fatalf("%s: %+v", it.Name, it.Attestation)
			}
		}
		b.ReportMetric(float64(median(cold).Microseconds())/1000, "ms-cold-100-files")
		b.ReportMetric(float64(median(warm).Microseconds())/1000, "ms-warm-100-files")
		b.ReportMetric(float64(requests)/100, "requests-per-file-cold")
	}
}
