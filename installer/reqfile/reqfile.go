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
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

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
	// LineOptions are the per-requirement options (--hash=..., ...).
	LineOptions []string
	// Option is set for a global option line, e.g. ["--index-url", "URL"].
	// Options in constraints files are global too and come back as such.
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
}

// Hashes returns the --hash values of a requirement line ("sha256:HEX").
func (e Entry) Hashes() []string {
	var out []string
	for i := 0; i < len(e.LineOptions); i++ {
		o := e.LineOptions[i]
		if v, ok := strings.CutPrefix(o, "--hash="); ok {
			out = append(out, v)
		} else if o == "--hash" && i+1 < len(e.LineOptions) {
			out = append(out, e.LineOptions[i+1])
			i++
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
}

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

// Global options that take a value, and those that do not, as pip
// accepts them in requirements files.
var (
	valueOptions = map[string]bool{"-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true,
		"--trusted-host": true, "--no-binary": true, "--only-binary": true, "--use-feature": true}
	flagOptions = map[string]bool{"--no-index": true, "--pre": true, "--prefer-binary": true, "--require-hashes": true}
	lineOptions = map[string]bool{"--hash": true, "--config-settings": true, "--global-option": true}
)

// ParseFile reads a requirements file and everything it includes.
func ParseFile(path string) ([]Entry, error) {
	return ParseFileOptions(path, Options{})
}

// ParseFileOptions is ParseFile with options.
func ParseFileOptions(path string, o Options) ([]Entry, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return parse(abs, 0, map[string]bool{}, false, o)
}

// secretVars are never expanded: a GitHub token must not reach pip (or an
// index named in the file) through ${VAR}.
var secretVars = map[string]bool{"GH_TOKEN": true, "GITHUB_TOKEN": true, "GH_ENTERPRISE_TOKEN": true, "GITHUB_ENTERPRISE_TOKEN": true}

var (
	commentRE = regexp.MustCompile(`(^|\s+)#.*$`)
	// wholeCommentRE is pip's COMMENT_RE matched at the start of a line.
	wholeCommentRE = regexp.MustCompile(`^\s*#`)
	// pip expands ${VAR} (uppercase letters, digits, underscore) from the
	// environment, and leaves it as written when VAR is unset.
	envVarRE = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)
)

func expandEnv(s string) (string, error) {
	var err error
	out := envVarRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if secretVars[name] {
			err = fmt.Errorf("refers to ${%s}: pipguard never hands a GitHub token to pip or to an index", name)
			return m
		}
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return m
	})
	return out, err
}

