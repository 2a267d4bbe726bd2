package installer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// Review 7, finding 1, end to end (see the pip package's
// TestAttackEnvironmentModuleReleasesTheHold): a distribution already in
// the environment that ships a top-level _manylinux.py has its code run
// in pipguard's driver (packaging imports it whenever it computes
// compatibility tags, -S notwithstanding). Its code releases the hold, so
// pip's install of the lock runs while pipguard plans: a plan that
// refuses (here an index wheel that would shadow the verified demo/core.py,
// TestAWheelCannotShadowAVerifiedModule) comes after pip has installed
// both, with no stash to roll back from. pipguard reports the conflict
// "before pip runs" and leaves the refused wheels installed.
func TestAttackEnvironmentModuleInstallsWhatThePlanRefuses(t *testing.T) {
	w := newInstallWorld(t)
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0", Files: map[string]string{"demo/core.py": "SAFE = True\n"}}})
	ix := pkgtest.NewIndex(t)
	ix.Add(pkgtest.Project{Name: "evil", Version: "1.0", Files: map[string]string{"demo/core/__init__.py": "SAFE = 'attacker'\n"}})
	hook := pkgtest.Project{Name: "innocent", Version: "1.0", Files: map[string]string{
		"_manylinux.py": "import __main__\n" +
			"if hasattr(__main__, 'wait_for_go'):\n" +
			"    __main__.wait_for_go = lambda: None\n",
	}}
	hw := filepath.Join(t.TempDir(), hook.WheelName())
	os.WriteFile(hw, hook.Wheel(), 0o644)
	if out, err := exec.Command(w.python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--disable-pip-version-check", hw).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	prefix := prefixOf(w.python)
	before := prefixState(t, prefix)
	_, err := w.install(t, InstallOptions{Requirements: []string{w.req("v1.0.0"), "evil==1.0"}, PipArgs: []string{"--index-url", ix.SimpleURL()}})
	var ce *ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "demo's module") {
		t.Fatalf("err = %v\n%s", err, w.out.String())
	}
	if _, err := os.Stat(filepath.Join(w.site, "demo", "core", "__init__.py")); err == nil {
		t.Errorf("the refused wheel's demo/core/__init__.py was installed (pip was never held)")
	}
	sameState(t, before, prefixState(t, prefix))
}
