package layout

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pipguard/pipguard/installer/wheel"
)

// Limits on what Open reads. The sizes are the archive's declared ones:
// the zip reader fails on a member that inflates to more than it declares.
const (
	// MaxMembers is the most entries an archive may have.
	MaxMembers = 200_000
	// MaxTotalSize bounds the sum of the members' declared sizes.
	MaxTotalSize = 8 << 30
	// MaxMetadataSize bounds each of RECORD, WHEEL and entry_points.txt.
	MaxMetadataSize = 64 << 20
)

// Member is a regular file member of a wheel as pipguard read it.
type Member struct {
	Name   string // the archive name, "/"-separated
	Size   int64  // bytes pipguard read (equal to the declared size)
	SHA256 string // hex sha256 of those bytes
	// Mode is the unix mode in the zip external attributes (Python's
	// external_attr >> 16): permission bits, and ModeSymlink or ModeDir when
	// the attributes say so. 0 when the archive records none.
	Mode fs.FileMode
	// Executable is pip's zip_item_is_executable: the attributes say a
	// regular file with an execute bit; pip then installs it with mode
	// 0o777&^umask|0o111, any other member with 0o666&^umask.
	Executable bool
	// RestSHA256 and RestSize, for a member of the .data/scripts directory
	// whose first line starts with "#!python" (the line pip's fix_script
	// replaces with "#!" + sys.executable), are the hex sha256 and size of
	// the bytes after that first line. Empty for every other member.
	RestSHA256 string
	RestSize   int64
}

// Wheel is a wheel archive read and validated by pipguard.
type Wheel struct {
	Path   string // the file Open read
	SHA256 string // hex sha256 of the whole file
	// Name and Version are the file name's (PEP 427); Normalized is Name
	// in PEP 503 form. Build is the build tag, if any; Tags the expanded
	// python-abi-platform triples.
	Name, Version, Normalized, Build string
	Tags                             []string
	// DistInfo is the .dist-info directory name inside the archive; Data
	// the .data directory name ("" when the archive has none).
	DistInfo, Data string
	// RootIsPurelib is WHEEL's Root-Is-Purelib read as pip reads it (the
	// first such header, lowercased, equal to "true").
	RootIsPurelib bool
	// Members are the regular file members, in archive order.
	Members []Member
	// ConsoleScripts and GUIScripts are entry_points.txt's console_scripts
	// and gui_scripts: name -> "module:attr".
	ConsoleScripts, GUIScripts map[string]string
}

// SchemeName is the name pip passes to locations.get_scheme for this
// wheel when it installs it by path: pip's Wheel model reads the file
// name's name with "_" replaced by "-" (pip 23.x and 24.x). It decides
// Scheme.Headers.
func (w *Wheel) SchemeName() string { return strings.ReplaceAll(w.Name, "_", "-") }

// MalformedError is a wheel pipguard refuses, with every reason it found.
type MalformedError struct {
	Wheel   string
	Reasons []string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("wheel %s is malformed: %s (pipguard does not install it: rebuild the wheel with a standard build backend, or report it to its maintainers)",
		filepath.Base(e.Wheel), strings.Join(e.Reasons, "; "))
}

// Open reads and validates the wheel at path. Every member is read once,
// streaming, and hashed; the archive's own claims (RECORD, WHEEL,
// entry_points.txt) are checked against what was read. An invalid wheel is
// a *MalformedError listing every reason; other errors are I/O errors.
func Open(p string) (*Wheel, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening wheel: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening wheel: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &MalformedError{Wheel: p, Reasons: []string{"it is not a regular file"}}
	}
	// A wheel of at most wholeMax bytes, while the budget allows, is read
	// once into memory: the digest and every member then come from those
	// same bytes, in one read instead of one per member. A larger one is
	// read where it is, its digest first.
	var src io.ReaderAt = f
	size := fi.Size()
	h := sha256.New()
	if buf, release := wholeBuffer(size); buf != nil {
		defer release()
		if _, err := io.ReadFull(f, buf); err != nil {
			return nil, fmt.Errorf("reading wheel %s: %w", p, err)
		}
		// A file that grew since the stat is read no further: the
		// archive is the size the stat said, as it is when read in place.
		h.Write(buf)
		src = bytes.NewReader(buf)
	} else if _, err := copyPooled(h, io.NewSectionReader(f, 0, size)); err != nil {
		return nil, fmt.Errorf("reading wheel %s: %w", p, err)
	}
	w := &Wheel{Path: p, SHA256: hex.EncodeToString(h.Sum(nil))}
	r := &reader{w: w}
	r.name(filepath.Base(p))
	zr, err := zip.NewReader(src, size)
	if err != nil {
		r.fail("it is not a zip archive (%v)", err)
		return nil, r.err()
	}
	if err := zipUnambiguous(src, size, zr); err != nil {
		r.fail("%v", err)
		return nil, r.err()
	}
	r.read(zr)
	if len(r.reasons) > 0 {
		return nil, r.err()
	}
	return w, nil
}

