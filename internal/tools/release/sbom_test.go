package main

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// TestSBOM pins what the SBOM says of a module: identifiers SPDX accepts and
// that never collide, the go.sum hash as a SHA256 checksum, package URLs as
// govulncheck writes them, replacements by what replaced them; and it
// refuses a module replaced by a local directory, which no one else could
// check.
func TestSBOM(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8 X:nodwarf5",
		Path:      "github.com/pipguard/pipguard/cmd/pipguard",
		Main:      debug.Module{Path: "github.com/pipguard/pipguard", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/Microsoft/go-winio", Version: "v0.6.2", Sum: "h1:F2VQgta7ecxGYO8k3ZZz3RS8fVIXVxONVUPlNERoyfY="},
			{Path: "github.com/a/b_c", Version: "v1.0.0+incompatible", Sum: "h1:F2VQgta7ecxGYO8k3ZZz3RS8fVIXVxONVUPlNERoyfY="},
			{Path: "github.com/a/b-c", Version: "v1.0.0+incompatible"},
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1", Sum: "h1:F2VQgta7ecxGYO8k3ZZz3RS8fVIXVxONVUPlNERoyfY="}},
		},
		Settings: []debug.BuildSetting{{Key: "-trimpath", Value: "true"}, {Key: "CGO_ENABLED", Value: "0"}},
	}
	src := source{Version: "v1.2.3", Commit: "6f1c2d3e4a5b6f1c2d3e4a5b6f1c2d3e4a5b6f1c", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))}
	doc, err := newSBOM(bi, "pipguard_linux_amd64", [32]byte{1}, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Error(err)
	}
	if doc.CreationInfo.Created != "2026-01-02T02:04:05Z" {
		t.Errorf("created %q, want the time in UTC", doc.CreationInfo.Created)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://spdx.org/spdxdocs/pipguard_linux_amd64-sha256-0100") {
		t.Errorf("namespace %q", doc.DocumentNamespace)
	}
	idChars := regexp.MustCompile(`^[a-zA-Z0-9.-]+$`)
	seen := map[string]bool{}
	for _, p := range doc.Packages {
		id := string(p.PackageSPDXIdentifier)
		if !idChars.MatchString(id) || seen[id] {
			t.Errorf("package %s: SPDX identifier %q is invalid or used twice", p.PackageName, id)
		}
		seen[id] = true
	}
	type want struct{ name, version, purl, sha256 string }
	for i, w := range []want{
		{"github.com/pipguard/pipguard", "v1.2.3", "pkg:golang/github.com/pipguard/pipguard@v1.2.3", "01000000"},
		{"stdlib", "1.26.8", "pkg:golang/stdlib@1.26.8", ""},
		{"github.com/Microsoft/go-winio", "v0.6.2", "pkg:golang/github.com/Microsoft/go-winio@v0.6.2", "17655082d6bb79cc4660ef24dd9673dd14bc7d521757138d5543e5344468c9f6"},
		{"github.com/a/b_c", "v1.0.0+incompatible", "pkg:golang/github.com/a/b_c@v1.0.0%2Bincompatible", "17655082"},
		{"github.com/a/b-c", "v1.0.0+incompatible", "pkg:golang/github.com/a/b-c@v1.0.0%2Bincompatible", ""},
		{"example.com/fork", "v1.0.1", "pkg:golang/example.com/fork@v1.0.1", "17655082"},
	} {
		p := doc.Packages[i]
		var sum string
		if len(p.PackageChecksums) > 0 {
			sum = string(p.PackageChecksums[0].Algorithm) + ":" + p.PackageChecksums[0].Value
		}
		if p.PackageName != w.name || p.PackageVersion != w.version || p.PackageExternalReferences[0].Locator != w.purl ||
			(w.sha256 == "") != (sum == "") || (sum != "" && !strings.HasPrefix(sum, "SHA256:"+w.sha256)) {
			t.Errorf("package %d = %s %s %s %s; want %+v", i, p.PackageName, p.PackageVersion, p.PackageExternalReferences[0].Locator, sum, w)
		}
	}
	if len(doc.Packages) != 6 || len(doc.Relationships) != 6 {
		t.Errorf("%d packages, %d relationships; want 6 and 6 (DESCRIBES, then DEPENDS_ON each)", len(doc.Packages), len(doc.Relationships))
	}

	var a, b bytes.Buffer
	doc2, _ := newSBOM(bi, "pipguard_linux_amd64", [32]byte{1}, src)
	if err := spdxjson.Write(doc, &a); err != nil {
		t.Fatal(err)
	}
	spdxjson.Write(doc2, &b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same binary got two different SBOMs")
	}

	bi.Deps = append(bi.Deps, &debug.Module{Path: "example.com/local", Version: "v1.0.0", Replace: &debug.Module{Path: "../local"}})
	if _, err := newSBOM(bi, "pipguard_linux_amd64", [32]byte{1}, src); err == nil || !strings.Contains(err.Error(), "has no version") {
		t.Errorf("a module replaced by a directory: err = %v", err)
	}
}
