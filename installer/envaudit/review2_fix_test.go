package envaudit

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/pep610"
)

// venvSite is a virtual environment's layout: PREFIX/pyvenv.cfg and
// PREFIX/lib/python3.12/site-packages, with its receipt key.
func venvSite(t *testing.T) (prefix, site string, key []byte) {
	prefix = filepath.Join(t.TempDir(), "venv")
	site = filepath.Join(prefix, "lib", "python3.12", "site-packages")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(prefix, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	key, err := pep610.LoadReceiptKey(prefix, true)
	if err != nil {
		t.Fatal(err)
	}
	return prefix, site, key
}

func signedIndexDist(t *testing.T, dir, name string, key []byte) {
	t.Helper()
	di := filepath.Join(dir, name+"-1.0.dist-info")
	os.MkdirAll(di, 0o755)
	os.WriteFile(filepath.Join(di, "METADATA"), []byte("Metadata-Version: 2.1\nName: "+name+"\nVersion: 1.0\n"), 0o644)
	os.WriteFile(filepath.Join(di, "RECORD"), []byte(name+"-1.0.dist-info/METADATA,,\n"+name+"-1.0.dist-info/RECORD,,\n"), 0o644)
	li := int64(1)
	r := pep610.Receipt{Name: name, Version: "1.0", From: pep610.FromIndex, SHA256: digest, WheelSHA256: digest, File: name + "-1.0-py3-none-any.whl", Index: "https://pypi.org/simple/",
		Provenance: &pep610.IndexProvenance{State: pep610.ProvenanceVerified, LogIndex: &li, Publisher: &pep610.Publisher{Kind: "GitHub", Repository: "acme/" + name, Workflow: "release.yml"}}}
	if err := (pep610.Dist{Dir: di, Name: name, Version: "1.0"}).WriteReceipt(r, key); err != nil {
		t.Fatal(err)
	}
}

// The receipt key is the environment's prefix's alone: a key a wheel put
// in site-packages/.pipguard or lib/pythonX.Y/.pipguard (the nearest
// parents of a directory a .pth adds, or of the site directory) is never
// read, and a distribution in a directory a .pth adds has no key at all.
func TestReceiptKeyOnlyFromPrefix(t *testing.T) {
	// --path finds the prefix by its pyvenv.cfg; --python passes the
	// probe's sys.prefix.
	for _, probe := range []bool{false, true} {
		prefix, site, key := venvSite(t)
		o := Options{GitHubHost: "github.com"}
		if probe {
			o.Prefixes = []string{prefix}
		}
		signedIndexDist(t, site, "genuine", key)
		evil := []byte("the-wheel-ships-this-receipt-key-0123456789")
		for _, d := range []string{filepath.Join(site, ".pipguard"), filepath.Join(prefix, "lib", "python3.12", ".pipguard")} {
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, "receipt.key"), evil, 0o644)
		}
		evilSite := filepath.Join(site, "evil_site")
		os.MkdirAll(evilSite, 0o755)
		signedIndexDist(t, evilSite, "trusted", evil)
		signedIndexDist(t, site, "forged", evil)
		os.WriteFile(filepath.Join(site, "carrier.pth"), []byte("evil_site\n"), 0o644)
		rep, err := Audit([]string{site}, o)
		if err != nil {
			t.Fatalf("a 0644 key a wheel planted fails the audit: %v", err)
		}
		for _, d := range []string{filepath.Join(site, ".pipguard"), filepath.Join(prefix, "lib", "python3.12", ".pipguard")} {
			os.Chmod(filepath.Join(d, "receipt.key"), 0o600)
		}
		rep, err = Audit([]string{site}, o)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, p := range rep.Packages {
			got[p.Name] = p.Verified
		}
		rules := map[string]string{}
		for _, f := range rep.Findings {
			rules[f.Dist] += f.Rule + " "
		}
		if !got["genuine"] || got["trusted"] || got["forged"] || rep.Verified != 1 {
			t.Errorf("prefixes %v: verified %v, findings %v", o.Prefixes, got, rules)
		}
		if !strings.Contains(rules["trusted"], "receipt-unauthenticated") || !strings.Contains(rules["forged"], "receipt-unauthenticated") {
			t.Errorf("prefixes %v: findings %v", o.Prefixes, rules)
		}
	}
}

func recordRow(rel, body string) string {
	sum := sha256.Sum256([]byte(body))
	return rel + ",sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(body)) + "\n"
}

