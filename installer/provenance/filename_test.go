package provenance

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

var versions = []string{
	"1", "1.0", "1.0.0", "01.00", "v1.0", "1.0a1", "1.0alpha1", "1.0.0A1", "1.0-a.1", "1.0b2", "1.0beta2", "1.0c1", "1.0rc1",
	"1.0pre1", "1.0preview1", "1.0-1", "1.0post1", "1.0.post1", "1.0-r1", "1.0rev1", "1.0.post", "1.0dev", "1.0.dev0",
	"1.0.dev1", "1!1.0", "0!1.0", "1.0+local.1", "1.0+local.01", "1.0+LOCAL-1", "1.0+abc_1", "1.0a", "1.0a0", " 1.0 ",
	"1.0.0.0.0", "2.32.0", "0.0.4a2", "0.0.4.0alpha2", "1.0_", "1..0", "a1", "", "1.0+", "1.0-dev", "1.0-post-1",
}

var filenames = []string{
	"pypi_attestations-0.0.19.tar.gz", "pypi-attestations-0.0.19.tar.gz", "PyPI.Attestations-0.0.19.0.tar.gz",
	"pypi_attestations-0.0.19.zip", "pep740_sampleproject-1.0.0.tar.gz", "pep740-sampleproject-1.0.tar.gz",
	"spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
	"spt3g-1.0-cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
	"spt3g-1.0-cp310-cp310-manylinux2014_x86_64.whl", "spt3g-1.0-1-cp310-cp310-manylinux2014_x86_64.whl",
	"spt3g-1.0-01-cp310-cp310-manylinux2014_x86_64.whl", "spt3g-1.0-1a-cp310-cp310-manylinux2014_x86_64.whl",
	"spt3g-1.0-CP310-cp310-MANYLINUX2014_X86_64.whl", "a-1.0-py2.py3-none-any.whl", "a-1.0-py3.py2-none-any.whl",
	"a-1.0-py3.py3-none-any.whl", "a-1.0-py3-none-any.whl", "A-1.0-py3-none-any.whl", "a__b-1.0-py3-none-any.whl",
	"a-b-1.0-py3-none-any.whl", "a-1.0-x-py3-none-any.whl", "a-1.0.whl", "a-1.0-py3-none.whl", "a-1.0", "a.tar.gz",
	"-1.0.tar.gz", "a-.tar.gz", "a-b-c-1.0.tar.gz", "rfc8785-0.1.2-py3-none-any.whl",
}

// The reference is packaging, as pip vendors it: parse_wheel_filename,
// parse_sdist_filename and Version equality.
func TestAgainstPackaging(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	script := `
import json, sys
from pip._vendor.packaging.utils import parse_wheel_filename, parse_sdist_filename
from pip._vendor.packaging.version import Version
data = json.load(sys.stdin)
def ver(v):
    try: return str(Version(v))
    except Exception: return None
def dist(f):
    try:
        if f.endswith(".whl"):
            n, v, b, tags = parse_wheel_filename(f)
            return [n, str(v), list(b) if b else [], sorted(str(t) for t in tags)]
        n, v = parse_sdist_filename(f)
        return [n, str(v), f.endswith(".zip")]
    except Exception:
        return None
print(json.dumps({"versions": [ver(v) for v in data["versions"]], "files": [dist(f) for f in data["files"]]}))
`
	in, _ := json.Marshal(map[string]any{"versions": versions, "files": filenames})
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("pip's packaging: %v", err)
	}
	var ref struct {
		Versions []*string
		Files    []json.RawMessage
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	for i, v := range versions {
		for j, w := range versions {
			a, errA := CanonicalVersion(v)
			b, errB := CanonicalVersion(w)
			if (errA == nil) != (ref.Versions[i] != nil) {
				t.Errorf("%q: valid %v, packaging says %v", v, errA == nil, ref.Versions[i] != nil)
			}
			if errA != nil || errB != nil || ref.Versions[i] == nil || ref.Versions[j] == nil {
				continue
			}
			refEq := canonicalRef(*ref.Versions[i]) == canonicalRef(*ref.Versions[j])
			if (a == b) != refEq {
				t.Errorf("%q == %q: %v (%q, %q), packaging says %v", v, w, a == b, a, b, refEq)
			}
		}
	}
	for i, f := range filenames {
		for j, g := range filenames {
			a, errA := ParseDist(f)
			b, errB := ParseDist(g)
			valid := string(ref.Files[i]) != "null"
			// Stricter than packaging on purpose: an empty project name.
			stricter := f == "-1.0.tar.gz"
			if i == j && (errA == nil) != valid && !(stricter && errA != nil) {
				t.Errorf("%q: valid %v (%v), packaging says %v", f, errA == nil, errA, valid)
			}
			if errA != nil || errB != nil || !valid || string(ref.Files[j]) == "null" {
				continue
			}
			// packaging ignores an sdist's format; the last element of
			// the reference carries it, so equal references mean equal
			// names of the same format.
			refEq := refDist(ref.Files[i]) == refDist(ref.Files[j])
			if a.Equal(b) != refEq {
				t.Errorf("%q == %q: %v, packaging says %v (%s vs %s)", f, g, a.Equal(b), refEq, ref.Files[i], ref.Files[j])
			}
		}
	}
}

// refDist is packaging's parsed name with its version canonical.
func refDist(raw json.RawMessage) string {
	var parts []any
	json.Unmarshal(raw, &parts)
	parts[1] = canonicalRef(parts[1].(string))
	b, _ := json.Marshal(parts)
	return string(b)
}

// canonicalRef drops trailing zero release segments of packaging's
// normal form, since Version("1.0") == Version("1").
func canonicalRef(v string) string {
	c, err := CanonicalVersion(v)
	if err != nil {
		return v
	}
	return c
}
