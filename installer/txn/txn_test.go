package txn

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The child of TestKilledRunIsRecovered: Begin, write some of the plan as
// pip would, say so, and wait to be killed.
func TestMain(m *testing.M) {
	if prefix := os.Getenv("PIPGUARD_TXN_CHILD"); prefix != "" {
		e := envAt(prefix)
		tx, err := Begin(e.upgrade(200, "child run"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		_ = tx
		e.pip(nil, 120)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// env is a real environment's layout: PREFIX/pyvenv.cfg, lib64 -> lib,
// lib/python3.11/site-packages, bin, share.
type env struct {
	prefix, site, bin string
}

func envAt(prefix string) env {
	return env{prefix: prefix, site: filepath.Join(prefix, "lib", "python3.11", "site-packages"), bin: filepath.Join(prefix, "bin")}
}

func newEnv(t testing.TB) env {
	t.Helper()
	e := envAt(t.TempDir())
	for _, d := range []string{e.site, e.bin, filepath.Join(e.prefix, "share")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.Symlink("lib", filepath.Join(e.prefix, "lib64")))
	write(t, filepath.Join(e.prefix, "pyvenv.cfg"), "home = /usr/bin\nversion = 3.11.7\n", 0o640)
	write(t, filepath.Join(e.bin, "python3"), "#!ELF", 0o755)
	// pkg 1.0: two files and its metadata; other 1.0; a data file.
	write(t, filepath.Join(e.site, "pkg", "__init__.py"), "VERSION = '1.0'\n", 0o644)
	write(t, filepath.Join(e.site, "pkg", "old.py"), "OLD\n", 0o644)
	for _, f := range []string{"METADATA", "RECORD", "INSTALLER"} {
		write(t, filepath.Join(e.site, "pkg-1.0.dist-info", f), "pkg 1.0 "+f+"\n", 0o644)
	}
	write(t, filepath.Join(e.bin, "pkg"), "#!/usr/bin/python3\n# pkg 1.0\n", 0o755)
	write(t, filepath.Join(e.site, "other", "__init__.py"), "OTHER\n", 0o644)
	write(t, filepath.Join(e.site, "other-1.0.dist-info", "RECORD"), "other/__init__.py,,\n", 0o644)
	write(t, filepath.Join(e.prefix, "share", "x.txt"), "x data\n", 0o600)
	return e
}

func must(t testing.TB, err error) {
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
}

func write(t testing.TB, p, body string, mode fs.FileMode) {
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), mode))
	must(t, os.Chmod(p, mode))
}

// replace writes p as pip does: the old file is unlinked, a new one made.
func replace(t testing.TB, p, body string, mode fs.FileMode) {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		must(t, err)
	}
	write(t, p, body, mode)
}

// module is the i-th file of pkg 2.0's 30,000.
func (e env) module(i int) string {
	return filepath.Join(e.site, "pkg", fmt.Sprintf("sub%03d", i/100), fmt.Sprintf("m%05d.py", i))
}

var newMeta = []string{"METADATA", "RECORD", "INSTALLER", "WHEEL"}

// upgrade is the plan of pkg 1.0 -> 2.0, whose wheel has n modules (in
// their own directories), a new __init__.py and the same script.
func (e env) upgrade(n int, label string) Spec {
	s := Spec{Prefix: e.prefix, Sites: []string{e.site}, Label: label}
	s.Write = append(s.Write, filepath.Join(e.site, "pkg", "__init__.py"), filepath.Join(e.bin, "pkg"))
	for i := 0; i < n; i++ {
		s.Write = append(s.Write, e.module(i))
	}
	for i := 0; i < n; i += 100 {
		s.Dirs = append(s.Dirs, filepath.Dir(e.module(i)))
	}
	for _, f := range newMeta {
		s.Write = append(s.Write, filepath.Join(e.site, "pkg-2.0.dist-info", f))
	}
	s.Dirs = append(s.Dirs, filepath.Join(e.site, "pkg-2.0.dist-info"))
	s.Keep = []string{filepath.Join(e.site, "pkg", "__init__.py"), filepath.Join(e.site, "pkg", "old.py"), filepath.Join(e.site, "pkg-1.0.dist-info"), filepath.Join(e.bin, "pkg")}
	return s
}

