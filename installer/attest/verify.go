package attest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/pipguard/pipguard/policy"
)

// Identity is what a verified certificate says about who signed. For GitHub
// Actions certificates these are the Fulcio OIDC extensions.
type Identity struct {
	SAN                        string `json:"san"`
	Issuer                     string `json:"issuer,omitempty"`
	CertificateIssuer          string `json:"certificate_issuer"`
	SourceRepositoryURI        string `json:"source_repository_uri,omitempty"`
	SourceRepositoryIdentifier string `json:"source_repository_identifier,omitempty"`
	SourceRepositoryRef        string `json:"source_repository_ref,omitempty"`
	SourceRepositoryDigest     string `json:"source_repository_digest,omitempty"`
	SourceRepositoryOwnerURI   string `json:"source_repository_owner_uri,omitempty"`
	BuildSignerURI             string `json:"build_signer_uri,omitempty"`
	BuildSignerDigest          string `json:"build_signer_digest,omitempty"`
	RunnerEnvironment          string `json:"runner_environment,omitempty"`
	BuildTrigger               string `json:"build_trigger,omitempty"`
	BuildConfigURI             string `json:"build_config_uri,omitempty"`
	RunInvocationURI           string `json:"run_invocation_uri,omitempty"`
}

func identityOf(s certificate.Summary) *Identity {
	e := s.Extensions
	return &Identity{
		SAN: s.SubjectAlternativeName, Issuer: e.Issuer, CertificateIssuer: s.CertificateIssuer,
		SourceRepositoryURI: e.SourceRepositoryURI, SourceRepositoryIdentifier: e.SourceRepositoryIdentifier,
		SourceRepositoryRef: e.SourceRepositoryRef, SourceRepositoryDigest: e.SourceRepositoryDigest,
		SourceRepositoryOwnerURI: e.SourceRepositoryOwnerURI,
		BuildSignerURI:           e.BuildSignerURI, BuildSignerDigest: e.BuildSignerDigest,
		RunnerEnvironment: e.RunnerEnvironment, BuildTrigger: e.BuildTrigger,
		BuildConfigURI: e.BuildConfigURI, RunInvocationURI: e.RunInvocationURI,
	}
}

// Release is what a verified release attestation says.
type Release struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Commit is the sha1 digest of the pkg:github/OWNER/REPO@TAG subject.
	Commit string `json:"commit,omitempty"`
}

// Timestamp is one verified time of signing.
type Timestamp struct {
	Kind string    `json:"kind"`
	URI  string    `json:"uri,omitempty"`
	Time time.Time `json:"time"`
}

// BundleReport is the outcome of one bundle.
type BundleReport struct {
	Source        string          `json:"source"`
	Deployment    Deployment      `json:"deployment,omitempty"`
	PredicateType string          `json:"predicate_type,omitempty"`
	Identity      *Identity       `json:"identity,omitempty"`
	Release       *Release        `json:"release,omitempty"`
	Timestamps    []Timestamp     `json:"timestamps,omitempty"`
	Verified      bool            `json:"verified"`
	Decision      policy.Decision `json:"decision"`
}

// Report is the outcome of verifying an artifact against bundles.
type Report struct {
	Artifact string            `json:"artifact"`
	Digests  map[string]string `json:"digests"`
	Mode     Mode              `json:"mode"`
	Verified bool              `json:"verified"`
	// Accepted is the index in Bundles of the bundle that satisfied the
	// whole policy; -1 when none did.
	Accepted int            `json:"accepted"`
	Bundles  []BundleReport `json:"bundles"`
}

// Error says that no bundle satisfied the policy. The Report has the details.
type Error struct {
	Artifact string
	// Reasons has one line per bundle: where it came from and its first
	// failed check.
	Reasons []string
	Fix     string
}

func (e *Error) Error() string { return e.Artifact + ": " + e.Detail() }

// Detail is the error without the artifact's name, for callers that
// already name it.
func (e *Error) Detail() string {
	if len(e.Reasons) == 0 {
		return "no attestation found"
	}
	reasons := e.Reasons
	more := ""
	if len(reasons) > MaxReasons {
		reasons = reasons[:MaxReasons]
		more = fmt.Sprintf("; and %d more (--format json shows every bundle)", len(e.Reasons)-MaxReasons)
	}
	shown := make([]string, len(reasons))
	for i, r := range reasons {
		shown[i] = printable(r, MaxReason)
	}
	return "no attestation satisfies the policy: " + strings.Join(shown, "; ") + more
}

