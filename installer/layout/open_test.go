package layout_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/layout"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

type member = pkgtest.WheelMember

func base() pkgtest.WheelSpec {
	return pkgtest.WheelSpec{Name: "demo", Version: "1.0", Members: []member{
		{Name: "demo/__init__.py", Body: "X = 1\n"},
	}}
}

func openBytes(t *testing.T, name string, b []byte) (*layout.Wheel, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return layout.Open(p)
}

func openSpec(t *testing.T, s pkgtest.WheelSpec) (*layout.Wheel, error) {
	t.Helper()
	return layout.Open(s.Write(t, t.TempDir()))
}

func reasons(t *testing.T, err error) []string {
	t.Helper()
	var me *layout.MalformedError
	if !errors.As(err, &me) {
		t.Fatalf("want *MalformedError, got %v", err)
	}
	if strings.Contains(me.Error(), "\n") {
		t.Errorf("error has a newline: %q", me.Error())
	}
	return me.Reasons
}

func wantReasons(t *testing.T, err error, wants ...string) {
	t.Helper()
	rs := reasons(t, err)
	for _, w := range wants {
		found := false
		for _, r := range rs {
			if strings.Contains(r, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no reason contains %q; reasons:\n  %s", w, strings.Join(rs, "\n  "))
		}
	}
}

func TestOpenValid(t *testing.T) {
	s := base()
	s.Name = "Demo_Pkg"
	s.Version = "1.0"
	s.DistInfo = "demo.pkg-1.0.0.dist-info" // other spelling, same name and version
	s.EntryPoints = "# comment\n[console_scripts]\ndemo = demo:main\n\n[gui_scripts]\ndemo-gui = demo.gui:run [extra]\n[other]\nx = whatever goes\n"
	s.Members = append(s.Members,
		member{Name: "demo/", Body: ""},
		member{Name: "demo/tool", Body: "#!/bin/sh\n", Mode: 0o100755},
		member{Name: "Demo_Pkg-1.0.data/scripts/run", Body: "#!python\nprint(1)\n", Mode: 0o100755},
		member{Name: "Demo_Pkg-1.0.data/scripts/plain", Body: "#!/bin/sh\necho\n"},
		member{Name: "demo.pkg-1.0.0.dist-info/RECORD.jws", Body: "sig"})
	s.EditRecord = func(rows [][]string) [][]string { // RECORD.jws need not be listed
		var out [][]string
		for _, r := range rows {
			if !strings.HasSuffix(r[0], "RECORD.jws") {
				out = append(out, r)
			}
		}
		return out
	}
	w, err := openSpec(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "Demo_Pkg" || w.Normalized != "demo-pkg" || w.Version != "1.0" || w.DistInfo != "demo.pkg-1.0.0.dist-info" || !w.RootIsPurelib || w.Data != "Demo_Pkg-1.0.data" {
		t.Errorf("got %+v", w)
	}
	if w.ConsoleScripts["demo"] != "demo:main" || w.GUIScripts["demo-gui"] != "demo.gui:run [extra]" || len(w.ConsoleScripts) != 1 {
		t.Errorf("entry points %v %v", w.ConsoleScripts, w.GUIScripts)
	}
	got := map[string]layout.Member{}
	for _, m := range w.Members {
		got[m.Name] = m
	}
	if _, ok := got["demo/"]; ok {
		t.Error("a directory entry is a member")
	}
	if m := got["demo/tool"]; !m.Executable || m.Mode != 0o755 {
		t.Errorf("demo/tool: %+v", m)
	}
	if m := got["Demo_Pkg-1.0.data/scripts/run"]; m.RestSHA256 == "" || m.RestSize != int64(len("print(1)\n")) {
		t.Errorf("run: %+v", m)
	}
	if m := got["Demo_Pkg-1.0.data/scripts/plain"]; m.RestSHA256 != "" || m.Executable {
		t.Errorf("plain: %+v", m)
	}
	if m := got["demo/__init__.py"]; m.SHA256 != sha256hex("X = 1\n") || m.Size != 6 {
		t.Errorf("__init__: %+v", m)
	}
	if len(w.SHA256) != 64 {
		t.Errorf("SHA256 %q", w.SHA256)
	}
}

func TestOpenNotZip(t *testing.T) {
	_, err := openBytes(t, "demo-1.0-py3-none-any.whl", []byte("PK not really"))
	wantReasons(t, err, "not a zip archive")
}

func TestOpenBadFileName(t *testing.T) {
	_, err := openBytes(t, "demo.whl", base().Bytes())
	wantReasons(t, err, "not a wheel name")
	_, err = openBytes(t, "demo-1.0-x1-py3-none-any.whl", base().Bytes())
	wantReasons(t, err, "build tag")
	_, err = openBytes(t, "demo-notaversion-py3-none-any.whl", base().Bytes())
	wantReasons(t, err, "invalid version \"notaversion\" (PEP 440)")
}

func TestOpenMemberNames(t *testing.T) {
	for name, want := range map[string]string{
		"/etc/passwd":       "absolute name",
		"../evil.py":        `".." component`,
		"demo/../../x.py":   `".." component`,
		`demo\evil.py`:      "backslash",
		"C:/evil.py":        "drive letter",
		"c:evil.py":         "drive letter",
		"demo//x.py":        "not a clean path",
		"./demo/x.py":       "not a clean path",
		"demo/\x01.py":      "control character",
		"demo/\"q\".py":     "double quote",
		"demo.py\x00hidden": "control character",
	} {
		t.Run(name, func(t *testing.T) {
			s := base()
			s.Members = append(s.Members, member{Name: name, Body: "x"})
			_, err := openSpec(t, s)
			wantReasons(t, err, want)
		})
	}
}

func TestOpenNonUTF8Name(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range base().AllMembers() {
		w, _ := zw.Create(m.Name)
		w.Write([]byte(m.Body))
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "demo/caf\xe9.py", NonUTF8: true})
	w.Write([]byte("x"))
	zw.Close()
	_, err := openBytes(t, "demo-1.0-py3-none-any.whl", buf.Bytes())
	wantReasons(t, err, "non-ASCII name not marked UTF-8")
}

func TestOpenDuplicate(t *testing.T) {
	s := base()
	s.Members = append(s.Members, member{Name: "demo/__init__.py", Body: "X = 2\n"})
	_, err := openSpec(t, s)
	wantReasons(t, err, `"demo/__init__.py" appears more than once`)
}

func TestOpenFileAndDir(t *testing.T) {
	s := base()
	s.Members = append(s.Members, member{Name: "demo/__init__.py/x", Body: "x"})
	_, err := openSpec(t, s)
	wantReasons(t, err, "is a file member and the directory of member")
}

func TestOpenDistInfo(t *testing.T) {
	s := base()
	s.NoMetadata, s.NoWheel, s.NoRecord = true, true, true
	_, err := openSpec(t, s)
	wantReasons(t, err, "no .dist-info directory")

	s = base()
	s.Members = append(s.Members, member{Name: "other-1.0.dist-info/METADATA", Body: "x"})
	_, err = openSpec(t, s)
	wantReasons(t, err, "2 .dist-info directories")

	s = base()
	s.DistInfo = "other-1.0.dist-info"
	_, err = openSpec(t, s)
	wantReasons(t, err, `names "other", expected "demo"`)

	s = base()
	s.DistInfo = "demo-1.1.dist-info"
	_, err = openSpec(t, s)
	wantReasons(t, err, `has version "1.1", expected "1.0"`)

	s = base()
	s.DistInfo = "demo-1.0a1.dist-info"
	_, err = openSpec(t, s)
	wantReasons(t, err, `has version "1.0a1"`)
}

func TestOpenMissing(t *testing.T) {
	for what, edit := range map[string]func(*pkgtest.WheelSpec){
		"no WHEEL":    func(s *pkgtest.WheelSpec) { s.NoWheel = true },
		"no METADATA": func(s *pkgtest.WheelSpec) { s.NoMetadata = true },
		"no RECORD":   func(s *pkgtest.WheelSpec) { s.NoRecord = true },
	} {
		s := base()
		edit(&s)
		_, err := openSpec(t, s)
		wantReasons(t, err, what)
	}
}

func TestOpenWheelVersion(t *testing.T) {
	s := base()
	s.Wheel = "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"
	_, err := openSpec(t, s)
	wantReasons(t, err, `Wheel-Version "2.0" is not 1.x`)
	s.Wheel = "Root-Is-Purelib: true\n"
	_, err = openSpec(t, s)
	wantReasons(t, err, "no Wheel-Version")
}

// TestOpenRootIsPurelib reads WHEEL as pip's email parser does.
func TestOpenRootIsPurelib(t *testing.T) {
	for text, want := range map[string]bool{
		"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n":                          true,
		"Wheel-Version: 1.0\nroot-is-purelib: TRUE\r\n":                        true,
		"Wheel-Version: 1.0\nRoot-Is-Purelib:true\n":                           true,
		"Wheel-Version: 1.0\nRoot-Is-Purelib: true \n":                         false, // compat32 keeps trailing spaces
		"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nRoot-Is-Purelib: true\n":  false, // the first wins
		"Wheel-Version: 1.0\n\nRoot-Is-Purelib: true\n":                        false, // body, not a header
		"Wheel-Version: 1.0\nRoot-Is-Purelib: t\n rue\n":                       false,
		"Wheel-Version: 1.0\nBad Header: x\nRoot-Is-Purelib: true\n":           false,
		"Wheel-Version: 1.0\nGenerator: x\n  continued\nRoot-Is-Purelib: true": true,
	} {
		s := base()
		s.Wheel = text
		w, err := openSpec(t, s)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if w.RootIsPurelib != want {
			t.Errorf("%q: RootIsPurelib %v, want %v", text, w.RootIsPurelib, want)
		}
	}
}

func editRow(name string, f func(r []string) []string) func([][]string) [][]string {
	return func(rows [][]string) [][]string {
		var out [][]string
		for _, r := range rows {
			if r[0] == name {
				if r = f(r); r == nil {
					continue
				}
			}
			out = append(out, r)
		}
		return out
	}
}

func TestOpenRecord(t *testing.T) {
	const m = "demo/__init__.py"
	cases := map[string]struct {
		edit func([][]string) [][]string
		want string
	}{
		"unlisted":   {editRow(m, func([]string) []string { return nil }), `"demo/__init__.py" is not listed in RECORD`},
		"hash":       {editRow(m, func(r []string) []string { return []string{r[0], "sha256=AAAA", r[2]} }), `RECORD says "demo/__init__.py" has sha256=AAAA`},
		"size":       {editRow(m, func(r []string) []string { return []string{r[0], r[1], "7"} }), "has 7 bytes, the member has 6"},
		"no hash":    {editRow(m, func(r []string) []string { return []string{r[0], "", r[2]} }), "no hash for"},
		"md5":        {editRow(m, func(r []string) []string { return []string{r[0], "md5=xxx", r[2]} }), "md5, which pipguard does not accept"},
		"sha1":       {editRow(m, func(r []string) []string { return []string{r[0], "sha1=xxx", r[2]} }), "sha1, which pipguard does not accept"},
		"unknown":    {editRow(m, func(r []string) []string { return []string{r[0], "blake2b=xxx", r[2]} }), `unknown algorithm "blake2b"`},
		"sha512 bad": {editRow(m, func(r []string) []string { return []string{r[0], "sha512=AAAA", r[2]} }), "sha512=AAAA"},
		"two fields": {editRow(m, func(r []string) []string { return r[:2] }), "is not path,hash,size"},
		"size text":  {editRow(m, func(r []string) []string { return []string{r[0], r[1], "six"} }), "not a number"},
		"ghost row": {func(rows [][]string) [][]string {
			return append(rows, []string{"demo/ghost.py", "sha256=AAAA", "1"})
		}, `names "demo/ghost.py", which is not a file member`},
		"dup row": {func(rows [][]string) [][]string { return append(rows, rows[0]) }, "more than once"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := base()
			s.EditRecord = c.edit
			_, err := openSpec(t, s)
			wantReasons(t, err, c.want)
		})
	}
}

