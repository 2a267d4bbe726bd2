package layout

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestWithinFastPath(t *testing.T) {
	slow := func(dir, p string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
	}
	ps := []string{"/", "/a", "/a/b", "/ab", "/a/b/c", "/a/..", "/a/./b", "a", "a/b", ".", "..", "../a", "/a/b/", "//a", "/a//b", "/b/a", "/a/bc"}
	for _, d := range ps {
		for _, p := range ps {
			if within(d, p) != slow(d, p) {
				t.Errorf("within(%q, %q) = %v, Rel says %v", d, p, within(d, p), slow(d, p))
			}
		}
	}
}
