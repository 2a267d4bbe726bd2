package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// fakeInfo is an interpreter probe for a prefix that holds nothing: enough
// for the plan, which reads only the site directories and the scheme.
func fakeInfo(t *testing.T) *pip.Info {
	t.Helper()
	prefix := t.TempDir()
	site := filepath.Join(prefix, "lib", "python3.11", "site-packages")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	return &pip.Info{Site: []string{site}, Prefix: prefix, Version: "3.11.7", CacheTag: "cpython-311",
		SchemeTemplate: map[string]string{"purelib": site, "platlib": site, "scripts": filepath.Join(prefix, "bin"), "data": prefix,
			"headers": filepath.Join(prefix, "include", "site", "python3.11", pip.SchemePlaceholder)}}
}

// The fetch and the plan work on many wheels at once and report as one
// pass would: every item's outcome in the lock's order, the plans in the
// lock's order. A locked file whose bytes changed after the fetch hashed
// them is refused by the plan (pip would be given the fetch's hash).
func TestFetchAndPlanManyWheels(t *testing.T) {
	dir := t.TempDir()
	kept := filepath.Join(dir, "kept")
	os.Mkdir(kept, 0o755)
	lk := &lock{}
	var ks []pip.Kept
	for i := 0; i < 12; i++ {
		p := pkgtest.Project{Name: fmt.Sprintf("many%02d", i), Version: "1.0"}
		path := filepath.Join(kept, p.WheelName())
		if err := os.WriteFile(path, p.Wheel(), 0o644); err != nil {
			t.Fatal(err)
		}
		lk.items = append(lk.items, Locked{Name: p.Name, Version: "1.0", Source: SourceIndex})
		ks = append(ks, pip.Kept{Name: p.Name, Version: "1.0", Path: path})
	}
	// Two items whose kept file is missing, and one whose lock holds
	// another digest: all three are reported, in the lock's order.
	lk.items = append(lk.items, Locked{Name: "absent", Version: "1.0", Source: SourceIndex})
	lk.items[3].SHA256 = strings.Repeat("0", 64)
	err := fetch(lk, ks, filepath.Join(dir, "files"))
	var ae *AuditError
	if !errors.As(err, &ae) || len(ae.Reasons) != 2 || !strings.HasPrefix(ae.Reasons[0], "many03 1.0: the file pip resolved") || !strings.HasPrefix(ae.Reasons[1], "absent 1.0: pip's resolution kept no file") {
		t.Fatalf("fetch: %v", err)
	}

	lk.items = lk.items[:12]
	lk.items[3].SHA256 = ""
	if err := fetch(lk, ks, filepath.Join(dir, "files2")); err != nil {
		t.Fatal(err)
	}
	info := fakeInfo(t)
	pp, err := planPaths(lk, info)
	if err != nil {
		t.Fatal(err)
	}
	for i, pl := range pp.plans {
		if pl.Name != lk.items[i].Name || lk.items[i].plan != pl || lk.items[i].Files != len(pl.Files) || pl.SHA256 != lk.items[i].SHA256 {
			t.Errorf("plan %d is %s (%d files), item %s", i, pl.Name, len(pl.Files), lk.items[i].Name)
		}
	}

	// Two files changed after the fetch: each is refused, by name.
	for _, i := range []int{2, 7} {
		other := pkgtest.Project{Name: lk.items[i].Name, Version: "1.0", Files: map[string]string{lk.items[i].Name + "/x.py": "X = 2\n"}}
		if err := os.WriteFile(lk.items[i].file+".new", other.Wheel(), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Rename(lk.items[i].file+".new", lk.items[i].file)
	}
	_, err = planPaths(lk, info)
	var we *WheelError
	if !errors.As(err, &we) || we.Name != "many02" || !strings.Contains(err.Error(), "many07: the locked file") || !strings.Contains(err.Error(), "changed after pipguard hashed it") {
		t.Fatalf("plan of changed files: %v", err)
	}
}
