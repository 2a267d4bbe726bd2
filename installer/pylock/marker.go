package pylock

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pipguard/pipguard/internal/pep440"
)

// PEP 508 environment markers with PEP 751's extensions ("extras" and
// "dependency_groups", which hold sets), parsed and evaluated as
// packaging 26's markers module does, including its corner cases: every
// clause is evaluated (no short cut), "<" and ">" on values that are not
// versions are false, "<=" and ">=" on them mean "==".

// ErrMarker wraps every marker syntax and evaluation error.
var ErrMarker = errors.New("invalid marker")

// Marker is a parsed marker expression.
type Marker struct {
	src  string
	expr markerList
}

// markerList is "atom (and|or atom)*"; ops[i] joins atoms[i] and atoms[i+1].
type markerList struct {
	atoms []markerAtom
	ops   []string
}

// markerAtom is a parenthesised list or one comparison.
type markerAtom struct {
	list *markerList
	item *markerItem
}

type markerItem struct {
	lhs, rhs markerVar
	op       string
}

type markerVar struct {
	variable bool
	value    string // the variable's name, or the literal
}

// The environment keys packaging accepts (with "." spellings and
// python_implementation mapped to their canonical names).
const (
	ctxLockFile    = "lock_file"
	ctxRequirement = "requirement"
)

var versionKeys = map[string]bool{
	"implementation_version": true,
	"platform_release":       true,
	"python_full_version":    true,
	"python_version":         true,
}

var setKeys = map[string]bool{"extras": true, "dependency_groups": true}

// EnvironmentKeys are the PEP 508 marker variables an Environment gives.
var EnvironmentKeys = []string{
	"implementation_name", "implementation_version", "os_name",
	"platform_machine", "platform_release", "platform_system",
	"platform_version", "python_full_version",
	"platform_python_implementation", "python_version", "sys_platform",
}

// ParseMarker parses a marker expression.
func ParseMarker(s string) (*Marker, error) {
	t := &tokenizer{src: s}
	l, err := t.parseList()
	if err == nil && !t.atEnd() {
		err = t.fail("expected end of marker expression")
	}
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrMarker, s, err)
	}
	normalizeExtra(&l)
	return &Marker{src: s, expr: l}, nil
}

func (m *Marker) String() string { return m.src }

// normalizeExtra applies PEP 685 at parse time, as packaging does: the
// other side of a comparison with "extra" is normalised (and becomes a
// literal). Like packaging, it looks only at the top level, not inside
// parentheses.
func normalizeExtra(l *markerList) {
	for i := range l.atoms {
		a := &l.atoms[i]
		if a.list != nil {
			continue
		}
		it := a.item
		if it.lhs.variable && it.lhs.value == "extra" {
			it.rhs = markerVar{value: Normalize(it.rhs.value)}
		} else if it.rhs.variable && it.rhs.value == "extra" {
			it.lhs = markerVar{value: Normalize(it.lhs.value)}
		}
	}
}

type tokenizer struct {
	src string
	pos int
}

func (t *tokenizer) fail(msg string) error {
	return fmt.Errorf("%s at column %d", msg, t.pos+1)
}

func (t *tokenizer) ws() {
	for t.pos < len(t.src) && (t.src[t.pos] == ' ' || t.src[t.pos] == '\t') {
		t.pos++
	}
}

// atEnd is packaging's END token: Python's "$", which also matches before
// a final newline.
func (t *tokenizer) atEnd() bool {
	rest := t.src[t.pos:]
	return rest == "" || rest == "\n"
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// boundary is regexp's \b at byte offset i (Unicode word characters, as
// Python's re on str).
func (t *tokenizer) boundary(i int) bool {
	before, after := false, false
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(t.src[:i])
		before = isWordRune(r)
	}
	if i < len(t.src) {
		r, _ := utf8.DecodeRuneInString(t.src[i:])
		after = isWordRune(r)
	}
	return before != after
}

// word matches one of words at the position with \b on both sides; the
// first that matches wins, as in a regexp alternation.
func (t *tokenizer) word(words ...string) (string, bool) {
	if !t.boundary(t.pos) {
		return "", false
	}
	for _, w := range words {
		if strings.HasPrefix(t.src[t.pos:], w) && t.boundary(t.pos+len(w)) {
			return w, true
		}
	}
	return "", false
}

