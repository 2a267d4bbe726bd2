package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/requirement"
)

// Every error type the library returns maps to the exit code the README
// documents, also when wrapped.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{usagef("x"), 2},
		{&requirement.ParseError{Msg: "x"}, 2},
		{&attest.PolicyError{Msg: "x"}, 2},
		{&gitref.RefusedError{Reason: "x"}, 3},
		{&installer.RefusedError{Reasons: []string{"x"}}, 3},
		{&installer.NotGitHubError{}, 3},
		{&attest.Error{}, 4},
		{&installer.ReleaseError{}, 4},
		{&github.IntegrityError{}, 4},
		{&attest.TrustError{Err: attest.ErrNoTrustedRoot}, 4},
		{&pip.Error{}, 5},
		{&installer.AuditError{}, 6},
		{&attest.TrustError{Err: errors.New("tuf")}, 7},
		{&gitref.RemoteError{}, 7},
		{&github.RateLimitError{}, 7},
		{&github.UnavailableError{Err: errors.New("x")}, 7},
		{&pip.InterpreterError{}, 2},
		{&installer.InterruptedError{Cause: &signalError{sig: syscall.SIGINT}}, 130},
		{&installer.InterruptedError{Cause: &signalError{sig: syscall.SIGTERM}}, 143},
		{&installer.InterruptedError{Cause: context.DeadlineExceeded}, 130},
		// An interruption wins over the pip failure it caused.
		{&installer.InterruptedError{Cause: &signalError{sig: syscall.SIGTERM}, RollbackErr: &pip.Error{}}, 143},
		{errors.New("anything else"), 1},
	} {
		if got, _ := classify(fmt.Errorf("context: %w", c.err)); got != c.code {
			t.Errorf("%T: exit %d, want %d", c.err, got, c.code)
		}
	}
}
