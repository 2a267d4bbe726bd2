// Package reqfile reads pip requirements files the way pip does (the
// subset that changes what is installed): comments, line continuations,
// nested -r files relative to the including file, -c constraints, global
// option lines (--index-url, --no-index, ...) and per-requirement options
// (--hash, --config-settings).
//
// It trusts nothing: every line is parsed, guarded (git) requirements with
// package requirement, and anything it cannot classify is reported with its
// file and line rather than guessed.
package reqfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/pipguard/pipguard/installer/requirement"
)

// Entry is one logical line that matters.
type Entry struct {
	// File and Line say where it came from (Line of its first physical line).
	File string
	Line int
	// Req is set for a requirement line.
	Req *requirement.Requirement
	// ReqText is the requirement as written (without per-line options).
	ReqText string
	// LineOptions are the per-requirement options pip applies, in
	// canonical form: --hash=ALGO:DIGEST, --config-settings=KEY=VALUE
	// (values shell-quoted as pip's shlex reads them back). Options pip
	// ignores on a requirement line are dropped; --global-option, which
	// pip 26 does not have, is refused (StrictOption).
	LineOptions []string
	// Option is set for a global option, e.g. ["--index-url", "URL"]: its
	// canonical long name and value (abbreviations and glued forms
	// resolved, as pip applies them: the last --index-url of a line, the
	// first --find-links). A line with several options gives an entry
	// for each. Options in constraints files are global too and come
	// back as such.
	Option []string
	// Constraint marks a requirement read from a -c constraints file: it
	// limits versions and installs nothing. (A -r inside a constraints file
	// names requirements, as pip reads it.)
	Constraint bool
	// Editable marks a -e line, returned only with Options.Editable:
	// ReqText is its value, Req is set when that parses as a requirement.
	Editable bool
}

// Options change how a file is read.
type Options struct {
	// Editable returns -e lines as entries (Entry.Editable) instead of
	// refusing them, for a reader that reports them (pipguard check).
	Editable bool
	// Getenv looks up ${VAR}; nil is os.Getenv.
	Getenv func(string) string
}

// Hashes returns the --hash values of a requirement line ("sha256:HEX").
func (e Entry) Hashes() []string {
	var out []string
	for i := 0; i < len(e.LineOptions); i++ {
		o := e.LineOptions[i]
		if v, ok := strings.CutPrefix(o, "--hash="); ok {
			if t, err := shlexSplit(v); err == nil && len(t) == 1 {
				v = t[0]
			}
			out = append(out, v)
		}
	}
	return out
}

// Error says what is wrong where.
type Error struct {
	File string
	Line int
	Msg  string
	Fix  string
	// Strict is set when pip (some supported version of it) reads the
	// file and pipguard refuses it on purpose: one of the Strict* classes
	// here or in package requirement.
	Strict string
	// Err is the cause, when there is one (the file could not be read).
	Err error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Hint says what to do.
func (e *Error) Hint() string { return e.Fix }

// maxDepth bounds -r nesting (and catches cycles).
const maxDepth = 16

// maxSize bounds a requirements file.
const maxSize = 16 << 20

// ParseFile reads a requirements file and everything it includes.
func ParseFile(path string) ([]Entry, error) {
	return ParseFileOptions(path, Options{})
}

// ParseFileOptions is ParseFile with options.
func ParseFileOptions(path string, o Options) ([]Entry, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if !filepath.IsAbs(path) {
		// As the operating system resolves it (no lexical cleaning: a
		// symlinked directory followed by ".." is where the OS says).
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		path = pyJoin(wd, path)
	}
	return parse(path, path, 0, nil, false, o)
}

// pyAbspath is os.path.abspath: p joined to the process's working
// directory (as getcwd(3) names it, symbolic links resolved) when
// relative, then cleaned lexically (os.path.normpath).
func pyAbspath(p string) string {
	if !strings.HasPrefix(p, "/") {
		wd, err := syscall.Getwd()
		if err != nil {
			wd, _ = os.Getwd()
		}
		p = pyJoin(wd, p)
	}
	return pyNormpath(p)
}

// pyNormpath is posixpath.normpath: "." and empty components dropped,
// ".." removing the component before it, lexically; exactly two leading
// slashes are kept.
func pyNormpath(p string) string {
	if p == "" {
		return "."
	}
	lead := ""
	switch {
	case strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///"):
		lead = "//"
	case strings.HasPrefix(p, "/"):
		lead = "/"
	}
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "" || c == ".":
		case c != ".." || lead == "" && len(out) == 0 || len(out) > 0 && out[len(out)-1] == "..":
			out = append(out, c)
		case len(out) > 0:
			out = out[:len(out)-1]
		}
	}
	if r := lead + strings.Join(out, "/"); r != "" {
		return r
	}
	return "."
}