// pip does what pip does before it is interrupted: uninstalls pkg 1.0
// (its files moved aside to a ~ directory), makes its own temporary
// directory in site-packages, replaces the script and __init__.py and
// writes the first k modules. No RECORD is written.
func (e env) pip(t testing.TB, k int) {
	must(t, os.Remove(filepath.Join(e.site, "pkg", "old.py")))
	must(t, os.Rename(filepath.Join(e.site, "pkg-1.0.dist-info"), filepath.Join(e.site, "~kg-1.0.dist-info")))
	write(t, filepath.Join(e.site, "~ip-unpack-xyz", "half"), "half a wheel", 0o644)
	replace(t, filepath.Join(e.site, "pkg", "__init__.py"), "VERSION = '2.0'\n", 0o644)
	replace(t, filepath.Join(e.bin, "pkg"), "#!/usr/bin/python3\n# pkg 2.0\n", 0o755)
	for i := 0; i < k; i++ {
		p := e.module(i)
		if i%100 == 0 {
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		}
		must(t, os.WriteFile(p, []byte("# module\n"), 0o644))
	}
}

// snapshot lists every path under root: type, mode, size, content hash,
// symbolic link target.
func snapshot(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %s", target)
		case fi.Mode().IsRegular():
			body, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			fmt.Fprintf(&b, " %d %s", fi.Size(), hex.EncodeToString(sum[:]))
		}
		b.WriteByte('\n')
		return nil
	})
	must(t, err)
	return b.String()
}

// same fails t with the lines that differ.
func same(t testing.TB, what, before, after string) {
	t.Helper()
	if before == after {
		return
	}
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	b, a := in(before), in(after)
	var diff []string
	for l := range b {
		if !a[l] {
			diff = append(diff, "- "+l)
		}
	}
	for l := range a {
		if !b[l] {
			diff = append(diff, "+ "+l)
		}
	}
	if len(diff) > 20 {
		diff = append(diff[:20], fmt.Sprintf("... (%d lines differ)", len(diff)))
	}
	t.Errorf("%s: not the same:\n%s", what, strings.Join(diff, "\n"))
}

// withoutStash drops a live stash's lines from a snapshot.
func withoutStash(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, stashPrefix) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func noPending(t testing.TB, prefix string) {
	t.Helper()
	left, err := Pending(prefix)
	if err != nil || len(left) != 0 {
		t.Errorf("Pending = %v, %v", left, err)
	}
}

// 1. An upgrade to a 30,000-file wheel interrupted after 16,482 files,
// with pip's RECORD not yet written: everything the plan names goes, the
// old version comes back.
func TestInterruptedUpgrade(t *testing.T) {
	e := newEnv(t)
	before := snapshot(t, e.prefix)
	tx, err := Begin(e.upgrade(30000, "test upgrade"))
	must(t, err)
	if tx.Stashed() != 6 { // __init__.py, the script, old.py, 3 metadata files
		t.Errorf("stashed %d", tx.Stashed())
	}
	e.pip(t, 16482)
	start := time.Now()
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("rollback of 16,482 of 30,000 planned files: %v", time.Since(start))
	same(t, "the prefix", before, snapshot(t, e.prefix))
	noPending(t, e.prefix)
}

