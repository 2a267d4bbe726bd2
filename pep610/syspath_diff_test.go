package pep610

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSitePathMatchesSite compares SitePath with site.addsitedir run by
// each installed interpreter (pyenv's 3.6 to 3.13, or python3) on one
// site directory of .pth files: sys.path after it, entry by entry. The
// import lines the reference runs only write to stderr.
func TestSitePathMatchesSite(t *testing.T) {
	site := t.TempDir()
	other := t.TempDir()
	mustMkdir(t, filepath.Join(other, "a"))
	mustMkdir(t, filepath.Join(other, "b c"))
	mustMkdir(t, filepath.Join(site, "rel"))
	files := map[string]string{
		"a.pth":       other + "/a\n# comment\n\n   \n" + other + "/missing\nrel\n",
		"b.pth":       "import sys; sys.stderr.write('')\n" + other + "/b c  \t\n",
		"c.pth":       other + "/a\r" + other + "/x\fimport sys\n",
		".hidden.pth": other + "/b c\n",
		"d.pth":       "\xef\xbb\xbf" + other + "/a\n",
		"e.pth":       "importsys\nimport\tsys\n #x\n",
	}
	for n, c := range files {
		mustWrite(t, filepath.Join(site, n), c)
	}
	mustMkdir(t, filepath.Join(other, "x\fimport sys"))
	var pys []string
	if out, err := exec.Command("pyenv", "root").Output(); err == nil {
		m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "versions", "3.*", "bin", "python3"))
		pys = m
	}
	if len(pys) == 0 {
		if p, err := exec.LookPath("python3"); err == nil {
			pys = []string{p}
		}
	}
	if len(pys) == 0 {
		t.Skip("no python3")
	}
	for _, py := range pys {
		out, err := exec.Command(py, "-I", "-S", "-c", `import json, site, sys
base = list(sys.path)
site.addsitedir(sys.argv[1])
json.dump({"version": list(sys.version_info[:2]), "base": [p for p in base if p], "path": [p for p in sys.path if p]}, sys.stdout)`, site).Output()
		if err != nil {
			t.Fatalf("%s: %v", py, err)
		}
		var ref struct {
			Version []int
			Base    []string
			Path    []string
		}
		if err := json.Unmarshal(out, &ref); err != nil {
			t.Fatal(err)
		}
		// site.main's removeduppaths drops repeated entries first (3.6's
		// -c start repeats one).
		seen := map[string]bool{}
		var want []string
		for _, p := range ref.Path {
			if !seen[p] {
				seen[p] = true
				want = append(want, p)
			}
		}
		ref.Path = want
		path, _ := SitePath(ref.Base, []string{site}, [2]int{ref.Version[0], ref.Version[1]})
		var got []string
		for _, e := range path {
			got = append(got, e.Dir)
		}
		if strings.Join(got, "\n") != strings.Join(ref.Path, "\n") {
			t.Errorf("Python %v: SitePath gives\n%q\nsite.addsitedir\n%q", ref.Version, got, ref.Path)
		}
	}
}
