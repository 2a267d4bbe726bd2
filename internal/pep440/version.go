package pep440

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PEP 440 versions and specifiers, as packaging reads and orders them:
// what a lock's requires-python checks, a marker's version comparisons and
// a file name's version need.

// versionRE is PEP 440's "canonical public version" pattern extended with
// its normalisations (Appendix B), anchored, case-insensitive.
var versionRE = regexp.MustCompile(`(?i)^\s*v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?P<pre>[._-]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[._-]?(?P<pre_n>[0-9]+)?)?` +
	`(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[._-]?(?P<post_l>post|rev|r)[._-]?(?P<post_n2>[0-9]+)?))?` +
	`(?P<dev>[._-]?(?P<dev_l>dev)[._-]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[._-][a-z0-9]+)*))?\s*$`)

// Version is a parsed PEP 440 version, in packaging's normal form.
type Version struct {
	Epoch   int
	Release []int
	// Pre is "a", "b" or "rc" with PreN, or "".
	Pre  string
	PreN int
	// Post and Dev are -1 when absent.
	Post, Dev int
	// Local is the normalised local label, "" when absent.
	Local string
}

// Parse parses a PEP 440 version. It refuses, stricter than packaging on
// purpose, a string longer than MaxLen, one with characters outside ASCII
// (Python's \s and case-insensitive matching read Unicode spaces and case
// folds into a version; no published version needs them) and a number too
// large for an int.
func Parse(s string) (Version, error) {
	if len(s) > MaxLen {
		return Version{}, fmt.Errorf("version too long (%d bytes; at most %d)", len(s), MaxLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return Version{}, fmt.Errorf("invalid version %q: pipguard reads ASCII versions only", printable(s, 100))
		}
	}
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("invalid version %q (PEP 440)", printable(s, 100))
	}
	g := func(name string) string { return m[versionRE.SubexpIndex(name)] }
	num := func(s string) (int, error) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("version number %q is too large", printable(s, 40))
		}
		return n, nil
	}
	var v Version
	var err error
	if v.Epoch, err = num(g("epoch")); err != nil {
		return Version{}, err
	}
	for _, p := range strings.Split(g("release"), ".") {
		n, err := num(p)
		if err != nil {
			return Version{}, err
		}
		v.Release = append(v.Release, n)
	}
	v.Post, v.Dev = -1, -1
	if g("pre") != "" {
		switch strings.ToLower(g("pre_l")) {
		case "a", "alpha":
			v.Pre = "a"
		case "b", "beta":
			v.Pre = "b"
		default:
			v.Pre = "rc"
		}
		if v.PreN, err = num(g("pre_n")); err != nil {
			return Version{}, err
		}
	}
	if g("post") != "" {
		n := g("post_n1")
		if n == "" {
			n = g("post_n2")
		}
		if v.Post, err = num(n); err != nil {
			return Version{}, err
		}
	}
	if g("dev") != "" {
		if v.Dev, err = num(g("dev_n")); err != nil {
			return Version{}, err
		}
	}
	if l := g("local"); l != "" {
		// packaging keeps a numeric segment as a number: +01 is +1.
		parts := strings.FieldsFunc(strings.ToLower(l), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
		for i, p := range parts {
			if isDigits(p) {
				if p = strings.TrimLeft(p, "0"); p == "" {
					p = "0"
				}
				parts[i] = p
			}
		}
		v.Local = strings.Join(parts, ".")
	}
	return v, nil
}

// String is the normalised form of the version.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 {
		fmt.Fprintf(&b, "%d!", v.Epoch)
	}
	for i, r := range v.Release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(r))
	}
	if v.Pre != "" {
		fmt.Fprintf(&b, "%s%d", v.Pre, v.PreN)
	}
	if v.Post >= 0 {
		fmt.Fprintf(&b, ".post%d", v.Post)
	}
	if v.Dev >= 0 {
		fmt.Fprintf(&b, ".dev%d", v.Dev)
	}
	if v.Local != "" {
		b.WriteString("+" + v.Local)
	}
	return b.String()
}

// IsPrerelease reports a pre-release or development release.
func (v Version) IsPrerelease() bool { return v.Pre != "" || v.Dev >= 0 }

// IsPostrelease reports a post-release.
func (v Version) IsPostrelease() bool { return v.Post >= 0 }

