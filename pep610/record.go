package pep610

import (
	"bufio"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// FileProblem is an installed file that differs from its RECORD row.
type FileProblem struct {
	Path, Expected, Actual string
}

func (p FileProblem) String() string {
	return fmt.Sprintf("%s: RECORD says %s, found %s", p.Path, p.Expected, p.Actual)
}

// CheckRecord compares every file that the distribution's RECORD lists
// with a hash against the disk (as pip writes RECORD: the path relative to
// the site directory, the urlsafe-base64 digest without padding, the
// size). sha256, sha384 and sha512 rows are checked alike: pip writes
// sha256 for what it writes or changes, but keeps a wheel's own row (and
// its algorithm) for every file it installs unchanged. A row whose hash
// names another algorithm, or is not ALGORITHM=DIGEST, is a problem: the
// file cannot be checked. Rows without a hash (RECORD itself, .pyc files
// pip compiled) are not checked, nor is the distribution's own pipguard
// receipt (its row is checked with the receipt). At most limit problems
// are returned.
func (d Dist) CheckRecord(limit int) ([]FileProblem, error) {
	f, err := os.Open(filepath.Join(d.Dir, "RECORD"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	site := filepath.Dir(d.Dir)
	own := filepath.Base(d.Dir) + "/" + ReceiptFile
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, 64<<20)))
	r.FieldsPerRecord = -1
	var out []FileProblem
	for len(out) < limit {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, fmt.Errorf("RECORD: %v", err)
		}
		if len(row) < 2 || row[1] == "" || row[0] == own {
			continue
		}
		p := row[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		p = filepath.Clean(p)
		alg, want, ok := strings.Cut(row[1], "=")
		if !ok || recordHash(alg) == nil {
			out = append(out, FileProblem{Path: p, Expected: row[1], Actual: "nothing checked: the hash is not sha256=, sha384= or sha512= and a digest"})
			continue
		}
		got, err := fileDigest(p, alg)
		switch {
		case err != nil:
			out = append(out, FileProblem{Path: p, Expected: alg + "=" + want, Actual: "no readable file (" + errText(err) + ")"})
		case got != want:
			out = append(out, FileProblem{Path: p, Expected: alg + "=" + want, Actual: alg + "=" + got})
		}
	}
	return out, nil
}

func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// recordHash is the hash a RECORD row's algorithm names: sha256, sha384 or
// sha512 (what the wheel spec and pipguard's plan accept); nil for any
// other.
func recordHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// fileDigest is the RECORD form of a regular file's digest by alg (sha256,
// sha384 or sha512; links are not followed: pip installs regular files).
func fileDigest(p, alg string) (string, error) {
	h := recordHash(alg)
	if h == nil {
		return "", fmt.Errorf("%s is not a hash pipguard checks", alg)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// RecordPaths are the paths the distribution's RECORD lists, absolute
// and clean (a relative row is relative to the site directory).
func (d Dist) RecordPaths() ([]string, error) {
	f, err := os.Open(filepath.Join(d.Dir, "RECORD"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	site := filepath.Dir(d.Dir)
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, 64<<20)))
	r.FieldsPerRecord = -1
	var out []string
	for {
		row, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("RECORD: %v", err)
		}
		if len(row) == 0 || row[0] == "" {
			continue
		}
		p := row[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		out = append(out, filepath.Clean(p))
	}
}

// Records says whether the distribution's RECORD lists path (absolute, or
// relative to the site directory) with a hash (sha256, sha384 or sha512)
// that the file on disk has: the distribution installed that file, as it
// is now.
func (d Dist) Records(path string) bool {
	f, err := os.Open(filepath.Join(d.Dir, "RECORD"))
	if err != nil {
		return false
	}
	defer f.Close()
	site := filepath.Dir(d.Dir)
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, 64<<20)))
	r.FieldsPerRecord = -1
	for {
		row, err := r.Read()
		if err != nil {
			return false
		}
		if len(row) < 2 {
			continue
		}
		p := row[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		if filepath.Clean(p) != filepath.Clean(path) {
			continue
		}
		alg, want, ok := strings.Cut(row[1], "=")
		if !ok || recordHash(alg) == nil {
			return false
		}
		got, err := fileDigest(path, alg)
		return err == nil && got == want
	}
}
