package provenance

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/pipguard/pipguard/policy"
)

// Predicate types PEP 740 allows.
const (
	// PublishV1 is PyPI's publish attestation; its predicate is null or {}.
	PublishV1 = "https://docs.pypi.org/attestations/publish/v1"
	// SLSAProvenanceV1 is SLSA build provenance.
	SLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// StatementV1 is the in-toto statement type.
	StatementV1 = "https://in-toto.io/Statement/v1"
)

// Expected is what the caller knows about the file: its name, the sha256
// of the bytes it will install, and (optionally) the publisher that must
// have attested it.
type Expected struct {
	// Filename is the distribution's file name, as the lock has it.
	Filename string
	// SHA256 is the lowercase or uppercase hex sha256 the caller computed.
	SHA256 string
	// Publisher, when set, is the identity every attestation must carry.
	// When nil, any Trusted Publisher is accepted and the result says who.
	Publisher *Publisher
}

// Timestamp is one verified time of signing (log integration or TSA).
type Timestamp struct {
	Kind string    `json:"kind"`
	URI  string    `json:"uri,omitempty"`
	Time time.Time `json:"time"`
}

// AttestationResult is the outcome of one attestation.
type AttestationResult struct {
	// Source names it: "attestation_bundles[0].attestations[0]" or a file.
	Source string `json:"source"`
	// IndexPublisher is the index's unsigned claim, shown, never trusted.
	IndexPublisher *IndexPublisher `json:"index_publisher,omitempty"`
	// Publisher is read from the verified certificate.
	Publisher     *Publisher  `json:"publisher,omitempty"`
	PredicateType string      `json:"predicate_type,omitempty"`
	LogIndex      int64       `json:"log_index,omitempty"`
	Timestamps    []Timestamp `json:"timestamps,omitempty"`
	Verified      bool        `json:"verified"`
	// Unverifiable says the attestation could not be checked at all (an
	// unsupported form), as opposed to checked and found wrong.
	Unverifiable bool            `json:"unverifiable,omitempty"`
	Decision     policy.Decision `json:"decision"`
}

// Result is the outcome of verifying a file's provenance.
type Result struct {
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	// Verified is true when there is at least one attestation and every
	// attestation verified.
	Verified bool `json:"verified"`
	// Publisher is the verified identity (from the certificates), set when
	// Verified.
	Publisher    *Publisher          `json:"publisher,omitempty"`
	Attestations []AttestationResult `json:"attestations"`
}

// Sentinels an *Error wraps.
var (
	// ErrNoProvenance: the index publishes no provenance for the file, or
	// one without attestations. Never a pass.
	ErrNoProvenance = errors.New("no provenance")
	// ErrRefused: an attestation was checked and does not hold.
	ErrRefused = errors.New("provenance does not verify")
)

// Error says why a file's provenance was not accepted. It wraps
// ErrNoProvenance, ErrRefused or ErrUnverifiable.
type Error struct {
	Filename string
	// Reasons has one line per failed attestation: where, and its first
	// failed check.
	Reasons []string
	Fix     string
	Err     error
}