// copyPooled is io.Copy with a buffer shared between calls: Open and
// Check copy thousands of small members and files, and a fresh 32 KiB
// buffer for each is most of their allocation.
func copyPooled(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	return io.CopyBuffer(dst, onlyReader{src}, *bp)
}

// onlyReader hides a source's WriteTo, so that CopyBuffer uses the buffer.
type onlyReader struct{ io.Reader }

var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// wholeMax is the largest wheel Open reads into memory, and wholeBudget
// the most bytes all concurrent Opens hold that way (so that planning
// many wheels at once stays within a few tens of MiB).
const (
	wholeMax    = 16 << 20
	wholeBudget = 48 << 20
)

var (
	wholeMu   sync.Mutex
	wholeUsed int64
	wholePool = sync.Pool{New: func() any { return new([]byte) }}
)

// wholeBuffer returns a buffer of size bytes from the budget, and the
// function that gives it back; nil when the wheel is too large or the
// budget is spent (the caller reads the file in place).
func wholeBuffer(size int64) ([]byte, func()) {
	if size <= 0 || size > wholeMax {
		return nil, nil
	}
	wholeMu.Lock()
	if wholeUsed+size > wholeBudget {
		wholeMu.Unlock()
		return nil, nil
	}
	wholeUsed += size
	wholeMu.Unlock()
	bp := wholePool.Get().(*[]byte)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	return buf, func() {
		wholePool.Put(bp)
		wholeMu.Lock()
		wholeUsed -= size
		wholeMu.Unlock()
	}
}

type reader struct {
	w       *Wheel
	reasons []string
	canon   string // the file name's canonical version
}

func (r *reader) fail(format string, args ...any) {
	r.reasons = append(r.reasons, fmt.Sprintf(format, args...))
}

func (r *reader) err() error { return &MalformedError{Wheel: r.w.Path, Reasons: r.reasons} }

// name reads the file name: PEP 427's
// {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl.
func (r *reader) name(base string) {
	f, err := wheel.Parse(base)
	if err != nil || f.Sdist {
		r.fail("its file name %q is not a wheel name (name-version[-build]-python-abi-platform.whl, PEP 427)", base)
		return
	}
	parts := strings.Split(strings.TrimSuffix(base, ".whl"), "-")
	if len(parts) == 6 {
		r.w.Build = parts[2]
		if r.w.Build[0] < '0' || r.w.Build[0] > '9' {
			r.fail("its file name's build tag %q does not start with a digit (PEP 427)", r.w.Build)
		}
	}
	r.w.Name, r.w.Version, r.w.Normalized, r.w.Tags = f.Name, f.Version, normalize(f.Name), f.Tags
	if r.canon, err = canonicalVersion(f.Version); err != nil {
		r.fail("its file name's version: %v", err)
	}
}

// matches says whether a "NAME-VERSION" stem (the .dist-info or .data
// directory) names the file name's distribution and version.
func (r *reader) matches(stem string) (ok bool, why string) {
	i := strings.LastIndexByte(stem, '-')
	if i <= 0 {
		return false, "is not NAME-VERSION"
	}
	name, version := stem[:i], stem[i+1:]
	if normalize(name) != r.w.Normalized {
		return false, fmt.Sprintf("names %q, expected %q (the file name's, PEP 503-normalised)", normalize(name), r.w.Normalized)
	}
	if c, err := canonicalVersion(version); err != nil || r.canon != "" && c != r.canon {
		return false, fmt.Sprintf("has version %q, expected %q (the file name's)", version, r.w.Version)
	}
	return true, ""
}

