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
	"fmt"
	"net/url"
	"regexp"
	"strings"
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
	// Specifier is the version specifier when Kind is KindIndex.
	Specifier string
}

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
}

func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("requirement %q: %s (column %d)", e.Input, e.Msg, e.Column)
	}
	return fmt.Sprintf("requirement %q: %s", e.Input, e.Msg)
}

// Hint says what to do about the error.
func (e *ParseError) Hint() string { return e.Fix }

// Parse parses one requirement: a PEP 508 requirement or a bare pip VCS URL.
func Parse(input string) (*Requirement, error) {
	p := &parser{raw: input, shown: maskSecrets(input)}
	return p.parse()
}

type parser struct {
	raw   string // as given
	shown string // with secrets masked, for errors
}

func (p *parser) fail(col int, fix, format string, args ...any) error {
	return &ParseError{Input: p.shown, Column: col, Msg: fmt.Sprintf(format, args...), Fix: fix}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func (p *parser) parse() (*Requirement, error) {
	s := p.raw
	if strings.ContainsAny(s, "\n\r\x00") {
		return nil, p.fail(0, "pass one requirement per argument", "contains a line break or NUL byte")
	}
	start := 0
	for start < len(s) && isSpace(s[start]) {
		start++
	}
	end := len(s)
	for end > start && isSpace(s[end-1]) {
		end--
	}
	if start == end {
		return nil, p.fail(0, `write a requirement such as "pkg @ git+https://github.com/o/r.git@v1.2.3"`, "is empty")
	}
	body := s[start:end]
	if strings.HasPrefix(body, "-e ") || strings.HasPrefix(body, "--editable") || body == "-e" {
		return nil, p.fail(start+1, "install a tagged release instead; an editable install is a mutable local checkout", "editable installs cannot be verified")
	}
	if strings.HasPrefix(body, "-") {
		return nil, p.fail(start+1, "put pip options after --", "is a pip option, not a requirement")
	}
	if looksLikeURL(body) {
		return p.bareURL(start, body)
	}
	return p.pep508(start, body)
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

func looksLikeURL(s string) bool {
	if schemeRE.MatchString(s) {
		return true
	}
	// scp-like git+user@host:path, which pip does not accept either.
	return strings.HasPrefix(strings.ToLower(s), "git+") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "/")
}

// splitMarker splits "url ; marker". PEP 508 requires whitespace before the
// ";" of a URL requirement because ";" may appear inside a URL.
func (p *parser) splitMarker(off int, s string) (string, string, error) {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			rest := strings.TrimLeft(s[i:], " \t")
			if rest == "" {
				return s[:i], "", nil
			}
			if rest[0] != ';' {
				col := off + len(s) - len(rest) + 1
				return "", "", p.fail(col, `separate an environment marker with " ; "`, "unexpected text after the URL")
			}
			marker := strings.TrimSpace(rest[1:])
			if marker == "" {
				return "", "", p.fail(off+len(s)-len(rest)+1, `write a marker after ";", e.g. ; python_version >= "3.10"`, "empty environment marker")
			}
			return s[:i], marker, nil
		}
	}
	return s, "", nil
}

func (p *parser) bareURL(off int, body string) (*Requirement, error) {
	u, marker, err := p.splitMarker(off, body)
	if err != nil {
		return nil, err
	}
	req := &Requirement{Marker: marker}
	if err := p.url(off, u, req); err != nil {
		return nil, err
	}
	if req.Kind == KindVCS {
		req.Name = req.VCS.Egg
	}
	return req, nil
}

func (p *parser) pep508(off int, body string) (*Requirement, error) {
	name := nameRE.FindString(body)
	if name == "" {
		return nil, p.fail(off+1, "a requirement starts with a project name, e.g. pkg @ git+https://...", "expected a project name")
	}
	req := &Requirement{Name: name}
	i := len(name)
	skip := func() {
		for i < len(body) && isSpace(body[i]) {
			i++
		}
	}
	skip()
	if i < len(body) && body[i] == '[' {
		close := strings.IndexByte(body[i:], ']')
		if close < 0 {
			return nil, p.fail(off+i+1, `close the extras with "]"`, "unterminated extras")
		}
		inner := body[i+1 : i+close]
		if strings.TrimSpace(inner) != "" {
			for _, e := range strings.Split(inner, ",") {
				e = strings.TrimSpace(e)
				if !ValidName(e) {
					return nil, p.fail(off+i+2, "extras are names separated by commas, e.g. [a,b]", "invalid extra %q", e)
				}
				req.Extras = append(req.Extras, e)
			}
		}
		i += close + 1
		skip()
	}
	if i < len(body) && body[i] == '@' {
		i++
		skip()
		if i == len(body) {
			return nil, p.fail(off+i+1, "write the URL after @", "missing URL after @")
		}
		u, marker, err := p.splitMarker(off+i, body[i:])
		if err != nil {
			return nil, err
		}
		req.Marker = marker
		if err := p.url(off+i, u, req); err != nil {
			return nil, err
		}
		if req.Kind == KindVCS && req.VCS.Egg != "" && Normalize(req.VCS.Egg) != Normalize(req.Name) {
			return nil, p.fail(off+1, "make #egg= name the project, or drop it", "name %q does not match #egg=%s", req.Name, req.VCS.Egg)
		}
		return req, nil
	}
	// An index requirement: version specifiers and/or a marker. pipguard
	// does not guard these; keep the text for the caller to pass on.
	rest := body[i:]
	spec, marker, hasMarker := strings.Cut(rest, ";")
	spec = strings.TrimSpace(spec)
	if spec != "" && !specifierRE.MatchString(spec) {
		return nil, p.fail(off+i+1, "write name @ URL, or name followed by a version specifier such as >=1.2", "unexpected %q after the project name", spec)
	}
	if hasMarker && strings.TrimSpace(marker) == "" {
		return nil, p.fail(off+len(body), `write a marker after ";", e.g. ; python_version >= "3.10"`, "empty environment marker")
	}
	req.Kind = KindIndex
	req.Specifier = spec
	req.Marker = strings.TrimSpace(marker)
	return req, nil
}

// PEP 440 version specifiers, as PEP 508 allows them: a comma-separated
// list, optionally in parentheses.
var specifierRE = regexp.MustCompile(`^\(?\s*` + specClause + `(?:\s*,\s*` + specClause + `)*\s*\)?$`)

const specClause = `(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9_.*+!-]+`

// url parses the URL of a direct reference into req.
func (p *parser) url(off int, raw string, req *Requirement) error {
	lower := strings.ToLower(raw)
	for _, v := range []string{"hg+", "svn+", "bzr+"} {
		if strings.HasPrefix(lower, v) {
			return p.fail(off+1, "pipguard verifies git repositories only", "%s is not supported", strings.TrimSuffix(v, "+"))
		}
	}
	if !strings.HasPrefix(lower, "git+") && !strings.HasPrefix(lower, "git://") {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" {
			return p.fail(off+1, "write an absolute URL such as git+https://host/o/r.git@v1.2.3", "not a URL")
		}
		req.Kind = KindURL
		req.URL = redactURL(u)
		return nil
	}
	v, err := p.vcsURL(off, raw)
	if err != nil {
		return err
	}
	req.Kind = KindVCS
	req.VCS = v
	return nil
}
