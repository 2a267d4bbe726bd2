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
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func withinOrEqual(dir, p string) bool { return dir == p || within(dir, p) }

// cleanAbs cleans an absolute path that has no ".." element.
func cleanAbs(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", &SpecError{p, "not an absolute path"}
	}
	for _, el := range strings.Split(filepath.ToSlash(p), "/") {
		if el == ".." {
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
	rel, _ := filepath.Rel(prefix, c)
	if first, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); strings.HasPrefix(first, ownPrefix) {
		return "", &SpecError{p, "inside pipguard's own files"}
	}
	return c, nil
}

// checked is a Spec once Begin accepted it: every path clean, inside the
// prefix as written, deduplicated and sorted.
type checked struct {
	prefix, real             string
	sites, write, dirs, keep []string
}

// check validates s as written (every path) and as it is on disk (every
// directory it names, or the deepest existing directory above it, must
// resolve inside the prefix's real path).
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
	r := &resolver{prefix: prefix, real: real, seen: map[string]error{}}
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
			if err := r.check(d); err != nil {
				return nil, &SpecError{p, err.Error()}
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

// resolver checks that directories inside the prefix, as far as they
// exist, are inside it on disk too.
type resolver struct {
	prefix, real string
	seen         map[string]error
}

func (r *resolver) check(dir string) error {
	if dir == r.prefix {
		return nil
	}
	if err, ok := r.seen[dir]; ok {
		return err
	}
	var err error
	fi, lerr := os.Lstat(dir)
	switch {
	case errors.Is(lerr, fs.ErrNotExist):
		err = r.check(filepath.Dir(dir))
	case lerr != nil:
		err = lerr
	default:
		real, e := filepath.EvalSymlinks(dir)
		switch {
		case e != nil:
			err = fmt.Errorf("%s leads nowhere: %v", dir, e)
		case !withinOrEqual(r.real, real):
			err = fmt.Errorf("%s leads outside the prefix, to %s", dir, real)
		case fi.Mode()&fs.ModeSymlink == 0 && !fi.IsDir():
			err = fmt.Errorf("%s is not a directory", dir)
		case fi.Mode()&fs.ModeSymlink != 0:
			if st, e := os.Stat(real); e != nil || !st.IsDir() {
				err = fmt.Errorf("%s is not a directory", dir)
			}
		}
	}
	r.seen[dir] = err
	return err
}
