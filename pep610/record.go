package pep610

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
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
// with a sha256 hash against the disk (as pip writes RECORD: the path
// relative to the site directory, urlsafe-base64 sha256 without padding,
// the size). Rows without a hash (RECORD itself, .pyc files pip compiled)
// are not checked; neither are paths outside the site directory's parent
// environment that RECORD may name (they are reported as not checked by
// the caller's plan, not here). At most limit problems are returned.
func (d Dist) CheckRecord(limit int) ([]FileProblem, error) {
	f, err := os.Open(filepath.Join(d.Dir, "RECORD"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	site := filepath.Dir(d.Dir)
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
		if len(row) < 2 || row[1] == "" || strings.HasSuffix(row[0], "/"+ReceiptFile) {
			continue
		}
		alg, want, ok := strings.Cut(row[1], "=")
		if !ok || alg != "sha256" {
			continue
		}
		p := row[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, p)
		}
		p = filepath.Clean(p)
		got, err := fileSHA256(p)
		switch {
		case err != nil:
			out = append(out, FileProblem{Path: p, Expected: "sha256=" + want, Actual: "no readable file (" + errText(err) + ")"})
		case got != want:
			out = append(out, FileProblem{Path: p, Expected: "sha256=" + want, Actual: "sha256=" + got})
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

// fileSHA256 is the RECORD form of a regular file's sha256 (links are not
// followed: pip installs regular files).
func fileSHA256(p string) (string, error) {
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
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// Records says whether the distribution's RECORD lists path (absolute, or
// relative to the site directory) with a sha256 that the file on disk has:
// the distribution installed that file, as it is now.
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
		if !ok || alg != "sha256" {
			return false
		}
		got, err := fileSHA256(path)
		return err == nil && got == want
	}
}
