package reqfile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pipguard/pipguard/installer/requirement"
)

// How pip turns a requirements file's bytes into logical lines, and a
// line into a requirement and options: auto_decode, str.splitlines,
// join_lines, ignore_comments, expand_env_variables, break_args_options,
// shlex.split and optparse, as pip 23.0 to 26.x do them (where they
// differ, the input is a strict refusal).

// Strict refusal classes of requirements files (see also the
// requirement.Strict* classes): pipguard refuses a file pip reads.
const (
	// StrictEncoding: a PEP 263 coding comment names a codec other than
	// UTF-8, ASCII or Latin-1 (unicode_escape, UTF-7, ...): such codecs
	// can hide a line from a reader that does not implement them.
	StrictEncoding = "encoding"
	// StrictOption: an option pipguard does not pass on (-e, --install-
	// option), an option or abbreviation whose meaning differs between
	// pip versions (--global-option, which pip 26 removed; pip 26's
	// --all-releases, --only-final, --no-require-hashes and its new
	// --use-feature choices, which pip 23 and 24 refuse), a nested
	// requirements file by URL, nesting deeper than 16 or a cycle.
	StrictOption = "option"
	// StrictNestedPath: a -r or -c path that names two files, one to pip
	// 23 and 24 (which open the joined path, so the operating system
	// resolves ".." after a symbolic link) and one to pip 26 (which
	// cleans it with os.path.abspath first): "-r link/../base.txt".
	StrictNestedPath = "nested-path"
	// StrictSecret: ${GH_TOKEN} and the other GitHub token variables are
	// never expanded.
	StrictSecret = "secret-variable"
	// StrictConstraintURL: a constraint that is not NAME SPECIFIER.
	StrictConstraintURL = "constraint-url"
	// StrictUnrenderable: a line pipguard cannot write into the file it
	// hands pip so that pip reads it the same way (a value that pip
	// would expand again, or cut as a comment).
	StrictUnrenderable = "unrenderable"
)

var (
	errCodec = errors.New("codec")
)

// decode is pip's auto_decode for a UTF-8 locale: a BOM, else a PEP 263
// coding comment in the first two lines, else UTF-8.
func decode(data []byte) (string, error) {
	switch {
	case hasPrefix(data, "\xef\xbb\xbf"):
		return decodeUTF8(data[3:])
	case hasPrefix(data, "\xff\xfe"):
		// Python's "utf-16" codec reads a second BOM itself.
		rest := data[2:]
		switch {
		case hasPrefix(rest, "\xff\xfe"):
			return decodeUTF16(rest[2:], false)
		case hasPrefix(rest, "\xfe\xff"):
			return decodeUTF16(rest[2:], true)
		}
		return decodeUTF16(rest, false)
	case hasPrefix(data, "\xfe\xff"):
		return decodeUTF16(data[2:], true)
	case hasPrefix(data, "\x00\x00\xfe\xff"):
		return decodeUTF32BE(data[4:])
	}
	lines := strings.SplitN(string(data), "\n", 3)
	for _, l := range lines[:min(2, len(lines))] {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		m := codingRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		switch codec := normalizeCodec(m[1]); {
		case utf8Codecs[codec]:
			return decodeUTF8(data)
		case codec == "utf_8_sig":
			if hasPrefix(data, "\xef\xbb\xbf") {
				data = data[3:]
			}
			return decodeUTF8(data)
		case asciiCodecs[codec]:
			for i, b := range data {
				if b >= 0x80 {
					return "", fmt.Errorf("byte 0x%02x at offset %d is not ASCII, as its coding comment says", b, i)
				}
			}
			return string(data), nil
		case latin1Codecs[codec]:
			r := make([]rune, len(data))
			for i, b := range data {
				r[i] = rune(b)
			}
			return string(r), nil
		default:
			return "", fmt.Errorf("%w %q", errCodec, m[1])
		}
	}
	return decodeUTF8(data)
}

