package policy

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// A TOML document's keys by path, for errors at each key's own line. A path
// is the document's keys from its root; an element of an array (an array
// of tables, or an inline array) is the segment index(i).

func index(i int) string { return "\x00" + strconv.Itoa(i) }

func pathKey(path []string) string { return strings.Join(path, "\x1f") }

// keyLines maps every key path of a document that go-toml has already
// accepted to the line where it is first written: a header's keys at the
// header, a dotted key's parts at its key-value, an array's elements at
// their own lines. Tables and arrays of tables reached through dotted keys,
// [tool."pipguard"], [tool.'pipguard'] and inline tables are all paths like
// any other.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	counts := map[string]int{} // arrays of tables: elements so far
	line := func(n *unstable.Node, parent int) int {
		if n == nil || n.Raw.Length == 0 {
			return parent
		}
		return p.Shape(n.Raw).Start.Line
	}
	record := func(path []string, l int) {
		if k := pathKey(path); lines[k] == 0 {
			lines[k] = l
		}
	}
	var value func(path []string, v *unstable.Node, l int)
	keyValue := func(prefix []string, kv *unstable.Node) {
		path := append([]string{}, prefix...)
		l := 0
		for it := kv.Key(); it.Next(); {
			k := it.Node()
			if l == 0 {
				l = line(k, 0)
			}
			path = append(path, string(k.Data))
			record(path, l)
		}
		value(path, kv.Value(), l)
	}
	value = func(path []string, v *unstable.Node, l int) {
		switch v.Kind {
		case unstable.InlineTable:
			for it := v.Children(); it.Next(); {
				if kv := it.Node(); kv.Kind == unstable.KeyValue {
					keyValue(path, kv)
				}
			}
		case unstable.Array:
			i := 0
			for it := v.Children(); it.Next(); {
				e := it.Node()
				if e.Kind == unstable.Comment {
					continue
				}
				el := append(append([]string{}, path...), index(i))
				record(el, line(e, l))
				value(el, e, line(e, l))
				i++
			}
		}
	}
	var cur []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var parts []*unstable.Node
			for it := e.Key(); it.Next(); {
				parts = append(parts, it.Node())
			}
			var path []string
			for i, k := range parts {
				path = append(path, string(k.Data))
				l := line(k, 0)
				record(path, l)
				if i == len(parts)-1 && e.Kind == unstable.ArrayTable {
					n := counts[pathKey(path)]
					counts[pathKey(path)] = n + 1
					path = append(path, index(n))
					record(path, l)
					continue
				}
				if n, ok := counts[pathKey(path)]; ok {
					path = append(path, index(n-1))
				}
			}
			cur = path
		case unstable.KeyValue:
			keyValue(cur, e)
		}
	}
	return lines
}

// displayKey is a path as a user writes the key: dotted, quoted where a
// part is not a bare key, array elements left out.
func displayKey(path []string) string {
	var parts []string
	for _, s := range path {
		if strings.HasPrefix(s, "\x00") {
			continue
		}
		if s == "" || strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) >= 0 {
			s = strconv.Quote(s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ".")
}
