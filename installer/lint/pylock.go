package lint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/redact"
	"github.com/pipguard/pipguard/policy"
)

// pylockName is PEP 751's file name: "pylock.toml", or
// "pylock.<name>.toml" where the name has no dot ("The file name MUST
// match the regex ^pylock\.([^.]+)\.toml$" for a named lock).
var pylockName = regexp.MustCompile(`^pylock(\.[^.]+)?\.toml$`)

// packageKey is the key path of one [[packages]] entry.
var packageKey = regexp.MustCompile(`^packages\[[0-9]+\]$`)

// IsPylock says whether check reads path as a PEP 751 lock file
// (pylock.toml or pylock.NAME.toml) rather than as a pyproject.toml.
func IsPylock(path string) bool { return pylockName.MatchString(filepath.Base(path)) }

// pylockRule sorts one of pylock.Read's refusals into a check rule, by
// what it is about: the key path says a hash, the message a URL's plain
// http or credentials, a name's normal form or the package's source kinds.
// Everything else the spec requires (keys, types, versions, markers, the
// lock-version) is pylock-invalid.
func pylockRule(fe *pylock.FieldError) string {
	last := fe.Path
	if i := strings.LastIndexAny(last, ".]"); i >= 0 {
		last = last[i+1:]
	}
	switch {
	case strings.Contains(fe.Msg, "uses plain http"):
		return RulePylockHTTP
	case strings.Contains(fe.Msg, "carries credentials"), strings.Contains(fe.Msg, "carries a credential"):
		return RulePylockCredential
	case strings.Contains(fe.Msg, "is not normalised"):
		return RulePylockName
	case last == "hashes" || strings.Contains(fe.Path, ".hashes."):
		return RulePylockHash
	case strings.Contains(fe.Msg, "one kind of source"), strings.Contains(fe.Msg, "has no source"),
		strings.Contains(fe.Msg, "of vcs, directory and archive: exactly one"):
		return RulePylockSource
	}
	return RulePylockInvalid
}

// noteRules are the check rules of pylock.Lock.Notes' codes; a code
// this table does not know is reported as pylock-note.
var noteRules = map[string]string{
	"no-environments":     RulePylockNoEnvironments,
	"no-requires-python":  RulePylockNoRequiresPython,
	"no-identities":       RulePylockNoIdentities,
	"no-size":             RulePylockNoSize,
	"unknown-key":         RulePylockUnknownKey,
	"newer-minor-version": RulePylockNewerVersion,
}

// unattestedSeverity is the severity of an index package that records no
// attestation identities (pylock-unattested), "" when the policy does
// not ask for them. The policy has no key for index attestations yet: until
// it has, such a package is a warning.
func unattestedSeverity(pol *policy.Policy) Severity {
	if pol == nil {
		return envaudit.Warning
	}
	switch pol.IndexAttestations.V {
	case "require":
		return envaudit.Error // install refuses a file without provenance
	case "off":
		return ""
	}
	return envaudit.Warning
}

// pylock checks a PEP 751 lock file: every refusal of pylock.Read (the
// spec's required keys and types, one source kind per package, normalised
// names, a checkable hash on every file, no plain http, no credentials in
// any URL), each at its key's line and column; index packages without
// attestation identities where the policy asks for them; and, for a lock
// Read accepts, what it lacks (pylock.Lock.Notes) as info.
func (c *checker) pylock(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return missing(path, err)
	}
	if len(data) > policy.MaxFile {
		return &Error{File: path, Msg: fmt.Sprintf("larger than %d MiB", policy.MaxFile>>20)}
	}
	pos, keys := tomlPositions(data)
	at := func(keyPath string, line int) loc {
		if off, ok := pos.find(keyPath); ok {
			return position(path, data, off)
		}
		if line > 0 {
			return loc{path, line, 1}
		}
		return loc{path, 1, 1}
	}
	atKey := func(keyPath string) loc {
		if off, ok := keys.find(keyPath); ok {
			return position(path, data, off)
		}
		return loc{path, 1, 1}
	}
	l, err := pylock.Read(c.show(path), data)
	if err != nil {
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		// The packages the document has, as far as it could be read.
		for k := range pos {
			if packageKey.MatchString(k) {
				c.locked++
			}
		}
		start := len(c.findings)
		for _, e := range errs {
			var fe *pylock.FieldError
			if !errors.As(e, &fe) {
				c.add(loc{path, 1, 1}, RulePylockInvalid, redact.String(e.Error()), "")
				continue
			}
			where := at(fe.Path, fe.Line)
			if strings.HasPrefix(fe.Msg, "not TOML") {
				var de *toml.DecodeError
				if errors.As(toml.Unmarshal(data, new(map[string]any)), &de) {
					where.line, where.col = de.Position()
				}
			}
			msg := fe.Msg
			if fe.Path != "" {
				msg = fe.Path + ": " + msg
			}
			c.add(where, pylockRule(fe), redact.String(msg), "")
		}
		// In the order of the file's lines, as the other files' findings.
		mine := c.findings[start:]
		sort.SliceStable(mine, func(i, j int) bool {
			if mine[i].Line != mine[j].Line {
				return mine[i].Line < mine[j].Line
			}
			return mine[i].Column < mine[j].Column
		})
		return nil
	}
	c.locked += len(l.Packages)
	if sev := unattestedSeverity(c.o.Policy); sev != "" {
		for i, p := range l.Packages {
			if p.Index == "" || len(p.AttestationIdentities) > 0 {
				continue
			}
			kp := fmt.Sprintf("packages[%d]", i)
			c.addSeverity(at(kp+".index", 0), RulePylockUnattested, sev,
				redact.String(fmt.Sprintf("%s: %s %s is from the index %s but records no attestation identities: its provenance cannot be checked against the lock", kp, p.Name, p.Version, pylock.Redact(p.Index))), "")
		}
	}
	for _, n := range l.Notes() {
		rule, ok := noteRules[n.Code]
		if !ok {
			rule = RulePylockNote
		}
		msg := n.Msg
		if strings.ContainsAny(n.Path, ".[") {
			msg = n.Path + ": " + msg // a key inside a table
		}
		where := at(n.Path, 0)
		if n.Code == "unknown-key" {
			where = atKey(n.Path)
		}
		c.addSeverity(where, rule, envaudit.Info, redact.String(msg), "")
	}
	return nil
}

