package requirement

import (
	"regexp"
	"strings"
)

// The PEP 508 grammar pipguard accepts: the part of it that every pip it
// supports (pip 23.0 to 24.x, whose vendored packaging is 21.3 or 24.x)
// reads the same way. Inputs outside it that some pip accepts are strict
// refusals (ParseError.Strict says which).

// Strict refusal classes: pipguard refuses an input that pip (some
// version of it) accepts, because matching pip is unreasonable or
// dangerous there. Each is documented in the README ("Requirements files
// are read as pip reads them") and in the differential test.
const (
	// StrictUnsupportedVCS: hg, svn, bzr and git:// requirements, and
	// editables: pipguard verifies git releases only.
	StrictUnsupportedVCS = "unsupported-vcs"
	// StrictCharacters: control characters, Unicode whitespace or
	// non-ASCII text inside a requirement or a URL, which pip's
	// versions read differently (packaging 21.3 and 24 disagree, URL
	// parsing drops tabs).
	StrictCharacters = "characters"
	// StrictLegacySpecifier: version specifiers that are not PEP 440
	// (pip 23's packaging 21.3 accepts "LegacySpecifier"s such as
	// ==1.0-foo; pip 24 refuses them), a trailing comma or empty ()
	// (pip 24 accepts, pip 23 refuses), === with unusual characters.
	StrictLegacySpecifier = "legacy-specifier"
	// StrictLegacyMarker: marker syntax only some pip versions accept:
	// PEP 345 dotted names (os.name), "and"/"or"/"in" without spaces,
	// "not  in".
	StrictLegacyMarker = "legacy-marker"
	// StrictURLForm: URLs pip accepts but pipguard does not read: a git
	// URL with a query, a fragment other than egg= and subdirectory=, an
	// egg= or subdirectory= outside the fragment (pip takes the first
	// anywhere in the URL, user info included) or twice, an egg= that is
	// not a bare project name (in any URL: pip 26 refuses it, pip 23 and
	// 24 warn) or names another project, a scp-like or
	// host-less URL (pip 24 accepts name @ foo:bar), a scheme pip cannot
	// download, "../" in a file: URL, "[...]" at the end of a URL (pip
	// reads it as extras), a malformed host or percent-encoding.
	StrictURLForm = "url-form"
	// StrictGitRef: a ref git itself would refuse (git check-ref-format),
	// or a subdirectory that leaves the repository.
	StrictGitRef = "git-ref"
	// StrictLocalDirectory: a local directory (./pkg): pipguard reads
	// requirements without the file system and cannot verify a directory.
	StrictLocalDirectory = "local-directory"
	// StrictWheelName: a wheel file name (a local path or a bare URL,
	// which pip names NAME==VERSION from the file name) that pip 26 reads
	// otherwise than pip 23 and 24: a project name or version not in its
	// normal form (Django-4.2-..., pkg-1.00-...; pip 26 normalises them
	// with packaging's parse_wheel_filename, pip 23 and 24 take them as
	// written) or "__" in the name (pip 26 refuses it).
	StrictWheelName = "wheel-name"
)

func isWS(c byte) bool { return c == ' ' || c == '\t' }

