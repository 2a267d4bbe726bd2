package txn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// finishRollback rolls back the run j describes, whose stash is dir, and
// drops the stash once everything in it is back. Each step is idempotent:
// a rollback stopped anywhere (ctx, a kill) is finished by running it
// again from the journal, which is removed only after the stash has been
// put back.
func finishRollback(ctx context.Context, j *journal, dir, real string) error {
	r := &roller{j: j, ctx: ctx, stash: dir, real: real, reported: map[string]bool{}}
	r.run()
	if r.stopped || r.failed {
		return &RollbackError{Problems: r.problems, Stash: dir}
	}
	if err := drop(dir); err != nil {
		r.problems = append(r.problems, err.Error())
		return &RollbackError{Problems: r.problems, Stash: dir}
	}
	if len(r.problems) > 0 {
		return &RollbackError{Problems: r.problems}
	}
	return nil
}

type roller struct {
	j        *journal
	ctx      context.Context
	stash    string
	real     string // the prefix's real path
	problems []string
	stopped  bool // ctx ended it
	failed   bool // something stashed was not put back
	w        *walker
	reported map[string]bool
}

// fresh forgets what the walker saw (directories were removed since).
func (r *roller) fresh() { r.w = newWalker(r.j.Prefix, r.real, r.j.Links, true) }

func (r *roller) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// alive says whether the rollback may go on.
func (r *roller) alive() bool {
	if r.stopped {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.stopped = true
		r.problem("the rollback stopped before it finished: %v", err)
		return false
	}
	return true
}

