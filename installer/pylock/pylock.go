// Package pylock reads, checks, selects from and writes PEP 751 lock
// files (pylock.toml).
//
// Read validates a whole document against the spec and pipguard's stricter
// rules (hashes pipguard can check on every file, no plain-http URLs, no
// credentials in any URL, one source kind per package) and reports every
// problem at once, each with its key path and line. Select runs the spec's
// installer steps for one target environment and returns exactly the
// files to fetch. Write renders a Lock that pip 26's reader accepts, with
// pipguard's own records under [packages.tool.pipguard].
//
// What it trusts: nothing in the document. A lock is untrusted input until
// its files are fetched and their hashes, sizes and provenance checked by
// the caller; this package only decides what the lock says to install. It
// never touches the network or the file system, and never reads
// "dependencies" or [tool] tables to decide what to install.
package pylock

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/pipguard/pipguard/internal/pep440"
)

// Sentinels for errors.Is.
var (
	// ErrInvalid marks a document that breaks the spec or pipguard's rules.
	ErrInvalid = errors.New("invalid pylock file")
	// ErrUnsupportedVersion marks a lock-version this reader cannot read
	// (any major version but 1).
	ErrUnsupportedVersion = errors.New("unsupported lock-version")
)

// FieldError is one problem with one key of a document.
type FieldError struct {
	File string // the name given to Read
	Path string // key path, e.g. packages[2].wheels[0].hashes
	Line int    // 1-based line of the key, 0 when unknown
	Msg  string
	Err  error // ErrInvalid or ErrUnsupportedVersion
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Lock is a whole pylock.toml.
type Lock struct {
	// LockVersion is "lock-version", e.g. "1.0".
	LockVersion string
	// Environments are the marker expressions of the environments the
	// lock is for; empty means it does not say.
	Environments     []string
	RequiresPython   string
	Extras           []string
	DependencyGroups []string
	DefaultGroups    []string
	CreatedBy        string
	Packages         []Package
	// Tool is the top-level [tool] table, kept, never used to decide.
	Tool map[string]any

	readNotes []Note
}

// Package is one [[packages]] entry.
type Package struct {
	Name           string // normalised (PEP 503)
	Version        string
	Marker         string
	RequiresPython string
	// Dependencies is kept as written; installers must not use it.
	Dependencies []map[string]any
	// Index is the index URL the files came from.
	Index string
	// Exactly one source kind: VCS, Directory, Archive, or Sdist and/or
	// Wheels.
	VCS                   *VCS
	Directory             *Directory
	Archive               *Archive
	Sdist                 *File
	Wheels                []File
	AttestationIdentities []Identity
	// Tool is [packages.tool]; pipguard's own table is "pipguard" (see
	// Package.Pipguard).
	Tool map[string]any
}

// File is a wheel or an sdist.
type File struct {
	Name       string
	URL        string
	Path       string
	Size       *int64
	UploadTime *time.Time
	// Hashes maps algorithm ("sha256") to lower-case hex digest.
	Hashes map[string]string
}

// Filename is the file's name as the spec defines it: name, else the last
// component of path, else of the URL's path.
func (f *File) Filename() string { return fileName(f.Name, f.Path, f.URL) }

// Archive is [packages.archive]: a direct URL or path to a file.
type Archive struct {
	URL          string
	Path         string
	Size         *int64
	UploadTime   *time.Time
	Hashes       map[string]string
	Subdirectory string
}

// VCS is [packages.vcs].
type VCS struct {
	Type              string
	URL               string
	Path              string
	RequestedRevision string
	CommitID          string
	Subdirectory      string
}

// Directory is [packages.directory].
type Directory struct {
	Path         string
	Editable     *bool
	Subdirectory string
}

// Identity is one [[packages.attestation-identities]] entry: a PEP 740
// publisher ("kind" plus that kind's keys).
type Identity struct {
	Kind             string // "GitHub", "GitLab", "Google", ...
	Repository       string // GitHub, GitLab
	Workflow         string // GitHub
	Environment      string // GitHub, GitLab (optional)
	WorkflowFilepath string // GitLab ("workflow_filepath")
	Email            string // Google
	// Extra holds any other publisher keys, as written.
	Extra map[string]any
}

// Note is something a valid lock lacks or says that a user should know.
type Note struct {
	Code string // stable identifier, e.g. "no-environments"
	Path string
	Msg  string
}

// Read parses and validates a pylock.toml. name is used in errors only.
// The error joins every *FieldError found.
func Read(name string, data []byte) (*Lock, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		fe := &FieldError{File: name, Msg: "not TOML: " + err.Error(), Err: ErrInvalid}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			fe.Line, _ = de.Position()
			fe.Msg = "not TOML: " + de.Error()
			fe.Path = strings.Join(de.Key(), ".")
		}
		return nil, fe
	}
	d := &decoder{file: name, lines: keyLines(data)}
	l := d.lock(doc)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	l.readNotes = d.notes
	return l, nil
}

