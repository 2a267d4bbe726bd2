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
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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

// stopping is set once a second signal is ending the process: nothing
// else reports anything then.
var stopping atomic.Bool

// beforeExit, when set, is told the exit code of a process a second signal
// ends (tests record it).
var beforeExit func(code int)

// mainContext is cancelled by SIGINT (Ctrl-C) or SIGTERM (docker stop, a CI
// job's cancellation), with the signal as its cause. The library stops what
// it runs and rolls back, within its own deadline; the exit code is 128 +
// the signal's number. A second signal ends pipguard at once (see
// secondSignal): whatever hangs, pipguard never needs a SIGKILL.
func mainContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		sig, _ := s.(syscall.Signal)
		cancel(&signalError{sig: sig})
		s = <-ch
		sig, _ = s.(syscall.Signal)
		code := secondSignal(os.Stderr, sig, os.Args)
		if beforeExit != nil {
			beforeExit(code)
		}
		os.Exit(code)
	}()
	return ctx
}

// secondSignal says that pipguard stops without waiting for what the first
// signal began, ends the process groups of its children (pip runs in one
// of its own, which the terminal's Ctrl-C does not reach) and returns the
// exit code. An install's rollback left unfinished is finished by the next
// pipguard install in that environment, from the journal it keeps
// (pipguard audit reports it as unfinished-run).
func secondSignal(w io.Writer, sig syscall.Signal, args []string) int {
	stopping.Store(true)
	fmt.Fprintf(w, "pipguard: interrupted: received %s again: stopping now, without waiting for the %s to stop\n", signalName(sig), commandName(args))
	if commandName(args) == "install" {
		fmt.Fprintln(w, "pipguard: hint: if the environment was being rolled back, the next pipguard install into it finishes restoring it first; pipguard audit reports it as unfinished-run")
	}
	killChildGroups(os.Getpid())
	return 128 + int(sig)
}

// killChildGroups sends SIGKILL to the process group of each child of
// pid that leads a group of its own (Linux's /proc; elsewhere nothing).
func killChildGroups(pid int) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and
		// parentheses, so the fields start after its last ")".
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 3 {
			continue
		}
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		if ppid == pid && pgrp == child && child > 0 {
			syscall.Kill(-child, syscall.SIGKILL)
		}
	}
}
