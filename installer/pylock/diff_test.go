package pylock

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pep440"
)

type pySelected struct {
	Index    int               `json:"index"`
	Name     string            `json:"name"`
	Version  string            `json:"version"`
	Kind     string            `json:"kind"`
	Filename string            `json:"filename,omitempty"`
	URL      string            `json:"url,omitempty"`
	Path     string            `json:"path,omitempty"`
	Size     *int64            `json:"size,omitempty"`
	Hashes   map[string]string `json:"hashes,omitempty"`
	Commit   string            `json:"commit,omitempty"`
}

type pyLockResult struct {
	TOMLError   string       `json:"toml_error"`
	Error       string       `json:"error"`
	OK          bool         `json:"ok"`
	Packages    int          `json:"packages"`
	Selected    []pySelected `json:"selected"`
	SelectError string       `json:"select_error"`
}

type lockCase struct {
	TOML   string            `json:"toml"`
	Env    map[string]string `json:"env,omitempty"`
	Tags   []string          `json:"tags,omitempty"`
	Extras []string          `json:"extras"`
	Groups []string          `json:"groups"`
	label  string
}

func goSelected(sel []Selected) []pySelected {
	var out []pySelected
	for _, s := range sel {
		r := pySelected{Index: s.Index, Name: s.Package.Name, Kind: string(s.Kind)}
		if v, err := pep440.Parse(s.Package.Version); err == nil {
			r.Version = v.String()
		}
		switch {
		case s.File != nil:
			r.Filename, r.URL, r.Path, r.Size, r.Hashes = s.File.Filename(), s.File.URL, s.File.Path, s.File.Size, s.File.Hashes
		case s.Archive != nil:
			r.URL, r.Path, r.Size, r.Hashes = s.Archive.URL, s.Archive.Path, s.Archive.Size, s.Archive.Hashes
		case s.VCS != nil:
			r.URL, r.Commit = s.VCS.URL, s.VCS.CommitID
		}
		out = append(out, r)
	}
	return out
}

func envNames() []string {
	var names []string
	for n := range testEnvs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// selectCases builds, for each document, one case per test environment
// and extras/groups choice.
func selectCases(docs map[string][]byte, choices [][2][]string) []lockCase {
	var cases []lockCase
	var names []string
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, e := range envNames() {
			for _, c := range choices {
				cases = append(cases, lockCase{TOML: string(docs[n]), Env: testEnvs[e].Markers, Tags: testEnvs[e].Tags, Extras: c[0], Groups: c[1],
					label: fmt.Sprintf("%s/%s/extras=%v/groups=%v", n, e, c[0], c[1])})
			}
		}
	}
	return cases
}

// runSelectDiff compares Select with packaging's Pylock.select field by
// field, and their refusals.
func runSelectDiff(t *testing.T, cases []lockCase) (agree int) {
	t.Helper()
	var py []pyLockResult
	ver := oracle(t, "lock", cases, &py)
	t.Logf("oracle: pip %s, %d cases", ver, len(cases))
	for i, c := range cases {
		p := py[i]
		l, err := Read(c.label, []byte(c.TOML))
		if err != nil || !p.OK {
			t.Errorf("%s: read: go %v, packaging %q %q", c.label, err, p.Error, p.TOMLError)
			continue
		}
		sel, err := l.Select(Environment{Markers: c.Env, Tags: c.Tags}, c.Extras, c.Groups)
		if (err != nil) != (p.SelectError != "") {
			t.Errorf("%s: go select error %v, packaging %q", c.label, err, p.SelectError)
			continue
		}
		if err != nil {
			agree++
			continue
		}
		got := goSelected(sel)
		if !reflect.DeepEqual(got, p.Selected) && !(len(got) == 0 && len(p.Selected) == 0) {
			t.Errorf("%s:\n go        %+v\n packaging %+v", c.label, got, p.Selected)
			continue
		}
		agree++
	}
	return agree
}

