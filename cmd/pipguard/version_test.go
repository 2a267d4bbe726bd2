package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersionOf pins where pipguard version's version and commit come from:
// the release's -ldflags -X stamps first, then the Go build information.
func TestVersionOf(t *testing.T) {
	const sha = "6f1c2d3e4a5b6f1c2d3e4a5b6f1c2d3e4a5b6f1c"
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/pipguard/pipguard", Version: "v1.2.3"}}
	checkout := &debug.BuildInfo{Main: debug.Module{Path: "github.com/pipguard/pipguard", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: sha}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		name                   string
		version, commit        string
		bi                     *debug.BuildInfo
		wantVersion, wantCommt string
	}{
		{"stamped", "v2.0.0", sha, checkout, "v2.0.0", sha},
		{"stamped wins over the module version", "v2.0.0", "", installed, "v2.0.0", ""},
		{"go install ...@v1.2.3", "", "", installed, "v1.2.3", ""},
		{"go build in a checkout", "", "", checkout, "(devel)", sha},
		{"no build information", "", "", nil, "(devel)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := versionOf(tc.version, tc.commit, tc.bi)
			if v.Version != tc.wantVersion || v.Commit != tc.wantCommt {
				t.Errorf("versionOf = %q, %q; want %q, %q", v.Version, v.Commit, tc.wantVersion, tc.wantCommt)
			}
			if v.Schema != "pipguard.version/v1" || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Errorf("versionOf = %+v", v)
			}
		})
	}
	want := "pipguard v2.0.0 (commit " + sha + ", " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if got := versionOf("v2.0.0", sha, nil).String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := versionOf("v2.0.0", "", nil).String(); got != "pipguard v2.0.0 (commit unknown, "+runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH+")" {
		t.Errorf("String() without a commit = %q", got)
	}
}