// variables in packaging's VARIABLE alternation order.
var variables = []string{
	"python_version", "python_full_version",
	"os.name", "os_name", "sys.platform", "sys_platform",
	"platform_release", "platform_system",
	"platform.version", "platform_version", "platform.machine", "platform_machine",
	"platform.python_implementation", "platform_python_implementation",
	"python_implementation", "implementation_name", "implementation_version",
	"extras", "extra", "dependency_groups",
}

func (t *tokenizer) parseList() (markerList, error) {
	var l markerList
	a, err := t.parseAtom()
	if err != nil {
		return l, err
	}
	l.atoms = append(l.atoms, a)
	for {
		op, ok := t.word("or", "and")
		if !ok {
			return l, nil
		}
		t.pos += len(op)
		a, err := t.parseAtom()
		if err != nil {
			return l, err
		}
		l.ops = append(l.ops, op)
		l.atoms = append(l.atoms, a)
	}
}

func (t *tokenizer) parseAtom() (markerAtom, error) {
	t.ws()
	if strings.HasPrefix(t.src[t.pos:], "(") {
		t.pos++
		t.ws()
		l, err := t.parseList()
		if err != nil {
			return markerAtom{}, err
		}
		t.ws()
		if !strings.HasPrefix(t.src[t.pos:], ")") {
			return markerAtom{}, t.fail("expected matching ) for (")
		}
		t.pos++
		t.ws()
		return markerAtom{list: &l}, nil
	}
	it, err := t.parseItem()
	if err != nil {
		return markerAtom{}, err
	}
	t.ws()
	return markerAtom{item: &it}, nil
}

func (t *tokenizer) parseItem() (markerItem, error) {
	t.ws()
	lhs, err := t.parseVar()
	if err != nil {
		return markerItem{}, err
	}
	t.ws()
	op, err := t.parseOp()
	if err != nil {
		return markerItem{}, err
	}
	t.ws()
	rhs, err := t.parseVar()
	if err != nil {
		return markerItem{}, err
	}
	t.ws()
	return markerItem{lhs: lhs, op: op, rhs: rhs}, nil
}

func (t *tokenizer) parseVar() (markerVar, error) {
	if v, ok := t.word(variables...); ok {
		t.pos += len(v)
		v = strings.ReplaceAll(v, ".", "_")
		if v == "python_implementation" {
			v = "platform_python_implementation"
		}
		return markerVar{variable: true, value: v}, nil
	}
	rest := t.src[t.pos:]
	if rest != "" && (rest[0] == '\'' || rest[0] == '"') {
		end := strings.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return markerVar{}, t.fail("expected a marker variable or quoted string")
		}
		lit := rest[1 : 1+end]
		// packaging reads the literal with ast.literal_eval: escapes are
		// Python's, and a raw newline or NUL is a syntax error. pipguard
		// refuses backslashes outright (no real marker has one) rather than
		// reimplementing Python's escapes.
		if strings.ContainsAny(lit, "\\\n\r\x00") {
			return markerVar{}, t.fail("quoted string with a backslash, newline or NUL")
		}
		if !utf8.ValidString(lit) {
			return markerVar{}, t.fail("quoted string is not UTF-8")
		}
		t.pos += end + 2
		return markerVar{value: lit}, nil
	}
	return markerVar{}, t.fail("expected a marker variable or quoted string")
}

func (t *tokenizer) parseOp() (string, error) {
	if _, ok := t.word("in"); ok {
		t.pos += 2
		return "in", nil
	}
	if _, ok := t.word("not"); ok {
		t.pos += 3
		start := t.pos
		t.ws()
		if t.pos == start {
			return "", t.fail("expected whitespace after 'not'")
		}
		if _, ok := t.word("in"); !ok {
			return "", t.fail("expected 'in' after 'not'")
		}
		t.pos += 2
		return "not in", nil
	}
	for _, op := range []string{"===", "==", "~=", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(t.src[t.pos:], op) {
			t.pos += len(op)
			return op, nil
		}
	}
	return "", t.fail("expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in")
}

// markerEnv is what a marker is evaluated against: the PEP 508 values and,
// in a lock file, the extras and dependency groups being installed.
type markerEnv struct {
	values map[string]string
	sets   map[string]map[string]bool
}

// envKey is the environment key a comparison reads, exactly as packaging
// picks it: the left side if it is a variable, else the right side's text.
func (it *markerItem) envKey() string {
	if it.lhs.variable {
		return it.lhs.value
	}
	return it.rhs.value
}

