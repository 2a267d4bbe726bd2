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
	"syscall"

	"github.com/pipguard/pipguard/internal/hashcopy"
)

// Cache is an open cache directory.
type Cache struct {
	dir string
	key []byte
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
func Open(dir string, key []byte) (*Cache, error) {
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
	return &Cache{dir: abs, key: append([]byte(nil), key...)}, nil
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
// missing entry and for one that does not parse or was stored under another
// key (both are then replaced by the next Put).
func (c *Cache) Get(kind string, key []string, v any) bool {
	data, err := readSmall(c.entryPath(kind, key))
	if err != nil {
		return false
	}
	var e entry
	if json.Unmarshal(data, &e) != nil || !slices.Equal(e.Key, key) {
		return false
	}
	if !hmac.Equal([]byte(e.MAC), []byte(c.mac(kind, key, e.Value))) {
		return false // not written under this key: planted, or another key's
	}
	return json.Unmarshal(e.Value, v) == nil
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

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxEntry+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxEntry {
		return nil, errors.New("too large")
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
// dst, when there is no such blob or its bytes hash to something else (the
// bad blob is removed).
func (c *Cache) CopyBlob(sha, dst string) (bool, error) {
	src, err := c.blobPath(sha)
	if err != nil {
		return false, err
	}
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, nil
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	_, err = hashcopy.Copy(out, h, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil || hex.EncodeToString(h.Sum(nil)) != sha {
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
// there is kept.
func (c *Cache) PutBlob(sha, path string) error {
	dst, err := c.blobPath(sha)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
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
