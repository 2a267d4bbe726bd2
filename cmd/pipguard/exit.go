package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/lint"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/provenance"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/installer/txn"
	"github.com/pipguard/pipguard/policy"
	"github.com/urfave/cli/v2"
)

// Exit codes, as documented in the README.
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2
	exitRefused  = 3
	exitVerify   = 4
	exitPip      = 5
	exitAudit    = 6
	exitRemote   = 7
	// exitSignal stands for 128 + the signal's number (130 for SIGINT,
	// 143 for SIGTERM), as shells report a process a signal ended.
	exitSignal     = -1
	labelError     = "error"
	labelRefused   = "refused"
	labelUnavailbl = "remote unavailable"
	labelVerify    = "verification failed"
)

// is reports whether err has an error of type T in its chain.
func is[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// exitRules is the one place that maps errors to exit codes and to the word
// that starts their message. The first rule that matches wins.
var exitRules = []struct {
	code  int
	label string
	match func(error) bool
}{
	{exitSignal, "interrupted", is[*installer.InterruptedError]},
	{exitUsage, labelError, is[*usageError]},
	// urfave/cli's own refusals (help for an unknown topic).
	{exitUsage, labelError, is[cli.ExitCoder]},
	{exitUsage, labelError, is[*requirement.ParseError]},
	{exitUsage, labelError, is[*installer.NotGitError]},
	{exitUsage, labelError, is[*attest.PolicyError]},
	{exitUsage, labelError, is[*reqfile.Error]},
	{exitUsage, labelError, is[*installer.LockFileError]},
	{exitUsage, labelError, is[*lint.Error]},
	{exitUsage, "policy error", is[*policy.Error]},
	{exitUsage, labelError, is[*cache.Error]},
	{exitRefused, labelRefused, is[*installer.RefusedError]},
	{exitRefused, labelRefused, is[*installer.ConflictError]},
	{exitRefused, labelRefused, is[*installer.BuildError]},
	{exitRefused, labelRefused, is[*installer.LockError]},
	{exitRefused, labelRefused, is[*installer.IdentityChangeError]},
	{exitRefused, labelRefused, is[*txn.BusyError]},
	{exitRefused, labelRefused, is[*installer.NotGitHubError]},
	{exitUsage, labelError, is[*pip.InterpreterError]},
	{exitUsage, labelError, is[*pipVersionError]},
	{exitRefused, labelRefused, is[*pip.OptionsError]},
	{exitPip, "pip failed", is[*pip.Error]},
	{exitAudit, "audit failed", findingsOf("audit")},
	{exitAudit, "audit failed", is[*installer.AuditError]},
	{exitAudit, "check failed", is[*installer.DependencyError]},
	{exitAudit, "check failed", findingsOf("check")},
	{exitVerify, labelVerify, is[*attest.Error]},
	{exitVerify, labelVerify, is[*provenance.Error]},
	{exitVerify, labelVerify, is[*installer.ReleaseError]},
	{exitVerify, labelVerify, is[*installer.WheelError]},
	{exitVerify, labelVerify, is[*installer.ProvenanceError]},

	{exitVerify, labelVerify, is[*github.IntegrityError]},
	{exitVerify, labelVerify, is[*attest.RootError]},
	// No trusted root was given for the bundle's deployment: it cannot be
	// verified, which no retry changes.
	{exitVerify, labelVerify, func(err error) bool { return errors.Is(err, attest.ErrNoTrustedRoot) }},
	// A fetch directory's TUF files that do not verify (tampered, expired):
	// fetching again helps, retrying does not.
	{exitVerify, labelVerify, is[*attest.TUFDirError]},
	{exitRemote, labelUnavailbl, is[*attest.TrustError]},
	{exitRemote, labelUnavailbl, is[*github.RateLimitError]},
	{exitRemote, labelUnavailbl, is[*github.UnavailableError]},
	{exitRemote, labelUnavailbl, is[*github.HTTPError]},
	{exitRemote, "bad answer from GitHub", is[*github.BadResponseError]},
	// An index that did not answer audit --online's question (unreachable,
	// a 5xx, an answer that does not parse); a project page it answers 404
	// or 410 for is a finding (index-provenance-gone), not this.
	{exitRemote, labelUnavailbl, is[*provenance.FetchError]},
	{exitRefused, labelRefused, is[*gitref.RefusedError]},
	{exitRemote, labelUnavailbl, is[*gitref.RemoteError]},
}

// findingsOf matches the findings of one command (its label differs).
func findingsOf(command string) func(error) bool {
	return func(err error) bool {
		var f *findingsFailed
		return errors.As(err, &f) && f.command == command
	}
}

func classify(err error) (int, string) {
	for _, r := range exitRules {
		if r.match(err) {
			if r.code == exitSignal {
				return signalCode(err), r.label
			}
			return r.code, r.label
		}
	}
	return exitInternal, labelError
}

// signalCode is 128 + the number of the signal that interrupted the run;
// 130 (SIGINT's) when it was cancelled otherwise.
func signalCode(err error) int {
	var se *signalError
	if errors.As(err, &se) {
		return 128 + int(se.sig)
	}
	return 128 + 2
}

// report prints err (each one, if several were joined) to stderr as
// "pipguard: <label>: <error>" and "pipguard: hint: <hint>", and returns the
// exit code of the first (pipguard reports every problem it found, but one
// code has to win).
func report(e *env, err error) int {
	if err == nil {
		return exitOK
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	code := exitOK
	for _, err := range errs {
		if ie := (*pip.InterpreterError)(nil); errors.As(err, &ie) && ie.Output != "" {
			// What the interpreter printed before pipguard gave up on it,
			// above what pipguard says about it.
			fmt.Fprint(e.stderr, strings.TrimRight(ie.Output, "\n")+"\n")
		}
		c, label := classify(err)
		if code == exitOK {
			code = c
		}
		fmt.Fprintf(e.stderr, "pipguard: %s: %s\n", label, safeLines(err.Error()))
		var h interface{ Hint() string }
		if errors.As(err, &h) && h.Hint() != "" {
			fmt.Fprintf(e.stderr, "pipguard: hint: %s\n", safeLines(h.Hint()))
		}
	}
	return code
}
