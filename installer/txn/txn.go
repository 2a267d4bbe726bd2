// Package txn makes a pip install restorable: before pip touches an
// environment, the distributions it may replace are stashed (every file
// their RECORD lists, and their .dist-info directory); a rollback removes
// what the install added and puts the stash back, byte for byte; a commit
// drops the stash. It is the same idea as pip's own StashedUninstallPathSet
// (move aside, then commit or roll back), applied to a whole run: pip rolls
// back only the distribution it fails on and keeps what it already
// replaced.
//
// What it trusts: the file system. RECORD files are read as lists of paths
// and nothing more; a path outside the environment's prefix is never
// touched, and during a rollback only files created or changed since the
// transaction began are removed, so a RECORD cannot make a rollback delete
// a file another distribution owns.
package txn

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Txn is one transaction over an environment's site-packages directories.
type Txn struct {
	sites  []string
	prefix string
	names  map[string]bool
	start  time.Time
	// before are the top-level entries of each site directory.
	before map[string]map[string]bool
	// stash holds the stashed files: original path -> stash path.
	stashDir string
	stashed  map[string]stashed
	done     bool
}

type stashed struct {
	path string
	mode fs.FileMode
}

var normRE = regexp.MustCompile(`[-_.]+`)

// normalize is PEP 503 name normalisation.
func normalize(name string) string { return normRE.ReplaceAllString(strings.ToLower(name), "-") }

// Begin starts a transaction over sites (the environment's site-packages
// directories, inside prefix) for an install of the distributions named
// names: each one installed now is stashed.
func Begin(sites []string, prefix string, names []string) (*Txn, error) {
	t := &Txn{sites: sites, prefix: filepath.Clean(prefix), names: map[string]bool{}, before: map[string]map[string]bool{}, stashed: map[string]stashed{}}
	for _, n := range names {
		t.names[normalize(n)] = true
	}
	// ctime granularity: anything changed from now on is newer than start.
	t.start = time.Now().Add(-10 * time.Millisecond)
	for _, site := range sites {
		entries, err := os.ReadDir(site)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", site, err)
		}
		set := map[string]bool{}
		for _, e := range entries {
			set[e.Name()] = true
		}
		t.before[site] = set
	}
	if len(t.names) == 0 {
		return t, nil
	}
	dir, err := os.MkdirTemp(sites[0], ".pipguard-stash-")
	if err != nil {
		return nil, fmt.Errorf("making the stash: %w", err)
	}
	t.stashDir = dir
	for _, site := range sites {
		for _, di := range t.distInfos(site, func(name string) bool { return t.before[site][name] }) {
			if err := t.stashDist(site, di); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
	}
	return t, nil
}

// distInfos lists the .dist-info directories in site of distributions this
// transaction is about, among the entries keep accepts.
func (t *Txn) distInfos(site string, keep func(string) bool) []string {
	entries, _ := os.ReadDir(site)
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || !strings.HasSuffix(n, ".dist-info") || !keep(n) {
			continue
		}
		base := strings.TrimSuffix(n, ".dist-info")
		i := strings.LastIndexByte(base, '-')
		if i <= 0 || !t.names[normalize(base[:i])] {
			continue
		}
		out = append(out, filepath.Join(site, n))
	}
	return out
}

// recordPaths are the absolute, cleaned paths a dist-info's RECORD lists,
// relative to site, keeping only those inside the prefix.
func (t *Txn) recordPaths(site, distInfo string) []string {
	f, err := os.Open(filepath.Join(distInfo, "RECORD"))
	if err != nil {
		return nil
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, 64<<20)))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			continue
		}
		if len(rec) == 0 || rec[0] == "" {
			continue
		}
		p := rec[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		p = filepath.Clean(p)
		if within(t.prefix, p) || t.inSite(p) {
			out = append(out, p)
		}
	}
	return out
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (t *Txn) inSite(p string) bool {
	for _, s := range t.sites {
		if within(s, p) {
			return true
		}
	}
	return false
}

