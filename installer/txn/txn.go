// Package txn makes a pip install restorable, following a plan of paths.
//
// Before pip runs, Begin is given a Spec: every file the install may
// write, every directory it may create, every existing file it may remove,
// all inside the environment's prefix. Begin stashes every one of those
// paths that exists (hard links, as pip replaces files and never writes
// into them; copies for .pth files, which pip's uninstall edits in place;
// symbolic links as links; modes kept), notes which directories did not
// exist, and writes a journal of all of it before it returns. Rollback
// removes every planned path, whoever wrote it, removes the new top-level
// entries of the site directories (and the ~ directories pip's uninstall
// moves directories to), puts the stash back byte for byte, and removes
// the directories that did not exist. Commit drops the stash.
//
// What it trusts: the Spec it is given and the file system it reads. Never
// RECORD, installed-files.txt or anything else an install writes: a path
// is removed because the plan names it, not because a file says pip wrote
// it. No path outside the prefix is touched: Begin refuses a Spec naming
// one (as written, with "..", or through a symbolic link inside the
// prefix); a rollback walks every directory again from the prefix's real
// path and follows only the symbolic links that were there at Begin,
// leading where they led, leaving anything else alone and saying so. A
// stashed file that changed in place since Begin is reported, not taken
// for the original.
//
// Where it keeps things: a directory PREFIX/.pipguard-stash-* at the
// prefix's top level. It is on the environment's file system (every
// planned path is below the prefix, so hard links work wherever they can),
// it is on no import path, and Pending finds it from the prefix alone. In
// it, run.json (label, pid, start; written first), files/NNNNNN (the
// stashed files) and journal.json: the Spec as checked, the site
// directories' entries and the ~ entries at Begin, the directories that
// did not exist, the modes of the directories above the stash, the
// directory links followed, and the stash map (path; kind: link, copy
// or symlink; name, mode, size, mtime, symlink target). The journal is
// written atomically (temporary file, fsync, rename, fsync of the
// directory) once the stash is complete, and removed first when the run
// ends: a stash with a journal is one to roll back, one without has
// nothing left to undo. Every step of a rollback can be run again, so a
// rollback stopped anywhere (its context, a kill) is finished by Recover
// from the journal alone.
//
// One run at a time: Begin holds a flock(2) on the prefix directory until
// Commit or Rollback, and one on its stash (which tells a live run's stash
// from a killed one's); the kernel drops both when pipguard dies, however
// it dies. Begin refuses with a *BusyError while another run holds the
// environment and with an *UnfinishedError while a killed run's stash
// waits for Recover. (On systems without flock there is no such guard.)
package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Txn is one transaction over an environment.
type Txn struct {
	j     *journal
	dir   string // the stash
	real  string // the prefix's real path
	locks [2]*flock
	state state
}

type state int

const (
	open state = iota
	committed
	rolledBack
	unfinished // a rollback that stopped: the stash and journal are kept
)

// RollbackError says what a rollback could not do.
type RollbackError struct {
	Problems []string
	// Stash is where the stash and its journal are kept when the rollback
	// did not finish ("" when it finished and dropped them): Pending finds
	// it and Recover finishes it.
	Stash string
}

func (e *RollbackError) Error() string {
	msg := strings.Join(e.Problems, "; ")
	if e.Stash != "" {
		msg += "; the stash and its journal are kept in " + e.Stash
	}
	return msg
}