var codingRE = regexp.MustCompile(`coding[:=][ \t\n\r\f\v]*([-A-Za-z0-9_.]+)`)

var (
	utf8Codecs   = set("u8", "utf", "utf8", "utf8_ucs2", "utf8_ucs4", "cp65001", "utf_8")
	asciiCodecs  = set("646", "ansi_x3.4_1968", "ansi_x3_4_1968", "ansi_x3.4_1986", "cp367", "csascii", "ibm367", "iso646_us", "iso_646.irv_1991", "iso_ir_6", "us", "us_ascii", "ascii")
	latin1Codecs = set("8859", "cp819", "csisolatin1", "ibm819", "iso8859", "iso8859_1", "iso_8859_1", "iso_8859_1_1987", "iso_ir_100", "l1", "latin", "latin1", "latin_1")
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

// normalizeCodec is Python's codec name normalisation: lower case, runs
// of characters other than letters, digits and "." become "_".
func normalizeCodec(name string) string {
	var b strings.Builder
	pending := false
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(c)
		} else {
			pending = true
		}
	}
	return b.String()
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func decodeUTF8(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errors.New("not valid UTF-8")
	}
	return string(b), nil
}

func decodeUTF16(b []byte, bigEndian bool) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("not valid UTF-16 (odd length)")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	for i := 0; i < len(u); i++ {
		switch {
		case u[i] >= 0xd800 && u[i] < 0xdc00:
			if i+1 >= len(u) || u[i+1] < 0xdc00 || u[i+1] >= 0xe000 {
				return "", errors.New("not valid UTF-16 (lone surrogate)")
			}
			i++
		case u[i] >= 0xdc00 && u[i] < 0xe000:
			return "", errors.New("not valid UTF-16 (lone surrogate)")
		}
	}
	return string(utf16.Decode(u)), nil
}

func decodeUTF32BE(b []byte) (string, error) {
	if len(b)%4 != 0 {
		return "", errors.New("not valid UTF-32 (truncated)")
	}
	var s strings.Builder
	for i := 0; i < len(b); i += 4 {
		r := rune(b[i])<<24 | rune(b[i+1])<<16 | rune(b[i+2])<<8 | rune(b[i+3])
		if r > 0x10ffff || r < 0 || r >= 0xd800 && r < 0xe000 {
			return "", errors.New("not valid UTF-32")
		}
		s.WriteRune(r)
	}
	return s.String(), nil
}

// logicalLine is a line after join_lines, with its first line's number.
type logicalLine struct {
	n    int
	text string
}

// isComment is pip's COMMENT_RE.match: "#" at the start, or after
// whitespace at the start.
func isComment(s string) bool {
	t := strings.TrimLeftFunc(s, requirement.IsPySpace)
	return strings.HasPrefix(t, "#")
}

