package pip

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// A held install resolves and then writes nothing, neither in the
// environment nor its report, until Go; Stop ends it there, and the
// session goes on serving. Go installs what was resolved. In every pip the
// driver supports, in process and as a child of the driver (which holds
// before the child starts).
func TestHeldInstallWritesNothingUntilGo(t *testing.T) {
	isolatePip(t)
	for _, separate := range []bool{false, true} {
		name := "in-process"
		if separate {
			name = "separate"
		}
		t.Run(name, func(t *testing.T) {
			forEachPip(t, func(t *testing.T, python string) {
				dir := t.TempDir()
				wheels := filepath.Join(dir, "wheels")
				os.MkdirAll(wheels, 0o700)
				p := pkgtest.Project{Name: "heldpkg", Version: "1.0"}
				w := p.Wheel()
				os.WriteFile(filepath.Join(wheels, p.WheelName()), w, 0o600)
				reqs := filepath.Join(dir, "lock.txt")
				os.WriteFile(reqs, []byte("heldpkg==1.0 --hash=sha256:"+sum(w)+"\n"), 0o600)
				s, out := startSession(t, Options{Python: python, Separate: separate})
				info, _ := s.Info()
				before := pkgtest.Snapshot(info.Prefix)
				req := InstallRequest{ReqFile: reqs, Local: true, FindLinks: []string{wheels}, Args: []string{"--no-deps", "--require-hashes", "--only-binary", ":all:"}}
				reports := func() []string {
					m, _ := filepath.Glob(filepath.Join(dir, "pip-report-*"))
					return m
				}

				h, err := s.StartInstall(dir, req)
				if err != nil {
					t.Fatal(err)
				}
				h.Resolved()
				if got := pkgtest.Snapshot(info.Prefix); got != before {
					t.Fatalf("pip wrote before Go:\n%s", pkgtest.Diff(info.Prefix, before))
				}
				if r := reports(); len(r) > 0 {
					t.Errorf("pip wrote its report before Go: %v", r)
				}
				if err := h.Stop(); err != nil {
					t.Fatalf("Stop: %v\n%s", err, out.String())
				}
				if got := pkgtest.Snapshot(info.Prefix); got != before {
					t.Fatalf("a stopped pip wrote:\n%s", pkgtest.Diff(info.Prefix, before))
				}
				if r := reports(); len(r) > 0 {
					t.Errorf("a stopped pip left its report: %v", r)
				}
				if _, err := h.Go(); err == nil {
					t.Error("Go after Stop did not fail")
				}

				h, err = s.StartInstall(dir, req)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := h.Go()
				if err != nil {
					t.Fatalf("Go: %v\n%s", err, out.String())
				}
				if len(rep.Install) != 1 || rep.Install[0].Metadata.Name != "heldpkg" {
					t.Errorf("report: %+v\n%s", rep.Install, out.String())
				}
				if _, err := os.Stat(filepath.Join(info.Site[0], "heldpkg-1.0.dist-info", "RECORD")); err != nil {
					t.Errorf("Go did not install: %v", err)
				}
			})
		})
	}
}

// A held install whose resolution fails ends without being held: Go
// returns pip's error, Stop takes it for the stop it asked for, and
// nothing is written either way.
func TestHeldInstallThatFailsBeforeTheHold(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		wheels := filepath.Join(dir, "wheels")
		os.MkdirAll(wheels, 0o700)
		reqs := filepath.Join(dir, "lock.txt")
		os.WriteFile(reqs, []byte("nosuchpkg==1.0 --hash=sha256:"+strings.Repeat("0", 64)+"\n"), 0o600)
		s, out := startSession(t, Options{Python: python})
		info, _ := s.Info()
		before := pkgtest.Snapshot(info.Prefix)
		req := InstallRequest{ReqFile: reqs, Local: true, FindLinks: []string{wheels}, Args: []string{"--no-deps", "--require-hashes", "--only-binary", ":all:"}}
		h, err := s.StartInstall(dir, req)
		if err != nil {
			t.Fatal(err)
		}
		var pe *Error
		if _, err := h.Go(); !errors.As(err, &pe) {
			t.Errorf("Go: %v, want pip's error\n%s", err, out.String())
		}
		h, err = s.StartInstall(dir, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if got := pkgtest.Snapshot(info.Prefix); got != before {
			t.Errorf("a failed resolution wrote:\n%s", pkgtest.Diff(info.Prefix, before))
		}
	})
}