// MaxReasons and MaxReason bound what Error prints: the first MaxReasons
// reasons (one per bundle), each cut at MaxReason characters: room for a
// reason that names two workflow URIs and a file path, never megabytes.
const (
	MaxReasons = 10
	MaxReason  = 2000
)

// Hint says what to do.
func (e *Error) Hint() string { return e.Fix }

// Verifier checks bundles against one policy and trusted material.
type Verifier struct {
	trust  *Trust
	policy *compiled
}

// NewVerifier validates the policy. It returns a *PolicyError when the
// policy cannot be evaluated.
func NewVerifier(trust *Trust, p Policy) (*Verifier, error) {
	c, err := p.compile()
	if err != nil {
		return nil, err
	}
	return &Verifier{trust: trust, policy: c}, nil
}

// Verify checks every bundle and succeeds when at least one satisfies the
// whole policy. The Report is returned in every case; the error is an
// *Error when no bundle verified, or a *TrustError when trusted material
// could not be had for any bundle that might otherwise have verified.
func (v *Verifier) Verify(a *Artifact, bundles []Bundle) (*Report, error) {
	rep := &Report{Artifact: a.Name, Mode: v.policy.mode, Accepted: -1, Bundles: []BundleReport{}}
	var trustErr error
	for _, b := range bundles {
		br, terr := v.verifyOne(a, b)
		if terr != nil && trustErr == nil {
			trustErr = terr
		}
		rep.Bundles = append(rep.Bundles, br)
		if br.Verified && rep.Accepted < 0 {
			rep.Accepted = len(rep.Bundles) - 1
			rep.Verified = true
		}
	}
	rep.Digests = a.Digests()
	if rep.Verified {
		return rep, nil
	}
	if trustErr != nil {
		return rep, trustErr
	}
	e := &Error{Artifact: a.Name, Fix: v.hint(rep)}
	for _, br := range rep.Bundles {
		if f := br.Decision.Failures(); len(f) > 0 {
			e.Reasons = append(e.Reasons, fmt.Sprintf("%s: %s", br.Source, f[0].Reason))
		}
	}
	return rep, e
}

func (v *Verifier) hint(rep *Report) string {
	if len(rep.Bundles) == 0 {
		return "pass the attestation bundle with --bundle FILE (gh attestation download writes one)"
	}
	for _, br := range rep.Bundles {
		for _, c := range br.Decision.Failures() {
			if c.Hint != "" {
				return c.Hint
			}
		}
	}
	return "run with --format json to see every check of every bundle"
}