type decoder struct {
	file  string
	lines map[string]int
	errs  []error
	notes []Note
}

func (d *decoder) fail(path, format string, args ...any) {
	d.failAs(ErrInvalid, path, format, args...)
}

func (d *decoder) failAs(sentinel error, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Path: path, Line: d.line(path), Msg: fmt.Sprintf(format, args...), Err: sentinel})
}

// line finds the line of path, or of its nearest parent that has one.
func (d *decoder) line(path string) int {
	for p := path; p != ""; {
		if n, ok := d.lines[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time, toml.LocalDateTime:
		return "datetime"
	case toml.LocalDate:
		return "date"
	case toml.LocalTime:
		return "time"
	}
	return fmt.Sprintf("%T", v)
}

// unknown notes keys the spec does not define: a newer minor version of
// the format may add keys an installer can ignore, but it should say so.
func (d *decoder) unknown(path string, t map[string]any, known ...string) {
	var keys []string
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, kn := range known {
			found = found || k == kn
		}
		if !found {
			d.notes = append(d.notes, Note{Code: "unknown-key", Path: join(path, k), Msg: fmt.Sprintf("key %q is not in PEP 751 and was ignored", k)})
		}
	}
}

func (d *decoder) str(t map[string]any, path, key string, required bool) string {
	v, ok := t[key]
	if !ok {
		if required {
			d.fail(join(path, key), "missing required key")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(join(path, key), "expected a string, got %s", typeName(v))
	}
	return s
}

func (d *decoder) strList(t map[string]any, path, key string) []string {
	v, ok := t[key]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		d.fail(join(path, key), "expected an array of strings, got %s", typeName(v))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			d.fail(fmt.Sprintf("%s[%d]", join(path, key), i), "expected a string, got %s", typeName(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) table(t map[string]any, path, key string) map[string]any {
	v, ok := t[key]
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(join(path, key), "expected a table, got %s", typeName(v))
		return nil
	}
	return m
}

func (d *decoder) tables(t map[string]any, path, key string) []map[string]any {
	v, ok := t[key]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		d.fail(join(path, key), "expected an array of tables, got %s", typeName(v))
		return nil
	}
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			d.fail(fmt.Sprintf("%s[%d]", join(path, key), i), "expected a table, got %s", typeName(e))
			continue
		}
		out[i] = m
	}
	return out
}