// 2. A "pip" that writes files no RECORD lists (the wheel was rejected
// half way) and overwrites existing files the plan names, another
// distribution's among them: all of them are put back.
func TestRollbackNeedsNoRecord(t *testing.T) {
	e := newEnv(t)
	before := snapshot(t, e.prefix)
	s := Spec{Prefix: e.prefix, Sites: []string{e.site}, Label: "evil 1.0",
		Write: []string{
			filepath.Join(e.site, "evil", "__init__.py"),
			filepath.Join(e.site, "evil-1.0.dist-info", "RECORD"),
			filepath.Join(e.site, "evil-1.0.dist-info", "METADATA"),
			filepath.Join(e.site, "other", "__init__.py"),
			filepath.Join(e.bin, "pip"),
			filepath.Join(e.prefix, "share", "x.txt"),
		},
		Dirs: []string{filepath.Join(e.site, "evil"), filepath.Join(e.site, "evil-1.0.dist-info")},
	}
	write(t, filepath.Join(e.bin, "pip"), "#!/usr/bin/python3\n# the real pip\n", 0o755)
	before = snapshot(t, e.prefix)
	tx, err := Begin(s)
	must(t, err)
	if tx.Stashed() != 3 {
		t.Errorf("stashed %d paths, want 3", tx.Stashed())
	}
	write(t, filepath.Join(e.site, "evil", "__init__.py"), "EVIL", 0o644)
	write(t, filepath.Join(e.site, "evil-1.0.dist-info", "RECORD"), "", 0o644) // lists nothing
	replace(t, filepath.Join(e.site, "other", "__init__.py"), "EVIL", 0o644)
	replace(t, filepath.Join(e.bin, "pip"), "#!/bin/sh\nevil\n", 0o755)
	replace(t, filepath.Join(e.prefix, "share", "x.txt"), "EVIL", 0o644)
	must(t, tx.Rollback(context.Background()))
	same(t, "the prefix", before, snapshot(t, e.prefix))
}

// 3. pyvenv.cfg, at the prefix's top level, replaced by a wheel's data
// file and rolled back: back byte for byte, with its mode.
func TestPyvenvCfgComesBack(t *testing.T) {
	e := newEnv(t)
	before := snapshot(t, e.prefix)
	cfg := filepath.Join(e.prefix, "pyvenv.cfg")
	s := e.upgrade(10, "pyvenv")
	s.Write = append(s.Write, cfg)
	tx, err := Begin(s)
	must(t, err)
	e.pip(t, 10)
	replace(t, cfg, "include-system-site-packages = true\n", 0o644)
	// A later failure (the check after pip) rolls back.
	must(t, tx.Rollback(context.Background()))
	same(t, "the prefix", before, snapshot(t, e.prefix))
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("pyvenv.cfg: %v %v", fi, err)
	}
}

// 4. pipguard killed (SIGKILL) after Begin, with pip half way: while it
// runs the environment is busy and nothing is pending; once it is dead
// Pending finds its journal and Recover restores the prefix from it.
func TestKilledRunIsRecovered(t *testing.T) {
	e := newEnv(t)
	before := snapshot(t, e.prefix)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PIPGUARD_TXN_CHILD="+e.prefix)
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child: %q", line)
	}
	_, err = Begin(e.upgrade(10, "second run"))
	var be *BusyError
	if !errors.As(err, &be) || be.PID != cmd.Process.Pid || be.Label != "child run" {
		t.Fatalf("Begin while the child runs: %v", err)
	}
	noPending(t, e.prefix)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	left, err := Pending(e.prefix)
	if err != nil || len(left) != 1 || left[0].PID != cmd.Process.Pid || left[0].Label != "child run" || !left[0].Journal ||
		!strings.HasPrefix(filepath.Base(left[0].Dir), ".pipguard-stash-") || time.Since(left[0].Started) > time.Minute {
		t.Fatalf("Pending = %+v, %v", left, err)
	}
	_, err = Begin(e.upgrade(10, "third run"))
	var ue *UnfinishedError
	if !errors.As(err, &ue) || len(ue.Runs) != 1 {
		t.Fatalf("Begin with a run to recover: %v", err)
	}
	must(t, Recover(context.Background(), left[0]))
	same(t, "the prefix", before, snapshot(t, e.prefix))
	noPending(t, e.prefix)
}

