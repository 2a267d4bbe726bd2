package pylock

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pep440"
)

type markerCase struct {
	Marker string            `json:"marker"`
	Env    map[string]string `json:"env"`
	Extras []string          `json:"extras"`
	Groups []string          `json:"groups"`
}

type markerResult struct {
	ParseError string `json:"parse_error"`
	Value      *bool  `json:"value"`
	EvalError  string `json:"eval_error"`
}

var (
	genVars = []string{"python_version", "python_full_version", "os_name", "os.name", "sys_platform", "sys.platform",
		"platform_release", "platform_system", "platform_version", "platform.version", "platform_machine", "platform.machine",
		"platform_python_implementation", "python_implementation", "implementation_name", "implementation_version",
		"extras", "dependency_groups", "extra"}
	genLits = []string{"3.12", "3.12.3", "3", "3.11", "3.12.*", "2.7", "3.13.0rc1", "1.0+local", "nt", "posix", "linux", "win32",
		"x86_64", "AMD64", "cpython", "CPython", "security", "Security_Extra", "tests", "default", "", "6.1.0", "Linux", "Windows",
		"a", "x", "os_name", "extras", "3.12.0", "~", "*"}
	genOps = []string{"==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in"}
)

func genMarker(r *rand.Rand, depth int) string {
	if depth > 0 && r.Intn(3) == 0 {
		n := 2 + r.Intn(2)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = genMarker(r, depth-1)
		}
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				b.WriteString([]string{" and ", " or ", " and", "and ", "\tor\t"}[r.Intn(5)])
			}
			if r.Intn(2) == 0 {
				b.WriteString("(" + p + ")")
			} else {
				b.WriteString(p)
			}
		}
		return b.String()
	}
	side := func() string {
		if r.Intn(2) == 0 {
			return genVars[r.Intn(len(genVars))]
		}
		q := []string{`"`, `'`}[r.Intn(2)]
		return q + genLits[r.Intn(len(genLits))] + q
	}
	ws := func() string { return []string{"", " ", "  ", "\t"}[r.Intn(4)] }
	// Usually a variable against a literal.
	l, rr := side(), side()
	return l + ws() + genOps[r.Intn(len(genOps))] + ws() + rr
}

func mutate(r *rand.Rand, s string) string {
	chars := "()'\" =<>!~andorit_."
	b := []byte(s)
	for n := 1 + r.Intn(2); n > 0; n-- {
		i := 0
		if len(b) > 0 {
			i = r.Intn(len(b))
		}
		switch r.Intn(3) {
		case 0:
			if len(b) > 0 {
				b = append(b[:i], b[i+1:]...)
			}
		case 1:
			b = append(b[:i], append([]byte{chars[r.Intn(len(chars))]}, b[i:]...)...)
		default:
			if len(b) > 0 {
				b[i] = chars[r.Intn(len(chars))]
			}
		}
	}
	return string(b)
}

