// Package requirement parses what users paste into pip install: PEP 508
// requirements ("name[extras] @ url ; marker") and pip's VCS URLs
// ("git+https://host/o/r.git@ref#egg=name&subdirectory=dir").
//
// It trusts nothing: every input is untrusted text. It never touches the
// network or the file system. Secrets a user may have pasted into a URL
// (https://TOKEN@host/...) are kept for the transport but never appear in
// String, Redacted, or any error message.
package requirement

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pipguard/pipguard/internal/pep440"
)

// Kind says what sort of requirement was parsed.
type Kind string

const (
	// KindVCS is a git requirement: the kind pipguard guards.
	KindVCS Kind = "vcs"
	// KindURL is a direct reference to an archive or a local path
	// (name @ https://host/x.whl).
	KindURL Kind = "url"
	// KindIndex is a requirement resolved through a package index
	// (name>=1.0).
	KindIndex Kind = "index"
	// KindPath is a local file pip installs without an index: an archive
	// named by its path (pkg-1.0-py3-none-any.whl, ./dist/foo.tar.gz) or
	// a file: URL. pipguard never verifies one.
	KindPath Kind = "path"
)

// Requirement is one parsed requirement.
type Requirement struct {
	// Name is the project name as written; empty for a bare VCS URL without
	// #egg=.
	Name string
	// Extras are the extras as written, in order.
	Extras []string
	// Marker is the PEP 508 environment marker, unevaluated.
	Marker string
	// Kind is what the requirement refers to.
	Kind Kind
	// VCS is set when Kind is KindVCS.
	VCS *VCSURL
	// URL is the direct reference when Kind is KindURL, redacted.
	URL string
	// Specifier is the version specifier (without parentheses) when Kind
	// is KindIndex, or NAME==VERSION of a wheel named by its file.
	Specifier string
	// Path is the local file when Kind is KindPath: as written for a
	// path (relative to pip's working directory), decoded for a file:
	// URL.
	Path string

	rawURL string // the URL as written, credentials included
}

// DirectURL returns the URL of a KindURL or file: URL requirement as
// written, credentials included. Never print it.
func (r *Requirement) DirectURL() string { return r.rawURL }

// NormalizedName is Name normalised per PEP 503.
func (r *Requirement) NormalizedName() string { return Normalize(r.Name) }

// String renders the requirement back in PEP 508 form with secrets masked.
func (r *Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	switch r.Kind {
	case KindVCS:
		if r.Name != "" {
			b.WriteString(" @ ")
		}
		b.WriteString(r.VCS.Redacted())
	case KindURL:
		b.WriteString(" @ " + r.URL)
	case KindPath:
		if r.URL != "" {
			b.WriteString(" @ " + r.URL)
		} else {
			return r.Path
		}
	case KindIndex:
		b.WriteString(r.Specifier)
	}
	if r.Marker != "" {
		b.WriteString(" ; " + r.Marker)
	}
	return b.String()
}

var normalizeRE = regexp.MustCompile(`[-_.]+`)

// Normalize returns name normalised per PEP 503: lowercase, with every run
// of "-", "_" and "." replaced by a single "-".
func Normalize(name string) string {
	return normalizeRE.ReplaceAllString(strings.ToLower(name), "-")
}

// PEP 508: identifier = letterOrDigit identifier_end*, where identifier_end
// ends in a letter or digit and may contain "-", "_" and ".".
var nameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)

// ValidName reports whether s is a valid PEP 508 project name.
func ValidName(s string) bool {
	return nameRE.FindString(s) == s && s != ""
}

// ParseError says what is wrong with a requirement and where.
type ParseError struct {
	// Input is the requirement with any secret masked.
	Input string
	// Column is the 1-based position of the problem in Input (0 if none).
	Column int
	// Msg says what is wrong.
	Msg string
	// Fix says what to do about it.
	Fix string
	// Strict is set when pip (some supported version of it) accepts the
	// input and pipguard refuses it on purpose: one of the Strict*
	// classes.
	Strict string
}