func TestOpenRecordEmptyLine(t *testing.T) {
	s := base()
	ms := s.AllMembers()
	ms[len(ms)-1].Body = strings.Replace(ms[len(ms)-1].Body, "\n", "\n\n", 1)
	_, err := openBytes(t, s.FileName(), pkgtest.ZipBytes(ms))
	wantReasons(t, err, "RECORD line 2 is empty")
}

func TestOpenRecordStrongHashes(t *testing.T) {
	// sha384 and sha512 rows are checked and, when right, accepted.
	for _, algo := range []string{"sha384", "sha512"} {
		s := base()
		s.EditRecord = editRow("demo/__init__.py", func(r []string) []string {
			return []string{r[0], algo + "=" + strongDigest(algo, "X = 1\n"), r[2]}
		})
		if _, err := openSpec(t, s); err != nil {
			t.Errorf("%s: %v", algo, err)
		}
	}
}

func TestOpenForbiddenDistInfoFiles(t *testing.T) {
	for _, n := range []string{"INSTALLER", "REQUESTED", "direct_url.json", "pipguard-receipt.json", "pipguard-anything", "Installer"} {
		s := base()
		s.Members = append(s.Members, member{Name: "demo-1.0.dist-info/" + n, Body: "x"})
		_, err := openSpec(t, s)
		wantReasons(t, err, "ships "+n+", which pip or pipguard writes")
	}
}

