package layout_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// BenchmarkPlan is Open, PlanWheel and Check of a 5,000-member wheel
// installed (from its own plan) in a temporary prefix.
func BenchmarkPlan(b *testing.B) {
	s := pkgtest.WheelSpec{Name: "big", Version: "1.0"}
	for i := 0; i < 5000; i++ {
		s.Members = append(s.Members, member{Name: fmt.Sprintf("big/p%02d/m%04d.py", i%50, i), Body: strings.Repeat(fmt.Sprintf("x%d = %d\n", i, i), 40)})
	}
	dir := b.TempDir()
	path := filepath.Join(dir, s.FileName())
	if err := os.WriteFile(path, s.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	root := filepath.Join(dir, "prefix")
	scheme := layout.Scheme{Purelib: root + "/lib/site-packages", Platlib: root + "/lib/site-packages", Scripts: root + "/bin", Data: root,
		Headers: root + "/include/big", CacheTag: "cpython-311", PythonVersion: "3.11"}
	w, err := layout.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := layout.PlanWheel(w, scheme, layout.PlanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	install(b, s, plan)
	if ps := layout.Check([]*layout.Plan{plan}); len(ps) != 0 {
		b.Fatalf("Check: %v", ps[0])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, err := layout.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		plan, err := layout.PlanWheel(w, scheme, layout.PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if ps := layout.Check([]*layout.Plan{plan}); len(ps) != 0 {
			b.Fatal(ps[0])
		}
	}
}

// install writes what the plan says pip writes (copied members and a
// RECORD of the planned paths), as a stand-in for pip in the benchmark.
func install(b *testing.B, s pkgtest.WheelSpec, plan *layout.Plan) {
	bodies := map[string]string{}
	for _, m := range s.AllMembers() {
		bodies[m.Name] = m.Body
	}
	var record strings.Builder
	lib := filepath.Dir(plan.DistInfo)
	for _, f := range plan.Files {
		if f.Kind == layout.Bytecode {
			continue
		}
		os.MkdirAll(filepath.Dir(f.Path), 0o755)
		if f.Kind == layout.Copied {
			if err := os.WriteFile(f.Path, []byte(bodies[f.Member]), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		rel, _ := filepath.Rel(lib, f.Path)
		record.WriteString(rel + ",,\n")
	}
	os.WriteFile(filepath.Join(plan.DistInfo, "INSTALLER"), []byte("pip\n"), 0o644)
	os.WriteFile(filepath.Join(plan.DistInfo, "RECORD"), []byte(record.String()), 0o644)
}
