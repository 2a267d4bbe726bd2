// Command pipguard installs Python packages from git only after proving they
// are the release their maintainers built. See the README for usage.
//
// This package is the CLI only: it parses flags, calls package installer,
// renders results and maps errors to exit codes (exit.go). Everything else
// lives in the library, which never prints.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(mainContext(), os.Args, os.Stdout, os.Stderr, os.Getenv))
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return fmt.Sprintf("received %s", signalName(e.sig)) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// mainContext is cancelled by SIGINT (Ctrl-C) or SIGTERM (docker stop, a CI
// job's cancellation), with the signal as its cause. The library stops what
// it runs and rolls back; the exit code is 128 + the signal's number. A
// second signal while that happens is ignored: the rollback has its own
// deadline.
func mainContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		sig, _ := s.(syscall.Signal)
		cancel(&signalError{sig: sig})
	}()
	return ctx
}
