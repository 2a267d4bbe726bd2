package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipguard/pipguard/internal/termsafe"
)

// Limits on what is read. Real provenance objects are about 10 KiB with
// one attestation; PyPI accepts at most a few attestations per file.
const (
	// MaxProvenance bounds a provenance object (or a bare attestation).
	MaxProvenance = 1 << 20
	// MaxBundles bounds attestation_bundles; MaxAttestations bounds the
	// attestations of all bundles together.
	MaxBundles      = 16
	MaxAttestations = 32
	// MaxEntries bounds transparency_entries and timestamps of one
	// attestation.
	MaxEntries = 8
	// MaxCertificate, MaxStatement and MaxSignature bound the decoded
	// fields of one attestation.
	MaxCertificate = 32 << 10
	MaxStatement   = 256 << 10
	MaxSignature   = 1 << 10
)

// Media types of what ToBundle writes.
const (
	BundleMediaType   = "application/vnd.dev.sigstore.bundle.v0.3+json"
	InTotoPayloadType = "application/vnd.in-toto+json"
)

// Provenance is a PEP 740 provenance object: "version" 1 and one or more
// attestation bundles, each the attestations of one publisher.
type Provenance struct {
	Version            int                 `json:"version"`
	AttestationBundles []AttestationBundle `json:"attestation_bundles"`
}

// AttestationBundle is the attestations of one Trusted Publisher.
type AttestationBundle struct {
	// Publisher is what the index says about the publisher: unsigned, for
	// comparison and display only.
	Publisher    IndexPublisher `json:"publisher"`
	Attestations []Attestation  `json:"attestations"`
}

// IndexPublisher is the index's (unsigned) publisher object. PEP 740:
// "kind" is required; the other keys depend on the kind; "claims" is an
// optional free-form object.
type IndexPublisher struct {
	Kind             string          `json:"kind"`
	Repository       string          `json:"repository,omitempty"`
	Workflow         string          `json:"workflow,omitempty"`
	WorkflowFilepath string          `json:"workflow_filepath,omitempty"`
	Email            string          `json:"email,omitempty"`
	Environment      *string         `json:"environment,omitempty"`
	Claims           json.RawMessage `json:"claims,omitempty"`
}

// Attestation is a PEP 740 attestation object.
type Attestation struct {
	Version              int                  `json:"version"`
	VerificationMaterial VerificationMaterial `json:"verification_material"`
	Envelope             Envelope             `json:"envelope"`
}

// VerificationMaterial is the certificate and the log entries (and, in
// pypi-attestations' unreleased timestamp support, RFC 3161 timestamps).
type VerificationMaterial struct {
	// Certificate is the DER leaf certificate.
	Certificate []byte `json:"certificate"`
	// TransparencyEntries are protobuf-JSON TransparencyLogEntry objects,
	// kept verbatim.
	TransparencyEntries []json.RawMessage `json:"transparency_entries"`
	// Timestamps are DER RFC 3161 timestamp responses (optional).
	Timestamps [][]byte `json:"timestamps,omitempty"`
}

// Envelope is the signed statement: "a base64-encoded in-toto statement"
// and its signature over the DSSE PAE of it.
type Envelope struct {
	Statement []byte `json:"statement"`
	Signature []byte `json:"signature"`
}

// FormatError is input that is not a valid provenance or attestation
// object: malformed JSON, a wrong version, a missing field, a size limit.
type FormatError struct {
	// Where names the part, e.g. "attestation_bundles[0].attestations[1]".
	Where string
	Err   error
}

func (e *FormatError) Error() string {
	if e.Where == "" {
		return "provenance: " + e.Err.Error()
	}
	return "provenance: " + e.Where + ": " + e.Err.Error()
}

func (e *FormatError) Unwrap() error { return e.Err }

// ErrTooLarge is a document or field over its size limit.
var ErrTooLarge = errors.New("too large")

func formatErr(where, f string, a ...any) error {
	return &FormatError{Where: where, Err: fmt.Errorf(f, a...)}
}

// version reads a "version" member that must be the integer 1.
func version(where string, raw json.RawMessage) (int, error) {
	if raw == nil {
		return 0, formatErr(where, "no \"version\"")
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return 0, formatErr(where, "\"version\" is not a number: %s", printable(string(raw), 40))
	}
	if n.String() != "1" {
		return 0, formatErr(where, "unsupported version %s (expected 1)", printable(n.String(), 40))
	}
	return 1, nil
}

