package envaudit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// synthetic makes a site-packages with n distributions: index installs,
// verified archives with receipts, git installs, and a few findings.
func synthetic(b *testing.B, n int) string {
	site := filepath.Join(b.TempDir(), "site-packages")
	os.MkdirAll(site, 0o755)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("pkg%05d", i)
		switch i % 4 {
		case 0, 1:
			dist(b, site, name, "1.0", "", nil)
		case 2:
			dist(b, site, name, "1.0", `{"url": "file:///tmp/x/`+name+`-1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "`+digest+`"}}}`, nil)
		case 3:
			dist(b, site, name, "1.0", `{"url": "https://github.com/acme/`+name+`.git", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`", "requested_revision": "v1.0"}}`, nil)
		}
	}
	return site
}

// BenchmarkAudit measures pipguard audit on 100, 1,000 and 5,000
// distributions. With PIPGUARD_BENCH_CLI=1 it also runs the built CLI and
// "python3 -m pip inspect --path" on the same directory under
// /usr/bin/time, and reports both tools' wall time and peak RSS:
//
//	PIPGUARD_BENCH_CLI=1 go test -run '^$' -bench Audit -benchtime 3x ./installer/envaudit
func BenchmarkAudit(b *testing.B) {
	var bin string
	if os.Getenv("PIPGUARD_BENCH_CLI") != "" {
		bin = filepath.Join(b.TempDir(), "pipguard")
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pipguard").CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
	for _, n := range []int{100, 1000, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			site := synthetic(b, n)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := Audit([]string{site}, Options{GitHubHost: "github.com"})
				if err != nil || rep.Distributions != n {
					b.Fatalf("%v %d", err, rep.Distributions)
				}
			}
			if bin == "" {
				return
			}
			pgS, pgKB := timed(b, bin, "audit", "--path", site, "--format", "json", "--fail-on", "error")
			pipS, pipKB := timed(b, "python3", "-m", "pip", "inspect", "--path", site)
			b.ReportMetric(pgS*1000, "ms-pipguard-cli")
			b.ReportMetric(pgKB/1024, "MiB-pipguard-cli")
			b.ReportMetric(pipS*1000, "ms-pip-inspect")
			b.ReportMetric(pipKB/1024, "MiB-pip-inspect")
			b.ReportMetric(pipS/pgS, "x-faster")
		})
	}
}

// timed runs a command under /usr/bin/time and returns its wall seconds
// and peak RSS in KiB.
func timed(b *testing.B, args ...string) (float64, float64) {
	out, err := exec.Command("/usr/bin/time", append([]string{"-f", "TIME %e %M"}, args...)...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 3 || f[0] != "TIME" {
		b.Fatalf("no timing in %s", out)
	}
	s, _ := strconv.ParseFloat(f[1], 64)
	kb, _ := strconv.ParseFloat(f[2], 64)
	return s, kb
}
