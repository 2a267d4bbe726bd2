package pep610

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ReceiptKeyFile is where an environment's receipt key lives, relative to
// its prefix (sys.prefix): outside site-packages, in a directory no wheel
// may write (pipguard's plan refuses any path under it), mode 0600. It
// travels with the environment, so an audit of a copied virtual
// environment can still authenticate its receipts.
const ReceiptKeyFile = ".pipguard/receipt.key"

// MinReceiptKey is the size of a receipt key.
const MinReceiptKey = 32

// LoadReceiptKey reads the environment's receipt key, making one (random,
// 0600) when create is set and there is none.
func LoadReceiptKey(prefix string, create bool) ([]byte, error) {
	path := filepath.Join(prefix, ReceiptKeyFile)
	key, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !create {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key = make([]byte, MinReceiptKey)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path) // another run made it first
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

func readKey(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Getuid()) && st.Uid != 0 {
		return nil, fmt.Errorf("%s is owned by another user (uid %d): it is not used", path, st.Uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s can be read or written by others (mode %v): it is not used", path, fi.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, err
	}
	if len(key) < MinReceiptKey {
		return nil, fmt.Errorf("%s holds %d bytes, fewer than %d", path, len(key), MinReceiptKey)
	}
	return key, nil
}

// PrefixReceiptKey reads the receipt key of the environment whose
// sys.prefix is prefix (PREFIX/.pipguard/receipt.key, which pipguard's plan
// lets no wheel write). It returns nil and no error when there is none.
// The key is taken from the prefix alone, never from a directory near a
// site-packages directory or one a .pth file adds: a key a wheel put
// there (plain pip installs one where it is told to) would authenticate
// the receipts the same wheel forged.
func PrefixReceiptKey(prefix string) ([]byte, error) {
	key, err := readKey(filepath.Join(prefix, ReceiptKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return key, err
}
