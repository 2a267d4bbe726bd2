package pep610

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// installedRef lists a directory's distributions with importlib.metadata
// (distributions(path=[dir]): directory, Name, Version) and pip's own
// environment (get_environment([dir]).iter_all_distributions(): its
// canonical name, from the directory's name when the suffix is exactly
// .dist-info or .egg-info, else METADATA's).
const installedRef = `import json, os, sys
import importlib.metadata as md
out = []
for d in sys.argv[1:]:
    dists = []
    for dist in md.distributions(path=[d]):
        dists.append({"dir": os.path.basename(str(dist._path)), "name": dist.metadata["Name"], "version": dist.metadata["Version"]})
    pipnames = {}
    try:
        from pip._internal.metadata import get_environment
        for dist in get_environment([d]).iter_all_distributions():
            if dist.info_location:
                pipnames[os.path.basename(dist.info_location)] = str(dist.canonical_name)
    except Exception as e:
        pipnames = {"error": repr(e)}
    out.append({"dists": dists, "pip": pipnames})
json.dump(out, sys.stdout)
`

// metadataCase is one generated metadata directory.
type metadataCase struct {
	dir      string // its name
	file     string // METADATA, PKG-INFO, "" for none, "." for an .egg-info file
	metadata string
}

func metadataCases() []metadataCase {
	dirs := []string{"foo-1.0.dist-info", "foo.dist-info", "FOO-1.0.DIST-INFO", "foo-1.0.Dist-Info", "Foo_Bar-1.0.dist-info",
		"foo-1.0.egg-info", "FOO-1.0.EGG-INFO", "foo.egg-info", "foo-1.0-py3.11.egg-info", "-1.0.dist-info", "foo-bar-1.0.dist-info"}
	metas := []string{
		"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n",
		"Metadata-Version: 2.1\nname: foo\nversion: 1.0\n",
		"Metadata-Version: 2.1\nName:foo\nVersion:1.0\n",
		"NAME: Foo\nVERSION: 1.0\n",
		"Name: foo\nName: other\nVersion: 1.0\nVersion: 2.0\n",
		"Name: other\nVersion: 3.0\n",
		"Name:\n foo\nVersion: 1.0\n",
		"Name: foo\n bar\nVersion: 1.0\n",
		"Name: foo\r\nVersion: 1.0\r\n",
		"Name: foo\rVersion: 1.0\r",
		"Name: foo  \nVersion:\t1.0 \n",
		"\nName: foo\nVersion: 1.0\n",
		"Metadata-Version: 2.1\n\nName: foo\nVersion: 1.0\n",
		"Metadata-Version: 2.1\nSummary body without colon\nName: foo\nVersion: 1.0\n",
		"From nobody\nName: foo\nVersion: 1.0\n",
		" continued\nName: foo\nVersion: 1.0\n",
		":novalue\nName: foo\nVersion: 1.0\n",
		"Version: 1.0\n",
		"Name: foo\n",
		"Name: foo\nVersion: 1.0",
		"Na me: x\nName: foo\nVersion: 1.0\n",
		"Name: foo\nDescription: a\n |b\nVersion: 1.0\n\nbody\nName: other\n",
		"Name: f\u00f6o\nVersion: 1.0\n",
		"Name: foo\fVersion: 1.0\n",
		"",
	}
	var out []metadataCase
	for _, d := range dirs {
		for _, m := range metas {
			file := "METADATA"
			if strings.HasSuffix(strings.ToLower(d), ".egg-info") {
				file = "PKG-INFO"
			}
			out = append(out, metadataCase{dir: d, file: file, metadata: m})
		}
		out = append(out, metadataCase{dir: d, file: ""})
	}
	for _, m := range metas[:6] {
		out = append(out, metadataCase{dir: "foo-1.0.egg-info", file: ".", metadata: m}, metadataCase{dir: "foo-1.0.dist-info", file: ".", metadata: m})
	}
	// METADATA empty, PKG-INFO holding the name: importlib reads on.
	out = append(out, metadataCase{dir: "foo-1.0.dist-info", file: "METADATA+PKG-INFO", metadata: "Name: pkginfo\nVersion: 9\n"})
	return out
}

