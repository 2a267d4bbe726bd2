package main

import (
	"errors"
	"fmt"

	"github.com/pipguard/pipguard/installer"
	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/pip"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// Exit codes, as documented in the README.
const (
	exitOK         = 0
	exitInternal   = 1
	exitUsage      = 2
	exitRefused    = 3
	exitVerify     = 4
	exitPip        = 5
	exitAudit      = 6
	exitRemote     = 7
	labelError     = "error"
	labelRefused   = "refused"
	labelUnavailbl = "remote unavailable"
	labelVerify    = "verification failed"
)

// classify is the one place that maps errors to exit codes and to the word
// that starts their message.
func classify(err error) (int, string) {
	var (
		usage   *usageError
		parse   *requirement.ParseError
		notGit  *installer.NotGitError
		refused *gitref.RefusedError
		remote  *gitref.RemoteError
		pol     *attest.PolicyError
		notVer  *attest.Error
		trust   *attest.TrustError
		relErr  *installer.ReleaseError
		integ   *github.IntegrityError
		limit   *github.RateLimitError
		unavail *github.UnavailableError
		httpErr *github.HTTPError
		instRef *installer.RefusedError
		notGH   *installer.NotGitHubError
		pipErr  *pip.Error
		auditE  *installer.AuditError
		reqErr  *reqfile.Error
	)
	switch {
	case errors.As(err, &usage), errors.As(err, &parse), errors.As(err, &notGit), errors.As(err, &pol), errors.As(err, &reqErr):
		return exitUsage, labelError
	case errors.As(err, &instRef), errors.As(err, &notGH):
		return exitRefused, labelRefused
	case errors.As(err, &pipErr):
		return exitPip, "pip failed"
	case errors.As(err, &auditE):
		return exitAudit, "audit failed"
	case errors.As(err, &notVer), errors.As(err, &relErr), errors.As(err, &integ):
		return exitVerify, labelVerify
	case errors.As(err, &limit), errors.As(err, &unavail), errors.As(err, &httpErr):
		return exitRemote, labelUnavailbl
	case errors.As(err, &trust):
		if errors.Is(err, attest.ErrNoTrustedRoot) {
			return exitVerify, labelVerify
		}
		return exitRemote, labelUnavailbl
	case errors.As(err, &refused):
		return exitRefused, labelRefused
	case errors.As(err, &remote):
		return exitRemote, labelUnavailbl
	}
	return exitInternal, labelError
}

// report prints err (each one, if several were joined) to stderr as
// "pipguard: <label>: <error>" and "pipguard: hint: <hint>", and returns the
// exit code of the first.
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
		c, label := classify(err)
		if code == exitOK {
			code = c
		}
		if errors.Is(err, errSilent) {
			continue
		}
		fmt.Fprintf(e.stderr, "pipguard: %s: %v\n", label, err)
		var h interface{ Hint() string }
		if errors.As(err, &h) && h.Hint() != "" {
			fmt.Fprintf(e.stderr, "pipguard: hint: %s\n", h.Hint())
		}
	}
	return code
}
