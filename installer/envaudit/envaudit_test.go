package envaudit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/pep610"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

var digest = strings.Repeat("ab", 32)

// dist writes a .dist-info as pip would, with an optional direct_url.json
// and receipt.
func dist(t testing.TB, site, name, version, directURL string, receipt *pep610.Receipt) string {
	t.Helper()
	di := filepath.Join(site, name+"-"+version+".dist-info")
	os.MkdirAll(di, 0o755)
	os.WriteFile(filepath.Join(di, "METADATA"), []byte(fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n\n", name, version)), 0o644)
	os.WriteFile(filepath.Join(di, "INSTALLER"), []byte("pip\n"), 0o644)
	// pip writes a row per file and RECORD's own row last.
	os.WriteFile(filepath.Join(di, "RECORD"), []byte(filepath.Base(di)+"/METADATA,,\n"+filepath.Base(di)+"/RECORD,,\n"), 0o644)
	if directURL != "" {
		os.WriteFile(filepath.Join(di, "direct_url.json"), []byte(directURL), 0o644)
	}
	if receipt != nil {
		receipt.Name, receipt.Version = name, version
		if receipt.Tag == "" && !receipt.Pinned {
			receipt.Tag = "v" + version
		}
		key, err := pep610.LoadReceiptKey(filepath.Dir(site), true)
		if err != nil {
			t.Fatal(err)
		}
		if err := (pep610.Dist{Dir: di, Name: name, Version: version}).WriteReceipt(*receipt, key); err != nil {
			t.Fatal(err)
		}
	}
	return di
}

// Every kind of install, and each rule, in one site-packages.
func TestAuditRules(t *testing.T) {
	site := t.TempDir()
	gh := "https://github.com/acme/"
	dist(t, site, "indexed", "1.0", "", nil)
	dist(t, site, "verified", "1.0", `{"url": "file:///tmp/x/verified-1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "`+digest+`"}}}`,
		&pep610.Receipt{Repository: gh + "verified", Commit: sha, From: "release", SHA256: digest, Asset: "verified-1.0-py3-none-any.whl"})
	dist(t, site, "viagit", "2.0", `{"url": "`+gh+`viagit.git", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`", "requested_revision": "v2.0"}}`,
		&pep610.Receipt{Repository: gh + "viagit", Commit: sha, From: "git"})
	dist(t, site, "pinnedtool", "0.5", `{"url": "https://gitlab.example.com/team/pinnedtool", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`", "requested_revision": "v0.5"}}`,
		&pep610.Receipt{Repository: "https://gitlab.example.com/team/pinnedtool", Commit: sha, From: "git", Pinned: true})
	dist(t, site, "tampered", "1.0", `{"url": "file:///tmp/x/tampered.whl", "archive_info": {"hashes": {"sha256": "`+strings.Repeat("cd", 32)+`"}}}`,
		&pep610.Receipt{Repository: gh + "tampered", Commit: sha, From: "release", SHA256: digest})
	dist(t, site, "noref", "1.0", `{"url": "`+gh+`noref.git", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`"}}`, nil)
	dist(t, site, "branchy", "1.0", `{"url": "`+gh+`branchy.git", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`", "requested_revision": "main"}}`, nil)
	dist(t, site, "shortsha", "1.0", `{"url": "`+gh+`shortsha.git", "vcs_info": {"vcs": "git", "commit_id": "0123456", "requested_revision": "v1"}}`, nil)
	dist(t, site, "editable", "0.1", `{"url": "file:///src/editable", "dir_info": {"editable": true}}`, nil)
	dist(t, site, "localdir", "0.1", `{"url": "file:///src/localdir", "dir_info": {}}`, nil)
	dist(t, site, "elsewhere", "1.0", `{"url": "https://downloads.example.com/elsewhere-1.0.tar.gz", "archive_info": {"hashes": {"sha256": "`+digest+`"}}}`, nil)
	dist(t, site, "broken", "1.0", `{"url": "https://x/y.whl", "archive_info": {}, "dir_info": {}}`, nil)
	// A wheel that ships its own receipt: pip lists it with a sha256 row,
	// as it lists every file it installs.
	forged := dist(t, site, "forged", "1.0", `{"url": "`+gh+`forged.git", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`", "requested_revision": "main"}}`,
		&pep610.Receipt{Repository: gh + "forged", Commit: sha, From: "git", Tag: "v1.0"})
	os.WriteFile(filepath.Join(forged, "RECORD"), []byte("forged-1.0.dist-info/METADATA,,\nforged-1.0.dist-info/RECORD,,\nforged-1.0.dist-info/pipguard-receipt.json,sha256=AAAA,10\n"), 0o644)

	rep, err := Audit([]string{site, site}, Options{GitHubHost: "github.com", Prefixes: []string{filepath.Dir(site)}, AllowDirect: func(u string) bool { return strings.HasPrefix(u, "https://downloads.example.com/") }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range rep.Findings {
		got[f.Dist] = append(got[f.Dist], f.Rule)
	}
	want := map[string][]string{
		"pinnedtool": {"pinned"},
		"tampered":   {"receipt-mismatch"},
		"noref":      {"vcs-no-ref", "unverified-direct"},
		"branchy":    {"unverified-direct"},
		"shortsha":   {"direct-url-invalid"},
		"editable":   {"editable"},
		"localdir":   {"local-directory"},
		"broken":     {"direct-url-invalid"},
		"forged":     {"receipt-mismatch", "unverified-direct"},
	}
	for name, rules := range want {
		if strings.Join(sortedCopy(got[name]), ",") != strings.Join(sortedCopy(rules), ",") {
			t.Errorf("%s: %v, want %v", name, got[name], rules)
		}
	}
	for _, clean := range []string{"indexed", "verified", "viagit", "elsewhere"} {
		if len(got[clean]) > 0 {
			t.Errorf("%s: %v", clean, got[clean])
		}
	}
	if rep.Distributions != 13 || rep.Verified != 2 || rep.Worst() != Error || len(rep.Sites) != 1 {
		t.Errorf("distributions %d verified %d worst %s sites %v", rep.Distributions, rep.Verified, rep.Worst(), rep.Sites)
	}
	// Every distribution is listed once, the two the summary counts as
	// verified marked so, and nothing else: a pinned, tampered or forged
	// receipt is not.
	var vouched []string
	for _, p := range rep.Packages {
		if p.Verified {
			vouched = append(vouched, p.Name)
		}
	}
	if len(rep.Packages) != rep.Distributions || strings.Join(sortedCopy(vouched), ",") != "verified,viagit" {
		t.Errorf("%d packages listed for %d distributions, verified %v", len(rep.Packages), rep.Distributions, vouched)
	}
	for _, f := range rep.Findings {
		if f.Rule == "receipt-mismatch" && f.Dist == "tampered" && !strings.Contains(f.Message, "archive_info.hashes.sha256: expected") {
			t.Errorf("receipt mismatch says %q", f.Message)
		}
	}
}

func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// The SARIF output has what SARIF 2.1.0 requires: version, runs, each
// run's tool.driver.name, and each result's message.text, with every
// ruleId among the driver's rules.
func TestSARIFRequiredFields(t *testing.T) {
	site := t.TempDir()
	dist(t, site, "editable", "0.1", `{"url": "file:///src/editable", "dir_info": {"editable": true}}`, nil)
	dist(t, site, "noref", "1.0", `{"url": "https://github.com/a/b.git", "vcs_info": {"vcs": "git", "commit_id": "`+sha+`"}}`, nil)
	rep, err := Audit([]string{site}, Options{GitHubHost: "github.com", Prefixes: []string{filepath.Dir(site)}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(rep.SARIF("v0.0.0"))
	var doc struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || doc.Schema == "" || len(doc.Runs) != 1 || doc.Runs[0].Tool.Driver.Name != "pipguard" || len(doc.Runs[0].Results) != 3 {
		t.Fatalf("%s", data)
	}
	rules := map[string]bool{}
	for _, r := range doc.Runs[0].Tool.Driver.Rules {
		rules[r.ID] = true
	}
	for _, r := range doc.Runs[0].Results {
		if !rules[r.RuleID] || r.Message.Text == "" || (r.Level != "error" && r.Level != "warning" && r.Level != "note") || len(r.Locations) != 1 || !strings.HasPrefix(r.Locations[0].PhysicalLocation.ArtifactLocation.URI, "file://") {
			t.Errorf("result %+v", r)
		}
	}
}

// A .dist-info behind a symlink is still a distribution (Python sees it),
// and legacy installs pip left no .dist-info for are findings.
func TestAuditSeesLinksAndLegacyInstalls(t *testing.T) {
	site := t.TempDir()
	elsewhere := t.TempDir()
	di := dist(t, elsewhere, "hidden", "1.0", `{"url": "file:///src/hidden", "dir_info": {"editable": true}}`, nil)
	os.Symlink(di, filepath.Join(site, filepath.Base(di)))
	os.MkdirAll(filepath.Join(site, "old-0.1-py3.11.egg-info"), 0o755)
	os.WriteFile(filepath.Join(site, "old-0.1-py3.11.egg-info", "PKG-INFO"), []byte("Name: old\nVersion: 0.1\n\n"), 0o644)
	os.WriteFile(filepath.Join(site, "dev.egg-link"), []byte("/src/dev\n."), 0o644)
	rep, err := Audit([]string{site}, Options{GitHubHost: "github.com", Prefixes: []string{filepath.Dir(site)}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Dist] = f.Rule
	}
	if got["hidden"] != "editable" || got["old"] != "legacy-install" || got["dev"] != "develop-install" || rep.Distributions != 3 {
		t.Errorf("%v, %d distributions", got, rep.Distributions)
	}
}

// A receipt passes only when pipguard wrote it in this environment: one
// written under another environment's key (copied, or shipped by a wheel
// that carries a real receipt from elsewhere), one in the old
// unauthenticated format, and one whose RECORD changed since are all
// errors; so is a file that no longer matches its RECORD hash.
func TestReceiptsCannotBeForged(t *testing.T) {
	site := filepath.Join(t.TempDir(), "lib", "site-packages")
	os.MkdirAll(site, 0o755)
	gh := "https://github.com/acme/"
	archive := func(name string) string {
		return `{"url": "file:///tmp/x/` + name + `-1.0-py3-none-any.whl", "archive_info": {"hashes": {"sha256": "` + digest + `"}}}`
	}
	good := func(name string) *pep610.Receipt {
		return &pep610.Receipt{Repository: gh + name, Commit: sha, From: "release", SHA256: digest, Asset: name + "-1.0-py3-none-any.whl"}
	}
	dist(t, site, "genuine", "1.0", archive("genuine"), good("genuine"))

	// Written in another environment, under its key, then copied here.
	other := filepath.Join(t.TempDir(), "lib", "site-packages")
	os.MkdirAll(other, 0o755)
	src := dist(t, other, "copied", "1.0", archive("copied"), good("copied"))
	dst := dist(t, site, "copied", "1.0", archive("copied"), nil)
	for _, f := range []string{"RECORD", pep610.ReceiptFile} {
		data, _ := os.ReadFile(filepath.Join(src, f))
		os.WriteFile(filepath.Join(dst, f), data, 0o644)
	}

	// The old format, as a wheel could ship it (no MAC).
	old := dist(t, site, "oldformat", "1.0", archive("oldformat"), nil)
	os.WriteFile(filepath.Join(old, pep610.ReceiptFile), []byte(`{"schema": "pipguard.receipt/v1", "requirement": "x", "name": "oldformat", "version": "1.0", "repository": "`+gh+`oldformat", "commit": "`+sha+`", "asset": "a.whl", "sha256": "`+digest+`", "from": "release", "tag": "v1.0", "policy_sha256": "", "pipguard": "v1", "installed_at": ""}`), 0o644)

	// An index install with a receipt that no key made.
	idx := dist(t, site, "indexed", "1.0", "", nil)
	os.WriteFile(filepath.Join(idx, pep610.ReceiptFile), []byte(`{"schema": "pipguard.receipt/v2", "name": "indexed", "version": "1.0", "commit": "`+sha+`", "from": "git", "tag": "v1.0", "mac": "00"}`), 0o644)

	// A genuine receipt whose distribution gained a file in RECORD since.
	grown := dist(t, site, "grown", "1.0", archive("grown"), good("grown"))
	f, _ := os.OpenFile(filepath.Join(grown, "RECORD"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("grown/backdoor.py,,\n")
	f.Close()

	// A file changed after install.
	changed := dist(t, site, "changed", "1.0", "", nil)
	os.WriteFile(filepath.Join(site, "changed.py"), []byte("print('evil')\n"), 0o644)
	os.WriteFile(filepath.Join(changed, "RECORD"), []byte("changed.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\nchanged-1.0.dist-info/RECORD,,\n"), 0o644)

	rep, err := Audit([]string{site}, Options{GitHubHost: "github.com", Prefixes: []string{filepath.Dir(site)}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range rep.Findings {
		got[f.Dist] = append(got[f.Dist], f.Rule)
	}
	want := map[string]string{
		"genuine":   "",
		"copied":    "receipt-unauthenticated,unverified-direct",
		"oldformat": "receipt-unauthenticated,unverified-direct",
		"indexed":   "receipt-unauthenticated",
		"grown":     "receipt-mismatch,unverified-direct",
		"changed":   "files-changed",
	}
	for name, rules := range want {
		if g := strings.Join(sortedCopy(got[name]), ","); g != rules {
			t.Errorf("%s: %s, want %s", name, g, rules)
		}
	}
	if rep.Verified != 1 {
		t.Errorf("verified %d, want 1 (genuine)", rep.Verified)
	}
}