func fixtureDocs(t *testing.T) map[string][]byte {
	docs := map[string][]byte{}
	for _, f := range []string{"spec-example.pylock.toml", "pip-build-project.pylock.toml", "uv-kagizine.pylock.toml", "pdm-demo.pylock.toml"} {
		docs[f] = fixture(t, f)
	}
	return docs
}

// TestSelectDiffFixtures: every real lock, every test environment, with
// and without extras and groups, selects what pip 26 selects.
func TestSelectDiffFixtures(t *testing.T) {
	docs := fixtureDocs(t)
	choices := [][2][]string{{nil, nil}}
	var cases []lockCase
	for _, c := range selectCases(docs, choices) {
		cases = append(cases, c)
	}
	pdm := map[string][]byte{"pdm": docs["pdm-demo.pylock.toml"]}
	cases = append(cases, selectCases(pdm, [][2][]string{
		{{"security"}, nil}, {{"tests"}, {}}, {{"security", "tests"}, {"default"}}, {nil, {}}, {{"Security"}, {"Default"}},
	})...)
	n := runSelectDiff(t, cases)
	t.Logf("%d/%d cases agree", n, len(cases))
}

// TestSelectPDM checks the multi-use pdm lock directly: which packages
// each choice of extras and groups installs.
func TestSelectPDM(t *testing.T) {
	l, err := Read("pdm", fixture(t, "pdm-demo.pylock.toml"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(sel []Selected) string {
		var n []string
		for _, s := range sel {
			n = append(n, s.Package.Name+"="+string(s.Kind))
		}
		return strings.Join(n, " ")
	}
	tests := []struct {
		env            string
		extras, groups []string
		want           string
		err            string
	}{
		{"linux-cp312", nil, nil, "idna=wheel", ""},
		{"linux-cp312", []string{"security"}, []string{}, "certifi=wheel charset-normalizer=wheel idna=wheel requests=wheel urllib3=wheel", ""},
		{"linux-cp312", []string{"tests"}, []string{}, "py=wheel pytest=wheel setuptools=wheel", ""},
		{"win-cp312", []string{"tests"}, nil, "chardet=wheel colorama=wheel idna=wheel py=wheel pytest=wheel setuptools=wheel", ""},
		{"linux-cp35", []string{"security"}, nil, "idna=wheel", ""},
		{"linux-cp312", []string{"secuirty"}, nil, "", `extra "secuirty" is not one the lock provides`},
		{"linux-cp312", nil, []string{"dev"}, "", `dependency group "dev" is not one the lock provides`},
	}
	for _, tt := range tests {
		sel, err := l.Select(testEnvs[tt.env], tt.extras, tt.groups)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %v %v: error %v, want %q", tt.env, tt.extras, tt.groups, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %v %v: %v", tt.env, tt.extras, tt.groups, err)
			continue
		}
		if got := names(sel); got != tt.want {
			t.Errorf("%s %v %v:\n got  %s\n want %s", tt.env, tt.extras, tt.groups, got, tt.want)
		}
	}
}

func TestSelectSpecExample(t *testing.T) {
	l, err := Read("spec", fixture(t, "spec-example.pylock.toml"))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := l.Select(testEnvs["win-cp312"], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) != 3 || sel[2].File.Filename() != "numpy-2.2.3-cp312-cp312-win_amd64.whl" {
		t.Errorf("selected %+v", goSelected(sel))
	}
	// requires-python == 3.12.* refuses 3.11; environments refuse macOS.
	for env, want := range map[string]string{"linux-cp311": "requires-python", "mac-cp313": "requires-python"} {
		if _, err := l.Select(testEnvs[env], nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", env, err, want)
		}
	}
	mac := testEnvs["mac-cp313"]
	mac.Markers = cloneMap(mac.Markers)
	mac.Markers["python_full_version"], mac.Markers["python_version"] = "3.12.0", "3.12"
	if _, err := l.Select(mac, nil, nil); err == nil || !strings.Contains(err.Error(), "no environments marker matches") {
		t.Errorf("mac 3.12: error %v", err)
	}
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
