package reqfile

// The differential test: pip's own readers (pip's req_file, constructors,
// vcs and vendored packaging, run by the interpreter: testdata/pipread.py)
// and pipguard's (Parse, ParseFile, requirement.Parse) read the same
// generated corpus, and must agree field by field: for a requirement its
// name, extras, specifier, marker, kind, URL, ref, subdirectory and local
// path; for a file its entries in order (file, line, options, hashes,
// config settings, global options, constraint) or that it is refused.
// It runs every pip of pkgtest.Readers (a sub-test each): the machine's
// python3 and its pip (23.2.1), pip 24.2 (Python 3.13 under pyenv),
// Debian's pip 23.0.1 wheel and pip 26 (Debian sid's wheel; pkgtest.Pip26),
// skipping only a pip this machine cannot get. pip 26 names a nested file
// by its os.path.abspath, pip 23 and 24 by the joined path; the harness
// says which (nested_names_cleaned) and the file names are compared so.
//
// pipguard may refuse what pip reads only with a strict-refusal class
// (requirement.Strict*, reqfile.Strict*), each documented where it is
// declared and in the README ("Requirements files are read as pip reads
// them"):
//
//   - unsupported-vcs: hg, svn, bzr, git:// and editable requirements.
//   - characters: control characters, Unicode whitespace, non-ASCII in URLs.
//   - legacy-specifier: specifiers pip 23 and pip 24 read differently
//     (packaging 21.3's LegacySpecifier; pip 24's trailing comma, "()").
//   - legacy-marker: PEP 345 dotted names, and/or/in without blanks.
//   - url-form: git queries, fragments other than egg= and subdirectory=,
//     egg=/subdirectory= outside the fragment, egg= that is not a name,
//     host-less and scp-like URLs, "../" in file: URLs, [...] after a URL,
//     an egg= that is not a name in any URL (pip 26 refuses, 23/24 warn).
//   - git-ref: refs git refuses, percent-encoded refs (pip 26 decodes
//     them, pip 23 and 24 do not), subdirectories that leave the repository.
//   - local-directory: a local directory (pipguard reads without the FS).
//   - wheel-name: a wheel file name pip 26 reads otherwise than pip 23 and
//     24 (a name or version not in normal form, "__" in the name).
//   - nested-path: a -r/-c path naming two files (".." after a symbolic
//     link: pip 23 and 24 let the OS resolve it, pip 26 cleans it first).
//   - encoding: a coding comment naming a codec other than UTF-8, ASCII or
//     Latin-1 (unicode_escape, UTF-7, ...).
//   - option: --install-option, --global-option (pip 26 has none), an
//     option or --use-feature choice only pip 26 has (--all-releases,
//     --only-final, --no-require-hashes), an abbreviation pip versions
//     read differently, -r/-c by URL, nesting deeper than 16.
//   - secret-variable: ${GH_TOKEN} and the other GitHub token variables.
//   - constraint-url: a constraint that is not NAME SPECIFIER.
//   - unrenderable: a line pipguard cannot hand pip so that pip reads it
//     back the same way (a value pip would expand again or cut as a comment).
//
// One difference is known and fail-closed: -C/--config-settings exists
// since pip 23.1, so pip 23.0 refuses a file that uses it (pipguard reads
// it as pip 23.1 and later do); it is counted apart, never as agreement.
//
// PIPGUARD_PARITY_SCALE=N sets the size of the generated corpus (2 by
// default; make fuzz runs 10); PIPGUARD_PARITY_SEED picks another mutation seed.

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/internal/pkgtest"
)

//go:embed testdata/pipread.py
var pipReadPy string

type pipReading struct {
	Error         string              `json:"error,omitempty"`
	Name          string              `json:"name"`
	Extras        []string            `json:"extras"`
	Specifier     string              `json:"specifier"`
	Marker        string              `json:"marker"`
	Kind          string              `json:"kind"`
	URL           string              `json:"url,omitempty"`
	Ref           string              `json:"ref,omitempty"`
	Subdirectory  string              `json:"subdirectory,omitempty"`
	Path          string              `json:"path,omitempty"`
	File          string              `json:"file,omitempty"`
	Line          int                 `json:"line,omitempty"`
	Constraint    bool                `json:"constraint,omitempty"`
	Hashes        map[string][]string `json:"hashes,omitempty"`
	Config        map[string]any      `json:"config,omitempty"`
	GlobalOptions []string            `json:"global_options,omitempty"`
	Options       [][]string          `json:"options,omitempty"`
	Editable      string              `json:"editable,omitempty"`
}

