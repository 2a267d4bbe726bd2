// Package txn makes a pip install restorable: before pip touches an
// environment, the distributions it may replace are stashed (every file
// their RECORD lists, and their metadata directory); a rollback removes
// what the install added and puts the stash back, byte for byte; a commit
// drops the stash. It is the same idea as pip's own StashedUninstallPathSet
// (move aside, then commit or roll back), applied to a whole run: pip rolls
// back only the distribution it fails on and keeps what it already
// replaced.
//
// What it trusts: the file system. RECORD (and legacy installed-files.txt)
// files are read as lists of paths and nothing more; a path outside the
// environment's prefix is never touched. During a rollback only files
// created or changed since the transaction began are removed, and never a
// file that a distribution the transaction did not stash lists: a RECORD
// cannot make a rollback delete another distribution's file. What cannot
// be put back (a distribution outside the transaction that pip changed
// anyway) is reported, never passed over.
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
	// existed are files that existed at Begin where installs put files
	// that no distribution may own: site-packages' top level and the
	// scripts directory (prefix/bin).
	existed map[string]bool
	// stashed maps each stashed file's original path to its copy.
	stashDir string
	stashed  map[string]stashed
	done     bool
}

type stashed struct {
	path string
	mode fs.FileMode
}

// RollbackError says what a rollback could not restore.
type RollbackError struct {
	Problems []string
	// Stash is where the stashed files are kept when a rollback did not
	// finish ("" when nothing was left there).
	Stash string
}

func (e *RollbackError) Error() string {
	msg := strings.Join(e.Problems, "; ")
	if e.Stash != "" {
		msg += "; the stashed files are kept in " + e.Stash
	}
	return msg
}

var normRE = regexp.MustCompile(`[-_.]+`)

// normalize is PEP 503 name normalisation.
func normalize(name string) string { return normRE.ReplaceAllString(strings.ToLower(name), "-") }

// Begin starts a transaction over sites (the environment's site-packages
// directories, inside prefix) for an install of the distributions named
// names: each one installed now is stashed, in any of the forms pip
// uninstalls (.dist-info, legacy .egg-info, a develop .egg-link).
func Begin(sites []string, prefix string, names []string) (*Txn, error) {
	t := &Txn{sites: sites, prefix: filepath.Clean(prefix), names: map[string]bool{}, before: map[string]map[string]bool{}, existed: map[string]bool{}, stashed: map[string]stashed{}}
	for _, n := range names {
		t.names[normalize(n)] = true
	}
	// Inode change times have the file system's granularity (a clock tick
	// on Linux): anything changed from here on is not older than start.
	t.start = time.Now().Add(-10 * time.Millisecond)
	for _, site := range sites {
		entries, err := os.ReadDir(site)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", site, err)
		}
		set := map[string]bool{}
		for _, e := range entries {
			set[e.Name()] = true
			if !e.IsDir() {
				t.existed[filepath.Join(site, e.Name())] = true
			}
		}
		t.before[site] = set
	}
	for _, scripts := range []string{"bin", "Scripts"} {
		entries, _ := os.ReadDir(filepath.Join(t.prefix, scripts))
		for _, e := range entries {
			t.existed[filepath.Join(t.prefix, scripts, e.Name())] = true
		}
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
		for _, m := range t.metadata(site) {
			if !t.names[m.name] {
				continue
			}
			for _, p := range t.files(site, m) {
				if err := t.stashFile(p); err != nil {
					os.RemoveAll(dir)
					return nil, err
				}
			}
		}
	}
	return t, nil
}

// meta is an installed distribution's metadata: a .dist-info or .egg-info
// directory (or a legacy .egg-info file), or a develop install's .egg-link.
type meta struct {
	path, entry, name string
	kind              string // "dist-info", "egg-info", "egg-link"
}