// ParseProvenance parses a PEP 740 provenance object. Extra keys are
// tolerated; a version other than 1 is rejected before anything else is
// read; every attestation is parsed (ParseAttestation's rules).
func ParseProvenance(data []byte) (*Provenance, error) {
	if len(data) > MaxProvenance {
		return nil, &FormatError{Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxProvenance)}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, &FormatError{Err: fmt.Errorf("not a provenance object: %s", printable(err.Error(), 160))}
	}
	// The version first: a provenance object of another version may be
	// shaped differently in every other member.
	if _, err := version("", obj["version"]); err != nil {
		return nil, err
	}
	var top struct {
		Bundles []json.RawMessage `json:"attestation_bundles"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, &FormatError{Err: fmt.Errorf("not a provenance object: %s", printable(err.Error(), 160))}
	}
	if top.Bundles == nil {
		return nil, formatErr("", "no \"attestation_bundles\"")
	}
	if len(top.Bundles) > MaxBundles {
		return nil, formatErr("", "%w: %d attestation bundles, the limit is %d", ErrTooLarge, len(top.Bundles), MaxBundles)
	}
	p := &Provenance{Version: 1, AttestationBundles: []AttestationBundle{}}
	total := 0
	for i, rb := range top.Bundles {
		where := fmt.Sprintf("attestation_bundles[%d]", i)
		var b struct {
			Publisher    json.RawMessage   `json:"publisher"`
			Attestations []json.RawMessage `json:"attestations"`
		}
		if err := json.Unmarshal(rb, &b); err != nil {
			return nil, formatErr(where, "not an attestation bundle: %s", printable(err.Error(), 160))
		}
		var ab AttestationBundle
		if len(b.Publisher) == 0 || string(b.Publisher) == "null" {
			return nil, formatErr(where, "no \"publisher\"")
		}
		if err := json.Unmarshal(b.Publisher, &ab.Publisher); err != nil {
			return nil, formatErr(where+".publisher", "%s", printable(err.Error(), 160))
		}
		if ab.Publisher.Kind == "" {
			return nil, formatErr(where+".publisher", "no \"kind\"")
		}
		if b.Attestations == nil {
			return nil, formatErr(where, "no \"attestations\"")
		}
		if total += len(b.Attestations); total > MaxAttestations {
			return nil, formatErr(where, "%w: more than %d attestations", ErrTooLarge, MaxAttestations)
		}
		ab.Attestations = []Attestation{}
		for j, ra := range b.Attestations {
			a, err := parseAttestation(fmt.Sprintf("%s.attestations[%d]", where, j), ra)
			if err != nil {
				return nil, err
			}
			ab.Attestations = append(ab.Attestations, *a)
		}
		p.AttestationBundles = append(p.AttestationBundles, ab)
	}
	return p, nil
}

// ParseDocument parses a provenance object, or a bare attestation object
// (a .publish.attestation file), which it wraps in a provenance object
// whose publisher object is empty (nothing to compare the certificate
// with).
func ParseDocument(data []byte) (*Provenance, error) {
	if len(data) > MaxProvenance {
		return nil, &FormatError{Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxProvenance)}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) == nil && obj["attestation_bundles"] == nil && obj["envelope"] != nil {
		a, err := ParseAttestation(data)
		if err != nil {
			return nil, err
		}
		return &Provenance{Version: 1, AttestationBundles: []AttestationBundle{{Attestations: []Attestation{*a}}}}, nil
	}
	return ParseProvenance(data)
}

// Count is the number of attestations in all bundles. Zero means "no
// provenance", never a pass.
func (p *Provenance) Count() int {
	n := 0
	for _, b := range p.AttestationBundles {
		n += len(b.Attestations)
	}
	return n
}

// ParseAttestation parses a bare PEP 740 attestation object (a
// .publish.attestation file). Extra keys (such as "timestamps" before it is
// specified) are tolerated; a version other than 1 is rejected.
func ParseAttestation(data []byte) (*Attestation, error) {
	if len(data) > MaxProvenance {
		return nil, &FormatError{Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxProvenance)}
	}
	return parseAttestation("", data)
}

func parseAttestation(where string, data []byte) (*Attestation, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, formatErr(where, "not an attestation object: %s", printable(err.Error(), 160))
	}
	if _, err := version(where, obj["version"]); err != nil {
		return nil, err
	}
	var raw struct {
		VM *struct {
			Certificate *string           `json:"certificate"`
			Entries     []json.RawMessage `json:"transparency_entries"`
			Timestamps  []string          `json:"timestamps"`
		} `json:"verification_material"`
		Envelope *struct {
			Statement *string `json:"statement"`
			Signature *string `json:"signature"`
		} `json:"envelope"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, formatErr(where, "not an attestation object: %s", printable(err.Error(), 160))
	}
	a := &Attestation{Version: 1}
	if raw.VM == nil {
		return nil, formatErr(where, "no \"verification_material\"")
	}
	if raw.Envelope == nil {
		return nil, formatErr(where, "no \"envelope\"")
	}
	var err error
	if a.VerificationMaterial.Certificate, err = b64(where, "verification_material.certificate", raw.VM.Certificate, MaxCertificate); err != nil {
		return nil, err
	}
	if len(raw.VM.Entries) == 0 {
		return nil, formatErr(where, "no \"verification_material.transparency_entries\"")
	}
	if len(raw.VM.Entries) > MaxEntries || len(raw.VM.Timestamps) > MaxEntries {
		return nil, formatErr(where, "%w: more than %d transparency entries or timestamps", ErrTooLarge, MaxEntries)
	}
	for i, e := range raw.VM.Entries {
		if len(e) == 0 || e[0] != '{' {
			return nil, formatErr(where, "transparency_entries[%d] is not an object", i)
		}
		a.VerificationMaterial.TransparencyEntries = append(a.VerificationMaterial.TransparencyEntries, e)
	}
	for i, t := range raw.VM.Timestamps {
		ts, err := b64(where, fmt.Sprintf("verification_material.timestamps[%d]", i), &t, MaxCertificate)
		if err != nil {
			return nil, err
		}
		a.VerificationMaterial.Timestamps = append(a.VerificationMaterial.Timestamps, ts)
	}
	if a.Envelope.Statement, err = b64(where, "envelope.statement", raw.Envelope.Statement, MaxStatement); err != nil {
		return nil, err
	}
	if a.Envelope.Signature, err = b64(where, "envelope.signature", raw.Envelope.Signature, MaxSignature); err != nil {
		return nil, err
	}
	return a, nil
}

