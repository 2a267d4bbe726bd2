package sigstoretest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"google.golang.org/protobuf/encoding/protojson"
)

// PEP 740 attestations from the local Sigstore: the bundle Attest makes,
// in the attestation object form an index serves (PEP 740, "Attestation
// objects"), as pypi-attestations' Attestation.from_bundle writes it.

// PublishV1 is PyPI's publish attestation predicate type.
const PublishV1 = "https://docs.pypi.org/attestations/publish/v1"

// PublishStatement is the statement a publish attestation signs: one
// subject, the file's name and sha256, and an empty predicate.
func PublishStatement(filename, sha256hex string) Statement {
	return Statement{PredicateType: PublishV1, Subjects: []Subject{{Name: filename, Digest: map[string]string{"sha256": sha256hex}}}}
}

// GitLabCI returns the identity of GitLab CI running CI file path (such
// as .gitlab-ci.yml) of project (NAMESPACE/PROJECT) for ref at commit sha.
func GitLabCI(project, path, ref, sha string) Identity {
	config := "https://gitlab.com/" + project + "//" + path + "@" + ref
	return Identity{
		SAN:    config,
		Issuer: "https://gitlab.com",
		Extensions: certificate.Extensions{
			Issuer:                 "https://gitlab.com",
			SourceRepositoryURI:    "https://gitlab.com/" + project,
			SourceRepositoryRef:    ref,
			SourceRepositoryDigest: sha,
			BuildSignerURI:         config,
			BuildConfigURI:         config,
			BuildConfigDigest:      sha,
			RunnerEnvironment:      "gitlab-hosted",
		},
	}
}

// AttestPEP740 signs st as id, like Attest, and returns the PEP 740
// attestation object's JSON: version 1, the leaf certificate, the Rekor
// entry (protobuf JSON) and the envelope's statement and signature.
func (in *Instance) AttestPEP740(id Identity, st Statement, opts ...Option) ([]byte, error) {
	raw, err := in.Attest(id, st, opts...)
	if err != nil {
		return nil, err
	}
	return BundleToPEP740(raw)
}

// BundleToPEP740 converts a Sigstore bundle (JSON) with a DSSE envelope
// and one log entry to a PEP 740 attestation object (JSON).
func BundleToPEP740(bundleJSON []byte) ([]byte, error) {
	b := &protobundle.Bundle{}
	if err := protojson.Unmarshal(bundleJSON, b); err != nil {
		return nil, err
	}
	vm := b.GetVerificationMaterial()
	env := b.GetDsseEnvelope()
	if env == nil || len(env.GetSignatures()) != 1 || len(vm.GetTlogEntries()) == 0 {
		return nil, errors.New("a PEP 740 attestation needs a DSSE envelope with one signature and a log entry")
	}
	entry, err := protojson.Marshal(vm.GetTlogEntries()[0])
	if err != nil {
		return nil, err
	}
	std := base64.StdEncoding.EncodeToString
	obj := map[string]any{
		"version": 1,
		"verification_material": map[string]any{
			"certificate":          std(vm.GetCertificate().GetRawBytes()),
			"transparency_entries": []json.RawMessage{entry},
		},
		"envelope": map[string]any{
			"statement": std(env.GetPayload()),
			"signature": std(env.GetSignatures()[0].GetSig()),
		},
	}
	if ts := vm.GetTimestampVerificationData().GetRfc3161Timestamps(); len(ts) > 0 {
		var out []string
		for _, t := range ts {
			out = append(out, std(t.GetSignedTimestamp()))
		}
		obj["verification_material"].(map[string]any)["timestamps"] = out
	}
	return json.Marshal(obj)
}

// ProvenanceObject wraps attestation objects (JSON) in a PEP 740
// provenance object with one attestation bundle whose publisher object
// is publisher.
func ProvenanceObject(publisher map[string]any, attestations ...[]byte) ([]byte, error) {
	atts := make([]json.RawMessage, len(attestations))
	for i, a := range attestations {
		atts[i] = a
	}
	return json.Marshal(map[string]any{
		"version": 1,
		"attestation_bundles": []any{map[string]any{
			"publisher":    publisher,
			"attestations": atts,
		}},
	})
}

// GitHubPublisher is the index's publisher object for a GitHub Trusted
// Publisher: repo OWNER/REPO and the workflow's file name.
func GitHubPublisher(repo, workflow string) map[string]any {
	return map[string]any{"kind": "GitHub", "repository": repo, "workflow": workflow[strings.LastIndexByte(workflow, '/')+1:], "environment": nil}
}