func TestOpenEntryPoints(t *testing.T) {
	for text, want := range map[string]string{
		"[console_scripts]\nbad = demo\n":         "is not of the form module:attr",
		"[console_scripts]\nbad = demo:\n":        "is not of the form module:attr",
		"[gui_scripts]\nbad = demo : main\n":      "is not of the form module:attr",
		"[console_scripts]\nbad = a:b:c\n":        "is not of the form module:attr",
		"[console_scripts]\n../evil = demo:main":  "not a script name",
		"[console_scripts]\nsub/evil = demo:main": "not a script name",
		"[console_scripts]\nfoo bar = demo:main":  "not a script name",
		"[console_scripts]\n.. = demo:main":       "not a script name",
		"[console_scripts]\nnoequals\n":           `has no "="`,
		"[other]\n; not a comment for importlib":  `has no "="`,
		"x = demo:main\n":                         "outside any [group]",
	} {
		s := base()
		s.EntryPoints = text
		_, err := openSpec(t, s)
		wantReasons(t, err, want)
	}
}

func TestOpenData(t *testing.T) {
	for name, want := range map[string]string{
		"demo-1.0.data/lib/x.py":           "is not in one of demo-1.0.data/{purelib",
		"demo-1.0.data/x.py":               "is not in one of",
		"demo-1.0.data/scripts":            "is not in one of",
		"other-1.0.data/purelib/x.py":      `top-level directory "other-1.0.data"`,
		"demo.data/purelib/x.py":           `top-level directory "demo.data"`,
		"demo-1.0.data/Purelib/x.py":       "is not in one of",
		"demo-1.0.data/purelib/../../x.py": `".." component`,
	} {
		s := base()
		s.Members = append(s.Members, member{Name: name, Body: "x"})
		_, err := openSpec(t, s)
		wantReasons(t, err, want)
	}
}

