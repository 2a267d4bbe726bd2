package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"

	purl "github.com/package-url/packageurl-go"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
)

const noAssertion = "NOASSERTION"

// newSBOM describes the binary named name, with SHA-256 digest, as an SPDX
// 2.3 document (https://spdx.github.io/spdx-spec/v2.3/): the binary, built
// from the main module at src.Commit, DEPENDS_ON the Go standard library
// and each module bi says was linked into it. Every value comes from bi,
// the digest and src, so the same binary always gets the same document.
func newSBOM(bi *debug.BuildInfo, name string, digest [32]byte, src source) (*spdx.Document, error) {
	if bi.Main.Path == "" {
		return nil, fmt.Errorf("%s has no main module in its build information", name)
	}
	ids := map[common.ElementID]bool{}
	id := func(kind, s string) common.ElementID {
		base := common.ElementID("Package-" + kind + "-" + spdxIDChars.ReplaceAllString(s, "-"))
		e := base
		for n := 2; ids[e]; n++ {
			e = common.ElementID(fmt.Sprintf("%s-%d", base, n))
		}
		ids[e] = true
		return e
	}

	sum := hex.EncodeToString(digest[:])
	main := &spdx.Package{
		PackageName:               bi.Main.Path,
		PackageSPDXIdentifier:     id("binary", name),
		PackageVersion:            src.Version,
		PackageFileName:           name,
		PackageDownloadLocation:   downloadLocation(bi.Main.Path, src.Commit),
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageChecksums:          []common.Checksum{{Algorithm: common.SHA256, Value: sum}},
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PackageSourceInfo:         fmt.Sprintf("built from commit %s of %s with %s", src.Commit, bi.Main.Path, bi.GoVersion),
		PackageComment:            "go build settings: " + settings(bi),
		PackageExternalReferences: []*spdx.PackageExternalReference{purlRef(bi.Main.Path, src.Version)},
		PrimaryPackagePurpose:     "APPLICATION",
	}
	pkgs := []*spdx.Package{main}

	// The standard library is linked in too; scanners know it as
	// pkg:golang/stdlib and cpe:2.3:a:golang:go.
	goVersion := strings.TrimPrefix(bi.GoVersion, "go")
	if i := strings.IndexByte(goVersion, ' '); i >= 0 {
		goVersion = goVersion[:i] // "go1.26.8 X:nodwarf5": the experiments are in the comment
	}
	pkgs = append(pkgs, &spdx.Package{
		PackageName:               "stdlib",
		PackageSPDXIdentifier:     id("go", "stdlib"),
		PackageVersion:            goVersion,
		PackageDownloadLocation:   "https://go.dev/dl/",
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PackageComment:            "the Go standard library of " + bi.GoVersion,
		PackageExternalReferences: []*spdx.PackageExternalReference{
			purlRef("stdlib", goVersion),
			{Category: common.CategorySecurity, RefType: common.TypeSecurityCPE23Type, Locator: "cpe:2.3:a:golang:go:" + goVersion + ":*:*:*:*:*:*:*"},
		},
		PrimaryPackagePurpose: "LIBRARY",
	})

	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Path == "" || m.Version == "" {
			// A replacement by a local directory has no version and no
			// hash: nothing a consumer could check.
			return nil, fmt.Errorf("module %v in %s has no version (replaced by a directory?); a release links only published modules", m, name)
		}
		p := &spdx.Package{
			PackageName:               m.Path,
			PackageSPDXIdentifier:     id("go", m.Path+"-"+m.Version),
			PackageVersion:            m.Version,
			PackageDownloadLocation:   noAssertion,
			FilesAnalyzed:             false,
			IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded:   noAssertion,
			PackageLicenseDeclared:    noAssertion,
			PackageCopyrightText:      noAssertion,
			PackageExternalReferences: []*spdx.PackageExternalReference{purlRef(m.Path, m.Version)},
			PrimaryPackagePurpose:     "LIBRARY",
		}
		if c, ok := h1Checksum(m.Sum); ok {
			// The go.sum hash is SHA-256, over the module's file tree
			// (golang.org/x/mod/sumdb/dirhash Hash1), not over one archive;
			// the comment keeps it as go.sum writes it.
			p.PackageChecksums = []common.Checksum{c}
			p.PackageComment = "SHA256 is the module's go.sum hash " + m.Sum
		}
		pkgs = append(pkgs, p)
	}

	rels := []*spdx.Relationship{{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", string(main.PackageSPDXIdentifier)),
		Relationship: common.TypeRelationshipDescribe,
	}}
	for _, p := range pkgs[1:] {
		rels = append(rels, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", string(main.PackageSPDXIdentifier)),
			RefB:         common.MakeDocElementID("", string(p.PackageSPDXIdentifier)),
			Relationship: common.TypeRelationshipDependsOn,
		})
	}

	return &spdx.Document{
		SPDXVersion:    spdx.Version,
		DataLicense:    spdx.DataLicense,
		SPDXIdentifier: "DOCUMENT",
		DocumentName:   name,
		// Unique per document, as SPDX asks, and the same for the same
		// binary: the binary's digest names it.
		DocumentNamespace: "https://spdx.org/spdxdocs/" + name + "-sha256-" + sum,
		CreationInfo: &spdx.CreationInfo{
			Creators: creators(),
			// The commit's time (SOURCE_DATE_EPOCH), never the clock's.
			Created:        src.Time.UTC().Format("2006-01-02T15:04:05Z"),
			CreatorComment: "The modules linked into " + name + ", read from its Go build information.",
		},
		Packages:      pkgs,
		Relationships: rels,
	}, nil
}

