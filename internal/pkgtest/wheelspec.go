package pkgtest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// WheelMember is one archive member of a WheelSpec.
type WheelMember struct {
	Name string
	Body string
	// Mode is the unix mode stored in the external attributes (e.g.
	// 0o100755); 0 stores none.
	Mode uint32
	// Store keeps the member uncompressed (deflated otherwise).
	Store bool
}

// WheelSpec is a wheel with arbitrary members, for tests of what reads
// wheels: unlike Project it can say anything, including what a malformed
// wheel says. The dist-info's METADATA, WHEEL, entry_points.txt and RECORD
// are added unless the spec says otherwise; RECORD lists every member with
// its sha256 and size.
type WheelSpec struct {
	Name, Version string // as in the file name
	Tag           string // default py3-none-any
	DistInfo      string // default Name-Version.dist-info
	// Platlib writes Root-Is-Purelib: false.
	Platlib bool
	// Wheel replaces the default WHEEL text.
	Wheel string
	// EntryPoints is entry_points.txt (none when empty).
	EntryPoints string
	Members     []WheelMember
	// NoMetadata, NoWheel and NoRecord leave those files out.
	NoMetadata, NoWheel, NoRecord bool
	// EditRecord, when set, changes RECORD's rows (path, hash, size) before
	// RECORD is written.
	EditRecord func(rows [][]string) [][]string
}

func (s WheelSpec) tag() string {
	if s.Tag == "" {
		return "py3-none-any"
	}
	return s.Tag
}

// FileName is the wheel's file name.
func (s WheelSpec) FileName() string { return fmt.Sprintf("%s-%s-%s.whl", s.Name, s.Version, s.tag()) }

// Info is the .dist-info directory name.
func (s WheelSpec) Info() string {
	if s.DistInfo != "" {
		return s.DistInfo
	}
	return s.Name + "-" + s.Version + ".dist-info"
}

// AllMembers are the members Bytes writes, RECORD last.
func (s WheelSpec) AllMembers() []WheelMember {
	di := s.Info() + "/"
	ms := append([]WheelMember(nil), s.Members...)
	if !s.NoMetadata {
		ms = append(ms, WheelMember{Name: di + "METADATA", Body: fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.Name, s.Version)})
	}
	if !s.NoWheel {
		w := s.Wheel
		if w == "" {
			w = fmt.Sprintf("Wheel-Version: 1.0\nGenerator: pipguard-pkgtest\nRoot-Is-Purelib: %t\nTag: %s\n", !s.Platlib, s.tag())
		}
		ms = append(ms, WheelMember{Name: di + "WHEEL", Body: w})
	}
	if s.EntryPoints != "" {
		ms = append(ms, WheelMember{Name: di + "entry_points.txt", Body: s.EntryPoints})
	}
	if !s.NoRecord {
		var rows [][]string
		for _, m := range ms {
			if m.Name[len(m.Name)-1] == '/' {
				continue
			}
			sum := sha256.Sum256([]byte(m.Body))
			rows = append(rows, []string{m.Name, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), strconv.Itoa(len(m.Body))})
		}
		rows = append(rows, []string{di + "RECORD", "", ""})
		if s.EditRecord != nil {
			rows = s.EditRecord(rows)
		}
		var b bytes.Buffer
		cw := csv.NewWriter(&b)
		cw.WriteAll(rows)
		ms = append(ms, WheelMember{Name: di + "RECORD", Body: b.String()})
	}
	return ms
}

// Bytes is the wheel archive.
func (s WheelSpec) Bytes() []byte { return ZipBytes(s.AllMembers()) }

// Write writes the wheel into dir under its file name and returns its path.
func (s WheelSpec) Write(t TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, s.FileName())
	if err := os.WriteFile(p, s.Bytes(), 0o644); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	return p
}

// ZipBytes is a zip of exactly these members, in order (duplicates and
// any names allowed).
func ZipBytes(members []WheelMember) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.Name, Method: zip.Deflate, Modified: epoch}
		if m.Store {
			h.Method = zip.Store
		}
		if m.Mode != 0 {
			h.CreatorVersion = 3 << 8 // unix
			h.ExternalAttrs = m.Mode << 16
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		w.Write([]byte(m.Body))
	}
	zw.Close()
	return buf.Bytes()
}
