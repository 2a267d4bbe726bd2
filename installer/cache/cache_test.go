package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef-test")

func open(t *testing.T) *Cache {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "cache"), key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenRefusesWhatOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	_, err := Open(dir, key)
	if err == nil || !strings.Contains(err.Error(), "writable by other users") {
		t.Fatalf("world-writable cache: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file, key); err == nil {
		t.Fatal("a file opened as a cache")
	}
	c := open(t)
	for _, d := range []string{c.Dir(), filepath.Join(c.Dir(), "v1")} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
}

func TestEntriesRoundTripAndCorruptionIsAMiss(t *testing.T) {
	c := open(t)
	key := []string{"github.com/acme/demo", "v1.0.0", strings.Repeat("a", 40)}
	var got map[string]int
	if c.Get("release", key, &got) {
		t.Fatal("hit in an empty cache")
	}
	if err := c.Put("release", key, map[string]int{"id": 7}); err != nil {
		t.Fatal(err)
	}
	if !c.Get("release", key, &got) || got["id"] != 7 {
		t.Fatalf("got %v", got)
	}
	path := c.entryPath("release", key)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, want 0600", fi.Mode().Perm())
	}
	// Another key's entry moved into place is not this key's.
	other := []string{"github.com/acme/demo", "v1.0.0", strings.Repeat("b", 40)}
	c.Put("release", other, map[string]int{"id": 8})
	data, _ := os.ReadFile(c.entryPath("release", other))
	os.WriteFile(path, data, 0o600)
	if c.Get("release", key, &got) {
		t.Error("an entry stored under another key was read")
	}
	// Truncated JSON is a miss, and the next Put replaces it.
	os.WriteFile(path, data[:len(data)/2], 0o600)
	if c.Get("release", key, &got) {
		t.Error("a truncated entry was read")
	}
	c.Put("release", key, map[string]int{"id": 9})
	if !c.Get("release", key, &got) || got["id"] != 9 {
		t.Errorf("not replaced: %v", got)
	}
}

func TestBlobsAreCheckedOnTheWayOut(t *testing.T) {
	c := open(t)
	src := filepath.Join(t.TempDir(), "asset")
	os.WriteFile(src, []byte("the verified bytes"), 0o600)
	sum := sha256.Sum256([]byte("the verified bytes"))
	sha := hex.EncodeToString(sum[:])
	if err := c.PutBlob(sha, src); err != nil {
		t.Fatal(err)
	}
	// Bytes stored under a digest they do not have are never handed out.
	c.PutBlob(strings.Repeat("0", 64), src)
	if ok, _ := c.CopyBlob(strings.Repeat("0", 64), filepath.Join(t.TempDir(), "x")); ok {
		t.Error("bytes came out under a digest they do not have")
	}
	dst := filepath.Join(t.TempDir(), "out")
	if ok, err := c.CopyBlob(sha, dst); !ok || err != nil {
		t.Fatalf("CopyBlob: %v %v", ok, err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "the verified bytes" {
		t.Errorf("copied %q", b)
	}
	// Bytes changed in the cache: a miss, the blob removed, no file left.
	blob, _ := c.blobPath(sha)
	os.WriteFile(blob, []byte("other bytes"), 0o600)
	dst2 := filepath.Join(t.TempDir(), "out2")
	if ok, _ := c.CopyBlob(sha, dst2); ok {
		t.Error("a changed blob was copied out")
	}
	if _, err := os.Stat(dst2); err == nil {
		t.Error("a changed blob left a file behind")
	}
	if _, err := os.Stat(blob); err == nil {
		t.Error("a changed blob was kept")
	}
}

// Processes sharing a cache (a CI cache, a BuildKit cache mount) write the
// same entries at once: each reader sees a whole entry or none.
func TestConcurrentWritersAndReaders(t *testing.T) {
	c := open(t)
	key := []string{"k"}
	big := strings.Repeat("x", 256<<10)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if err := c.Put("attestations", key, big); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				var s string
				if c.Get("attestations", key, &s) && s != big {
					t.Error("read a partial entry")
				}
			}
		}()
	}
	wg.Wait()
	left, _ := filepath.Glob(filepath.Join(c.Dir(), "v1", "attestations", "*", ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// Entries are authenticated with the cache's key: an entry written by
// someone without it (another build sharing the directory) is not read,
// and the same directory opened with another key reads nothing.
func TestEntriesWithoutTheKeyAreNotRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := Open(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	c.Put("compare", []string{"k"}, "mine")
	other, err := Open(dir, []byte("someone-elses-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if other.Get("compare", []string{"k"}, &s) {
		t.Error("an entry was read under another key")
	}
	other.Put("compare", []string{"k"}, "planted")
	if c.Get("compare", []string{"k"}, &s) {
		t.Errorf("a planted entry was read: %q", s)
	}
	// The MAC covers the value: an edited value is not read.
	c.Put("compare", []string{"k"}, "mine")
	p := c.entryPath("compare", []string{"k"})
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), `"mine"`, `"edit"`, 1)), 0o600)
	if c.Get("compare", []string{"k"}, &s) {
		t.Errorf("an edited entry was read: %q", s)
	}
	if _, err := Open(dir, []byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

// The cache's path is resolved once: a symbolic link re-pointed after Open
// (another user's link in a shared /tmp) changes nothing.
func TestSymlinkRepointedAfterOpen(t *testing.T) {
	base := t.TempDir()
	mine, theirs := filepath.Join(base, "mine"), filepath.Join(base, "theirs")
	os.Mkdir(mine, 0o700)
	os.Mkdir(theirs, 0o700)
	link := filepath.Join(base, "cache")
	os.Symlink(mine, link)
	c, err := Open(link, key)
	if err != nil {
		t.Fatal(err)
	}
	planted, _ := Open(theirs, key)
	planted.Put("compare", []string{"k"}, "planted")
	os.Remove(link)
	os.Symlink(theirs, link)
	var s string
	if c.Get("compare", []string{"k"}, &s) {
		t.Errorf("read %q through a re-pointed link", s)
	}
	if c.Dir() != mine {
		t.Errorf("Dir() = %s, want %s", c.Dir(), mine)
	}
}

// notes collects what WithNotes reports.
type notes struct {
	mu    sync.Mutex
	lines []string
}

func (n *notes) add(s string) { n.mu.Lock(); n.lines = append(n.lines, s); n.mu.Unlock() }

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "\n")
}