// preprocess is pip's preprocess: split, join, strip comments, expand.
func preprocess(content string, getenv func(string) string) ([]logicalLine, error) {
	var joined []logicalLine
	var pending []string
	first := 0
	for i, line := range requirement.SplitLines(content) {
		n := i + 1
		if !strings.HasSuffix(line, `\`) || isComment(line) {
			if isComment(line) {
				line = " " + line
			}
			if pending != nil {
				joined = append(joined, logicalLine{first, strings.Join(append(pending, line), "")})
				pending = nil
			} else {
				joined = append(joined, logicalLine{n, line})
			}
			continue
		}
		if pending == nil {
			first = n
			pending = []string{}
		}
		pending = append(pending, strings.Trim(line, `\`))
	}
	if pending != nil {
		joined = append(joined, logicalLine{first, strings.Join(pending, "")})
	}
	var out []logicalLine
	for _, l := range joined {
		text := requirement.PyStrip(stripComment(l.text))
		if text == "" {
			continue
		}
		text, err := expandEnv(text, getenv)
		if err != nil {
			return nil, &Error{Line: l.n, Msg: err.Error(), Fix: "give the index its own credentials (a netrc file or keyring), not the GitHub token", Strict: StrictSecret}
		}
		out = append(out, logicalLine{l.n, text})
	}
	return out, nil
}

// stripComment is COMMENT_RE.sub: from the first "#" at the start or
// after whitespace, together with that whitespace, to the end.
func stripComment(s string) string {
	for i, r := range s {
		if r != '#' {
			continue
		}
		if i == 0 {
			return ""
		}
		prev, _ := utf8.DecodeLastRuneInString(s[:i])
		if !requirement.IsPySpace(prev) {
			continue
		}
		return strings.TrimRightFunc(s[:i], requirement.IsPySpace)
	}
	return s
}

// pip expands ${VAR} (upper-case letters, digits, underscore): each
// variable found in the line, in order, replaced everywhere in the line
// as it is by then, unless it is unset or empty.
var envVarRE = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// secretVars are never expanded: a GitHub token, or the key that
// authenticates pipguard's cache, must not reach pip (or an index named in
// the file) through ${VAR}.
var secretVars = map[string]bool{"GH_TOKEN": true, "GITHUB_TOKEN": true, "GH_ENTERPRISE_TOKEN": true, "GITHUB_ENTERPRISE_TOKEN": true, "PIPGUARD_CACHE_KEY": true}

func expandEnv(line string, getenv func(string) string) (string, error) {
	for _, m := range envVarRE.FindAllStringSubmatch(line, -1) {
		if secretVars[m[1]] {
			return "", fmt.Errorf("refers to ${%s}: pipguard never hands a GitHub token or its cache key to pip or to an index", m[1])
		}
	}
	for _, m := range envVarRE.FindAllStringSubmatch(line, -1) {
		if v := getenv(m[1]); v != "" {
			line = strings.ReplaceAll(line, m[0], v)
		}
	}
	return line, nil
}

// breakArgsOptions is pip's break_args_options: the line split at blanks
// (" " only), the requirement up to the first token starting with "-".
func breakArgsOptions(line string) (args, options string) {
	tokens := strings.Split(line, " ")
	for i, t := range tokens {
		if strings.HasPrefix(t, "-") {
			return strings.Join(tokens[:i], " "), strings.Join(tokens[i:], " ")
		}
	}
	return line, ""
}

// shlexSplit is Python's shlex.split (POSIX mode, no comments).
func shlexSplit(s string) ([]string, error) {
	var out []string
	var tok strings.Builder
	inToken, quoted := false, false
	const (
		stWS = iota
		stWord
		stSingle
		stDouble
	)
	state := stWS
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch state {
		case stWS, stWord:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
				if inToken || quoted {
					out = append(out, tok.String())
				}
				tok.Reset()
				inToken, quoted, state = false, false, stWS
			case c == '\\':
				if i+1 >= len(rs) {
					return nil, errors.New("No escaped character")
				}
				i++
				tok.WriteRune(rs[i])
				inToken, state = true, stWord
			case c == '\'':
				state, quoted = stSingle, true
			case c == '"':
				state, quoted = stDouble, true
			default:
				tok.WriteRune(c)
				inToken, state = true, stWord
			}
		case stSingle:
			if c == '\'' {
				state = stWord
			} else {
				tok.WriteRune(c)
			}
		case stDouble:
			switch {
			case c == '"':
				state = stWord
			case c == '\\':
				if i+1 >= len(rs) {
					return nil, errors.New("No escaped character")
				}
				i++
				if rs[i] != '"' && rs[i] != '\\' {
					tok.WriteRune('\\')
				}
				tok.WriteRune(rs[i])
			default:
				tok.WriteRune(c)
			}
		}
	}
	if state == stSingle || state == stDouble {
		return nil, errors.New("No closing quotation")
	}
	if inToken || quoted {
		out = append(out, tok.String())
	}
	return out, nil
}

// shlexQuote is Python's shlex.quote.
func shlexQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_@%+=:,./-", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