func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("requirement %q: %s (column %d)", e.Input, e.Msg, e.Column)
	}
	return fmt.Sprintf("requirement %q: %s", e.Input, e.Msg)
}

// Hint says what to do about the error.
func (e *ParseError) Hint() string { return e.Fix }

// Parse parses one requirement as pip's install_req_from_line reads it: a
// PEP 508 requirement, a URL (a pip VCS URL, an archive or a file: URL)
// or a local archive file such as pkg-1.0-py3-none-any.whl. It never
// touches the file system: a local directory is refused
// (StrictLocalDirectory), and a name that is also a directory is read as
// a requirement.
func Parse(input string) (*Requirement, error) {
	p := &parser{raw: input, shown: maskSecrets(input)}
	r, err := p.parse()
	if err != nil {
		explainSCP(p.shown, err)
	}
	return r, err
}

// scpNamed is an scp-style git address after a requirement's "@"
// (user@host:path, what git clone takes), optionally with git+ and an
// @ref; scpBare is one alone (which reads as the name "git", "@", and a
// URL).
var (
	scpNamed = regexp.MustCompile(`@\s*(?:git\+)?([A-Za-z0-9._-]+@[A-Za-z0-9.-]+):/*([^@\s:]+?)(?:@([^\s@#]+))?\s*$`)
	scpBare  = regexp.MustCompile(`^\s*(?:git\+)?([A-Za-z0-9._-]+@[A-Za-z0-9.-]+):/*([^@\s:]+?)(?:@([^\s@#]+))?\s*$`)
)

// explainSCP says, for a refused requirement written with an scp-style git
// address, that pip does not accept it and gives the git+ssh:// form to
// write instead (the refusal, its column and its strict class stay).
func explainSCP(input string, err error) {
	var pe *ParseError
	if !errors.As(err, &pe) {
		return
	}
	m := scpBare.FindStringSubmatch(input)
	if m == nil {
		m = scpNamed.FindStringSubmatch(input)
	}
	if m == nil {
		return
	}
	form := "git+ssh://" + m[1] + "/" + m[2]
	if m[3] != "" {
		form += "@" + m[3]
	}
	pe.Msg = fmt.Sprintf("%s:%s is an scp-style git address, which pip does not accept", m[1], m[2])
	pe.Fix = "write it as " + form
}

type parser struct {
	raw   string // as given
	shown string // with secrets masked, for errors
}

func (p *parser) fail(col int, fix, format string, args ...any) error {
	return &ParseError{Input: p.shown, Column: col, Msg: fmt.Sprintf(format, args...), Fix: fix}
}

func (p *parser) strictFail(class string, col int, fix, format string, args ...any) error {
	return &ParseError{Input: p.shown, Column: col, Msg: fmt.Sprintf(format, args...), Fix: fix, Strict: class}
}

// pipURLSchemes are the schemes pip's is_url takes for a URL.
var pipURLSchemes = map[string]bool{"http": true, "https": true, "file": true, "ftp": true,
	"bzr+http": true, "bzr+https": true, "bzr+ssh": true, "bzr+sftp": true, "bzr+ftp": true, "bzr+lp": true, "bzr+file": true,
	"git+http": true, "git+https": true, "git+ssh": true, "git+git": true, "git+file": true,
	"hg+file": true, "hg+http": true, "hg+https": true, "hg+ssh": true, "hg+static-http": true,
	"svn+ssh": true, "svn+http": true, "svn+https": true, "svn+svn": true, "svn+file": true}

// pipIsURL is pip's is_url: the text before the first ":" is a scheme it
// knows.
func pipIsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	return ok && pipURLSchemes[strings.ToLower(scheme)]
}

// badChar finds a character pipguard does not read inside a requirement:
// a control character, or whitespace other than blanks and tabs.
func badChar(s string) (int, bool) {
	for i, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && (IsPySpace(r) || r < 0xa0) || r == utf8.RuneError {
			return i, true
		}
	}
	return 0, false
}

