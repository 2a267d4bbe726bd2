package pylock

import (
	"fmt"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps each key path of a TOML document (packages[1].wheels[0].url)
// to the line its key is on, for error messages. A document the parser
// rejects yields what was read before the error.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	arrays := map[string]int{} // array-of-tables path -> entries so far
	p := &unstable.Parser{}
	p.Reset(data)
	line := func(n *unstable.Node) int {
		defer func() { _ = recover() }()
		return p.Shape(n.Raw).Start.Line
	}
	// resolve turns dotted key parts under prefix into a path, stepping
	// into the last entry of any array of tables on the way.
	resolve := func(prefix string, it unstable.Iterator, last bool) (string, *unstable.Node) {
		path := prefix
		var lastNode *unstable.Node
		for it.Next() {
			n := it.Node()
			lastNode = n
			path = join(path, string(n.Data))
			if c, ok := arrays[path]; ok && !(last && it.IsLast()) {
				path = fmt.Sprintf("%s[%d]", path, c-1)
			}
		}
		return path, lastNode
	}
	var value func(path string, v *unstable.Node)
	value = func(path string, v *unstable.Node) {
		switch v.Kind {
		case unstable.InlineTable:
			kids := v.Children()
			for kids.Next() {
				kv := kids.Node()
				if kv.Kind != unstable.KeyValue {
					continue
				}
				kp, kn := resolve(path, kv.Key(), false)
				if kn != nil {
					lines[kp] = line(kn)
				}
				value(kp, kv.Value())
			}
		case unstable.Array:
			kids := v.Children()
			i := 0
			for kids.Next() {
				e := kids.Node()
				if e.Kind == unstable.Comment {
					continue
				}
				ep := fmt.Sprintf("%s[%d]", path, i)
				if l := line(e); l > 0 {
					lines[ep] = l
				}
				value(ep, e)
				i++
			}
		}
	}
	prefix := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			path, kn := resolve("", e.Key(), false)
			prefix = path
			if kn != nil {
				lines[path] = line(kn)
			}
		case unstable.ArrayTable:
			path, kn := resolve("", e.Key(), true)
			arrays[path]++
			prefix = fmt.Sprintf("%s[%d]", path, arrays[path]-1)
			if kn != nil {
				lines[prefix] = line(kn)
			}
		case unstable.KeyValue:
			kp, kn := resolve(prefix, e.Key(), false)
			if kn != nil {
				lines[kp] = line(kn)
			}
			value(kp, e.Value())
		}
	}
	return lines
}
