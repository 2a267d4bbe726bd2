package pep610

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

// pipDirectURL is Python that reads each case as pip does (its own
// DirectUrl.from_json on the file's bytes, decoded as pip decodes them) and
// says whether pip accepts it and what it reads.
const pipDirectURL = `
import json, sys
from pip._internal.models.direct_url import DirectUrl, ArchiveInfo, VcsInfo, DirInfo
import pip
out = []
for case in json.load(sys.stdin):
    data = bytes.fromhex(case)
    try:
        d = DirectUrl.from_json(data.decode("utf-8"))
        r = {"ok": True, "url": d.url, "subdirectory": d.subdirectory or ""}
        # pip 23 to 25: DirectUrl.info; pip 26: packaging's DirectUrl, one
        # of vcs_info, archive_info, dir_info (from_dict checks there is
        # exactly one).
        i = getattr(d, "info", None)
        if i is None:
            i = next(x for x in (d.vcs_info, d.archive_info, d.dir_info) if x is not None)
        if isinstance(i, VcsInfo):
            r.update(kind="vcs", vcs=i.vcs, commit=i.commit_id, rev=i.requested_revision or "")
        elif isinstance(i, ArchiveInfo):
            hashes = dict(getattr(i, "hashes", None) or {})
            r.update(kind="archive", hashes={k: str(v) for k, v in hashes.items()})
            # pip 26 keeps no legacy hash: it checks it against hashes, or
            # makes hashes of it (compared as hashes below).
            if hasattr(i, "hash"):
                r.update(hash=i.hash or "")
        else:
            r.update(kind="dir", editable=bool(i.editable))
    except Exception as e:
        r = {"ok": False, "why": type(e).__name__ + ": " + str(e)}
    out.append(r)
json.dump({"pip": pip.__version__, "cases": out}, sys.stdout)
`

// directURLStrict are the inputs pip accepts and pipguard refuses on
// purpose, each with its reason (the README's audit section says so too).
func directURLStrict(doc string, pipWhy map[string]any) string {
	switch {
	case hasNull(doc):
		return "a null value (pip 26 reads it as absent, pip 23 and 24 refuse it)"
	case pipWhy["kind"] == "dir" && !strings.HasPrefix(fmt.Sprint(pipWhy["url"]), "file://"):
		return "a dir_info whose url is not file:// (pip 26 refuses it, pip 23 and 24 read it)"
	case strings.Contains(doc, "NaN") || strings.Contains(doc, "Infinity"):
		return "NaN and Infinity are not JSON (RFC 8259); Python's json reads them"
	case legacyHashOutsideHashes(doc):
		return "a legacy hash whose algorithm hashes lacks or gives another value (pip 26 refuses it, pip 23 and 24 read it)"
	case strings.Contains(doc, `"hashes"`):
		return "a hashes entry that is not <algorithm>: <hex digest> (pip does not check them)"
	case strings.Contains(doc, `"commit_id"`):
		return "a git commit_id that is not a full lowercase hash (a ref, not a commit)"
	case strings.Count(doc, `":`) > 0 && duplicateKey(doc):
		return "a key repeated (two readers may keep different values)"
	case strings.Contains(doc, `"hash"`):
		return "a legacy hash that is not <algorithm>=<hex digest>"
	case strings.Contains(doc, `"url": ""`):
		return "an empty url"
	case strings.Contains(doc, `"vcs": ""`):
		return "an empty vcs"
	}
	return ""
}

// legacyHashOutsideHashes says whether doc's archive_info has both a
// legacy "hash" ALG=VALUE and "hashes", without ALG: VALUE.
func legacyHashOutsideHashes(doc string) bool {
	var d struct {
		ArchiveInfo struct {
			Hash   *string        `json:"hash"`
			Hashes map[string]any `json:"hashes"`
		} `json:"archive_info"`
	}
	if json.Unmarshal([]byte(doc), &d) != nil || d.ArchiveInfo.Hash == nil || d.ArchiveInfo.Hashes == nil {
		return false
	}
	alg, h, _ := strings.Cut(*d.ArchiveInfo.Hash, "=")
	return d.ArchiveInfo.Hashes[alg] != h
}