func (p *parser) parse() (*Requirement, error) {
	s := p.raw
	if i, bad := badChar(s); bad {
		if strings.ContainsAny(s, "\n\r") {
			return nil, p.strictFail(StrictCharacters, 0, "pass one requirement per argument", "contains a line break")
		}
		if n := strings.IndexByte(s, 0); n >= 0 {
			// Not a second requirement: a binary file, or UTF-16 text
			// without the BOM that says so.
			return nil, p.strictFail(StrictCharacters, n+1, "remove the NUL byte; a UTF-16 file needs a byte order mark, or save it as UTF-8", "contains a NUL byte")
		}
		return nil, p.strictFail(StrictCharacters, i+1, "remove the control or Unicode whitespace character", "contains the character %q", []rune(s[i:])[0])
	}
	if strings.Contains(s, "\t") && pipIsURL(strings.ReplaceAll(s, "\t", "")) != pipIsURL(s) {
		// pip 24's URL parsing drops tabs: g\tit+https://... is a URL.
		return nil, p.strictFail(StrictCharacters, strings.IndexByte(s, '\t')+1, "remove the tab", "a tab inside the URL scheme")
	}
	if strings.Contains(s, ";") && pipIsURL(strings.TrimLeft(s, " \t")) != pipIsURL(s) {
		// pip 24 and later find the scheme with urllib's urlsplit, which
		// skips leading blanks: " git+https://...@v1;marker" is a URL to
		// them (its marker follows "; "), not to pip 23 (the first ";").
		return nil, p.strictFail(StrictCharacters, 1, "remove the blanks before the URL", "blanks before a URL with a \";\" in it")
	}
	// As pip: the marker of a URL follows "; ", that of anything else
	// the first ";".
	sep := ";"
	if pipIsURL(s) {
		sep = "; "
	}
	body, marker, hasMarker := strings.Cut(s, sep)
	markerOff := 0
	if hasMarker {
		markerOff = len(body) + len(sep)
		stripped := PyStrip(marker)
		markerOff += strings.Index(marker, stripped)
		marker = stripped
	}
	start := strings.Index(body, PyStrip(body))
	body = PyStrip(body)
	if body == "" {
		return nil, p.fail(0, `write a requirement such as "pkg @ git+https://github.com/o/r.git@v1.2.3"`, "is empty")
	}
	if strings.HasPrefix(body, "-e ") || strings.HasPrefix(body, "--editable") || body == "-e" {
		return nil, p.strictFail(StrictUnsupportedVCS, start+1, "install a tagged release instead; an editable install is a mutable local checkout", "editable installs cannot be verified")
	}
	if strings.HasPrefix(body, "-") {
		return nil, p.strictFail(StrictCharacters, start+1, "put pip options after --", "is a pip option, not a requirement")
	}
	if i, bad := badChar(body + marker); bad || strings.ContainsFunc(body+marker, func(r rune) bool { return r >= 0x80 && IsPySpace(r) }) {
		return nil, p.strictFail(StrictCharacters, start+i+1, "use plain blanks", "contains Unicode whitespace")
	}
	if marker != "" {
		if err := p.validateMarker(markerOff, marker); err != nil {
			return nil, err
		}
	}
	var req *Requirement
	var err error
	switch {
	case pipIsURL(body):
		req = &Requirement{}
		err = p.url(start, body, req, true)
	default:
		req, err = p.local(start, body)
		if err == nil && req == nil {
			req, err = p.pep508(start, body)
		}
	}
	if err != nil {
		return nil, err
	}
	req.Marker = marker
	return req, nil
}

// pathLike is pip's _looks_like_path.
func pathLike(s string) bool { return strings.Contains(s, "/") || strings.HasPrefix(s, ".") }

