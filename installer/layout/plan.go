package layout

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Scheme is where pip installs one distribution: pip's
// locations.get_scheme(name) for the target interpreter (SchemeProgram
// prints it).
type Scheme struct {
	// Purelib, Platlib, Scripts, Data and Headers are absolute. Headers
	// already includes the distribution's directory as pip computes it
	// (from Wheel.SchemeName).
	Purelib, Platlib, Scripts, Data, Headers string
	// CacheTag is sys.implementation.cache_tag, e.g. "cpython-311"; ""
	// means pip will not compile (--no-compile): no .pyc is planned.
	CacheTag string
	// PythonVersion is the interpreter's "X.Y": pip names the versioned
	// scripts it writes for a "pip" or "easy_install" console script with
	// it. Needed only for such wheels.
	PythonVersion string
	// Prefix is the interpreter's sys.prefix, where pip reads the
	// environment's own configuration (pip.conf, pip.ini), Python its
	// pyvenv.cfg and pipguard keeps its own directory (.pipguard): no wheel
	// may write those. "" takes Data for it (pip's data scheme is the
	// prefix).
	Prefix string
	// Executable is the interpreter's sys.executable, which pip writes into
	// the #!python line of .data/scripts members. When set, Check requires
	// a rewritten first line to be exactly "#!" + Executable + "\n".
	Executable string
	// Stdlib are the interpreter's own library directories (see pip.Info's
	// Stdlib): a planned path inside one, and not inside Purelib or
	// Platlib, is refused. In a virtual environment they are outside the
	// prefix, where no scheme reaches; in an interpreter that is none
	// (pyenv's, a Docker image's /usr/local) pip's data scheme is the
	// prefix, and a NAME.data/data/lib/pythonX.Y/ member would otherwise
	// add a module to the standard library, which every later Python
	// process (pipguard's pip driver included) imports as the interpreter's
	// own.
	Stdlib []string
}

// SchemeProgram is Python that prints, as JSON, the Scheme of the
// distribution named by its first argument (Wheel.SchemeName), as pip's
// own code computes it in the interpreter that runs it:
//
//	python -c "$SchemeProgram" NAME
//
// It imports pip, and so runs only the target's own pip and Python.
const SchemeProgram = `import json, sys
from pip._internal.locations import get_scheme
s = get_scheme(sys.argv[1])
print(json.dumps({"purelib": s.purelib, "platlib": s.platlib, "scripts": s.scripts, "data": s.data, "headers": s.headers,
    "cache_tag": sys.implementation.cache_tag or "", "python_version": "%d.%d" % sys.version_info[:2], "executable": sys.executable}))
`

// Kind says how a planned file relates to the wheel.
type Kind string

const (
	// Copied is byte-identical to its member.
	Copied Kind = "copied"
	// Script is a .data/scripts member: pip may rewrite its #!python first
	// line, and only that.
	Script Kind = "script"
	// Generated is a console or gui script pip writes from entry_points.txt.
	Generated Kind = "generated"
	// Bytecode is a .pyc pip's compileall writes for an installed .py file
	// (when the file compiles).
	Bytecode Kind = "bytecode"
	// Metadata is INSTALLER, REQUESTED, direct_url.json or RECORD, which
	// pip writes into the .dist-info directory.
	Metadata Kind = "metadata"
)

// File is a file pip may write.
type File struct {
	Path string // absolute, clean
	Kind Kind
	// Member is the archive member it comes from (for Bytecode, the .py
	// member compiled); "" for Generated and Metadata.
	Member string
	// SHA256 and Size are the member's (Copied, Script).
	SHA256 string
	Size   int64
	// Executable: pip installs a Copied or Script file with every execute
	// bit set when true and none when false; Generated files are always
	// executable.
	Executable bool `json:",omitempty"`
	// RestSHA256 and RestSize, for a Script whose first line starts with
	// "#!python", are the member's bytes after that line.
	RestSHA256 string `json:",omitempty"`
	RestSize   int64  `json:",omitempty"`
	// Entry is the entry point of a Generated script ("module:attr").
	Entry string `json:",omitempty"`
}