// TestMarkerDiff compares ParseMarker+evaluate with packaging's
// Marker(...).evaluate(env, context="lock_file") on generated and mutated
// markers in every test environment.
func TestMarkerDiff(t *testing.T) {
	r := rand.New(rand.NewSource(751))
	var cases []markerCase
	var fixed = []string{
		`python_version >= "3.6" and "security" in extras`, `"default" in dependency_groups or "security" in extras`,
		`os_name == "nt" and "default" in dependency_groups`, `python_full_version >= '3.12.0rc1'`,
		`python_version == "3.12.*"`, `platform_release < "6.2"`, `implementation_version ~= "3.12"`,
		`python_version === "3.12"`, `os_name < "posix"`, `os_name <= "posix"`, `"3.6" < python_version`,
		`"Security-Extra" in extras`, `extras == "a"`, `"a" in "extras"`, `python_version in "3.12.3"`,
		`os_name ~= "nt"`, `python_version ~= "3"`, "os_name == 'nt'\n", `os_name=='nt'and os_name=='posix'`,
		`(os_name == 'nt' or (sys_platform == 'linux'))`, `python_version >= "3.x"`, `platform_version == "#1 SMP"`,
	}
	markers := append([]string(nil), fixed...)
	for range 700 {
		m := genMarker(r, 2)
		markers = append(markers, m)
		if r.Intn(2) == 0 {
			markers = append(markers, mutate(r, m))
		}
	}
	extrasChoices := [][2][]string{{nil, nil}, {{"security", "Security_Extra"}, {"default"}}, {{"tests"}, {"dev", "default"}}}
	envs := envNames()
	for i, m := range markers {
		e := testEnvs[envs[i%len(envs)]]
		c := extrasChoices[i%len(extrasChoices)]
		cases = append(cases, markerCase{Marker: m, Env: e.Markers, Extras: c[0], Groups: c[1]})
	}
	var py []markerResult
	oracle(t, "marker", cases, &py)
	var agree, parseRefused, evalRefused int
	for i, c := range cases {
		p := py[i]
		m, err := ParseMarker(c.Marker)
		if (err != nil) != (p.ParseError != "") {
			t.Errorf("marker %q: go parse error %v, packaging %q", c.Marker, err, p.ParseError)
			continue
		}
		if err != nil {
			parseRefused++
			agree++
			continue
		}
		v, err := m.evaluate(markerEnv{values: c.Env, sets: map[string]map[string]bool{"extras": setOf(c.Extras), "dependency_groups": setOf(c.Groups)}})
		if (err != nil) != (p.EvalError != "") {
			t.Errorf("marker %q: go eval error %v, packaging %q", c.Marker, err, p.EvalError)
			continue
		}
		if err != nil {
			evalRefused++
			agree++
			continue
		}
		if p.Value == nil || v != *p.Value {
			t.Errorf("marker %q in %s: go %v, packaging %v", c.Marker, fmt.Sprint(c.Env["sys_platform"], c.Env["python_full_version"]), v, p.Value)
			continue
		}
		agree++
	}
	t.Logf("markers: %d/%d agree (%d refused by both at parse, %d at evaluation)", agree, len(cases), parseRefused, evalRefused)
}

type specCase struct {
	Spec    string `json:"spec"`
	Version string `json:"version"`
}

type specResult struct {
	ParseError string `json:"parse_error"`
	Value      bool   `json:"value"`
}

// TestSpecifierDiff compares SpecifierSet parsing and Contains (the
// requires-python checks) with packaging's SpecifierSet.contains.
func TestSpecifierDiff(t *testing.T) {
	r := rand.New(rand.NewSource(440))
	vers := []string{"3.12.3", "3.12", "3.12.0", "3.13.0rc1", "3.12.0rc1", "3.12.post1", "3.12.3+local", "3.12.dev0", "3", "2.7.18",
		"1!3.12", "3.12.0a1", "3.12.3.post2.dev1", "3.11.7", "3.12.1+ubuntu.1", "v3.12", "3.12.3-1", "3.12.3c1", "bogus", "3.4.10"}
	ops := []string{"==", "!=", "<", "<=", ">", ">=", "~=", "==="}
	var cases []specCase
	for _, s := range []string{">=3.3", "== 3.12.*", ">= 3.8", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*", ">=3.5.0", "", " ", ">=3.x", "~=3", "===3.12.3", "<3.12.3+local", "==3.12.3+local", ",>=3"} {
		for _, v := range vers {
			cases = append(cases, specCase{s, v})
		}
	}
	for range 1500 {
		var parts []string
		for n := 1 + r.Intn(2); n > 0; n-- {
			v := vers[r.Intn(len(vers))]
			if r.Intn(4) == 0 {
				sp := strings.Split(v, ".")
				v = strings.Join(sp[:min(len(sp), 1+r.Intn(2))], ".") + ".*"
			}
			parts = append(parts, ops[r.Intn(len(ops))]+[]string{"", " "}[r.Intn(2)]+v)
		}
		cases = append(cases, specCase{strings.Join(parts, ","), vers[r.Intn(len(vers))]})
	}
	var py []specResult
	oracle(t, "spec", cases, &py)
	agree := 0
	for i, c := range cases {
		ss, err := pep440.ParseSpecifierSet(c.Spec)
		if (err != nil) != (py[i].ParseError != "") {
			t.Errorf("spec %q: go parse error %v, packaging %q", c.Spec, err, py[i].ParseError)
			continue
		}
		if err == nil && ss.Contains(c.Version) != py[i].Value {
			t.Errorf("spec %q contains %q: go %v, packaging %v", c.Spec, c.Version, ss.Contains(c.Version), py[i].Value)
			continue
		}
		agree++
	}
	t.Logf("specifiers: %d/%d agree", agree, len(cases))
}