// positions are where each key path of a TOML document
// (packages[1].wheels[0].url) is: its value's first byte for a scalar,
// else its key's. pylock keeps its own map of lines, unexported; this one
// adds the column.
type positions map[string]int

// find is the offset of keyPath, or of its nearest parent that has one.
func (p positions) find(keyPath string) (int, bool) {
	for k := keyPath; k != ""; {
		if off, ok := p[k]; ok {
			return off, true
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0, false
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// tomlPositions reads data as pylock's key lines do, and gives each key
// path's position (see positions) and its key's (dotted keys, tables,
// arrays of tables counted as they come, inline tables and arrays); a
// document the parser rejects yields what was read before the error.
func tomlPositions(data []byte) (pos, keys positions) {
	pos, keys = positions{}, positions{}
	arrays := map[string]int{} // array-of-tables path -> entries so far
	p := &unstable.Parser{}
	p.Reset(data)
	offset := func(n *unstable.Node) (off int, ok bool) {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		if n.Raw.Length == 0 && n.Raw.Offset == 0 {
			return 0, false
		}
		return int(n.Raw.Offset), true
	}
	set := func(path string, n *unstable.Node) {
		if n == nil {
			return
		}
		if off, ok := offset(n); ok {
			pos[path] = off
			keys[path] = off
		}
	}
	scalar := func(path string, v *unstable.Node) {
		switch v.Kind {
		case unstable.String, unstable.Integer, unstable.Float, unstable.Bool,
			unstable.DateTime, unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime:
			if off, ok := offset(v); ok {
				pos[path] = off
			}
		}
	}
	resolve := func(prefix string, it unstable.Iterator, last bool) (string, *unstable.Node) {
		path := prefix
		var lastNode *unstable.Node
		for it.Next() {
			n := it.Node()
			lastNode = n
			path = joinKey(path, string(n.Data))
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
			for kids := v.Children(); kids.Next(); {
				kv := kids.Node()
				if kv.Kind != unstable.KeyValue {
					continue
				}
				kp, kn := resolve(path, kv.Key(), false)
				set(kp, kn)
				scalar(kp, kv.Value())
				value(kp, kv.Value())
			}
		case unstable.Array:
			i := 0
			for kids := v.Children(); kids.Next(); {
				e := kids.Node()
				if e.Kind == unstable.Comment {
					continue
				}
				ep := fmt.Sprintf("%s[%d]", path, i)
				scalar(ep, e)
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
			set(path, kn)
		case unstable.ArrayTable:
			path, kn := resolve("", e.Key(), true)
			arrays[path]++
			prefix = fmt.Sprintf("%s[%d]", path, arrays[path]-1)
			set(prefix, kn)
			if _, ok := pos[path]; !ok {
				set(path, kn) // the array is where its first entry is
			}
		case unstable.KeyValue:
			kp, kn := resolve(prefix, e.Key(), false)
			set(kp, kn)
			scalar(kp, e.Value())
			value(kp, e.Value())
		}
	}
	return pos, keys
}