// Plan is every path one wheel's install may write.
type Plan struct {
	// Name is the PEP 503-normalised name; Version the file name's; Wheel
	// and SHA256 the archive's path and hex digest.
	Name, Version, Wheel, SHA256 string
	// DistInfo is the installed .dist-info directory (absolute).
	DistInfo string
	// Files is every file pip may write: absolute, sorted, unique.
	Files []File
	// Dirs is every directory pip may create: the parents of Files strictly
	// below the scheme paths' common ancestor (the prefix), sorted.
	Dirs []string
	// Unwritten are paths that pip lists in the installed RECORD but does
	// not write: .data/scripts members it takes for setuptools' wrappers of
	// an entry point (EP, EP.exe, EP-script.py, EP.pya) and skips, keeping
	// their archive name relative to the .dist-info's directory. None of
	// them may exist after the install.
	Unwritten []string `json:",omitempty"`
}

// PlanOptions are how pip will be run.
type PlanOptions struct {
	Direct    bool // pip will write direct_url.json
	Requested bool // pip will write REQUESTED
}

// File returns the planned file at path p.
func (p *Plan) File(path string) (File, bool) {
	i := sort.Search(len(p.Files), func(i int) bool { return p.Files[i].Path >= path })
	if i < len(p.Files) && p.Files[i].Path == path {
		return p.Files[i], true
	}
	return File{}, false
}

var (
	pipVersioned  = regexp.MustCompile(`^pip(\d+(\.\d+)?)?$`)
	easyVersioned = regexp.MustCompile(`^easy_install(-\d+\.\d+)?$`)
)

// consoleNames is pip's get_console_script_specs with ENSUREPIP_OPTIONS
// unset: "pip" makes pip, pipX and pipX.Y and drops the wheel's other
// versioned pip scripts; "easy_install" makes easy_install and
// easy_install-X.Y and drops the other versioned ones.
func consoleNames(console map[string]string, pyver string) (map[string]string, error) {
	c := map[string]string{}
	for k, v := range console {
		c[k] = v
	}
	out := map[string]string{}
	if v := c["pip"]; v != "" || c["easy_install"] != "" {
		major, _, ok := strings.Cut(pyver, ".")
		if !ok || major == "" {
			return nil, fmt.Errorf(`the wheel has a "pip" or "easy_install" console script, which pip names after the interpreter's version, and the scheme has no PythonVersion (set it to the target's "X.Y")`)
		}
		if v != "" {
			delete(c, "pip")
			out["pip"], out["pip"+major], out["pip"+pyver] = v, v, v
			for k := range c {
				if pipVersioned.MatchString(k) {
					delete(c, k)
				}
			}
		}
		if v := c["easy_install"]; v != "" {
			delete(c, "easy_install")
			out["easy_install"], out["easy_install-"+pyver] = v, v
			for k := range c {
				if easyVersioned.MatchString(k) {
					delete(c, k)
				}
			}
		}
	}
	for k, v := range c {
		out[k] = v
	}
	return out, nil
}

// cacheFromSource is importlib.util.cache_from_source with
// sys.flags.optimize 0 and no sys.pycache_prefix.
func cacheFromSource(p, tag string) string {
	dir, tail := filepath.Split(p)
	base, rest := tail, ""
	if i := strings.LastIndexByte(tail, '.'); i >= 0 {
		base, rest = tail[:i], tail[i+1:]
	}
	if base == "" {
		base = rest
	}
	return filepath.Join(dir, "__pycache__", base+"."+tag+".pyc")
}

