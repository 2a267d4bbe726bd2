package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The files of a stash directory.
const (
	runFile     = "run.json"     // who: label, pid, start (written first)
	journalFile = "journal.json" // what: the whole rollback (written last in Begin, removed first at the end)
	filesDir    = "files"        // the stashed files, named by number
)

const journalVersion = 1

// run says which pipguard run a stash belongs to.
type run struct {
	Label   string    `json:"label"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// journal is everything a rollback needs, written before Begin returns.
type journal struct {
	Version int `json:"version"`
	run
	Prefix string   `json:"prefix"`
	Sites  []string `json:"sites"`
	Write  []string `json:"write"`
	Dirs   []string `json:"dirs"`
	Keep   []string `json:"keep"`
	// Links are the symbolic links to directories (inside the prefix) on
	// the way to the plan's paths at Begin, and where they led: a rollback
	// follows no other.
	Links map[string]string `json:"links"`
	// SiteEntries are the top-level names of each site directory at Begin.
	SiteEntries map[string][]string `json:"site_entries"`
	// Tilde are the names starting with "~" at Begin in each directory
	// where pip's uninstall may move a directory aside (the parents of the
	// directories holding Keep's files).
	Tilde map[string][]string `json:"tilde_entries"`
	// NewDirs are the directories of Dirs (and above Write's paths) that
	// did not exist at Begin.
	NewDirs []string `json:"new_dirs"`
	// DirModes are the modes of the directories above the stashed paths
	// (and inside Keep's directories), to make again those pip removed.
	DirModes map[string]fs.FileMode `json:"dir_modes"`
	// Stash is every path that existed at Begin in Write or Keep.
	Stash []entry `json:"stash"`
}

// entry is one stashed path.
type entry struct {
	Path string `json:"path"`
	// Kind is "link" (a hard link to the file in files/Name), "copy" (a
	// copy there) or "symlink" (Target is all there is to keep).
	Kind   string      `json:"kind"`
	Name   string      `json:"name,omitempty"`
	Mode   fs.FileMode `json:"mode"`
	Target string      `json:"target,omitempty"`
	// Size and MTime (ns) of the file at Begin: a stashed file that no
	// longer has them was written in place, which a rollback reports.
	Size  int64 `json:"size,omitempty"`
	MTime int64 `json:"mtime_ns,omitempty"`
}

// writeJournal writes j into dir atomically: a temporary file, fsync'd,
// renamed over the journal, then the directory fsync'd.
func writeJournal(dir string, j *journal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return writeAtomic(dir, journalFile, b)
}

func writeAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

var stashName = regexp.MustCompile(`^[0-9]{6,}$`)

// readJournal reads dir's journal and checks it as written: it is this
// prefix's, every path is inside it, every stash name is one Begin makes.
// (What is on disk is checked again by every step of the rollback.)
func readJournal(dir string) (*journal, error) {
	b, err := os.ReadFile(filepath.Join(dir, journalFile))
	if err != nil {
		return nil, err
	}
	j := &journal{}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("txn: the journal %s: %w", filepath.Join(dir, journalFile), err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("txn: the journal %s has version %d, not %d", filepath.Join(dir, journalFile), j.Version, journalVersion)
	}
	bad := func(p, why string) error {
		return fmt.Errorf("txn: the journal %s: %q %s", filepath.Join(dir, journalFile), p, why)
	}
	if j.Prefix != filepath.Dir(dir) {
		return nil, bad(j.Prefix, "is not the prefix its stash is in")
	}
	check := func(p string) error {
		if q, err := inPrefix(j.Prefix, p); err != nil || q != p {
			return bad(p, "is not a clean path inside the prefix")
		}
		return nil
	}
	for _, list := range [][]string{j.Sites, j.Write, j.Dirs, j.Keep, j.NewDirs} {
		for _, p := range list {
			if err := check(p); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range []map[string][]string{j.SiteEntries, j.Tilde} {
		for d, names := range m {
			if d != j.Prefix {
				if err := check(d); err != nil {
					return nil, err
				}
			}
			for _, n := range names {
				if n == "" || n == "." || n == ".." || strings.ContainsAny(n, `/\`) {
					return nil, bad(n, "is not a directory entry's name")
				}
			}
		}
	}
	for d, real := range j.Links {
		if err := check(d); err != nil {
			return nil, err
		}
		if c, err := cleanAbs(real); err != nil || c != real {
			return nil, bad(real, "is not a clean absolute path")
		}
	}
	for d := range j.DirModes {
		if err := check(d); err != nil {
			return nil, err
		}
	}
	for _, e := range j.Stash {
		if err := check(e.Path); err != nil {
			return nil, err
		}
		switch e.Kind {
		case "link", "copy":
			if !stashName.MatchString(e.Name) {
				return nil, bad(e.Name, "is not a stash name")
			}
		case "symlink":
		default:
			return nil, bad(e.Kind, "is not a kind of stashed path")
		}
	}
	return j, nil
}

// Unfinished is a run that did not finish (a pipguard killed during Begin,
// the install, the rollback or the commit), found by Pending.
type Unfinished struct {
	// Dir is the run's stash directory (PREFIX/.pipguard-stash-*).
	Dir     string
	Label   string
	Started time.Time
	PID     int
	// Journal says the run had finished Begin: Recover rolls the install
	// back. Without it (killed during Begin, or during a commit or a
	// rollback once they had dropped the journal) nothing is left to undo
	// and Recover removes the stash.
	Journal bool
}

// Pending finds the stashes of runs that did not finish (a killed
// pipguard) in the environment whose sys.prefix is prefix, oldest first.
// A run still going on (it holds its stash's lock) is not one of them.
func Pending(prefix string) ([]Unfinished, error) {
	prefix, err := cleanAbs(prefix)
	if err != nil {
		return nil, err
	}
	// With the prefix's lock free no run is going on; a shared lock lets
	// other readers look at the same time.
	l, err := tryLock(prefix, false)
	if err != nil && !errors.Is(err, errLocked) {
		return nil, err
	}
	defer l.unlock()
	return pending(prefix, l != nil)
}

// pending lists prefix's stashes; idle says no run holds the prefix
// (otherwise a stash whose lock is held, or that has no run.json yet, is
// that run's).
func pending(prefix string, idle bool) ([]Unfinished, error) {
	entries, err := os.ReadDir(prefix)
	if err != nil {
		return nil, err
	}
	var out []Unfinished
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), stashPrefix) || !e.IsDir() {
			continue
		}
		dir := filepath.Join(prefix, e.Name())
		_, jerr := os.Lstat(filepath.Join(dir, journalFile))
		r, rerr := readRun(dir)
		if !idle {
			if l, err := tryLock(dir, true); err != nil {
				continue // its run holds it
			} else {
				l.unlock()
			}
			if rerr != nil && jerr != nil {
				continue // being made by the run that holds the prefix
			}
		}
		out = append(out, Unfinished{Dir: dir, Label: r.Label, Started: r.Started, PID: r.PID, Journal: jerr == nil})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Dir < out[j].Dir
	})
	return out, nil
}

func readRun(dir string) (run, error) {
	var r run
	b, err := os.ReadFile(filepath.Join(dir, runFile))
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	return r, err
}

// Recover finishes the run u from its journal alone: the rollback it did
// not make (or finish), or, without a journal, the removal of its stash.
// It takes the environment's lock as Begin does.
func Recover(ctx context.Context, u Unfinished) error {
	dir, err := cleanAbs(u.Dir)
	if err != nil {
		return err
	}
	prefix := filepath.Dir(dir)
	if !strings.HasPrefix(filepath.Base(dir), stashPrefix) {
		return fmt.Errorf("txn: %s is not a stash", dir)
	}
	pl, err := lockPrefix(prefix)
	if err != nil {
		return err
	}
	defer pl.unlock()
	if fi, err := os.Lstat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("txn: %s is not a stash", dir)
	}
	dl, err := tryLock(dir, true)
	if err != nil {
		return fmt.Errorf("txn: locking %s: %w", dir, err)
	}
	defer dl.unlock()
	j, err := readJournal(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Killed before the journal was written (nothing was touched) or
		// after it was dropped (the commit or the rollback was made).
		if err := os.RemoveAll(dir); err != nil {
			return &RollbackError{Problems: []string{"removing the stash: " + err.Error()}, Stash: dir}
		}
		return syncDir(prefix)
	}
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(prefix)
	if err != nil {
		return err
	}
	return finishRollback(ctx, j, dir, real)
}

// BusyError is a Begin (or a Recover) refused because another pipguard
// run holds the environment.
type BusyError struct {
	Prefix string
	// Label, PID and Started are the other run's, as its stash says ("" and
	// 0 when it has not written them yet).
	Label   string
	PID     int
	Started time.Time
}

func (e *BusyError) Error() string {
	who := "another pipguard run"
	if e.Label != "" || e.PID != 0 {
		who = fmt.Sprintf("%q (pid %d)", e.Label, e.PID)
	}
	return fmt.Sprintf("txn: %s is in use by %s", e.Prefix, who)
}

// UnfinishedError is a Begin refused because a run that did not finish
// left its stash: Recover it first.
type UnfinishedError struct {
	Prefix string
	Runs   []Unfinished
}

func (e *UnfinishedError) Error() string {
	var runs []string
	for _, u := range e.Runs {
		runs = append(runs, fmt.Sprintf("%q (pid %d, started %s; stash %s)", u.Label, u.PID, u.Started.Format(time.RFC3339), u.Dir))
	}
	return fmt.Sprintf("txn: an earlier run in %s did not finish, recover it first: %s", e.Prefix, strings.Join(runs, ", "))
}

// lockWait is how long Begin and Recover wait for the prefix's lock (a
// Pending holds it for a moment) before saying it is busy.
const lockWait = 250 * time.Millisecond

// lockPrefix takes the environment's lock, or says who holds it.
func lockPrefix(prefix string) (*flock, error) {
	deadline := time.Now().Add(lockWait)
	for {
		l, err := tryLock(prefix, true)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, errLocked) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, busy(prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// busy names the run that holds prefix: the one whose stash is locked.
func busy(prefix string) *BusyError {
	e := &BusyError{Prefix: prefix}
	entries, _ := os.ReadDir(prefix)
	for _, de := range entries {
		if !strings.HasPrefix(de.Name(), stashPrefix) || !de.IsDir() {
			continue
		}
		dir := filepath.Join(prefix, de.Name())
		if l, err := tryLock(dir, true); err == nil {
			l.unlock()
			continue
		}
		if r, err := readRun(dir); err == nil {
			e.Label, e.PID, e.Started = r.Label, r.PID, r.Started
		}
	}
	return e
}
