package pep610

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxMetadata bounds a METADATA (or PKG-INFO) file: its headers are what is
// read, and a description longer than this is no distribution pip wrote.
const maxMetadata = 16 << 20

// Header is one header of a metadata file, as Python's email parser
// (compat32 policy) keeps it: the name as written, the value with its
// leading spaces and trailing line break removed, continuation lines kept.
type Header struct {
	Name, Value string
}

// ParseHeaders reads the headers of a core metadata file exactly as
// importlib.metadata does (Distribution.metadata:
// email.message_from_string on the file read as UTF-8 text with universal
// newlines, then email.feedparser and the compat32 policy):
//
//   - lines end at "\r\n", "\r" or "\n" (text mode turns each into "\n");
//   - a header line matches feedparser's headerRE,
//     `^(From |[\041-\071\073-\176]*:|[\t ])`: a name of printable
//     characters but ":" and space, then ":" ("Name:foo" is a header, and
//     so is "name: foo": lookups ignore case);
//   - a line starting with a space or tab continues the header before it
//     (compat32 keeps the line break and the indentation in the value);
//   - "From " on the first line is the Unix envelope, not a header;
//   - the headers end at the first line that is neither (an empty line, or
//     body text).
//
// compat32's header_source_parse: `name, value = lines[0].split(':', 1);
// value = value.lstrip(' \t') + ”.join(lines[1:]); value.rstrip('\r\n')`.
func ParseHeaders(text string) []Header {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	var lines []string
	for text != "" {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i+1])
		text = text[i+1:]
	}
	var headerLines []string
	for _, l := range lines {
		if !isHeaderLine(l) {
			break
		}
		headerLines = append(headerLines, l)
	}
	var out []Header
	var last []string
	flush := func() {
		if last == nil {
			return
		}
		name, value, _ := strings.Cut(last[0], ":")
		value = strings.TrimLeft(value, " \t") + strings.Join(last[1:], "")
		out = append(out, Header{Name: name, Value: strings.TrimRight(value, "\r\n")})
		last = nil
	}
	for i, l := range headerLines {
		if l[0] == ' ' || l[0] == '\t' {
			if last != nil {
				last = append(last, l)
			}
			continue // a first line that is a continuation is a defect, dropped
		}
		flush()
		if strings.HasPrefix(l, "From ") {
			if i == len(headerLines)-1 && i != 0 {
				break // pushed back as the body's first line
			}
			continue // the envelope (or a misplaced one, a defect): not a header
		}
		if strings.IndexByte(l, ':') == 0 {
			continue // "Missing header name." defect
		}
		last = []string{l}
	}
	flush()
	return out
}

// isHeaderLine is feedparser's headerRE.
func isHeaderLine(l string) bool {
	if strings.HasPrefix(l, "From ") || l != "" && (l[0] == ' ' || l[0] == '\t') {
		return true
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == ':' {
			return true
		}
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return false
}

// HeaderValue is importlib.metadata's PackageMetadata lookup: the first
// header named name, compared without case (email.message.Message.get),
// its value "repaired" as importlib.metadata._adapters.Message does for a
// folded one: `textwrap.dedent(' ' * 8 + value)` when it holds a line break.
func HeaderValue(hs []Header, name string) (string, bool) {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			if strings.Contains(h.Value, "\n") {
				return dedent("        " + h.Value), true
			}
			return h.Value, true
		}
	}
	return "", false
}

// dedent is Python's textwrap.dedent: lines of only spaces and tabs become
// empty, and the longest run of leading spaces and tabs common to the
// other lines is removed from each.
func dedent(text string) string {
	lines := strings.Split(text, "\n")
	margin, first := "", true
	for i, l := range lines {
		if strings.Trim(l, " \t") == "" {
			lines[i] = ""
			continue
		}
		ws := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		switch {
		case first:
			margin, first = ws, false
		case strings.HasPrefix(ws, margin):
		case strings.HasPrefix(margin, ws):
			margin = ws
		default:
			j := 0
			for j < len(ws) && j < len(margin) && ws[j] == margin[j] {
				j++
			}
			margin = margin[:j]
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, margin)
	}
	return strings.Join(lines, "\n")
}