// within says whether p is strictly inside dir (both clean).
func within(dir, p string) bool {
	if filepath.IsAbs(dir) && filepath.IsAbs(p) && filepath.Clean(dir) == dir && filepath.Clean(p) == p && filepath.VolumeName(dir) == "" {
		// Two clean absolute paths (what the plans hold): p is inside dir
		// when dir and a separator begin it, as filepath.Rel would find
		// without its allocations.
		if dir == string(filepath.Separator) {
			return len(p) > 1
		}
		return len(p) > len(dir) && p[len(dir)] == filepath.Separator && p[:len(dir)] == dir
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// PlanWheel maps every member of w to the path pip 23.x/24.x installs it
// to under scheme s, with the scripts, bytecode and metadata pip adds.
func PlanWheel(w *Wheel, s Scheme, o PlanOptions) (*Plan, error) {
	roots := map[string]*string{"purelib": &s.Purelib, "platlib": &s.Platlib, "scripts": &s.Scripts, "data": &s.Data, "headers": &s.Headers}
	for _, k := range []string{"purelib", "platlib", "scripts", "data", "headers"} {
		v := roots[k]
		if !filepath.IsAbs(*v) {
			return nil, fmt.Errorf("planning %s: the scheme's %s %q is not an absolute path (take the scheme from the target interpreter's pip, see SchemeProgram)", filepath.Base(w.Path), k, *v)
		}
		*v = filepath.Clean(*v)
	}
	lib := s.Platlib
	if w.RootIsPurelib {
		lib = s.Purelib
	}
	p := &Plan{Name: w.Normalized, Version: w.Version, Wheel: w.Path, SHA256: w.SHA256, DistInfo: filepath.Join(lib, w.DistInfo)}
	var reasons []string
	var refused []Conflict
	refuse := func(path, why string) {
		refused = append(refused, Conflict{Path: path, Wheel: w.Path, Why: why})
	}
	byPath := map[string]File{}
	add := func(f File) {
		if old, dup := byPath[f.Path]; dup {
			if old.Kind == Generated && f.Kind == Generated {
				return // a console and a gui script of one name: one file
			}
			reasons = append(reasons, fmt.Sprintf("%s and %s both install to %s", describe(old), describe(f), f.Path))
			return
		}
		byPath[f.Path] = f
	}
	di := w.DistInfo + "/"
	var installed []File
	for _, m := range w.Members {
		if m.Name == di+"RECORD" {
			continue // overwritten by the RECORD pip writes
		}
		root, sub, kind := lib, m.Name, Copied
		if first, rest, _ := strings.Cut(m.Name, "/"); strings.HasSuffix(first, ".data") {
			key, sub2, ok := strings.Cut(rest, "/")
			if first != w.Data || !ok || sub2 == "" || roots[key] == nil {
				reasons = append(reasons, fmt.Sprintf("member %q is not in a .data scheme directory pip knows", m.Name))
				continue
			}
			root, sub = *roots[key], sub2
			if key == "scripts" {
				kind = Script
			}
		}
		dst := filepath.Join(root, filepath.FromSlash(sub))
		if !within(root, dst) || filepath.Clean(filepath.Join(root, filepath.FromSlash(sub))) != dst {
			reasons = append(reasons, fmt.Sprintf("member %q would install outside %s", m.Name, root))
			continue
		}
		if c := ownComponent(sub); c != "" {
			refuse(dst, fmt.Sprintf("member %q, in a directory named %s: %s", m.Name, c, ownRule))
			continue
		}
		if kind == Script && isEntrypointWrapper(dst, w) {
			p.Unwritten = append(p.Unwritten, filepath.Join(lib, filepath.FromSlash(m.Name)))
			continue
		}
		f := File{Path: dst, Kind: kind, Member: m.Name, SHA256: m.SHA256, Size: m.Size, Executable: m.Executable}
		if kind == Script {
			f.RestSHA256, f.RestSize = m.RestSHA256, m.RestSize
		}
		installed = append(installed, f)
		add(f)
	}
	// compileall.compile_file for every installed path ending in ".py",
	// wherever its scheme put it (pip's pyc_source_file_paths).
	if s.CacheTag != "" {
		for _, f := range installed {
			if strings.HasSuffix(f.Path, ".py") {
				add(File{Path: cacheFromSource(f.Path, s.CacheTag), Kind: Bytecode, Member: f.Member})
			}
		}
	}
	console, err := consoleNames(w.ConsoleScripts, s.PythonVersion)
	if err != nil {
		return nil, fmt.Errorf("planning %s: %w", filepath.Base(w.Path), err)
	}
	for _, m := range []map[string]string{console, w.GUIScripts} {
		for name, entry := range m {
			dst := filepath.Join(s.Scripts, name)
			if !entryNameRE.MatchString(name) || !within(s.Scripts, dst) || filepath.Dir(dst) != s.Scripts {
				reasons = append(reasons, fmt.Sprintf("entry point %q would not be a file of %s", name, s.Scripts))
				continue
			}
			if c := ownComponent(name); c != "" {
				refuse(dst, fmt.Sprintf("entry point %q, named %s: %s", name, c, ownRule))
				continue
			}
			add(File{Path: dst, Kind: Generated, Executable: true, Entry: entry})
		}
	}
	meta := []string{"INSTALLER", "RECORD"}
	if o.Requested {
		meta = append(meta, "REQUESTED")
	}
	if o.Direct {
		meta = append(meta, "direct_url.json")
	}
	for _, n := range meta {
		add(File{Path: filepath.Join(p.DistInfo, n), Kind: Metadata})
	}

	common := commonDir([]string{s.Purelib, s.Platlib, s.Scripts, s.Data, s.Headers})
	prefix := s.Data
	if s.Prefix != "" && filepath.IsAbs(s.Prefix) {
		prefix = filepath.Clean(s.Prefix)
	}
	envFiles := environmentFiles(s, prefix, common)
	// In any case: on a case-insensitive file system (macOS's APFS,
	// Windows, whose standard library is PREFIX\Lib) a wheel's Lib/ is lib/.
	stdlib := func(path string) string {
		lpath := strings.ToLower(path)
		if within(strings.ToLower(s.Purelib), lpath) || within(strings.ToLower(s.Platlib), lpath) {
			return ""
		}
		for _, d := range s.Stdlib {
			if d = filepath.Clean(d); filepath.IsAbs(d) && (strings.ToLower(d) == lpath || within(strings.ToLower(d), lpath)) {
				return d
			}
		}
		return ""
	}
	dirs := map[string]bool{}
	for path, f := range byPath {
		if why := envFiles(path); why != "" {
			refuse(path, describe(f)+": "+why)
		} else if d := stdlib(path); d != "" {
			refuse(path, describe(f)+", in the interpreter's own library directory "+d+": every later Python process (pipguard's pip driver included) would import it as the interpreter's own; pipguard's plan refuses a wheel that writes there")
		} else if within(prefix, path) {
			rel, _ := filepath.Rel(prefix, path)
			if c := ownComponent(filepath.ToSlash(rel)); c != "" {
				refuse(path, fmt.Sprintf("%s, in the environment's %s: %s", describe(f), c, ownRule))
			}
		}
		// Metadata directories: only the wheel's own, and none of the
		// files pip or pipguard write (a .data member can land there).
		for _, site := range []string{s.Purelib, s.Platlib} {
			if !within(site, path) {
				continue
			}
			rel, _ := filepath.Rel(site, path)
			top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
			if (strings.HasSuffix(top, ".dist-info") || strings.HasSuffix(top, ".egg-info")) && filepath.Join(site, top) != p.DistInfo {
				reasons = append(reasons, fmt.Sprintf("%s installs into %s, another distribution's metadata directory", describe(f), top))
			}
		}
		if f.Kind != Metadata && filepath.Dir(path) == p.DistInfo {
			if l := strings.ToLower(filepath.Base(path)); forbidden[l] || strings.HasPrefix(l, "pipguard-") {
				reasons = append(reasons, fmt.Sprintf("%s installs %s, which pip or pipguard writes", describe(f), path))
			}
		}
		for d := filepath.Dir(path); within(common, d); d = filepath.Dir(d) {
			if g, clash := byPath[d]; clash {
				reasons = append(reasons, fmt.Sprintf("%s is a file and the directory of %s", describe(g), describe(f)))
			}
			dirs[d] = true
		}
	}
	sort.Slice(refused, func(i, j int) bool { return refused[i].Path < refused[j].Path })
	if len(reasons) > 0 {
		for _, c := range refused {
			reasons = append(reasons, fmt.Sprintf("%s would be written by %s", c.Path, c.Why))
		}
		sort.Strings(reasons)
		return nil, &MalformedError{Wheel: w.Path, Reasons: reasons}
	}
	if len(refused) > 0 {
		return nil, &RefusedError{Wheel: w.Path, Conflicts: refused}
	}
	for _, f := range byPath {
		p.Files = append(p.Files, f)
	}
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
	for d := range dirs {
		p.Dirs = append(p.Dirs, d)
	}
	sort.Strings(p.Dirs)
	sort.Strings(p.Unwritten)
	return p, nil
}

// RefusedError is a well-formed wheel whose plan writes what belongs to
// the environment or to pipguard (Scheme.Prefix's pip.conf, pip.ini or
// pyvenv.cfg, a .pipguard or .pipguard-* directory): a conflict with the
// environment, each naming its rule, found before any other wheel's plan
// is compared with it.
type RefusedError struct {
	Wheel     string
	Conflicts []Conflict
}

func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = c.Path + " (" + c.Why + ")"
	}
	return fmt.Sprintf("wheel %s would write what belongs to the environment or to pipguard: %s", filepath.Base(e.Wheel), strings.Join(parts, "; "))
}

