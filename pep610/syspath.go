package pep610

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PathEntry is one entry of sys.path as the site module builds it.
type PathEntry struct {
	// Dir is the entry, absolute.
	Dir string
	// Site says it is a site directory: site.addsitedir read its .pth files.
	Site bool
	// Pth is the .pth file whose line added it ("" for the interpreter's
	// own entries and site directories).
	Pth string
}

// Pth is a .pth file in a site directory, read as site.addpackage reads it
// but never run.
type Pth struct {
	// Path is the file.
	Path string
	// Added are the entries its path lines add to sys.path.
	Added []string
	// Code are its lines Python executes at every start ("import ..."),
	// with their line numbers.
	Code []PthLine
	// Err says why Python cannot read it at all (not UTF-8: site's
	// decoding raises, and Python fails to start).
	Err error
}

// PthLine is one line of a .pth file.
type PthLine struct {
	N    int
	Text string
}

// SitePath is sys.path after the site module's start (site.main) for an
// interpreter whose own entries (sys.path under -I -S) are base and whose
// site directories are sites, in the order site.main adds them (the
// virtual environment's, the user's when enabled, then
// site.getsitepackages), for Python version py ({3, 12}). It adds each
// site directory as site.addsitedir does, reading its .pth files in Go
// without running them:
//
//	names = [name for name in os.listdir(sitedir) if name.endswith(".pth")
//	         and not name.startswith(".")]    # the "." rule from 3.13
//	for name in sorted(names): addpackage(sitedir, name, known_paths)
//
// and site.addpackage for each line: a line starting with "#" is skipped,
// and so is a blank one; one starting with "import " or "import\t" is
// executed (here: recorded in Pth.Code, never run); any other, right-
// stripped, is joined to the site directory and appended when it exists
// and is not already on sys.path. Only site directories' .pth files are
// read, not those of the directories a .pth adds (site does not read
// them either). Lines end as Python reads them: before 3.13 at "\n", "\r"
// and "\r\n" of the file decoded as UTF-8 (the locale's encoding, UTF-8
// under Python's UTF-8 mode and C locale coercion; a byte order mark is
// then part of the first line); from 3.13 with str.splitlines after
// decoding as "utf-8-sig".
//
// An import line that raises makes Python ignore the rest of its file;
// SitePath cannot know whether it would, and reads on, so it lists at
// least what Python adds. A zero py (no interpreter known, pipguard audit
// --path) applies the rules of both 3.12 and 3.13 and lists what either
// adds or runs.
func SitePath(base, sites []string, py [2]int) ([]PathEntry, []Pth) {
	if py != [2]int{} {
		return sitePath(base, sites, py)
	}
	path, pths := sitePath(base, sites, [2]int{3, 12})
	path2, pths2 := sitePath(base, sites, [2]int{3, 13})
	have := map[string]bool{}
	for _, e := range path {
		have[e.Dir] = true
	}
	for _, e := range path2 {
		if !have[e.Dir] {
			path = append(path, e)
		}
	}
	byPath := map[string]int{}
	for i, p := range pths {
		byPath[p.Path] = i
	}
	for _, p := range pths2 {
		i, ok := byPath[p.Path]
		if !ok {
			pths = append(pths, p)
			continue
		}
		q := &pths[i]
		for _, c := range p.Code {
			if !containsLine(q.Code, c) {
				q.Code = append(q.Code, c)
			}
		}
		for _, a := range p.Added {
			if !containsString(q.Added, a) {
				q.Added = append(q.Added, a)
			}
		}
		if q.Err == nil {
			q.Err = p.Err
		}
	}
	return path, pths
}