// TestInstalledMatchesImportlib is the differential test of the installed
// distributions' listing: every generated site directory (one
// distribution each, every suffix case, name with and without a version,
// METADATA written every way the email parser reads) is listed by
// importlib.metadata and pip's own environment (pip 23.2.1 here), and
// compared field by field with Listed and LoadMetadata: the directory,
// Name and Version (importlib.metadata's), and pip's name (DirProject when
// the suffix is exact, METADATA's Name otherwise); a distribution whose
// METADATA has no Name is skipped by pip and has MetadataErr here.
func TestInstalledMatchesImportlib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cases := metadataCases()
	root := t.TempDir()
	var sites []string
	for i, c := range cases {
		site := filepath.Join(root, fmt.Sprint(i))
		p := filepath.Join(site, c.dir)
		switch c.file {
		case ".":
			mustWrite(t, p, c.metadata)
		case "":
			mustMkdir(t, p)
		case "METADATA+PKG-INFO":
			mustWrite(t, filepath.Join(p, "METADATA"), "")
			mustWrite(t, filepath.Join(p, "PKG-INFO"), c.metadata)
		default:
			mustWrite(t, filepath.Join(p, c.file), c.metadata)
		}
		sites = append(sites, site)
	}
	out, err := exec.Command(py, append([]string{"-I", "-c", installedRef}, sites...)...).Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	type refDist struct {
		Dir     string  `json:"dir"`
		Name    *string `json:"name"`
		Version *string `json:"version"`
	}
	var ref []struct {
		Dists []refDist         `json:"dists"`
		Pip   map[string]string `json:"pip"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	diffs := 0
	for i, c := range cases {
		var got []refDist
		pipGot := map[string]string{}
		ds, err := Listed(sites[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			d.LoadMetadata()
			rd := refDist{Dir: filepath.Base(d.Dir)}
			n, v := d.Name, d.Version
			if hasName(d) {
				rd.Name = &n
			}
			if hasVersion(d) {
				rd.Version = &v
			}
			got = append(got, rd)
			if rd.Name != nil {
				if n := pipName(d); validName(n) {
					pipGot[rd.Dir] = n
				}
			}
		}
		ls, _ := LegacyInstalled(sites[i])
		for _, l := range ls {
			if !hasSuffixFold(l.Path, ".egg-info") {
				continue
			}
			rd := refDist{Dir: filepath.Base(l.Path)}
			n, v := l.Name, l.Version
			hs := headersOf(l.Path)
			if _, ok := HeaderValue(hs, "Name"); ok {
				rd.Name = &n
				if n := pipName(Dist{Dir: l.Path, Name: l.Name}); validName(n) {
					pipGot[rd.Dir] = n
				}
			}
			if _, ok := HeaderValue(hs, "Version"); ok {
				rd.Version = &v
			}
			got = append(got, rd)
		}
		want := ref[i].Dists
		key := func(ds []refDist) string {
			var s []string
			for _, d := range ds {
				s = append(s, fmt.Sprintf("%s|%s|%s", d.Dir, str(d.Name), str(d.Version)))
			}
			sort.Strings(s)
			return strings.Join(s, "; ")
		}
		if key(got) != key(want) {
			diffs++
			t.Errorf("%s with %s %q: pipguard lists %s, importlib.metadata %s", c.dir, c.file, c.metadata, key(got), key(want))
		}
		if _, ok := ref[i].Pip["error"]; !ok {
			if fmt.Sprint(pipGot) != fmt.Sprint(ref[i].Pip) {
				diffs++
				t.Errorf("%s with %s %q: pip's names: pipguard %v, pip %v", c.dir, c.file, c.metadata, pipGot, ref[i].Pip)
			}
		}
	}
	t.Logf("%d cases, %d differences", len(cases), diffs)
}

// headersOf is the headers importlib.metadata reads for a metadata path.
func headersOf(dir string) []Header {
	_, text, _ := readMetadataText(dir)
	return ParseHeaders(text)
}

func hasName(d Dist) bool    { _, ok := HeaderValue(headersOf(d.Dir), "Name"); return ok }
func hasVersion(d Dist) bool { _, ok := HeaderValue(headersOf(d.Dir), "Version"); return ok }

// pipName is pip's canonical name of a distribution pipguard read
// (Distribution.canonical_name: `self._get_dist_name_from_location() or
// get_dist_name(self._dist)`, the former only for an exact suffix).
func pipName(d Dist) string {
	base := filepath.Base(d.Dir)
	if ext := filepath.Ext(base); (ext == ".dist-info" || ext == ".egg-info") && d.DirProject() != "" {
		return canonical(d.DirProject())
	}
	return canonical(d.Name)
}

// canonical is packaging's canonicalize_name.
func canonical(s string) string { return Normalize(s) }

func str(p *string) string {
	if p == nil {
		return "<None>"
	}
	return fmt.Sprintf("%q", *p)
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	mustMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