// memberName lists what is wrong with an archive name.
func memberName(f *zip.File) []string {
	n := f.Name
	var bad []string
	if n == "" {
		return []string{"a member has an empty name"}
	}
	if !utf8.ValidString(n) || f.NonUTF8 && hasNonASCII(n) {
		// Python's zipfile decodes names without the UTF-8 flag as cp437,
		// Go's reader keeps their bytes: the two would disagree.
		bad = append(bad, fmt.Sprintf("member %q has a non-ASCII name not marked UTF-8", n))
	}
	for _, c := range n {
		if c < 0x20 || c == 0x7f {
			bad = append(bad, fmt.Sprintf("member %q has a control character in its name", n))
			break
		}
	}
	if strings.ContainsRune(n, '\\') {
		bad = append(bad, fmt.Sprintf("member %q has a backslash in its name", n))
	}
	if strings.ContainsRune(n, '"') {
		bad = append(bad, fmt.Sprintf("member %q has a double quote in its name (RECORD's CSV cannot say it unambiguously)", n))
	}
	if strings.HasPrefix(n, "/") {
		bad = append(bad, fmt.Sprintf("member %q has an absolute name", n))
	} else if len(n) >= 2 && n[1] == ':' && (n[0]|0x20 >= 'a' && n[0]|0x20 <= 'z') {
		bad = append(bad, fmt.Sprintf("member %q starts with a drive letter", n))
	} else {
		for _, c := range strings.Split(strings.TrimSuffix(n, "/"), "/") {
			switch c {
			case "..":
				bad = append(bad, fmt.Sprintf("member %q has a \"..\" component", n))
			case ".", "":
				bad = append(bad, fmt.Sprintf("member %q is not a clean path (empty or \".\" component)", n))
			default:
				continue
			}
			break
		}
	}
	return bad
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// Unix file types in the zip external attributes.
const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFLNK = 0o120000
)

var dataKeys = map[string]bool{"purelib": true, "platlib": true, "scripts": true, "headers": true, "data": true}

var forbidden = map[string]bool{"installer": true, "requested": true, "direct_url.json": true}

func (r *reader) read(zr *zip.Reader) {
	w := r.w
	if len(zr.File) > MaxMembers {
		r.fail("it has %d entries, more than pipguard reads (%d)", len(zr.File), MaxMembers)
		return
	}
	var total uint64
	files := map[string]*zip.File{}
	dirs := map[string]bool{}
	var order []*zip.File
	tops := map[string]bool{}
	for _, f := range zr.File {
		total += f.UncompressedSize64
		bad := memberName(f)
		r.reasons = append(r.reasons, bad...)
		tops[strings.SplitN(f.Name, "/", 2)[0]] = true
		if strings.HasSuffix(f.Name, "/") { // pip skips names ending in "/"
			if f.UncompressedSize64 != 0 {
				r.fail("directory member %q has content", f.Name)
			}
			dirs[strings.TrimSuffix(f.Name, "/")] = true
			continue
		}
		if _, dup := files[f.Name]; dup {
			r.fail("member %q appears more than once", f.Name)
			continue
		}
		files[f.Name] = f
		if len(bad) == 0 {
			order = append(order, f)
		}
	}
	if total > MaxTotalSize {
		r.fail("its members declare %d bytes in all, more than pipguard reads (%d)", total, uint64(MaxTotalSize))
		return
	}
	for n := range files {
		if dirs[n] {
			r.fail("%q is both a file and a directory member", n)
		}
		for d := path.Dir(n); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := files[d]; ok {
				r.fail("%q is a file member and the directory of member %q", d, n)
			}
		}
	}

	// The .dist-info directory, as pip's wheel_dist_info_dir finds it:
	// every first path component ending in ".dist-info".
	var infos []string
	for t := range tops {
		if strings.HasSuffix(t, ".dist-info") {
			infos = append(infos, t)
		}
		if strings.HasSuffix(t, ".data") {
			if ok, why := r.matches(strings.TrimSuffix(t, ".data")); !ok {
				r.fail("top-level directory %q %s: pip installs any *.data directory as the distribution's", t, why)
			} else {
				w.Data = t
			}
		}
	}
	sort.Strings(infos)
	switch len(infos) {
	case 0:
		r.fail("it has no .dist-info directory")
		return
	case 1:
	default:
		r.fail("it has %d .dist-info directories (%s), pip accepts one", len(infos), strings.Join(infos, ", "))
		return
	}
	w.DistInfo = infos[0]
	if ok, why := r.matches(strings.TrimSuffix(w.DistInfo, ".dist-info")); !ok {
		r.fail(".dist-info directory %q %s", w.DistInfo, why)
	}
	di := w.DistInfo + "/"
	for n := range files {
		if rest, ok := strings.CutPrefix(n, di); ok && !strings.Contains(rest, "/") {
			if l := strings.ToLower(rest); forbidden[l] || strings.HasPrefix(l, "pipguard-") {
				r.fail("%s ships %s, which pip or pipguard writes at install", w.DistInfo, rest)
			}
		}
		if w.Data != "" {
			if rest, ok := strings.CutPrefix(n, w.Data+"/"); ok {
				key, sub, ok := strings.Cut(rest, "/")
				if !ok || sub == "" || !dataKeys[key] {
					r.fail("member %q is not in one of %s/{purelib,platlib,scripts,headers,data}/", n, w.Data)
				}
			}
		}
	}

	// WHEEL, METADATA, entry_points.txt: small, read whole (bounded).
	wheelText, ok := r.small(files, di+"WHEEL", true)
	if ok {
		r.wheelFile(wheelText)
	}
	if _, ok := files[di+"METADATA"]; !ok {
		r.fail("%s has no METADATA", w.DistInfo)
	}
	if ep, ok := r.small(files, di+"entry_points.txt", false); ok {
		var reasons []string
		w.ConsoleScripts, w.GUIScripts, reasons = parseEntryPoints(ep)
		r.reasons = append(r.reasons, reasons...)
	}
	recordText, ok := r.small(files, di+"RECORD", true)
	if !ok {
		return
	}
	rows := r.record(recordText, files)

	// Every member, streamed once and hashed.
	scripts := ""
	if w.Data != "" {
		scripts = w.Data + "/scripts/"
	}
	for _, f := range order {
		row, listed := rows[f.Name]
		switch {
		case f.Name == di+"RECORD":
		case !listed && (f.Name == di+"RECORD.jws" || f.Name == di+"RECORD.p7s"):
		case !listed:
			r.fail("member %q is not listed in RECORD", f.Name)
		}
		m, ok := r.member(f, row, scripts != "" && strings.HasPrefix(f.Name, scripts))
		if ok {
			w.Members = append(w.Members, m)
		}
	}
}