func (v Version) public() Version { v.Local = ""; return v }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Compare orders versions as PEP 440 does: -1, 0 or +1.
func (v Version) Compare(w Version) int {
	if c := cmpInt(v.Epoch, w.Epoch); c != 0 {
		return c
	}
	n := max(len(v.Release), len(w.Release))
	for i := range n {
		a, b := 0, 0
		if i < len(v.Release) {
			a = v.Release[i]
		}
		if i < len(w.Release) {
			b = w.Release[i]
		}
		if c := cmpInt(a, b); c != 0 {
			return c
		}
	}
	// Pre-release rank: dev-only (no pre, no post) sorts first, then a, b,
	// rc, then no pre-release at all.
	rank := func(x Version) (int, int) {
		if x.Pre == "" && x.Post < 0 && x.Dev >= 0 {
			return -1, 0
		}
		switch x.Pre {
		case "a":
			return 0, x.PreN
		case "b":
			return 1, x.PreN
		case "rc":
			return 2, x.PreN
		}
		return 3, 0
	}
	ra, na := rank(v)
	rb, nb := rank(w)
	if c := cmpInt(ra, rb); c != 0 {
		return c
	}
	if c := cmpInt(na, nb); c != 0 {
		return c
	}
	// No post sorts before any post.
	if c := cmpInt(v.Post, w.Post); c != 0 {
		return c
	}
	// A dev release sorts before no dev release.
	da, db := v.Dev, w.Dev
	if da < 0 {
		da = int(^uint(0) >> 1)
	}
	if db < 0 {
		db = int(^uint(0) >> 1)
	}
	if c := cmpInt(da, db); c != 0 {
		return c
	}
	return compareLocal(v.Local, w.Local)
}