// verifyOne runs every check on one bundle. The returned error is a
// *TrustError when the deployment's trusted material was unavailable.
func (v *Verifier) verifyOne(a *Artifact, b Bundle) (BundleReport, error) {
	br := BundleReport{Source: b.Where()}
	d := &br.Decision
	fail := func(name, expected, actual, reason, hint string) {
		d.Add(policy.Check{Name: name, Outcome: policy.Fail, Expected: expected, Actual: actual, Reason: reason, Hint: hint})
	}
	if b.Err != nil {
		fail("bundle", "a Sigstore bundle (v0.1 to v0.3)", "", b.Err.Error(), "")
		return br, nil
	}
	d.Add(policy.Check{Name: "bundle", Outcome: policy.Pass, Actual: mediaType(b)})

	vc, err := b.Bundle.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		fail("certificate", "a Fulcio certificate", "a public key", "the bundle is signed with a key, not a certificate with an identity", "")
		return br, nil
	}
	leaf := vc.Certificate()
	br.Deployment = deploymentOfLeaf(leaf)
	d.Add(policy.Check{Name: "deployment", Outcome: policy.Pass, Actual: string(br.Deployment),
		Reason: "from the certificate issuer " + leaf.Issuer.String()})

	material, err := v.trust.Material(br.Deployment)
	if err != nil {
		fix := ""
		var h interface{ Hint() string }
		if errors.As(err, &h) {
			fix = h.Hint()
		}
		fail("trusted-root", "trusted root of "+string(br.Deployment), "", err.Error(), fix)
		if errors.Is(err, ErrNoTrustedRoot) {
			return br, nil // a verification failure, not an outage
		}
		return br, err
	}

	alg, digest, err := v.chooseDigest(a, b)
	if err != nil {
		fail("subject-digest", "", "", err.Error(), "pass the artifact file itself, or its sha512:HEX digest")
		return br, nil
	}
	raw, _ := hex.DecodeString(digest)

	opts := profile(br.Deployment)
	sev, err := verify.NewVerifier(material, opts.options...)
	if err != nil {
		fail("signature", "", "", err.Error(), "")
		return br, nil
	}
	// Identity rules are evaluated below, one check each, so a refusal
	// names the field that differs; sigstore-go's own identity matcher is
	// then run as a second opinion. Nothing is accepted without both.
	res, err := sev.Verify(b.Bundle, verify.NewPolicy(verify.WithArtifactDigest(alg, raw), verify.WithoutIdentitiesUnsafe()))
	recordCrypto(d, opts.checks, err, alg+":"+digest)
	if err != nil {
		return br, nil
	}
	for _, ts := range res.VerifiedTimestamps {
		br.Timestamps = append(br.Timestamps, Timestamp{Kind: ts.Type, URI: ts.URI, Time: ts.Timestamp.UTC()})
	}
	summary := res.Signature.Certificate
	br.Identity = identityOf(*summary)

	stmt := res.Statement
	if stmt != nil {
		br.PredicateType = stmt.GetPredicateType()
	}
	if want := v.policy.predicateTypes(); len(want) > 0 {
		switch {
		case stmt == nil:
			fail("predicate-type", strings.Join(want, " or "), "(no statement)", "the bundle signs a message, not an in-toto statement", "")
		case !slices.Contains(want, br.PredicateType):
			fail("predicate-type", strings.Join(want, " or "), br.PredicateType,
				fmt.Sprintf("expected predicate type %q, got %q", strings.Join(want, " or "), br.PredicateType),
				"pass --predicate-type "+br.PredicateType+" if that is the attestation you meant")
		default:
			d.Add(policy.Check{Name: "predicate-type", Outcome: policy.Pass, Expected: strings.Join(want, " or "), Actual: br.PredicateType})
		}
	}

	switch v.policy.mode {
	case ModeWorkflow:
		v.checkWorkflow(d, br.Identity)
		v.secondOpinion(d, *summary, ActionsIssuer, v.policy.signerRE.String())
	case ModeGeneric:
		v.checkGeneric(d, br.Identity)
		v.secondOpinion(d, *summary, v.policy.CertIssuer, "^"+regexp.QuoteMeta(v.policy.CertIdentity)+"$")
	case ModeRelease:
		br.Release = v.checkRelease(d, br.Identity, stmt)
	}
	br.Verified = d.Verdict() == policy.Accept
	return br, nil
}

func mediaType(b Bundle) string {
	if b.Bundle.Bundle != nil {
		return b.Bundle.Bundle.GetMediaType()
	}
	return ""
}

// chooseDigest picks the digest to verify with: sha256 when a subject of
// the (not yet verified) statement has one, else sha512. Choosing from
// unverified data is safe: sigstore-go then verifies that the chosen digest
// is one of the signed subjects.
func (v *Verifier) chooseDigest(a *Artifact, b Bundle) (string, string, error) {
	alg := "sha256"
	if env, err := b.Bundle.Envelope(); err == nil && env != nil {
		if st, err := env.Statement(); err == nil {
			has := map[string]bool{}
			for _, s := range st.GetSubject() {
				for k := range s.GetDigest() {
					has[k] = true
				}
			}
			if !has["sha256"] && has["sha512"] {
				alg = "sha512"
			}
		}
	}
	digest, err := a.Digest(alg)
	if err != nil {
		return "", "", fmt.Errorf("the statement's subjects carry only %s digests, and %v", alg, err)
	}
	return alg, digest, nil
}

// deploymentProfile is the evidence a deployment's bundles must carry, and
// the names of the checks it makes, in sigstore-go's order.
type deploymentProfile struct {
	options []verify.VerifierOption
	checks  []string
}

func profile(d Deployment) deploymentProfile {
	if d == GitHub {
		// GitHub's instance has no log and no CT; every signature carries
		// an RFC 3161 timestamp from GitHub's TSA.
		return deploymentProfile{
			options: []verify.VerifierOption{verify.WithSignedTimestamps(1)},
			checks:  []string{"timestamps", "certificate-chain", "signature", "subject-digest"},
		}
	}
	// Public-good: a Rekor entry (inclusion promise or proof), an SCT
	// embedded in the certificate, and a time from the log or a TSA.
	return deploymentProfile{
		options: []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithSignedCertificateTimestamps(1), verify.WithObserverTimestamps(1)},
		checks:  []string{"transparency-log", "timestamps", "certificate-chain", "certificate-transparency", "signature", "subject-digest"},
	}
}

