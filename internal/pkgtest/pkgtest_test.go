package pkgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The distributions pkgtest builds must be ones real pip installs, from the
// wheel, the sdist and the source tree, offline.
func TestRealPipInstallsWhatPkgtestBuilds(t *testing.T) {
	dir := t.TempDir()
	venv := filepath.Join(dir, "venv")
	if out, err := exec.Command("python3", "-m", "venv", venv).CombinedOutput(); err != nil {
		t.Fatalf("venv: %v\n%s", err, out)
	}
	py := filepath.Join(venv, "bin", "python")
	pip := func(args ...string) {
		t.Helper()
		cmd := exec.Command(py, append([]string{"-m", "pip", "--disable-pip-version-check", "--no-input", "install", "--no-index", "--no-build-isolation", "-q"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	version := func(mod string) string {
		out, err := exec.Command(py, "-c", "import "+mod+"; print("+mod+".VERSION)").CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}

	whl := Project{Name: "demo-wheel", Version: "1.0.0"}
	path := filepath.Join(dir, whl.WheelName())
	os.WriteFile(path, whl.Wheel(), 0o644)
	pip(path)
	if v := version("demo_wheel"); v != "1.0.0" {
		t.Errorf("wheel: VERSION %s", v)
	}

	sd := Project{Name: "demo-sdist", Version: "2.0.0"}
	path = filepath.Join(dir, sd.SdistName())
	os.WriteFile(path, sd.Sdist(), 0o644)
	pip(path)
	if v := version("demo_sdist"); v != "2.0.0" {
		t.Errorf("sdist: VERSION %s", v)
	}

	src := Project{Name: "demo-src", Version: "3.0.0"}
	tree := filepath.Join(dir, "src")
	if err := src.WriteSource(tree); err != nil {
		t.Fatal(err)
	}
	pip(tree)
	if v := version("demo_src"); v != "3.0.0" {
		t.Errorf("source tree: VERSION %s", v)
	}
}
