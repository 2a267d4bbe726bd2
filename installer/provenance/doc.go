// Package provenance verifies PEP 740 index-hosted attestations: the
// provenance object an index (PyPI, or any index running the same software)
// publishes for a distribution file, and the attestation objects in it.
//
// PEP 740: "each attestation object is a Sigstore bundle in another
// representation". Each attestation is converted, losslessly, to a Sigstore
// bundle v0.3 (ToBundle) and verified with sigstore-go against the trusted
// material the caller gives: the certificate chains to a Fulcio CA of the
// root, a Rekor entry of a log of the root proves inclusion, the
// certificate carries an SCT of a CT log of the root, and the signing time
// comes from the log or a TSA of the root and lies inside the certificate's
// ten-minute validity; the current time is never used. The file is
// verified by the sha256 the caller computed over the bytes it will install,
// never by anything the index says.
//
// Then the signed in-toto statement is checked: exactly one subject, whose
// name parses as a wheel or sdist file name equal to the expected one
// (normalised project name, PEP 440 version, build tag, tag set), whose
// sha256 is the expected digest, with a predicate type PEP 740 allows.
//
// What it trusts: only the trusted material it is given. The index's
// answer, the provenance object and its unsigned "publisher" object are
// untrusted input, read with size limits; the publisher identity is read
// from the verified certificate (Fulcio's OIDC extensions), by one small
// policy per Trusted Publisher kind (GitHub, GitLab, Google). The index's
// publisher object is only compared with it and shown, and the GitHub
// environment, which no certificate carries, can only be compared with
// the index's claim.
//
// Every rule is recorded as a policy.Check with the expected and actual
// values; nothing here prints.
package provenance
