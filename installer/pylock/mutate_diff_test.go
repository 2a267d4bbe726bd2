package pylock

import (
	"errors"
	"fmt"
	"math/rand"
	"regexp"
	"sort"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
)

// strictRules are pipguard's documented refusals of documents packaging
// 26.2 accepts. A mutant Read refuses and packaging accepts must be
// refused only for these.
var strictRules = regexp.MustCompile(strings.Join([]string{
	`uses plain http`, `carries credentials`, `carries a credential in query`, `is not absolute`, `has scheme`,
	`no hash pipguard can check`, `lower-case hex digits`, `not a full git commit hash`,
	`is defined only in a package's marker`, `is not a marker variable here`, `holds a set`, `is undefined on`,
	`is not a version comparison`, `quoted string with a backslash`, `is negative`,
	`expected an integer, got boolean`,
}, "|"))

// strictPath: identity keys and pipguard's own table are typed more
// strictly than packaging types them.
func strictPath(fe *FieldError) bool {
	return strings.Contains(fe.Path, "attestation-identities") && strings.Contains(fe.Msg, "expected a string") ||
		strings.Contains(fe.Path, "tool."+ToolName)
}

type mutant struct {
	label string
	doc   []byte
}

func paths(v any, prefix []any, out *[][]any) {
	switch x := v.(type) {
	case map[string]any:
		keys := sortedKeys(x)
		for _, k := range keys {
			p := append(append([]any(nil), prefix...), k)
			*out = append(*out, p)
			paths(x[k], p, out)
		}
	case []any:
		for i, e := range x {
			p := append(append([]any(nil), prefix...), i)
			*out = append(*out, p)
			paths(e, p, out)
		}
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// apply sets (or deletes, when del) the value at path in doc.
func apply(doc any, path []any, val any, del bool) {
	cur := doc
	for i, p := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			k := p.(string)
			if last {
				if del {
					delete(c, k)
				} else {
					c[k] = val
				}
				return
			}
			cur = c[k]
		case []any:
			j := p.(int)
			if last {
				if del {
					// Arrays lose an element by blanking to an empty table.
					c[j] = map[string]any{}
				} else {
					c[j] = val
				}
				return
			}
			cur = c[j]
		}
	}
}

func fmtPath(p []any) string {
	var b strings.Builder
	for _, e := range p {
		switch x := e.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		}
	}
	return b.String()
}

var badStrings = []string{"", "x", "http://files.example/a-1.0.tar.gz", "https://u:p@files.example/a-1.0.tar.gz", "Foo_Bar",
	"1..0", "os_name = 'x'", ">=3.x", "2.0", "1.5", "https://files.example/a-1.0-py3-none-any.whl", "'x' in extras", "ABCDEF"}

func mutants(t *testing.T, r *rand.Rand, name string, data []byte, n int) []mutant {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var ps [][]any
	paths(doc, nil, &ps)
	var out []mutant
	for range n {
		p := ps[r.Intn(len(ps))]
		d := deepCopy(doc)
		var what string
		switch k := r.Intn(8); {
		case k == 0:
			apply(d, p, nil, true)
			what = "delete"
		case k == 1:
			apply(d, p, int64(1), false)
			what = "= 1"
		case k == 2:
			apply(d, p, []any{}, false)
			what = "= []"
		case k == 3:
			apply(d, p, map[string]any{}, false)
			what = "= {}"
		case k == 4:
			apply(d, p, true, false)
			what = "= true"
		default:
			s := badStrings[r.Intn(len(badStrings))]
			apply(d, p, s, false)
			what = fmt.Sprintf("= %q", s)
		}
		b, err := toml.Marshal(d)
		if err != nil {
			continue
		}
		out = append(out, mutant{label: fmt.Sprintf("%s: %s %s", name, fmtPath(p), what), doc: b})
	}
	return out
}

// TestValidationDiff mutates every fixture and a pipguard-written lock
// and compares Read with packaging's Pylock.from_dict: both accept, both
// refuse, or pipguard refuses for a documented strict rule only.
func TestValidationDiff(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	docs := fixtureDocs(t)
	w, err := Write(pipguardLock())
	if err != nil {
		t.Fatal(err)
	}
	docs["pipguard-written"] = w
	var names []string
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	var ms []mutant
	for _, n := range names {
		ms = append(ms, mutants(t, r, n, docs[n], 250)...)
	}
	cases := make([]lockCase, len(ms))
	for i, m := range ms {
		cases[i] = lockCase{TOML: string(m.doc)}
	}
	var py []pyLockResult
	oracle(t, "lock", cases, &py)
	var bothOK, bothRefuse, strict, tomlDiff int
	for i, m := range ms {
		p := py[i]
		_, err := Read("mutant", m.doc)
		if p.TOMLError != "" {
			tomlDiff++
			continue
		}
		switch {
		case err == nil && p.OK:
			bothOK++
		case err != nil && !p.OK:
			bothRefuse++
		case err == nil && !p.OK:
			t.Errorf("%s: pipguard accepts, packaging refuses: %s\n%s", m.label, p.Error, m.doc)
		default:
			allStrict := true
			for _, e := range unjoin(err) {
				var fe *FieldError
				if !errors.As(e, &fe) || !(strictRules.MatchString(fe.Msg) || strictPath(fe)) {
					allStrict = false
				}
			}
			if !allStrict {
				t.Errorf("%s: pipguard refuses, packaging accepts, not for a documented strict rule:\n%v", m.label, err)
				continue
			}
			strict++
		}
	}
	t.Logf("mutants: %d; both accept %d, both refuse %d, pipguard stricter (documented) %d, not TOML to tomllib %d", len(ms), bothOK, bothRefuse, strict, tomlDiff)
}
