package lint

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/policy"
)

// pyproject checks the dependencies a pyproject.toml declares: the PEP 621
// keys [project] dependencies (a list of PEP 508 strings) and
// optional-dependencies (a table of such lists), however the TOML spells
// them ([project], [project.optional-dependencies], dotted keys, inline
// tables). Dynamic dependencies and other tools' tables are not read.
func (c *checker) pyproject(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return missing(path, err)
	}
	if len(data) > policy.MaxFile {
		return &Error{File: path, Msg: fmt.Sprintf("larger than %d MiB", policy.MaxFile>>20)}
	}
	// The whole file as a TOML reader takes it first: a duplicate key or
	// a redefined table is an error (Python's tomllib, and so pip's build
	// backends, refuse the file).
	var whole map[string]any
	if err := toml.Unmarshal(data, &whole); err != nil {
		e := &Error{File: path, Msg: "not valid TOML: " + err.Error(), Fix: "fix the TOML"}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			e.Line, e.Column = de.Position()
		}
		return e
	}
	p := &unstable.Parser{}
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyOf(expr.Key())
		case unstable.KeyValue:
			key := append(append([]string{}, table...), keyOf(expr.Key())...)
			if err := c.pyValue(p, path, key, expr.Value()); err != nil {
				return err
			}
		}
	}
	if err := p.Error(); err != nil {
		e := &Error{File: path, Msg: "not valid TOML: " + err.Error(), Fix: "fix the TOML syntax"}
		var pe *unstable.ParserError
		if errors.As(err, &pe) {
			if off, ok := offsetOf(p, pe.Highlight); ok {
				l := position(path, data, off)
				e.Line, e.Column = l.line, l.col
			}
		}
		return e
	}
	return nil
}

func keyOf(it unstable.Iterator) []string {
	var out []string
	for it.Next() {
		out = append(out, string(it.Node().Data))
	}
	return out
}

func isKey(key []string, want ...string) bool {
	if len(key) != len(want) {
		return false
	}
	for i := range key {
		if key[i] != want[i] {
			return false
		}
	}
	return true
}

// pyValue checks value, set at key, if key is a dependency list or holds
// some.
func (c *checker) pyValue(p *unstable.Parser, path string, key []string, value *unstable.Node) error {
	switch {
	case isKey(key, "project", "dependencies"), len(key) == 3 && isKey(key[:2], "project", "optional-dependencies"):
		if value.Kind != unstable.Array {
			return &Error{File: path, Msg: strings.Join(key, ".") + " must be a list of requirement strings (PEP 621)", Fix: "write " + key[len(key)-1] + ` = ["name >= 1.0", ...]`}
		}
		for it := value.Children(); it.Next(); {
			n := it.Node()
			if n.Kind != unstable.String {
				return &Error{File: path, Msg: strings.Join(key, ".") + " must hold requirement strings only (PEP 621)", Fix: "quote each requirement"}
			}
			if err := c.pyRequirement(p, path, n); err != nil {
				return err
			}
		}
	case value.Kind == unstable.InlineTable && (isKey(key, "project") || isKey(key, "project", "optional-dependencies")):
		// project = { dependencies = [...] }, or
		// optional-dependencies = { extra = [...] }: each key-value
		// inside, at its full key.
		for it := value.Children(); it.Next(); {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			sub := append(append([]string{}, key...), keyOf(kv.Key())...)
			if err := c.pyValue(p, path, sub, kv.Value()); err != nil {
				return err
			}
		}
	}
	return nil
}

// pyRequirement checks one dependency string.
func (c *checker) pyRequirement(p *unstable.Parser, path string, n *unstable.Node) error {
	data := p.Data()
	raw := p.Raw(n.Raw)
	value := string(n.Data)
	off := int(n.Raw.Offset)
	// A one-line string without escapes maps byte for byte after its
	// opening quote; any other points at the string's start.
	exact := len(raw) >= 2 && string(raw[1:len(raw)-1]) == value && !bytes.ContainsAny(raw, "\n")
	at := func(i int) loc {
		if exact {
			return position(path, data, off+1+i)
		}
		return position(path, data, off)
	}
	r, err := requirement.Parse(value)
	if err != nil {
		l := at(0)
		var pe *requirement.ParseError
		fix := ""
		if errors.As(err, &pe) {
			fix = pe.Hint()
			if pe.Column > 0 {
				l = at(pe.Column - 1)
			}
		}
		return &Error{File: path, Line: l.line, Column: l.col, Msg: err.Error(), Fix: fix}
	}
	c.count(at(0))
	c.requirement(r, text{s: value, at: at}, firstNonSpace(value, 0), false)
	return nil
}

// offsetOf is where highlight is in the parser's data, if it is there.
func offsetOf(p *unstable.Parser, highlight []byte) (off int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return int(p.Range(highlight).Offset), highlight != nil
}

// position is the line and byte column of offset in data.
func position(path string, data []byte, offset int) loc {
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := offset - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return loc{path, line, col}
}