// cryptoFailure maps sigstore-go's error prefixes to check names.
var cryptoFailure = []struct{ prefix, check, hint string }{
	{"failed to verify log inclusion", "transparency-log", "a public-good bundle needs a Rekor entry from a log in the trusted root"},
	{"failed to verify timestamps", "timestamps", "the bundle needs a signed time from a TSA (or log) in the trusted root; pass the right --trusted-root"},
	{"failed to verify leaf certificate", "certificate-chain", "the certificate must chain to a CA of the trusted root and be valid at the signing time"},
	{"failed to verify signed certificate timestamp", "certificate-transparency", "a public-good certificate needs an SCT from a CT log in the trusted root"},
	{"failed to verify signature: provided artifact digest", "subject-digest", "the attestation is for another artifact: check you passed the right file"},
	{"failed to verify signature", "signature", ""},
}

func recordCrypto(d *policy.Decision, checks []string, err error, digest string) {
	failed, reason, hint := "", "", ""
	if err != nil {
		failed, reason = "signature", err.Error()
		for _, m := range cryptoFailure {
			if strings.HasPrefix(err.Error(), m.prefix) && slices.Contains(checks, m.check) {
				failed, hint = m.check, m.hint
				break
			}
		}
		if failed == "subject-digest" {
			reason = "the artifact's digest " + digest + " is not a subject of the attestation"
		}
		reason = strings.ReplaceAll(reason, "%!w(<nil>)", "none verified") // a sigstore-go formatting quirk
	}
	outcome := policy.Pass
	for _, c := range checks {
		switch {
		case c == failed:
			d.Add(policy.Check{Name: c, Outcome: policy.Fail, Reason: reason, Hint: hint})
			outcome = policy.NotChecked
		case c == "subject-digest" && outcome == policy.Pass:
			d.Add(policy.Check{Name: c, Outcome: outcome, Actual: digest})
		default:
			d.Add(policy.Check{Name: c, Outcome: outcome})
		}
	}
}

// field adds an equality check of one identity field.
func field(d *policy.Decision, name, label, want, got string, fold bool, hint string) {
	eq := want == got
	if fold {
		eq = strings.EqualFold(want, got)
	}
	if eq {
		d.Add(policy.Check{Name: name, Outcome: policy.Pass, Expected: want, Actual: got})
		return
	}
	d.Add(policy.Check{Name: name, Outcome: policy.Fail, Expected: want, Actual: got,
		Reason: fmt.Sprintf("expected %s %q, got %q", label, want, got), Hint: hint})
}

func (v *Verifier) checkWorkflow(d *policy.Decision, id *Identity) {
	p := v.policy
	field(d, "issuer", "OIDC issuer", ActionsIssuer, id.Issuer, false, "")
	field(d, "source-repository", "SourceRepositoryURI", p.sourceRepo, id.SourceRepositoryURI, true,
		"the artifact was built from another repository (a fork?): check --repo")
	if p.RepoID != "" {
		field(d, "source-repository-id", "SourceRepositoryIdentifier", p.RepoID, id.SourceRepositoryIdentifier, false,
			"the repository was deleted and re-created under the same name")
	}
	if p.signerRE.MatchString(id.BuildSignerURI) {
		d.Add(policy.Check{Name: "signer-workflow", Outcome: policy.Pass, Expected: p.signerWant, Actual: id.BuildSignerURI})
	} else {
		hint := "pass --signer-workflow with the workflow that builds releases"
		if id.SourceRepositoryURI != "" && !strings.HasPrefix(strings.ToLower(id.BuildSignerURI), strings.ToLower(id.SourceRepositoryURI+"/")) {
			hint = "signed by a reusable workflow of another repository: pass --signer-repo OWNER/REPO if you trust it"
		}
		d.Add(policy.Check{Name: "signer-workflow", Outcome: policy.Fail, Expected: p.signerWant, Actual: id.BuildSignerURI,
			Reason: fmt.Sprintf("expected BuildSignerURI %q, got %q", p.signerWant, id.BuildSignerURI), Hint: hint})
	}
	if p.SourceRef != "" {
		field(d, "source-ref", "SourceRepositoryRef", p.SourceRef, id.SourceRepositoryRef, false,
			"source_refs = [\""+id.SourceRepositoryRef+"\"] in the repository's policy table (or --source-ref "+id.SourceRepositoryRef+") would accept it, if that is how the project builds releases")
	} else {
		d.Add(policy.Check{Name: "source-ref", Outcome: policy.NotChecked, Actual: id.SourceRepositoryRef})
	}
	if p.SourceDigest != "" {
		field(d, "source-digest", "SourceRepositoryDigest", p.SourceDigest, id.SourceRepositoryDigest, true, "")
	} else {
		d.Add(policy.Check{Name: "source-digest", Outcome: policy.NotChecked, Actual: id.SourceRepositoryDigest})
	}
	if p.DenySelfHosted {
		field(d, "runner-environment", "RunnerEnvironment", "github-hosted", id.RunnerEnvironment, false,
			"the build ran on a self-hosted runner, which the repository's owner controls")
	} else {
		d.Add(policy.Check{Name: "runner-environment", Outcome: policy.Pass, Actual: id.RunnerEnvironment, Reason: "any runner allowed"})
	}
}

