package installer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// p7Wheels writes P7's 50 wheels (bench/p7_test.go: 100 files each, 60
// small modules and 39 data files of 15,000 pseudo-random bytes, about
// 30 MB in all) into dir and returns their paths.
func p7Wheels(t testing.TB, dir string) (paths []string, names []string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("p7pkg%02d", i)
		rng := rand.New(rand.NewChaCha8([32]byte{byte(i)}))
		p := pkgtest.Project{Name: name, Version: "1.0", Files: pkgtest.P7Files(rng, name)}
		path := filepath.Join(dir, p.WheelName())
		if err := os.WriteFile(path, p.Wheel(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths, names = append(paths, path), append(names, name)
	}
	return paths, names
}

// BenchmarkP7Stages is pipguard's own stages of P7, in process, on its 50
// wheels: "fetch and plan" (fetch: link and hash each kept file; plan:
// read each archive and RECORD, map 5,000 paths, the conflicts against the
// environment) and "check" (after one real pip install of the 50 wheels:
// every planned file against its member, the prefix surveyed and compared
// with a survey from before). Go's time only: pip is not in it. For
// profiles:
//
//	go test -run '^$' -bench P7Stages -benchtime 10x -cpuprofile cpu.out ./installer
func BenchmarkP7Stages(b *testing.B) {
	dir := b.TempDir()
	wheels, names := p7Wheels(b, filepath.Join(dir))
	python := pkgtest.NewVenv(b)
	py, err := pip.Start(context.Background(), pip.Options{Python: python})
	if err != nil {
		b.Fatal(err)
	}
	defer py.Close()
	info, err := py.Info()
	if err != nil {
		b.Fatal(err)
	}
	newLock := func() (*lock, []pip.Kept) {
		lk := &lock{}
		var kept []pip.Kept
		for i, n := range names {
			lk.items = append(lk.items, Locked{Name: n, Version: "1.0", Source: SourceIndex})
			kept = append(kept, pip.Kept{Name: n, Version: "1.0", Path: wheels[i]})
		}
		return lk, kept
	}
	before, err := layout.Survey(info.Prefix)
	if err != nil {
		b.Fatal(err)
	}
	var pp *paths
	b.Run("fetch-and-plan", func(b *testing.B) {
		defer cpuTime(b)()
		for i := 0; b.Loop(); i++ {
			lk, kept := newLock()
			if err := fetch(lk, kept, filepath.Join(dir, fmt.Sprintf("files-%d", i))); err != nil {
				b.Fatal(err)
			}
			if pp, err = planPaths(lk, info); err != nil {
				b.Fatal(err)
			}
		}
	})
	args := append([]string{"-m", "pip", "install", "-q", "--no-index", "--find-links", dir, "--no-deps", "--disable-pip-version-check"}, names...)
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	b.Run("check", func(b *testing.B) {
		defer cpuTime(b)()
		for b.Loop() {
			if ps := layout.Check(pp.plans); len(ps) > 0 {
				b.Fatalf("%d problems, the first %v", len(ps), ps[0])
			}
			after, err := layout.Survey(info.Prefix)
			if err != nil {
				b.Fatal(err)
			}
			if out := pp.outsidePlan(layout.Changed(before, after), info.Prefix); len(out) > 0 {
				b.Fatalf("outside the plan: %v", out[:min(5, len(out))])
			}
		}
	})
	// The check's lookups of each index item's installed distribution
	// (for its direct_url.json): findDist lists the site directory once
	// per item.
	b.Run("find-dists", func(b *testing.B) {
		defer cpuTime(b)()
		for b.Loop() {
			for _, n := range names {
				if ds := findDist(info, n); len(ds) != 1 {
					b.Fatalf("%s: %d distributions", n, len(ds))
				}
			}
		}
	})
	// The check's last part, in the interpreter: pip's own dependency
	// check of the environment (the Go process's CPU is not its cost).
	b.Run("pip-check", func(b *testing.B) {
		for b.Loop() {
			if _, err := py.CheckDependencies(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuTime reports the process's CPU time (user and system) per iteration
// as cpu-ms/op, less sensitive than the wall time to other processes on
// the machine; call the function it returns at the end.
func cpuTime(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}