func containsLine(ls []PthLine, l PthLine) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sitePath(base, sites []string, py [2]int) ([]PathEntry, []Pth) {
	known := map[string]bool{}
	var path []PathEntry
	add := func(e PathEntry) bool {
		if known[e.Dir] {
			return false
		}
		known[e.Dir] = true
		path = append(path, e)
		return true
	}
	for _, b := range base {
		add(PathEntry{Dir: abspath(b)})
	}
	var pths []Pth
	for _, s := range sites {
		s = abspath(s)
		if !add(PathEntry{Dir: s, Site: true}) {
			for i := range path {
				if path[i].Dir == s {
					path[i].Site = true
				}
			}
		}
		entries, err := os.ReadDir(s)
		if err != nil {
			continue // site.addsitedir: `except OSError: return`
		}
		var names []string
		for _, e := range entries {
			n := e.Name()
			if strings.HasSuffix(n, ".pth") && !(strings.HasPrefix(n, ".") && atLeast(py, 3, 13)) {
				names = append(names, n)
			}
		}
		sort.Strings(names) // Python sorts by code point; Go's strings compare UTF-8 bytes, the same order
		for _, n := range names {
			p := filepath.Join(s, n)
			data, err := os.ReadFile(p)
			if err != nil {
				continue // `except OSError: return`
			}
			pth := Pth{Path: p}
			lines, err := pthLines(data, py)
			if err != nil {
				pth.Err = err
				pths = append(pths, pth)
				continue
			}
			for i, line := range lines {
				switch {
				case strings.HasPrefix(line, "#"), strings.TrimFunc(line, pyIsSpace) == "":
					continue
				case strings.HasPrefix(line, "import ") || strings.HasPrefix(line, "import\t"):
					pth.Code = append(pth.Code, PthLine{N: i + 1, Text: strings.TrimRight(line, "\n")})
					continue
				}
				line = strings.TrimRightFunc(line, pyIsSpace)
				if strings.IndexByte(line, 0) >= 0 {
					continue // os.path.exists is False (or raises, which ends the file)
				}
				dir := abspath(filepath.Join(s, line))
				if filepath.IsAbs(line) {
					dir = abspath(line)
				}
				if known[dir] {
					continue
				}
				if _, err := os.Stat(dir); err != nil {
					continue
				}
				add(PathEntry{Dir: dir, Pth: p})
				pth.Added = append(pth.Added, dir)
			}
			if len(pth.Code) > 0 || len(pth.Added) > 0 {
				pths = append(pths, pth)
			}
		}
	}
	return path, pths
}

// abspath is os.path.abspath on POSIX: joined to the working directory and
// normalised lexically ("a/../b" is "b", whatever "a" links to).
func abspath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// pthLines splits a .pth file into lines as site.addpackage reads them,
// each keeping its line break before 3.13 (iterating over a text file)
// and none from 3.13 (str.splitlines).
func pthLines(data []byte, py [2]int) ([]string, error) {
	if atLeast(py, 3, 13) {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if !utf8.Valid(data) {
			return nil, errors.New("not UTF-8 (Python cannot start: site's decoding raises)")
		}
		return splitlines(string(data)), nil
	}
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8 (Python cannot start: site's decoding raises)")
	}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out, nil
}

// splitlines is Python's str.splitlines(): lines end at "\r\n" and at each
// of \n \r \v \f \x1c \x1d \x1e \x85 U+2028 U+2029.
func splitlines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			out = append(out, s[start:i])
			if strings.HasPrefix(s[i+1:], "\n") {
				n++
			}
			start = i + n
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, s[start:i])
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// pyIsSpace is Python's str.isspace for one character: Go's Unicode white
// space and the separators \x1c-\x1f.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// ErrNotSitePackages means a directory holds no installed distribution and
// is not named as a site directory is: auditing it would report nothing.
var ErrNotSitePackages = errors.New("not a site-packages directory")

// CheckSiteDir says whether dir can be a site-packages directory: it is
// named site-packages or dist-packages (a fresh environment's is empty),
// or it holds a distribution (.dist-info, .egg-info, .egg, .egg-link) or a
// .pth file. Anything else is ErrNotSitePackages, with the site-packages
// directories found below it when it is an environment or its lib/.
func CheckSiteDir(dir string) (below []string, err error) {
	if b := filepath.Base(abspath(dir)); b == "site-packages" || b == "dist-packages" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if hasSuffixFold(n, ".dist-info") || hasSuffixFold(n, ".egg-info") || hasSuffixFold(n, ".egg") || strings.HasSuffix(n, ".egg-link") || strings.HasSuffix(n, ".pth") {
			return nil, nil
		}
	}
	for _, pat := range []string{"lib*/python*/site-packages", "python*/site-packages", "lib/python3/dist-packages", "site-packages", "Lib/site-packages"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		below = append(below, m...)
	}
	return UniqueDirs(below), fmt.Errorf("%s: %w", dir, ErrNotSitePackages)
}

// atLeast says whether Python version py is major.minor or later.
func atLeast(py [2]int, major, minor int) bool {
	return py[0] > major || py[0] == major && py[1] >= minor
}
