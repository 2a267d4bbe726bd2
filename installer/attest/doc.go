// Package attest verifies Sigstore attestation bundles for an artifact with
// sigstore-go, and evaluates them against an identity policy: which
// repository built the artifact, with which workflow, from which ref and
// commit, on which runner, with which predicate.
//
// What it trusts: only the trusted roots it is given (files, or TUF
// metadata chained from an embedded root), and only through the profile of
// the deployment that issued the bundle's certificate: Sigstore's public-good
// instance needs a transparency-log entry, embedded SCTs and a log or TSA
// time; GitHub's instance (private repositories, release attestations) needs
// an RFC 3161 timestamp from a TSA in GitHub's root. The bundle's contents,
// the artifact and every field of every certificate are untrusted until
// verified; identity fields are compared only after the signature, chain and
// timestamps verify.
//
// Every rule is recorded as a policy.Check so a report shows, for each
// bundle, which check failed with the expected and actual values.
package attest