func (d *decoder) lock(doc map[string]any) *Lock {
	l := &Lock{}
	d.unknown("", doc, "lock-version", "environments", "requires-python", "extras", "dependency-groups", "default-groups", "created-by", "packages", "tool")
	// lock-version: "If a tool doesn't support the major version, it MUST
	// raise an error. If the tool doesn't support the minor version, it
	// SHOULD warn when an unknown key is seen."
	l.LockVersion = d.str(doc, "", "lock-version", true)
	if _, ok := doc["lock-version"].(string); ok {
		v, err := pep440.Parse(l.LockVersion)
		switch {
		case err != nil:
			d.fail("lock-version", "%q is not a version", l.LockVersion)
		case v.Compare(pep440.MustParse("1")) < 0 || v.Compare(pep440.MustParse("2")) >= 0:
			d.failAs(ErrUnsupportedVersion, "lock-version", "lock-version %q is not supported (this reader reads 1.x)", l.LockVersion)
		case v.Compare(pep440.MustParse("1.0")) > 0:
			d.notes = append(d.notes, Note{Code: "newer-minor-version", Path: "lock-version", Msg: fmt.Sprintf("lock-version %q is newer than 1.0; keys added since are ignored", l.LockVersion)})
		}
	}
	l.Environments = d.strList(doc, "", "environments")
	for i, e := range l.Environments {
		d.marker(fmt.Sprintf("environments[%d]", i), e, ctxRequirement)
	}
	l.RequiresPython = d.str(doc, "", "requires-python", false)
	d.specifiers("requires-python", l.RequiresPython)
	l.Extras = d.strList(doc, "", "extras")
	for i, e := range l.Extras {
		if !IsNormalized(e) {
			d.fail(fmt.Sprintf("extras[%d]", i), "extra %q is not normalised (PEP 503: %q)", e, Normalize(e))
		}
	}
	l.DependencyGroups = d.strList(doc, "", "dependency-groups")
	l.DefaultGroups = d.strList(doc, "", "default-groups")
	l.CreatedBy = d.str(doc, "", "created-by", true)
	if _, ok := doc["packages"]; !ok {
		d.fail("packages", "missing required key")
	}
	for i, pt := range d.tables(doc, "", "packages") {
		if pt == nil {
			continue
		}
		l.Packages = append(l.Packages, d.pkg(fmt.Sprintf("packages[%d]", i), pt))
	}
	l.Tool = d.table(doc, "", "tool")
	return l
}

func (d *decoder) marker(path, s string, ctx string) {
	m, err := ParseMarker(s)
	if err != nil {
		d.fail(path, "%v", err)
		return
	}
	if err := m.check(ctx); err != nil {
		d.fail(path, "%v", err)
	}
}

func (d *decoder) specifiers(path, s string) {
	if s == "" {
		return
	}
	if _, err := pep440.ParseSpecifierSet(s); err != nil {
		d.fail(path, "%v", err)
	}
}

