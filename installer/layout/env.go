package layout

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/pep610"
)

// Dist is an installed distribution as ReadEnv found it.
type Dist struct {
	Name    string // PEP 503-normalised (from METADATA, else the directory name)
	Version string
	Dir     string // the .dist-info (or .egg-info) directory
	// HasRecord says whether its RECORD (installed-files.txt for an
	// .egg-info) could be read: without it pip refuses to uninstall it.
	HasRecord bool
	files     []string // declared files, absolute and clean
	scripts   []string // console and gui scripts in prefix/bin
}

// Env is what is installed: every distribution's .dist-info in the site
// directories and the files its RECORD lists (absolute, cleaned).
type Env struct {
	Prefix string
	Dists  []Dist
	byName map[string][]int
	owners map[string][]string // path -> normalised names
	meta   map[string]string   // metadata directory -> normalised name
}

// ReadEnv reads the distributions installed in sites (a venv's
// site-packages; purelib and platlib may be one directory under two
// names) whose prefix is prefix (sys.prefix; console scripts are in
// prefix/bin as pip's get_bin_prefix says). It reads .dist-info RECORDs
// and, for setuptools' flat installs, .egg-info/installed-files.txt.
func ReadEnv(sites []string, prefix string) (*Env, error) {
	e := &Env{Prefix: filepath.Clean(prefix), byName: map[string][]int{}, owners: map[string][]string{}, meta: map[string]string{}}
	if prefix == "" {
		e.Prefix = ""
	}
	for _, site := range pep610.UniqueDirs(sites) {
		site = filepath.Clean(site)
		ds, err := pep610.Installed(site)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("reading the installed distributions of %s: %w", site, err)
		}
		for _, d := range ds {
			dist := Dist{Name: normalize(d.Name), Version: d.Version, Dir: d.Dir}
			if rows, err := readRecord(filepath.Join(d.Dir, "RECORD")); err == nil {
				dist.HasRecord = true
				for _, r := range rows {
					dist.files = append(dist.files, resolve(site, r))
				}
			}
			if b, err := readBounded(filepath.Join(d.Dir, "entry_points.txt")); err == nil && e.Prefix != "" {
				c, g, _ := parseEntryPoints(string(b))
				for _, m := range []map[string]string{c, g} {
					for n := range m {
						dist.scripts = append(dist.scripts, filepath.Join(e.Prefix, "bin", n))
					}
				}
			}
			e.add(dist)
		}
		legacy, _ := pep610.LegacyInstalled(site)
		for _, l := range legacy {
			if l.Link || !strings.HasSuffix(l.Path, ".egg-info") {
				continue
			}
			if fi, err := os.Stat(l.Path); err != nil || !fi.IsDir() {
				continue
			}
			dist := Dist{Name: normalize(l.Name), Version: l.Version, Dir: l.Path}
			if b, err := readBounded(filepath.Join(l.Path, "installed-files.txt")); err == nil {
				dist.HasRecord = true
				for _, line := range splitLines(string(b)) {
					if line = strings.TrimSpace(line); line != "" {
						dist.files = append(dist.files, resolve(l.Path, line))
					}
				}
			}
			e.add(dist)
		}
	}
	return e, nil
}

func (e *Env) add(d Dist) {
	e.byName[d.Name] = append(e.byName[d.Name], len(e.Dists))
	e.Dists = append(e.Dists, d)
	e.meta[d.Dir] = d.Name
	for _, f := range append(append([]string(nil), d.files...), d.scripts...) {
		e.own(f, d.Name)
	}
}

func (e *Env) own(p, name string) {
	for _, o := range e.owners[p] {
		if o == name {
			return
		}
	}
	e.owners[p] = append(e.owners[p], name)
}

func resolve(base, p string) string {
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p)
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxMetadataSize+1))
	if err == nil && len(b) > MaxMetadataSize {
		err = fmt.Errorf("%s is larger than %d bytes", p, MaxMetadataSize)
	}
	return b, err
}

