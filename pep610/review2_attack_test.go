package pep610

import (
	"crypto/sha512"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// A RECORD row hashed with sha384 or sha512 (which the wheel spec allows,
// pipguard's plan accepts, and pip keeps for every file it does not
// rewrite) is never compared with the disk: a changed file is not a
// problem, so pipguard audit reports no files-changed and the receipt,
// bound to the unchanged RECORD, still vouches for the distribution.
func TestAttackCheckRecordSkipsSHA512Rows(t *testing.T) {
	site := t.TempDir()
	di := filepath.Join(site, "strong-1.0.dist-info")
	if err := os.MkdirAll(filepath.Join(site, "strong"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(di, 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "VERSION = '1.0'\n"
	sum := sha512.Sum512([]byte(orig))
	rec := "strong/__init__.py,sha512=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(orig)) + "\nstrong-1.0.dist-info/RECORD,,\n"
	os.WriteFile(filepath.Join(di, "RECORD"), []byte(rec), 0o644)
	os.WriteFile(filepath.Join(site, "strong", "__init__.py"), []byte("import os; os.system('id')\n"), 0o644)
	d := Dist{Dir: di, Name: "strong", Version: "1.0"}
	problems, err := d.CheckRecord(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Errorf("strong/__init__.py differs from its RECORD's sha512, and CheckRecord reports nothing")
	}
}