func (d *decoder) pkg(path string, t map[string]any) Package {
	var p Package
	d.unknown(path, t, "name", "version", "marker", "requires-python", "dependencies", "vcs", "directory", "archive", "index", "sdist", "wheels", "attestation-identities", "tool")
	p.Name = d.str(t, path, "name", true)
	if _, ok := t["name"].(string); ok && !IsNormalized(p.Name) {
		d.fail(join(path, "name"), "name %q is not normalised (PEP 503: %q)", p.Name, Normalize(p.Name))
	}
	p.Version = d.str(t, path, "version", false)
	var version *pep440.Version
	if p.Version != "" {
		if v, err := pep440.Parse(p.Version); err != nil {
			d.fail(join(path, "version"), "%q is not a PEP 440 version", p.Version)
		} else {
			version = &v
		}
	} else if _, ok := t["version"]; ok {
		d.fail(join(path, "version"), "%q is not a PEP 440 version", p.Version)
	}
	p.Marker = d.str(t, path, "marker", false)
	if _, ok := t["marker"].(string); ok {
		d.marker(join(path, "marker"), p.Marker, ctxLockFile)
	}
	p.RequiresPython = d.str(t, path, "requires-python", false)
	d.specifiers(join(path, "requires-python"), p.RequiresPython)
	p.Dependencies = d.tables(t, path, "dependencies")
	if p.Index = d.str(t, path, "index", false); p.Index != "" {
		d.url(join(path, "index"), p.Index, false)
	}
	if vt := d.table(t, path, "vcs"); vt != nil {
		p.VCS = d.vcs(join(path, "vcs"), vt)
	}
	if dt := d.table(t, path, "directory"); dt != nil {
		dp := join(path, "directory")
		d.unknown(dp, dt, "path", "editable", "subdirectory")
		p.Directory = &Directory{Path: d.str(dt, dp, "path", true), Subdirectory: d.str(dt, dp, "subdirectory", false)}
		if e, ok := dt["editable"]; ok {
			if b, ok := e.(bool); ok {
				p.Directory.Editable = &b
			} else {
				d.fail(join(dp, "editable"), "expected a boolean, got %s", typeName(e))
			}
		}
	}
	if at := d.table(t, path, "archive"); at != nil {
		ap := join(path, "archive")
		f := d.dfile(ap, at, "subdirectory")
		p.Archive = &Archive{URL: f.URL, Path: f.Path, Size: f.Size, UploadTime: f.UploadTime, Hashes: f.Hashes, Subdirectory: d.str(at, ap, "subdirectory", false)}
	}
	if st := d.table(t, path, "sdist"); st != nil {
		sp := join(path, "sdist")
		f := d.dfile(sp, st, "name")
		f.Name = d.str(st, sp, "name", false)
		p.Sdist = &f
		if fn := f.Filename(); fn == "" {
			d.fail(sp, "cannot tell the sdist's file name (no name, path or url)")
		} else if n, v, err := ParseSdistName(fn); err != nil {
			d.fail(sp, "%v", err)
		} else {
			d.consistent(sp, fn, p.Name, version, n, v)
		}
	}
	for i, wt := range d.tables(t, path, "wheels") {
		if wt == nil {
			continue
		}
		wp := fmt.Sprintf("%s[%d]", join(path, "wheels"), i)
		f := d.dfile(wp, wt, "name")
		f.Name = d.str(wt, wp, "name", false)
		p.Wheels = append(p.Wheels, f)
		if fn := f.Filename(); fn == "" {
			d.fail(wp, "cannot tell the wheel's file name (no name, path or url)")
		} else if w, err := ParseWheelName(fn); err != nil {
			d.fail(wp, "%v", err)
		} else {
			d.consistent(wp, fn, p.Name, version, w.Name, w.Version)
		}
	}
	// "packages.vcs ... MUST NOT be set if [sdist or wheels] are set"; a
	// package has exactly one source.
	dists := 0
	if arr, ok := t["wheels"].([]any); ok {
		dists += len(arr)
	}
	if _, ok := t["sdist"].(map[string]any); ok {
		dists++
	}
	direct := 0
	for _, k := range []string{"vcs", "directory", "archive"} {
		if _, ok := t[k].(map[string]any); ok {
			direct++
		}
	}
	switch {
	case dists > 0 && direct > 0:
		d.fail(path, "has both sdist/wheels and a vcs, directory or archive: a package has one kind of source")
	case dists == 0 && direct == 0:
		d.fail(path, "has no source: one of vcs, directory, archive, sdist or wheels is required")
	case dists == 0 && direct > 1:
		d.fail(path, "has %d of vcs, directory and archive: exactly one is allowed", direct)
	}
	for i, it := range d.tables(t, path, "attestation-identities") {
		if it == nil {
			continue
		}
		p.AttestationIdentities = append(p.AttestationIdentities, d.identity(fmt.Sprintf("%s[%d]", join(path, "attestation-identities"), i), it))
	}
	p.Tool = d.table(t, path, "tool")
	if p.Tool != nil {
		if pg, ok := p.Tool[ToolName]; ok {
			if _, ok := pg.(map[string]any); !ok {
				d.fail(join(path, "tool."+ToolName), "expected a table, got %s", typeName(pg))
			}
		}
	}
	return p
}

func (d *decoder) consistent(path, fn, name string, version *pep440.Version, gotName string, gotVersion pep440.Version) {
	if name != "" && gotName != name {
		d.fail(path, "file %q is for project %q, not %q", fn, gotName, name)
	}
	if version != nil && gotVersion.Compare(*version) != 0 {
		d.fail(path, "file %q is version %s, not %s", fn, gotVersion, version)
	}
}

