// Package installer is pipguard's pipeline: a requirement is resolved to an
// immutable revision (this file), then verified, installed and audited by
// the stages added beside it. Each stage returns data and typed errors; the
// package never prints and never exits.
//
// It trusts the git remote's ref advertisement only for the moment of the
// request (see package gitref) and the user's requirement text not at all.
package installer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/pipguard/pipguard/installer/cache"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// DefaultGitHubURL is github.com's web URL.
const DefaultGitHubURL = "https://github.com"

// Config is what every stage needs to reach the outside world.
type Config struct {
	// GitHubURL is the GitHub (or GitHub Enterprise Server) web URL. The
	// token is sent to its host only.
	GitHubURL string
	// Token is a GitHub token (from GH_TOKEN or GITHUB_TOKEN); may be empty.
	Token string
	// HTTPClient is used for every HTTP request; nil means a default one.
	HTTPClient *http.Client
	// Timeout bounds each remote operation; zero means 30 seconds.
	Timeout time.Duration
	// Cache, when set, keeps GitHub's answers and verified assets between
	// runs (see package cache); nil means none.
	Cache *cache.Cache
	// Progress, when set, observes asset downloads.
	Progress github.Progress
}

// GitHubHost is the configured GitHub's host (host:port).
func (c Config) GitHubHost() string { return c.tokenHost() }

// tokenHost is the host the token may be sent to.
func (c Config) tokenHost() string {
	u, err := url.Parse(c.GitHubURL)
	if err != nil || c.GitHubURL == "" {
		u, _ = url.Parse(DefaultGitHubURL)
	}
	return u.Host
}

// NotGitError reports a requirement pipguard does not guard (an index
// requirement or a non-git URL) where a git requirement was needed.
type NotGitError struct {
	Requirement string
	Kind        requirement.Kind
}

func (e *NotGitError) Error() string {
	what := "an index requirement"
	if e.Kind == requirement.KindURL {
		what = "a direct URL that is not git"
	}
	return fmt.Sprintf("%q is %s, not a git requirement", e.Requirement, what)
}

// Hint says what to do.
func (e *NotGitError) Hint() string {
	return `write name @ git+https://host/owner/repo.git@TAG`
}

// Resolved is a git requirement resolved to an immutable revision.
type Resolved struct {
	// Requirement is the parsed requirement (secrets masked in String).
	Requirement *requirement.Requirement
	// Name is the project name: the requirement's, or the repository's
	// base name when the URL had no #egg=.
	Name string
	// Repo is the repository URL without credentials (for display and
	// comparison).
	Repo string
	*gitref.Resolution
}

// Resolve parses input as a git requirement, lists the remote's refs and
// classifies the requested ref. On a refusal it returns both the Resolved
// (with its Decision) and a *gitref.RefusedError.
func Resolve(ctx context.Context, cfg Config, input string) (*Resolved, error) {
	req, err := requirement.Parse(input)
	if err != nil {
		return nil, err
	}
	if req.Kind != requirement.KindVCS {
		return nil, &NotGitError{Requirement: req.String(), Kind: req.Kind}
	}
	v := req.VCS
	out := &Resolved{Requirement: req, Name: req.Name, Repo: v.RepoURL()}
	if out.Name == "" {
		out.Name = strings.TrimSuffix(path.Base(v.Path), ".git")
	}
	res, err := resolveVCS(ctx, cfg, v)
	if res == nil {
		// A ref refused by its text alone (no ref, a branch's name, a short
		// SHA) is refused whatever the remote says: an unreachable remote
		// must not turn it into "remote unavailable, retry".
		if rerr := RefuseByText([]reqfile.Entry{{Req: req}}); rerr != nil {
			var re *gitref.RefusedError
			if errors.As(rerr, &re) {
				return nil, re
			}
		}
		return nil, err
	}
	out.Resolution = res
	return out, err
}

// gitOptions is how gitref reaches remotes under cfg.
func (c Config) gitOptions() gitref.Options {
	return gitref.Options{Token: c.Token, TokenHost: c.tokenHost(), HTTPClient: c.HTTPClient, Timeout: c.Timeout}
}

// resolveVCS lists the remote's refs and classifies the requested ref. The
// Resolution is nil only when the remote could not be listed.
func resolveVCS(ctx context.Context, cfg Config, v *requirement.VCSURL) (*gitref.Resolution, error) {
	refs, err := gitref.List(ctx, v.TransportURL(), cfg.gitOptions(), v.Secrets()...)
	if err != nil {
		return nil, err
	}
	return gitref.Classify(displayRepo(v), refs, v.Ref)
}

// displayRepo is the short form used in messages: host/owner/repo, or the
// path of a local repository.
func displayRepo(v *requirement.VCSURL) string {
	return strings.TrimSuffix(v.Host+v.Path, ".git")
}
