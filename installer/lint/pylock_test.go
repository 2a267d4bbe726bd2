package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/pylock"
)

const lockSHA = "c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a"

// lockHead is a lock with everything a note would ask for.
const lockHead = `lock-version = "1.0"
environments = ["sys_platform == 'linux'"]
requires-python = ">=3.8"
created-by = "test"
`

// lockWheel is one attested index package at lines 6 to 17.
func lockWheel(url, extra string) string {
	return `
[[packages]]
name = "attrs"
version = "25.1.0"
index = "https://pypi.org/simple"
` + extra + `
[[packages.wheels]]
url = "` + url + `"
size = 63152
hashes = {sha256 = "` + lockSHA + `"}

[[packages.attestation-identities]]
kind = "GitHub"
repository = "python-attrs/attrs"
workflow = "pypi-package.yml"
`
}

const attrsWheel = "https://files.example/attrs-25.1.0-py3-none-any.whl"

func TestPylockFindings(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"clean", lockHead + lockWheel(attrsWheel, ""), ""},
		{"not toml", "lock-version = \n", "1:16 pylock-invalid error"},
		{"missing keys", "packages = []\n", "1:1 pylock-invalid error; 1:1 pylock-invalid error"},
		{"unsupported lock-version", strings.Replace(lockHead, `"1.0"`, `"2.0"`, 1) + "packages = []\n", "1:16 pylock-invalid error"},
		{"type", lockHead + "packages = \"x\"\n", "5:12 pylock-invalid error"},
		{"bad marker", lockHead + lockWheel(attrsWheel, `marker = "python_version >> '3'"`), "10:10 pylock-invalid error"},
		{"name not normalised", lockHead + strings.Replace(lockWheel(attrsWheel, ""), `"attrs"`, `"Attrs"`, 1), "7:8 pylock-name error; 11:12 pylock-invalid error"},
		{"extra not normalised", strings.Replace(lockHead, "created-by", "extras = [\"Sec_Extra\"]\ncreated-by", 1) + "packages = []\n", "4:11 pylock-name error"},
		{"no source", lockHead + "[[packages]]\nname = \"a\"\n", "5:3 pylock-source error"},
		{"two kinds of source", lockHead + lockWheel(attrsWheel, `archive = {url = "https://x/a.zip", hashes = {sha256 = "`+lockSHA+`"}}`), "6:3 pylock-source error"},
		{"no hashes", lockHead + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\"}\n", "7:1 pylock-hash error"},
		{"md5 only", lockHead + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\", hashes = {md5 = \"00\"}}\n", "7:40 pylock-hash error"},
		{"digest not hex", lockHead + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\", hashes = {sha256 = \"xyz\"}}\n", "7:40 pylock-hash error; 7:59 pylock-hash error"},
		{"plain http", lockHead + lockWheel("http://files.example/attrs-25.1.0-py3-none-any.whl", ""), "12:7 pylock-http error"},
		{"http index", lockHead + strings.Replace(lockWheel(attrsWheel, ""), "https://pypi.org", "http://pypi.org", 1), "9:9 pylock-http error"},
		{"credential in url", lockHead + lockWheel("https://user:s3cret@files.example/attrs-25.1.0-py3-none-any.whl", ""), "12:7 pylock-credential error"},
		{"token as user", lockHead + strings.Replace(lockWheel(attrsWheel, ""), "https://pypi.org", "https://ghp_abcdefghijklmnopqrstuvwxyz0123@pypi.org", 1), "9:9 pylock-credential error"},
		{"token in query", lockHead + lockWheel(attrsWheel+"?token=s3cret", ""), "12:7 pylock-credential error"},
		{"unattested index package", lockHead + lockWheel(attrsWheel, "")[:strings.Index(lockWheel(attrsWheel, ""), "\n[[packages.attestation")],
			"9:9 pylock-unattested warning; 6:3 pylock-no-identities info"},
		{"notes", "lock-version = \"1.1\"\ncreated-by = \"x\"\nnew-key = 1\n[[packages]]\nname = \"a\"\ndirectory = {path = \".\", sub = 1}\n",
			"3:1 pylock-unknown-key info; 1:16 pylock-newer-version info; 6:26 pylock-unknown-key info; 1:1 pylock-no-environments info; 1:1 pylock-no-requires-python info"},
		{"every problem at once", "lock-version = \"1.0\"\n[[packages]]\nname = \"A\"\nsdist = {url = \"http://x/a-1.tar.gz\"}\n",
			"1:1 pylock-invalid error; 3:8 pylock-name error; 4:1 pylock-hash error; 4:1 pylock-invalid error; 4:16 pylock-http error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, t.TempDir(), "pylock.toml", tc.body)
			rep, err := Check([]string{p}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := short(rep.Findings); got != tc.want {
				t.Errorf("findings\n got %s\nwant %s\n%s", got, tc.want, messages(rep.Findings))
			}
			for _, f := range rep.Findings {
				if Rules[f.Rule].ID != f.Rule || f.Hint == "" {
					t.Errorf("rule %q is not in the table", f.Rule)
				}
			}
		})
	}
}

func messages(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Rule + ": " + f.Message + "\n")
	}
	return b.String()
}

// TestPylockNoSecret: a credential is reported, never printed.
func TestPylockNoSecret(t *testing.T) {
	for _, url := range []string{
		"https://user:s3cretpw@files.example/attrs-25.1.0-py3-none-any.whl",
		"https://files.example/attrs-25.1.0-py3-none-any.whl?token=s3cretpw",
		"http://s3cretpw@files.example/attrs-25.1.0-py3-none-any.whl",
	} {
		p := write(t, t.TempDir(), "pylock.toml", lockHead+lockWheel(url, ""))
		rep, err := Check([]string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) == 0 {
			t.Errorf("%s: no finding", url)
		}
		for _, f := range rep.Findings {
			if strings.Contains(f.Message+f.Hint, "s3cretpw") {
				t.Errorf("the secret is in %q", f.Message)
			}
		}
	}
}

// TestPylockFixtures: the real locks other tools wrote give exactly the
// notes package pylock finds in them, as info, and nothing else.
func TestPylockFixtures(t *testing.T) {
	dir := "../../../shared/fixtures/pep740/pylock"
	names, _ := filepath.Glob(filepath.Join(dir, "*.pylock.toml"))
	if len(names) == 0 {
		t.Skip("no fixtures in " + dir)
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			l, err := pylock.Read(name, data)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range l.Notes() {
				want = append(want, noteRules[n.Code]+" info")
			}
			rep, err := Check([]string{write(t, t.TempDir(), "pylock.fixture.toml", string(data))}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.Rule+" "+string(f.Severity))
			}
			if strings.Join(got, "; ") != strings.Join(want, "; ") || len(want) == 0 {
				t.Errorf("findings %v, want the notes %v", got, want)
			}
			if rep.LockedPackages != len(l.Packages) {
				t.Errorf("locked packages = %d, want %d", rep.LockedPackages, len(l.Packages))
			}
		})
	}
}

func TestIsPylock(t *testing.T) {
	for path, want := range map[string]bool{
		"pylock.toml": true, "a/pylock.dev.toml": true, "pylock.a.b.toml": false,
		"pyproject.toml": false, "x.pylock.toml": false, "pylock.toml.orig": false, "pylock..toml": false,
	} {
		if IsPylock(path) != want {
			t.Errorf("IsPylock(%q) = %v", path, !want)
		}
		if want && IsPyproject(path) {
			t.Errorf("%q is read as a pyproject.toml too", path)
		}
	}
}
