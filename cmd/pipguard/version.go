package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print pipguard's version",
		Action: func(cCtx *cli.Context) error {
			v := pipguardVersion()
			if cCtx.String("format") == "json" {
				return json.NewEncoder(e.stdout).Encode(map[string]string{
					"schema": "pipguard.version/v1", "version": v, "go": runtime.Version(),
				})
			}
			fmt.Fprintf(e.stdout, "pipguard %s (%s)\n", v, runtime.Version())
			return nil
		},
	}
}

// pipguardVersion is the stamped version, else the module's, else
// "(devel)".
func pipguardVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
