package lifecycle

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies service errors for the HTTP layer.
type Kind int

// Kinds of errors, each with one HTTP status in the /v1 API.
const (
	KindInvalid      Kind = iota + 1 // 400: the request is malformed
	KindForbidden                    // 403: not allowed (format, untrusted path)
	KindNotFound                     // 404
	KindConflict                     // 409: state or content does not allow it
	KindTooLarge                     // 413
	KindUnavailable                  // 503: try again later
	KindRateLimited                  // 429: too many requests from this kind of caller
	KindUnauthorized                 // 401: authentication required
)

// Error is a service error with a message a person can act on. It never
// contains an absolute path or a secret.
type Error struct {
	Kind Kind
	Msg  string
	// RetryAfter, when set, is sent as Retry-After: load is never
	// reported as tampering, and the client learns when to come back.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Msg }

func errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err: a *Refusal is a conflict; anything
// unclassified is 0 (an internal error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var r *Refusal
	if errors.As(err, &r) {
		return KindConflict
	}
	return 0
}

// errNotFound is the predecessor's "model not found".
func errNotFound() error { return errorf(KindNotFound, "model not found") }

// busy is the answer when verification capacity is exhausted.
func busy(retry time.Duration, format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf(format, args...), RetryAfter: retry}
}
