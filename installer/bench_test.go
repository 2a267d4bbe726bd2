package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/githubtest"
	"github.com/pipguard/pipguard/installer/pkgtest"
)

// BenchmarkInstallVsBarePip measures pipguard install of a verified wheel
// from the local GitHub against a bare "pip install --no-index the.whl" of
// the same wheel, each into a fresh venv, alternating in one process
// (PIPGUARD_BENCH_RUNS runs each, default 7). It reports the median ratio
// with its min and max, both medians, and pipguard's median per stage.
//
//	go test -run '^$' -bench InstallVsBarePip -benchtime 1x ./installer
func BenchmarkInstallVsBarePip(b *testing.B) {
	runs := 7
	if n, err := time.ParseDuration(os.Getenv("PIPGUARD_BENCH_RUNS") + "ns"); err == nil && n > 0 {
		runs = int(n)
	}
	for b.Loop() {
		w := newInstallWorld(b)
		pub := w.publish(b, githubtest.Publish{Immutable: true})
		whl := filepath.Join(b.TempDir(), pub.Wheel.Name)
		os.WriteFile(whl, pub.Wheel.Data, 0o644)
		var pg, bare []time.Duration
		var ratios []float64
		stages := map[string][]time.Duration{}
		var order []string
		for i := 0; i < runs; i++ {
			w.python = pkgtest.NewVenv(b)
			start := time.Now()
			rep, err := w.install(b, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
			if err != nil {
				b.Fatalf("%v\n%s", err, w.out.String())
			}
			p := time.Since(start)
			for _, tm := range rep.Timings {
				if _, ok := stages[tm.Stage]; !ok {
					order = append(order, tm.Stage)
				}
				stages[tm.Stage] = append(stages[tm.Stage], tm.Elapsed)
			}

			py := pkgtest.NewVenv(b)
			start = time.Now()
			cmd := exec.Command(py, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", whl)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			q := time.Since(start)
			pg, bare = append(pg, p), append(bare, q)
			ratios = append(ratios, float64(p)/float64(q))
		}
		sort.Float64s(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "ratio-median")
		b.ReportMetric(ratios[0], "ratio-min")
		b.ReportMetric(ratios[len(ratios)-1], "ratio-max")
		b.ReportMetric(float64(median(pg).Milliseconds()), "ms-pipguard")
		b.ReportMetric(float64(median(bare).Milliseconds()), "ms-bare-pip")
		for _, stage := range order {
			b.Logf("pipguard stage %-28s median %s", stage, median(stages[stage]).Round(time.Millisecond))
		}
	}
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
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