func (e *Error) Error() string {
	if len(e.Reasons) == 0 {
		return fmt.Sprintf("%s: %v", e.Filename, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Filename, e.Err, strings.Join(e.Reasons, "; "))
}

func (e *Error) Unwrap() error { return e.Err }

// Hint says what to do.
func (e *Error) Hint() string { return e.Fix }

// Verifier verifies attestations against one trusted root.
type Verifier struct {
	sv *verify.Verifier
}

// NewVerifier returns a verifier for Sigstore's public-good profile over
// the caller's trusted material: a transparency log entry (with its
// inclusion proof: bundle v0.3 requires one), an embedded SCT, and a
// signing time from the log or a TSA of the material; the certificate
// must be valid at that time. The current time is never used.
func NewVerifier(material root.TrustedMaterial) (*Verifier, error) {
	if material == nil {
		return nil, errors.New("provenance: no trusted material")
	}
	sv, err := verify.NewVerifier(material,
		verify.WithTransparencyLog(1),
		verify.WithSignedCertificateTimestamps(1),
		verify.WithObserverTimestamps(1),
		verify.WithoutStatementPredicate(),
	)
	if err != nil {
		return nil, err
	}
	return &Verifier{sv: sv}, nil
}

// cryptoFailure maps sigstore-go's error prefixes to check names, in the
// order sigstore-go verifies.
var cryptoChecks = []struct{ prefix, check, hint string }{
	{"failed to verify log inclusion", "transparency-log", "the entry is not in a transparency log of the trusted root (a staging attestation against production, or the reverse?)"},
	{"failed to verify timestamps", "timestamps", "the attestation needs a signed time from a log or TSA of the trusted root"},
	{"failed to verify leaf certificate", "certificate-chain", "the certificate must chain to a Fulcio CA of the trusted root and be valid at the signing time"},
	{"failed to verify signed certificate timestamp", "certificate-transparency", "the certificate needs an SCT from a CT log of the trusted root"},
	{"failed to verify signature: provided artifact digest", "subject-digest", "the attestation is for other bytes than the file that will be installed"},
	{"failed to verify signature", "signature", ""},
}

func recordCrypto(d *policy.Decision, err error) {
	failed, reason, hint := "", "", ""
	if err != nil {
		failed, reason = "signature", err.Error()
		for _, m := range cryptoChecks {
			if strings.HasPrefix(reason, m.prefix) {
				failed, hint = m.check, m.hint
				break
			}
		}
		reason = strings.ReplaceAll(reason, "%!w(<nil>)", "none verified") // a sigstore-go formatting quirk
	}
	outcome := policy.Pass
	for _, m := range cryptoChecks {
		if m.check == "signature" && m.prefix != "failed to verify signature" {
			continue
		}
		switch {
		case m.check == failed:
			d.Add(policy.Check{Name: m.check, Outcome: policy.Fail, Reason: reason, Hint: hint})
			outcome = policy.NotChecked
		default:
			d.Add(policy.Check{Name: m.check, Outcome: outcome})
		}
	}
}

// statement is the in-toto statement as PEP 740 uses it.
type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// VerifyAttestation verifies one attestation for the expected file. It
// never returns early on a rule that can be evaluated: every check is in
// the Decision.
func (v *Verifier) VerifyAttestation(a *Attestation, want Expected) AttestationResult {
	return v.verify("attestation", a, nil, want)
}

func (v *Verifier) verify(source string, a *Attestation, ip *IndexPublisher, want Expected) AttestationResult {
	r := AttestationResult{Source: source, IndexPublisher: ip}
	d := &r.Decision
	fail := func(name, expected, actual, reason, hint string) {
		d.Add(policy.Check{Name: name, Outcome: policy.Fail, Expected: expected, Actual: actual, Reason: reason, Hint: hint})
	}
	wantDist, err := ParseDist(want.Filename)
	if err != nil {
		fail("expected-file", "a wheel or sdist file name", want.Filename, err.Error(), "")
		return r
	}
	digest, err := hex.DecodeString(want.SHA256)
	if err != nil || len(digest) != 32 {
		fail("expected-file", "a sha256 digest", want.SHA256, "not a sha256 hex digest", "")
		return r
	}
	wantHex := hex.EncodeToString(digest)

	pb, err := ToBundle(a)
	var b *bundle.Bundle
	if err == nil {
		b, err = bundle.NewBundle(pb)
	}
	if err != nil {
		if kv := pb.GetVerificationMaterial().GetTlogEntries(); len(kv) > 0 && kv[0].GetKindVersion().GetKind() == "dsse" && kv[0].GetKindVersion().GetVersion() == "0.0.2" {
			r.Unverifiable = true
			fail("bundle", "a Rekor v1 entry, or a Rekor v2 hashedrekord 0.0.2 entry", "Rekor v2 dsse 0.0.2",
				"unverifiable: a Rekor v2 entry of kind dsse 0.0.2, a form Rekor v2 dropped (it logs DSSE as hashedrekord 0.0.2); sigstore-go v1.3.0 rejects it while loading the bundle: "+printable(err.Error(), 300),
				"ask the publisher to re-attest with a current Sigstore client")
			return r
		}
		fail("bundle", "a Sigstore bundle v0.3", "", "the attestation is not a valid Sigstore bundle: "+printable(err.Error(), 300), "")
		return r
	}
	d.Add(policy.Check{Name: "bundle", Outcome: policy.Pass, Actual: BundleMediaType})
	if tl := pb.GetVerificationMaterial().GetTlogEntries(); len(tl) > 0 {
		r.LogIndex = tl[0].GetLogIndex()
	}

	// Sigstore client spec, verification: the certificate chain, the log
	// entry and its inclusion proof, the SCT, the signing time inside the
	// certificate's validity, then the signature over the DSSE PAE and
	// the artifact's digest among the statement's subjects.
	res, err := v.sv.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithoutIdentitiesUnsafe()))
	recordCrypto(d, err)
	if err != nil {
		return r
	}
	for _, ts := range res.VerifiedTimestamps {
		r.Timestamps = append(r.Timestamps, Timestamp{Kind: ts.Type, URI: ts.URI, Time: ts.Timestamp.UTC()})
	}

	// The statement, now verified: the payload's bytes are the ones the
	// signature covers.
	var st statement
	dec := json.NewDecoder(bytes.NewReader(a.Envelope.Statement))
	if err := dec.Decode(&st); err != nil {
		fail("statement", "an in-toto statement", "", "the signed payload is not an in-toto statement: "+printable(err.Error(), 160), "")
		return r
	}
	if st.Type != StatementV1 {
		fail("statement", StatementV1, st.Type, fmt.Sprintf("expected statement type %q, got %q", StatementV1, st.Type), "")
	} else {
		d.Add(policy.Check{Name: "statement", Outcome: policy.Pass, Actual: st.Type})
	}
	r.PredicateType = st.PredicateType

	// PEP 740: "the attestation's statement MUST have exactly one subject".
	if n := len(st.Subject); n != 1 {
		fail("subjects", "1", fmt.Sprint(n), fmt.Sprintf("expected exactly one subject in the statement, got %d", n), "")
	} else {
		s := st.Subject[0]
		d.Add(policy.Check{Name: "subjects", Outcome: policy.Pass, Expected: "1", Actual: "1"})
		got, err := ParseDist(s.Name)
		switch {
		case err != nil:
			fail("subject-name", want.Filename, s.Name, "invalid subject: "+err.Error(), "")
		case !got.Equal(wantDist):
			fail("subject-name", wantDist.String(), got.String(),
				fmt.Sprintf("subject does not match distribution name: %s != %s", printable(s.Name, 200), want.Filename),
				"the attestation is for another file than the one that will be installed")
		default:
			d.Add(policy.Check{Name: "subject-name", Outcome: policy.Pass, Expected: want.Filename, Actual: s.Name})
		}
		gotHex := strings.ToLower(s.Digest["sha256"])
		if gotHex != wantHex {
			fail("subject-sha256", wantHex, gotHex, fmt.Sprintf("expected subject sha256 %s, got %q", wantHex, printable(gotHex, 80)), "")
		} else {
			d.Add(policy.Check{Name: "subject-sha256", Outcome: policy.Pass, Expected: wantHex, Actual: gotHex})
		}
	}
	switch st.PredicateType {
	case PublishV1:
		p := bytes.TrimSpace(st.Predicate)
		if len(p) == 0 || string(p) == "null" || isEmptyObject(p) {
			d.Add(policy.Check{Name: "predicate-type", Outcome: policy.Pass, Expected: PublishV1 + " or " + SLSAProvenanceV1, Actual: st.PredicateType})
		} else {
			fail("predicate-type", PublishV1+" with a null or empty predicate", printable(string(p), 80),
				"a publish attestation's predicate must be null or {}", "")
		}
	case SLSAProvenanceV1:
		d.Add(policy.Check{Name: "predicate-type", Outcome: policy.Pass, Expected: PublishV1 + " or " + SLSAProvenanceV1, Actual: st.PredicateType})
	default:
		fail("predicate-type", PublishV1+" or "+SLSAProvenanceV1, st.PredicateType,
			fmt.Sprintf("unknown attestation type: %q", printable(st.PredicateType, 200)), "")
	}

	// The publisher: from the verified certificate only.
	summary := res.Signature.Certificate
	if summary == nil {
		fail("publisher", "a certificate", "a public key", "the attestation is not signed with a certificate", "")
		return r
	}
	pub, perr := PublisherFromCertificate(*summary)
	r.Publisher = &pub
	if want.Publisher != nil {
		pol, err := PolicyFor(*want.Publisher)
		if err != nil {
			fail("publisher", want.Publisher.String(), pub.String(), err.Error(), "")
			if errors.Is(err, ErrUnverifiable) {
				r.Unverifiable = true
			}
		} else {
			for _, c := range pol.Check(*summary) {
				d.Add(c)
			}
		}
		if env := want.Publisher.Environment; env != "" {
			claim := ""
			if ip != nil && ip.Environment != nil {
				claim = *ip.Environment
			}
			if claim == env {
				d.Add(policy.Check{Name: "environment", Outcome: policy.Warn, Expected: env, Actual: claim,
					Reason: "the index says so; no certificate carries the environment, so this is the index's unsigned claim"})
			} else {
				fail("environment", env, claim, fmt.Sprintf("expected environment %q, the index says %q (its unsigned claim: no certificate carries it)", env, claim), "")
			}
		}
	} else {
		switch {
		case perr != nil:
			fail("publisher", "a Trusted Publisher identity", pub.SAN, perr.Error(), "")
		case pub.Kind == "":
			d.Add(policy.Check{Name: "publisher", Outcome: policy.NotChecked, Actual: pub.String(),
				Reason: fmt.Sprintf("issuer %q is not a Trusted Publisher kind pipguard can verify (GitHub, GitLab, Google)", pub.Issuer)})
		default:
			d.Add(policy.Check{Name: "publisher", Outcome: policy.Pass, Actual: pub.String(), Reason: "no publisher pinned: any Trusted Publisher"})
		}
	}
	if ip != nil && ip.Kind != "" {
		d.Add(indexClaim(*ip, pub))
	}
	r.Verified = d.Verdict() == policy.Accept
	return r
}

