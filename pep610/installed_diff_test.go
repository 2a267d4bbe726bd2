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

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// installedRef lists a directory's distributions with importlib.metadata
// (distributions(path=[dir]): directory, Name, Version) and pip's own
// environment (get_environment([dir]).iter_all_distributions(): its
// canonical name, from the directory's name when the suffix is exactly
// .dist-info or .egg-info, else METADATA's).
const installedRef = `import json, os, sys
import importlib.metadata as md
import pip
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
json.dump({"pip": pip.__version__, "sites": out}, sys.stdout)
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
// importlib.metadata and pip's own environment, for every pip of
// pkgtest.Readers (23.2.1, 24.2, Debian's 23.0.1, 26; a sub-test each), and
// compared field by field with Listed and LoadMetadata: the directory,
// Name and Version (importlib.metadata's), and pip's name (DirProject when
// the suffix is exact, METADATA's Name otherwise); a distribution whose
// METADATA has no Name is skipped by pip and has MetadataErr here.
func TestInstalledMatchesImportlib(t *testing.T) {
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
	for _, py := range pkgtest.Readers() {
		t.Run(py.Name, func(t *testing.T) {
			if py.Missing != "" {
				t.Skip(py.Missing)
			}
			compareInstalled(t, py, cases, sites)
		})
	}
}

func compareInstalled(t *testing.T, py pkgtest.Reader, cases []metadataCase, sites []string) {
	cmd := exec.Command(py.Python, append([]string{"-I", "-c", py.Prelude() + installedRef}, sites...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", py.Python, err, stderr.String())
	}
	type refDist struct {
		Dir     string  `json:"dir"`
		Name    *string `json:"name"`
		Version *string `json:"version"`
	}
	var res struct {
		Pip   string `json:"pip"`
		Sites []struct {
			Dists []refDist         `json:"dists"`
			Pip   map[string]string `json:"pip"`
		} `json:"sites"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	ref := res.Sites
	diffs, strict := 0, 0
	for i, c := range cases {
		var got []refDist
		pipGot := map[string]string{}
		// flagged are the distributions audit reports whatever pip says:
		// MetadataErr (metadata-invalid), a METADATA Name that is not the
		// directory's (metadata-name-mismatch), an .egg-info.
		flagged := map[string]bool{}
		ds, err := Listed(sites[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			d.LoadMetadata()
			rd := refDist{Dir: filepath.Base(d.Dir)}
			if d.MetadataErr != nil || d.NameMismatch() {
				flagged[rd.Dir] = true
			}
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
			// audit reports every .egg-info (legacy-install).
			flagged[rd.Dir] = true
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
			// The strict refusal: pip 23 names a distribution by its
			// directory when the suffix is exact and lists it only when
			// METADATA has a Name; pip 24 and later take the directory's
			// name only from NAME-VERSION.dist-info (or *.egg-info), else
			// METADATA's Name, and list it without a METADATA Name
			// (parse_name_and_version_from_info_directory). Where they
			// differ, the METADATA has no Name or names another project:
			// pipguard reports it (audit's metadata-invalid or
			// name-mismatch) and is compared with pip 23 only.
			for dir := range flagged {
				if p, ok := ref[i].Pip[dir]; !ok && pipGot[dir] != "" || ok && p != pipGot[dir] {
					delete(ref[i].Pip, dir)
					delete(pipGot, dir)
					strict++
				}
			}
			if fmt.Sprint(pipGot) != fmt.Sprint(ref[i].Pip) {
				diffs++
				t.Errorf("%s with %s %q: pip's names: pipguard %v, pip %v", c.dir, c.file, c.metadata, pipGot, ref[i].Pip)
			}
		}
	}
	t.Logf("pip %s: %d cases, %d differences, %d strict refusals (pip 24 and later name it otherwise than pip 23: no Name in its METADATA or another than its directory's; audit reports it)", res.Pip, len(cases), diffs, strict)
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
