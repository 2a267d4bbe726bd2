// Package cache is pipguard's cache of what GitHub said and served: release
// metadata, attestation listings, comparisons, HTTP validators (ETags), and
// asset bytes stored by their SHA-256.
//
// What it trusts: nothing it reads back. The cache holds inputs, never
// verdicts: a warm run verifies cached bundles against the current trusted
// root and policy exactly as a cold run verifies fresh ones, and hashes a
// cached asset as it copies it out. An entry that does not parse, names
// another key, or a blob whose bytes hash to something else, is ignored and
// replaced. What a cached entry can still decide is what GitHub's metadata
// decides on a cold run (which assets a release lists, whether it is
// immutable, how far a build commit is from a tag): the cache directory is
// therefore authenticated: every entry carries an HMAC-SHA256 under a key
// that is not in the cache (Open's caller keeps it elsewhere: a key file in
// the user's configuration directory, or a secret), so whoever can write
// the cache directory (another build sharing a BuildKit cache mount, a job
// saving a CI cache) cannot plant an entry that is read. Blobs need no MAC:
// they are named by their SHA-256, which CopyBlob checks. Open also refuses
// a directory other users can write.
//
// Layout, under the directory given to Open:
//
//	v1/KIND/HH/HASH.json   a JSON entry; HASH is the SHA-256 of its key
//	v1/blobs/HH/HEX        bytes whose SHA-256 is HEX
//
// Every file is written to a temporary name in its directory and renamed, so
// concurrent pipguard processes sharing a cache (a CI cache, a BuildKit cache
// mount) see whole entries or none. Directories are 0700, files 0600.
//
// Whoever shares the directory can also put something other than a file at
// a path pipguard reads (a release entry's path is computable from public
// data): a named pipe that never answers, a symbolic link to /dev/zero, a
// file of terabytes. Every file is therefore opened without following a
// final symbolic link and without blocking on a pipe, must then be a
// regular file, and is read no further than MaxEntry (an entry) or the size
// it had when opened and at most MaxBlob (a blob). Anything else is a miss,
// and the next write replaces it; WithNotes says why.
package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/pipguard/pipguard/internal/hashcopy"

	"github.com/pipguard/pipguard/internal/safefile"
)

// Cache is an open cache directory.
type Cache struct {
	dir string
	key []byte

	mu    sync.Mutex
	notes func(string)
}

// Option configures Open.
type Option func(*Cache)

// WithNotes has the cache call notes with each entry or blob it ignored
// and why (a named pipe planted in place of an entry, a file too large):
// a line for -v. notes is called from one goroutine at a time.
func WithNotes(notes func(string)) Option {
	return func(c *Cache) { c.notes = notes }
}

// note reports an ignored file at path (shown relative to the cache).
func (c *Cache) note(path, why string) {
	if c.notes == nil {
		return
	}
	if rel, err := filepath.Rel(c.dir, path); err == nil {
		path = rel
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes(fmt.Sprintf("cache: ignored %s: %s", path, why))
}

// MinKey is the shortest key Open takes.
const MinKey = 16

// Error is a cache directory that cannot be used.
type Error struct {
	Dir    string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("cache directory %s %s", e.Dir, e.Reason) }

// Hint says what to do.
func (e *Error) Hint() string {
	return "pass --cache-dir with a private directory (mode 0700, yours), or --no-cache"
}

// Open opens (creating, 0700) the cache at dir. It refuses a directory
// that is not a directory, is owned by another user, or that others can
// write: whoever can write the cache can choose which release metadata a
// warm run sees.
//
// key authenticates the entries (at least MinKey bytes); entries written
// under another key are not read. The directory's path is resolved once: a
// symbolic link in it that is re-pointed later changes nothing.
func Open(dir string, key []byte, opts ...Option) (*Cache, error) {
	if dir == "" {
		return nil, &Error{Dir: `""`, Reason: "is empty"}
	}
	if len(key) < MinKey {
		return nil, &Error{Dir: dir, Reason: fmt.Sprintf("needs a key of at least %d bytes", MinKey)}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{Dir: dir, Reason: err.Error()}
	}
	if err := os.MkdirAll(filepath.Join(abs, "v1"), 0o700); err != nil {
		return nil, &Error{Dir: abs, Reason: "cannot be created: " + strings.TrimPrefix(err.Error(), "mkdir "+abs+": ")}
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, &Error{Dir: dir, Reason: err.Error()}
	}
	for _, d := range []string{abs, filepath.Join(abs, "v1")} {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, &Error{Dir: abs, Reason: err.Error()}
		}
		if !fi.IsDir() {
			return nil, &Error{Dir: abs, Reason: "is not a directory"}
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return nil, &Error{Dir: abs, Reason: fmt.Sprintf("is writable by other users (mode %v)", fi.Mode().Perm())}
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
			return nil, &Error{Dir: abs, Reason: fmt.Sprintf("belongs to another user (uid %d)", st.Uid)}
		}
	}
	c := &Cache{dir: abs, key: append([]byte(nil), key...)}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// entry is what a JSON entry file holds: its key, to be checked on read,
// and the MAC of kind, key and value.
type entry struct {
	Key   []string        `json:"key"`
	Value json.RawMessage `json:"value"`
	MAC   string          `json:"mac"`
}

func (c *Cache) mac(kind string, key []string, value []byte) string {
	m := hmac.New(sha256.New, c.key)
	for _, part := range append([]string{"pipguard-cache-v1", kind}, key...) {
		fmt.Fprintf(m, "%d:%s", len(part), part)
	}
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil))
}