type pipFile struct {
	Error   string       `json:"error,omitempty"`
	Entries []pipReading `json:"entries"`
}

type pipOutput struct {
	Pip string `json:"pip"`
	// NestedNamesCleaned: this pip names a nested file by its
	// os.path.abspath (pip 26), not by the joined path (pip 23, 24).
	NestedNamesCleaned bool              `json:"nested_names_cleaned"`
	Reqs               []pipReading      `json:"reqs"`
	Files              []pipFile         `json:"files"`
	Specs              map[string]string `json:"specs"`
	Markers            map[string]string `json:"markers"`
}

// The environment both readers see for ${VAR}.
var parityEnv = map[string]string{
	"PGT_HOST": "github.com", "PGT_A": "${PGT_B}", "PGT_B": "bee", "PGT_EMPTY": "",
	"PGT_HASH": " #x", "PGT_VER": "1.0", "PGT_DASH": "--pre", "PGT_BS": `a\`,
}

// Seeds: every class of issue 17's "Disagreements found", then pip's own
// kinds of input.
var reqSeeds = []string{
	"pkg", "pkg==1.0", "pkg>=1.0,<2", "pkg (==1.0)", "pkg (>=1.0", "name~=1", "name~=1.0", "pkg[a,b]==1.0",
	"pkg [a] >= 1", "pkg==", "pkg==1.0-foo", "pkg==foo", "pkg===1.0", "pkg===x@y", "pkg==1.*", "pkg==1.0a1.*",
	"pkg>=1.0,", "pkg ()", "pkg==1.0+Local", "pkg!=1.0.post1.dev2", "pkg < 1 , > 0", "pkg ==1.0",
	"pkg; garbage", `pkg; python_version > "3"`, `pkg ;python_version>"3"and os_name=="nt"`,
	`pkg; os.name == "nt"`, `pkg; python_version in "3.8 3.9"`, `pkg; "a" not  in extra`, `pkg;`,
	"name @ foo:bar", "name @ https://h/x.whl", "name@https://h/pkg-1.0-py3-none-any.whl", "name @ file:///tmp/x.tar.gz",
	"name @ https://h/x[a]", "name @ https://h/x ; python_version>'3'", "name @ https:///x",
	"pkg-1.0-py3-none-any.whl", "foo.tar.gz", "foo.zip", "dist/foo.tgz", "./foo.whl", "foo.whl[x]", "bad.whl",
	"foo-1.0-py3-none-any.whl@x", "./local", "/abs/dir", "..", "name @ ./x.whl",
	"https://h/pkg-1.0-py3-none-any.whl", "https://h/foo.tar.gz#egg=foo", "https://h/foo.tar.gz", "ftp://h/x.zip",
	"file:///tmp/x.whl", "file:///tmp/../x.whl", "file:/tmp/x.zip",
	"git+https://github.com/o/r.git@v1.0#egg=pkg", "git+https://github.com/o/r.git@v1%2F0#egg=pkg",
	"git+https://u%40x@github.com/o/r.git@v1#egg=pkg", "git+https://github.com/o%2Fx/r.git@v1#egg=pkg",
	"git+https://github.com/o/r.git@v1#egg=pkg&subdirectory=sub%26x", "git+https://github.com/o/r.git@v1#subdirectory=a%3Db&egg=p",
	"git+https://u&egg=evil@github.com/o/r.git@v1#egg=pkg", "git+https://github.com/o/r&subdirectory=x.git@v1#egg=pkg",
	"git+https://github.com/o/r.git@v1#egg=pkg&egg=other", "git+https://github.com/o/r.git@v1#egg=",
	"git+https://github.com/o/r.git@v1 ; python_version>'3'", "git+https://github.com/o/r.git@v1; python_version>'3'",
	"git+https://github.com/o/r.git@v1 ;python_version>'3'", "git+https://github.com/o/r.git@v1;python_version>'3'",
	"pkg @ git+https://github.com/o/r.git@v1;python_version>'3'", "pkg @ git+https://github.com/o/r.git@v1 ; garbage",
	"git+https://github.com/o/r.git", "git+https://github.com/o/r.git@", "git+https://github.com/o/r.git@v1?x=1",
	"git+ssh://git@github.com/o/r.git@v1#egg=pkg", "git+file:///srv/r@v1#egg=pkg", "git+git://h/o/r@v1#egg=p",
	"git+git@github.com:o/r.git@v1#egg=p", "GIT+HTTPS://github.com/o/r@v1#egg=p", "git+https://github.com/o/r@v1#egg=pkg[x]",
	"git+https://github.com/o/r@v1#egg=pkg==1", "git+https://github.com/o/r@v1#sha256=00", "git+https://github.com/o/r@v1#subdirectory=../x",
	"hg+https://h/r@v1#egg=p", "svn+https://h/r#egg=p", "\u00a0pkg==1", "pkg\u3000==1", "pkg==1\u2003", "pkg\t==1",
	"Some_Project.Name==1", "pkg-==1", "-e git+https://h/o/r@v1#egg=p", "x @ https://h/pkg.whl#sha256=aa",
	"pkg>=1.0;python_version>='3.8'", "pkg[]", "pkg[a,]", "pkg >=1 ; extra == 'x'",
	"name @ https://h/x.tar.gz#egg=", "name @ https://h/x.tar.gz#egg=.bad", "name @ https://h/x.zip#egg=ok&egg=.bad",
	"https://h/pkg-1.0-py3-none-any.whl#egg=b!d", "https://h/foo.tar.gz#egg=foo-", "name @ https://h/x.whl#sha256=aa&egg=_x",
	"name @ https://u&egg=bad!@h/x.tar.gz", "name @ https://h/x.tar.gz#egg=foo[bar]",
	" git+https://github.com/o/r.git@v1 ;python_version>'3'", "  https://h/x.tar.gz;python_version>'3'", " pkg;python_version>'3'",
	"Django-4.2-py3-none-any.whl", "pkg-1.00-py3-none-any.whl", "a__b-1.0-py3-none-any.whl", "a.b-1.0-py3-none-any.whl",
	"my_pkg-1.0-py3-none-any.whl", "pkg-1.0-1bld-py3-none-any.whl", "pkg-1.0-x-py3-none-any.whl", "https://h/Foo-1.0-py3-none-any.whl",
	"pkg-1.0_1-py3-none-any.whl", "pkg-v1.0-py3-none-any.whl", "pkg-1.0.post1-py3-none-any.whl", "pkg-1.0-py3.py2-none-any.whl",
}

// Lines that only make sense in a file (options, continuations, comments,
// expansion); a requirement seed is also used as a line.
var lineSeeds = []string{
	"--index-url https://pypi.example/simple", "-ihttps://pypi.example/simple", "-i https://a -i https://b",
	"--index=https://x", "--index= --pre", "-i https://a -i ''", "--index-url=", "--pypi-url https://x", "--extra-index-url http://insecure.example/simple", "--trusted-host insecure.example",
	"--prefer-bin", "--pre", "--pre=yes", "--no-index=1", "--no-index", "--p", "--require-hashes", "--in https://x", "--con inc.txt",
	"-r ./inc.txt", "-r realdir/../inc.txt", "-r .//inc.txt", "-r nodir/../inc.txt", "-c ./con.txt", "-r realdir/./inc.txt",
	"-r link/../realdir/inc.txt", "-r link/up.txt", "-r realdir/sub/up.txt", "-r link/../../inc.txt", "-c link/../con.txt",
	"--all-releases :all:", "--only-final pkg", "--no-require-hashes", "--only :all:", "--only-b :all:", "--all :all:", "--no-r",
	"--use-feature inprocess-build-deps", "--use-feature build-constraint", "--use-feature venv-isolation",
	"pkg==1.0 --all-releases=:all:", "--all-releases -x", "--pre --all-releases pkg", "pkg==1.0 --glo=x", "pkg==1.0 --no-require-hashes",
	"-rinc.txt", "-r inc.txt", "-r=inc.txt", "--requirement=inc.txt", "-c con.txt", "-cinc.txt", "-r inc.txt --pre", "-r link/../inc.txt",
	"-r https://h/r.txt", "-f ./wheels", "-f wheels -f other", "--find-links=https://h/w", "--no-binary :all:", "--only-binary=:none:",
	"--no-binary -x", "--no-binary=a,:all:,b", "--use-feature truststore", "--use-feature bogus",
	"pkg==1.0 --hash=sha256:abcd", "pkg==1.0 --hash sha256:abcd --hash=sha512:ef", "pkg==1.0 --hash=md5:00", "pkg==1.0 --hash=abcd",
	"pkg==1.0 --hash", "pkg==1.0 --hash='sha256:abcd'", `pkg==1.0 --hash="sha256:ab cd"`, "pkg==1.0 --hash=sha256:'unclosed",
	"pkg==1.0 -C k=v", "pkg==1.0 --config-settings=k", "pkg==1.0 --global-option=--x", "pkg==1.0 --install-option=x",
	"pkg==1.0 --index-url https://x", "pkg==1.0 -r inc.txt", "pkg==1.0\t--hash=sha256:ab", "pkg==1.0  --hash=sha256:ab",
	"pkg==1.0 extra --pre", "pkg==1.0 -- --hash=sha256:ab", "pkg==1.0 --hash=sha256:ab positional",
	"-e ./local", "--editable=git+https://h/o/r@v1#egg=p", "--frobnicate",
	"pkg==${PGT_VER}", "pkg==${PGT_EMPTY}1.0", "pkg==1.0${PGT_UNSET}", "demo @ git+https://${PGT_HOST}/o/r.git@v1",
	"pkg==1.0 ${PGT_DASH}", "pkg${PGT_HASH}", "x==1 ${PGT_A}${PGT_B}", "x==1 --hash=sha256:${PGT_A}", "--index-url https://${GH_TOKEN}@h/s",
	"pkg==1.0 # comment", "pkg==1.0#not-a-comment", "# whole comment", "  # indented \\", "pkg==1.0 \\", "pkg\\\\",
	"pkg==1.0 # pinned\fevil @ git+https://evil.example/x.git", "a==1\rb==2", "a==1\vb==2", "a==1\x1cb==2", "a==1\x1db==2",
	"a==1\x1eb==2", "a==1\u0085b==2", "a==1\u2028b==2", "a==1\u2029b==2", "a==1\x1fb==2",
}

// alphabet is what mutations insert.
var alphabet = []string{" ", "\t", ";", "@", "#", "&", "=", "/", "\\", "%", "%2F", "%40", "[", "]", "(", ")", ",", `"`, "'",
	"-", "--", ".", "\f", "\r", "\n", "\u0085", "\u2028", "\u00a0", "${PGT_B}", "$", "{", "}", "#egg=", "&subdirectory=", "~", "<",
	">", "!", "*", "+", ":", "a", "1", "==", ".whl", ".tar.gz", " -r inc.txt", " --hash=sha256:ab", "\x00", "é"}