// compareLocal orders local labels: none first; segment by segment,
// strings before numbers, numbers numerically, strings lexically, and a
// shorter label first when one is a prefix of the other.
func compareLocal(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		aNum, bNum := isDigits(as[i]), isDigits(bs[i])
		switch {
		case aNum && bNum:
			if c := compareDigits(as[i], bs[i]); c != 0 {
				return c
			}
		case aNum:
			return 1
		case bNum:
			return -1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	return cmpInt(len(as), len(bs))
}

// CompareDigits orders two strings of decimal digits as the numbers they
// are, of any length (packaging reads them as Python ints).
func CompareDigits(a, b string) int { return compareDigits(a, b) }

func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmpInt(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// specRE is packaging's specifier grammar: "===" takes any string, "=="
// and "!=" allow ".*" and local labels, "~=" needs two release numbers,
// the ordered comparisons allow neither.
var specRE = regexp.MustCompile(`(?i)^\s*(?:` +
	`(?P<arb>===)\s*[^\s;)]*` +
	`|(?:==|!=)\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:\.\*|(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?(?:[-_.]?dev[-_.]?[0-9]*)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?)?` +
	`|~=\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?(?:[-_.]?dev[-_.]?[0-9]*)?` +
	`|(?:<=|>=|<|>)\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?(?:[-_.]?dev[-_.]?[0-9]*)?` +
	`)\s*$`)

// Specifier is one PEP 440 version clause ("~=3.10", "!=3.0.*").
type Specifier struct {
	Op, Version string
}

// ParseSpecifier parses one clause.
func ParseSpecifier(s string) (Specifier, error) {
	if !specRE.MatchString(s) {
		return Specifier{}, fmt.Errorf("invalid specifier %q", s)
	}
	s = strings.TrimSpace(s)
	var op string
	switch {
	case strings.HasPrefix(s, "==="):
		op = "==="
	case len(s) >= 2 && strings.Contains("~= == != <= >=", s[:2]):
		op = s[:2]
	default:
		op = s[:1]
	}
	return Specifier{Op: op, Version: strings.TrimSpace(s[len(op):])}, nil
}

func (s Specifier) String() string { return s.Op + s.Version }

// Contains says whether version v (as a string: "===" compares strings)
// satisfies the clause. Like packaging's Specifier.contains for a single
// candidate, a pre-release is not excluded for being one.
func (s Specifier) Contains(item string) bool {
	if s.Op == "===" {
		return strings.EqualFold(item, s.Version)
	}
	v, err := Parse(item)
	if err != nil {
		return false
	}
	return s.match(v)
}

func (s Specifier) match(p Version) bool {
	switch s.Op {
	case "==":
		return matchEqual(p, s.Version)
	case "!=":
		return !matchEqual(p, s.Version)
	case "~=":
		// packaging builds the "==prefix.*" half from the clause as
		// written; with a leading "v" that prefix is not a version and
		// matches nothing.
		if strings.HasPrefix(s.Version, "v") || strings.HasPrefix(s.Version, "V") {
			return false
		}
		sv := mustVersion(s.Version)
		if p.public().Compare(sv) < 0 {
			return false
		}
		rel := sv.Release
		prefix := Version{Epoch: sv.Epoch, Release: rel[:len(rel)-1], Post: -1, Dev: -1}
		return matchEqual(p, prefix.String()+".*")
	case "<=":
		return p.public().Compare(mustVersion(s.Version)) <= 0
	case ">=":
		return p.public().Compare(mustVersion(s.Version)) >= 0
	case "<":
		sv := mustVersion(s.Version)
		if p.Compare(sv) >= 0 {
			return false
		}
		// "<V MUST NOT allow a pre-release of the specified version unless
		// the specified version is itself a pre-release."
		if !sv.IsPrerelease() && p.IsPrerelease() {
			earliest := sv
			earliest.Dev, earliest.Local = 0, ""
			if p.Compare(earliest) >= 0 {
				return false
			}
		}
		return true
	case ">":
		sv := mustVersion(s.Version)
		if p.Compare(sv) <= 0 {
			return false
		}
		// ">V MUST NOT allow a post-release of the specified version unless
		// the specified version is itself a post-release."
		if !sv.IsPostrelease() && p.IsPostrelease() {
			base := p
			base.Post, base.Dev, base.Local = -1, -1, ""
			if base.Compare(sv) == 0 {
				return false
			}
		}
		// ">V MUST NOT match a local version of the specified version."
		if p.Local != "" && p.public().Compare(sv) == 0 {
			return false
		}
		return true
	}
	return false
}

func mustVersion(s string) Version {
	v, err := Parse(s)
	if err != nil {
		return Version{Release: []int{0}, Post: -1, Dev: -1}
	}
	return v
}

// matchEqual is "==": exact (ignoring the candidate's local label when
// the clause has none) or, with ".*", a prefix match on the release.
func matchEqual(p Version, spec string) bool {
	if base, ok := strings.CutSuffix(spec, ".*"); ok {
		sv := mustVersion(base)
		split := versionSplit(sv)
		cand := versionSplit(p.public())
		// Pad the candidate's release to the clause's release length.
		specRel := len(sv.Release)
		if got := len(p.Release); got < specRel {
			pad := make([]string, 0, len(cand)+specRel-got)
			pad = append(pad, cand[:1+got]...)
			for range specRel - got {
				pad = append(pad, "0")
			}
			cand = append(pad, cand[1+got:]...)
		}
		if len(cand) < len(split) {
			return false
		}
		for i := range split {
			if split[i] != cand[i] {
				return false
			}
		}
		return true
	}
	sv := mustVersion(spec)
	if sv.Local == "" {
		p = p.public()
	}
	return p.Compare(sv) == 0
}

// versionSplit is packaging's _version_split of a normalised version:
// epoch, release numbers, then the pre/post/dev/local parts.
func versionSplit(v Version) []string {
	out := []string{strconv.Itoa(v.Epoch)}
	for _, r := range v.Release {
		out = append(out, strconv.Itoa(r))
	}
	if v.Pre != "" {
		out = append(out, fmt.Sprintf("%s%d", v.Pre, v.PreN))
	}
	if v.Post >= 0 {
		out = append(out, fmt.Sprintf("post%d", v.Post))
	}
	if v.Dev >= 0 {
		out = append(out, fmt.Sprintf("dev%d", v.Dev))
	}
	return out
}

// SpecifierSet is a comma-separated list of clauses, all of which must
// hold; the empty set holds for every version.
type SpecifierSet []Specifier

// ParseSpecifierSet parses "requires-python" style text.
func ParseSpecifierSet(s string) (SpecifierSet, error) {
	var out SpecifierSet
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		sp, err := ParseSpecifier(part)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// Contains says whether version item satisfies every clause.
func (ss SpecifierSet) Contains(item string) bool {
	for _, s := range ss {
		if !s.Contains(item) {
			return false
		}
	}
	return true
}

func (ss SpecifierSet) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// MustParse parses a version written in the program (a constant); it
// panics if it is not one.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}
