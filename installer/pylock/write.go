package pylock

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/pipguard/pipguard/internal/pep440"
)

// ToolName is pipguard's key under [packages.tool] and [tool].
const ToolName = "pipguard"

// Record is what pipguard keeps about a package in
// [packages.tool.pipguard]: facts it verified, never anything that changes
// what gets installed. An installer that is not pipguard ignores it;
// pipguard uses it only to add checks.
type Record struct {
	// For a guarded git requirement's release asset.
	Repository   string `toml:"repository,omitempty"`    // "https://github.com/o/r"
	RepositoryID int64  `toml:"repository-id,omitempty"` // numeric id, stable across renames
	Tag          string `toml:"tag,omitempty"`
	Commit       string `toml:"commit,omitempty"`
	// SignerWorkflow is the workflow that signed the release's provenance.
	SignerWorkflow string `toml:"signer-workflow,omitempty"`
	SourceRef      string `toml:"source-ref,omitempty"`
	// BuildCommit and CommitDistance are the commit the verified build
	// provenance names and how many commits it is before Commit (0: the
	// same; max_commit_distance accepted it): a hermetic install checks
	// its policy against these, not against a recorded comparison.
	BuildCommit    string `toml:"build-commit,omitempty"`
	CommitDistance int    `toml:"commit-distance,omitempty"`
	// Verified names what was verified when the lock was made, e.g.
	// "sha256", "size", "provenance", "release-attestation"; "sha256sums"
	// (the release's SHA256SUMS listed the asset) and "release-immutable"
	// (the release was immutable), which a later install requires again.
	Verified []string `toml:"verified,omitempty"`
}

// Verified names a lock records for the release's SHA256SUMS and its
// immutability.
const (
	VerifiedSHA256SUMS = "sha256sums"
	VerifiedImmutable  = "release-immutable"
)

// Pipguard returns the package's [packages.tool.pipguard] record, nil if
// it has none.
func (p *Package) Pipguard() (*Record, error) {
	raw, ok := p.Tool[ToolName]
	if !ok {
		return nil, nil
	}
	b, err := toml.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: packages.tool.%s: %v", ErrInvalid, ToolName, err)
	}
	var r Record
	dec := toml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: packages.tool.%s: %v", ErrInvalid, ToolName, err)
	}
	return &r, nil
}

// SetPipguard stores r as the package's [packages.tool.pipguard] table.
func (p *Package) SetPipguard(r Record) {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("repository", r.Repository)
	if r.RepositoryID != 0 {
		m["repository-id"] = r.RepositoryID
	}
	put("tag", r.Tag)
	put("commit", r.Commit)
	put("signer-workflow", r.SignerWorkflow)
	put("source-ref", r.SourceRef)
	put("build-commit", r.BuildCommit)
	if r.CommitDistance != 0 {
		m["commit-distance"] = r.CommitDistance
	}
	if len(r.Verified) > 0 {
		vs := make([]any, len(r.Verified))
		for i, v := range r.Verified {
			vs[i] = v
		}
		m["verified"] = vs
	}
	if p.Tool == nil {
		p.Tool = map[string]any{}
	}
	p.Tool[ToolName] = m
}

// ErrCredential marks a URL Write refuses to put in a lock.
var ErrCredential = errors.New("refusing to write a credential into a lock")