// pyJoin is os.path.join(dir, p): p when absolute, else dir + "/" + p,
// nothing cleaned.
func pyJoin(dir, p string) string {
	if strings.HasPrefix(p, "/") || dir == "" {
		return p
	}
	if strings.HasSuffix(dir, "/") {
		return dir + p
	}
	return dir + "/" + p
}

// pyDirname is os.path.dirname.
func pyDirname(p string) string {
	i := strings.LastIndexByte(p, '/') + 1
	head := p[:i]
	if t := strings.TrimRight(head, "/"); t != "" {
		head = t
	}
	return head
}

// Parse reads requirements-file text as pip does; name is the file's
// path (for -r and -c, relative to its directory).
func Parse(name string, data []byte, o Options) ([]Entry, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	return parseData(name, name, data, 0, nil, false, o)
}

var schemeRE = regexp.MustCompile(`(?i)^(http|https|file):`)

// parse reads one file; constraint says it was named by -c. path is the
// file as pip 23 and 24 name it (the including file's directory joined
// with the -r value, resolved by the operating system), lex as pip 26
// names it (the same, cleaned lexically first); they name the same file.
func parse(path, lex string, depth int, open []os.FileInfo, constraint bool, o Options) ([]Entry, error) {
	if depth > maxDepth {
		return nil, &Error{File: path, Msg: fmt.Sprintf("requirements files nested more than %d deep", maxDepth), Strict: StrictOption}
	}
	f, err := os.Open(path)
	var pe *fs.PathError
	if depth == 0 && errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) {
		// Unreadable (permissions, a symbolic link loop): a mistake in
		// the files the user named, not in pipguard.
		return nil, &Error{File: path, Msg: "cannot be read: " + pe.Err.Error(), Fix: "make it readable by the user running pipguard, or fix the path", Err: err}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &Error{File: path, Msg: "is a directory"}
	}
	for _, o := range open {
		if os.SameFile(o, fi) {
			return nil, &Error{File: path, Msg: "includes itself (directly or through -r)", Fix: "remove the -r cycle"}
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if len(data) > maxSize {
		return nil, &Error{File: path, Msg: "larger than 16 MiB"}
	}
	return parseData(path, lex, data, depth, append(open, fi), constraint, o)
}

func parseData(path, lex string, data []byte, depth int, open []os.FileInfo, constraint bool, o Options) ([]Entry, error) {
	content, err := decode(data)
	if err != nil {
		e := &Error{File: path, Msg: "cannot be decoded: " + err.Error(), Fix: "save it as UTF-8"}
		if errors.Is(err, errCodec) {
			e.Msg = strings.Replace(err.Error(), "codec", "its coding comment names the codec", 1) + ": pipguard reads UTF-8, ASCII, Latin-1 and (with a BOM) UTF-16 and UTF-32 only"
			e.Strict = StrictEncoding
		}
		return nil, e
	}
	lines, err := preprocess(content, o.Getenv)
	if err != nil {
		err.(*Error).File = path
		return nil, err
	}
	var out []Entry
	for _, l := range lines {
		es, err := lineEntries(path, lex, l, depth, open, constraint, o)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// parsedLine is a line as pip's line parser reads it.
type parsedLine struct {
	args string
	opts []optValue
}

func parseLine(text string) (parsedLine, error) {
	args, options := breakArgsOptions(text)
	tokens, err := shlexSplit(options)
	if err != nil {
		return parsedLine{}, &optError{msg: "Could not split options: " + options}
	}
	opts, err := parseOptions(tokens)
	if err != nil {
		return parsedLine{}, err
	}
	return parsedLine{args: args, opts: opts}, nil
}

func (pl parsedLine) all(name string) []string {
	var out []string
	for _, o := range pl.opts {
		if o.name == name {
			out = append(out, o.value)
		}
	}
	return out
}

func (pl parsedLine) has(name string) bool {
	for _, o := range pl.opts {
		if o.name == name {
			return true
		}
	}
	return false
}

// reqOptions are the per-requirement options of a requirement line, in
// canonical form.
func (pl parsedLine) reqOptions() []string {
	var out []string
	for _, o := range pl.opts {
		switch o.name {
		case "--hash", "--config-settings":
			out = append(out, o.name+"="+shlexQuote(o.value))
		}
	}
	return out
}

// globalOptions are the options an option line sets, each as pip's
// handle_option_line applies it, in its order.
func (pl parsedLine) globalOptions(file string) [][]string {
	var out [][]string
	for _, o := range pl.opts {
		if o.name == "--no-binary" || o.name == "--only-binary" {
			out = append(out, []string{o.name, o.value})
		}
	}
	if pl.has("--no-index") {
		out = append(out, []string{"--no-index"})
	}
	// The last --index-url of the line; an empty one sets nothing (pip:
	// "if opts.index_url and not no_index").
	if v := pl.all("--index-url"); len(v) > 0 && v[len(v)-1] != "" {
		out = append(out, []string{"--index-url", v[len(v)-1]})
	}
	for _, v := range pl.all("--extra-index-url") {
		out = append(out, []string{"--extra-index-url", v})
	}
	if v := pl.all("--find-links"); len(v) > 0 {
		// pip takes the first; a path relative to the file's directory
		// when it exists there.
		value := v[0]
		if rel := pyJoin(filepath.Dir(file), value); file != "" && exists(rel) {
			value = rel
		}
		out = append(out, []string{"--find-links", value})
	}
	for _, f := range []string{"--pre", "--prefer-binary", "--require-hashes"} {
		if pl.has(f) {
			out = append(out, []string{f})
		}
	}
	for _, v := range pl.all("--trusted-host") {
		out = append(out, []string{"--trusted-host", v})
	}
	for _, v := range pl.all("--use-feature") {
		out = append(out, []string{"--use-feature", v})
	}
	return out
}

func lineEntries(path, lex string, l logicalLine, depth int, open []os.FileInfo, constraint bool, o Options) ([]Entry, error) {
	fail := func(msg, fix, strict string) ([]Entry, error) {
		return nil, &Error{File: path, Line: l.n, Msg: msg, Fix: fix, Strict: strict}
	}
	pl, err := parseLine(l.text)
	if err != nil {
		oe := err.(*optError)
		return fail(oe.msg, oe.fix, oe.strict)
	}
	switch {
	case pl.args != "":
		reqText := requirement.PyStrip(pl.args)
		r, err := requirement.Parse(reqText)
		if err != nil {
			var pe *requirement.ParseError
			if errors.As(err, &pe) {
				return fail(err.Error(), pe.Hint(), pe.Strict)
			}
			return fail(err.Error(), "", "")
		}
		if constraint && r.Kind != requirement.KindIndex {
			return fail("a constraint must be a name with a version specifier, not a URL", "move the requirement to a requirements file", StrictConstraintURL)
		}
		e := Entry{File: path, Line: l.n, Req: r, ReqText: reqText, LineOptions: pl.reqOptions(), Constraint: constraint}
		if err := roundTrip(e, o); err != nil {
			return fail(err.Error(), "", StrictUnrenderable)
		}
		return []Entry{e}, nil
	case pl.has("--editable"):
		value := pl.all("--editable")[0]
		if o.Editable {
			e := Entry{File: path, Line: l.n, Editable: true, ReqText: value, Constraint: constraint}
			e.Req, _ = requirement.Parse(value)
			return []Entry{e}, nil
		}
		if r, err := requirement.Parse(value); err == nil && r.Kind == requirement.KindVCS {
			return fail("editable git install "+value+" cannot be verified", "drop -e: pipguard installs the verified release instead", requirement.StrictUnsupportedVCS)
		}
		return fail("editable installs are mutable local checkouts and cannot be verified", "install a tagged release, or pass the directory to pip yourself", requirement.StrictUnsupportedVCS)
	case pl.has("--requirement") || pl.has("--constraint"):
		name, value, nested := "-r", "", false
		if v := pl.all("--requirement"); len(v) > 0 {
			value = v[0]
		} else {
			name, value, nested = "-c", pl.all("--constraint")[0], true
		}
		if schemeRE.MatchString(value) || schemeRE.MatchString(path) {
			return fail(name+" "+value+": pipguard reads local requirements files only", "download the file and name it", StrictOption)
		}
		inc := pyJoin(pyDirname(path), value)
		// pip 23 and 24 open the joined path, pip 26 its os.path.abspath
		// (".." after a symbolic link is another directory to each).
		incLex := pyAbspath(pyJoin(pyDirname(lex), value))
		if !sameTarget(inc, incLex) {
			return fail(fmt.Sprintf("%s %s names two files: %s to pip 23 and 24 (the operating system resolves the symbolic link, then ..), %s to pip 26 (it removes .. first)", name, value, inc, incLex),
				"write the path without .. after a symbolic link", StrictNestedPath)
		}
		// pip reads a constraints file like a requirements file: its
		// options are global, its requirements constrain, and a -r in
		// it names requirements to install.
		es, err := parse(inc, incLex, depth+1, open, nested, o)
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Named by the line that includes it, as pip does.
			return fail(fmt.Sprintf("%s %s: no such file (%s)", name, value, inc), "fix the path: it is relative to the file that names it", "")
		case errors.As(err, &pe):
			// Unreadable (permissions, a symbolic link loop): a mistake
			// in the files, named by the line that includes it.
			return fail(fmt.Sprintf("%s %s: cannot be read: %v (%s)", name, value, pe.Err, inc), "make it readable by the user running pipguard, or fix the path", "")
		}
		return es, err
	}
	var out []Entry
	for _, opt := range pl.globalOptions(path) {
		e := Entry{File: path, Line: l.n, Option: opt}
		if err := roundTrip(e, o); err != nil {
			return fail(err.Error(), "", StrictUnrenderable)
		}
		out = append(out, e)
	}
	return out, nil
}

// PipLine is the line pipguard writes for the entry into the file it
// hands pip, which pip reads back as the same entry (ParseFile refuses
// an entry for which it would not).
func (e Entry) PipLine() string {
	if e.Option != nil {
		if len(e.Option) == 1 {
			return e.Option[0]
		}
		return e.Option[0] + " " + shlexQuote(e.Option[1])
	}
	return strings.TrimSpace(e.ReqText + " " + strings.Join(e.LineOptions, " "))
}

// roundTrip checks that pip reads the entry's PipLine as the entry.
func roundTrip(e Entry, o Options) error {
	line := e.PipLine()
	bad := fmt.Errorf("pipguard cannot write %q so that pip reads it back the same way", line)
	ls, err := preprocess(line+"\n", o.Getenv)
	if err != nil || len(ls) != 1 {
		return bad
	}
	pl, err := parseLine(ls[0].text)
	if err != nil {
		return bad
	}
	if e.Option != nil {
		g := pl.globalOptions("")
		if pl.args != "" || len(g) != 1 || !slices.Equal(g[0], e.Option) && e.Option[0] != "--find-links" {
			return bad
		}
		return nil
	}
	if requirement.PyStrip(pl.args) != e.ReqText || !slices.Equal(pl.reqOptions(), e.LineOptions) {
		return bad
	}
	return nil
}

// sameTarget says whether opening a and b reads the same file, or fails
// for both.
func sameTarget(a, b string) bool {
	if a == b {
		return true
	}
	fa, ea := os.Stat(a)
	fb, eb := os.Stat(b)
	if ea != nil || eb != nil {
		return ea != nil && eb != nil
	}
	return os.SameFile(fa, fb)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// PhysicalLines returns a file's lines as pip splits them (decoded as
// auto_decode does, split as str.splitlines), for a reader that reports
// columns (pipguard check); Continues says whether pip joins a line with
// the next.
func PhysicalLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	content, err := decode(data)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot be decoded: " + err.Error()}
	}
	return requirement.SplitLines(content), nil
}

// Continues says whether pip's join_lines joins line with the next one:
// it ends in a backslash and is not a comment.
func Continues(line string) bool { return strings.HasSuffix(line, `\`) && !isComment(line) }

// Insecure says what is wrong with a global option from the text alone,
// as both pipguard install and check decide it: a package source over
// plain http (anyone on the path can serve any distribution), or a
// --trusted-host (pip then skips TLS verification for that host). ""
// when nothing is.
func (e Entry) Insecure() string {
	if len(e.Option) != 2 {
		return ""
	}
	switch name, value := e.Option[0], e.Option[1]; {
	case name == "--trusted-host":
		return fmt.Sprintf("--trusted-host %s makes pip accept %s without TLS verification (or over plain http)", value, value)
	case requirement.IsSourceOption(name) && strings.HasPrefix(strings.ToLower(value), "http://"):
		return fmt.Sprintf("%s %s is a package source over plain http: anyone on the path can serve any distribution", name, value)
	}
	return ""
}