func b64(where, field string, s *string, max int) ([]byte, error) {
	if s == nil || *s == "" {
		return nil, formatErr(where, "no %q", field)
	}
	if base64.StdEncoding.DecodedLen(len(*s)) > max {
		return nil, formatErr(where, "%s: %w (over %d bytes)", field, ErrTooLarge, max)
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		return nil, formatErr(where, "%s is not base64: %v", field, err)
	}
	return b, nil
}

// ToBundle converts a PEP 740 attestation object to the Sigstore bundle v0.3
// it represents, as pypi-attestations' Attestation.to_bundle does:
//
//	verificationMaterial.certificate.rawBytes = verification_material.certificate (one leaf)
//	verificationMaterial.tlogEntries[0]      = transparency_entries[0] (only the first)
//	verificationMaterial.timestampVerificationData.rfc3161Timestamps[i].signedTimestamp
//	                                         = verification_material.timestamps[i]
//	dsseEnvelope = {payload: envelope.statement, payloadType: in-toto, signatures: [{sig: envelope.signature}]}
//
// The transparency log entry is protobuf JSON and is parsed strictly (an
// unknown member is an error): the conversion loses nothing.
func ToBundle(a *Attestation) (*protobundle.Bundle, error) {
	if a == nil || len(a.VerificationMaterial.TransparencyEntries) == 0 {
		return nil, errors.New("the attestation has no transparency log entry")
	}
	tle := &protorekor.TransparencyLogEntry{}
	if err := protojson.Unmarshal(a.VerificationMaterial.TransparencyEntries[0], tle); err != nil {
		return nil, fmt.Errorf("invalid transparency log entry: %s", printable(err.Error(), 200))
	}
	var tsd *protobundle.TimestampVerificationData
	for _, ts := range a.VerificationMaterial.Timestamps {
		if tsd == nil {
			tsd = &protobundle.TimestampVerificationData{}
		}
		tsd.Rfc3161Timestamps = append(tsd.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	return &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: a.VerificationMaterial.Certificate},
			},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: tsd,
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     a.Envelope.Statement,
			PayloadType: InTotoPayloadType,
			Signatures:  []*protodsse.Signature{{Sig: a.Envelope.Signature}},
		}},
	}, nil
}

// FromBundle is the inverse of ToBundle, as pypi-attestations'
// Attestation.from_bundle: a bundle with a leaf certificate, a DSSE
// envelope with exactly one signature, and one or more log entries (the
// first is kept).
func FromBundle(b *protobundle.Bundle) (*Attestation, error) {
	vm := b.GetVerificationMaterial()
	cert := vm.GetCertificate().GetRawBytes()
	if cert == nil {
		if chain := vm.GetX509CertificateChain().GetCertificates(); len(chain) > 0 {
			cert = chain[0].GetRawBytes()
		}
	}
	if cert == nil {
		return nil, errors.New("the bundle has no signing certificate")
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, errors.New("the bundle does not contain a DSSE envelope")
	}
	if env.GetPayloadType() != InTotoPayloadType {
		return nil, fmt.Errorf("expected payload type %q, got %q", InTotoPayloadType, env.GetPayloadType())
	}
	if n := len(env.GetSignatures()); n != 1 {
		return nil, fmt.Errorf("expected exactly one signature, got %d", n)
	}
	if len(vm.GetTlogEntries()) == 0 {
		return nil, errors.New("the bundle has no transparency log entry")
	}
	entry, err := protojson.Marshal(vm.GetTlogEntries()[0])
	if err != nil {
		return nil, err
	}
	a := &Attestation{Version: 1,
		VerificationMaterial: VerificationMaterial{Certificate: cert, TransparencyEntries: []json.RawMessage{entry}},
		Envelope:             Envelope{Statement: env.GetPayload(), Signature: env.GetSignatures()[0].GetSig()},
	}
	for _, ts := range vm.GetTimestampVerificationData().GetRfc3161Timestamps() {
		a.VerificationMaterial.Timestamps = append(a.VerificationMaterial.Timestamps, ts.GetSignedTimestamp())
	}
	return a, nil
}

// printable is s on one line without control bytes, at most max runes
// (termsafe.Clip).
func printable(s string, max int) string { return termsafe.Clip(s, max) }
