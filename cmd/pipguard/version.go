package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version and commit are stamped by the release build
// (internal/tools/release, make release):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<40 hex>"
//
// Unstamped, they come from the Go build information: the module's version
// (go install ...@v1.2.3) and the vcs.revision go build records in a
// checkout.
var (
	version = ""
	commit  = ""
)

// versionInfo is what pipguard version prints.
type versionInfo struct {
	Schema   string `json:"schema"`
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// String is the one line pipguard version and pipguard --version print:
// pipguard v1.2.3 (commit 6f1c…, go1.26.8, linux/amd64).
func (v versionInfo) String() string {
	c := v.Commit
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("pipguard %s (commit %s, %s, %s)", v.Version, c, v.Go, v.Platform)
}

func init() {
	// pipguard --version prints the same line as pipguard version. No -v
	// alias: -v is --verbose.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	cli.VersionPrinter = func(cCtx *cli.Context) {
		fmt.Fprintln(cCtx.App.Writer, currentVersion())
	}
}

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print pipguard's version, commit and Go version",
		Action: func(cCtx *cli.Context) error {
			v := currentVersion()
			if cCtx.String("format") == "json" {
				return e.writeJSON(v)
			}
			_, err := fmt.Fprintln(e.stdout, v)
			return err
		},
	}
}

// pipguardVersion is the version alone, for receipts and SARIF.
func pipguardVersion() string { return currentVersion().Version }

func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, commit, bi)
}

// versionOf is the stamped version and commit, else what the build
// information says, else "(devel)" and no commit.
func versionOf(stampedVersion, stampedCommit string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Schema: "pipguard.version/v1", Version: stampedVersion, Commit: stampedCommit,
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}
