package envaudit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/pep610"
)

// indexDist writes an index install (no direct_url.json unless given)
// with pipguard's index receipt.
func indexDist(t *testing.T, site, name, directURL string, p *pep610.IndexProvenance) string {
	t.Helper()
	di := dist(t, site, name, "1.0", directURL, nil)
	key, err := pep610.LoadReceiptKey(filepath.Dir(site), true)
	if err != nil {
		t.Fatal(err)
	}
	r := pep610.Receipt{Name: name, Version: "1.0", From: pep610.FromIndex, SHA256: digest, WheelSHA256: digest, File: name + "-1.0-py3-none-any.whl", Index: "https://pypi.org/simple/", Provenance: p}
	if err := (pep610.Dist{Dir: di, Name: name, Version: "1.0"}).WriteReceipt(r, key); err != nil {
		t.Fatal(err)
	}
	return di
}

// An index receipt is judged only where it belongs: on a distribution
// with a direct_url.json (pip installed it from a URL since) it is a
// mismatch, and a RECORD changed since pipguard wrote it breaks it (an
// index install's receipt is bound to RECORD alone: nothing else on disk
// records its origin). With no Index policy, an unattested install is a
// note and a verified one counts.
func TestIndexReceiptsBelongToIndexInstalls(t *testing.T) {
	site := t.TempDir()
	li := int64(3)
	verified := &pep610.IndexProvenance{State: pep610.ProvenanceVerified, LogIndex: &li, Publisher: &pep610.Publisher{Kind: "GitHub", Repository: "acme/good", Workflow: "release.yml"}}
	indexDist(t, site, "good", "", verified)
	indexDist(t, site, "plainpip", "", &pep610.IndexProvenance{State: pep610.ProvenanceOff})
	indexDist(t, site, "fromurl", `{"url": "https://x.example/fromurl-1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "`+digest+`"}}}`, verified)
	changed := indexDist(t, site, "changed", "", verified)
	rec := filepath.Join(changed, "RECORD")
	data, _ := os.ReadFile(rec)
	os.WriteFile(rec, []byte("changed/evil.py,,\n"+string(data)), 0o644)

	rep, err := Audit([]string{site}, Options{GitHubHost: "github.com", Prefixes: []string{filepath.Dir(site)}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Dist] += f.Rule + ":" + string(f.Severity) + " "
	}
	want := map[string]string{
		"plainpip": "index-unattested:info ",
		"fromurl":  "receipt-mismatch:error unverified-direct:warning host-not-allowed:warning ",
		"changed":  "receipt-mismatch:error ",
	}
	for name, w := range want {
		if strings.Join(sortedCopy(strings.Fields(got[name])), " ") != strings.Join(sortedCopy(strings.Fields(w)), " ") {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
	if got["good"] != "" || rep.Verified != 1 {
		t.Errorf("good: %q; %d verified", got["good"], rep.Verified)
	}
	if !strings.Contains(got["fromurl"], "receipt-mismatch") {
		t.Errorf("%v", got)
	}
}