// countdown is a context that is done after n calls of Err, wherever the
// rollback is then.
type countdown struct {
	context.Context
	n atomic.Int64
}

func (c *countdown) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// 5. A rollback whose context ends part way, at any point, keeps the
// stash and the journal and says where; Pending finds it and Recover
// finishes it.
func TestCancelledRollbackIsRecovered(t *testing.T) {
	// How many checks a whole rollback makes.
	e := newEnv(t)
	tx, err := Begin(e.upgrade(300, "count"))
	must(t, err)
	e.pip(t, 150)
	c := &countdown{Context: context.Background()}
	c.n.Store(1 << 40)
	must(t, tx.Rollback(c))
	total := int(1<<40 - c.n.Load())
	// Early on, then every check from the last planned file's removal on
	// (the site directories, the restore, the new directories).
	cuts := []int{0, 1, total / 3}
	for cut := 300; cut < total; cut++ {
		cuts = append(cuts, cut)
	}
	for _, cut := range cuts {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			e := newEnv(t)
			before := snapshot(t, e.prefix)
			tx, err := Begin(e.upgrade(300, "cut"))
			must(t, err)
			e.pip(t, 150)
			c := &countdown{Context: context.Background()}
			c.n.Store(int64(cut))
			err = tx.Rollback(c)
			var re *RollbackError
			if !errors.As(err, &re) || re.Stash == "" || !strings.Contains(err.Error(), "stopped") {
				t.Fatalf("Rollback = %v", err)
			}
			if _, err := os.Stat(filepath.Join(re.Stash, journalFile)); err != nil {
				t.Fatalf("the journal: %v", err)
			}
			left, err := Pending(e.prefix)
			if err != nil || len(left) != 1 || left[0].Dir != re.Stash || left[0].Label != "cut" {
				t.Fatalf("Pending = %+v, %v", left, err)
			}
			must(t, Recover(context.Background(), left[0]))
			same(t, "the prefix", before, snapshot(t, e.prefix))
			noPending(t, e.prefix)
		})
	}
	// A second Rollback of the same transaction finishes it as well.
	e = newEnv(t)
	before := snapshot(t, e.prefix)
	tx, err = Begin(e.upgrade(300, "again"))
	must(t, err)
	e.pip(t, 150)
	c = &countdown{Context: context.Background()}
	c.n.Store(int64(total / 2))
	if err := tx.Rollback(c); err == nil {
		t.Fatal("no error")
	}
	must(t, tx.Rollback(context.Background()))
	same(t, "the prefix", before, snapshot(t, e.prefix))
	noPending(t, e.prefix)
	must(t, tx.Rollback(context.Background())) // done: nothing more
	if err := tx.Commit(); err == nil {
		t.Error("a commit after a rollback")
	}
}

