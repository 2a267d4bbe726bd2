// Package sigstoretest is a local Sigstore for tests: certificate
// authorities, a Rekor log, a CT log and a timestamp authority whose keys
// live in memory, issuing real Sigstore bundles (protobuf bundle v0.3 JSON)
// whose certificates carry GitHub Actions' Fulcio OIDC extensions.
//
// Two kinds of instance mirror the two deployments pipguard trusts:
// NewPublicGood (transparency log entries with inclusion proofs, certificates
// with embedded SCTs) and NewGitHub (certificate authority named
// "GitHub, Inc.", RFC 3161 timestamps, no log). Options produce the faulty
// bundles tests need: another deployment's evidence, an untrusted TSA, a
// certificate outside its validity.
//
// It is for tests only: it trusts its callers and panics on nothing but
// returns every error.
package sigstoretest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/digitorus/timestamp"
	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

// Kind is which deployment an instance imitates.
type Kind string

const (
	PublicGood Kind = "public-good"
	GitHub     Kind = "github"
)

// Instance is one test Sigstore deployment.
type Instance struct {
	Kind Kind

	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
	tsaInter, tsaLeaf *x509.Certificate
	tsaKey            *ecdsa.PrivateKey
	ctKey             *ecdsa.PrivateKey
	rekor             *ca.VirtualSigstore // log only: its Rekor key signs entries
	start             time.Time
}

// NewPublicGood returns an instance like Sigstore's public-good one: a
// Rekor log and a CT log (and a TSA, trusted but not used by default).
func NewPublicGood() (*Instance, error) { return newInstance(PublicGood, "sigstore.dev") }

// NewGitHub returns an instance like GitHub's: its authorities' subject
// organisation is "GitHub, Inc." and its bundles carry RFC 3161 timestamps.
func NewGitHub() (*Instance, error) { return newInstance(GitHub, "GitHub, Inc.") }

func newInstance(kind Kind, org string) (*Instance, error) {
	in := &Instance{Kind: kind, start: time.Now().Add(-24 * time.Hour)}
	var err error
	if in.rootKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	in.root, err = issue(&x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{Organization: []string{org}, CommonName: "test root"},
		NotBefore:    in.start, NotAfter: in.start.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}, nil, in.rootKey.Public(), in.rootKey)
	if err != nil {
		return nil, err
	}
	if in.interKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	in.inter, err = issue(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{Organization: []string{org}, CommonName: "test intermediate"},
		NotBefore:    in.start, NotAfter: in.start.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
	}, in.root, in.interKey.Public(), in.rootKey)
	if err != nil {
		return nil, err
	}
	tsaInter, tsaInterKey, err := ca.GenerateTSAIntermediate(in.root, in.rootKey)
	if err != nil {
		return nil, err
	}
	in.tsaInter = tsaInter
	if in.tsaKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	// RFC 3161 section 2.3: the TSA's certificate has one critical extended
	// key usage, timeStamping.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return nil, err
	}
	in.tsaLeaf, err = issue(&x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{Organization: []string{org}, CommonName: "test TSA"},
		NotBefore:    in.start, NotAfter: in.start.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, tsaInter, in.tsaKey.Public(), tsaInterKey)
	if err != nil {
		return nil, err
	}
	if in.ctKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if in.rekor, err = ca.NewVirtualSigstore(); err != nil {
		return nil, err
	}
	return in, nil
}

func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// TrustedRoot returns the instance's trusted root: its CA, its TSA, and
// for public-good its Rekor and CT logs.
func (in *Instance) TrustedRoot() (*root.TrustedRoot, error) {
	end := in.start.Add(5 * 365 * 24 * time.Hour)
	cas := []root.CertificateAuthority{&root.FulcioCertificateAuthority{
		Root: in.root, Intermediates: []*x509.Certificate{in.inter},
		ValidityPeriodStart: in.start, ValidityPeriodEnd: end, URI: "https://fulcio.test",
	}}
	tsas := []root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{
		Root: in.root, Intermediates: []*x509.Certificate{in.tsaInter}, Leaf: in.tsaLeaf,
		ValidityPeriodStart: in.start, ValidityPeriodEnd: end, URI: "https://tsa.test",
	}}
	var tlogs, ctlogs map[string]*root.TransparencyLog
	if in.Kind == PublicGood {
		// The virtual Rekor names its log by the hex string of the key's
		// hash, as bytes; a trusted_root.json carries the raw hash. Use the
		// raw form so the root survives a round trip through JSON.
		tlogs = map[string]*root.TransparencyLog{}
		for _, l := range in.rekor.RekorLogs() {
			raw, err := hex.DecodeString(string(l.ID))
			if err != nil {
				return nil, err
			}
			l.ID = raw
			l.ValidityPeriodStart, l.ValidityPeriodEnd = in.start, end
			tlogs[hex.EncodeToString(raw)] = l
		}
		id, err := logID(in.ctKey.Public())
		if err != nil {
			return nil, err
		}
		ctlogs = map[string]*root.TransparencyLog{hex.EncodeToString(id): {
			BaseURL: "https://ctfe.test", ID: id, HashFunc: crypto.SHA256, PublicKey: in.ctKey.Public(),
			SignatureHashFunc: crypto.SHA256, ValidityPeriodStart: in.start, ValidityPeriodEnd: end,
		}}
	}
	return root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ctlogs, tsas, tlogs)
}

