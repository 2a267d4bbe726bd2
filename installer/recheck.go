package installer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/pipguard/pipguard/installer/envaudit"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/pep610"
	"github.com/pipguard/pipguard/policy"
)

// Drift is something about a receipt's origin that changed since pipguard
// installed the distribution.
type Drift struct {
	// Rule is "tag-moved" or "release-changed".
	Rule    string
	Message string
}

var fullCommit = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// Recheck asks the origin a receipt names again (pipguard audit --online):
// whether its tag still points at the commit installed (listed with git,
// not the REST API), and for a release install whether the release still
// has the asset with the digest installed. A remote that cannot be reached
// is an error, not a finding; one on a host the policy does not name is
// not asked (see mayAsk).
func Recheck(ctx context.Context, cfg Config, pol *policy.Policy, r *pep610.Receipt) ([]Drift, error) {
	if err := mayAsk(cfg, pol, r.Repository); err != nil {
		return nil, err
	}
	var out []Drift
	if r.Tag != "" && !fullCommit.MatchString(r.Tag) {
		refs, err := gitref.List(ctx, r.Repository, cfg.gitOptions())
		if err != nil {
			return nil, err
		}
		res, err := gitref.Classify(r.Repository, refs, r.Tag)
		var re *gitref.RefusedError
		switch {
		case errors.As(err, &re):
			out = append(out, Drift{"tag-moved", fmt.Sprintf("%s of %s is no longer an immutable tag: %s", r.Tag, r.Repository, re.Reason)})
		case err != nil:
			return nil, err
		case !strings.EqualFold(res.Commit, r.Commit):
			out = append(out, Drift{"tag-moved", fmt.Sprintf("tag %s of %s now points at %s; %s was installed", r.Tag, r.Repository, res.Commit, r.Commit)})
		}
	}
	if r.From != string(FromRelease) || r.Asset == "" {
		return out, nil
	}
	u, err := url.Parse(r.Repository)
	if err != nil || !strings.EqualFold(u.Host, cfg.tokenHost()) {
		return out, nil
	}
	gh, err := cfg.client()
	if err != nil {
		return nil, err
	}
	repo := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	rel, err := gh.ReleaseByTag(ctx, repo, r.Tag)
	if errors.Is(err, github.ErrNotFound) {
		return append(out, Drift{"release-changed", fmt.Sprintf("the release %s of %s is gone", r.Tag, repo)}), nil
	}
	if err != nil {
		return nil, err
	}
	a, ok := rel.AssetNamed(r.Asset)
	switch {
	case !ok:
		out = append(out, Drift{"release-changed", fmt.Sprintf("the release %s of %s no longer has %s", r.Tag, repo, r.Asset)})
	case a.Digest != "" && !strings.EqualFold(a.Digest, "sha256:"+r.SHA256):
		out = append(out, Drift{"release-changed", fmt.Sprintf("%s in release %s of %s is now %s; sha256:%s was installed", r.Asset, r.Tag, repo, a.Digest, r.SHA256)})
	}
	return out, nil
}

// MutableRef lists the refs of a git repository pip installed from (no
// receipt) and says why ref is not an immutable one (a branch, a name
// that is both branch and tag, gone), or "" when it is a tag or a full
// commit (pipguard audit --online). A repository on a host the policy
// does not name is not asked (see mayAsk).
func MutableRef(ctx context.Context, cfg Config, pol *policy.Policy, repoURL, ref string) (string, error) {
	if fullCommit.MatchString(ref) {
		return "", nil
	}
	if err := mayAsk(cfg, pol, repoURL); err != nil {
		return "", err
	}
	refs, err := gitref.List(ctx, repoURL, cfg.gitOptions())
	if err != nil {
		return "", err
	}
	_, err = gitref.Classify(repoURL, refs, ref)
	var re *gitref.RefusedError
	if errors.As(err, &re) {
		return re.Error(), nil
	}
	return "", err
}

// mayAsk says whether pipguard audit --online may ask repoURL's host:
// only the GitHub host and the repositories of verify = "pin" tables,
// the hosts pipguard installs from. Any other URL is what a
// direct_url.json says, and whoever wrote it (any package's install)
// must not make pipguard connect to a host of their choosing (an endless
// ref advertisement, an internal address). It returns an
// *envaudit.NotRecheckedError for those.
func mayAsk(cfg Config, pol *policy.Policy, repoURL string) error {
	u, err := url.Parse(repoURL)
	if err == nil && u.Scheme == "file" && u.Host == "" && strings.HasPrefix(u.Path, "/") {
		// A git+file:// repository: a policy table names it
		// file:///ABS/PATH, pipguard names it /ABS/PATH (see
		// requirement.VCSURL.Repo), and only a verify = "pin" table lets
		// it be asked.
		repo := "/" + strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
		if pol != nil && pol.For(repo).Verify.V == policy.VerifyPin {
			return nil
		}
		return &envaudit.NotRecheckedError{URL: repoURL,
			Why: fmt.Sprintf("--online asks only the GitHub host (%s) and the repositories of verify = \"pin\" tables, and no table names file://%s", cfg.tokenHost(), repo)}
	}
	if err != nil || u.Host == "" {
		return &envaudit.NotRecheckedError{URL: pep610.StripCredentials(repoURL), Why: "not a URL pipguard asks"}
	}
	host := cfg.tokenHost()
	onGitHub := u.Scheme == "https" && strings.EqualFold(u.Host, host) ||
		u.Scheme == "ssh" && strings.EqualFold(u.Hostname(), (&url.URL{Host: host}).Hostname())
	if onGitHub {
		return nil
	}
	repo := u.Hostname() + "/" + strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if pol != nil && pol.For(repo).Verify.V == policy.VerifyPin {
		return nil
	}
	return &envaudit.NotRecheckedError{URL: pep610.StripCredentials(repoURL),
		Why: fmt.Sprintf("--online asks only the GitHub host (%s) and the repositories of verify = \"pin\" tables, and no table names %s", host, repo)}
}
