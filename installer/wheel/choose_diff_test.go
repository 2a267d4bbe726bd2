package wheel

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
)

// chooseScript runs pip's own CandidateEvaluator (the code that picks
// the file pip installs among a project's files) on each case: the
// candidates are the file names whose name and version pip's
// LinkEvaluator takes (== the version asked for), the interpreter's tags
// are the case's, and the answer is the file pip would install (wheels
// only, as with --only-binary :all:), or null.
const chooseScript = `
import json, sys
from pip._internal.index.package_finder import CandidateEvaluator
from pip._internal.models.candidate import InstallationCandidate
from pip._internal.models.link import Link
from pip._internal.models.target_python import TargetPython
from pip._internal.models.wheel import Wheel
from pip._internal.exceptions import InvalidWheelFilename
from pip._vendor.packaging.specifiers import SpecifierSet
from pip._vendor.packaging.tags import Tag
from pip._vendor.packaging.utils import canonicalize_name
from pip._vendor.packaging.version import Version, InvalidVersion
out = []
for case in json.load(sys.stdin):
    tags = [Tag(*t.split("-")) for t in case["tags"]]
    class TP(TargetPython):
        # pip 23 asks get_tags, pip 24 and later get_sorted_tags.
        def get_tags(self, tags=tags): return list(tags)
        def get_sorted_tags(self, tags=tags): return list(tags)
        def get_unsorted_tags(self, tags=tags): return set(tags)
    tp = TP()
    ev = CandidateEvaluator.create(case["project"], target_python=tp, specifier=SpecifierSet("==" + case["version"]))
    cands = []
    for f in case["files"]:
        if not f.endswith(".whl"):
            continue
        try:
            w = Wheel(f)
        except InvalidWheelFilename:
            continue
        if canonicalize_name(w.name) != canonicalize_name(case["project"]):
            continue
        if not w.supported(tags):
            continue
        try:
            Version(w.version)
        except InvalidVersion:
            continue
        cands.append(InstallationCandidate(w.name, w.version, Link("https://h/" + f)))
    best = ev.compute_best_candidate(cands).best_candidate
    out.append(best.link.filename if best else None)
print(json.dumps(out))
`

// chooseCases are release asset lists pipguard's Choose and pip's
// evaluator both pick from: tags in other case, build tags, local
// labels, other versions and projects, files that are not wheels.
func chooseCases(seed uint64, n int) []map[string]any {
	r := rand.New(rand.NewPCG(seed, 7))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	supported := [][]string{cpython311, {"py3-none-any", "py2.py3-none-any"}}
	var out []map[string]any
	for range n {
		version := pick("1.0", "1.0.0", "2.1rc1", "0.9")
		var files []string
		for range 1 + r.IntN(6) {
			v := pick(version, version, version+".0", "v"+version, version+"+cu118", version+"+local.1", "1.1", "2.1RC1")
			build := pick("", "", "", "-1", "-2", "-10", "-1a", "-2b")
			tag := pick("py3-none-any", "PY3-None-Any", "cp311-cp311-manylinux_2_17_x86_64", "CP311-CP311-MANYLINUX_2_17_X86_64", "cp39-cp39-win_amd64", "py2.py3-none-any", "cp311-abi3-manylinux_2_17_x86_64")
			name := pick("demo", "demo", "Demo", "other")
			files = append(files, name+"-"+v+build+"-"+tag+".whl")
		}
		files = append(files, "demo-"+version+".tar.gz", "SHA256SUMS")
		out = append(out, map[string]any{"project": "demo", "version": version, "tags": supported[r.IntN(len(supported))], "files": files})
	}
	return out
}

// TestChooseAgainstPip: the wheel pipguard picks from a release's assets
// is the one pip's own evaluator picks from the same files for the same
// tags (the tag's preference, then the highest build tag; tags compared
// case-insensitively; a local label matched by ==).
func TestChooseAgainstPip(t *testing.T) {
	n := 400
	if os.Getenv("PIPGUARD_PARITY_SCALE") != "" {
		n = 4000
	}
	cases := chooseCases(427, n)
	data, _ := json.Marshal(cases)
	ran := 0
	for _, p := range pkgtest.Readers() {
		t.Run(p.Name, func(t *testing.T) {
			if p.Python == "" {
				t.Skip(p.Missing)
			}
			cmd := exec.Command(p.Python, "-I", "-c", chooseScript)
			if p.Wheel != "" {
				cmd = exec.Command(p.Python, "-c", chooseScript)
				cmd.Env = append(os.Environ(), "PYTHONPATH="+p.Wheel)
			}
			cmd.Stdin = strings.NewReader(string(data))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			raw, err := cmd.Output()
			if err != nil {
				t.Fatalf("pip's evaluator: %v\n%s", err, stderr.String())
			}
			var ref []*string
			if err := json.Unmarshal(raw, &ref); err != nil || len(ref) != len(cases) {
				t.Fatalf("%v (%d answers for %d cases)", err, len(ref), len(cases))
			}
			picked := 0
			for i, c := range cases {
				files := c["files"].([]string)
				got, err := Choose(files, "demo", c["version"].(string), c["tags"].([]string), false)
				g := ""
				if err == nil {
					g = got.Asset
				}
				w := ""
				if ref[i] != nil {
					w = *ref[i]
					picked++
				}
				if g != w {
					t.Errorf("case %d (version %s, tags %v):\n  files %v\n  pipguard %q, pip %q", i, c["version"], c["tags"], files, g, w)
				}
			}
			ran++
			t.Log(fmt.Sprintf("%d cases, pip picked a wheel in %d, 0 differences", len(cases), picked))
		})
	}
	if ran == 0 {
		t.Fatal("no pip to compare with")
	}
}
