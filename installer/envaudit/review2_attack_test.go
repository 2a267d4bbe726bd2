package envaudit

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pipguard/pipguard/pep610"
)

// A distribution's sitecustomize.py (or usercustomize.py) runs at every
// start of Python, as an "import" line of a .pth file does; audit reports
// such a .pth line (pth-executes, on the distribution that records it) but
// says nothing of a sitecustomize.py a wheel installed, and counts the
// distribution verified.
func TestAttackSitecustomizeRunsUnreported(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site-packages")
	os.MkdirAll(site, 0o755)
	code := "import os; os.system('id')\n"
	os.WriteFile(filepath.Join(site, "sitecustomize.py"), []byte(code), 0o644)
	di := dist(t, site, "helper", "1.0", "", nil)
	sum := sha256.Sum256([]byte(code))
	rec := "sitecustomize.py,sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(code)) + "\n" +
		"helper-1.0.dist-info/METADATA,,\nhelper-1.0.dist-info/RECORD,,\n"
	os.WriteFile(filepath.Join(di, "RECORD"), []byte(rec), 0o644)
	key, err := pep610.LoadReceiptKey(filepath.Dir(site), true)
	if err != nil {
		t.Fatal(err)
	}
	li := int64(7)
	r := pep610.Receipt{Name: "helper", Version: "1.0", From: pep610.FromIndex, SHA256: digest, WheelSHA256: digest, File: "helper-1.0-py3-none-any.whl", Index: "https://pypi.org/simple/",
		Provenance: &pep610.IndexProvenance{State: pep610.ProvenanceVerified, LogIndex: &li, Publisher: &pep610.Publisher{Kind: "GitHub", Repository: "acme/helper", Workflow: "release.yml"}}}
	if err := (pep610.Dist{Dir: di, Name: "helper", Version: "1.0"}).WriteReceipt(r, key); err != nil {
		t.Fatal(err)
	}
	rep, err := Audit([]string{site}, Options{GitHubHost: "github.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Path == filepath.Join(site, "sitecustomize.py") || f.Dist == "helper" {
			return
		}
	}
	t.Errorf("helper installs sitecustomize.py, which runs at every start of Python, and audit reports nothing (%d verified): %+v", rep.Verified, rep.Findings)
}
