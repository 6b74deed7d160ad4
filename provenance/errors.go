package provenance

import "errors"

// Sentinel errors, checked with errors.Is. Every error VerifyBundle returns
// about the bundle wraps exactly one of ErrTooLarge, ErrMalformed,
// ErrUnsupported, ErrUntrusted and ErrMismatch, with a message that says
// what was wrong; errors about its own arguments (no keys, an invalid
// expected subject, a done context) wrap none. Key file problems wrap
// ErrKeyFile.
var (
	// ErrTooLarge: the bundle is over MaxBundleSize.
	ErrTooLarge = errors.New("attestation bundle too large")
	// ErrMalformed: the bundle or its statement cannot be parsed, or lacks
	// a required field.
	ErrMalformed = errors.New("malformed attestation bundle")
	// ErrUnsupported: a well-formed bundle of a kind the registry does not
	// verify (another bundle version, a certificate instead of a key, a
	// message signature instead of a DSSE envelope, another payload type).
	ErrUnsupported = errors.New("unsupported attestation bundle")
	// ErrUntrusted: no key of the trusted set produced the signature.
	ErrUntrusted = errors.New("attestation not signed by a trusted key")
	// ErrMismatch: a correctly signed statement about something else — a
	// different subject digest or predicate type than the caller asked for.
	ErrMismatch = errors.New("attestation does not match")
	// ErrKeyFile: a key file or key directory is unusable (permissions,
	// format, algorithm).
	ErrKeyFile = errors.New("unusable key file")
)
