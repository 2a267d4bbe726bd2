package pep610

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

func TestParseValid(t *testing.T) {
	d, err := Parse([]byte(`{"url": "https://github.com/o/r.git", "vcs_info": {"vcs": "git", "commit_id": "` + sha + `", "requested_revision": "v1.0.0"}, "subdirectory": "pkg"}`))
	if err != nil || d.Kind() != "vcs" || d.VCSInfo.CommitID != sha || d.Subdirectory != "pkg" {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = Parse([]byte(`{"url": "file:///tmp/x.whl", "archive_info": {"hash": "sha256=ABCD", "hashes": {"sha256": "ABCD"}}}`))
	if err != nil || d.ArchiveInfo.SHA256() != "abcd" {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = Parse([]byte(`{"url": "file:///src", "dir_info": {"editable": true}}`))
	if err != nil || !d.DirInfo.Editable {
		t.Fatalf("%+v %v", d, err)
	}
	// Keys the spec may add later are tolerated.
	if _, err := Parse([]byte(`{"url": "file:///src", "dir_info": {}, "x_future": 1}`)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRules(t *testing.T) {
	for in, rule := range map[string]string{
		`[]`:           "not a JSON object",
		`{"url": "x"}`: `exactly one of "vcs_info", "archive_info" and "dir_info" must be present, found 0`,
		`{"url": "x", "dir_info": {}, "archive_info": {}}`: "found 2",
		`{"dir_info": {}}`:                                                                `"url" is required`,
		`{"url": "", "dir_info": {}}`:                                                     `"url" must be a non-empty string`,
		`{"url": 3, "dir_info": {}}`:                                                      `"url" must be a string`,
		`{"url": null, "dir_info": {}}`:                                                   `"url" must be a string`,
		`{"url": "x", "vcs_info": {"vcs": "git"}}`:                                        `"commit_id" is required`,
		`{"url": "x", "vcs_info": {"commit_id": "` + sha + `"}}`:                          `"vcs" is required`,
		`{"url": "x", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}`:                 "full lowercase commit hash",
		`{"url": "x", "vcs_info": []}`:                                                    `"vcs_info" must be an object`,
		`{"url": "x", "archive_info": {"hash": "sha256:abcd"}}`:                           `"hash" must be <algorithm>=<hex digest>`,
		`{"url": "x", "archive_info": {"hashes": {"sha256": "xyz"}}}`:                     `is not <algorithm>: <hex digest>`,
		`{"url": "x", "archive_info": {"hashes": ["a"]}}`:                                 `"hashes" must be an object of strings`,
		`{"url": "x", "archive_info": {"hash": "sha256=aa", "hashes": {"sha256": "bb"}}}`: "disagree",
		`{"url": "file:///x", "dir_info": {"editable": "yes"}}`:                           `"editable" must be a boolean`,
		`{"url": "https://x/src", "dir_info": {}}`:                                        `"dir_info" needs a "url" that starts with file://`,
		`{"url": "x", "archive_info": {"hash": "sha256=AA", "hashes": {"sha256": "aa"}}}`: "disagree",
		`{"url": "x", "archive_info": {"hash": "sha256=aa", "hashes": {"sha512": "bb"}}}`: `"hashes" does not have`,
		`{"url": "x", "archive_info": {"hash": "sha256=aa", "hashes": {}}}`:               `"hashes" does not have`,
		`{"url": "a", "url": "b", "dir_info": {}}`:                                        `key "url" appears twice`,
		`{"url": "x", "vcs_info": {"vcs": "git", "commit_id": "` + sha + `", "commit_id": "` + strings.Repeat("f", 40) + `"}}`: `key "commit_id" appears twice`,
		`{"url": "x", "dir_info": {}} {}`:                           "trailing data",
		strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40): "nested more than 32 levels",
	} {
		_, err := Parse([]byte(in))
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Rule, rule) {
			t.Errorf("%s\n  err = %v, want rule %q", in, err, rule)
		}
	}
}

func TestCompare(t *testing.T) {
	d, _ := Parse([]byte(`{"url": "https://github.com/O/R.git", "vcs_info": {"vcs": "git", "commit_id": "` + sha + `", "requested_revision": "v1"}}`))
	if m := CheckGit(d, "https://github.com/o/r", sha); len(m) != 0 {
		t.Errorf("same repo and commit: %v", m)
	}
	if m := CheckGit(d, "https://github.com/o/r", strings.Repeat("f", 40)); len(m) != 1 || m[0].Field != "vcs_info.commit_id" {
		t.Errorf("%v", m)
	}
	if m := CheckGit(d, "https://github.com/evil/r", sha); len(m) != 1 || m[0].Field != "url" {
		t.Errorf("%v", m)
	}
	if m := CheckArchive(d, "aa"); len(m) != 1 || m[0].Field != "kind" {
		t.Errorf("%v", m)
	}
	a, _ := Parse([]byte(`{"url": "file:///x.whl", "archive_info": {"hashes": {"sha256": "aa"}}}`))
	if m := CheckArchive(a, "aa"); len(m) != 0 {
		t.Errorf("%v", m)
	}
	if m := CheckArchive(a, "bb"); len(m) != 1 || !strings.Contains(m[0].String(), `expected "bb", got "aa"`) {
		t.Errorf("%v", m)
	}
	none, _ := Parse([]byte(`{"url": "file:///x.whl", "archive_info": {}}`))
	if m := CheckArchive(none, "aa"); len(m) != 1 || m[0].Actual != "(none recorded)" {
		t.Errorf("%v", m)
	}
}

func TestFindByNormalizedName(t *testing.T) {
	site := t.TempDir()
	for dir, meta := range map[string]string{
		"Friendly_Bard-1.0.dist-info": "Metadata-Version: 2.1\nName: Friendly.Bard\nVersion: 1.0\n\nbody",
		"other-2.0.dist-info":         "Metadata-Version: 2.1\nName: other\nVersion: 2.0\n",
	} {
		os.MkdirAll(filepath.Join(site, dir), 0o755)
		os.WriteFile(filepath.Join(site, dir, "METADATA"), []byte(meta), 0o644)
	}
	got, err := Find(site, "friendly-bard")
	if err != nil || len(got) != 1 || got[0].Name != "Friendly.Bard" || got[0].Version != "1.0" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := got[0].DirectURL(); !errors.Is(err, ErrNoDirectURL) {
		t.Errorf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"url": "https://github.com/o/r.git", "vcs_info": {"vcs": "git", "commit_id": "` + sha + `"}}`))
	f.Add([]byte(`{"url": "file:///x.whl", "archive_info": {"hash": "sha256=aa", "hashes": {"sha256": "aa"}}}`))
	f.Add([]byte(`{"url": "file:///src", "dir_info": {"editable": false}, "subdirectory": "a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		n := 0
		for _, set := range []bool{d.VCSInfo != nil, d.ArchiveInfo != nil, d.DirInfo != nil} {
			if set {
				n++
			}
		}
		if n != 1 || d.URL == "" {
			t.Fatalf("accepted %s as %+v", data, d)
		}
	})
}