func (d *decoder) vcs(path string, t map[string]any) *VCS {
	d.unknown(path, t, "type", "url", "path", "requested-revision", "commit-id", "subdirectory")
	v := &VCS{
		Type:              d.str(t, path, "type", true),
		URL:               d.str(t, path, "url", false),
		Path:              d.str(t, path, "path", false),
		RequestedRevision: d.str(t, path, "requested-revision", false),
		CommitID:          d.str(t, path, "commit-id", true),
		Subdirectory:      d.str(t, path, "subdirectory", false),
	}
	if v.URL == "" && v.Path == "" {
		d.fail(path, "one of url or path is required")
	}
	if v.URL != "" {
		d.url(join(path, "url"), v.URL, true)
	}
	// pipguard: a git commit-id must be a full object name; an abbreviated
	// one can be made ambiguous by whoever controls the repository.
	if v.Type == "git" && v.CommitID != "" && !isHex(v.CommitID, 40) && !isHex(v.CommitID, 64) {
		d.fail(join(path, "commit-id"), "%q is not a full git commit hash (40 or 64 hex digits)", v.CommitID)
	}
	return v
}

// hashLengths are the algorithms pipguard can check, with their hex
// lengths.
var hashLengths = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// file decodes the keys a wheel, an sdist and an archive share.
func (d *decoder) dfile(path string, t map[string]any, extra string) File {
	d.unknown(path, t, "name", "url", "path", "size", "upload-time", "hashes", extra)
	f := File{URL: d.str(t, path, "url", false), Path: d.str(t, path, "path", false)}
	if f.URL == "" && f.Path == "" {
		d.fail(path, "one of url or path is required")
	}
	if f.URL != "" {
		d.url(join(path, "url"), f.URL, false)
	}
	if v, ok := t["size"]; ok {
		if n, ok := v.(int64); !ok {
			d.fail(join(path, "size"), "expected an integer, got %s", typeName(v))
		} else if n < 0 {
			d.fail(join(path, "size"), "size %d is negative", n)
		} else {
			f.Size = &n
		}
	}
	if v, ok := t["upload-time"]; ok {
		switch tv := v.(type) {
		case time.Time:
			u := tv.UTC()
			f.UploadTime = &u
		case toml.LocalDateTime:
			u := tv.AsTime(time.UTC)
			f.UploadTime = &u
		default:
			d.fail(join(path, "upload-time"), "expected a datetime, got %s", typeName(v))
		}
	}
	hp := join(path, "hashes")
	if _, ok := t["hashes"]; !ok {
		d.fail(hp, "missing required key: every file needs its hashes")
	}
	if ht := d.table(t, path, "hashes"); ht != nil {
		f.Hashes = map[string]string{}
		checkable := false
		for alg, v := range ht {
			s, ok := v.(string)
			if !ok {
				d.fail(join(hp, alg), "expected a string, got %s", typeName(v))
				continue
			}
			f.Hashes[alg] = s
			if n, known := hashLengths[alg]; known {
				if !isHex(s, n) {
					d.fail(join(hp, alg), "%s digest %q is not %d lower-case hex digits", alg, s, n)
				} else {
					checkable = true
				}
			}
		}
		if len(ht) == 0 {
			d.fail(hp, "at least one hash is required")
		} else if !checkable {
			d.fail(hp, "no hash pipguard can check (sha256, sha384 or sha512)")
		}
	}
	return f
}

// url refuses what an installer must not fetch or a lock must not carry:
// plain http, credentials, relative references.
func (d *decoder) url(path, raw string, vcs bool) {
	if err := CheckURL(raw, vcs); err != nil {
		d.fail(path, "%v", err)
	}
}

// secretQueryKeys are query parameters that carry credentials.
var secretQueryKeys = []string{"token", "access_token", "private_token", "auth", "password", "x-amz-signature", "x-goog-signature", "sig", "signature"}