// 6. A Spec naming a path outside the prefix, as written or through a
// symbolic link inside it, is refused before anything is touched.
func TestOutsidePathsAreRefused(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	write(t, filepath.Join(out, "f"), "precious", 0o644)
	must(t, os.Symlink(out, filepath.Join(e.site, "evil")))
	must(t, os.Symlink(filepath.Join(out, "missing"), filepath.Join(e.site, "dangling")))
	must(t, os.Symlink("../../../../"+filepath.Base(out), filepath.Join(e.prefix, "share", "rel")))
	before, outBefore := snapshot(t, e.prefix), snapshot(t, out)
	rel, _ := filepath.Rel(e.prefix, out)
	for name, s := range map[string]Spec{
		"dotdot":               {Write: []string{e.prefix + "/lib/../" + rel + "/f"}},
		"dotdot inside":        {Write: []string{e.site + "/../site-packages/x"}},
		"absolute":             {Write: []string{filepath.Join(out, "f")}},
		"relative":             {Write: []string{"lib/x"}},
		"the prefix":           {Write: []string{e.prefix}},
		"symlinked dir":        {Write: []string{filepath.Join(e.site, "evil", "f")}},
		"under symlinked dir":  {Write: []string{filepath.Join(e.site, "evil", "new", "deeper", "f")}},
		"relative symlink":     {Write: []string{filepath.Join(e.prefix, "share", "rel", "f")}},
		"dangling symlink":     {Write: []string{filepath.Join(e.site, "dangling", "f")}},
		"keep":                 {Keep: []string{filepath.Join(e.site, "evil", "f")}},
		"dir via symlink":      {Dirs: []string{filepath.Join(e.site, "evil", "d")}},
		"dir is symlink":       {Dirs: []string{filepath.Join(e.site, "evil")}},
		"site outside":         {Sites: []string{out}},
		"site is symlink":      {Sites: []string{filepath.Join(e.site, "evil")}},
		"site is the prefix":   {Sites: []string{e.prefix}},
		"pipguard's own":       {Write: []string{filepath.Join(e.prefix, ".pipguard-stash-x", "journal.json")}},
		"prefix with dotdot":   {Prefix: e.prefix + "/../" + filepath.Base(e.prefix)},
		"a directory as file":  {Write: []string{filepath.Join(e.site, "pkg")}},
		"prefix relative":      {Prefix: "prefix"},
		"one bad among others": {Write: append(e.upgrade(100, "").Write, filepath.Join(e.site, "evil", "f"))},
	} {
		if s.Prefix == "" {
			s.Prefix = e.prefix
		}
		if s.Sites == nil {
			s.Sites = []string{e.site}
		}
		tx, err := Begin(s)
		var se *SpecError
		if !errors.As(err, &se) {
			if tx != nil {
				tx.Rollback(context.Background())
			}
			t.Errorf("%s: Begin = %v", name, err)
		}
	}
	same(t, "the prefix", before, snapshot(t, e.prefix))
	same(t, "outside", outBefore, snapshot(t, out))
	// A symbolic link inside the prefix to inside it (lib64 -> lib) is
	// fine.
	tx, err := Begin(Spec{Prefix: e.prefix, Sites: []string{e.site}, Write: []string{filepath.Join(e.prefix, "lib64", "python3.11", "site-packages", "pkg", "__init__.py")}})
	must(t, err)
	replace(t, filepath.Join(e.site, "pkg", "__init__.py"), "NEW", 0o644)
	must(t, tx.Rollback(context.Background()))
	same(t, "the prefix", before, snapshot(t, e.prefix))
}