func mutate(r *rand.Rand, s string) string {
	for n := 1 + r.Intn(3); n > 0; n-- {
		rs := s
		i := 0
		if len(rs) > 0 {
			i = r.Intn(len(rs) + 1)
		}
		switch r.Intn(3) {
		case 0: // insert
			s = rs[:i] + alphabet[r.Intn(len(alphabet))] + rs[i:]
		case 1: // delete
			if i < len(rs) {
				s = rs[:i] + rs[i+1:]
			}
		case 2: // duplicate
			if i < len(rs) {
				s = rs[:i+1] + rs[i:]
			}
		}
	}
	return s
}

// BOM and coding-comment variants of a file's text.
func encodings(text string) [][]byte {
	utf16 := func(le bool, bom bool) []byte {
		var b []byte
		if bom {
			if le {
				b = append(b, 0xff, 0xfe)
			} else {
				b = append(b, 0xfe, 0xff)
			}
		}
		for _, r := range text {
			if r > 0xffff {
				r = '?'
			}
			if le {
				b = append(b, byte(r), byte(r>>8))
			} else {
				b = append(b, byte(r>>8), byte(r))
			}
		}
		return b
	}
	utf32 := func(le bool) []byte {
		var b []byte
		if le {
			b = append(b, 0xff, 0xfe, 0, 0)
		} else {
			b = append(b, 0, 0, 0xfe, 0xff)
		}
		for _, r := range text {
			if le {
				b = append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
			} else {
				b = append(b, byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
			}
		}
		return b
	}
	latin1 := []byte{}
	for _, r := range text {
		if r < 256 {
			latin1 = append(latin1, byte(r))
		}
	}
	return [][]byte{
		[]byte("\xef\xbb\xbf" + text), utf16(true, true), utf16(false, true), utf32(false), utf32(true),
		[]byte("# -*- coding: utf-8 -*-\n" + text), []byte("#!/x\n# vim: set fileencoding=latin-1 :\n" + string(latin1)),
		[]byte("# coding: ascii\n" + text), []byte("# coding=unicode_escape\n" + text), []byte("# coding: utf-7\n" + text),
		[]byte("x\n# coding: utf_8_sig\n" + text), []byte("# coding: bogus-codec\n" + text), []byte(text + "\xff"),
		[]byte("# coding: unicode_escape\npkg==1.0 \\u000aevil @ git+https://evil.example/x.git\n"),
	}
}

type corpus struct {
	reqs  []string
	files [][]byte
}

func makeCorpus(scale int, seed int64) corpus {
	r := rand.New(rand.NewSource(seed))
	var c corpus
	c.reqs = append(c.reqs, reqSeeds...)
	for i := 0; i < 60*scale; i++ {
		for _, s := range reqSeeds {
			if r.Intn(4) == 0 {
				c.reqs = append(c.reqs, mutate(r, s))
			}
		}
	}
	lines := append(append([]string{}, lineSeeds...), reqSeeds...)
	for _, l := range lines {
		c.files = append(c.files, []byte(l+"\n"), []byte(l), []byte("# first\n"+l+"\n-c con.txt\n"))
	}
	// Trailing backslashes at the end of a file, continuations.
	for _, tail := range []string{"\\", "\\\\", "\\\\\\", " \\", "\\ "} {
		c.files = append(c.files, []byte("pkg==1.0"+tail), []byte("pkg==1.0"+tail+"\n-c con.txt\n"), []byte("-c con.txt "+tail+"\nsix==1\n"))
	}
	for _, e := range encodings("pkg==1.0\nsix==1.16 # é\n") {
		c.files = append(c.files, e)
	}
	for i := 0; i < 25*scale; i++ {
		for _, l := range lines {
			if r.Intn(4) != 0 {
				continue
			}
			body := mutate(r, l)
			if r.Intn(3) == 0 {
				body = mutate(r, lines[r.Intn(len(lines))]) + "\n" + body
			}
			c.files = append(c.files, []byte(body+"\n"))
		}
	}
	return c
}

// goReading is pipguard's reading in pip's terms.
func goReading(r *requirement.Requirement, cwd string) pipReading {
	d := pipReading{Name: r.Name, Specifier: r.Specifier, Marker: r.Marker, Kind: string(r.Kind), Extras: []string{}}
	seen := map[string]bool{}
	for _, e := range r.Extras {
		if !seen[strings.ToLower(e)] {
			seen[strings.ToLower(e)] = true
			d.Extras = append(d.Extras, strings.ToLower(e))
		}
	}
	sort.Strings(d.Extras)
	switch r.Kind {
	case requirement.KindVCS:
		d.URL, d.Ref, d.Subdirectory = r.VCS.PipURL(), r.VCS.Ref, r.VCS.Subdirectory
	case requirement.KindURL:
		d.URL = r.DirectURL()
	case requirement.KindPath:
		d.Path = r.Path
		if !filepath.IsAbs(r.Path) {
			d.Path = filepath.Join(cwd, r.Path)
		}
	}
	return d
}

// formatControl is pip's FormatControl after a line's --no-binary and
// --only-binary values, as "no_binary", "only_binary" (sorted, joined).
func formatControl(ops [][]string) (string, string) {
	no, only := map[string]bool{}, map[string]bool{}
	for _, op := range ops {
		target, other := no, only
		if op[0] == "--only-binary" {
			target, other = only, no
		}
		names := strings.Split(op[1], ",")
		all := false
		for {
			i := indexOf(names, ":all:")
			if i < 0 {
				break
			}
			clear(other)
			clear(target)
			target[":all:"] = true
			names = names[i+1:]
			if indexOf(names, ":none:") < 0 {
				all = true
				break
			}
		}
		if all {
			continue
		}
		for _, n := range names {
			if n == ":none:" {
				clear(target)
				continue
			}
			n = requirement.Normalize(n)
			delete(other, n)
			target[n] = true
		}
	}
	keys := func(m map[string]bool) string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		sort.Strings(k)
		return strings.Join(k, ",")
	}
	return keys(no), keys(only)
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// goFile is pipguard's reading of a file in pip's terms.
func goFile(es []Entry, cwd string) []pipReading {
	var out []pipReading
	for i := 0; i < len(es); i++ {
		e := es[i]
		if e.Option != nil {
			d := pipReading{File: e.File, Line: e.Line}
			var format [][]string
			for ; i < len(es) && es[i].Option != nil && es[i].File == e.File && es[i].Line == e.Line; i++ {
				if o := es[i].Option; o[0] == "--no-binary" || o[0] == "--only-binary" {
					format = append(format, o)
				} else {
					d.Options = append(d.Options, o)
				}
			}
			i--
			if format != nil {
				if no, only := formatControl(format); no != "" || only != "" {
					d.Options = append(d.Options, []string{"format", no, only})
				}
			}
			if d.Options != nil {
				out = append(out, d)
			}
			continue
		}
		d := goReading(e.Req, cwd)
		d.File, d.Line, d.Constraint = e.File, e.Line, e.Constraint
		for _, o := range e.LineOptions {
			name, v, _ := strings.Cut(o, "=")
			if t, err := shlexSplit(v); err == nil && len(t) == 1 {
				v = t[0]
			}
			switch name {
			case "--hash":
				algo, digest, _ := strings.Cut(v, ":")
				if d.Hashes == nil {
					d.Hashes = map[string][]string{}
				}
				d.Hashes[algo] = append(d.Hashes[algo], digest)
			case "--config-settings":
				k, val, _ := strings.Cut(v, "=")
				if d.Config == nil {
					d.Config = map[string]any{}
				}
				switch old := d.Config[k].(type) {
				case nil:
					d.Config[k] = val
				case string:
					d.Config[k] = []any{old, val}
				case []any:
					d.Config[k] = append(old, val)
				}
			case "--global-option":
				d.GlobalOptions = append(d.GlobalOptions, v)
			}
		}
		out = append(out, d)
	}
	return out
}

type tally struct {
	cases, agree, diffs int
	strict              map[string]int
	versionNote         int
	shown               []string
}

func (t *tally) diff(format string, args ...any) {
	t.diffs++
	if len(t.shown) < 40 {
		t.shown = append(t.shown, fmt.Sprintf(format, args...))
	}
}

func strictOf(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Strict
	}
	if e, ok := err.(*requirement.ParseError); ok {
		return e.Strict
	}
	return ""
}

