package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/policy"
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
		{&github.BadResponseError{}, 7},
		{&attest.RootError{}, 4},
		{&pip.InterpreterError{}, 2},
		{&pip.OptionsError{}, 3},
		{&policy.Error{}, 2},
		{&installer.InterruptedError{Cause: &signalError{sig: syscall.SIGINT}}, 130},
		{&installer.InterruptedError{Cause: &signalError{sig: syscall.SIGTERM}}, 143},
		{&installer.InterruptedError{Cause: context.DeadlineExceeded}, 130},
		// An interruption wins over the pip failure it caused.
		{&installer.InterruptedError{Cause: &signalError{sig: syscall.SIGTERM}, RollbackErr: &pip.Error{}}, 143},
		// A failed rollback keeps its cause's code.
		{&installer.RollbackError{Cause: &pip.Error{}, Err: errors.New("x")}, 5},
		{&installer.RollbackError{Cause: &installer.AuditError{}, Err: errors.New("x")}, 6},
		{errors.New("anything else"), 1},
	} {
		if got, _ := classify(fmt.Errorf("context: %w", c.err)); got != c.code {
			t.Errorf("%T: exit %d, want %d", c.err, got, c.code)
		}
	}
}

// A failure whose rollback did not finish never says the environment was
// left as it was: its own hint wins over its cause's.
func TestFailedRollbackHint(t *testing.T) {
	var out strings.Builder
	e := &env{stdout: &out, stderr: &out}
	code := report(e, &installer.RollbackError{Cause: &pip.Error{Args: []string{"install"}, ExitCode: 1}, Err: errors.New("demo-1.0.dist-info was removed")})
	if code != 5 || !strings.Contains(out.String(), "could not be fully restored: demo-1.0.dist-info was removed") ||
		!strings.Contains(out.String(), "hint: the environment was changed and is not as it was") || strings.Contains(out.String(), "left as it was") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
}

// TestManPage keeps docs/pipguard.1 what "pipguard man" prints from the
// command definitions. Regenerate it with
//
//	go run ./cmd/pipguard man > docs/pipguard.1
func TestManPage(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"pipguard", "man"}, &out, &errs, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	want, err := os.ReadFile("../../docs/pipguard.1")
	if err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Errorf("docs/pipguard.1 is not what pipguard man prints (%v): regenerate it with go run ./cmd/pipguard man > docs/pipguard.1", err)
	}
	for _, cmd := range []string{"install", "verify", "audit", "check", "completion"} {
		if !bytes.Contains(want, []byte(".SH "+cmd)) {
			t.Errorf("the man page has no section for %s", cmd)
		}
	}
}