// small reads a metadata file whole, bounded by MaxMetadataSize, as UTF-8.
func (r *reader) small(files map[string]*zip.File, name string, required bool) (string, bool) {
	f, ok := files[name]
	if !ok {
		if required {
			r.fail("%s has no %s", r.w.DistInfo, path.Base(name))
		}
		return "", false
	}
	if f.UncompressedSize64 > MaxMetadataSize {
		r.fail("%s declares %d bytes, more than pipguard reads (%d)", name, f.UncompressedSize64, MaxMetadataSize)
		return "", false
	}
	rc, err := f.Open()
	if err != nil {
		r.fail("%s cannot be read: %v", name, err)
		return "", false
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxMetadataSize+1))
	if err != nil {
		r.fail("%s cannot be read: %v", name, err)
		return "", false
	}
	if !utf8.Valid(b) {
		r.fail("%s is not UTF-8", name)
		return "", false
	}
	return string(b), true
}

func (r *reader) wheelFile(text string) {
	v, ok := headerValue(text, "Wheel-Version")
	if !ok {
		r.fail("WHEEL has no Wheel-Version")
	} else {
		v = strings.TrimSpace(v)
		major, _, _ := strings.Cut(v, ".")
		okv := v != ""
		for _, part := range strings.Split(v, ".") {
			if _, err := strconv.ParseUint(part, 10, 32); err != nil {
				okv = false
			}
		}
		if n, _ := strconv.ParseUint(major, 10, 32); !okv || n != 1 {
			r.fail("WHEEL's Wheel-Version %q is not 1.x (PEP 427 version 1 is what pip and pipguard install)", v)
		}
	}
	p, _ := headerValue(text, "Root-Is-Purelib")
	r.w.RootIsPurelib = strings.ToLower(p) == "true"
}

// recordRow is a RECORD entry for a member.
type recordRow struct {
	line       int
	algo, hash string // hash is the urlsafe base64 digest without padding
	size       string
}

// record reads RECORD as pip does (str.splitlines, then the csv module's
// excel dialect per line) and checks each row names a member.
func (r *reader) record(text string, files map[string]*zip.File) map[string]recordRow {
	di := r.w.DistInfo + "/"
	rows := map[string]recordRow{}
	for i, line := range splitLines(text) {
		n := i + 1
		if line == "" {
			r.fail("RECORD line %d is empty (pip fails on it)", n)
			continue
		}
		cr := csv.NewReader(strings.NewReader(line))
		cr.LazyQuotes, cr.FieldsPerRecord = true, -1
		rec, err := cr.Read()
		if err == nil {
			if _, err2 := cr.Read(); err2 != io.EOF {
				err = errors.New("more than one row")
			}
		}
		if err != nil || len(rec) != 3 {
			r.fail("RECORD line %d %q is not path,hash,size", n, line)
			continue
		}
		name := rec[0]
		if _, dup := rows[name]; dup {
			r.fail("RECORD lists %q more than once", name)
			continue
		}
		row := recordRow{line: n, size: rec[2]}
		if _, ok := files[name]; !ok {
			r.fail("RECORD line %d names %q, which is not a file member", n, name)
			continue
		}
		if name == di+"RECORD" {
			rows[name] = row
			continue
		}
		if rec[1] == "" {
			if name != di+"RECORD.jws" && name != di+"RECORD.p7s" {
				r.fail("RECORD has no hash for %q", name)
			}
		} else {
			algo, digest, _ := strings.Cut(rec[1], "=")
			switch algo {
			case "sha256", "sha384", "sha512":
				row.algo, row.hash = algo, strings.TrimRight(digest, "=")
			case "md5", "sha1":
				r.fail("RECORD hashes %q with %s, which pipguard does not accept (use sha256)", name, algo)
			default:
				r.fail("RECORD hashes %q with unknown algorithm %q (use sha256)", name, algo)
			}
		}
		if row.size != "" {
			if _, err := strconv.ParseUint(row.size, 10, 63); err != nil {
				r.fail("RECORD's size for %q is %q, not a number", name, row.size)
				row.size = ""
			}
		}
		rows[name] = row
	}
	return rows
}

