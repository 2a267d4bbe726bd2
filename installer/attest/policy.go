package attest

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Predicate types pipguard knows.
const (
	// ProvenanceV1 is SLSA build provenance, as actions/attest-build-provenance
	// writes it.
	ProvenanceV1 = "https://slsa.dev/provenance/v1"
	// SPDXv23 is an SPDX 2.3 SBOM, as actions/attest-sbom writes it.
	SPDXv23 = "https://spdx.dev/Document/v2.3"
	// CycloneDX is a CycloneDX SBOM.
	CycloneDX = "https://cyclonedx.org/bom"
	// ReleaseV01 and ReleaseV02 are GitHub's release attestations for
	// immutable releases.
	ReleaseV01 = "https://in-toto.io/attestation/release/v0.1"
	ReleaseV02 = "https://in-toto.io/attestation/release/v0.2"
	// ActionsIssuer is the OIDC issuer of GitHub Actions tokens.
	ActionsIssuer = "https://token.actions.githubusercontent.com"
)

// Mode is what kind of signer a policy expects.
type Mode string

const (
	// ModeWorkflow: an attestation made by a GitHub Actions workflow of the
	// repository (build provenance, SBOM).
	ModeWorkflow Mode = "workflow"
	// ModeRelease: GitHub's release attestation of an immutable release.
	ModeRelease Mode = "release"
	// ModeGeneric: any Sigstore signature by an exact certificate identity
	// and OIDC issuer, as cosign and the Sigstore conformance clients check.
	ModeGeneric Mode = "generic"
)

// Policy is what a verified bundle must say. The zero value of an optional
// field means "not checked"; every field that is checked is reported.
type Policy struct {
	// Repo is OWNER/REPO of the repository that must have built (workflow
	// mode) or released (release mode) the artifact.
	Repo string
	// RepoID is the repository's numeric id, compared with the
	// certificate's SourceRepositoryIdentifier when known (a deleted and
	// re-created repository of the same name has another id).
	RepoID string
	// GitHubURL is the GitHub host's web URL; default https://github.com.
	GitHubURL string
	// SignerWorkflow is the workflow that must have signed: a path
	// (.github/workflows/release.yml), OWNER/REPO/path, or a full URI with or
	// without @ref. Empty: any workflow of SignerRepo.
	SignerWorkflow string
	// SignerRepo is OWNER/REPO holding the signer workflow (reusable
	// workflows); empty means Repo.
	SignerRepo string
	// SourceRef, when set, must equal the certificate's SourceRepositoryRef.
	SourceRef string
	// SourceDigest, when set, must equal the certificate's
	// SourceRepositoryDigest (workflow mode) or the release's commit
	// (release mode).
	SourceDigest string
	// PredicateType is the statement's expected predicate type; empty means
	// ProvenanceV1 (workflow), ReleaseV01 or ReleaseV02 (release), any
	// (generic).
	PredicateType string
	// DenySelfHosted requires RunnerEnvironment "github-hosted".
	DenySelfHosted bool
	// Tag selects release mode: the release attestation of this tag.
	Tag string
	// CertIdentity and CertIssuer select generic mode: the certificate's
	// SAN and OIDC issuer must equal them.
	CertIdentity, CertIssuer string
}

// PolicyError is a policy that cannot be evaluated as written.
type PolicyError struct{ Msg, Fix string }

func (e *PolicyError) Error() string { return e.Msg }

// Hint says what to do.
func (e *PolicyError) Hint() string { return e.Fix }

