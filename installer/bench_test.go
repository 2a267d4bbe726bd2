package installer

import (
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/githubtest"
	"github.com/pipguard/pipguard/installer/pkgtest"
)

// BenchmarkInstall compares, on the same local repository and release,
// pipguard install of the verified wheel with plain pip installing from
// git (clone and build), each into a fresh venv, five runs each, and
// reports the medians and pipguard's median time per stage.
func BenchmarkInstall(b *testing.B) {
	for b.Loop() {
		w := newInstallWorld(b)
		w.publish(b, githubtest.Publish{Immutable: true})
		var pg, plain []time.Duration
		stages := map[string][]time.Duration{}
		var order []string
		for i := 0; i < 5; i++ {
			w.python = pkgtest.NewVenv(b)
			start := time.Now()
			rep, err := w.install(b, InstallOptions{Requirements: []string{w.req("v1.0.0")}})
			if err != nil {
				b.Fatalf("%v\n%s", err, w.out.String())
			}
			pg = append(pg, time.Since(start))
			for _, tm := range rep.Timings {
				if _, ok := stages[tm.Stage]; !ok {
					order = append(order, tm.Stage)
				}
				stages[tm.Stage] = append(stages[tm.Stage], tm.Elapsed)
			}

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
		for _, stage := range order {
			b.Logf("pipguard stage %-20s median %s", stage, median(stages[stage]).Round(time.Millisecond))
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
