// Command pipguard installs Python packages from git only after proving they
// are the release their maintainers built. See the README for usage.
//
// This package is the CLI only: it parses flags, calls package installer,
// renders results and maps errors to exit codes (exit.go). Everything else
// lives in the library, which never prints.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	os.Exit(run(mainContext(), os.Args, os.Stdout, os.Stderr, os.Getenv))
}

func mainContext() context.Context {
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt)
	return ctx
}