func (c *Cache) entryPath(kind string, key []string) string {
	if !kindRE.MatchString(kind) || kind == "blobs" {
		panic("cache: bad kind " + kind)
	}
	h := sha256.Sum256([]byte(strings.Join(key, "\x00")))
	x := hex.EncodeToString(h[:])
	return filepath.Join(c.dir, "v1", kind, x[:2], x+".json")
}

// Get decodes the entry of kind under key into v. It reports false for a
// missing entry, for anything at its path but a regular file of at most
// MaxEntry bytes, and for one that does not parse or was stored under
// another key (all are then replaced by the next Put).
func (c *Cache) Get(kind string, key []string, v any) bool {
	path := c.entryPath(kind, key)
	data, err := readEntry(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		c.note(path, err.Error())
		return false
	}
	var e entry
	if json.Unmarshal(data, &e) != nil || !slices.Equal(e.Key, key) {
		c.note(path, "not an entry for this key")
		return false
	}
	if !hmac.Equal([]byte(e.MAC), []byte(c.mac(kind, key, e.Value))) {
		// Not written under this key: planted, or another key's.
		c.note(path, "not written under this cache's key")
		return false
	}
	if json.Unmarshal(e.Value, v) != nil {
		c.note(path, "its value does not parse")
		return false
	}
	return true
}

// Put stores v as the entry of kind under key, atomically.
func (c *Cache) Put(kind string, key []string, v any) error {
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	data, err := json.Marshal(entry{Key: key, Value: val, MAC: c.mac(kind, key, val)})
	if err != nil {
		return err
	}
	return writeAtomic(c.entryPath(kind, key), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// MaxEntry bounds an entry file (attestation listings are the largest:
// tens of KiB).
const MaxEntry = 64 << 20

// MaxBlob bounds a blob: GitHub takes release assets under 2 GiB.
const MaxBlob = 2 << 30

// openRegular opens path for reading if it is a regular file of at most
// max bytes, and returns it with its size. It neither follows a symbolic
// link in the last element (O_NOFOLLOW: a link to /dev/zero is not read)
// nor waits for a writer (O_NONBLOCK: a named pipe does not hang the
// open), and checks what it opened (fstat), not the name, so nothing
// swapped in between is read. A missing file is fs.ErrNotExist; anything
// else says what was there.
func openRegular(path string, max int64) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, 0, errors.New("is a symbolic link, not a regular file")
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("cannot be opened: %w", errors.Unwrap(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("is %s, not a regular file", safefile.Kind(fi.Mode()))
	}
	if fi.Size() > max {
		f.Close()
		return nil, 0, fmt.Errorf("is larger (%d bytes) than any it could hold (%d)", fi.Size(), max)
	}
	return f, fi.Size(), nil
}

// readEntry reads the entry file at path: a regular file of at most
// MaxEntry bytes, read no further than the size it had when opened.
func readEntry(path string) ([]byte, error) {
	f, size, err := openRegular(path, MaxEntry)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, size))
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %w", err)
	}
	return data, nil
}

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *Cache) blobPath(sha string) (string, error) {
	if !hexRE.MatchString(sha) {
		return "", fmt.Errorf("cache: %q is not a SHA-256", sha)
	}
	return filepath.Join(c.dir, "v1", "blobs", sha[:2], sha), nil
}

// CopyBlob copies the bytes stored under sha to dst (created 0600, which
// must not exist), hashing them on the way. It reports false, leaving no
// dst, when there is no such blob, when what is there is not a regular file
// of at most MaxBlob bytes, or when its bytes hash to something else (the
// bad blob is removed). It reads no more than the blob's size when opened.
func (c *Cache) CopyBlob(sha, dst string) (bool, error) {
	src, err := c.blobPath(sha)
	if err != nil {
		return false, err
	}
	in, size, err := openRegular(src, MaxBlob)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		c.note(src, err.Error())
		os.Remove(src) // the name only: never what a link points to
		return false, nil
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	_, err = hashcopy.Copy(out, h, io.LimitReader(in, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil || hex.EncodeToString(h.Sum(nil)) != sha {
		c.note(src, "its bytes do not hash to its name")
		os.Remove(dst)
		os.Remove(src)
		return false, nil
	}
	return true, nil
}

// PutBlob stores the file at path under sha, which the caller has computed
// while it verified the bytes. It copies (a hard link would share the
// inode with the caller's file, which pip may still be reading) and does
// not hash again: CopyBlob checks every blob on the way out. A blob already
// there (a regular file) is kept; anything else there is replaced.
func (c *Cache) PutBlob(sha, path string) error {
	dst, err := c.blobPath(sha)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeAtomic(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// writeAtomic writes a file through a temporary file in its directory and
// a rename.
func writeAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