// readRecord returns the paths of an installed RECORD (pip's
// iter_declared_entries: the first field of every CSV row).
func readRecord(p string) ([]string, error) {
	b, err := readBounded(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range splitLines(string(b)) {
		cr := csv.NewReader(strings.NewReader(line))
		cr.LazyQuotes, cr.FieldsPerRecord = true, -1
		rec, err := cr.Read()
		if err != nil || len(rec) == 0 || rec[0] == "" {
			continue
		}
		out = append(out, rec[0])
	}
	return out, nil
}

// Owners returns the distributions that own path: those whose RECORD
// lists it, whose metadata directory contains it, whose entry points name
// it in prefix/bin, or, for bytecode (x.pyc, x.pyo, __pycache__/x.TAG.pyc),
// that own its source x.py.
func (e *Env) Owners(path string) []string {
	path = filepath.Clean(path)
	set := map[string]bool{}
	for _, o := range e.owners[path] {
		set[o] = true
	}
	for d := filepath.Dir(path); d != filepath.Dir(d); d = filepath.Dir(d) {
		if n, ok := e.meta[d]; ok {
			set[n] = true
		}
	}
	if src, ok := bytecodeSource(path); ok {
		for _, o := range e.owners[src] {
			set[o] = true
		}
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Owner returns the first (by name) distribution owning path.
func (e *Env) Owner(path string) (dist string, ok bool) {
	if o := e.Owners(path); len(o) > 0 {
		return o[0], true
	}
	return "", false
}

// bytecodeSource is the .py file whose bytecode p would be.
func bytecodeSource(p string) (string, bool) {
	dir, base := filepath.Split(p)
	dir = filepath.Clean(dir)
	switch {
	case strings.HasSuffix(base, ".pyc") || strings.HasSuffix(base, ".pyo"):
	default:
		return "", false
	}
	stem := base[:len(base)-4]
	if filepath.Base(dir) != "__pycache__" {
		return filepath.Join(dir, stem+".py"), true
	}
	if i := strings.LastIndex(stem, ".opt-"); i >= 0 {
		stem = stem[:i]
	}
	i := strings.LastIndexByte(stem, '.')
	if i <= 0 {
		return "", false
	}
	return filepath.Join(filepath.Dir(dir), stem[:i]+".py"), true
}

// Files is what pip's uninstall of the distribution removes (pip's
// UninstallPathSet.from_dist): every path its RECORD lists that exists,
// x.pyc and x.pyo beside each x.py and its __pycache__ bytecode (pip adds
// its own interpreter's tag; Files adds every tag's), its console and gui
// scripts in prefix/bin, and for an .egg-info the whole directory; only
// paths under the prefix (pip leaves the others). A file of the .dist-info
// directory that RECORD does not list stays.
func (e *Env) Files(dist string) []string {
	set := map[string]bool{}
	addOne := func(p string) {
		if _, err := os.Stat(p); err != nil {
			return // os.path.exists: a dangling link stays too
		}
		if e.Prefix != "" && p != e.Prefix && !within(e.Prefix, p) {
			return
		}
		set[p] = true
	}
	for _, i := range e.byName[normalize(dist)] {
		d := e.Dists[i]
		for _, p := range d.files {
			addOne(p)
			if strings.HasSuffix(p, ".py") {
				stem := p[:len(p)-3]
				addOne(stem + ".pyc")
				addOne(stem + ".pyo")
				dir, base := filepath.Split(stem)
				matches, _ := filepath.Glob(filepath.Join(dir, "__pycache__", globEscape(base)+".*.pyc"))
				for _, m := range matches {
					if src, ok := bytecodeSource(m); ok && src == p {
						addOne(m)
					}
				}
			}
		}
		for _, s := range d.scripts {
			addOne(s)
		}
		if strings.HasSuffix(d.Dir, ".egg-info") {
			filepath.WalkDir(d.Dir, func(p string, de os.DirEntry, err error) error {
				if err == nil && !de.IsDir() {
					addOne(p)
				}
				return nil
			})
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// Conflict is a path that cannot be written.
type Conflict struct {
	Path  string
	Wheel string // the plan's wheel
	// Other is another wheel of the lock, a distribution outside the lock,
	// or "" for an existing file no distribution owns.
	Other string
	Why   string
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s would write %s: %s", filepath.Base(c.Wheel), c.Path, c.Why)
}

// Conflicts lists the paths the plans cannot write: a path two plans
// write; a planned file where a directory exists or a planned directory
// where a file exists (or a symbolic link pip would write through); and a
// planned path that exists and is owned by a distribution other than the
// one the plan installs, or by none. A file owned by another distribution
// the lock replaces is a conflict too: pip uninstalls each distribution
// just before installing its replacement, so that uninstall may remove
// what an earlier wheel of the lock wrote.
func Conflicts(plans []*Plan, env *Env) []Conflict {
	var out []Conflict
	files := map[string]int{}
	dirs := map[string]int{}
	for i, p := range plans {
		for _, d := range p.Dirs {
			if _, ok := dirs[d]; !ok {
				dirs[d] = i
			}
		}
	}
	for i, p := range plans {
		for _, f := range p.Files {
			if j, ok := files[f.Path]; ok {
				out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: plans[j].Wheel, Why: "both wheels write it"})
				continue
			}
			files[f.Path] = i
			if j, ok := dirs[f.Path]; ok {
				out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: plans[j].Wheel, Why: "one wheel writes it as a file, the other creates it as a directory"})
			}
		}
	}
	replaced := map[string]bool{}
	for _, p := range plans {
		replaced[p.Name] = true
	}
	for _, p := range plans {
		for _, f := range p.Files {
			fi, err := os.Lstat(f.Path)
			if err != nil {
				continue
			}
			var owners []string
			if env != nil {
				owners = env.Owners(f.Path)
			}
			other := ""
			if len(owners) > 0 {
				other = strings.Join(owners, ", ")
			}
			switch {
			case fi.IsDir():
				out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: other, Why: "a directory exists where the wheel writes a file"})
				continue
			case fi.Mode()&os.ModeSymlink != 0:
				if _, err := os.Stat(f.Path); err != nil {
					target, _ := os.Readlink(f.Path)
					out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: other, Why: fmt.Sprintf("a dangling symbolic link to %q exists there: pip would write through it", target)})
					continue
				}
			}
			if len(owners) == 0 {
				out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Why: "it exists and no installed distribution owns it (remove it, or install into a fresh environment)"})
				continue
			}
			for _, o := range owners {
				switch {
				case o == p.Name:
				case replaced[o]:
					out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: o, Why: fmt.Sprintf("it belongs to the installed %s, which the lock also replaces: pip's uninstall of %s may remove it after this wheel writes it", o, o)})
				default:
					out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: o, Why: fmt.Sprintf("it belongs to the installed %s, which the lock does not replace", o)})
				}
			}
		}
		for _, d := range p.Dirs {
			fi, err := os.Lstat(d)
			if err != nil || fi.IsDir() {
				continue
			}
			var owners []string
			if env != nil {
				owners = env.Owners(d)
			}
			why := "a file exists where the wheel needs a directory"
			if fi.Mode()&os.ModeSymlink != 0 {
				why = "a symbolic link exists where the wheel needs a directory: pip would write through it"
			}
			out = append(out, Conflict{Path: d, Wheel: p.Wheel, Other: strings.Join(owners, ", "), Why: why})
		}
	}
	out = append(out, shadows(plans, env)...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Wheel < out[j].Wheel
	})
	return out
}

