package wheel

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

var cpython311 = []string{"cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux_2_17_x86_64", "py3-none-manylinux_2_17_x86_64", "cp311-none-any", "py311-none-any", "py3-none-any", "py2.py3-none-any"}

func TestChoose(t *testing.T) {
	assets := []string{"demo-1.0.0-py3-none-any.whl", "demo-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl",
		"demo-1.0.0-cp39-cp39-win_amd64.whl", "demo-1.0.0.tar.gz", "SHA256SUMS", "demo-1.0.0-py3-none-any.whl.spdx.json", "other-1.0.0-py3-none-any.whl"}
	c, err := Choose(assets, "Demo", "v1.0", cpython311, false)
	if err != nil || c.Asset != "demo-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl" {
		t.Fatalf("%+v %v", c, err)
	}
	if !strings.Contains(c.Skipped["demo-1.0.0-cp39-cp39-win_amd64.whl"], "no tag supported") || c.Skipped["other-1.0.0-py3-none-any.whl"] == "" {
		t.Errorf("skipped %v", c.Skipped)
	}
	// Only an incompatible wheel and an sdist: the sdist needs permission.
	only := []string{"demo-1.0.0-cp39-cp39-win_amd64.whl", "demo-1.0.0.tar.gz"}
	if c, err := Choose(only, "demo", "1.0.0", cpython311, false); !errors.Is(err, ErrNoAsset) || !strings.Contains(c.Skipped["demo-1.0.0.tar.gz"], "--allow-sdist") {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := Choose(only, "demo", "1.0.0", cpython311, true); err != nil || !c.File.Sdist {
		t.Fatalf("%+v %v", c, err)
	}
	// Another version is never picked.
	if _, err := Choose([]string{"demo-1.0.1-py3-none-any.whl"}, "demo", "v1.0.0", cpython311, true); !errors.Is(err, ErrNoAsset) {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	f, err := Parse("demo_pkg-1.0-1-py2.py3-none-any.whl")
	if err != nil || f.Name != "demo_pkg" || len(f.Tags) != 2 {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{"demo.whl", "a-b-c.whl", "../x-1-py3-none-any.whl", "demo-.tar.gz", "demo.exe"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestCanonicalVersion(t *testing.T) {
	for in, want := range map[string]string{"v1.3.1": "1.3.1", "1.0.0": "1", "V2.0rc1": "2rc1", "1.10": "1.10"} {
		if got := CanonicalVersion(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestMetadata(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "demo-1.0.0-py3-none-any.whl")
	os.WriteFile(p, pkgtest.Project{Name: "demo", Version: "1.0.0"}.Wheel(), 0o644)
	n, v, err := Metadata(p)
	if err != nil || n != "demo" || v != "1.0.0" {
		t.Fatalf("%s %s %v", n, v, err)
	}
	// A METADATA of 100 MiB of zeros (compressed to ~100 KiB) is read no
	// further than the limit.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bomb-1.0.dist-info/METADATA")
	zero := make([]byte, 1<<20)
	for i := 0; i < 100; i++ {
		w.Write(zero)
	}
	zw.Close()
	bomb := filepath.Join(dir, "bomb-1.0-py3-none-any.whl")
	os.WriteFile(bomb, buf.Bytes(), 0o644)
	if _, _, err := Metadata(bomb); err == nil {
		t.Fatal("zip bomb accepted")
	}
	os.WriteFile(filepath.Join(dir, "junk.whl"), []byte("not a zip"), 0o644)
	if _, _, err := Metadata(filepath.Join(dir, "junk.whl")); err == nil {
		t.Fatal("junk accepted")
	}
}