// TrustedRootJSON is TrustedRoot in the trusted_root.json format, for
// --trusted-root files.
func (in *Instance) TrustedRootJSON() ([]byte, error) {
	tr, err := in.TrustedRoot()
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

func logID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// Identity is what the leaf certificate says. GitHubActions fills it the
// way Fulcio does for a GitHub Actions token.
type Identity struct {
	SAN    string
	Issuer string // empty: no issuer extension (GitHub's release signer)
	certificate.Extensions
	// NotBefore is the certificate's start (default: the signing time
	// minus a minute); it is valid for ten minutes.
	NotBefore time.Time
}

// GitHubActions returns the identity of workflow (a path such as
// .github/workflows/release.yml) of repo (OWNER/REPO) running for ref at
// commit sha on a GitHub-hosted runner.
func GitHubActions(repo, workflow, ref, sha string) Identity {
	signer := "https://github.com/" + repo + "/" + workflow + "@" + ref
	return Identity{
		SAN:    signer,
		Issuer: "https://token.actions.githubusercontent.com",
		Extensions: certificate.Extensions{
			Issuer:                     "https://token.actions.githubusercontent.com",
			SourceRepositoryURI:        "https://github.com/" + repo,
			SourceRepositoryIdentifier: "123456",
			SourceRepositoryRef:        ref,
			SourceRepositoryDigest:     sha,
			SourceRepositoryOwnerURI:   "https://github.com/" + repo[:bytes.IndexByte([]byte(repo), '/')],
			BuildSignerURI:             signer,
			BuildSignerDigest:          sha,
			RunnerEnvironment:          "github-hosted",
			BuildTrigger:               "push",
			BuildConfigURI:             signer,
			BuildConfigDigest:          sha,
			RunInvocationURI:           "https://github.com/" + repo + "/actions/runs/1/attempts/1",
		},
	}
}

// Subject is one in-toto subject.
type Subject struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest"`
}

// Statement is the in-toto statement to sign.
type Statement struct {
	PredicateType string
	Subjects      []Subject
	Predicate     any
}

// Option changes how a bundle is made.
type Option func(*signOpts)

type signOpts struct {
	at       time.Time
	tlog     *bool
	tsa      *bool
	tsaOf    *Instance
	noSCT    bool
	mediaVer string
}

// At sets the signing time (log integrated time and TSA time).
func At(t time.Time) Option { return func(o *signOpts) { o.at = t } }

// WithTlog adds (or, false, removes) a transparency log entry.
func WithTlog(on bool) Option { return func(o *signOpts) { o.tlog = &on } }

// WithTimestamp adds (or, false, removes) an RFC 3161 timestamp.
func WithTimestamp(on bool) Option { return func(o *signOpts) { o.tsa = &on } }

// TimestampedBy has another instance's TSA sign the timestamp.
func TimestampedBy(other *Instance) Option {
	return func(o *signOpts) { on := true; o.tsa = &on; o.tsaOf = other }
}

// WithoutSCT leaves the SCT out of a public-good certificate.
func WithoutSCT() Option { return func(o *signOpts) { o.noSCT = true } }

// Attest signs st as identity and returns the bundle's JSON.
func (in *Instance) Attest(id Identity, st Statement, opts ...Option) ([]byte, error) {
	o := signOpts{at: time.Now()}
	for _, f := range opts {
		f(&o)
	}
	useTlog, useTSA := in.Kind == PublicGood, in.Kind == GitHub
	if o.tlog != nil {
		useTlog = *o.tlog
	}
	if o.tsa != nil {
		useTSA = *o.tsa
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf, err := in.leaf(id, o, leafKey)
	if err != nil {
		return nil, err
	}

	payload, err := statementJSON(st)
	if err != nil {
		return nil, err
	}
	const payloadType = "application/vnd.in-toto+json"
	pae := dsse.PAE(payloadType, payload)
	h := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, leafKey, h[:])
	if err != nil {
		return nil, err
	}

	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: leaf.Raw}},
	}
	if useTlog {
		env := &dsse.Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload),
			Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
		tle, err := in.logEntry(leaf, env, sig, o.at)
		if err != nil {
			return nil, err
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	}
	if useTSA {
		tsa := in
		if o.tsaOf != nil {
			tsa = o.tsaOf
		}
		tsr, err := tsa.timestamp(sig, o.at)
		if err != nil {
			return nil, err
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
		}
	}
	b := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: payloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	return protojson.Marshal(b)
}

func statementJSON(st Statement) ([]byte, error) {
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       st.Subjects,
		"predicateType": st.PredicateType,
		"predicate":     orEmpty(st.Predicate),
	})
}

func orEmpty(p any) any {
	if p == nil {
		return map[string]any{}
	}
	return p
}

