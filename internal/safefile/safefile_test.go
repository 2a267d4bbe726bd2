package safefile

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadsOnlyRegularFilesInsideTheRoot(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(dir, "ok"), []byte("hello"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "out"))
	os.Symlink("ok", filepath.Join(dir, "in"))
	os.Symlink(filepath.Dir(outside), filepath.Join(dir, "sub"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if b, err := ReadFile(root, "ok", 5); err != nil || string(b) != "hello" {
		t.Fatalf("ok: %q %v", b, err)
	}
	for name, want := range map[string]string{
		"out":        "symbolic link",
		"in":         "symbolic link",
		"sub/secret": "",
		"fifo":       "named pipe",
		"missing":    "",
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(root, name, 100); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want an error saying %q", name, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: hangs", name)
		}
	}
	if _, err := ReadFile(root, "missing", 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	var se *Error
	if _, err := ReadFile(root, "ok", 4); !errors.As(err, &se) || se.Max != 4 {
		t.Errorf("too large: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	h := sha256.New()
	if n, err := CopyHashed(root, "ok", dst, 5, h); err != nil || n != 5 {
		t.Fatalf("copy: %d %v", n, err)
	}
	a, _ := os.Stat(filepath.Join(dir, "ok"))
	b, _ := os.Lstat(dst)
	if os.SameFile(a, b) || !b.Mode().IsRegular() || b.Mode().Perm() != 0o600 {
		t.Errorf("the copy is %v, the same file: %v", b.Mode(), os.SameFile(a, b))
	}
	if _, err := CopyHashed(root, "ok", filepath.Join(t.TempDir(), "c2"), 4, sha256.New()); !errors.As(err, &se) {
		t.Errorf("copy too large: %v", err)
	}
}

func TestWritesReplaceLinksAndNeverFollowThem(t *testing.T) {
	dir := t.TempDir()
	victim := t.TempDir()
	os.MkdirAll(filepath.Join(victim, "x"), 0o755)
	os.WriteFile(filepath.Join(victim, "x", "keep"), []byte("mine"), 0o644)
	os.WriteFile(filepath.Join(victim, "file"), []byte("mine"), 0o644)
	os.Symlink(victim, filepath.Join(dir, "tuf"))
	os.Symlink(filepath.Join(victim, "file"), filepath.Join(dir, "f"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := Clear(root, "tuf/x"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(root, "tuf/x/new", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(root, "f", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"x/keep", "file"} {
		if b, err := os.ReadFile(filepath.Join(victim, p)); err != nil || string(b) != "mine" {
			t.Errorf("victim %s: %q %v", p, b, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "tuf")); err != nil || !fi.IsDir() {
		t.Errorf("dir/tuf: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "tuf", "x", "new")); err != nil || string(b) != "new" {
		t.Errorf("new: %q %v", b, err)
	}
}
