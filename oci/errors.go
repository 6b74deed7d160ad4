package oci

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is an error code from the distribution spec ("BLOB_UNKNOWN", ...).
type Code string

// Error codes defined by distribution-spec v1.1.1, plus the few extra
// conditions the registry reports with the same envelope.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
)

// Error is a spec error: a code, an HTTP status and a message a person can act
// on. Storage backends return these (wrapped or not) and the HTTP layer turns
// them into the spec's JSON body in one place.
type Error struct {
	Code    Code
	Status  int
	Message string
	Detail  any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Is lets errors.Is match any *Error with the same code, so callers can test
// for a condition without caring about the message.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code && (t.Status == 0 || t.Status == e.Status)
	}
	return false
}

// Errorf returns an *Error with the status the spec gives for code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Status: StatusOf(code), Message: fmt.Sprintf(format, args...)}
}

// WithStatus returns a copy of e with another HTTP status (e.g. 413 or 416,
// where the spec asks for a status that differs from the code's default).
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// StatusOf returns the default HTTP status for a code.
func StatusOf(code Code) int {
	switch code {
	case CodeBlobUnknown, CodeBlobUploadUnknown, CodeManifestUnknown, CodeNameUnknown:
		return http.StatusNotFound
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeDenied:
		return http.StatusForbidden
	case CodeUnsupported:
		return http.StatusMethodNotAllowed
	case CodeTooManyRequests:
		return http.StatusTooManyRequests
	default:
		return http.StatusBadRequest
	}
}

// Sentinels for errors.Is checks. Their messages are generic; return Errorf
// values with a specific message instead of these.
var (
	ErrBlobUnknown       = &Error{Code: CodeBlobUnknown}
	ErrManifestUnknown   = &Error{Code: CodeManifestUnknown}
	ErrNameUnknown       = &Error{Code: CodeNameUnknown}
	ErrBlobUploadUnknown = &Error{Code: CodeBlobUploadUnknown}
	ErrDigestInvalid     = &Error{Code: CodeDigestInvalid}
	ErrDenied            = &Error{Code: CodeDenied}
)