// ownRule is why the plan refuses a path in a directory named .pipguard
// or .pipguard-*.
const ownRule = "pipguard's own directories (.pipguard, which holds the environment's receipt key, and .pipguard-*, its stashes) are written by pipguard alone, at any depth (audit must never find a key or a stash a wheel put there)"

// ownComponent is the first component of the slash-separated relative
// path rel that is pipguard's own directory name, ".pipguard" or
// ".pipguard-*" in any case (a case-insensitive file system makes
// ".PipGuard" the same directory); "" when none is.
func ownComponent(rel string) string {
	for _, c := range strings.Split(rel, "/") {
		if l := strings.ToLower(c); l == ".pipguard" || strings.HasPrefix(l, ".pipguard-") {
			return c
		}
	}
	return ""
}

// environmentFiles says why a wheel must not write path ("" when it may):
// the environment's pip configuration (PREFIX/pip.conf, PREFIX/pip.ini:
// pip reads it as the "site" configuration at every later run, pipguard's
// resolution included) or a pyvenv.cfg where Python or pipguard looks for
// one (the prefix, and every directory from a site-packages or scripts
// directory up to the prefix): it would make Python, pip or pipguard's
// audit take the environment for another one.
func environmentFiles(s Scheme, prefix, common string) func(path string) string {
	cfgDirs := map[string]bool{prefix: true, s.Data: true}
	for _, root := range []string{s.Purelib, s.Platlib, s.Scripts} {
		for d := root; ; d = filepath.Dir(d) {
			cfgDirs[d] = true
			if d == common || d == prefix || !within(common, d) && !within(prefix, d) {
				break
			}
		}
	}
	return func(path string) string {
		dir, base := filepath.Dir(path), filepath.Base(path)
		switch {
		case (strings.EqualFold(base, "pip.conf") || strings.EqualFold(base, "pip.ini")) && (dir == prefix || dir == s.Data):
			return "the environment's own pip configuration (pip reads PREFIX/" + base + " at every later run, and a wheel must not choose the environment's indexes or options): pipguard's plan refuses a wheel that configures pip"
		case strings.EqualFold(base, "pyvenv.cfg") && cfgDirs[dir]:
			return "a pyvenv.cfg where Python and pipguard look for the environment's own: pipguard's plan refuses a wheel that redefines the environment"
		}
		return ""
	}
}

func describe(f File) string {
	switch f.Kind {
	case Generated:
		return fmt.Sprintf("entry point script %s", filepath.Base(f.Path))
	case Metadata:
		return fmt.Sprintf("pip's %s", filepath.Base(f.Path))
	case Bytecode:
		return fmt.Sprintf("the bytecode of member %q", f.Member)
	}
	return fmt.Sprintf("member %q", f.Member)
}

// isEntrypointWrapper is pip's test for a .data/scripts member it skips:
// its base name, less a case-insensitive ".exe", "-script.py" or ".pya"
// suffix, is a console or gui entry point name of the wheel.
func isEntrypointWrapper(dst string, w *Wheel) bool {
	name := filepath.Base(dst)
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".exe"), strings.HasSuffix(l, ".pya"):
		name = name[:len(name)-4]
	case strings.HasSuffix(l, "-script.py"):
		name = name[:len(name)-10]
	}
	_, c := w.ConsoleScripts[name]
	_, g := w.GUIScripts[name]
	return c || g
}

// commonDir is the deepest directory that contains (or is) every path.
func commonDir(paths []string) string {
	c := paths[0]
	for _, p := range paths[1:] {
		for c != p && !within(c, p) {
			c = filepath.Dir(c)
		}
	}
	return c
}