// leaf issues the signing certificate, with an embedded SCT on public-good.
func (in *Instance) leaf(id Identity, o signOpts, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	nb := id.NotBefore
	if nb.IsZero() {
		nb = o.at.Add(-time.Minute)
	}
	exts, err := render(id.Extensions)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		NotBefore:       nb,
		NotAfter:        nb.Add(10 * time.Minute),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: exts,
	}
	if id.SAN != "" {
		u, err := url.Parse(id.SAN)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = []*url.URL{u}
	}
	if in.Kind == PublicGood && !o.noSCT {
		pre, err := issue(tmpl, in.inter, key.Public(), in.interKey)
		if err != nil {
			return nil, err
		}
		sctExt, err := in.sct(pre, o.at)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, sctExt)
	}
	return issue(tmpl, in.inter, key.Public(), in.interKey)
}

// render encodes the Fulcio extensions that are set, as Fulcio does: each
// value of the 1.3.6.1.4.1.57264.1.8+ arc is a DER UTF8String. An empty
// Issuer leaves the issuer out (GitHub's release signer has none).
func render(e certificate.Extensions) ([]pkix.Extension, error) {
	fields := []struct {
		oid asn1.ObjectIdentifier
		val string
	}{
		{certificate.OIDIssuerV2, e.Issuer},
		{certificate.OIDBuildSignerURI, e.BuildSignerURI},
		{certificate.OIDBuildSignerDigest, e.BuildSignerDigest},
		{certificate.OIDRunnerEnvironment, e.RunnerEnvironment},
		{certificate.OIDSourceRepositoryURI, e.SourceRepositoryURI},
		{certificate.OIDSourceRepositoryDigest, e.SourceRepositoryDigest},
		{certificate.OIDSourceRepositoryRef, e.SourceRepositoryRef},
		{certificate.OIDSourceRepositoryIdentifier, e.SourceRepositoryIdentifier},
		{certificate.OIDSourceRepositoryOwnerURI, e.SourceRepositoryOwnerURI},
		{certificate.OIDBuildConfigURI, e.BuildConfigURI},
		{certificate.OIDBuildConfigDigest, e.BuildConfigDigest},
		{certificate.OIDBuildTrigger, e.BuildTrigger},
		{certificate.OIDRunInvocationURI, e.RunInvocationURI},
	}
	var out []pkix.Extension
	for _, f := range fields {
		if f.val == "" {
			continue
		}
		v, err := asn1.MarshalWithParams(f.val, "utf8")
		if err != nil {
			return nil, err
		}
		out = append(out, pkix.Extension{Id: f.oid, Value: v})
	}
	return out, nil
}

var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// sct returns the embedded-SCT extension for a certificate whose
// to-be-signed part (without the extension) is pre's.
func (in *Instance) sct(pre *x509.Certificate, at time.Time) (pkix.Extension, error) {
	id, err := logID(in.ctKey.Public())
	if err != nil {
		return pkix.Extension{}, err
	}
	ts := uint64(at.UnixMilli())
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, Timestamp: ts}
	copy(sct.LogID.KeyID[:], id)
	leaf := ct.MerkleTreeLeaf{Version: ct.V1, LeafType: ct.TimestampedEntryLeafType, TimestampedEntry: &ct.TimestampedEntry{
		EntryType: ct.PrecertLogEntryType, Timestamp: ts,
		PrecertEntry: &ct.PreCert{IssuerKeyHash: sha256.Sum256(in.inter.RawSubjectPublicKeyInfo), TBSCertificate: pre.RawTBSCertificate},
	}}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: leaf})
	if err != nil {
		return pkix.Extension{}, err
	}
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, in.ctKey, h[:])
	if err != nil {
		return pkix.Extension{}, err
	}
	sct.Signature = ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: sig}
	list, err := x509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	if err != nil {
		return pkix.Extension{}, err
	}
	raw, err := cttls.Marshal(*list)
	if err != nil {
		return pkix.Extension{}, err
	}
	val, err := asn1.Marshal(raw)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSCTList, Value: val}, nil
}

// logEntry makes a Rekor dsse entry with an inclusion promise and proof.
func (in *Instance) logEntry(leaf *x509.Certificate, env *dsse.Envelope, sig []byte, at time.Time) (*protorekor.TransparencyLogEntry, error) {
	e, err := in.rekor.GenerateTlogEntry(leaf, env, sig, at.Unix(), true)
	if err != nil {
		return nil, err
	}
	tle := e.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	id, err := in.rekor.RekorLogID()
	if err != nil {
		return nil, err
	}
	set, err := in.rekor.RekorSignPayload(tlog.RekorPayload{
		Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: at.Unix(), LogIndex: tle.LogIndex, LogID: id,
	})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle, nil
}

// timestamp is an RFC 3161 response over sig from this instance's TSA.
func (in *Instance) timestamp(sig []byte, at time.Time) ([]byte, error) {
	req, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseRequest(req)
	if err != nil {
		return nil, err
	}
	t := timestamp.Timestamp{
		HashAlgorithm: parsed.HashAlgorithm, HashedMessage: parsed.HashedMessage, Time: at,
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2},
	}
	resp, err := t.CreateResponseWithOpts(in.tsaLeaf, in.tsaKey, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	return resp, nil
}
