package pep610

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func receiptDist(t *testing.T) Dist {
	t.Helper()
	di := filepath.Join(t.TempDir(), "plain-1.0.dist-info")
	if err := os.MkdirAll(di, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(di, "METADATA"), []byte("Metadata-Version: 2.1\nName: plain\nVersion: 1.0\n\n"), 0o644)
	os.WriteFile(filepath.Join(di, "RECORD"), []byte("plain-1.0.dist-info/METADATA,,\nplain-1.0.dist-info/RECORD,,\n"), 0o644)
	return Dist{Dir: di, Name: "plain", Version: "1.0"}
}

// An index receipt is read back only as pipguard writes one: a file and
// its sha256, no repository, commit or tag, and a publisher and log index
// exactly when its provenance verified. A release receipt's JSON has none
// of the index keys, so receipts written before them keep their MAC.
func TestIndexReceipts(t *testing.T) {
	key := []byte(strings.Repeat("k", MinReceiptKey))
	li := int64(7)
	good := Receipt{Name: "plain", Version: "1.0", From: FromIndex, SHA256: strings.Repeat("ab", 32), File: "plain-1.0-py3-none-any.whl", Index: "https://pypi.org/simple/",
		Provenance: &IndexProvenance{State: ProvenanceVerified, LogIndex: &li, Publisher: &Publisher{Kind: "GitHub", Repository: "acme/plain", Workflow: "release.yml"}}}
	d := receiptDist(t)
	if err := d.WriteReceipt(good, key); err != nil {
		t.Fatal(err)
	}
	r, err := d.Receipt(key)
	if err != nil || r.Provenance.Publisher.String() != "GitHub:acme/plain/release.yml" || *r.Provenance.LogIndex != 7 {
		t.Fatalf("%+v %v", r, err)
	}
	bad := func(change func(r *Receipt)) Receipt {
		r := good
		p := *good.Provenance
		r.Provenance = &p
		change(&r)
		return r
	}
	for name, r := range map[string]Receipt{
		"verified without a publisher":   bad(func(r *Receipt) { r.Provenance.Publisher = nil }),
		"verified without a log index":   bad(func(r *Receipt) { r.Provenance.LogIndex = nil }),
		"unattested with a publisher":    bad(func(r *Receipt) { r.Provenance.State = ProvenanceUnattested }),
		"an unknown state":               bad(func(r *Receipt) { r.Provenance.State = "trusted" }),
		"no provenance":                  bad(func(r *Receipt) { r.Provenance = nil }),
		"no sha256":                      bad(func(r *Receipt) { r.SHA256 = "" }),
		"a commit":                       bad(func(r *Receipt) { r.Commit = strings.Repeat("a", 40) }),
		"a release receipt's provenance": bad(func(r *Receipt) { r.From, r.Commit, r.Tag = FromRelease, strings.Repeat("a", 40), "v1.0" }),
	} {
		d := receiptDist(t)
		if err := d.WriteReceipt(r, key); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Receipt(key); err == nil {
			t.Errorf("%s: read back as pipguard's", name)
		}
	}
	rel, _ := json.Marshal(Receipt{Name: "plain", From: FromRelease})
	for _, k := range []string{`"file"`, `"index"`, `"url"`, `"provenance"`} {
		if strings.Contains(string(rel), k) {
			t.Errorf("a release receipt has %s: %s", k, rel)
		}
	}
}