var archiveExts = []string{".zip", ".whl", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma"}

// pipSplitext is the extension pip's splitext gives (".tar.gz" whole).
func pipSplitext(p string) string {
	base := p[strings.LastIndexByte(p, '/')+1:]
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 || strings.Trim(base[:dot], ".") == "" {
		return ""
	}
	ext := base[dot:]
	if b := base[:dot]; strings.HasSuffix(strings.ToLower(b), ".tar") {
		ext = b[len(b)-4:] + ext
	}
	return ext
}

func isArchive(p string) bool {
	ext := strings.ToLower(pipSplitext(p))
	for _, a := range archiveExts {
		if ext == a {
			return true
		}
	}
	return false
}

var trailingExtrasRE = regexp.MustCompile(`^(.+)(\[[^\]]+\])$`)

// local reads what pip takes for a local file or directory; nil, nil for
// anything else.
func (p *parser) local(off int, body string) (*Requirement, error) {
	clean := path.Clean("/" + body)
	if strings.HasPrefix(body, "/") {
		clean = path.Clean(body)
	}
	file, extras := clean, ""
	if m := trailingExtrasRE.FindStringSubmatch(clean); m != nil {
		file, extras = m[1], m[2]
	}
	if !isArchive(file) {
		if pathLike(body) && !(strings.Contains(body, "@") && !pathLike(body[:strings.IndexByte(body, '@')])) {
			return nil, p.strictFail(StrictLocalDirectory, off+1, "install a verified release; pass a local directory to pip yourself", "is a local path: pipguard cannot verify a local directory")
		}
		return nil, nil
	}
	if at := strings.IndexByte(body, '@'); at >= 0 && !pathLike(body[:at]) {
		return nil, nil // name @ URL
	}
	req := &Requirement{Kind: KindPath, Path: strings.TrimSuffix(body, extras)}
	if !strings.HasSuffix(body, extras) || path.Clean(req.Path) != strings.TrimSuffix(req.Path, "/") && path.Clean(req.Path) != req.Path {
		return nil, p.strictFail(StrictURLForm, off+1, "write the file's path plainly", "local path %q is not in its plain form", body)
	}
	if extras != "" {
		ex, _, err := p.parseExtras(off, strings.ToLower(extras), 0)
		if err != nil {
			return nil, err
		}
		req.Extras = ex
	}
	if strings.EqualFold(pipSplitext(file), ".whl") {
		if err := p.wheelName(off, file[strings.LastIndexByte(file, '/')+1:], req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// wheelFileRE is pip's wheel file name pattern.
var wheelFileRE = regexp.MustCompile(`^(?:([^\s-]+?)-([^\s-]*?))(?:(?:-\d[^-]*?)?-[^\s-]+?-[^\s-]+?-[^\s-]+?\.whl|\.dist-info)$`)

// wheelName names req after a wheel's file name, as pip does: NAME==VERSION.
func (p *parser) wheelName(off int, file string, req *Requirement) error {
	m := wheelFileRE.FindStringSubmatch(file)
	if m == nil {
		if pip26ReadsWheelName(file) {
			return p.strictFail(StrictWheelName, off+1, "name the wheel NAME-VERSION-PY-ABI-PLATFORM.whl", "%q is not a wheel file name to pip 23 and 24, pip 26 reads it", file)
		}
		return p.fail(off+1, "name the wheel NAME-VERSION-PY-ABI-PLATFORM.whl", "%q is not a valid wheel file name", file)
	}
	name, version := strings.ReplaceAll(m[1], "_", "-"), strings.ReplaceAll(m[2], "_", "-")
	spec := "==" + version
	if !ValidName(name) {
		// pip reads NAME==VERSION as a requirement, which pip 23's
		// packaging may take as another name with a legacy specifier.
		return p.strictFail(StrictLegacySpecifier, off+1, "name the wheel NAME-VERSION-PY-ABI-PLATFORM.whl", "wheel file name %q has an invalid project name", file)
	}
	if _, err := p.parseSpecifiers(off, spec, 0); err != nil || matchSpec(spec) != len(spec) {
		return p.strictFail(StrictLegacySpecifier, off+1, "name the wheel with a PEP 440 version", "wheel file name %q has a version that is not PEP 440", file)
	}
	// pip 23 and 24 take NAME and VERSION as written ("_" read as "-");
	// pip 26 takes packaging's parse_wheel_filename: the canonical name,
	// the normalised version, and refuses "__" in the name. pipguard reads
	// only a file name that all of them read the same way.
	if v, err := pep440.Parse(m[2]); name != Normalize(m[1]) || strings.Contains(m[1], "__") || err != nil || v.String() != m[2] {
		pip26 := "refuses it"
		if err == nil && !strings.Contains(m[1], "__") {
			pip26 = "reads " + Normalize(m[1]) + "==" + v.String()
		}
		return p.strictFail(StrictWheelName, off+1, "rename the wheel as wheels are named today (lower case, \"_\" between words, a normalised version, e.g. my_pkg-1.0-py3-none-any.whl)",
			"wheel file name %q: pip 23 and 24 read %s==%s, pip 26 %s", file, name, version, pip26)
	}
	req.Name, req.Specifier = name, spec
	return nil
}

// pip26ReadsWheelName says whether packaging's parse_wheel_filename (pip
// 26's Wheel) accepts file: NAME-VERSION[-BUILD]-PY-ABI-PLATFORM.whl, the
// name of word characters, "." and "_" without "__", a PEP 440 version
// (blanks around it allowed), a build tag that starts with a digit, and
// tags of anything. Non-ASCII counts as accepted (Python's \w and \s
// read Unicode).
func pip26ReadsWheelName(file string) bool {
	stem, ok := strings.CutSuffix(file, ".whl")
	if !ok {
		return false
	}
	if !isASCII(stem) {
		return true
	}
	dashes := strings.Count(stem, "-")
	if dashes != 4 && dashes != 5 {
		return false
	}
	parts := strings.SplitN(stem, "-", dashes-1)
	if strings.Contains(parts[0], "__") || !pyWordRE.MatchString(parts[0]) {
		return false
	}
	if _, err := pep440.Parse(strings.TrimLeft(parts[1], " \t\n\r\v\f")); err != nil {
		return false
	}
	return dashes == 4 || parts[2] != "" && parts[2][0] >= '0' && parts[2][0] <= '9'
}

// pyWordRE is `^[\w\d._]*$` for ASCII.
var pyWordRE = regexp.MustCompile(`^[A-Za-z0-9_.]*$`)

func (p *parser) pep508(off int, body string) (*Requirement, error) {
	name := nameRE.FindString(body)
	if name == "" {
		return nil, p.fail(off+1, "a requirement starts with a project name, e.g. pkg @ git+https://...", "expected a project name")
	}
	req := &Requirement{Name: name}
	i := len(name)
	if i < len(body) && (isWordByte(body[i]) || body[i] == '-' || body[i] == '.') {
		if strings.Contains(body[i:], "@") {
			// "name_@_text": pip 24 reads a URL requirement with a
			// host-less URL where pip 23 refuses the name: url-form.
			return nil, p.strictFail(StrictURLForm, off+i+1, "a project name ends in a letter or digit; a URL requirement is NAME @ SCHEME://...", "invalid project name %q", tail(body))
		}
		return nil, p.fail(off+i+1, "a project name ends in a letter or digit", "invalid project name %q", tail(body))
	}
	i = skipWS(body, i)
	if i < len(body) && body[i] == '[' {
		ex, j, err := p.parseExtras(off, body, i)
		if err != nil {
			return nil, err
		}
		req.Extras = ex
		i = skipWS(body, j)
	}
	if i < len(body) && body[i] == '@' {
		i = skipWS(body, i+1)
		if i == len(body) {
			return nil, p.fail(off+i+1, "write the URL after @", "missing URL after @")
		}
		u := body[i:]
		if j := strings.IndexAny(u, " \t"); j >= 0 {
			if k := skipWS(u, j); k < len(u) {
				return nil, p.fail(off+i+k+1, `separate an environment marker with " ; "`, "unexpected text after the URL")
			}
			u = u[:j]
		}
		if trailingExtrasRE.MatchString(u) {
			return nil, p.strictFail(StrictURLForm, off+i+1, "remove the [...] at the end of the URL", "pip reads the [...] at the end of the URL as extras")
		}
		if err := p.url(off+i, u, req, false); err != nil {
			return nil, err
		}
		if req.Kind == KindVCS && req.VCS.Egg != "" && Normalize(req.VCS.Egg) != Normalize(req.Name) {
			return nil, p.strictFail(StrictURLForm, off+1, "make #egg= name the project, or drop it", "name %q does not match #egg=%s", req.Name, req.VCS.Egg)
		}
		return req, nil
	}
	// An index requirement: version specifiers, optionally in
	// parentheses.
	req.Kind = KindIndex
	if i == len(body) {
		return req, nil
	}
	paren := body[i] == '('
	j := i
	if paren {
		j = skipWS(body, i+1)
	}
	if j < len(body) && strings.IndexByte("=!<>~", body[j]) < 0 || j == len(body) {
		if paren && j < len(body) && body[j] == ')' {
			return nil, p.strictFail(StrictLegacySpecifier, off+j+1, "remove the empty ()", "empty version specifier")
		}
		return nil, p.fail(off+i+1, "write name @ URL, or name followed by a version specifier such as >=1.2", "unexpected %q after the project name", body[i:])
	}
	end, err := p.parseSpecifiers(off, body, j)
	if err == nil && strings.Contains(body[j:end], "===") && end < len(body) {
		// pip 23 reads any text up to a blank into an arbitrary version.
		return nil, p.strictFail(StrictLegacySpecifier, off+end+1, "write === VERSION alone", "text after an arbitrary version")
	}
	if err != nil {
		return nil, err
	}
	if paren && strings.Contains(body[j:end], "===") {
		// pip 23 reads ")" into an arbitrary version, pip 24 does not.
		return nil, p.strictFail(StrictLegacySpecifier, off+j+1, "drop the parentheses", "=== inside parentheses")
	}
	req.Specifier = body[j:end]
	end = skipWS(body, end)
	if paren {
		if end < len(body) && body[end] == ',' {
			return nil, p.strictFail(StrictLegacySpecifier, off+end+1, "remove the trailing comma", "trailing comma in the version specifier")
		}
		if end >= len(body) || body[end] != ')' {
			return nil, p.fail(off+end+1, `close the version specifier with ")"`, "unbalanced parenthesis")
		}
		end = skipWS(body, end+1)
	}
	if end < len(body) {
		if body[end] == ',' {
			return nil, p.strictFail(StrictLegacySpecifier, off+end+1, "remove the trailing comma", "trailing comma in the version specifier")
		}
		return nil, p.fail(off+end+1, "write name @ URL, or name followed by a version specifier such as >=1.2", "unexpected %q after the version specifier", body[end:])
	}
	return req, nil
}

// url parses the URL of a direct reference into req; bare says it is
// the whole requirement (pip then names it after a wheel's file name or
// #egg=).
func (p *parser) url(off int, raw string, req *Requirement, bare bool) error {
	if i, bad := badChar(raw); bad || strings.ContainsAny(raw, " \t") || !isASCII(raw) {
		return p.strictFail(StrictCharacters, off+i+1, "percent-encode the character", "the URL contains whitespace, a control or a non-ASCII character")
	}
	scheme, rest, _ := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	switch {
	case strings.HasPrefix(scheme, "git+"):
		v, err := p.vcsURL(off, raw)
		if err != nil {
			return err
		}
		req.Kind, req.VCS = KindVCS, v
		if bare {
			req.Name = v.Egg
		}
		return nil
	case strings.HasPrefix(scheme, "hg+"), strings.HasPrefix(scheme, "svn+"), strings.HasPrefix(scheme, "bzr+"), scheme == "svn":
		return p.strictFail(StrictUnsupportedVCS, off+1, "pipguard verifies git repositories only", "%s is not supported", strings.SplitN(scheme, "+", 2)[0])
	case scheme == "git":
		return p.strictFail(StrictUnsupportedVCS, off+1, "use git+https:// instead", "the git:// protocol is neither encrypted nor authenticated")
	case scheme == "http" || scheme == "https" || scheme == "ftp" || scheme == "file":
	default:
		return p.strictFail(StrictURLForm, off+1, "write an absolute URL such as git+https://host/o/r.git@v1.2.3", "not a URL pip can download")
	}
	if !strings.HasPrefix(rest, "//") {
		return p.strictFail(StrictURLForm, off+1, "write an absolute URL such as https://host/pkg-1.0-py3-none-any.whl", "not an absolute URL")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return p.strictFail(StrictURLForm, off+1, "check the URL for stray characters", "malformed URL")
	}
	// As pip's Link: the path up to "?" or "#", percent-decoded, names
	// the file.
	pathPart := rest[2:]
	if i := strings.IndexAny(pathPart, "?#"); i >= 0 {
		pathPart = pathPart[:i]
	}
	host, filePath := pathPart, ""
	if i := strings.IndexByte(pathPart, '/'); i >= 0 {
		host, filePath = pathPart[:i], pathPart[i:]
	}
	if strings.ContainsAny(host, "[]") {
		return p.fail(off+1, "write the host plainly", "invalid host %q", maskSecrets(host))
	}
	if scheme == "file" {
		if strings.Contains(filePath, "//") || path.Clean(filePath) != filePath && path.Clean(filePath)+"/" != filePath {
			return p.strictFail(StrictURLForm, off+1, "write file URLs as file:///absolute/path", "file URL whose path is not in its plain form")
		}
		if host != "" && !strings.EqualFold(host, "localhost") {
			return p.strictFail(StrictURLForm, off+1, "write file URLs as file:///absolute/path", "file URL with host %q", host)
		}
		if strings.Contains(raw, "../") || strings.ContainsAny(raw, "?#") || filePath == "" {
			return p.strictFail(StrictURLForm, off+1, "write file URLs as file:///absolute/path", "file URL pip rewrites")
		}
		dec, err := url.PathUnescape(filePath)
		if err != nil {
			return p.strictFail(StrictURLForm, off+1, "check the percent-encoding", "malformed percent-encoding")
		}
		req.Kind, req.Path = KindPath, dec
	} else {
		if u.Hostname() == "" {
			return p.strictFail(StrictURLForm, off+1, "write the host, e.g. https://host/pkg.whl", "URL has no host")
		}
		req.Kind = KindURL
	}
	if egg, _, ok := firstFragment(raw, "egg"); ok && !ValidName(egg) && req.Kind == KindURL {
		// pip 25 and later refuse such a link (InvalidEggFragment), pip
		// 23 and 24 only warn.
		return p.strictFail(StrictURLForm, off+1, "#egg= takes a project name only, e.g. #egg=pkg; or drop it", "invalid #egg=%s (pip 26 refuses it, pip 23 and 24 read it)", egg)
	}
	req.URL = maskSecrets(raw)
	req.rawURL = raw
	if !bare {
		return nil
	}
	// A bare URL is named after its wheel file, else its #egg=: the
	// path decoded, "/" trimmed, its last part decoded again (as pip's
	// Link.filename).
	name, err := url.PathUnescape(filePath)
	if err == nil {
		name = strings.TrimRight(name, "/")
		name, err = url.PathUnescape(name[strings.LastIndexByte(name, '/')+1:])
	}
	if err != nil {
		return p.strictFail(StrictURLForm, off+1, "check the percent-encoding", "malformed percent-encoding")
	}
	if strings.EqualFold(pipSplitext(name), ".whl") {
		return p.wheelName(off, name, req)
	}
	egg, at, ok := firstFragment(raw, "egg")
	if ok {
		if at < strings.IndexByte(raw, '#') || !ValidName(egg) {
			return p.strictFail(StrictURLForm, off+1, "#egg= takes a project name only, e.g. #egg=pkg", "invalid #egg=%s", egg)
		}
		req.Name = egg
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
