package layout_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

// FuzzOpen: Open never panics, and never accepts a wheel whose RECORD
// disagrees with its members (checked here independently: the whole
// RECORD read by encoding/csv, every member hashed again).
func FuzzOpen(f *testing.F) {
	specs, _ := corpus()
	for _, i := range []int{0, 2, 4} { // alpha, gamma (entry points), empty_dist
		f.Add(specs[i].Bytes())
	}
	s := base()
	s.EditRecord = editRow("demo/__init__.py", func(r []string) []string { return []string{r[0], "sha256=AAAA", r[2]} })
	f.Add(s.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "demo-1.0-py3-none-any.whl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := layout.Open(p)
		if err != nil {
			return
		}
		if why := recordDisagrees(b, w.DistInfo); why != "" {
			t.Fatalf("Open accepted a wheel whose RECORD disagrees: %s", why)
		}
		// A wheel Open accepts plans in a fixed scheme without panicking.
		root := "/nonexistent/fuzz"
		_, _ = layout.PlanWheel(w, layout.Scheme{Purelib: root + "/lib", Platlib: root + "/lib", Scripts: root + "/bin", Data: root,
			Headers: root + "/include/demo", CacheTag: "cpython-311", PythonVersion: "3.11"}, layout.PlanOptions{})
	})
}

func recordDisagrees(b []byte, distInfo string) string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return "not a zip: " + err.Error()
	}
	var record []byte
	for _, f := range zr.File {
		if f.Name == distInfo+"/RECORD" {
			rc, _ := f.Open()
			record, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	cr := csv.NewReader(bytes.NewReader(record))
	cr.FieldsPerRecord, cr.LazyQuotes = -1, true
	rows, _ := cr.ReadAll()
	byName := map[string][]string{}
	for _, r := range rows {
		if len(r) > 0 {
			byName[r[0]] = r
		}
	}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		switch strings.TrimPrefix(f.Name, distInfo+"/") {
		case "RECORD", "RECORD.jws", "RECORD.p7s":
			continue
		}
		r, ok := byName[f.Name]
		if !ok || len(r) < 3 {
			return f.Name + " has no RECORD row"
		}
		algo, digest, _ := strings.Cut(r[1], "=")
		var h hash.Hash
		switch algo {
		case "sha256":
			h = sha256.New()
		case "sha384":
			h = sha512.New384()
		case "sha512":
			h = sha512.New()
		default:
			return f.Name + " hashed with " + algo
		}
		rc, err := f.Open()
		if err != nil {
			return f.Name + ": " + err.Error()
		}
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return f.Name + ": " + err.Error()
		}
		if base64.RawURLEncoding.EncodeToString(h.Sum(nil)) != strings.TrimRight(digest, "=") {
			return f.Name + " hash differs"
		}
		if r[2] != "" && r[2] != itoa(n) {
			return f.Name + " size differs"
		}
	}
	return ""
}

func itoa(n int64) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int64) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

var _ = pkgtest.ZipBytes