// spdxIDChars are the characters an SPDX identifier cannot hold
// ("SPDXRef-" [a-zA-Z0-9.-]+).
var spdxIDChars = regexp.MustCompile(`[^a-zA-Z0-9.-]+`)

// purlRef is a module's package URL, pkg:golang/MODULE_PATH@VERSION, as
// govulncheck and syft write them.
func purlRef(path, version string) *spdx.PackageExternalReference {
	ns, name := "", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	u := purl.NewPackageURL(purl.TypeGolang, ns, name, version, nil, "")
	return &spdx.PackageExternalReference{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: u.ToString()}
}

// h1Checksum turns a go.sum hash ("h1:" + base64 of a SHA-256) into an
// SPDX checksum (lowercase hex).
func h1Checksum(sum string) (common.Checksum, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return common.Checksum{}, false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != 32 {
		return common.Checksum{}, false
	}
	return common.Checksum{Algorithm: common.SHA256, Value: hex.EncodeToString(b)}, true
}

// downloadLocation is where the binary's source is, in SPDX's VCS form
// (git+https://HOST/PATH@COMMIT), for a module hosted on GitHub.
func downloadLocation(module, commit string) string {
	if !strings.HasPrefix(module, "github.com/") || commit == "" {
		return noAssertion
	}
	return "git+https://" + module + "@" + commit
}

// settings are the go build settings recorded in the binary, space
// separated: -trimpath=true CGO_ENABLED=0 GOARCH=amd64 ...
func settings(bi *debug.BuildInfo) string {
	var s []string
	for _, kv := range bi.Settings {
		s = append(s, kv.Key+"="+kv.Value)
	}
	return strings.Join(s, " ")
}

// creators name this tool and the SPDX library that wrote the document, by
// their versions in this program's build information.
func creators() []common.Creator {
	tool := "pipguard-release"
	lib := "spdx-tools-golang"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/spdx/tools-golang" {
				lib += "-" + d.Version
			}
		}
	}
	return []common.Creator{{CreatorType: "Tool", Creator: tool}, {CreatorType: "Tool", Creator: lib}}
}