func TestOpenSymlinkMember(t *testing.T) {
	s := base()
	s.Members = append(s.Members, member{Name: "demo/link", Body: "/etc/passwd", Mode: 0o120777})
	_, err := openSpec(t, s)
	wantReasons(t, err, "symbolic link")
}

// TestOpenAllReasons: every defect is reported at once.
func TestOpenAllReasons(t *testing.T) {
	s := base()
	s.NoMetadata = true
	s.EntryPoints = "[console_scripts]\nx = nocolon\n"
	s.Members = append(s.Members, member{Name: "demo-1.0.dist-info/INSTALLER", Body: "evil"}, member{Name: "../x", Body: ""})
	s.EditRecord = editRow("demo/__init__.py", func(r []string) []string { return []string{r[0], r[1], "99"} })
	_, err := openSpec(t, s)
	wantReasons(t, err, "no METADATA", "module:attr", "ships INSTALLER", `".." component`, "has 99 bytes")
}

// rawMember adds a member whose declared size and CRC are what the test
// says, not what its data is.
func rawZip(t *testing.T, s pkgtest.WheelSpec, name string, data []byte, declared uint64) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range s.AllMembers() {
		w, _ := zw.Create(m.Name)
		w.Write([]byte(m.Body))
	}
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

// TestOpenBomb: a member that inflates beyond its declared size is an
// error, and declared sizes beyond the cap are refused before reading.
func TestOpenBomb(t *testing.T) {
	s := base()
	s.EditRecord = func(rows [][]string) [][]string { return append(rows, []string{"demo/bomb", "sha256=x", "10"}) }
	b := rawZip(t, s, "demo/bomb", make([]byte, 10<<20), 10)
	_, err := openBytes(t, s.FileName(), b)
	wantReasons(t, err, `member "demo/bomb" cannot be read`)

	b = rawZip(t, base(), "demo/huge", []byte("small"), layout.MaxTotalSize+1)
	_, err = openBytes(t, s.FileName(), b)
	wantReasons(t, err, "more than pipguard reads")
}