// member streams one member, hashing it, and checks it against its RECORD
// row.
func (r *reader) member(f *zip.File, row recordRow, script bool) (Member, bool) {
	m := Member{Name: f.Name}
	attr := f.ExternalAttrs >> 16
	m.Mode = fs.FileMode(attr & 0o777)
	switch attr & sIFMT {
	case 0, sIFREG:
	case sIFLNK:
		r.fail("member %q is a symbolic link (pip would write its target's name as a file)", f.Name)
		return m, false
	case sIFDIR:
		m.Mode |= fs.ModeDir
		r.fail("member %q is marked as a directory but its name does not end in \"/\"", f.Name)
		return m, false
	default:
		r.fail("member %q is not a regular file (mode %o)", f.Name, attr)
		return m, false
	}
	m.Executable = attr != 0 && attr&sIFMT == sIFREG && attr&0o111 != 0
	if f.Flags&0x41 != 0 {
		r.fail("member %q is encrypted", f.Name)
		return m, false
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		r.fail("member %q uses compression method %d; pipguard reads stored and deflated members", f.Name, f.Method)
		return m, false
	}
	rc, err := f.Open()
	if err != nil {
		r.fail("member %q cannot be read: %v", f.Name, err)
		return m, false
	}
	defer rc.Close()
	h := sha256.New()
	var other hash.Hash
	switch row.algo {
	case "sha384":
		other = sha512.New384()
	case "sha512":
		other = sha512.New()
	}
	ws := []io.Writer{h}
	if other != nil {
		ws = append(ws, other)
	}
	var rest *restHasher
	if script {
		rest = &restHasher{h: sha256.New()}
		ws = append(ws, rest)
	}
	var dst io.Writer = h
	if len(ws) > 1 {
		dst = io.MultiWriter(ws...)
	}
	n, err := copyPooled(dst, rc)
	if err != nil {
		r.fail("member %q cannot be read: %v (the archive is corrupt or lies about its size)", f.Name, err)
		return m, false
	}
	m.Size, m.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	if rest != nil && rest.python() {
		m.RestSHA256, m.RestSize = hex.EncodeToString(rest.h.Sum(nil)), rest.n
	}
	if row.algo != "" {
		sum := h.Sum(nil)
		if other != nil {
			sum = other.Sum(nil)
		}
		if got := base64.RawURLEncoding.EncodeToString(sum); got != row.hash {
			r.fail("RECORD says %q has %s=%s, the member has %s=%s", f.Name, row.algo, row.hash, row.algo, got)
		}
	}
	if row.size != "" && row.size != strconv.FormatInt(n, 10) {
		r.fail("RECORD says %q has %s bytes, the member has %d", f.Name, row.size, n)
	}
	return m, true
}

// restHasher hashes what follows the first line (Python's readline: up to
// and including the first "\n") and keeps the first line's first bytes.
type restHasher struct {
	h      hash.Hash
	head   []byte // up to 8 bytes of the first line
	inBody bool
	n      int64
}

func (r *restHasher) Write(p []byte) (int, error) {
	total := len(p)
	if !r.inBody {
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line = p[:i+1]
		}
		if k := 8 - len(r.head); k > 0 {
			r.head = append(r.head, line[:min(k, len(line))]...)
		}
		if i < 0 {
			return total, nil
		}
		r.inBody, p = true, p[i+1:]
	}
	r.h.Write(p)
	r.n += int64(len(p))
	return total, nil
}

func (r *restHasher) python() bool { return bytes.HasPrefix(r.head, []byte("#!python")) }
