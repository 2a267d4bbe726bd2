//go:build linux

package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// pipguardBinary builds ./cmd/pipguard once per benchmark process as the
// release does (static, -trimpath, stripped; see make release), or returns
// PIPGUARD_BENCH_BIN.
func pipguardBinary(b *testing.B) string {
	b.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("PIPGUARD_BENCH_BIN"); p != "" {
			binPath, binErr = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "pipguard-bench-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "pipguard")
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", binPath, "./cmd/pipguard")
		cmd.Dir, cmd.Env = "..", append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		b.Fatal(binErr)
	}
	return binPath
}

// runs is how many times each side of a figure runs: def, or
// PIPGUARD_BENCH_RUNS (never fewer than 5).
func runs(def int) int {
	if n, err := strconv.Atoi(os.Getenv("PIPGUARD_BENCH_RUNS")); err == nil && n > 0 {
		def = n
	}
	return max(def, 5)
}

// proc is one finished process: its wall time (fork to exit, as seen by
// the parent) and peak resident set size.
type proc struct {
	wall   time.Duration
	rssKiB int64
	stdout []byte
}

// command describes a process to run.
type command struct {
	env  []string
	dir  string
	args []string
	// bare runs the command directly, without /usr/bin/time: for startup
	// times, where its millisecond would count. No peak RSS then.
	bare bool
}

// timeBin is GNU time, which measures a command's peak RSS. The
// benchmark's own rusage of a child cannot: Go starts children with
// vfork (CLONE_VM), and Linux carries the parent's high-water RSS into
// the child's maxrss at exec, so every child of this process, which holds
// fixtures of up to 1 GiB, would report at least this process's peak.
// GNU time forks normally from a small process and reports its child's
// own peak.
const timeBin = "/usr/bin/time"

// run runs c, failing the benchmark on a non-zero exit with its output.
func run(b *testing.B, c command) proc {
	b.Helper()
	args := c.args
	var rssFile string
	if !c.bare {
		if _, err := os.Stat(timeBin); err != nil {
			b.Fatalf("peak RSS needs GNU time (apt-get install time): %v", err)
		}
		f, err := os.CreateTemp("", "pipguard-bench-rss-")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		args = append([]string{timeBin, "-f", "%M", "-o", rssFile}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Dir = c.env, c.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// What earlier runs (and the venv copy) left for the kernel to write
	// is written now, not during this run: each side pays for its own
	// writes only.
	syscall.Sync()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%s: %v\n%s%s", strings.Join(c.args, " "), err, tail(out.Bytes()), tail(errb.Bytes()))
	}
	p := proc{wall: wall, stdout: out.Bytes()}
	if rssFile != "" {
		data, err := os.ReadFile(rssFile)
		lines := strings.Fields(string(data))
		if err != nil || len(lines) == 0 {
			b.Fatalf("no peak RSS from %s: %v %q", timeBin, err, data)
		}
		if p.rssKiB, err = strconv.ParseInt(lines[len(lines)-1], 10, 64); err != nil {
			b.Fatalf("peak RSS from %s: %q", timeBin, data)
		}
	}
	return p
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// baseEnv is a minimal environment: a private HOME (so no user config or
// cache leaks in), the local GitHub's CA for Go (SSL_CERT_FILE), git
// (GIT_SSL_CAINFO) and Python (pip reads its own certifi bundle; git does
// the cloning), no tokens.
func baseEnv(home, ca string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + os.TempDir(),
		"LANG=C.UTF-8",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"GH_TOKEN=", "GITHUB_TOKEN=",
	}
	if ca != "" {
		env = append(env, "SSL_CERT_FILE="+ca, "GIT_SSL_CAINFO="+ca)
	}
	return env
}

// freshDir is an empty directory under dir for one run's HOME.
func freshDir(b *testing.B, dir, prefix string) string {
	b.Helper()
	d, err := os.MkdirTemp(dir, prefix)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// stats of a series of measurements.
type stats struct{ med, lo, hi float64 }

func of(xs []float64) stats {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{med, s[0], s[n-1]}
}

func (s stats) String() string { return fmt.Sprintf("%.3g (%.3g–%.3g)", s.med, s.lo, s.hi) }

func ms(ps []proc) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = float64(p.wall.Microseconds()) / 1000
	}
	return out
}

func mib(ps []proc) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = float64(p.rssKiB) / 1024
	}
	return out
}

// ratios are pipguard's wall time over the alternative's, run by run.
func ratios(pg, alt []proc) []float64 {
	out := make([]float64, len(pg))
	for i := range pg {
		out[i] = float64(pg[i].wall) / float64(alt[i].wall)
	}
	return out
}

// report publishes a series as NAME-median, NAME-min and NAME-max.
func report(b *testing.B, name string, xs []float64) stats {
	b.Helper()
	s := of(xs)
	b.ReportMetric(s.med, name+"-median")
	b.ReportMetric(s.lo, name+"-min")
	b.ReportMetric(s.hi, name+"-max")
	return s
}

// reportPair reports the median ratio pipguard/alternative with its min and
// max, and each side's median wall time in ms (and peak RSS with rss).
func reportPair(b *testing.B, pgName, altName string, pg, alt []proc, rss bool) {
	b.Helper()
	r := report(b, "ratio", ratios(pg, alt))
	p, a := of(ms(pg)), of(ms(alt))
	b.ReportMetric(p.med, pgName+"-ms")
	b.ReportMetric(a.med, altName+"-ms")
	b.Logf("ratio %s/%s %s over %d runs; %s ms %s, %s ms %s", pgName, altName, r, len(pg), pgName, p, altName, a)
	if rss {
		pr, ar := of(mib(pg)), of(mib(alt))
		b.ReportMetric(pr.med, pgName+"-MiB")
		b.ReportMetric(ar.med, altName+"-MiB")
		b.Logf("peak RSS MiB: %s %s, %s %s", pgName, pr, altName, ar)
	}
}
