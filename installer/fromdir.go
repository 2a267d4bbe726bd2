package installer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipguard/pipguard/internal/safefile"
	"github.com/pipguard/pipguard/internal/termsafe"
)

// A hermetic install's fetch directory (install --files DIR) is written
// by whoever filled it, before or during the install: pipguard trusts its
// bytes only once hashed, and reads it so that its writer cannot lead the
// install elsewhere. Every file of DIR is read under an os.Root of DIR (no
// name escapes it, symlinks included), must be a regular file that is not
// a symbolic link (a FIFO does not hang the install, /dev/zero is not
// read), and is read with a bound: the lock's size for a locked file,
// maxDirRecord for a release record or a provenance file. A locked file is
// copied (never linked) into pipguard's private directory and hashed as
// it is copied, so the bytes pip installs are the bytes hashed, whatever
// DIR's writer does after. pipguard fetch writes DIR the same way: through
// the os.Root, replacing (never following) a symbolic link it finds where
// it writes.

// maxDirRecord bounds a release record or a provenance file read from a
// fetch directory.
const maxDirRecord = 8 << 20

// maxDirFile bounds a locked file whose size the lock does not give.
const maxDirFile = 8 << 30

// openDir opens a fetch directory as the root every read and write of it
// goes through.
func openDir(dir string) (*os.Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the fetch directory: %w", err)
	}
	return r, nil
}

// copyFromDir copies DIR/name into dst (a new 0600 file in pipguard's
// private directory), hashing it as it is copied, reading at most the
// lock's size plus one byte (a longer file is refused).
func copyFromDir(root *os.Root, name, dst string, size *int64) (fetched, error) {
	max := int64(maxDirFile)
	if size != nil && *size >= 0 {
		max = *size
	}
	os.Remove(dst)
	h := sha256.New()
	n, err := safefile.CopyHashed(root, filepath.Base(name), dst, max, h)
	var se *safefile.Error
	if errors.As(err, &se) && se.Max > 0 && size != nil {
		return fetched{}, fmt.Errorf("%s: its size is more than %d bytes, the lock says %d", filepath.Base(name), se.Max, *size)
	}
	if err != nil {
		return fetched{}, err
	}
	return fetched{path: dst, sha256: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

// noProvenanceSuffix names the file pipguard fetch writes beside a locked
// index file whose index gave no provenance (DIR/FILENAME.no-provenance,
// saying why): DIR's record that there was none to store, so that a
// provenance file removed from DIR is a question DIR holds no answer for
// (refused), not a file "without provenance". The record is unsigned:
// DIR's writer can still replace a provenance by it, and the file is then
// reported as not checked offline, never as verified.
const noProvenanceSuffix = ".no-provenance"

// dirProvenance reads DIR/FILENAME.provenance for an install --files. It
// returns the document's bytes, or why there is none; missing says DIR
// holds neither the provenance nor fetch's record that the index gave
// none, for a file of a package that names an index (fetch asked it).
func dirProvenance(dir, filename string, hasIndex bool) (data []byte, why string, missing bool) {
	root, err := openDir(dir)
	if err != nil {
		return nil, err.Error(), false
	}
	defer root.Close()
	// Under DIR, a regular file (no link, FIFO, device), bounded.
	data, err = safefile.ReadFile(root, filename+".provenance", maxDirRecord)
	if err == nil {
		return data, "", false
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err.Error(), false
	}
	if !hasIndex {
		return nil, dir + " holds no provenance (not checked offline): the lock names no index for it", false
	}
	rec, err := safefile.ReadFile(root, filename+noProvenanceSuffix, 4<<10)
	if err != nil {
		return nil, fmt.Sprintf("%s holds neither %s.provenance nor pipguard fetch's record that its index published none", dir, filename), true
	}
	return nil, fmt.Sprintf("%s holds no provenance (not checked offline; when fetched, its index gave none: %s)", dir, termsafe.String(strings.TrimSpace(string(rec)))), false
}
