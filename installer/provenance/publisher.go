package provenance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/pipguard/pipguard/policy"
)

// Trusted Publisher kinds, as PEP 740's publisher objects spell them.
const (
	KindGitHub = "GitHub"
	KindGitLab = "GitLab"
	KindGoogle = "Google"
)

// OIDC issuers of the kinds pipguard verifies.
const (
	GitHubIssuer = "https://token.actions.githubusercontent.com"
	GitLabIssuer = "https://gitlab.com"
	GoogleIssuer = "https://accounts.google.com"
)

// Publisher is a Trusted Publisher identity. Read from a verified
// certificate (PublisherFromCertificate) it is what a lock records; written
// by the user it is the identity a file must be attested by.
//
// Kind is "" when the certificate's issuer is none of the Trusted
// Publisher kinds (a personal identity): such an attestation can be
// verified cryptographically, but it names no publisher.
type Publisher struct {
	Kind string `json:"kind"`
	// Repository is OWNER/REPO (GitHub) or NAMESPACE/PROJECT (GitLab).
	Repository string `json:"repository,omitempty"`
	// Workflow is the GitHub workflow's file name, e.g. "release.yml".
	Workflow string `json:"workflow,omitempty"`
	// WorkflowFilepath is GitLab's CI file path, e.g. ".gitlab-ci.yml".
	WorkflowFilepath string `json:"workflow_filepath,omitempty"`
	// Email is the Google service account.
	Email string `json:"email,omitempty"`
	// Environment is the GitHub or GitLab environment. No certificate
	// carries it: in an expected publisher it is compared with the index's
	// claim only; read from a certificate it is always "".
	Environment string `json:"environment,omitempty"`

	// Issuer and SAN are the certificate's OIDC issuer and subject
	// alternative name; Ref and Digest its source ref and commit.
	Issuer string `json:"issuer,omitempty"`
	SAN    string `json:"san,omitempty"`
	Ref    string `json:"ref,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// String is the identity as --publisher takes it.
func (p Publisher) String() string {
	switch p.Kind {
	case KindGitHub:
		return "GitHub:" + p.Repository + "/" + p.Workflow
	case KindGitLab:
		return "GitLab:" + p.Repository + "//" + p.WorkflowFilepath
	case KindGoogle:
		return "Google:" + p.Email
	case "":
		return "(no Trusted Publisher: " + p.SAN + " from " + p.Issuer + ")"
	}
	return p.Kind + ":" + p.Repository
}

// ErrUnverifiable means something cannot be verified by this verifier: a
// publisher kind without a policy, or an attestation form sigstore-go
// v1.3.0 does not load.
var ErrUnverifiable = errors.New("cannot be verified")

// ParsePublisher parses KIND:IDENTITY: GitHub:OWNER/REPO/WORKFLOW.yml,
// GitLab:NAMESPACE/PROJECT//CI_FILE_PATH, Google:EMAIL. An optional
// "@ENVIRONMENT" after a GitHub or GitLab identity names the environment.
func ParsePublisher(s string) (Publisher, error) {
	kind, id, ok := strings.Cut(s, ":")
	bad := func(want string) (Publisher, error) {
		return Publisher{}, fmt.Errorf("publisher %q: expected %s", printable(s, 200), want)
	}
	if !ok || id == "" {
		return bad("KIND:IDENTITY, e.g. GitHub:OWNER/REPO/release.yml")
	}
	env := ""
	if kind != KindGoogle {
		if i := strings.LastIndexByte(id, '@'); i >= 0 {
			id, env = id[:i], id[i+1:]
		}
	}
	switch {
	case strings.EqualFold(kind, KindGitHub):
		i := strings.LastIndexByte(id, '/')
		if i < 0 || strings.Count(id, "/") != 2 || id[i+1:] == "" {
			return bad("GitHub:OWNER/REPO/WORKFLOW.yml")
		}
		return Publisher{Kind: KindGitHub, Repository: id[:i], Workflow: id[i+1:], Environment: env}, nil
	case strings.EqualFold(kind, KindGitLab):
		repo, path, ok := strings.Cut(id, "//")
		if !ok || repo == "" || path == "" || !strings.Contains(repo, "/") {
			return bad("GitLab:NAMESPACE/PROJECT//CI_FILE_PATH (two slashes before the path)")
		}
		return Publisher{Kind: KindGitLab, Repository: repo, WorkflowFilepath: path, Environment: env}, nil
	case strings.EqualFold(kind, KindGoogle):
		if !strings.Contains(id, "@") {
			return bad("Google:SERVICE-ACCOUNT-EMAIL")
		}
		return Publisher{Kind: KindGoogle, Email: id}, nil
	}
	return Publisher{}, fmt.Errorf("publisher kind %q %w: pipguard verifies GitHub, GitLab and Google Trusted Publishers", printable(kind, 40), ErrUnverifiable)
}

// PublisherFromCertificate reads the publisher identity from a verified
// certificate's Fulcio extensions. A GitHub or GitLab identity is read from
// the Source Repository URI and the Build Config URI, which must be
// SOURCE/.github/workflows/FILE@SUFFIX (GitLab: SOURCE//PATH@SUFFIX) where
// SUFFIX is the certificate's Source Repository Ref or Digest; the SAN is
// not used, so a reusable workflow names its caller. An error says a
// certificate of a known issuer is malformed.
func PublisherFromCertificate(s certificate.Summary) (Publisher, error) {
	e := s.Extensions
	p := Publisher{Issuer: e.Issuer, SAN: s.SubjectAlternativeName, Ref: e.SourceRepositoryRef, Digest: e.SourceRepositoryDigest}
	switch e.Issuer {
	case GitHubIssuer, GitLabIssuer:
		kind, base, sep := KindGitHub, "https://github.com/", "/.github/workflows/"
		if e.Issuer == GitLabIssuer {
			kind, base, sep = KindGitLab, "https://gitlab.com/", "//"
		}
		repo, ok := strings.CutPrefix(e.SourceRepositoryURI, base)
		if !ok || repo == "" {
			return p, fmt.Errorf("certificate: Source Repository URI %q is not under %s", e.SourceRepositoryURI, base)
		}
		file, err := buildConfigFile(e, base+repo, sep, kind == KindGitHub)
		if err != nil {
			return p, err
		}
		p.Kind, p.Repository = kind, repo
		if kind == KindGitHub {
			p.Workflow = file
		} else {
			p.WorkflowFilepath = file
		}
	case GoogleIssuer:
		p.Kind, p.Email = KindGoogle, s.SubjectAlternativeName
	}
	return p, nil
}

// buildConfigFile returns FILE from a Build Config URI PREFIX+FILE@SUFFIX,
// SUFFIX being the Source Repository Digest or Ref. The prefix's owner and
// repository compare case-insensitively on GitHub.
func buildConfigFile(e certificate.Extensions, source, sep string, fold bool) (string, error) {
	uri := e.BuildConfigURI
	if e.SourceRepositoryRef == "" && e.SourceRepositoryDigest == "" {
		return "", errors.New("certificate: neither Source Repository Ref nor Source Repository Digest is present")
	}
	n := len(source)
	if len(uri) < n || !(uri[:n] == source || fold && strings.EqualFold(uri[:n], source)) || !strings.HasPrefix(uri[n:], sep) {
		return "", fmt.Errorf("certificate: Build Config URI %q is not under %q", uri, source+sep)
	}
	rest := uri[n+len(sep):]
	for _, suffix := range []string{e.SourceRepositoryDigest, e.SourceRepositoryRef} {
		if suffix == "" {
			continue
		}
		if file, ok := strings.CutSuffix(rest, "@"+suffix); ok && file != "" {
			return file, nil
		}
	}
	return "", fmt.Errorf("certificate: Build Config URI %q does not end in @ its Source Repository Ref %q or Digest %q", uri, e.SourceRepositoryRef, e.SourceRepositoryDigest)
}

// Matches compares p, read from a certificate, with the expected
// publisher, one check per field: the kind, then GitHub's repository
// (case-insensitive: GitHub owner and repository names are) and workflow
// file name (exact), GitLab's project and CI file path (exact), Google's
// service account email (exact). The environment is not in any
// certificate: it is reported as not checked here (VerifyProvenance
// compares it with the index's claim).
func (p Publisher) Matches(expected Publisher) []policy.Check {
	var out []policy.Check
	add := func(name, label, want, got string, fold bool) {
		c := policy.Check{Name: name, Outcome: policy.Pass, Expected: want, Actual: got}
		if !(want == got || fold && strings.EqualFold(want, got)) {
			c.Outcome = policy.Fail
			c.Reason = fmt.Sprintf("expected %s %q, got %q", label, want, got)
		}
		out = append(out, c)
	}
	switch expected.Kind {
	case KindGitHub, KindGitLab, KindGoogle:
	default:
		return []policy.Check{{Name: "publisher-kind", Outcome: policy.Fail, Expected: expected.Kind, Actual: p.Kind,
			Reason: fmt.Sprintf("publisher kind %q %v: pipguard verifies GitHub, GitLab and Google Trusted Publishers", expected.Kind, ErrUnverifiable)}}
	}
	if p.Kind != expected.Kind {
		actual := p.Kind
		if actual == "" {
			actual = "none (issuer " + p.Issuer + ", identity " + p.SAN + ")"
		}
		out = append(out, policy.Check{Name: "publisher-kind", Outcome: policy.Fail, Expected: expected.Kind, Actual: actual,
			Reason: fmt.Sprintf("expected a %s Trusted Publisher, got %s", expected.Kind, actual),
			Hint:   "the file was attested by another kind of identity than the one pinned"})
		return out
	}
	out = append(out, policy.Check{Name: "publisher-kind", Outcome: policy.Pass, Expected: expected.Kind, Actual: p.Kind})
	switch expected.Kind {
	case KindGitHub:
		add("publisher-repository", "repository", expected.Repository, p.Repository, true)
		add("publisher-workflow", "workflow", strings.TrimPrefix(expected.Workflow, ".github/workflows/"), p.Workflow, false)
	case KindGitLab:
		add("publisher-repository", "repository", expected.Repository, p.Repository, false)
		add("publisher-workflow", "CI file path", expected.WorkflowFilepath, p.WorkflowFilepath, false)
	case KindGoogle:
		add("publisher-email", "service account", expected.Email, p.Email, false)
	}
	if expected.Environment != "" {
		out = append(out, policy.Check{Name: "publisher-environment", Outcome: policy.NotChecked, Expected: expected.Environment,
			Reason: "no certificate carries the environment; only the index's unsigned claim can be compared"})
	}
	return out
}

// Policy checks a verified certificate against one Trusted Publisher, the
// way pypi-attestations' publisher policies do. There is one type per
// kind; PolicyFor picks it.
type Policy interface {
	// Check returns one check per rule, all evaluated.
	Check(s certificate.Summary) []policy.Check
}

// PolicyFor returns the policy of an expected publisher. Kinds other than
// GitHub, GitLab and Google are ErrUnverifiable.
func PolicyFor(p Publisher) (Policy, error) {
	switch p.Kind {
	case KindGitHub:
		if p.Repository == "" || p.Workflow == "" {
			return nil, errors.New("a GitHub publisher needs a repository and a workflow")
		}
		return GitHubPolicy{Repository: p.Repository, Workflow: strings.TrimPrefix(p.Workflow, ".github/workflows/")}, nil
	case KindGitLab:
		if p.Repository == "" || p.WorkflowFilepath == "" {
			return nil, errors.New("a GitLab publisher needs a repository and a workflow_filepath")
		}
		return GitLabPolicy{Repository: p.Repository, WorkflowFilepath: p.WorkflowFilepath}, nil
	case KindGoogle:
		if p.Email == "" {
			return nil, errors.New("a Google publisher needs an email")
		}
		return GooglePolicy{Email: p.Email}, nil
	}
	return nil, fmt.Errorf("publisher kind %q %w: pipguard verifies GitHub, GitLab and Google Trusted Publishers", printable(p.Kind, 40), ErrUnverifiable)
}

func issuerCheck(want, got string) policy.Check {
	c := policy.Check{Name: "issuer", Outcome: policy.Pass, Expected: want, Actual: got}
	if want != got {
		c.Outcome, c.Reason = policy.Fail, fmt.Sprintf("expected OIDC issuer %q, got %q", want, got)
	}
	return c
}

// GitHubPolicy is a GitHub Actions Trusted Publisher: OIDC issuer
// https://token.actions.githubusercontent.com, Source Repository URI
// https://github.com/OWNER/REPO, and Build Config URI
// https://github.com/OWNER/REPO/.github/workflows/WORKFLOW@SUFFIX where
// SUFFIX is the certificate's Source Repository Ref or Digest (at least one
// must be present). OWNER/REPO compare case-insensitively, WORKFLOW exactly.
type GitHubPolicy struct{ Repository, Workflow string }

// Check implements Policy.
func (g GitHubPolicy) Check(s certificate.Summary) []policy.Check {
	return repoPolicy(s, GitHubIssuer, "https://github.com/", "/.github/workflows/", g.Repository, g.Workflow, true)
}

// GitLabPolicy is a GitLab CI Trusted Publisher: OIDC issuer
// https://gitlab.com, Source Repository URI https://gitlab.com/NS/PROJECT,
// and Build Config URI https://gitlab.com/NS/PROJECT//PATH@SUFFIX (note the
// two slashes) with SUFFIX the Source Repository Ref or Digest.
type GitLabPolicy struct{ Repository, WorkflowFilepath string }

// Check implements Policy.
func (g GitLabPolicy) Check(s certificate.Summary) []policy.Check {
	return repoPolicy(s, GitLabIssuer, "https://gitlab.com/", "//", g.Repository, g.WorkflowFilepath, false)
}

func repoPolicy(s certificate.Summary, issuer, base, sep, repo, file string, fold bool) []policy.Check {
	e := s.Extensions
	out := []policy.Check{issuerCheck(issuer, e.Issuer)}
	want := base + repo
	c := policy.Check{Name: "source-repository", Outcome: policy.Pass, Expected: want, Actual: e.SourceRepositoryURI}
	if !(e.SourceRepositoryURI == want || fold && strings.EqualFold(e.SourceRepositoryURI, want)) {
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("expected Source Repository URI %q, got %q", want, e.SourceRepositoryURI)
		c.Hint = "the file was built from another repository than the pinned publisher's"
	}
	out = append(out, c)
	c = policy.Check{Name: "build-config", Outcome: policy.Pass, Expected: want + sep + file + "@(source ref or digest)", Actual: e.BuildConfigURI}
	got, err := buildConfigFile(e, want, sep, fold)
	switch {
	case err != nil:
		c.Outcome, c.Reason = policy.Fail, err.Error()
	case got != file:
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("Build Config URI %q does not match expected Trusted Publisher (%s @ %s)", e.BuildConfigURI, file, repo)
		c.Hint = "the file was published by another workflow than the pinned one"
	}
	return append(out, c)
}

// GooglePolicy is a Google Cloud service account: OIDC issuer
// https://accounts.google.com and the SAN equal to the account's email.
type GooglePolicy struct{ Email string }

// Check implements Policy.
func (g GooglePolicy) Check(s certificate.Summary) []policy.Check {
	c := policy.Check{Name: "san", Outcome: policy.Pass, Expected: g.Email, Actual: s.SubjectAlternativeName}
	if s.SubjectAlternativeName != g.Email {
		c.Outcome = policy.Fail
		c.Reason = fmt.Sprintf("expected SAN value %q, got %q", g.Email, s.SubjectAlternativeName)
	}
	return []policy.Check{issuerCheck(GoogleIssuer, s.Extensions.Issuer), c}
}