// Begin starts a transaction for an install that does what s says. It
// refuses a Spec with a path outside s.Prefix, takes the environment's
// lock, stashes every existing path of Write and Keep, notes which
// directories do not exist yet and writes the journal (fsync'd) before it
// returns.
func Begin(s Spec) (*Txn, error) {
	c, err := s.check()
	if err != nil {
		return nil, err
	}
	pl, err := lockPrefix(c.prefix)
	if err != nil {
		return nil, err
	}
	t := &Txn{real: c.real}
	t.locks[0] = pl
	ok := false
	defer func() {
		if !ok {
			if t.dir != "" {
				os.RemoveAll(t.dir)
			}
			t.unlock()
		}
	}()
	if left, err := pending(c.prefix, true); err != nil {
		return nil, err
	} else if len(left) > 0 {
		return nil, &UnfinishedError{Prefix: c.prefix, Runs: left}
	}
	if t.dir, err = os.MkdirTemp(c.prefix, stashPrefix); err != nil {
		return nil, fmt.Errorf("txn: making the stash: %w", err)
	}
	if t.locks[1], err = tryLock(t.dir, true); err != nil {
		return nil, fmt.Errorf("txn: locking the stash: %w", err)
	}
	r := run{Label: s.Label, PID: os.Getpid(), Started: time.Now().UTC()}
	if b, err := json.Marshal(r); err != nil {
		return nil, err
	} else if err := writeAtomic(t.dir, runFile, b); err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	if err := os.Mkdir(filepath.Join(t.dir, filesDir), 0o700); err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	t.j = &journal{Version: journalVersion, run: r, Prefix: c.prefix, Sites: c.sites, Write: c.write, Dirs: c.dirs, Keep: c.keep, Links: c.links,
		SiteEntries: map[string][]string{}, Tilde: map[string][]string{}, DirModes: map[string]fs.FileMode{}}
	if err := t.survey(c); err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	if err := syncDir(filepath.Join(t.dir, filesDir)); err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	if err := writeJournal(t.dir, t.j); err != nil {
		return nil, fmt.Errorf("txn: writing the journal: %w", err)
	}
	if err := syncDir(c.prefix); err != nil {
		return nil, fmt.Errorf("txn: %w", err)
	}
	ok = true
	return t, nil
}

// survey fills the journal: what the site directories hold, which
// directories are new, and the stash.
func (t *Txn) survey(c *checked) error {
	j := t.j
	for _, site := range c.sites {
		names, err := readNames(site, "")
		if err != nil {
			return err
		}
		j.SiteEntries[site] = names
	}
	// Every directory above a planned file may be made by the install.
	dirs := map[string]bool{}
	for _, d := range c.dirs {
		dirs[d] = true
	}
	for _, p := range c.write {
		for d := filepath.Dir(p); d != c.prefix && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range sorted(dirs) {
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			j.NewDirs = append(j.NewDirs, d)
		} else if err != nil {
			return err
		}
	}
	// pip's uninstall moves a directory it removes whole to a ~ directory
	// beside it.
	tilde := map[string]bool{}
	for _, p := range c.keep {
		for d := p; d != c.prefix; d = filepath.Dir(d) {
			if tilde[filepath.Dir(d)] {
				break
			}
			tilde[filepath.Dir(d)] = true
		}
	}
	for _, d := range sorted(tilde) {
		names, err := readNames(d, "~")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		j.Tilde[d] = names
	}
	seen := map[string]bool{}
	for _, p := range c.write {
		if !c.walker.walk(filepath.Dir(p)).exists {
			continue // nothing there to stash
		}
		if err := t.stash(p, false, seen); err != nil {
			return err
		}
	}
	for _, p := range c.keep {
		if err := t.stash(p, true, seen); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists dir's entries whose names start with prefix.
func readNames(dir, prefix string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	names := all[:0]
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	return names, nil
}

// stash keeps p if it exists. A directory is refused where a file is
// planned; one of Keep stands for everything under it.
func (t *Txn) stash(p string, keep bool, seen map[string]bool) error {
	if seen[p] {
		return nil
	}
	seen[p] = true
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case fi.IsDir() && !keep:
		return &SpecError{p, "planned as a file but is a directory"}
	case fi.IsDir():
		return filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if q == p {
				return t.parents(filepath.Join(p, "x"))
			}
			if d.IsDir() {
				return t.parents(filepath.Join(q, "x"))
			}
			return t.stash(q, true, seen)
		})
	}
	if err := t.parents(p); err != nil {
		return err
	}
	e := entry{Path: p, Mode: fi.Mode()}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Kind = "symlink"
		if e.Target, err = os.Readlink(p); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		e.Name = fmt.Sprintf("%06d", len(t.j.Stash))
		e.Size, e.MTime = fi.Size(), fi.ModTime().UnixNano()
		dst := filepath.Join(t.dir, filesDir, e.Name)
		e.Kind = "link"
		if strings.HasSuffix(p, ".pth") || os.Link(p, dst) != nil {
			e.Kind = "copy"
			if err := copyFile(p, dst, fi); err != nil {
				return fmt.Errorf("stashing %s: %w", p, err)
			}
		}
	default:
		return &SpecError{p, "is neither a file, a directory nor a symbolic link"}
	}
	t.j.Stash = append(t.j.Stash, e)
	return nil
}