// Write renders l as pylock.toml text: keys in the spec's order, packages
// sorted by name, version and marker, wheels by file name, hash and tool
// keys sorted, so the same lock always gives the same bytes. It refuses a
// lock Read would refuse, and names ErrCredential when a URL carries a
// secret (the URL is never echoed unredacted).
func Write(l *Lock) ([]byte, error) {
	var errs []error
	checkURL := func(path, u string, vcs bool) {
		if u == "" {
			return
		}
		if err := CheckURL(u, vcs); err != nil {
			sentinel := ErrInvalid
			if strings.Contains(err.Error(), "credential") {
				sentinel = ErrCredential
			}
			errs = append(errs, fmt.Errorf("%w: %s: %v", sentinel, path, err))
		}
	}
	pkgs := make([]*Package, len(l.Packages))
	for i := range l.Packages {
		pkgs[i] = &l.Packages[i]
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			va, ea := pep440.Parse(a.Version)
			vb, eb := pep440.Parse(b.Version)
			if ea == nil && eb == nil && va.Compare(vb) != 0 {
				return va.Compare(vb) < 0
			}
			return a.Version < b.Version
		}
		return a.Marker < b.Marker
	})
	var w tw
	w.kv("lock-version", or(l.LockVersion, "1.0"))
	if len(l.Environments) > 0 {
		w.kv("environments", l.Environments)
	}
	if l.RequiresPython != "" {
		w.kv("requires-python", l.RequiresPython)
	}
	if len(l.Extras) > 0 {
		w.kv("extras", l.Extras)
	}
	if len(l.DependencyGroups) > 0 {
		w.kv("dependency-groups", l.DependencyGroups)
	}
	if len(l.DefaultGroups) > 0 {
		w.kv("default-groups", l.DefaultGroups)
	}
	w.kv("created-by", l.CreatedBy)
	if len(pkgs) == 0 {
		w.kv("packages", []any{})
	}
	for i, p := range pkgs {
		path := fmt.Sprintf("packages[%d]", i)
		w.header("[[packages]]")
		w.kv("name", p.Name)
		if p.Version != "" {
			w.kv("version", p.Version)
		}
		if p.Marker != "" {
			w.kv("marker", p.Marker)
		}
		if p.RequiresPython != "" {
			w.kv("requires-python", p.RequiresPython)
		}
		if p.Index != "" {
			checkURL(path+".index", p.Index, false)
			w.kv("index", p.Index)
		}
		if len(p.Dependencies) > 0 {
			deps := make([]any, len(p.Dependencies))
			for i, d := range p.Dependencies {
				deps[i] = d
			}
			w.kv("dependencies", deps)
		}
		if v := p.VCS; v != nil {
			checkURL(path+".vcs.url", v.URL, true)
			w.kv("vcs", ordered{
				{"type", v.Type}, {"url", v.URL}, {"path", v.Path},
				{"requested-revision", v.RequestedRevision}, {"commit-id", v.CommitID},
				{"subdirectory", v.Subdirectory},
			})
		}
		if d := p.Directory; d != nil {
			o := ordered{{"path", d.Path}}
			if d.Editable != nil {
				o = append(o, kvPair{"editable", *d.Editable})
			}
			w.kv("directory", append(o, kvPair{"subdirectory", d.Subdirectory}))
		}
		if a := p.Archive; a != nil {
			checkURL(path+".archive.url", a.URL, false)
			o := fileFields(File{URL: a.URL, Path: a.Path, Size: a.Size, UploadTime: a.UploadTime, Hashes: a.Hashes})
			w.kv("archive", append(o, kvPair{"subdirectory", a.Subdirectory}))
		}
		if s := p.Sdist; s != nil {
			checkURL(path+".sdist.url", s.URL, false)
			w.kv("sdist", fileFields(*s))
		}
		wheels := append([]File(nil), p.Wheels...)
		sort.SliceStable(wheels, func(i, j int) bool { return wheels[i].Filename() < wheels[j].Filename() })
		for wi, f := range wheels {
			checkURL(fmt.Sprintf("%s.wheels[%d].url", path, wi), f.URL, false)
			w.header("[[packages.wheels]]")
			for _, kv := range fileFields(f) {
				if s, ok := kv.v.(string); !ok || s != "" {
					w.kv(kv.k, kv.v)
				}
			}
		}
		ids := append([]Identity(nil), p.AttestationIdentities...)
		sort.SliceStable(ids, func(i, j int) bool { return identityKey(ids[i]) < identityKey(ids[j]) })
		for _, id := range ids {
			w.header("[[packages.attestation-identities]]")
			w.kv("kind", id.Kind)
			for _, kv := range (ordered{
				{"repository", id.Repository}, {"workflow", id.Workflow},
				{"workflow_filepath", id.WorkflowFilepath}, {"environment", id.Environment},
				{"email", id.Email},
			}) {
				if kv.v != "" {
					w.kv(kv.k, kv.v)
				}
			}
			for _, k := range sortedKeys(id.Extra) {
				w.kv(k, id.Extra[k])
			}
		}
		for _, k := range sortedKeys(p.Tool) {
			w.tool("packages.tool."+k, p.Tool[k])
		}
	}
	for _, k := range sortedKeys(l.Tool) {
		w.tool("tool."+k, l.Tool[k])
	}
	if w.err != nil {
		errs = append(errs, w.err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := w.b.Bytes()
	// The same rules as Read: pipguard never writes what it would refuse.
	if _, err := Read("written lock", out); err != nil {
		return nil, err
	}
	return out, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func identityKey(id Identity) string {
	return strings.Join([]string{id.Kind, id.Repository, id.Workflow, id.WorkflowFilepath, id.Environment, id.Email}, "\x00")
}

type kvPair struct {
	k string
	v any
}

// ordered is an inline table whose keys keep this order; empty strings
// and nil values are left out.
type ordered []kvPair

func fileFields(f File) ordered {
	o := ordered{{"name", f.Name}}
	if f.UploadTime != nil {
		o = append(o, kvPair{"upload-time", f.UploadTime.UTC()})
	}
	o = append(o, kvPair{"url", f.URL}, kvPair{"path", f.Path})
	if f.Size != nil {
		o = append(o, kvPair{"size", *f.Size})
	}
	hashes := make(map[string]any, len(f.Hashes))
	for k, v := range f.Hashes {
		hashes[k] = v
	}
	return append(o, kvPair{"hashes", hashes})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tw writes TOML text.
type tw struct {
	b   bytes.Buffer
	err error
}

func (w *tw) header(h string) {
	w.b.WriteString("\n" + h + "\n")
}

func (w *tw) kv(k string, v any) {
	w.b.WriteString(key(k) + " = ")
	w.value(v)
	w.b.WriteByte('\n')
}

// tool writes a [tool] subtable with a header when it is a table.
func (w *tw) tool(path string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		i := strings.LastIndexByte(path, '.')
		w.header("[" + path[:i] + "]")
		w.kv(path[i+1:], v)
		return
	}
	parts := strings.Split(path, ".")
	for i := range parts {
		parts[i] = key(parts[i])
	}
	w.header("[" + strings.Join(parts, ".") + "]")
	for _, k := range sortedKeys(m) {
		w.kv(k, m[k])
	}
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func key(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return quote(k)
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (w *tw) value(v any) {
	switch x := v.(type) {
	case string:
		w.b.WriteString(quote(x))
	case bool:
		w.b.WriteString(strconv.FormatBool(x))
	case int:
		w.b.WriteString(strconv.Itoa(x))
	case int64:
		w.b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			w.b.WriteString("nan")
		case math.IsInf(x, 1):
			w.b.WriteString("inf")
		case math.IsInf(x, -1):
			w.b.WriteString("-inf")
		default:
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eEn") {
				s += ".0"
			}
			w.b.WriteString(s)
		}
	case time.Time:
		w.b.WriteString(x.Format(time.RFC3339Nano))
	case toml.LocalDateTime:
		w.b.WriteString(x.String())
	case toml.LocalDate:
		w.b.WriteString(x.String())
	case toml.LocalTime:
		w.b.WriteString(x.String())
	case []string:
		w.b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.b.WriteString(quote(e))
		}
		w.b.WriteByte(']')
	case []any:
		w.b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.value(e)
		}
		w.b.WriteByte(']')
	case map[string]any:
		w.b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.b.WriteString(key(k) + " = ")
			w.value(x[k])
		}
		w.b.WriteByte('}')
	case ordered:
		w.b.WriteByte('{')
		n := 0
		for _, kv := range x {
			if s, ok := kv.v.(string); ok && s == "" || kv.v == nil {
				continue
			}
			if n > 0 {
				w.b.WriteString(", ")
			}
			n++
			w.b.WriteString(key(kv.k) + " = ")
			w.value(kv.v)
		}
		w.b.WriteByte('}')
	default:
		if w.err == nil {
			w.err = fmt.Errorf("%w: cannot write a %T in a lock", ErrInvalid, v)
		}
	}
}
