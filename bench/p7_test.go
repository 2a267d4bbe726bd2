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
		files := map[string]string{}
		for j := 0; j < 60; j++ {
			files[fmt.Sprintf("%s/mod%02d.py", name, j)] = fmt.Sprintf("# module %d of %s\nVALUE = %d\n\ndef f(x):\n    return x + %d\n", j, name, j, rng.IntN(1000))
		}
		for j := 0; j < 39; j++ {
			blob := make([]byte, 15000)
			for k := range blob {
				blob[k] = byte(rng.Uint32())
			}
			files[fmt.Sprintf("%s/data/blob%02d.bin", name, j)] = string(blob)
		}
		proj := pkgtest.Project{Name: name, Version: "1.0", Files: files}
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

// BenchmarkP7FiftyIndexWheels: pipguard install of 50 index wheels (one
// resolution, every file kept and hashed by pipguard, every path planned,
// pip on the local files, the disk checked) against pip install
// --no-deps --require-hashes -r of the same pinned set, each into a fresh
// copy of the same venv with a fresh HOME (no pip cache), alternating.
// Target: at most 1.25 x, pipguard's peak RSS at most 150 MiB. It logs
// where pipguard's time goes (its JSON report's timings).
//
//	go test -run '^$' -bench P7 -benchtime 1x ./bench
func BenchmarkP7FiftyIndexWheels(b *testing.B) {
	bin := pipguardBinary(b)
	n := runs(5)
	for b.Loop() {
		dir := b.TempDir()
		ix, reqs, pinned := fiftyWheels(b, dir)
		template := pkgtest.NewVenv(b)
		var pg, alt []proc
		stages := map[string][]time.Duration{}
		var order []string
		for i := 0; i < n; i++ {
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
			if i%2 == 0 {
				one()
				other()
			} else {
				other()
				one()
			}
		}
		reportPair(b, "pipguard", "pip", pg, alt, true)
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