// hasNull says whether doc is JSON with a null anywhere in it.
func hasNull(doc string) bool {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case nil:
			return true
		case map[string]any:
			for _, x := range v {
				if walk(x) {
					return true
				}
			}
		case []any:
			for _, x := range v {
				if walk(x) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func duplicateKey(doc string) bool { return noDuplicateKeys([]byte(doc)) != nil }

// directURLCorpus is hand-written inputs for every class the issue names,
// and mutations of valid ones.
func directURLCorpus() []string {
	sha := strings.Repeat("a", 40)
	base := []string{
		`{"url": "https://x/y.whl", "archive_info": {"hashes": {"sha256": "` + strings.Repeat("ab", 32) + `"}}}`,
		`{"url": "https://x/y.whl", "archive_info": {"hash": "sha256=` + strings.Repeat("ab", 32) + `"}}`,
		`{"url": "https://x/y.whl", "archive_info": {}}`,
		`{"url": "https://github.com/a/b", "vcs_info": {"vcs": "git", "commit_id": "` + sha + `", "requested_revision": "v1"}}`,
		`{"url": "https://github.com/a/b", "vcs_info": {"vcs": "git", "commit_id": "` + sha + `"}, "subdirectory": "sub"}`,
		`{"url": "file:///src", "dir_info": {"editable": true}}`,
		`{"url": "file:///src", "dir_info": {}}`,
		`{"url": "file:///src", "dir_info": {"editable": null}}`,
		`{"url": "https://x/y.whl", "archive_info": {"hash": ""}}`,
		`{"url": "https://x/y.whl", "archive_info": {"hashes": {"sha256": 123}}}`,
		`{"url": "https://x/y.whl", "archive_info": {"hashes": {}}, "x": NaN}`,
		`{"url": "https://x/y.whl", "archive_info": {}, "dir_info": {}}`,
		`{"url": "https://x/y.whl"}`,
		`{"url": 1, "dir_info": {}}`,
		`{"url": null, "dir_info": {}}`,
		`{"dir_info": {}}`,
		`{"url": "file:///src", "dir_info": {"editable": "yes"}}`,
		`{"url": "file:///src", "dir_info": {"editable": 1}}`,
		`{"url": "https://x", "vcs_info": {"vcs": "git"}}`,
		`{"url": "https://x", "vcs_info": {"commit_id": "` + sha + `"}}`,
		`{"url": "https://x", "vcs_info": {"vcs": "hg", "commit_id": "abc"}}`,
		`{"url": "https://x", "vcs_info": null}`,
		`{"url": "https://x", "archive_info": null}`,
		`{"url": "https://x", "dir_info": null}`,
		`{"url": "https://x", "dir_info": []}`,
		`[]`,
		`null`,
		`"x"`,
		`{"url": "https://x", "dir_info": {}, "subdirectory": null}`,
		`{"url": "https://x", "dir_info": {}, "subdirectory": 3}`,
		`{"url": "https://x/\u00e9", "dir_info": {}}`,
		"{\"url\": \"https://x/\xff\", \"dir_info\": {}}",
		`{"url": "https://x", "dir_info": {}, "url": "https://y"}`,
		`{"url": "https://x", "archive_info": {"hash": "sha256=zz"}}`,
		`{"url": "https://x", "archive_info": {"hash": "sha256"}}`,
		`{"url": "https://x", "archive_info": {"hash": "sha256=ab", "hashes": {"sha256": "cd"}}}`,
		`{"url": "https://x", "archive_info": {"hashes": null}}`,
		`{"url": "https://x", "archive_info": {"hashes": []}}`,
		`{"url": "", "dir_info": {}}`,
		`{"url": "https://x", "vcs_info": {"vcs": "", "commit_id": "` + sha + `"}}`,
		`{"url": "https://x", "vcs_info": {"vcs": "git", "commit_id": "", "requested_revision": null}}`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"{", "}", "\"", ":", ",", "null", "true", "1", " ", "[", "]", "\\", "x", "NaN"}
	out := append([]string{}, base...)
	for i := 0; i < 600; i++ {
		s := []rune(base[r.IntN(len(base))])
		pos := r.IntN(len(s) + 1)
		switch r.IntN(3) {
		case 0:
			s = append(s[:pos], append([]rune(alphabet[r.IntN(len(alphabet))]), s[pos:]...)...)
		case 1:
			if pos < len(s) {
				s = append(s[:pos], s[pos+1:]...)
			}
		case 2:
			if pos < len(s) {
				s = append(s[:pos], append([]rune{s[pos]}, s[pos:]...)...)
			}
		}
		out = append(out, string(s))
	}
	return out
}

// direct_url.json is read as pip reads it: pip's own DirectUrl.from_json
// on the same bytes, field by field, for the hand-written classes (null
// editable, an empty hash, invalid UTF-8, NaN, non-string hashes, ...) and
// their mutations, for every pip of pkgtest.Readers (23.2.1, 24.2, Debian's
// 23.0.1, 26; a sub-test each). pipguard accepts what pip accepts with the same fields,
// refuses what pip refuses, and refuses more only for a documented reason.
func TestDirectURLReadsAsPip(t *testing.T) {
	corpus := directURLCorpus()
	enc := make([]string, len(corpus))
	for i, c := range corpus {
		enc[i] = fmt.Sprintf("%x", c)
	}
	in, _ := json.Marshal(enc)
	for _, py := range pkgtest.Readers() {
		t.Run(py.Name, func(t *testing.T) {
			if py.Missing != "" {
				t.Skip(py.Missing)
			}
			cmd := exec.Command(py.Python, "-c", pipDirectURL)
			cmd.Env = py.Env(os.Environ())
			cmd.Stdin = strings.NewReader(string(in))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: pip's DirectUrl: %v\n%s", py.Python, err, stderr.String())
			}
			var res struct {
				Pip   string           `json:"pip"`
				Cases []map[string]any `json:"cases"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			compareDirectURL(t, res.Pip, corpus, res.Cases)
		})
	}
}

func compareDirectURL(t *testing.T, version string, corpus []string, pips []map[string]any) {
	agree, strict, diffs := 0, 0, 0
	errorf := func(format string, args ...any) {
		diffs++
		t.Errorf(format, args...)
	}
	for i, doc := range corpus {
		got, gerr := Parse([]byte(doc))
		p := pips[i]
		pipOK, _ := p["ok"].(bool)
		switch {
		case gerr != nil && !pipOK:
			agree++
		case gerr != nil && pipOK:
			if why := directURLStrict(doc, p); why != "" {
				strict++
				continue
			}
			errorf("%q: pipguard refuses (%v), pip reads it %v", doc, gerr, p)
		case gerr == nil && !pipOK:
			errorf("%q: pipguard reads it, pip refuses it (%v)", doc, p["why"])
		default:
			want := map[string]string{"url": got.URL, "subdirectory": got.Subdirectory, "kind": got.Kind()}
			same := true
			for k, v := range want {
				if fmt.Sprint(p[k]) != v {
					same = false
					errorf("%q: %s pip %v, pipguard %q", doc, k, p[k], v)
				}
			}
			switch got.Kind() {
			case "vcs":
				if p["commit"] != got.VCSInfo.CommitID || p["vcs"] != got.VCSInfo.VCS || p["rev"] != got.VCSInfo.RequestedRevision {
					same = false
					errorf("%q: vcs_info pip %v, pipguard %+v", doc, p, got.VCSInfo)
				}
			case "archive":
				if h, ok := p["hash"]; ok && h != got.ArchiveInfo.Hash {
					same = false
					errorf("%q: hash pip %v, pipguard %q", doc, p["hash"], got.ArchiveInfo.Hash)
				}
				// What every pip records as the archive's hashes:
				// "hashes", else the one the legacy "hash" gives.
				want := got.ArchiveInfo.Hashes
				if want == nil {
					want = map[string]string{}
					if alg, h, ok := strings.Cut(got.ArchiveInfo.Hash, "="); ok {
						want[alg] = h
					}
				}
				if fmt.Sprint(p["hashes"]) != fmt.Sprint(want) {
					same = false
					errorf("%q: hashes pip %v, pipguard %v", doc, p["hashes"], want)
				}
			case "dir":
				if p["editable"] != got.DirInfo.Editable {
					same = false
					errorf("%q: editable pip %v, pipguard %v", doc, p["editable"], got.DirInfo.Editable)
				}
			}
			if same {
				agree++
			}
		}
	}
	t.Logf("pip %s: %d cases: %d agree, %d strict refusals, %d differences", version, len(corpus), agree, strict, diffs)
}
