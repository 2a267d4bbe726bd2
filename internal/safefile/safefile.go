// Package safefile reads and writes the files of a directory someone else
// may write (a hermetic install's fetch directory) without being led out
// of it: every name is resolved under an *os.Root (no component may
// escape it, symlinks included), a file pipguard reads must be a regular
// file that is not itself a symbolic link (a FIFO does not hang the open,
// /dev/zero is not read), and every read is bounded. What is read is
// checked on the open descriptor (fstat), never by name alone, so a file
// swapped in between is refused.
package safefile

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pipguard/pipguard/internal/hashcopy"
)

// Error is a file of the directory pipguard will not read or write as it
// is (a symbolic link, a special file, too large).
type Error struct {
	// Path is the file's name under the root.
	Path string
	// Why says what is wrong with it.
	Why string
	// Max, when not 0, says the file is larger than Max bytes, the bound
	// it was read with.
	Max int64
}

func (e *Error) Error() string { return e.Path + " " + e.Why }

// Open opens name under root for reading: it must be a regular file, not a
// symbolic link (even to a file inside root), of at most max bytes. A
// missing file is an error satisfying errors.Is(err, fs.ErrNotExist).
func Open(root *os.Root, name string, max int64) (*os.File, fs.FileInfo, error) {
	name = filepath.ToSlash(filepath.Clean(name))
	before, err := root.Lstat(name)
	if err != nil {
		return nil, nil, err
	}
	if before.Mode()&fs.ModeSymlink != 0 {
		return nil, nil, &Error{Path: name, Why: "is a symbolic link, not a regular file (pipguard reads no link in the directory)"}
	}
	if !before.Mode().IsRegular() {
		return nil, nil, &Error{Path: name, Why: "is " + Kind(before.Mode()) + ", not a regular file"}
	}
	// O_NONBLOCK: should a FIFO be swapped in after the Lstat, the open
	// does not wait for a writer; the fstat below refuses it.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() || !os.SameFile(before, fi) {
		f.Close()
		return nil, nil, &Error{Path: name, Why: "changed while pipguard opened it (now " + Kind(fi.Mode()) + ")"}
	}
	if fi.Size() > max {
		f.Close()
		return nil, nil, &Error{Path: name, Why: fmt.Sprintf("is %d bytes, more than the %d it may be", fi.Size(), max), Max: max}
	}
	return f, fi, nil
}

// ReadFile reads name under root as Open opens it, at most max bytes (a
// file that grows past max while read is refused too).
func ReadFile(root *os.Root, name string, max int64) ([]byte, error) {
	f, _, err := Open(root, name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &Error{Path: name, Why: fmt.Sprintf("is more than the %d bytes it may be", max), Max: max}
	}
	return b, nil
}

// CopyHashed copies name under root (as Open opens it) into dst, a new
// file (O_EXCL, 0600: never a link to the directory's inode, so what was
// hashed is what dst holds whatever the directory's writer does after),
// feeding every byte to h. It reads at most max+1 bytes: a file longer
// than max is refused. It returns the bytes copied.
func CopyHashed(root *os.Root, name, dst string, max int64, h hash.Hash) (int64, error) {
	in, _, err := Open(root, name, max)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := hashcopy.Copy(out, h, io.LimitReader(in, max+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = &Error{Path: name, Why: fmt.Sprintf("is more than the %d bytes it may be", max), Max: max}
	}
	if err != nil {
		os.Remove(dst)
		return 0, err
	}
	return n, nil
}

// Clear makes name under root free for a new file or directory: a
// symbolic link or file there is removed (the link itself, never what it
// names), a directory removed with everything in it (Root.RemoveAll never
// follows a link out of root). Every parent directory of name must be a
// real directory: one that is a symbolic link is removed and made again,
// so nothing written under name lands elsewhere.
func Clear(root *os.Root, name string) error {
	if err := Parents(root, name); err != nil {
		return err
	}
	name = filepath.ToSlash(filepath.Clean(name))
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return root.RemoveAll(name)
	}
	return root.Remove(name)
}

// Parents makes every parent directory of name under root a real
// directory (0755): a symbolic link or file in the way is removed (not
// followed) and a directory made in its place.
func Parents(root *os.Root, name string) error {
	name = filepath.ToSlash(filepath.Clean(name))
	dir := path.Dir(name)
	if dir == "." || dir == "/" {
		return nil
	}
	p := ""
	for _, c := range strings.Split(dir, "/") {
		if c == "" {
			continue
		}
		if p == "" {
			p = c
		} else {
			p += "/" + c
		}
		fi, err := root.Lstat(p)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			if err := root.Remove(p); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := root.Mkdir(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes data to name under root as a new file (perm), after
// Clear: a link planted at name (or at a parent) is replaced, never
// followed.
func WriteFile(root *os.Root, name string, data []byte, perm fs.FileMode) error {
	if err := Clear(root, name); err != nil {
		return err
	}
	f, err := root.OpenFile(filepath.ToSlash(filepath.Clean(name)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CopyIn copies the local file src (pipguard's own) to name under root as
// a new file (perm), after Clear, hashing nothing: a copy, never a link,
// so the directory's writer cannot change src through it.
func CopyIn(root *os.Root, src, name string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := Clear(root, name); err != nil {
		return err
	}
	out, err := root.OpenFile(filepath.ToSlash(filepath.Clean(name)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// Kind names a file mode's type for an error.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file (" + m.Type().String() + ")"
}