// Mode is the policy's mode, from which fields are set.
func (p Policy) Mode() Mode {
	switch {
	case p.CertIdentity != "" || p.CertIssuer != "":
		return ModeGeneric
	case p.Tag != "":
		return ModeRelease
	}
	return ModeWorkflow
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// compiled is a validated policy with its derived values.
type compiled struct {
	Policy
	mode       Mode
	host       string         // github.com
	sourceRepo string         // https://github.com/OWNER/REPO
	signerRE   *regexp.Regexp // BuildSignerURI / SAN
	signerWant string         // human form of signerRE
}

func (p Policy) compile() (*compiled, error) {
	c := &compiled{Policy: p, mode: p.Mode()}
	if c.GitHubURL == "" {
		c.GitHubURL = "https://github.com"
	}
	u, err := url.Parse(c.GitHubURL)
	if err != nil || u.Host == "" {
		return nil, &PolicyError{Msg: fmt.Sprintf("invalid GitHub URL %q", c.GitHubURL), Fix: "pass --github-url https://HOST"}
	}
	c.host = u.Host
	switch c.mode {
	case ModeGeneric:
		if p.CertIdentity == "" || p.CertIssuer == "" {
			return nil, &PolicyError{Msg: "--cert-identity and --cert-oidc-issuer go together", Fix: "pass both, e.g. --cert-oidc-issuer " + ActionsIssuer}
		}
		return c, nil
	}
	if !repoRE.MatchString(p.Repo) {
		return nil, &PolicyError{Msg: fmt.Sprintf("repository %q is not OWNER/REPO", p.Repo), Fix: "pass --repo OWNER/REPO"}
	}
	c.sourceRepo = "https://" + c.host + "/" + p.Repo
	if c.mode == ModeRelease {
		return c, nil
	}
	signerRepo := p.Repo
	if p.SignerRepo != "" {
		if !repoRE.MatchString(p.SignerRepo) {
			return nil, &PolicyError{Msg: fmt.Sprintf("signer repository %q is not OWNER/REPO", p.SignerRepo), Fix: "pass --signer-repo OWNER/REPO"}
		}
		signerRepo = p.SignerRepo
	}
	base := "https://" + c.host + "/"
	w := p.SignerWorkflow
	switch {
	case w == "":
		c.signerWant = base + signerRepo + "/.github/workflows/*@*"
		c.signerRE = regexp.MustCompile(`(?i)^` + regexp.QuoteMeta(base+signerRepo+"/.github/workflows/") + `[^@]+@.+$`)
		return c, nil
	case strings.HasPrefix(w, "https://"):
	case strings.HasPrefix(w, ".github/workflows/"):
		w = base + signerRepo + "/" + w
	case strings.Contains(w, "/.github/workflows/"):
		w = base + w
	default:
		return nil, &PolicyError{Msg: fmt.Sprintf("signer workflow %q is not a workflow path or URI", p.SignerWorkflow),
			Fix: "pass --signer-workflow .github/workflows/release.yml (or OWNER/REPO/.github/workflows/x.yml, or its full URI)"}
	}
	i := strings.Index(w, "/.github/workflows/")
	if i < 0 {
		return nil, &PolicyError{Msg: fmt.Sprintf("signer workflow %q is not under .github/workflows/", p.SignerWorkflow),
			Fix: "pass the workflow file's path, e.g. --signer-workflow .github/workflows/release.yml"}
	}
	// Host, owner and repository names are case-insensitive on GitHub; the
	// workflow path and ref are not.
	prefix, rest := `(?i:`+regexp.QuoteMeta(w[:i])+`)`, regexp.QuoteMeta(w[i:])
	if strings.Contains(w, "@") {
		c.signerWant = w
		c.signerRE = regexp.MustCompile(`^` + prefix + rest + `$`)
	} else {
		c.signerWant = w + "@*"
		c.signerRE = regexp.MustCompile(`^` + prefix + rest + `@.+$`)
	}
	return c, nil
}

// predicateTypes are the accepted predicate types.
func (c *compiled) predicateTypes() []string {
	if c.PredicateType != "" {
		return []string{c.PredicateType}
	}
	switch c.mode {
	case ModeWorkflow:
		return []string{ProvenanceV1}
	case ModeRelease:
		return []string{ReleaseV01, ReleaseV02}
	}
	return nil
}