// validName is PEP 508's project name, which pip requires of an installed
// distribution's name (BaseEnvironment.iter_all_distributions: "Ignoring
// invalid distribution"): ^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$, any case.
func validName(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && !((c == '.' || c == '_' || c == '-') && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return true
}

// MetadataError says why a distribution's metadata cannot name it: no
// metadata file, one that is not UTF-8, or one without a Name or Version.
// importlib.metadata then reports no name (pip skips the distribution:
// "invalid metadata entry 'name'"), yet its files are installed.
type MetadataError struct {
	Dir, Why string
}

func (e *MetadataError) Error() string { return e.Why }

// readMetadataText is importlib.metadata's Distribution.metadata text:
// METADATA, else PKG-INFO, else (an old .egg-info file) the path itself;
// each read as UTF-8, an empty file counting as none (Python's `or`).
// It returns the file read ("" when none).
func readMetadataText(dir string) (file, text string, err error) {
	for _, name := range []string{"METADATA", "PKG-INFO", ""} {
		p := dir
		if name != "" {
			p = filepath.Join(dir, name)
		}
		data, err := readBoundedFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist), isDirErr(err), errors.Is(err, fs.ErrPermission):
			continue // read_text suppresses these and returns None
		case err != nil:
			return p, "", err
		case len(data) == 0:
			continue
		}
		if !utf8.Valid(data) {
			return p, "", fmt.Errorf("%s is not UTF-8 text", p)
		}
		return p, string(data), nil
	}
	return "", "", nil
}

// isDirErr is read_text's IsADirectoryError and NotADirectoryError.
func isDirErr(err error) bool {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return false
	}
	s := pe.Err.Error()
	return s == "is a directory" || s == "not a directory"
}

// readBoundedFile reads a file, at most maxMetadata bytes; a directory is
// an "is a directory" error, as Python's open raises.
func readBoundedFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: p, Err: errors.New("is a directory")}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetadata {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxMetadata)
	}
	return data, nil
}

// projectOfDir is the project name a metadata directory's name gives, as
// pip's importlib backend takes it (Distribution._get_dist_name_from_location:
// `stem, suffix = os.path.splitext(name)`, then `stem.split("-", 1)[0]`),
// here whatever the suffix's case: "Foo_Bar-1.0.dist-info" is "Foo_Bar".
func projectOfDir(path string) string {
	base := filepath.Base(path)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	name, _, _ := strings.Cut(base, "-")
	return name
}

// metadataOf reads name and version from a metadata directory (or an old
// .egg-info file) as importlib.metadata does.
func metadataOf(dir string) (name, version, file string, err error) {
	file, text, err := readMetadataText(dir)
	if err != nil {
		return "", "", file, &MetadataError{Dir: dir, Why: err.Error()}
	}
	if file == "" {
		return "", "", "", &MetadataError{Dir: dir, Why: "no METADATA (or PKG-INFO) in " + filepath.Base(dir)}
	}
	hs := ParseHeaders(text)
	name, okN := HeaderValue(hs, "Name")
	version, okV := HeaderValue(hs, "Version")
	switch {
	case !okN && !okV:
		err = &MetadataError{Dir: dir, Why: filepath.Base(file) + " has no Name and no Version header"}
	case !okN:
		err = &MetadataError{Dir: dir, Why: filepath.Base(file) + " has no Name header"}
	case !okV:
		err = &MetadataError{Dir: dir, Why: filepath.Base(file) + " has no Version header"}
	case !validName(name):
		err = &MetadataError{Dir: dir, Why: fmt.Sprintf("%s's Name %q is not a project name (PEP 508): pip ignores the distribution", filepath.Base(file), name)}
	}
	return name, version, file, err
}