// metadata lists the distributions' metadata in site.
func (t *Txn) metadata(site string) []meta {
	entries, _ := os.ReadDir(site)
	var out []meta
	for _, e := range entries {
		n := e.Name()
		m := meta{path: filepath.Join(site, n), entry: n}
		switch {
		case strings.HasSuffix(n, ".dist-info") && e.IsDir():
			// PEP 427 escapes "-" in names: the version starts at the last "-".
			base := strings.TrimSuffix(n, ".dist-info")
			i := strings.LastIndexByte(base, '-')
			if i <= 0 {
				continue
			}
			m.name, m.kind = normalize(base[:i]), "dist-info"
		case strings.HasSuffix(n, ".egg-info"):
			// Egg names escape "-" as "_": the name ends at the first "-".
			base, _, _ := strings.Cut(strings.TrimSuffix(n, ".egg-info"), "-")
			m.name, m.kind = normalize(base), "egg-info"
		case strings.HasSuffix(n, ".egg-link"):
			m.name, m.kind = normalize(strings.TrimSuffix(n, ".egg-link")), "egg-link"
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

// files are the existing-or-listed paths of a distribution: what its
// RECORD (or installed-files.txt) lists inside the prefix, its metadata
// directory's own files, and for a develop install the .pth files pip
// edits when it uninstalls one.
func (t *Txn) files(site string, m meta) []string {
	var paths []string
	switch m.kind {
	case "dist-info":
		paths = t.listed(filepath.Join(m.path, "RECORD"), site)
	case "egg-info":
		paths = t.listed(filepath.Join(m.path, "installed-files.txt"), m.path)
	case "egg-link":
		paths = []string{filepath.Join(site, "easy-install.pth")}
	}
	filepath.WalkDir(m.path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	return paths
}

// listed reads a RECORD (CSV, first column) or installed-files.txt (one
// path a line) and returns its absolute, cleaned paths relative to base,
// keeping only those inside the prefix or a site directory.
func (t *Txn) listed(file, base string) []string {
	f, err := os.Open(file)
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
			p = filepath.Join(base, p)
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

// stashFile keeps a copy of p: a hard link (pip replaces the files it
// installs, it never writes into them), or a copy where a link cannot be
// made and for .pth files, which pip's uninstall edits in place.
func (t *Txn) stashFile(p string) error {
	if _, ok := t.stashed[p]; ok {
		return nil
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // listed but gone (a .pyc never written)
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	dst := filepath.Join(t.stashDir, fmt.Sprintf("%06d", len(t.stashed)))
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err == nil {
			err = os.Symlink(target, dst)
		}
		if err != nil {
			return fmt.Errorf("stashing %s: %w", p, err)
		}
	case strings.HasSuffix(p, ".pth") || os.Link(p, dst) != nil:
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

// Rollback puts the environment back as it was at Begin. It removes the
// files of every distribution the install added or changed (those its
// RECORD lists that changed since Begin, except files of distributions
// outside the transaction), every top-level entry that did not exist at
// Begin, and puts the stash back. It checks ctx between files; an
// unfinished rollback keeps the stash and says where it is.
func (t *Txn) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	var problems []string
	var parents []string
	// Files that distributions outside the transaction own, in every site
	// directory, and those of them the install changed (pip should not
	// have touched them).
	owned := map[string]string{}
	current := map[string]bool{}
	for _, site := range t.sites {
		for _, m := range t.metadata(site) {
			current[filepath.Join(site, m.entry)] = true
			if t.names[m.name] || !t.before[site][m.entry] {
				continue
			}
			if t.changedSinceStart(filepath.Join(m.path, "RECORD")) {
				problems = append(problems, fmt.Sprintf("%s was changed by the install but is not in the lock, so it was not stashed: reinstall it", m.entry))
			}
			for _, p := range t.files(site, m) {
				owned[p] = m.entry
			}
		}
	}
	for _, site := range t.sites {
		for entry := range t.before[site] {
			if (strings.HasSuffix(entry, ".dist-info") || strings.HasSuffix(entry, ".egg-info") || strings.HasSuffix(entry, ".egg-link")) && !current[filepath.Join(site, entry)] {
				if !t.stashedDir(filepath.Join(site, entry)) {
					problems = append(problems, fmt.Sprintf("%s was removed by the install but is not in the lock, so it was not stashed: reinstall it", entry))
				}
			}
		}
		for _, m := range t.metadata(site) {
			if !t.names[m.name] && t.before[site][m.entry] {
				continue // outside the transaction
			}
			for _, p := range t.files(site, m) {
				if _, ok := t.stashed[p]; !ok && !t.changedSinceStart(p) {
					continue // not this run's
				}
				if _, stashed := t.stashed[p]; !stashed {
					if owner, ok := owned[p]; ok {
						problems = append(problems, fmt.Sprintf("%s was overwritten by the install; it belongs to %s, which was not stashed: reinstall it", p, owner))
						continue
					}
					if t.existedBefore(p) {
						problems = append(problems, fmt.Sprintf("%s existed before the install, belongs to no distribution in it, and was overwritten: restore it by hand", p))
						continue
					}
				}
				if err := os.Remove(p); err == nil {
					parents = append(parents, filepath.Dir(p))
				} else if !errors.Is(err, fs.ErrNotExist) {
					problems = append(problems, err.Error())
				}
			}
			if err := os.RemoveAll(m.path); err != nil {
				problems = append(problems, err.Error())
			}
		}
		entries, err := os.ReadDir(site)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, e := range entries {
			p := filepath.Join(site, e.Name())
			if !t.before[site][e.Name()] && p != t.stashDir {
				if err := os.RemoveAll(p); err != nil {
					problems = append(problems, err.Error())
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
	restored := true
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			problems = append(problems, fmt.Sprintf("restoring stopped: %v", err))
			restored = false
			break
		}
		if err := t.restore(p, t.stashed[p]); err != nil {
			problems = append(problems, err.Error())
			restored = false
		}
	}
	if len(problems) == 0 {
		os.RemoveAll(t.stashDir)
		return nil
	}
	e := &RollbackError{Problems: problems}
	if t.stashDir != "" && !restored {
		e.Stash = t.stashDir
	} else {
		os.RemoveAll(t.stashDir)
	}
	return e
}

// existedBefore says whether p was seen at Begin (top-level files of a
// site directory and the scripts directory are listed then; deeper paths
// are known through the distributions that list them).
func (t *Txn) existedBefore(p string) bool { return t.existed[p] }

// stashedDir says whether files of the directory dir were stashed.
func (t *Txn) stashedDir(dir string) bool {
	for p := range t.stashed {
		if within(dir, p) || p == dir {
			return true
		}
	}
	return false
}

func (t *Txn) restore(p string, s stashed) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	os.Remove(p)
	if s.mode&fs.ModeSymlink != 0 {
		target, err := os.Readlink(s.path)
		if err == nil {
			err = os.Symlink(target, p)
		}
		return err
	}
	if strings.HasSuffix(p, ".pth") || os.Link(s.path, p) != nil {
		if err := copyFile(s.path, p, s.mode); err != nil {
			return fmt.Errorf("restoring %s: %w", p, err)
		}
	}
	return os.Chmod(p, s.mode.Perm())
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
