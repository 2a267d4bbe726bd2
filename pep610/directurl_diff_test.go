package pep610

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// pipDirectURL is Python that reads each case as pip does (its own
// DirectUrl.from_json on the file's bytes, decoded as pip decodes them) and
// says whether pip accepts it and what it reads.
const pipDirectURL = `
import json, sys
from pip._internal.models.direct_url import DirectUrl, ArchiveInfo, VcsInfo, DirInfo
out = []
for case in json.load(sys.stdin):
    data = bytes.fromhex(case)
    try:
        d = DirectUrl.from_json(data.decode("utf-8"))
        r = {"ok": True, "url": d.url, "subdirectory": d.subdirectory or ""}
        i = d.info
        if isinstance(i, VcsInfo):
            r.update(kind="vcs", vcs=i.vcs, commit=i.commit_id, rev=i.requested_revision or "")
        elif isinstance(i, ArchiveInfo):
            hashes = dict(getattr(i, "hashes", None) or {})
            r.update(kind="archive", hash=i.hash or "", hashes={k: str(v) for k, v in hashes.items()})
        else:
            r.update(kind="dir", editable=bool(i.editable))
    except Exception as e:
        r = {"ok": False, "why": type(e).__name__ + ": " + str(e)}
    out.append(r)
json.dump(out, sys.stdout)
`

// directURLStrict are the inputs pip accepts and pipguard refuses on
// purpose, each with its reason (the README's audit section says so too).
func directURLStrict(doc string, pipWhy map[string]any) string {
	switch {
	case strings.Contains(doc, "NaN") || strings.Contains(doc, "Infinity"):
		return "NaN and Infinity are not JSON (RFC 8259); Python's json reads them"
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
// their mutations. pipguard accepts what pip accepts with the same fields,
// refuses what pip refuses, and refuses more only for a documented reason.
func TestDirectURLReadsAsPip(t *testing.T) {
	corpus := directURLCorpus()
	enc := make([]string, len(corpus))
	for i, c := range corpus {
		enc[i] = fmt.Sprintf("%x", c)
	}
	in, _ := json.Marshal(enc)
	cmd := exec.Command("python3", "-c", pipDirectURL)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("pip's DirectUrl is not importable here: %v", err)
	}
	var pips []map[string]any
	if err := json.Unmarshal(out, &pips); err != nil {
		t.Fatal(err)
	}
	agree, strict := 0, 0
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
			t.Errorf("%q: pipguard refuses (%v), pip reads it %v", doc, gerr, p)
		case gerr == nil && !pipOK:
			t.Errorf("%q: pipguard reads it, pip refuses it (%v)", doc, p["why"])
		default:
			want := map[string]string{"url": got.URL, "subdirectory": got.Subdirectory, "kind": got.Kind()}
			for k, v := range want {
				if fmt.Sprint(p[k]) != v {
					t.Errorf("%q: %s pip %v, pipguard %q", doc, k, p[k], v)
				}
			}
			switch got.Kind() {
			case "vcs":
				if p["commit"] != got.VCSInfo.CommitID || p["vcs"] != got.VCSInfo.VCS || p["rev"] != got.VCSInfo.RequestedRevision {
					t.Errorf("%q: vcs_info pip %v, pipguard %+v", doc, p, got.VCSInfo)
				}
			case "archive":
				if p["hash"] != got.ArchiveInfo.Hash {
					t.Errorf("%q: hash pip %v, pipguard %q", doc, p["hash"], got.ArchiveInfo.Hash)
				}
			case "dir":
				if p["editable"] != got.DirInfo.Editable {
					t.Errorf("%q: editable pip %v, pipguard %v", doc, p["editable"], got.DirInfo.Editable)
				}
			}
			agree++
		}
	}
	t.Logf("%d cases: %d agree, %d strict refusals", len(corpus), agree, strict)
}