func (v *Verifier) checkGeneric(d *policy.Decision, id *Identity) {
	field(d, "issuer", "OIDC issuer", v.policy.CertIssuer, id.Issuer, false, "")
	field(d, "san", "certificate identity (SAN)", v.policy.CertIdentity, id.SAN, false, "")
}

// secondOpinion runs sigstore-go's own certificate identity matcher.
func (v *Verifier) secondOpinion(d *policy.Decision, s certificate.Summary, issuer, sanRE string) {
	ci, err := verify.NewShortCertificateIdentity(issuer, "", "", sanRE)
	if err == nil {
		err = ci.Verify(s)
	}
	if err != nil {
		d.Add(policy.Check{Name: "identity", Outcome: policy.Fail, Reason: err.Error()})
		return
	}
	d.Add(policy.Check{Name: "identity", Outcome: policy.Pass, Reason: "sigstore-go certificate identity matcher agrees"})
}

// releaseSAN is the SAN of GitHub's release attestation signer
// (https://dotcom.releases.github.com on github.com).
var releaseSAN = regexp.MustCompile(`^https://[a-z0-9-]+\.releases\.github\.com$`)

func (v *Verifier) checkRelease(d *policy.Decision, id *Identity, stmt *intoto.Statement) *Release {
	p := v.policy
	if releaseSAN.MatchString(id.SAN) && id.Issuer == "" {
		d.Add(policy.Check{Name: "release-signer", Outcome: policy.Pass, Expected: "https://*.releases.github.com", Actual: id.SAN})
	} else {
		d.Add(policy.Check{Name: "release-signer", Outcome: policy.Fail, Expected: "https://*.releases.github.com, no OIDC issuer", Actual: id.SAN + " " + id.Issuer,
			Reason: fmt.Sprintf("expected GitHub's release signer, got SAN %q issuer %q", id.SAN, id.Issuer)})
	}
	rel := &Release{}
	if stmt == nil || stmt.GetPredicate() == nil {
		d.Add(policy.Check{Name: "release-predicate", Outcome: policy.Fail, Reason: "the statement has no release predicate"})
		return rel
	}
	raw, _ := stmt.GetPredicate().MarshalJSON()
	var pred struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	}
	if err := json.Unmarshal(raw, &pred); err != nil {
		d.Add(policy.Check{Name: "release-predicate", Outcome: policy.Fail, Reason: "malformed release predicate: " + err.Error()})
		return rel
	}
	rel.Repository, rel.Tag = pred.Repository, pred.Tag
	field(d, "release-repository", "release repository", p.Repo, pred.Repository, true, "")
	field(d, "release-tag", "release tag", p.Tag, pred.Tag, false, "")
	purl := "pkg:github/" + strings.ToLower(p.Repo) + "@" + p.Tag
	for _, s := range stmt.GetSubject() {
		if strings.EqualFold(s.GetUri(), purl) || strings.EqualFold(s.GetName(), purl) {
			rel.Commit = s.GetDigest()["sha1"]
		}
	}
	switch {
	case rel.Commit == "":
		d.Add(policy.Check{Name: "release-commit", Outcome: policy.Fail, Expected: purl + " with a sha1 digest",
			Reason: "the release attestation has no subject " + purl + " naming its commit"})
	case p.SourceDigest != "":
		field(d, "release-commit", "release commit", p.SourceDigest, rel.Commit, true, "the tag was moved after the release was published")
	default:
		d.Add(policy.Check{Name: "release-commit", Outcome: policy.Pass, Actual: rel.Commit})
	}
	return rel
}