func isEmptyObject(p []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(p, &m) == nil && m != nil && len(m) == 0
}

// indexClaim compares the index's unsigned publisher object with the
// certificate's identity. A difference is shown, never trusted either way.
func indexClaim(ip IndexPublisher, pub Publisher) policy.Check {
	claim := Publisher{Kind: ip.Kind, Repository: ip.Repository, Workflow: ip.Workflow, WorkflowFilepath: ip.WorkflowFilepath, Email: ip.Email}
	c := policy.Check{Name: "index-publisher", Outcome: policy.Pass, Expected: claim.String(), Actual: pub.String(),
		Reason: "the index's publisher object (unsigned) agrees with the certificate"}
	var diff []string
	for _, m := range pub.Matches(claim) {
		if m.Outcome == policy.Fail {
			diff = append(diff, m.Reason)
		}
	}
	if len(diff) > 0 {
		c.Outcome = policy.Warn
		c.Reason = "the index's publisher object (unsigned, not used) disagrees with the certificate: " + strings.Join(diff, "; ")
	}
	return c
}

// VerifyProvenance verifies every attestation of a provenance object for
// the expected file. It succeeds when there is at least one attestation
// and every one verifies; an empty provenance is ErrNoProvenance. The
// Result is returned in every case with one AttestationResult each.
func (v *Verifier) VerifyProvenance(p *Provenance, want Expected) (*Result, error) {
	res := &Result{Filename: want.Filename, SHA256: strings.ToLower(want.SHA256), Attestations: []AttestationResult{}}
	if want.Publisher != nil {
		if _, err := PolicyFor(*want.Publisher); err != nil {
			return res, &Error{Filename: want.Filename, Reasons: []string{err.Error()}, Err: err,
				Fix: "pin a GitHub, GitLab or Google publisher (--publisher KIND:IDENTITY)"}
		}
	}
	if p == nil || p.Count() == 0 {
		return res, &Error{Filename: want.Filename, Err: ErrNoProvenance,
			Fix: "the index lists no attestation for this file: it was not uploaded with Trusted Publishing"}
	}
	for i, b := range p.AttestationBundles {
		ip := b.Publisher
		for j := range b.Attestations {
			src := fmt.Sprintf("attestation_bundles[%d].attestations[%d]", i, j)
			res.Attestations = append(res.Attestations, v.verify(src, &b.Attestations[j], &ip, want))
		}
	}
	all, unverifiable := true, true
	e := &Error{Filename: want.Filename}
	for _, ar := range res.Attestations {
		if ar.Verified {
			continue
		}
		all = false
		unverifiable = unverifiable && ar.Unverifiable
		if f := ar.Decision.Failures(); len(f) > 0 {
			e.Reasons = append(e.Reasons, ar.Source+": "+f[0].Reason)
			if e.Fix == "" {
				e.Fix = f[0].Hint
			}
		}
	}
	if all {
		first := res.Attestations[0].Publisher
		for _, ar := range res.Attestations[1:] {
			if !samePublisher(*first, *ar.Publisher) {
				all, unverifiable = false, false
				e.Reasons = append(e.Reasons, fmt.Sprintf("%s: attested by %s, another attestation by %s", ar.Source, ar.Publisher, first))
			}
		}
		if all {
			res.Verified, res.Publisher = true, first
			return res, nil
		}
	}
	e.Err = ErrRefused
	if unverifiable {
		e.Err = ErrUnverifiable
	}
	if e.Fix == "" {
		e.Fix = "see every check of every attestation in the JSON report"
	}
	return res, e
}

func samePublisher(a, b Publisher) bool {
	if a.Kind != b.Kind || !strings.EqualFold(a.Repository, b.Repository) {
		return false
	}
	return a.Workflow == b.Workflow && a.WorkflowFilepath == b.WorkflowFilepath && a.Email == b.Email && (a.Kind != "" || a.SAN == b.SAN && a.Issuer == b.Issuer)
}

// Publishers are the distinct identities of verified attestations, for
// display.
func (r *Result) Publishers() []Publisher {
	var out []Publisher
	for _, a := range r.Attestations {
		if a.Publisher != nil && !slices.ContainsFunc(out, func(p Publisher) bool { return samePublisher(p, *a.Publisher) }) {
			out = append(out, *a.Publisher)
		}
	}
	return out
}