func TestParityWithPip(t *testing.T) {
	scale := 2
	if s, err := strconv.Atoi(os.Getenv("PIPGUARD_PARITY_SCALE")); err == nil && s > 0 {
		scale = s
	}
	seed := int64(17)
	if s, err := strconv.ParseInt(os.Getenv("PIPGUARD_PARITY_SEED"), 10, 64); err == nil {
		seed = s
	}
	c := makeCorpus(scale, seed)
	dir := t.TempDir()
	dir, _ = filepath.EvalSymlinks(dir)
	for name, body := range map[string]string{"inc.txt": "six==1.16\n", "con.txt": "urllib3<3\n", "realdir/sub/x": "", "realdir/inc.txt": "attrs==23.1\n",
		"realdir/sub/up.txt": "-r ../inc.txt\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "wheels"), 0o755)
	os.Symlink(filepath.Join(dir, "realdir", "sub"), filepath.Join(dir, "link"))
	cases := filepath.Join(dir, "cases")
	os.Mkdir(cases, 0o755)
	var paths []string
	for i, f := range c.files {
		p := filepath.Join(dir, fmt.Sprintf("case%05d.txt", i))
		os.WriteFile(p, f, 0o644)
		paths = append(paths, p)
	}
	getenv := func(k string) string { return parityEnv[k] }

	// pipguard's readings, and the specifiers and markers pip normalises.
	type goReq struct {
		r   *requirement.Requirement
		err error
	}
	reqs := make([]goReq, len(c.reqs))
	specs, markers := map[string]bool{}, map[string]bool{}
	for i, s := range c.reqs {
		r, err := requirement.Parse(s)
		reqs[i] = goReq{r, err}
		if r != nil {
			specs[r.Specifier], markers[r.Marker] = true, true
		}
	}
	type goF struct {
		es  []Entry
		err error
	}
	files := make([]goF, len(paths))
	for i, p := range paths {
		es, err := ParseFileOptions(p, Options{Getenv: getenv})
		files[i] = goF{es, err}
		for _, e := range es {
			if e.Req != nil {
				specs[e.Req.Specifier], markers[e.Req.Marker] = true, true
			}
		}
	}
	keys := func(m map[string]bool) []string {
		out := []string{}
		for k := range m {
			if k != "" {
				out = append(out, k)
			}
		}
		return out
	}
	in, _ := json.Marshal(map[string]any{"reqs": c.reqs, "files": paths, "specs": keys(specs), "markers": keys(markers)})

	for _, py := range pkgtest.Readers() {
		t.Run(py.Name, func(t *testing.T) {
			if py.Missing != "" {
				t.Skip(py.Missing)
			}
			cmd := exec.Command(py.Python, "-c", pipReadPy)
			cmd.Dir = dir
			cmd.Stdin = strings.NewReader(string(in))
			cmd.Env = py.Env(append(os.Environ(), "PYTHONUTF8=1", "PYTHONDONTWRITEBYTECODE=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"))
			for k, v := range parityEnv {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			raw, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s", py.Python, err, stderr.String())
			}
			var out pipOutput
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			old := strings.HasPrefix(out.Pip, "23.0")
			tl := &tally{strict: map[string]int{}}
			norm := func(d pipReading) pipReading {
				if d.Specifier != "" {
					d.Specifier = out.Specs[d.Specifier]
				}
				if d.Marker != "" {
					d.Marker = out.Markers[d.Marker]
				}
				return d
			}
			judge := func(what string, goErr error, pipErr string, same func() string) {
				tl.cases++
				switch {
				case goErr != nil && pipErr != "":
					tl.agree++
				case goErr != nil:
					if s := strictOf(goErr); s != "" {
						tl.strict[s]++
						return
					}
					tl.diff("%s: pipguard refuses (%v), pip reads it", what, goErr)
				case pipErr != "":
					if old && (strings.Contains(what, "-C") || strings.Contains(what, "--c")) && strings.Contains(pipErr, "no such option") {
						tl.versionNote++
						return
					}
					tl.diff("%s: pip refuses (%s), pipguard reads it", what, pipErr)
				default:
					if d := same(); d != "" {
						tl.diff("%s: %s", what, d)
					} else {
						tl.agree++
					}
				}
			}
			for i, s := range c.reqs {
				g, p := reqs[i], out.Reqs[i]
				judge(fmt.Sprintf("requirement %q", s), g.err, p.Error, func() string {
					gd := norm(goReading(g.r, dir))
					p.Extras = append([]string{}, p.Extras...)
					if !sameJSON(gd, p) {
						return fmt.Sprintf("pipguard %+v\n    pip      %+v", gd, p)
					}
					if g.r.Kind == requirement.KindIndex && requirement.IsPinned(g.r.Specifier) != pipPinned(p.Specifier) {
						return fmt.Sprintf("IsPinned(%q) = %v", g.r.Specifier, requirement.IsPinned(g.r.Specifier))
					}
					return ""
				})
			}
			for i, p := range paths {
				g, pf := files[i], out.Files[i]
				judge(fmt.Sprintf("file %q", c.files[i]), g.err, pf.Error, func() string {
					gd := goFile(g.es, dir)
					for j := range gd {
						if gd[j].Options == nil {
							gd[j] = norm(gd[j])
						}
						if out.NestedNamesCleaned {
							// The same file (ParseFile refuses a path
							// that names two: StrictNestedPath), named as
							// pip 26 names it.
							gd[j].File = pyAbspath(gd[j].File)
						}
					}
					for j := range pf.Entries {
						if pf.Entries[j].Extras != nil {
							pf.Entries[j].Extras = append([]string{}, pf.Entries[j].Extras...)
						}
					}
					if len(gd) == 0 && len(pf.Entries) == 0 {
						return ""
					}
					if !sameJSON(gd, pf.Entries) {
						return fmt.Sprintf("(%s)\n    pipguard %+v\n    pip      %+v", p, gd, pf.Entries)
					}
					return ""
				})
			}
			t.Logf("pip %s: %d cases (%d requirements, %d files): %d agree, %d strict refusals %v, %d pip-23.0-has-no--C, %d differences",
				out.Pip, tl.cases, len(c.reqs), len(paths), tl.agree, sum(tl.strict), tl.strict, tl.versionNote, tl.diffs)
			for _, s := range tl.shown {
				t.Error(s)
			}
		})
	}
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// pipPinned is what index_pins means by pinned, from pip's normalised
// specifier: exactly one ==X (no wildcard) or ===X.
func pipPinned(spec string) bool {
	if spec == "" || strings.Contains(spec, ",") {
		return false
	}
	if strings.HasPrefix(spec, "===") {
		return true
	}
	return strings.HasPrefix(spec, "==") && !strings.Contains(spec, "*")
}