// sitecustomize and usercustomize on sys.path: a distribution's is
// customize-executes on it, one nothing records customize-unrecorded, in
// the interpreter's own directories only a recorded one.
func TestCustomizeModules(t *testing.T) {
	prefix, site, key := venvSite(t)
	code := "import os\n"
	os.WriteFile(filepath.Join(site, "sitecustomize.py"), []byte(code), 0o644)
	signedIndexDist(t, site, "helper", key)
	rec := filepath.Join(site, "helper-1.0.dist-info", "RECORD")
	old, _ := os.ReadFile(rec)
	os.WriteFile(rec, []byte(recordRow("sitecustomize.py", code)+string(old)), 0o644)
	pkg := filepath.Join(site, "usercustomize")
	os.MkdirAll(pkg, 0o755)
	os.WriteFile(filepath.Join(pkg, "__init__.py"), []byte(code), 0o644)
	stdlib := filepath.Join(t.TempDir(), "python3.12")
	os.MkdirAll(stdlib, 0o755)
	os.WriteFile(filepath.Join(stdlib, "sitecustomize.py"), []byte("# the distribution's own\n"), 0o644)
	extra := filepath.Join(t.TempDir(), "extra")
	os.MkdirAll(extra, 0o755)
	os.WriteFile(filepath.Join(extra, "sitecustomize.cpython-312-x86_64-linux-gnu.so"), []byte("\x7fELF"), 0o755)
	os.WriteFile(filepath.Join(site, "extra.pth"), []byte(extra+"\n"), 0o644)
	rep, err := Audit([]string{site}, Options{GitHubHost: "github.com", Prefixes: []string{prefix}, Base: []string{stdlib}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Path] += f.Rule + ":" + string(f.Severity) + ":" + f.Dist + " "
	}
	want := map[string]string{
		filepath.Join(site, "sitecustomize.py"):                               "customize-executes:info:helper ",
		filepath.Join(pkg, "__init__.py"):                                     "customize-unrecorded:warning: ",
		filepath.Join(extra, "sitecustomize.cpython-312-x86_64-linux-gnu.so"): "customize-unrecorded:warning: ",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	if g := got[filepath.Join(stdlib, "sitecustomize.py")]; g != "" {
		t.Errorf("the standard library's own sitecustomize.py: %q", g)
	}
}

// A project installed twice: the copy Python imports is the first on
// sys.path; the other is installed-twice and never verified (an error
// when pipguard verified it); two copies in one directory are both
// reported.
func TestInstalledTwice(t *testing.T) {
	prefix, site, key := venvSite(t)
	signedIndexDist(t, site, "plain", key)
	signedIndexDist(t, site, "solo", key)
	user := filepath.Join(t.TempDir(), "user-site")
	dist(t, user, "plain", "1.0", "", nil)
	dist(t, user, "pair", "1.0", "", nil)
	dist(t, user, "pair", "2.0", "", nil)
	rep, err := Audit([]string{user, site}, Options{GitHubHost: "github.com", Prefixes: []string{prefix}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Path] += f.Rule + ":" + string(f.Severity) + " "
	}
	want := map[string]string{
		filepath.Join(site, "plain-1.0.dist-info"): "installed-twice:error ",
		filepath.Join(user, "plain-1.0.dist-info"): "",
		filepath.Join(user, "pair-1.0.dist-info"):  "installed-twice:warning ",
		filepath.Join(user, "pair-2.0.dist-info"):  "installed-twice:warning ",
		filepath.Join(site, "solo-1.0.dist-info"):  "",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	if rep.Verified != 1 {
		t.Errorf("%d verified, want 1 (solo): %+v", rep.Verified, rep.Packages)
	}
}

// A distribution whose RECORD lists a file in the interpreter's own
// library directories (a non-venv interpreter's data scheme reaches them:
// lib/pythonX.Y/_manylinux.py, lib/pythonXY.zip) is library-written, an
// error; its files in a site directory inside those directories
// (lib/pythonX.Y/site-packages) are its own, and with no interpreter's
// directories known (audit --path) nothing is said.
func TestLibraryWritten(t *testing.T) {
	prefix := t.TempDir()
	stdlib := filepath.Join(prefix, "lib", "python3.12")
	site := filepath.Join(stdlib, "site-packages")
	os.MkdirAll(site, 0o755)
	zip := filepath.Join(prefix, "lib", "python312.zip")
	body := "import os\n"
	os.WriteFile(filepath.Join(stdlib, "_manylinux.py"), []byte(body), 0o644)
	os.WriteFile(zip, []byte(body), 0o644)
	for _, d := range []struct {
		name string
		rows []string
	}{
		{"innocent", []string{"../_manylinux.py", "../../python312.zip"}},
		{"plain", []string{"plain/__init__.py"}},
	} {
		info := filepath.Join(site, d.name+"-1.0.dist-info")
		os.MkdirAll(info, 0o755)
		os.WriteFile(filepath.Join(info, "METADATA"), []byte("Metadata-Version: 2.1\nName: "+d.name+"\nVersion: 1.0\n"), 0o644)
		var rec strings.Builder
		for _, r := range d.rows {
			p := filepath.Join(site, r)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if _, err := os.Stat(p); err != nil {
				os.WriteFile(p, []byte(body), 0o644)
			}
			rec.WriteString(recordRow(r, body))
		}
		rec.WriteString(d.name + "-1.0.dist-info/RECORD,,\n")
		os.WriteFile(filepath.Join(info, "RECORD"), []byte(rec.String()), 0o644)
	}
	findings := func(o Options) map[string]string {
		rep, err := Audit([]string{site}, o)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range rep.Findings {
			if f.Rule == "library-written" {
				got[f.Dist] = string(f.Severity) + ": " + f.Message
			}
		}
		return got
	}
	got := findings(Options{GitHubHost: "github.com", Prefixes: []string{prefix}, Base: []string{zip, stdlib, filepath.Join(stdlib, "lib-dynload")}})
	if g := got["innocent"]; !strings.HasPrefix(g, "error: ") || !strings.Contains(g, filepath.Join(stdlib, "_manylinux.py")) || !strings.Contains(g, zip) {
		t.Errorf("innocent: %q, want library-written naming both files", g)
	}
	if g, ok := got["plain"]; ok {
		t.Errorf("plain (its files in site-packages): %q", g)
	}
	if got := findings(Options{GitHubHost: "github.com", Prefixes: []string{prefix}}); len(got) > 0 {
		t.Errorf("without the interpreter's directories: %v", got)
	}
}