// moduleKey is the import name an entry of a directory on sys.path (or of
// a package directory) stands for: a directory's own name; a module file's
// name up to its first dot (x.py, x.cpython-311-x86_64-linux-gnu.so,
// x.abi3.so, x.pyd, x.pyc); "" for any other file.
func moduleKey(name string, isDir bool) string {
	if isDir {
		return name
	}
	for _, ext := range []string{".py", ".pyc", ".so", ".pyd"} {
		if strings.HasSuffix(name, ext) {
			stem, _, _ := strings.Cut(name, ".")
			return stem
		}
	}
	return ""
}

// shadows refuses what a wheel writes to take over another
// distribution's modules without overwriting a file: Python imports a
// package directory or an extension module before a module file of the
// same name, so a new demo/core/__init__.py shadows demo/core.py, a new
// demo/__init__.abi3.so shadows demo/__init__.py, and any new file in a
// regular package (one with __init__.py) of another distribution runs as
// part of it. Directories shared as PEP 420 namespace packages (no
// __init__.py owned by another distribution) may be shared.
func shadows(plans []*Plan, env *Env) []Conflict {
	type owned struct{ names map[string]bool }
	// keys[dir][module key] = owners of entries of dir with that key.
	keys := map[string]map[string]map[string]bool{}
	inits := map[string]map[string]bool{} // package dir -> owners of its __init__.*
	roots := map[string]bool{}
	add := func(p, name string) {
		if strings.Contains(p, string(filepath.Separator)+"__pycache__"+string(filepath.Separator)) {
			return
		}
		var root string
		for r := range roots {
			if within(r, p) {
				root = r
				break
			}
		}
		if root == "" {
			return
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(rel, string(filepath.Separator))
		dir := root
		for i, c := range parts {
			last := i == len(parts)-1
			k := moduleKey(c, !last)
			if k != "" {
				if keys[dir] == nil {
					keys[dir] = map[string]map[string]bool{}
				}
				if keys[dir][k] == nil {
					keys[dir][k] = map[string]bool{}
				}
				keys[dir][k][name] = true
			}
			if last && moduleKey(c, false) == "__init__" {
				if inits[dir] == nil {
					inits[dir] = map[string]bool{}
				}
				inits[dir][name] = true
			}
			dir = filepath.Join(dir, c)
		}
	}
	if env != nil {
		for _, d := range env.Dists {
			roots[filepath.Dir(d.Dir)] = true
		}
	}
	for _, p := range plans {
		roots[filepath.Dir(p.DistInfo)] = true
	}
	if env != nil {
		for path, names := range env.owners {
			for _, n := range names {
				add(path, n)
			}
		}
	}
	for _, p := range plans {
		for _, f := range p.Files {
			if f.Kind != Metadata {
				add(f.Path, p.Name)
			}
		}
	}
	planned := map[string][]string{} // a planned .py -> its planners
	for _, p := range plans {
		for _, f := range p.Files {
			if strings.HasSuffix(f.Path, ".py") {
				planned[f.Path] = append(planned[f.Path], p.Name)
			}
		}
	}
	var out []Conflict
	seen := map[string]bool{}
	for _, p := range plans {
		for _, f := range p.Files {
			// The bytecode pip compiles is of the wheel's own .py, checked
			// here itself. A .pyc the wheel ships is a module like any
			// other, wherever it is: Python reads an unchecked hash-based
			// __pycache__/NAME.TAG.pyc in place of NAME.py without looking at
			// the source, so one in another distribution's package (pip's,
			// installed without bytecode) runs as part of it.
			if f.Kind == Metadata || f.Kind == Bytecode {
				continue
			}
			// D/__pycache__/NAME.TAG.pyc is D/NAME.py's bytecode: the
			// source loader reads it (unchecked hash-based) in place of
			// another distribution's NAME.py, whatever D is (a site
			// directory, a shared namespace package).
			if d, b := filepath.Split(f.Path); filepath.Base(filepath.Clean(d)) == "__pycache__" && strings.HasSuffix(b, ".pyc") {
				stem, _, _ := strings.Cut(b, ".")
				src := filepath.Join(filepath.Dir(filepath.Clean(d)), stem+".py")
				var owners []string
				if env != nil {
					owners = env.owners[src]
				}
				for _, o := range append(append([]string(nil), owners...), planned[src]...) {
					if key := f.Path + "\x00" + o; o != p.Name && !seen[key] {
						seen[key] = true
						out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: o,
							Why: fmt.Sprintf("it is the bytecode of %s's module %s: Python would run this wheel's code in its place", o, src)})
					}
				}
			}
			var root string
			for r := range roots {
				if within(r, f.Path) {
					root = r
					break
				}
			}
			if root == "" {
				continue
			}
			rel, _ := filepath.Rel(root, f.Path)
			parts := strings.Split(rel, string(filepath.Separator))
			dir := root
			for i, c := range parts {
				last := i == len(parts)-1
				k := moduleKey(c, !last)
				if k != "" {
					for o := range keys[dir][k] {
						if o == p.Name {
							continue
						}
						// Two directories of one name: a namespace both may
						// share, unless it is the other's regular package.
						if !last && !inits[filepath.Join(dir, c)][o] && !ownsFileNamed(keys[dir][k], o, dir, c, env, plans) {
							continue
						}
						key := f.Path + "\x00" + o
						if seen[key] {
							continue
						}
						seen[key] = true
						out = append(out, Conflict{Path: f.Path, Wheel: p.Wheel, Other: o,
							Why: fmt.Sprintf("it would shadow or join %s's module %q (%s): Python would import this wheel's code in its place", o, k, filepath.Join(dir, c))})
					}
				}
				dir = filepath.Join(dir, c)
			}
		}
	}
	return out
}

// ownsFileNamed says whether o owns a module file (not a directory) of the
// key c stands for in dir: x.py or x.*.so beside a directory x.
func ownsFileNamed(_ map[string]bool, o, dir, c string, env *Env, plans []*Plan) bool {
	match := func(p string) bool {
		if filepath.Dir(p) != dir {
			return false
		}
		b := filepath.Base(p)
		return b != c && moduleKey(b, false) == c
	}
	if env != nil {
		for path, names := range env.owners {
			if match(path) {
				for _, n := range names {
					if n == o {
						return true
					}
				}
			}
		}
	}
	for _, p := range plans {
		if p.Name != o {
			continue
		}
		for _, f := range p.Files {
			if match(f.Path) {
				return true
			}
		}
	}
	return false
}
