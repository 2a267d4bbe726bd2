package txn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Spec is what an install may touch, computed by pipguard before pip runs
// (from the wheels' archives and the interpreter's install scheme). It is
// the only description of the install the transaction believes.
type Spec struct {
	// Prefix is the environment's sys.prefix: no path outside it is ever
	// touched.
	Prefix string
	// Sites are the site-packages directories (inside Prefix). New
	// top-level entries there that did not exist at Begin (pip's own ~xxx
	// temporary directories, a half-written distribution) are removed by
	// Rollback.
	Sites []string
	// Write is every file path the install may create or replace
	// (absolute).
	Write []string
	// Dirs is every directory the install may create (absolute). The
	// directories above each path of Write count as well, whether listed
	// or not.
	Dirs []string
	// Keep are existing files the install may remove (the replaced
	// distributions' files, as pip's uninstall removes them). A directory
	// stands for everything under it.
	Keep []string
	// Label is what the journal says this run is, e.g.
	// "pipguard install demo==1.0 (pid 123)".
	Label string
}

// SpecError is a Spec that Begin refuses before touching anything: a path
// that is not absolute, has a ".." element, lies outside the prefix (as
// written or through a symbolic link inside it), or is pipguard's own.
type SpecError struct {
	Path   string
	Reason string
}

func (e *SpecError) Error() string { return fmt.Sprintf("txn: refusing %q: %s", e.Path, e.Reason) }

// stashPrefix names the stash directories at the top level of a prefix;
// every top-level name starting with ".pipguard-" is pipguard's.
const (
	stashPrefix = ".pipguard-stash-"
	ownPrefix   = ".pipguard-"
)

// within says whether p is strictly below dir (both clean).
func within(dir, p string) bool {
	if len(p) <= len(dir) || p[:len(dir)] != dir {
		return false
	}
	return os.IsPathSeparator(p[len(dir)]) || os.IsPathSeparator(dir[len(dir)-1])
}

func withinOrEqual(dir, p string) bool { return dir == p || within(dir, p) }

// cleanAbs cleans an absolute path that has no ".." element.
func cleanAbs(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", &SpecError{p, "not an absolute path"}
	}
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '.' && p[i+1] == '.' && (i == 0 || os.IsPathSeparator(p[i-1])) && (i+2 == len(p) || os.IsPathSeparator(p[i+2])) {
			return "", &SpecError{p, `has a ".." element`}
		}
	}
	return filepath.Clean(p), nil
}

// inPrefix cleans p and checks, as written, that it is strictly inside
// prefix and not in pipguard's own namespace there.
func inPrefix(prefix, p string) (string, error) {
	c, err := cleanAbs(p)
	if err != nil {
		return "", err
	}
	if !within(prefix, c) {
		return "", &SpecError{p, "outside the prefix " + prefix}
	}
	rel := strings.TrimLeftFunc(c[len(prefix):], func(r rune) bool { return r < 0x80 && os.IsPathSeparator(uint8(r)) })
	if strings.HasPrefix(rel, ownPrefix) {
		return "", &SpecError{p, "inside pipguard's own files"}
	}
	return c, nil
}

// checked is a Spec once Begin accepted it: every path clean, inside the
// prefix as written, deduplicated and sorted.
type checked struct {
	prefix, real             string
	sites, write, dirs, keep []string
	// links are the symbolic links to directories on the way to the
	// plan's paths, and their real paths.
	links  map[string]string
	walker *walker // what it saw of the directories
}

// check validates s as written (every path) and as it is on disk (every
// directory it names, or that is above a file it names, must lead, as far
// as it exists, to a directory inside the prefix's real path).
func (s Spec) check() (*checked, error) {
	prefix, err := cleanAbs(s.Prefix)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(prefix)
	if err != nil {
		return nil, fmt.Errorf("txn: the prefix: %w", err)
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return nil, &SpecError{s.Prefix, "the prefix is not a directory"}
	}
	c := &checked{prefix: prefix, real: real}
	w := newWalker(prefix, real, nil, false)
	for _, in := range []struct {
		from []string
		to   *[]string
		dir  bool // the path itself is a directory (else its parent is checked)
	}{{s.Sites, &c.sites, true}, {s.Write, &c.write, false}, {s.Dirs, &c.dirs, true}, {s.Keep, &c.keep, false}} {
		set := make(map[string]bool, len(in.from))
		for _, p := range in.from {
			q, err := inPrefix(prefix, p)
			if err != nil {
				return nil, err
			}
			d := q
			if !in.dir {
				d = filepath.Dir(q)
			}
			if v := w.walk(d); v.err != nil {
				return nil, &SpecError{p, v.err.Error()}
			}
			set[q] = true
		}
		*in.to = sorted(set)
	}
	for _, site := range c.sites {
		if fi, err := os.Stat(site); err != nil || !fi.IsDir() {
			return nil, &SpecError{site, "the site directory does not exist"}
		}
	}
	c.links, c.walker = w.links, w
	return c, nil
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// walker resolves directories inside the prefix one element at a time,
// from the prefix's real path. A symbolic link on the way must lead to a
// directory inside the prefix. At Begin each one is noted (links); in a
// rollback only those noted, leading where they did, are followed, so
// that a directory the install replaced with a link leads it nowhere.
type walker struct {
	prefix, real string
	links        map[string]string // directory -> its real path
	enforce      bool
	cache        map[string]walked
}

// walked is a directory as the walker found it: its real path when it
// exists, an error when it cannot be followed.
type walked struct {
	path   string
	exists bool
	err    error
}

func newWalker(prefix, real string, links map[string]string, enforce bool) *walker {
	if links == nil {
		links = map[string]string{}
	}
	return &walker{prefix: prefix, real: real, links: links, enforce: enforce, cache: map[string]walked{}}
}

func (w *walker) walk(d string) walked {
	if d == w.prefix {
		return walked{path: w.real, exists: true}
	}
	if v, ok := w.cache[d]; ok {
		return v
	}
	var v walked
	up := w.walk(filepath.Dir(d))
	switch {
	case up.err != nil:
		v.err = up.err
	case !up.exists:
	default:
		q := filepath.Join(up.path, filepath.Base(d))
		fi, err := os.Lstat(q)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			v.err = err
		case fi.IsDir():
			v = walked{path: q, exists: true}
		case fi.Mode()&fs.ModeSymlink != 0:
			real, err := filepath.EvalSymlinks(q)
			var st fs.FileInfo
			if err == nil {
				st, err = os.Stat(real)
			}
			switch {
			case err != nil:
				v.err = fmt.Errorf("%s is a symbolic link that leads nowhere", d)
			case !withinOrEqual(w.real, real):
				v.err = fmt.Errorf("%s leads outside the prefix, to %s", d, real)
			case !st.IsDir():
				v.err = fmt.Errorf("%s is not a directory", d)
			case w.enforce && w.links[d] != real:
				v.err = fmt.Errorf("%s is a symbolic link (to %s) that was not there at Begin", d, real)
			default:
				v = walked{path: real, exists: true}
				w.links[d] = real
			}
		default:
			v.err = fmt.Errorf("%s is not a directory", d)
		}
	}
	w.cache[d] = v
	return v
}