func skipWS(s string, i int) int {
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return i
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

const (
	reEpochRelease = `v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*`
	rePre          = `(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?`
	rePost         = `(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?`
	reDev          = `(?:[-_.]?dev[-_.]?[0-9]*)?`
	reLocal        = `(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?`
)

// One version specifier as packaging's Specifier regex reads it (its
// pip 24 form, which pip 23's accepts too), with blanks for \s.
var (
	specArbitrary = regexp.MustCompile(`^===[ \t]*[A-Za-z0-9._+!*-]+`)
	specEqual     = regexp.MustCompile(`(?i)^(?:==|!=)[ \t]*` + reEpochRelease + `(?:\.\*|` + rePre + rePost + reDev + reLocal + `)`)
	specCompat    = regexp.MustCompile(`(?i)^~=[ \t]*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+` + rePre + rePost + reDev)
	specOrdered   = regexp.MustCompile(`(?i)^(?:<=|>=|<|>)[ \t]*` + reEpochRelease + rePre + rePost + reDev)
)

// matchSpec returns the length of the specifier at s[0:], 0 if none.
func matchSpec(s string) int {
	for _, re := range []*regexp.Regexp{specArbitrary, specEqual, specCompat, specOrdered} {
		if loc := re.FindStringIndex(s); loc != nil {
			return loc[1]
		}
	}
	return 0
}

// specEnd says whether a specifier may end before s[i]: at a blank, a
// comma, a closing parenthesis or the end. Elsewhere pip 23 reads a
// longer legacy specifier and pip 24 refuses.
func specEnd(s string, i int) bool {
	return i == len(s) || isWS(s[i]) || s[i] == ',' || s[i] == ')'
}

// parseSpecifiers reads "spec (, spec)*" from s[i:]; it returns the end.
func (p *parser) parseSpecifiers(off int, s string, i int) (int, error) {
	for {
		n := matchSpec(s[i:])
		if n == 0 {
			return 0, p.strictFail(StrictLegacySpecifier, off+i+1, "write a PEP 440 version specifier such as >=1.2 or ==1.2.3", "%q is not a PEP 440 version specifier", tail(s[i:]))
		}
		i += n
		if !specEnd(s, i) {
			return 0, p.strictFail(StrictLegacySpecifier, off+i+1, "write a PEP 440 version specifier such as >=1.2 or ==1.2.3", "%q is not a PEP 440 version specifier", tail(s[i-n:]))
		}
		j := skipWS(s, i)
		if j < len(s) && s[j] == ',' {
			i = skipWS(s, j+1)
			continue
		}
		return i, nil
	}
}

func tail(s string) string {
	if i := strings.IndexAny(s, " \t,)"); i > 0 {
		return s[:i]
	}
	return s
}

// Marker variables as PEP 508 names them (packaging also takes PEP 345
// dotted forms; pipguard refuses those).
var markerVars = []string{
	"implementation_version", "platform_python_implementation", "implementation_name",
	"python_full_version", "platform_release", "platform_version", "platform_machine",
	"platform_system", "python_version", "sys_platform", "os_name", "extra",
}

// ValidateMarker checks a PEP 508 environment marker as every supported
// pip reads it.
func (p *parser) validateMarker(off int, m string) error {
	i, err := p.markerExpr(off, m, skipWS(m, 0), 0)
	if err != nil {
		return err
	}
	if i = skipWS(m, i); i != len(m) {
		return p.markerFail(off+i, m, i)
	}
	return nil
}

// markerFail is a marker pipguard's grammar does not take: a strict
// refusal, since pip 23's parser takes some such (python_versionin ...).
func (p *parser) markerFail(col int, m string, i int) error {
	return p.strictFail(StrictLegacyMarker, col+1, `write a marker such as python_version >= "3.10"`, "invalid environment marker %q at %q", m, m[i:])
}

func (p *parser) markerExpr(off int, m string, i, depth int) (int, error) {
	if depth > 32 {
		return 0, p.fail(off+i+1, "simplify the marker", "environment marker nested too deep")
	}
	for {
		var err error
		if i, err = p.markerAtom(off, m, i, depth); err != nil {
			return 0, err
		}
		j := skipWS(m, i)
		op := ""
		for _, b := range []string{"and", "or"} {
			if strings.HasPrefix(m[j:], b) {
				op = b
			}
		}
		if op == "" {
			return i, nil
		}
		k := j + len(op)
		if j == i || k >= len(m) || !isWS(m[k]) {
			return 0, p.strictFail(StrictLegacyMarker, off+j+1, `put blanks around "and" and "or"`, "%q without blanks around it", op)
		}
		i = skipWS(m, k)
	}
}

func (p *parser) markerAtom(off int, m string, i, depth int) (int, error) {
	i = skipWS(m, i)
	if i < len(m) && m[i] == '(' {
		j, err := p.markerExpr(off, m, skipWS(m, i+1), depth+1)
		if err != nil {
			return 0, err
		}
		j = skipWS(m, j)
		if j >= len(m) || m[j] != ')' {
			return 0, p.markerFail(off+j, m, min(j, len(m)))
		}
		return j + 1, nil
	}
	j, err := p.markerVar(off, m, i)
	if err != nil {
		return 0, err
	}
	k := skipWS(m, j)
	var opEnd int
	switch {
	case strings.HasPrefix(m[k:], "not in"):
		opEnd = k + len("not in")
	case strings.HasPrefix(m[k:], "not"):
		return 0, p.strictFail(StrictLegacyMarker, off+k+1, `write "not in" with one blank`, "invalid marker operator")
	case strings.HasPrefix(m[k:], "in"):
		opEnd = k + 2
	default:
		for _, op := range []string{"===", "==", ">=", "<=", "!=", "~=", ">", "<"} {
			if strings.HasPrefix(m[k:], op) {
				opEnd = k + len(op)
				break
			}
		}
		if opEnd == 0 {
			return 0, p.markerFail(off+k, m, k)
		}
		return p.markerVar(off, m, skipWS(m, opEnd))
	}
	// "in" and "not in" need blanks around them.
	if k == j || opEnd >= len(m) || !isWS(m[opEnd]) {
		return 0, p.strictFail(StrictLegacyMarker, off+k+1, `put blanks around "in" and "not in"`, "marker operator without blanks around it")
	}
	return p.markerVar(off, m, skipWS(m, opEnd))
}

func (p *parser) markerVar(off int, m string, i int) (int, error) {
	if i < len(m) && (m[i] == '"' || m[i] == '\'') {
		end := strings.IndexByte(m[i+1:], m[i])
		if end < 0 {
			return 0, p.fail(off+i+1, "close the quoted string", "unterminated string in environment marker")
		}
		if strings.Contains(m[i+1:i+1+end], `\`) {
			// pip 24 reads a backslash in a marker string as an escape.
			return 0, p.strictFail(StrictLegacyMarker, off+i+1, "remove the backslash", "backslash in an environment marker string")
		}
		return i + 2 + end, nil
	}
	for _, v := range markerVars {
		if strings.HasPrefix(m[i:], v) {
			j := i + len(v)
			if j < len(m) && (isWordByte(m[j]) || m[j] == '.') {
				continue
			}
			return j, nil
		}
	}
	j := i
	for j < len(m) && (isWordByte(m[j]) || m[j] == '.') {
		j++
	}
	if j > i {
		switch m[i:j] {
		case "os.name", "sys.platform", "platform.version", "platform.machine", "platform.python_implementation", "python_implementation":
			return 0, p.strictFail(StrictLegacyMarker, off+i+1, "write the PEP 508 name, e.g. os_name for os.name", "legacy marker variable %q", m[i:j])
		}
	}
	return 0, p.markerFail(off+i, m, i)
}

// parseExtras reads "[a, b]" at s[i] == '['; it returns the extras and
// the index after "]".
func (p *parser) parseExtras(off int, s string, i int) ([]string, int, error) {
	close := strings.IndexByte(s[i:], ']')
	if close < 0 {
		return nil, 0, p.fail(off+i+1, `close the extras with "]"`, "unterminated extras")
	}
	inner := s[i+1 : i+close]
	var out []string
	if strings.Trim(inner, " \t") != "" {
		for _, e := range strings.Split(inner, ",") {
			e = strings.Trim(e, " \t")
			if !ValidName(e) {
				return nil, 0, p.fail(off+i+2, "extras are names separated by commas, e.g. [a,b]", "invalid extra %q", e)
			}
			out = append(out, e)
		}
	}
	return out, i + close + 1, nil
}
