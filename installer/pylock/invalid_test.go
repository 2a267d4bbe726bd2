package pylock

import (
	"errors"
	"strings"
	"testing"
)

const sha = "c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a"

const head = `lock-version = "1.0"
created-by = "test"
`

func wheelPkg(extra string) string {
	return `
[[packages]]
name = "attrs"
version = "25.1.0"
` + extra + `
[[packages.wheels]]
url = "https://files.example/attrs-25.1.0-py3-none-any.whl"
hashes = {sha256 = "` + sha + `"}
`
}

func TestReadInvalid(t *testing.T) {
	tests := []struct {
		name, doc string
		path      string // key path in the error
		line      int    // 0: do not check
		sentinel  error
		msg       string
	}{
		{"not toml", "lock-version = ", "", 1, ErrInvalid, "not TOML"},
		{"duplicate key", head + "created-by = \"x\"\npackages = []\n", "created-by", 3, ErrInvalid, "already"},
		{"missing lock-version", `created-by = "x"` + "\npackages = []\n", "lock-version", 0, ErrInvalid, "missing required key"},
		{"missing created-by", `lock-version = "1.0"` + "\npackages = []\n", "created-by", 0, ErrInvalid, "missing required key"},
		{"missing packages", head, "packages", 0, ErrInvalid, "missing required key"},
		{"lock-version 2", `lock-version = "2.0"` + "\ncreated-by = \"x\"\npackages = []\n", "lock-version", 1, ErrUnsupportedVersion, "not supported"},
		{"lock-version 0.9", `lock-version = "0.9"` + "\ncreated-by = \"x\"\npackages = []\n", "lock-version", 1, ErrUnsupportedVersion, "not supported"},
		{"lock-version not a version", `lock-version = "one"` + "\ncreated-by = \"x\"\npackages = []\n", "lock-version", 1, ErrInvalid, "not a version"},
		{"lock-version type", `lock-version = 1.0` + "\ncreated-by = \"x\"\npackages = []\n", "lock-version", 1, ErrInvalid, "expected a string, got float"},
		{"environments type", head + "environments = \"os_name == 'nt'\"\npackages = []\n", "environments", 3, ErrInvalid, "array of strings"},
		{"environments bad marker", head + "environments = [\"os_name = 'nt'\"]\npackages = []\n", "environments[0]", 3, ErrInvalid, "expected marker operator"},
		{"environments uses extras", head + "environments = [\"'a' in extras\"]\npackages = []\n", "environments[0]", 3, ErrInvalid, "only in a package's marker"},
		{"requires-python", head + "requires-python = \">=3.x\"\npackages = []\n", "requires-python", 3, ErrInvalid, "invalid specifier"},
		{"extras not normalised", head + "extras = [\"Security_Extra\"]\npackages = []\n", "extras[0]", 3, ErrInvalid, "not normalised"},
		{"packages type", head + "packages = \"x\"\n", "packages", 3, ErrInvalid, "array of tables"},
		{"name missing", head + "[[packages]]\nversion = \"1\"\ndirectory = {path = \".\"}\n", "packages[0].name", 0, ErrInvalid, "missing required key"},
		{"name not normalised", head + "[[packages]]\nname = \"Flit_Core\"\ndirectory = {path = \".\"}\n", "packages[0].name", 4, ErrInvalid, "not normalised"},
		{"version invalid", head + "[[packages]]\nname = \"a\"\nversion = \"1.0-foo\"\ndirectory = {path = \".\"}\n", "packages[0].version", 5, ErrInvalid, "PEP 440"},
		{"marker invalid", head + wheelPkg(`marker = "python_version >> '3'"`), "packages[0].marker", 7, ErrInvalid, "invalid marker"},
		{"marker uses extra", head + wheelPkg(`marker = "extra == 'x'"`), "packages[0].marker", 7, ErrInvalid, "not a marker variable"},
		{"no source", head + "[[packages]]\nname = \"a\"\n", "packages[0]", 3, ErrInvalid, "no source"},
		{"two direct sources", head + "[[packages]]\nname = \"a\"\ndirectory = {path = \".\"}\narchive = {path = \"a.zip\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0]", 3, ErrInvalid, "exactly one"},
		{"wheel and archive", head + wheelPkg(`archive = {url = "https://x/a.zip", hashes = {sha256 = "`+sha+`"}}`), "packages[0]", 4, ErrInvalid, "one kind of source"},
		{"hashes missing", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\"}\n", "packages[0].sdist.hashes", 5, ErrInvalid, "every file needs its hashes"},
		{"hashes empty", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\", hashes = {}}\n", "packages[0].sdist.hashes", 5, ErrInvalid, "at least one hash"},
		{"hash only md5", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\", hashes = {md5 = \"00\"}}\n", "packages[0].sdist.hashes", 5, ErrInvalid, "no hash pipguard can check"},
		{"hash not hex", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\", hashes = {sha256 = \"xyz\"}}\n", "packages[0].sdist.hashes.sha256", 5, ErrInvalid, "not 64 lower-case hex"},
		{"hash value type", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz\", hashes = {sha256 = 1}}\n", "packages[0].sdist.hashes.sha256", 5, ErrInvalid, "expected a string"},
		{"no url or path", head + "[[packages]]\nname = \"a\"\nsdist = {name = \"a-1.tar.gz\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0].sdist", 5, ErrInvalid, "url or path"},
		{"http url", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"http://x/a-1.tar.gz\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0].sdist.url", 5, ErrInvalid, "plain http"},
		{"credential in url", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://user:s3cret@x/a-1.tar.gz\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0].sdist.url", 5, ErrInvalid, "carries credentials"},
		{"token as user", head + wheelPkg(`index = "https://ghp_abc@pypi.example/simple"`), "packages[0].index", 7, ErrInvalid, "carries credentials"},
		{"token in query", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://x/a-1.tar.gz?token=abc\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0].sdist.url", 5, ErrInvalid, "query parameter"},
		{"relative url", head + "[[packages]]\nname = \"a\"\nsdist = {url = \"a-1.tar.gz\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0].sdist.url", 5, ErrInvalid, "not absolute"},
		{"wheel name bad", head + "[[packages]]\nname = \"a\"\n[[packages.wheels]]\nname = \"a-1.whl\"\nurl = \"https://x/a\"\nhashes = {sha256 = \"" + sha + "\"}\n", "packages[0].wheels[0]", 5, ErrInvalid, "wrong number of parts"},
		{"wheel for other project", head + "[[packages]]\nname = \"a\"\n[[packages.wheels]]\nurl = \"https://x/b-1-py3-none-any.whl\"\nhashes = {sha256 = \"" + sha + "\"}\n", "packages[0].wheels[0]", 5, ErrInvalid, `for project "b"`},
		{"wheel other version", head + wheelPkg("") + "\n[[packages.wheels]]\nurl = \"https://x/attrs-25.2-py3-none-any.whl\"\nhashes = {sha256 = \"" + sha + "\"}\n", "packages[0].wheels[1]", 12, ErrInvalid, "version 25.2"},
		{"sdist other version", head + "[[packages]]\nname = \"a\"\nversion = \"2\"\nsdist = {url = \"https://x/a-1.0.tar.gz\", hashes = {sha256 = \"" + sha + "\"}}\n", "packages[0].sdist", 6, ErrInvalid, "version 1.0, not 2"},
		{"size type", head + strings.Replace(wheelPkg(""), "hashes", "size = \"12\"\nhashes", 1), "packages[0].wheels[0].size", 10, ErrInvalid, "expected an integer"},
		{"upload-time date", head + strings.Replace(wheelPkg(""), "hashes", "upload-time = 2025-01-01\nhashes", 1), "packages[0].wheels[0].upload-time", 10, ErrInvalid, "expected a datetime, got date"},
		{"vcs commit short", head + "[[packages]]\nname = \"a\"\nvcs = {type = \"git\", url = \"https://github.com/o/r.git\", commit-id = \"abc123\"}\n", "packages[0].vcs.commit-id", 5, ErrInvalid, "full git commit"},
		{"vcs no commit", head + "[[packages]]\nname = \"a\"\nvcs = {type = \"git\", url = \"https://github.com/o/r.git\"}\n", "packages[0].vcs.commit-id", 0, ErrInvalid, "missing required key"},
		{"directory no path", head + "[[packages]]\nname = \"a\"\ndirectory = {editable = true}\n", "packages[0].directory.path", 0, ErrInvalid, "missing required key"},
		{"editable type", head + "[[packages]]\nname = \"a\"\ndirectory = {path = \".\", editable = \"yes\"}\n", "packages[0].directory.editable", 5, ErrInvalid, "expected a boolean"},
		{"identity without kind", head + wheelPkg("") + "[[packages.attestation-identities]]\nrepository = \"o/r\"\n", "packages[0].attestation-identities[0].kind", 0, ErrInvalid, "missing required key"},
		{"tool type", head + "tool = 1\npackages = []\n", "tool", 3, ErrInvalid, "expected a table"},
		{"dependencies type", head + wheelPkg(`dependencies = ["attrs"]`), "packages[0].dependencies[0]", 7, ErrInvalid, "expected a table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Read("pylock.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("accepted:\n%s\nnotes %v", tt.doc, l.Notes())
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v is not %v", err, tt.sentinel)
			}
			var found *FieldError
			for _, e := range unjoin(err) {
				var fe *FieldError
				if errors.As(e, &fe) && fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg) {
					found = fe
				}
			}
			if found == nil {
				t.Fatalf("no error at %q containing %q in:\n%v", tt.path, tt.msg, err)
			}
			if tt.line != 0 && found.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", found.Line, tt.line, found)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestReadAllErrors: every problem is reported at once.
func TestReadAllErrors(t *testing.T) {
	doc := `lock-version = "1.0"
[[packages]]
name = "A"
sdist = {url = "http://x/a-1.tar.gz"}
[[packages]]
name = "b"
`
	_, err := Read("pylock.toml", []byte(doc))
	want := []string{
		"pylock.toml: created-by: missing required key",
		"pylock.toml:3: packages[0].name: name \"A\" is not normalised",
		"pylock.toml:4: packages[0].sdist.url: URL \"http://x/a-1.tar.gz\" uses plain http",
		"pylock.toml:4: packages[0].sdist.hashes: missing required key",
		"pylock.toml:5: packages[1]: has no source",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

func TestReadNotes(t *testing.T) {
	doc := `lock-version = "1.3"
created-by = "future"
new-top-key = 1
packages = []
`
	l, err := Read("pylock.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(noteCodes(l), ",")
	if got != "unknown-key,newer-minor-version,no-environments,no-requires-python" {
		t.Errorf("notes = %s", got)
	}
}

func TestCredentialNotEchoed(t *testing.T) {
	doc := head + "[[packages]]\nname = \"a\"\nsdist = {url = \"https://user:s3cret@x/a-1.tar.gz?token=t0ken\", hashes = {sha256 = \"" + sha + "\"}}\n"
	_, err := Read("pylock.toml", []byte(doc))
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "t0ken") {
		t.Fatalf("error must refuse without echoing the secret: %v", err)
	}
}