func (r *roller) run() {
	r.fresh()
	// 1. Every planned path, whoever wrote it.
	for _, p := range r.j.Write {
		if !r.alive() {
			return
		}
		r.remove(p, false)
	}
	// 2. New top-level entries of the site directories, and the ~
	// directories pip's uninstall made.
	for _, m := range []struct {
		names  map[string][]string
		prefix string
	}{{r.j.SiteEntries, ""}, {r.j.Tilde, "~"}} {
		for _, d := range sortedKeys(m.names) {
			if !r.alive() {
				return
			}
			rd, ok := r.dir(d)
			if !ok {
				continue
			}
			before := map[string]bool{}
			for _, n := range m.names[d] {
				before[n] = true
			}
			names, err := readNames(rd, m.prefix)
			if err != nil {
				r.problem("listing %s: %v", d, err)
				continue
			}
			sort.Strings(names)
			for _, n := range names {
				if !before[n] && !strings.HasPrefix(n, stashPrefix) && r.alive() {
					r.remove(filepath.Join(d, n), true)
				}
			}
		}
	}
	// 3. The stash, then the directories that existed (an empty one of
	// Keep's, one pip removed).
	r.fresh() // what steps 1 and 2 removed
	for _, e := range r.j.Stash {
		if !r.alive() {
			return
		}
		r.restore(e)
	}
	dirs := sortedKeys(r.j.DirModes)
	for _, d := range dirs {
		if !r.alive() {
			return
		}
		if _, ok := r.ensure(d); !ok {
			r.failed = true
			r.problem("%s could not be made again", d)
		}
	}
	// Their modes, deepest first (one without write permission is filled
	// by then).
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		rd, ok := r.dir(d)
		if !ok {
			continue
		}
		want := r.j.DirModes[d] & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if fi, err := os.Lstat(rd); err == nil && fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != want {
			if err := os.Chmod(rd, want); err != nil {
				r.problem("%s: restoring its mode: %v", d, err)
			}
		}
	}
	// 4. The directories that did not exist, deepest first.
	r.fresh()
	news := append([]string(nil), r.j.NewDirs...)
	sort.Slice(news, func(a, b int) bool {
		da, db := strings.Count(news[a], string(filepath.Separator)), strings.Count(news[b], string(filepath.Separator))
		if da != db {
			return da > db
		}
		return news[a] > news[b]
	})
	for _, d := range news {
		if !r.alive() {
			return
		}
		rd, ok := r.dir(filepath.Dir(d))
		if !ok {
			continue
		}
		q := filepath.Join(rd, filepath.Base(d))
		err := os.Remove(q)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if names, lerr := readNames(q, ""); lerr == nil && len(names) > 0 {
			sort.Strings(names)
			if len(names) > 5 {
				names = append(names[:5], "...")
			}
			r.problem("%s did not exist before the install and is not empty after the rollback (%s): it was left", d, strings.Join(names, ", "))
		} else {
			r.problem("removing %s: %v", d, err)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dir resolves a directory of the prefix (or the prefix) as it is now;
// ok is false when it does not exist or cannot be followed (which is
// reported, once).
func (r *roller) dir(d string) (string, bool) {
	v := r.w.walk(d)
	if v.err != nil {
		if msg := v.err.Error(); !r.reported[msg] {
			r.reported[msg] = true
			r.problem("%s: nothing was touched through it", msg)
		}
		return "", false
	}
	return v.path, v.exists
}

// remove removes p (a directory's whole tree when all), in its directory
// as resolved now.
func (r *roller) remove(p string, all bool) {
	rd, ok := r.dir(filepath.Dir(p))
	if !ok {
		return
	}
	q := filepath.Join(rd, filepath.Base(p))
	var err error
	if all {
		err = os.RemoveAll(q)
	} else if err = syscall.Unlink(q); err != nil && !errors.Is(err, fs.ErrNotExist) {
		err = os.Remove(q) // a directory where a file was planned, if empty
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.problem("removing %s: %v", p, err)
	}
	delete(r.w.cache, p)
}

// ensure makes directory d, and those above it, where they are missing
// (their modes at Begin are set once the restore is done).
func (r *roller) ensure(d string) (string, bool) {
	if v := r.w.walk(d); v.exists || v.err != nil {
		return r.dir(d)
	}
	prd, ok := r.ensure(filepath.Dir(d))
	if !ok {
		return "", false
	}
	q := filepath.Join(prd, filepath.Base(d))
	// Made writable for what goes in it; its mode at Begin is set at the
	// end of the restore.
	if err := os.Mkdir(q, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		r.problem("making %s again: %v", d, err)
		return "", false
	}
	delete(r.w.cache, d)
	return r.dir(d)
}

// restore puts e back at its path.
func (r *roller) restore(e entry) {
	fail := func(format string, args ...any) {
		r.failed = true
		r.problem(format, args...)
	}
	rd, ok := r.ensure(filepath.Dir(e.Path))
	if !ok {
		fail("%s could not be put back: its directory is missing or leads outside the prefix", e.Path)
		return
	}
	q := filepath.Join(rd, filepath.Base(e.Path))
	if err := os.Remove(q); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fail("%s could not be put back: %v", e.Path, err)
		return
	}
	delete(r.w.cache, e.Path)
	if e.Kind == "symlink" {
		if err := os.Symlink(e.Target, q); err != nil {
			fail("%s could not be put back: %v", e.Path, err)
		}
		return
	}
	src := filepath.Join(r.stash, filesDir, e.Name)
	fi, err := os.Lstat(src)
	if err != nil {
		fail("%s could not be put back: %v", e.Path, err)
		return
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.Size || fi.ModTime().UnixNano() != e.MTime {
		r.problem("%s was changed in place after Begin (its stashed copy changed too): it was put back as it is now", e.Path)
	}
	if err := os.Link(src, q); err != nil {
		if err := copyFile(src, q, fi); err != nil {
			fail("%s could not be put back: %v", e.Path, err)
			return
		}
	}
	if err := os.Chmod(q, e.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		fail("%s: restoring its mode: %v", e.Path, err)
	}
	if e.Kind == "copy" {
		os.Chtimes(q, time.Time{}, time.Unix(0, e.MTime))
	}
}