// A directory of the plan that the install replaces with a symbolic link
// to outside the prefix does not lead the rollback there.
func TestRollbackDoesNotFollowALinkMadeDuringTheInstall(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	before := snapshot(t, e.prefix)
	tx, err := Begin(e.upgrade(300, "link"))
	must(t, err)
	e.pip(t, 50)
	write(t, filepath.Join(out, filepath.Base(e.module(0))), "precious", 0o644)
	write(t, filepath.Join(out, "old.py"), "precious", 0o644)
	outBefore := snapshot(t, out)
	must(t, os.RemoveAll(filepath.Dir(e.module(0))))
	must(t, os.Symlink(out, filepath.Dir(e.module(0))))
	err = tx.Rollback(context.Background())
	if err == nil || !strings.Contains(err.Error(), "leads outside the prefix") {
		t.Errorf("Rollback = %v", err)
	}
	same(t, "outside", outBefore, snapshot(t, out))
	same(t, "the prefix", before, snapshot(t, e.prefix))
	// Nor does a link to another distribution's directory inside the
	// prefix: only the links there at Begin are followed.
	e = newEnv(t)
	theirs := filepath.Join(e.site, "other", filepath.Base(e.module(0)))
	write(t, theirs, "other's module", 0o644)
	before = snapshot(t, e.prefix)
	tx, err = Begin(e.upgrade(300, "link"))
	must(t, err)
	e.pip(t, 50)
	must(t, os.RemoveAll(filepath.Dir(e.module(0))))
	must(t, os.Symlink("../other", filepath.Dir(e.module(0))))
	err = tx.Rollback(context.Background())
	if err == nil || !strings.Contains(err.Error(), filepath.Dir(e.module(0))+" is a symbolic link (to "+filepath.Join(e.site, "other")+") that was not there at Begin") {
		t.Errorf("Rollback = %v", err)
	}
	same(t, "the prefix", before, snapshot(t, e.prefix))
	// Nor the package's own directory, made a link before the restore:
	// what cannot be put back keeps the stash.
	e = newEnv(t)
	tx, err = Begin(e.upgrade(300, "link"))
	must(t, err)
	e.pip(t, 50)
	must(t, os.RemoveAll(filepath.Join(e.site, "pkg")))
	must(t, os.Symlink(out, filepath.Join(e.site, "pkg")))
	err = tx.Rollback(context.Background())
	var re *RollbackError
	if !errors.As(err, &re) || re.Stash == "" {
		t.Errorf("Rollback = %v", err)
	}
	same(t, "outside", outBefore, snapshot(t, out))
}

