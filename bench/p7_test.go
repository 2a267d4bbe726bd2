//go:build linux

package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// fiftyWheels publishes 50 projects on a local index: about 30 MB of
// wheels and 5,000 files in all (100 files each: 60 small modules and 40
// data files of pseudo-random bytes), and returns the requirements file
// pipguard reads (name==version) and the pinned one pip reads (with
// --hash).
func fiftyWheels(b *testing.B, dir string) (ix *pkgtest.Index, reqs, pinned string) {
	b.Helper()
	ix = pkgtest.NewIndex(b)
	rng := rand.New(rand.NewChaCha8([32]byte{7}))
	var r, p strings.Builder
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("p7pkg%02d", i)
		proj := pkgtest.Project{Name: name, Version: "1.0", Files: pkgtest.P7Files(rng, name)}
		ix.Add(proj)
		fmt.Fprintf(&r, "%s==1.0\n", name)
		fmt.Fprintf(&p, "%s==1.0 --hash=sha256:%s\n", name, sha256Hex(proj.Wheel()))
	}
	reqs, pinned = filepath.Join(dir, "requirements.txt"), filepath.Join(dir, "pinned.txt")
	if err := os.WriteFile(reqs, []byte(r.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(pinned, []byte(p.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return ix, reqs, pinned
}

// timing is one stage of pipguard's JSON report.
type timing struct {
	Stage   string        `json:"stage"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// timings are the stages of pipguard's JSON report on stdout.
func timings(b *testing.B, stdout []byte) []timing {
	b.Helper()
	var rep struct {
		Timings []timing `json:"timings"`
	}
	if err := json.Unmarshal(stdout, &rep); err != nil {
		b.Fatalf("pipguard's report: %v\n%s", err, tail(stdout))
	}
	return rep.Timings
}

// BenchmarkP7FiftyIndexWheels: pipguard install of 50 index wheels (one
// resolution, every file kept and hashed by pipguard, every path planned,
// pip on the local files, the disk checked) against pip install
// --no-deps --require-hashes -r of the same pinned set, each into a fresh
// copy of the same venv with a fresh HOME (no pip cache), alternating.
// Target: at most 1.25 x, pipguard's peak RSS at most 150 MiB. It logs
// where pipguard's time goes (its JSON report's timings).
//
//	go test -run '^$' -bench P7 -benchtime 1x ./bench
//
// PIPGUARD_BENCH_BASE=PATH adds a third side to every round, another
// pipguard binary (an earlier commit), for a before/after in one run.
func BenchmarkP7FiftyIndexWheels(b *testing.B) {
	bin := pipguardBinary(b)
	base := os.Getenv("PIPGUARD_BENCH_BASE")
	n := runs(5)
	for b.Loop() {
		dir := b.TempDir()
		ix, reqs, pinned := fiftyWheels(b, dir)
		template := pkgtest.NewVenv(b)
		var pg, alt, before []proc
		stages := map[string][]time.Duration{}
		var order []string
		for i := 0; i < n; i++ {
			earlier := func() {
				if base == "" {
					return
				}
				py := copyVenv(b, template)
				env := baseEnv(freshDir(b, dir, "home-"), "")
				before = append(before, run(b, command{env: env, args: []string{base, "install", "--format", "json", "--python", py, "-r", reqs, "--", "--index-url", ix.SimpleURL()}}))
			}
			one := func() {
				py := copyVenv(b, template)
				env := baseEnv(freshDir(b, dir, "home-"), "")
				p := run(b, command{env: env, args: []string{bin, "install", "--format", "json", "--python", py, "-r", reqs, "--", "--index-url", ix.SimpleURL()}})
				var rep struct {
					Lock []struct {
						Files int `json:"files"`
					} `json:"lock"`
					Timings []struct {
						Stage   string        `json:"stage"`
						Elapsed time.Duration `json:"elapsed_ns"`
					} `json:"timings"`
				}
				if err := json.Unmarshal(p.stdout, &rep); err != nil || len(rep.Lock) != 50 {
					b.Fatalf("pipguard's report: %v, %d locked\n%s", err, len(rep.Lock), tail(p.stdout))
				}
				for _, t := range rep.Timings {
					if _, ok := stages[t.Stage]; !ok {
						order = append(order, t.Stage)
					}
					stages[t.Stage] = append(stages[t.Stage], t.Elapsed)
				}
				pg = append(pg, p)
			}
			other := func() {
				py := copyVenv(b, template)
				env := baseEnv(freshDir(b, dir, "home-"), "")
				alt = append(alt, run(b, command{env: env, args: []string{py, "-m", "pip", "install", "-q", "--no-deps", "--require-hashes", "-r", pinned, "--index-url", ix.SimpleURL()}}))
			}
			// The base (when given) goes first, then last; the pair alternates.
			if i%2 == 0 {
				earlier()
				one()
				other()
			} else {
				other()
				one()
				earlier()
			}
		}
		reportPair(b, "pipguard", "pip", pg, alt, true)
		if base != "" {
			reportPair(b, "base", "pip", before, alt, true)
			reportPair(b, "pipguard", "base", pg, before, false)
			b.Logf("the base's stages:")
			logStages(b, before)
		}
		for _, s := range order {
			ds := stages[s]
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.Logf("pipguard stage %-26s median %s", s, ds[len(ds)/2].Round(time.Millisecond))
		}
	}
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// BenchmarkP7PipOptions measures what the options pipguard gives pip's
// second run (the install on its local files) cost pip: the 50 wheels of
// P7 from a local directory, into a fresh copy of one venv each time, by
// pip alone (its own process), interleaved. "pipguard's" is the install
// step's command line as the driver runs it (--isolated --no-index
// --find-links DIR --no-deps --force-reinstall --require-hashes
// --only-binary :all: --report FILE, name==version --hash lines); each
// other variant drops one option. It logs each variant's median wall time
// and its ratio to pipguard's, run by run.
//
//	go test -run '^$' -bench P7PipOptions -benchtime 1x ./bench
func BenchmarkP7PipOptions(b *testing.B) {
	n := runs(5)
	for b.Loop() {
		dir := b.TempDir()
		wheels := filepath.Join(dir, "wheels")
		os.Mkdir(wheels, 0o755)
		var hashed, plain strings.Builder
		rng := rand.New(rand.NewChaCha8([32]byte{7}))
		for i := 0; i < 50; i++ {
			name := fmt.Sprintf("p7pkg%02d", i)
			p := pkgtest.Project{Name: name, Version: "1.0", Files: pkgtest.P7Files(rng, name)}
			w := p.Wheel()
			if err := os.WriteFile(filepath.Join(wheels, p.WheelName()), w, 0o644); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&hashed, "%s==1.0 --hash=sha256:%s\n", name, sha256Hex(w))
			fmt.Fprintf(&plain, "%s==1.0\n", name)
		}
		hashedFile, plainFile := filepath.Join(dir, "hashed.txt"), filepath.Join(dir, "plain.txt")
		os.WriteFile(hashedFile, []byte(hashed.String()), 0o644)
		os.WriteFile(plainFile, []byte(plain.String()), 0o644)
		template := pkgtest.NewVenv(b)
		type variant struct {
			name string
			args func(report string) []string
		}
		base := func(drop string, reqs string) func(string) []string {
			return func(report string) []string {
				all := []string{"install", "-q", "--report", report, "-r", reqs, "--no-index", "--find-links=" + wheels, "--isolated", "--no-deps", "--force-reinstall", "--require-hashes", "--only-binary", ":all:"}
				var out []string
				for i := 0; i < len(all); i++ {
					switch {
					case all[i] == drop:
						if drop == "--only-binary" || drop == "--report" {
							i++
						}
						continue
					}
					out = append(out, all[i])
				}
				return out
			}
		}
		vs := []variant{
			{"pipguard's", base("", hashedFile)},
			{"no --force-reinstall", base("--force-reinstall", hashedFile)},
			{"no --require-hashes, no hashes", base("--require-hashes", plainFile)},
			{"no --report", base("--report", hashedFile)},
			{"no --only-binary", base("--only-binary", hashedFile)},
			{"no --isolated", base("--isolated", hashedFile)},
		}
		times := make([][]time.Duration, len(vs))
		for i := 0; i < n; i++ {
			for k := range vs {
				v := vs[(k+i)%len(vs)]
				idx := (k + i) % len(vs)
				py := copyVenv(b, template)
				env := baseEnv(freshDir(b, dir, "home-"), "")
				args := append([]string{py, "-m", "pip"}, v.args(filepath.Join(dir, fmt.Sprintf("report-%d-%d.json", i, k)))...)
				p := run(b, command{env: env, args: args})
				times[idx] = append(times[idx], p.wall)
			}
		}
		for k, v := range vs {
			var rs []float64
			for i := range times[k] {
				rs = append(rs, float64(times[k][i])/float64(times[0][i]))
			}
			ds := append([]time.Duration(nil), times[k]...)
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.Logf("%-32s median %s (%s–%s), ratio to pipguard's %s", v.name, ds[len(ds)/2].Round(time.Millisecond), ds[0].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), of(rs))
		}
	}
}