// parents notes the modes of the directories above p (inside the prefix),
// to make again those the install removes.
func (t *Txn) parents(p string) error {
	for d := filepath.Dir(p); d != t.j.Prefix; d = filepath.Dir(d) {
		if _, ok := t.j.DirModes[d]; ok {
			return nil
		}
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return nil // a symbolic link (lib64 -> lib) is not made again
		}
		t.j.DirModes[d] = fi.Mode()
	}
	return nil
}

// copyFile copies src (whose Lstat is fi) to a new file dst with its
// mode and modification time, fsync'd.
func copyFile(src, dst string, fi fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	}
	if err == nil {
		err = os.Chtimes(dst, time.Time{}, fi.ModTime())
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// Stashed says how many paths the transaction keeps for a rollback.
func (t *Txn) Stashed() int { return len(t.j.Stash) }

// Dir is the stash directory (PREFIX/.pipguard-stash-*), where the
// journal is.
func (t *Txn) Dir() string { return t.dir }

func (t *Txn) unlock() {
	for i := len(t.locks) - 1; i >= 0; i-- {
		t.locks[i].unlock()
		t.locks[i] = nil
	}
}

// Commit keeps what the install did and drops the stash: the journal
// first (the commit point), then the stashed files.
func (t *Txn) Commit() error {
	switch t.state {
	case committed:
		return nil
	case rolledBack, unfinished:
		return errors.New("txn: commit after a rollback")
	}
	t.state = committed
	defer t.unlock()
	return drop(t.dir)
}

// drop removes a stash: its journal first, fsync'd, so that a stash cut
// short is never taken for one to roll back from.
func drop(dir string) error {
	if err := os.Remove(filepath.Join(dir, journalFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("txn: dropping the journal: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("txn: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("txn: dropping the stash: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// Rollback puts the environment back as it was at Begin: it removes every
// path of Write that exists (whoever wrote it, whatever any RECORD says)
// and the new top-level entries of Sites, puts the stash back byte for
// byte, removes the directories that did not exist at Begin (deepest
// first; one that is not empty then is reported, and left), and drops the
// stash. It stops when ctx is done: the stash and the journal are kept
// (RollbackError.Stash says where) for Recover, or a later Rollback, to
// finish.
func (t *Txn) Rollback(ctx context.Context) error {
	switch t.state {
	case committed, rolledBack:
		return nil
	case unfinished:
		err := Recover(ctx, Unfinished{Dir: t.dir, Label: t.j.Label, Started: t.j.Started, PID: t.j.PID, Journal: true})
		var re *RollbackError
		if err == nil || errors.As(err, &re) && re.Stash == "" {
			t.state = rolledBack
		}
		return err
	}
	defer t.unlock()
	err := finishRollback(ctx, t.j, t.dir, t.real)
	t.state = rolledBack
	var re *RollbackError
	if errors.As(err, &re) && re.Stash != "" {
		t.state = unfinished
	}
	return err
}