// parse reads one file; constraint says it was named by -c.
func parse(path string, depth int, open map[string]bool, constraint bool, o Options) ([]Entry, error) {
	if depth > maxDepth {
		return nil, &Error{File: path, Msg: fmt.Sprintf("requirements files nested more than %d deep", maxDepth)}
	}
	if open[path] {
		return nil, &Error{File: path, Msg: "includes itself (directly or through -r)", Fix: "remove the -r cycle"}
	}
	open[path] = true
	defer delete(open, path)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n, start := 0, 0
	var logical strings.Builder
	flush := func() error {
		line, err := expandEnv(commentRE.ReplaceAllString(logical.String(), ""))
		logical.Reset()
		if err != nil {
			return &Error{File: path, Line: start, Msg: err.Error(), Fix: "give the index its own credentials (a netrc file or keyring), not the GitHub token"}
		}
		line = strings.TrimSpace(line)
		if line == "" {
			return nil
		}
		es, err := entry(path, start, line, depth, open, constraint, o)
		out = append(out, es...)
		return err
	}
	for sc.Scan() {
		n++
		text := sc.Text()
		if logical.Len() == 0 {
			start = n
		}
		// As pip joins lines: a whole-line comment ends its line even when
		// it ends in a backslash (it never swallows the next line).
		comment := wholeCommentRE.MatchString(text)
		if strings.HasSuffix(text, `\`) && !comment {
			logical.WriteString(strings.TrimSuffix(text, `\`))
			continue
		}
		if comment {
			text = " " + text
		}
		logical.WriteString(text)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: path, Line: n, Msg: err.Error()}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func entry(path string, line int, text string, depth int, open map[string]bool, constraint bool, o Options) ([]Entry, error) {
	fields := strings.Fields(text)
	fail := func(msg, fix string) ([]Entry, error) {
		return nil, &Error{File: path, Line: line, Msg: msg, Fix: fix}
	}
	if strings.HasPrefix(fields[0], "-") {
		name, value, hasValue := strings.Cut(fields[0], "=")
		rest := fields[1:]
		if !hasValue && len(rest) > 0 {
			value, hasValue, rest = rest[0], true, rest[1:]
		}
		switch {
		case name == "-r" || name == "--requirement" || name == "-c" || name == "--constraint":
			if !hasValue || len(rest) > 0 {
				return fail(name+" takes one file", "write "+name+" FILE on its own line")
			}
			inc := value
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(path), inc)
			}
			// pip reads a constraints file like a requirements file: its
			// options are global, its requirements constrain, and a -r in
			// it names requirements to install.
			es, err := parse(inc, depth+1, open, name == "-c" || name == "--constraint", o)
			if errors.Is(err, fs.ErrNotExist) {
				// Named by the line that includes it, as pip does.
				return fail(fmt.Sprintf("%s %s: no such file (%s)", name, value, inc), "fix the path: it is relative to the file that names it")
			}
			return es, err
		case name == "-e" || name == "--editable":
			if o.Editable {
				e := Entry{File: path, Line: line, Editable: true, ReqText: value, LineOptions: rest}
				if hasValue {
					e.Req, _ = requirement.Parse(value)
				}
				return []Entry{e}, nil
			}
			if hasValue {
				if r, err := requirement.Parse(value); err == nil && r.Kind == requirement.KindVCS {
					return fail("editable git install "+value+" cannot be verified", "drop -e: pipguard installs the verified release instead")
				}
			}
			return fail("editable installs are mutable local checkouts and cannot be verified", "install a tagged release, or pass the directory to pip yourself")
		case valueOptions[name]:
			if !hasValue || len(rest) > 0 {
				return fail(name+" takes one value", "")
			}
			if (name == "-f" || name == "--find-links") && !strings.Contains(value, "://") && !filepath.IsAbs(value) {
				// As pip does: a relative directory is relative to the file
				// that names it, when it exists there.
				if rel := filepath.Join(filepath.Dir(path), value); exists(rel) {
					value = rel
				}
			}
			return []Entry{{File: path, Line: line, Option: []string{name, value}}}, nil
		case flagOptions[name]:
			if hasValue && !strings.Contains(fields[0], "=") {
				return fail(name+" takes no value", "")
			}
			return []Entry{{File: path, Line: line, Option: []string{name}}}, nil
		}
		return fail(fmt.Sprintf("unknown or unsupported option %q", name), "pass pip options after -- on the command line")
	}
	// A requirement, then per-line options.
	reqText, opts := text, []string(nil)
	if i := strings.Index(text, " --"); i >= 0 {
		reqText, opts = strings.TrimSpace(text[:i]), strings.Fields(text[i:])
		for _, o := range opts {
			name, _, _ := strings.Cut(o, "=")
			if strings.HasPrefix(o, "-") && !lineOptions[name] {
				return fail(fmt.Sprintf("unsupported per-requirement option %q", o), "")
			}
		}
	}
	r, err := requirement.Parse(reqText)
	if err != nil {
		fix := ""
		var pe *requirement.ParseError
		if errors.As(err, &pe) {
			fix = pe.Hint()
		}
		return fail(err.Error(), fix)
	}
	if constraint && r.Kind != requirement.KindIndex {
		return fail("a constraint must be a name with a version specifier, not a URL", "move the requirement to a requirements file")
	}
	return []Entry{{File: path, Line: line, Req: r, ReqText: reqText, LineOptions: opts, Constraint: constraint}}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