// within runs f and fails the test if it has not returned after d (a
// cache read that hangs on a planted named pipe).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still running after %s", what, d)
	}
}

// A co-tenant of a shared cache (a BuildKit cache mount, a CI cache)
// plants a named pipe in place of a blob and at the computable path of a
// release entry, a symbolic link to /dev/zero, and files larger than any
// entry or asset. Each is a miss, at once, said with WithNotes; nothing
// is read from them.
func TestHostileFilesAreMisses(t *testing.T) {
	var n notes
	c, err := Open(filepath.Join(t.TempDir(), "cache"), key, WithNotes(n.add))
	if err != nil {
		t.Fatal(err)
	}
	relKey := []string{"github.com/acme/demo", "v1.0.0", strings.Repeat("a", 40)}
	sum := sha256.Sum256([]byte("the verified bytes"))
	sha := hex.EncodeToString(sum[:])
	blob, _ := c.blobPath(sha)
	plant := func(path string, make func(string) error) {
		t.Helper()
		os.RemoveAll(path)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := make(path); err != nil {
			t.Fatal(err)
		}
	}
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o600) }
	zero := func(p string) error { return os.Symlink("/dev/zero", p) }
	sparse := func(size int64) func(string) error {
		return func(p string) error {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				return err
			}
			return os.Truncate(p, size)
		}
	}
	getMiss := func(name, want string) {
		t.Helper()
		var v map[string]any
		within(t, 5*time.Second, name, func() {
			if c.Get("release", relKey, &v) {
				t.Errorf("%s: read as an entry", name)
			}
		})
		if !strings.Contains(n.String(), want) {
			t.Errorf("%s: notes %q, want %q", name, n.String(), want)
		}
	}
	copyMiss := func(name, want string) {
		t.Helper()
		dst := filepath.Join(t.TempDir(), "out")
		within(t, 5*time.Second, name, func() {
			if ok, err := c.CopyBlob(sha, dst); ok || err != nil {
				t.Errorf("%s: CopyBlob = %v, %v", name, ok, err)
			}
		})
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("%s: left %s", name, dst)
		}
		if !strings.Contains(n.String(), want) {
			t.Errorf("%s: notes %q, want %q", name, n.String(), want)
		}
	}

	plant(c.entryPath("release", relKey), fifo)
	getMiss("named pipe at a release entry", "is a named pipe, not a regular file")
	plant(c.entryPath("release", relKey), zero)
	getMiss("link to /dev/zero at a release entry", "is a symbolic link")
	plant(c.entryPath("release", relKey), sparse(MaxEntry+1))
	getMiss("oversized entry", "is larger (67108865 bytes) than any it could hold")

	plant(blob, fifo)
	copyMiss("named pipe in place of a blob", "is a named pipe")
	plant(blob, zero)
	copyMiss("link to /dev/zero in place of a blob", "is a symbolic link")
	plant(blob, sparse(MaxBlob+1))
	copyMiss("oversized blob", "is larger")
	if _, err := os.Lstat(blob); err == nil {
		t.Error("the planted blob was kept")
	}

	// The next writes replace what was planted.
	plant(blob, fifo)
	src := filepath.Join(t.TempDir(), "asset")
	os.WriteFile(src, []byte("the verified bytes"), 0o600)
	if err := c.PutBlob(sha, src); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.CopyBlob(sha, filepath.Join(t.TempDir(), "out")); !ok || err != nil {
		t.Errorf("the blob written over a named pipe: %v %v", ok, err)
	}
	plant(c.entryPath("release", relKey), fifo)
	if err := c.Put("release", relKey, map[string]int{"id": 7}); err != nil {
		t.Fatal(err)
	}
	var v map[string]int
	if !c.Get("release", relKey, &v) || v["id"] != 7 {
		t.Errorf("the entry written over a named pipe: %v", v)
	}
	t.Log(n.String())
}