// 7. Two runs in one environment: the second is refused, naming the
// first; so are all but one of many started at once.
func TestConcurrentBeginIsBusy(t *testing.T) {
	e := newEnv(t)
	first, err := Begin(e.upgrade(10, "first run"))
	must(t, err)
	_, err = Begin(e.upgrade(10, "second run"))
	var be *BusyError
	if !errors.As(err, &be) || be.Label != "first run" || be.PID != os.Getpid() || be.Prefix != e.prefix {
		t.Fatalf("second Begin = %v", err)
	}
	if !strings.Contains(err.Error(), `"first run" (pid `) {
		t.Errorf("message %q", err)
	}
	if err := Recover(context.Background(), Unfinished{Dir: first.Dir()}); !errors.As(err, &be) {
		t.Errorf("Recover of a live run = %v", err)
	}
	noPending(t, e.prefix)
	must(t, first.Commit())

	e = newEnv(t)
	var wg sync.WaitGroup
	var won, busy atomic.Int32
	txs := make(chan *Txn, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := Begin(e.upgrade(10, fmt.Sprint("run ", i)))
			var be *BusyError
			switch {
			case err == nil:
				won.Add(1)
				txs <- tx
			case errors.As(err, &be):
				busy.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(txs)
	if won.Load() != 1 || busy.Load() != 7 {
		t.Errorf("%d began, %d busy", won.Load(), busy.Load())
	}
	for tx := range txs {
		must(t, tx.Rollback(context.Background()))
	}
}

// A commit keeps the install and drops the stash and the journal; a
// rollback after it does nothing.
func TestCommit(t *testing.T) {
	e := newEnv(t)
	tx, err := Begin(e.upgrade(300, "commit"))
	must(t, err)
	e.pip(t, 300)
	must(t, os.RemoveAll(filepath.Join(e.site, "~kg-1.0.dist-info"))) // pip's own commit
	must(t, os.RemoveAll(filepath.Join(e.site, "~ip-unpack-xyz")))
	after := withoutStash(snapshot(t, e.prefix))
	must(t, tx.Commit())
	same(t, "the prefix", after, snapshot(t, e.prefix))
	noPending(t, e.prefix)
	must(t, tx.Rollback(context.Background()))
	same(t, "the prefix", after, snapshot(t, e.prefix))
}

// Symbolic links stay links, modes are kept, a .pth file pip edits in
// place comes back, and so does a whole directory pip moved aside (with
// its empty subdirectory and its mode).
func TestLinksModesPthAndDirectories(t *testing.T) {
	e := newEnv(t)
	pth := filepath.Join(e.site, "easy-install.pth")
	write(t, pth, "/src/dev\n/src/keep\n", 0o644)
	must(t, os.Symlink("old.py", filepath.Join(e.site, "pkg", "alias.py")))
	must(t, os.Symlink("/nonexistent/anywhere", filepath.Join(e.site, "pkg", "dangling")))
	must(t, os.MkdirAll(filepath.Join(e.site, "pkg", "data", "empty"), 0o750))
	must(t, os.Chmod(filepath.Join(e.site, "pkg", "data"), 0o711))
	write(t, filepath.Join(e.site, "pkg", "secret.py"), "S", 0o600)
	write(t, filepath.Join(e.bin, "tool"), "#!tool", 0o4755)
	before := snapshot(t, e.prefix)
	s := Spec{Prefix: e.prefix, Sites: []string{e.site}, Label: "links",
		Write: []string{filepath.Join(e.site, "pkg", "__init__.py"), filepath.Join(e.site, "pkg", "alias.py"), filepath.Join(e.bin, "tool")},
		Keep:  []string{filepath.Join(e.site, "pkg"), pth}}
	tx, err := Begin(s)
	must(t, err)
	// pip's uninstall moves pkg/ aside whole, edits the .pth in place.
	must(t, os.Rename(filepath.Join(e.site, "pkg"), filepath.Join(e.site, "~kg")))
	f, err := os.OpenFile(pth, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	f.WriteString("/src/keep\n")
	f.Close()
	write(t, filepath.Join(e.site, "pkg", "__init__.py"), "NEW", 0o644)
	write(t, filepath.Join(e.site, "pkg", "alias.py"), "NOT A LINK", 0o644)
	replace(t, filepath.Join(e.bin, "tool"), "#!new", 0o755)
	must(t, tx.Rollback(context.Background()))
	same(t, "the prefix", before, snapshot(t, e.prefix))
}

// A directory that did not exist and is not empty after the rollback
// (something outside the plan was written there) is reported, not kept
// silently; the stash is dropped all the same, as it is all back.
func TestNewDirectoryLeftIsReported(t *testing.T) {
	e := newEnv(t)
	share := filepath.Join(e.prefix, "share", "pkg")
	tx, err := Begin(Spec{Prefix: e.prefix, Sites: []string{e.site}, Write: []string{filepath.Join(share, "planned.txt")}})
	must(t, err)
	write(t, filepath.Join(share, "planned.txt"), "P", 0o644)
	write(t, filepath.Join(share, "unplanned.txt"), "U", 0o644)
	err = tx.Rollback(context.Background())
	var re *RollbackError
	if !errors.As(err, &re) || re.Stash != "" || !strings.Contains(err.Error(), share+" did not exist before the install and is not empty after the rollback (unplanned.txt)") {
		t.Fatalf("Rollback = %v", err)
	}
	noPending(t, e.prefix)
}

// A stashed file written in place (a hard link shares its bytes) is
// reported, never taken for the original.
func TestWrittenInPlaceIsReported(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.site, "other", "__init__.py")
	tx, err := Begin(Spec{Prefix: e.prefix, Sites: []string{e.site}, Write: []string{p}})
	must(t, err)
	time.Sleep(10 * time.Millisecond)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	f.WriteString("more")
	f.Close()
	if err := tx.Rollback(context.Background()); err == nil || !strings.Contains(err.Error(), p+" was changed in place after Begin") {
		t.Errorf("Rollback = %v", err)
	}
}

// The stash lives at the prefix's top level, holds the journal, and
// Stashed counts what exists of the plan.
func TestStashAndJournal(t *testing.T) {
	e := newEnv(t)
	tx, err := Begin(e.upgrade(100, "where"))
	must(t, err)
	defer tx.Rollback(context.Background())
	if filepath.Dir(tx.Dir()) != e.prefix || !strings.HasPrefix(filepath.Base(tx.Dir()), ".pipguard-stash-") {
		t.Errorf("stash %s", tx.Dir())
	}
	// __init__.py, the script, old.py, 3 metadata files.
	if tx.Stashed() != 6 {
		t.Errorf("stashed %d", tx.Stashed())
	}
	j, err := readJournal(tx.Dir())
	must(t, err)
	if j.Label != "where" || len(j.Write) != 106 || len(j.NewDirs) != 2 || j.PID != os.Getpid() {
		t.Errorf("journal: %q %d %v %d", j.Label, len(j.Write), j.NewDirs, j.PID)
	}
}

// BenchmarkRollbackInterruptedUpgrade is test 1's rollback: 30,000
// planned files, 16,482 of them written, 2 replaced, the old version's
// files removed.
func BenchmarkRollbackInterruptedUpgrade(b *testing.B) {
	var begin time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		start := time.Now()
		tx, err := Begin(e.upgrade(30000, "bench"))
		must(b, err)
		begin += time.Since(start)
		e.pip(b, 16482)
		b.StartTimer()
		if err := tx.Rollback(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(begin.Milliseconds())/float64(b.N), "begin-ms/op")
}

// A run killed during Begin (before its journal) or during its commit
// (after dropping the journal) left a stash with nothing to undo: Pending
// finds it, Recover removes it and touches nothing else.
func TestStashWithoutJournal(t *testing.T) {
	e := newEnv(t)
	tx, err := Begin(e.upgrade(100, "killed committing"))
	must(t, err)
	e.pip(t, 100)
	after := withoutStash(snapshot(t, e.prefix))
	must(t, os.Remove(filepath.Join(tx.Dir(), journalFile)))
	tx.unlock() // as its death would
	left, err := Pending(e.prefix)
	if err != nil || len(left) != 1 || left[0].Journal || left[0].Label != "killed committing" {
		t.Fatalf("Pending = %+v, %v", left, err)
	}
	must(t, Recover(context.Background(), left[0]))
	same(t, "the prefix", after, snapshot(t, e.prefix))
	noPending(t, e.prefix)
}

// A journal is believed only about the prefix it is in: one naming a path
// outside it (planted, or corrupted) is refused and nothing is touched.
func TestForgedJournalIsRefused(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	write(t, filepath.Join(out, "f"), "precious", 0o644)
	outBefore := snapshot(t, out)
	for name, forge := range map[string]func(j *journal){
		"write outside": func(j *journal) { j.Write = append(j.Write, filepath.Join(out, "f")) },
		"write dotdot":  func(j *journal) { j.Write = append(j.Write, e.site+"/../../../../"+filepath.Base(out)+"/f") },
		"new dir":       func(j *journal) { j.NewDirs = append(j.NewDirs, out) },
		"site":          func(j *journal) { j.SiteEntries[out] = nil },
		"stash name": func(j *journal) {
			j.Stash = append(j.Stash, entry{Path: filepath.Join(e.site, "x"), Kind: "link", Name: "../../../f"})
		},
		"other prefix": func(j *journal) { j.Prefix = out },
		"link":         func(j *journal) { j.Links[out] = out },
	} {
		tx, err := Begin(e.upgrade(10, name))
		must(t, err)
		j, err := readJournal(tx.Dir())
		must(t, err)
		forge(j)
		must(t, writeJournal(tx.Dir(), j))
		tx.unlock()
		before := snapshot(t, e.prefix)
		if err := Recover(context.Background(), Unfinished{Dir: tx.Dir()}); err == nil || !strings.Contains(err.Error(), "journal") {
			t.Errorf("%s: Recover = %v", name, err)
		}
		same(t, name, before, snapshot(t, e.prefix))
		must(t, os.RemoveAll(tx.Dir()))
	}
	same(t, "outside", outBefore, snapshot(t, out))
}
