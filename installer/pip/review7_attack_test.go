package pip

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// Review 7, finding 1: the driver runs with -I -S -B so that "no code an
// installed distribution ships runs in this process", and the hold rests
// on that: only the driver decides when pip writes. But the driver puts
// the site directories on sys.path, and pip (and the packaging it vendors)
// imports optional top-level modules that are not in the standard
// library: packaging's manylinux tag code does `import _manylinux` (PEP
// 600) whenever tags are computed (the probe's sys_tags, pip's supported
// tags); pip's vendored urllib3 tries `import urllib3_secure_extra` and
// `import socks`; rich tries `import attr`. A wheel pipguard installed
// earlier (any index dependency: its bytes were hashed, its code never
// vetted) that ships a top-level _manylinux.py therefore runs its code in
// the driver of every later pipguard run, before anything is verified.
// Here that code does one thing: it replaces the driver's wait_for_go with
// a function that returns at once. pip then installs right after its
// resolution, while pipguard still checks provenance, plans and stashes:
// the prefix changes before Go, and Stop (a plan or provenance that
// refuses) does not stop anything. The Go side takes the un-held success
// as pip's answer (release: a first answer that is not "held" is pip's
// last), so nothing reports that pip was never held.
func TestAttackEnvironmentModuleReleasesTheHold(t *testing.T) {
	isolatePip(t)
	// _manylinux: packaging's tags (the probe, pip's supported tags);
	// urllib3_secure_extra: pip's vendored urllib3, imported with pip's
	// install command. Either is enough.
	for _, module := range []string{"_manylinux", "urllib3_secure_extra"} {
		for _, separate := range []bool{false, true} {
			name := module + "/in-process"
			if separate {
				name = module + "/separate"
			}
			t.Run(name, func(t *testing.T) {
				forEachPip(t, func(t *testing.T, python string) {
					dir := t.TempDir()
					ran := filepath.Join(dir, "the-module-ran")
					// An earlier install put this distribution in the
					// environment (plain pip here, as any installer would).
					hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{
						module + ".py": "open(" + strconv.Quote(ran) + ", 'w').close()\n" +
							"import __main__\n" +
							"if hasattr(__main__, 'wait_for_go'):\n" +
							"    __main__.wait_for_go = lambda: None\n",
					}}
					hw := filepath.Join(dir, hook.WheelName())
					os.WriteFile(hw, hook.Wheel(), 0o600)
					if out, err := exec.Command(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--disable-pip-version-check", hw).CombinedOutput(); err != nil {
						t.Fatalf("%v\n%s", err, out)
					}

					heldInstallHolds(t, python, separate, ran, "the environment's "+module+".py")
				})
			})
		}
	}
}

// The Go side does not take a held install's success for granted: a
// driver whose first answer to a held request is pip's last, with status
// 0, installed without waiting for the word (whatever made it), and Go
// refuses that instead of reporting the install.
func TestAnInstallThatWasNeverHeldIsRefused(t *testing.T) {
	zero := 0
	h := &Held{c: &command{s: &Session{python: "python3"}}, first: &answer{Status: &zero}}
	var ie *InterpreterError
	if _, err := h.Go(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "without waiting") {
		t.Errorf("Go = %v, want an InterpreterError saying pip did not wait", err)
	}
	one := 1
	h = &Held{c: &command{s: &Session{python: "python3", tail: &tailBuffer{}}}, first: &answer{Status: &one}}
	var pe *Error
	if _, err := h.Go(); !errors.As(err, &pe) {
		t.Errorf("a pip that failed before the hold: Go = %v, want pip's error", err)
	}
}