// stashDist stashes a distribution's RECORD-listed files and its whole
// .dist-info directory.
func (t *Txn) stashDist(site, distInfo string) error {
	paths := t.recordPaths(site, distInfo)
	filepath.WalkDir(distInfo, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	for _, p := range paths {
		if err := t.stashFile(p); err != nil {
			return err
		}
	}
	return nil
}

// stashFile keeps a copy of p: a hard link (pip replaces files, it never
// writes into them), or a copy where a link cannot be made.
func (t *Txn) stashFile(p string) error {
	if _, ok := t.stashed[p]; ok {
		return nil
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // RECORD lists files that are gone (e.g. .pyc never written)
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	dst := filepath.Join(t.stashDir, fmt.Sprintf("%06d", len(t.stashed)))
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	} else if err := os.Link(p, dst); err != nil {
		if err := copyFile(p, dst, fi.Mode()); err != nil {
			return fmt.Errorf("stashing %s: %w", p, err)
		}
	}
	t.stashed[p] = stashed{path: dst, mode: fi.Mode()}
	return nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Stashed says how many files the transaction keeps for a rollback.
func (t *Txn) Stashed() int { return len(t.stashed) }

// Commit keeps what the install did and drops the stash.
func (t *Txn) Commit() error {
	if t.done {
		return nil
	}
	t.done = true
	if t.stashDir == "" {
		return nil
	}
	return os.RemoveAll(t.stashDir)
}

// Rollback puts the environment back as it was at Begin: the files of
// every distribution the install added or replaced are removed (those
// their RECORD lists, created or changed since Begin, and every top-level
// entry that did not exist then), and the stash is put back.
func (t *Txn) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	var errs []error
	var parents []string
	for _, site := range t.sites {
		// Distributions present now: the new ones, and those named (a
		// same-version reinstall keeps its directory name).
		for _, di := range t.distInfos(site, func(string) bool { return true }) {
			for _, p := range t.recordPaths(site, di) {
				if _, ok := t.stashed[p]; !ok && !t.changedSinceStart(p) {
					continue // not this run's: another distribution's file
				}
				if err := os.Remove(p); err == nil {
					parents = append(parents, filepath.Dir(p))
				} else if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			if err := os.RemoveAll(di); err != nil {
				errs = append(errs, err)
			}
		}
		entries, err := os.ReadDir(site)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			p := filepath.Join(site, e.Name())
			if !t.before[site][e.Name()] && p != t.stashDir {
				if err := os.RemoveAll(p); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	t.prune(parents)
	// Put the stash back, files in a stable order.
	paths := make([]string, 0, len(t.stashed))
	for p := range t.stashed {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("restoring stopped: %w", err))
			break
		}
		s := t.stashed[p]
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		os.Remove(p)
		if s.mode&fs.ModeSymlink != 0 {
			target, err := os.Readlink(s.path)
			if err == nil {
				err = os.Symlink(target, p)
			}
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := os.Link(s.path, p); err != nil {
			if err := copyFile(s.path, p, s.mode); err != nil {
				errs = append(errs, fmt.Errorf("restoring %s: %w", p, err))
				continue
			}
		}
		os.Chmod(p, s.mode.Perm())
	}
	if t.stashDir != "" {
		if len(errs) == 0 {
			os.RemoveAll(t.stashDir)
		} else {
			errs = append(errs, fmt.Errorf("the stash is kept in %s", t.stashDir))
		}
	}
	return errors.Join(errs...)
}

// prune removes directories inside a site directory that the removals
// left empty, bottom up (the restore recreates those it needs).
func (t *Txn) prune(dirs []string) {
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		for t.inSite(d) {
			if os.Remove(d) != nil { // not empty, or gone
				break
			}
			d = filepath.Dir(d)
		}
	}
}