// check refuses, before any evaluation, names the context does not define
// and comparisons packaging can never evaluate: a lock's package markers
// see the PEP 508 values plus "extras" and "dependency_groups"; its
// "environments" see only the PEP 508 values.
func (m *Marker) check(ctx string) error {
	var errs []error
	var walk func(l *markerList)
	walk = func(l *markerList) {
		for _, a := range l.atoms {
			if a.list != nil {
				walk(a.list)
				continue
			}
			it := a.item
			key := it.envKey()
			known := false
			for _, k := range EnvironmentKeys {
				known = known || k == key
			}
			if setKeys[key] {
				switch {
				case ctx != ctxLockFile:
					errs = append(errs, fmt.Errorf("%q is defined only in a package's marker", key))
				case it.lhs.variable:
					errs = append(errs, fmt.Errorf("%q holds a set: write '\"name\" in %s'", key, key))
				}
			} else if !known {
				errs = append(errs, fmt.Errorf("%q is not a marker variable here", key))
			}
			if it.lhs.variable && !setKeys[key] && (it.op == "~=" || it.op == "===") {
				if !versionKeys[key] {
					errs = append(errs, fmt.Errorf("operator %s is undefined on %s", it.op, key))
				} else if _, err := pep440.ParseSpecifier(it.op + it.rhs.value); err != nil {
					errs = append(errs, fmt.Errorf("%s %s %q is not a version comparison", key, it.op, it.rhs.value))
				}
			}
		}
	}
	walk(&m.expr)
	if len(errs) > 0 {
		return fmt.Errorf("%w %q: %w", ErrMarker, m.src, errors.Join(errs...))
	}
	return nil
}

// Evaluate evaluates the marker; it fails on a name env does not define
// or a comparison packaging leaves undefined.
func (m *Marker) evaluate(env markerEnv) (bool, error) {
	ok, err := evalList(&m.expr, env)
	if err != nil {
		return false, fmt.Errorf("%w %q: %v", ErrMarker, m.src, err)
	}
	return ok, nil
}

func evalList(l *markerList, env markerEnv) (bool, error) {
	// packaging collects "and" groups split at "or" and evaluates every
	// clause before combining them.
	groups := [][]bool{{}}
	for i, a := range l.atoms {
		if i > 0 && l.ops[i-1] == "or" {
			groups = append(groups, nil)
		}
		var v bool
		var err error
		if a.list != nil {
			v, err = evalList(a.list, env)
		} else {
			v, err = evalItem(a.item, env)
		}
		if err != nil {
			return false, err
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], v)
	}
	for _, g := range groups {
		all := true
		for _, v := range g {
			all = all && v
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func evalItem(it *markerItem, env markerEnv) (bool, error) {
	key := it.envKey()
	lookup := func() (string, map[string]bool, error) {
		if s, ok := env.sets[key]; ok {
			return "", s, nil
		}
		if v, ok := env.values[key]; ok {
			if key == "python_full_version" && strings.HasSuffix(v, "+") {
				v += "local"
			}
			return v, nil, nil
		}
		return "", nil, fmt.Errorf("undefined environment name %q", key)
	}
	var lhs, rhs string
	var rhsSet map[string]bool
	if it.lhs.variable {
		v, set, err := lookup()
		if err != nil {
			return false, err
		}
		if set != nil {
			return false, fmt.Errorf("%q holds a set and cannot be on the left", key)
		}
		lhs, rhs = v, it.rhs.value
	} else {
		v, set, err := lookup()
		if err != nil {
			return false, err
		}
		lhs, rhs, rhsSet = it.lhs.value, v, set
	}
	if setKeys[key] && rhsSet != nil {
		lhs = Normalize(lhs)
		norm := make(map[string]bool, len(rhsSet))
		for k := range rhsSet {
			norm[Normalize(k)] = true
		}
		rhsSet = norm
	}
	if versionKeys[key] && rhsSet == nil {
		if sp, err := pep440.ParseSpecifier(it.op + rhs); err == nil {
			return sp.Contains(lhs), nil
		}
	}
	switch it.op {
	case "in", "not in":
		var in bool
		if rhsSet != nil {
			in = rhsSet[lhs]
		} else {
			in = strings.Contains(rhs, lhs)
		}
		return in == (it.op == "in"), nil
	case "<", ">":
		return false, nil
	case "<=", "==", ">=":
		return rhsSet == nil && lhs == rhs, nil
	case "!=":
		return rhsSet != nil || lhs != rhs, nil
	}
	return false, fmt.Errorf("undefined comparison %s on %q and %q", it.op, lhs, rhs)
}
