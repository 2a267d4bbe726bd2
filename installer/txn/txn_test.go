package txn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// env is a fake environment: prefix/lib/site-packages and prefix/bin.
type env struct {
	prefix, site string
}

func newEnv(t *testing.T) env {
	e := env{prefix: t.TempDir()}
	e.site = filepath.Join(e.prefix, "lib", "site-packages")
	os.MkdirAll(e.site, 0o755)
	os.MkdirAll(filepath.Join(e.prefix, "bin"), 0o755)
	return e
}

// dist writes a distribution's files and its RECORD (paths relative to
// site-packages, as pip writes them).
func (e env) dist(t *testing.T, name, version string, files map[string]string) {
	t.Helper()
	di := name + "-" + version + ".dist-info"
	files[di+"/METADATA"] = "Name: " + name + "\nVersion: " + version + "\n"
	var record []string
	for p, body := range files {
		full := filepath.Join(e.site, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		record = append(record, p+",,")
	}
	record = append(record, di+"/RECORD,,")
	os.WriteFile(filepath.Join(e.site, di, "RECORD"), []byte(strings.Join(record, "\n")+"\n"), 0o644)
}

// tree lists every path under the prefix with its content digest.
func (e env) tree() string {
	var lines []string
	filepath.WalkDir(e.prefix, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(e.prefix, p)
		if strings.HasPrefix(d.Name(), ".pipguard-stash-") {
			return filepath.SkipDir // checked on its own
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			s := sha256.Sum256(b)
			rel += " " + hex.EncodeToString(s[:8])
		}
		lines = append(lines, rel)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// remove deletes a distribution as pip's uninstall does.
func (e env) remove(t *testing.T, name, version string, files ...string) {
	for _, f := range files {
		os.Remove(filepath.Join(e.site, f))
	}
	os.RemoveAll(filepath.Join(e.site, name+"-"+version+".dist-info"))
}

// An upgrade rolled back: the old version's files come back byte for
// byte, the new version's files, directories and scripts are gone, and
// another distribution's file that the new RECORD claims is left alone.
func TestRollbackRestoresAnUpgrade(t *testing.T) {
	e := newEnv(t)
	e.dist(t, "demo", "0.9", map[string]string{"demo/__init__.py": "OLD", "demo/util.py": "U", "../../bin/demo": "#!old"})
	e.dist(t, "other", "1.0", map[string]string{"other/__init__.py": "OTHER"})
	before := e.tree()
	time.Sleep(50 * time.Millisecond) // older than Begin, as any file pip did not touch

	tx, err := Begin([]string{e.site}, e.prefix, []string{"Demo"})
	if err != nil {
		t.Fatal(err)
	}
	if tx.Stashed() != 5 { // 2 files, the script, METADATA and RECORD
		t.Errorf("stashed %d files", tx.Stashed())
	}
	// pip replaces demo 0.9 with 1.0, which adds a subpackage, a new
	// top-level package and a script, and whose RECORD (hostile) also
	// claims other's file and a file outside the environment.
	e.remove(t, "demo", "0.9", "demo/__init__.py", "demo/util.py", "../../bin/demo")
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("keep"), 0o644)
	e.dist(t, "demo", "1.0", map[string]string{"demo/__init__.py": "NEW", "demo/sub/x.py": "X", "demo_extra/y.py": "Y", "../../bin/demo": "#!new"})
	rec := filepath.Join(e.site, "demo-1.0.dist-info", "RECORD")
	f, _ := os.OpenFile(rec, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("other/__init__.py,,\n" + outside + ",,\n")
	f.Close()

	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := e.tree(); after != before {
		t.Errorf("not restored:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Error("a file outside the environment was removed")
	}
	if left, _ := filepath.Glob(filepath.Join(e.site, ".pipguard-stash-*")); len(left) != 0 {
		t.Errorf("stash left: %v", left)
	}
}

// A commit keeps what the install did and leaves no stash behind.
func TestCommitDropsTheStash(t *testing.T) {
	e := newEnv(t)
	e.dist(t, "demo", "0.9", map[string]string{"demo/__init__.py": "OLD"})
	tx, err := Begin([]string{e.site}, e.prefix, []string{"demo"})
	if err != nil {
		t.Fatal(err)
	}
	e.remove(t, "demo", "0.9", "demo/__init__.py")
	e.dist(t, "demo", "1.0", map[string]string{"demo/__init__.py": "NEW"})
	after := e.tree()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if e.tree() != after {
		t.Error("commit changed the environment")
	}
	if left, _ := filepath.Glob(filepath.Join(e.site, ".pipguard-stash-*")); len(left) != 0 {
		t.Errorf("stash left: %v", left)
	}
	if err := tx.Rollback(context.Background()); err != nil || e.tree() != after {
		t.Error("a rollback after the commit changed something")
	}
}

// A fresh install rolled back leaves nothing, and a rollback whose
// deadline has passed says where the stash is instead of half-restoring
// silently.
func TestRollbackOfAFreshInstallAndADeadline(t *testing.T) {
	e := newEnv(t)
	before := e.tree()
	tx, err := Begin([]string{e.site}, e.prefix, []string{"demo"})
	if err != nil {
		t.Fatal(err)
	}
	e.dist(t, "demo", "1.0", map[string]string{"demo/__init__.py": "NEW", "~emo/half": "pip's own temporary directory"})
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.tree() != before {
		t.Errorf("left:\n%s", e.tree())
	}

	e.dist(t, "demo", "0.9", map[string]string{"demo/__init__.py": "OLD"})
	tx, _ = Begin([]string{e.site}, e.prefix, []string{"demo"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tx.Rollback(ctx); err == nil || !strings.Contains(err.Error(), "the stashed files are kept in") {
		t.Errorf("err = %v", err)
	}
}

// A file the install overwrote that belongs to a distribution outside the
// transaction is neither deleted nor passed over: the rollback says so.
// So is a distribution outside the transaction that pip removed.
func TestRollbackReportsWhatItCannotRestore(t *testing.T) {
	e := newEnv(t)
	e.dist(t, "other", "1.0", map[string]string{"other/__init__.py": "OTHER", "shared/util.py": "SHARED"})
	e.dist(t, "gone", "1.0", map[string]string{"gone.py": "G"})
	time.Sleep(50 * time.Millisecond)
	tx, err := Begin([]string{e.site}, e.prefix, []string{"demo"})
	if err != nil {
		t.Fatal(err)
	}
	e.dist(t, "demo", "1.0", map[string]string{"demo/__init__.py": "NEW", "shared/util.py": "DEMO'S"})
	e.remove(t, "gone", "1.0", "gone.py")
	err = tx.Rollback(context.Background())
	var re *RollbackError
	if !errors.As(err, &re) || len(re.Problems) != 2 ||
		!strings.Contains(err.Error(), "shared/util.py was overwritten by the install; it belongs to other-1.0.dist-info") ||
		!strings.Contains(err.Error(), "gone-1.0.dist-info was removed by the install but is not in the lock") {
		t.Fatalf("err = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(e.site, "shared", "util.py")); err != nil || string(b) != "DEMO'S" {
		t.Errorf("shared file: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(e.site, "demo")); err == nil {
		t.Error("demo left behind")
	}
}

// Legacy forms pip still uninstalls are stashed too: an .egg-info with
// installed-files.txt, and a develop install's .egg-link with the
// easy-install.pth line pip edits in place.
func TestRollbackRestoresLegacyInstalls(t *testing.T) {
	e := newEnv(t)
	egg := filepath.Join(e.site, "legacy-0.1-py3.11.egg-info")
	os.MkdirAll(egg, 0o755)
	os.WriteFile(filepath.Join(egg, "PKG-INFO"), []byte("Name: legacy\nVersion: 0.1\n"), 0o644)
	os.WriteFile(filepath.Join(egg, "installed-files.txt"), []byte("../legacy.py\nPKG-INFO\n"), 0o644)
	os.WriteFile(filepath.Join(e.site, "legacy.py"), []byte("OLD"), 0o644)
	os.WriteFile(filepath.Join(e.site, "dev.egg-link"), []byte("/src/dev\n."), 0o644)
	os.WriteFile(filepath.Join(e.site, "easy-install.pth"), []byte("/src/dev\n/src/keep\n"), 0o644)
	before := e.tree()
	tx, err := Begin([]string{e.site}, e.prefix, []string{"legacy", "dev"})
	if err != nil {
		t.Fatal(err)
	}
	// pip uninstalls both (editing easy-install.pth in place) and installs
	// wheels.
	os.RemoveAll(egg)
	os.Remove(filepath.Join(e.site, "legacy.py"))
	os.Remove(filepath.Join(e.site, "dev.egg-link"))
	f, _ := os.OpenFile(filepath.Join(e.site, "easy-install.pth"), os.O_WRONLY|os.O_TRUNC, 0)
	f.WriteString("/src/keep\n")
	f.Close()
	e.dist(t, "legacy", "1.0", map[string]string{"legacy.py": "NEW"})
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := e.tree(); after != before {
		t.Errorf("not restored:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A top-level file or a script that existed before the install and that
// no distribution owns is not deleted when a new RECORD claims it: the
// rollback says it was overwritten.
func TestRollbackKeepsUnownedFilesThatExisted(t *testing.T) {
	e := newEnv(t)
	os.WriteFile(filepath.Join(e.site, "mine.py"), []byte("MINE"), 0o644)
	os.WriteFile(filepath.Join(e.prefix, "bin", "tool"), []byte("TOOL"), 0o755)
	time.Sleep(50 * time.Millisecond)
	tx, err := Begin([]string{e.site}, e.prefix, []string{"demo"})
	if err != nil {
		t.Fatal(err)
	}
	e.dist(t, "demo", "1.0", map[string]string{"demo/__init__.py": "NEW", "mine.py": "DEMO'S", "../../bin/tool": "DEMO'S"})
	err = tx.Rollback(context.Background())
	if err == nil || !strings.Contains(err.Error(), filepath.Join(e.site, "mine.py")+" existed before the install") ||
		!strings.Contains(err.Error(), filepath.Join(e.prefix, "bin", "tool")+" existed before the install") {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{filepath.Join(e.site, "mine.py"), filepath.Join(e.prefix, "bin", "tool")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was deleted", p)
		}
	}
}