// speed_ups changes how fast pip is, never what it answers: the supported
// tags pip's factory is given are pip's own (the same list, in order),
// computed once, and a call with arguments (another platform or Python
// version) still reaches pip; a wheel's metadata is read once per file and
// name, and again once the file changes (another wheel written in its
// place: its own metadata, not the kept one).
func TestSpeedUpsKeepPipsAnswers(t *testing.T) {
	isolatePip(t)
	forEachPip(t, func(t *testing.T, python string) {
		dir := t.TempDir()
		one, two := pkgtest.Project{Name: "memo", Version: "1.0"}, pkgtest.Project{Name: "memo", Version: "2.0"}
		wheel := filepath.Join(dir, one.WheelName())
		os.WriteFile(wheel, one.Wheel(), 0o600)
		script := `
import json, os, sys
src = sys.stdin.read()
ns = {"__name__": "pipguard_driver"}
exec(compile(src, "driver.py", "exec"), ns)
from pip._internal.utils import compatibility_tags
from pip._internal.resolution.resolvelib import factory
from pip._internal.req import req_install
from pip._internal.metadata import FilesystemWheel
wheel, other = sys.argv[1], sys.argv[2]
own = [str(t) for t in compatibility_tags.get_supported()]
other_tags = [str(t) for t in compatibility_tags.get_supported(version="39", platforms=["linux_x86_64"])]
patchable = "_supported_tags_cache" not in open(factory.__file__).read()
pips = req_install.get_wheel_distribution(FilesystemWheel(wheel), "memo")
ns["speed_ups"]()
first, second = factory.get_supported(), factory.get_supported()
d1 = req_install.get_wheel_distribution(FilesystemWheel(wheel), "memo")
d2 = req_install.get_wheel_distribution(FilesystemWheel(wheel), "memo")
os.replace(other, wheel)
d3 = req_install.get_wheel_distribution(FilesystemWheel(wheel), "memo")
print(json.dumps({
    "patchable": patchable,
    "patched": factory.get_supported is not compatibility_tags.get_supported,
    "same": [str(t) for t in first] == own,
    "once": first is second,
    "other": [str(t) for t in factory.get_supported(version="39", platforms=["linux_x86_64"])] == other_tags,
    "versions": [str(d.version) for d in (pips, d1, d2, d3)],
    "metadata": dict(pips.metadata.items()) == dict(d1.metadata.items()),
    "kept": d1 is d2,
}))
`
		other := filepath.Join(dir, "other.whl")
		os.WriteFile(other, two.Wheel(), 0o600)
		cmd := exec.Command(python, "-I", "-c", script, wheel, other)
		cmd.Stdin = strings.NewReader(driver)
		data, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("%v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		var got struct {
			Patchable, Patched, Same, Once, Other, Metadata, Kept bool
			Versions                                              []string
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		if !got.Same || !got.Other {
			t.Errorf("the tags pip's factory gets differ from pip's own: %+v", got)
		}
		// pip 24.1 and later ask once per resolution themselves: nothing
		// to patch there. Before, the driver asks once.
		if got.Patchable && (!got.Patched || !got.Once) {
			t.Errorf("pip asks for its supported tags for every candidate, and the driver did not make it once: %+v", got)
		}
		if want := []string{"1.0", "1.0", "1.0", "2.0"}; !slices.Equal(got.Versions, want) || !got.Metadata {
			t.Errorf("wheel metadata: versions %v (want %v: pip's, kept twice, the new file's), same metadata as pip's: %v", got.Versions, want, got.Metadata)
		}
		if !got.Kept {
			t.Errorf("the wheel's metadata was read again for the same file: %+v", got)
		}
	})
}
