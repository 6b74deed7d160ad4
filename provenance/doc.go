// Package provenance signs and verifies the registry's promotion
// attestations, fully offline: an in-toto Statement v1 whose subject is a
// model manifest digest and whose predicate is a SLSA verification summary
// (VSA v1), in a DSSE envelope, in a Sigstore bundle v0.3 — the format
// cosign, sigstore-go and model_signing read — stored as an OCI referrer of
// the manifest.
//
// It holds the signing key (a file key, ECDSA P-256 by default), the
// keyring of current and rotated public keys, and the one verifier the
// registry trusts a bundle through.
//
// It must never accept a bundle on the strength of anything the bundle says
// about itself: the key hint only orders the search, and only keys in the
// caller's key set count; keyless (certificate) bundles are refused.
package provenance