// CheckURL says why a URL must not be in a lock: it is not absolute, uses
// plain http, or carries a credential (userinfo with a password, a user
// name on http(s), or a credential query parameter). vcs allows ssh URLs
// with a user name ("ssh://git@host/o/r").
func CheckURL(raw string, vcs bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL: %v", redactErr(err))
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return fmt.Errorf("URL %q is not absolute (a local file belongs in path)", Redact(raw))
	case scheme == "http" || strings.HasSuffix(scheme, "+http"):
		return fmt.Errorf("URL %q uses plain http: anyone on the path can change the bytes; use https", Redact(raw))
	case scheme == "https" || scheme == "file" || vcs && (scheme == "ssh" || strings.HasPrefix(scheme, "git+")):
	default:
		return fmt.Errorf("URL %q has scheme %q; a lock's URLs are https or file", Redact(raw), u.Scheme)
	}
	if u.User != nil {
		_, hasPass := u.User.Password()
		if hasPass || !(vcs && strings.HasSuffix(scheme, "ssh")) {
			return fmt.Errorf("URL %q carries credentials; a lock must never hold a secret (use a keyring or netrc)", Redact(raw))
		}
	}
	for k := range u.Query() {
		for _, s := range secretQueryKeys {
			if strings.EqualFold(k, s) {
				return fmt.Errorf("URL %q carries a credential in query parameter %q", Redact(raw), k)
			}
		}
	}
	return nil
}

// Redact masks userinfo and query values of a URL for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	masked := u.User != nil
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "***"
	}
	s := u.String()
	if masked {
		s = strings.Replace(s, "//", "//***@", 1)
	}
	return s
}

func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "unparsable"
}

func (d *decoder) identity(path string, t map[string]any) Identity {
	id := Identity{Kind: d.str(t, path, "kind", true)}
	for k, v := range t {
		s, isStr := v.(string)
		set := func(dst *string) {
			if !isStr {
				d.fail(join(path, k), "expected a string, got %s", typeName(v))
				return
			}
			*dst = s
		}
		switch k {
		case "kind":
		case "repository":
			set(&id.Repository)
		case "workflow":
			set(&id.Workflow)
		case "environment":
			set(&id.Environment)
		case "workflow_filepath":
			set(&id.WorkflowFilepath)
		case "email":
			set(&id.Email)
		default:
			if id.Extra == nil {
				id.Extra = map[string]any{}
			}
			id.Extra[k] = v
		}
	}
	return id
}

// Notes reports what a valid lock lacks: no environments (a lock that
// does not say where it applies), no requires-python, index packages
// without attestation identities, files without a size; plus what Read
// noticed (unknown keys, a newer minor lock-version).
func (l *Lock) Notes() []Note {
	notes := append([]Note(nil), l.readNotes...)
	if len(l.Environments) == 0 {
		notes = append(notes, Note{Code: "no-environments", Path: "environments", Msg: "the lock does not say which environments it is for; it is installed wherever its markers and tags allow"})
	}
	if l.RequiresPython == "" {
		notes = append(notes, Note{Code: "no-requires-python", Path: "requires-python", Msg: "the lock does not say which Python versions it is for"})
	}
	var noID, noSize []string
	for i := range l.Packages {
		p := &l.Packages[i]
		if (p.Sdist != nil || len(p.Wheels) > 0) && len(p.AttestationIdentities) == 0 {
			noID = append(noID, p.Name)
		}
		sized := p.Sdist == nil || p.Sdist.Size != nil
		for _, w := range p.Wheels {
			sized = sized && w.Size != nil
		}
		if p.Archive != nil && p.Archive.Size == nil {
			sized = false
		}
		if !sized {
			noSize = append(noSize, p.Name)
		}
	}
	if len(noID) > 0 {
		notes = append(notes, Note{Code: "no-identities", Path: "packages", Msg: fmt.Sprintf("%d of %d packages record no attestation identities (%s): their provenance cannot be checked against the lock", len(noID), len(l.Packages), strings.Join(noID, ", "))})
	}
	if len(noSize) > 0 {
		notes = append(notes, Note{Code: "no-size", Path: "packages", Msg: fmt.Sprintf("files of %s record no size", strings.Join(noSize, ", "))})
	}
	return notes
}
