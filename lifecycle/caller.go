package lifecycle

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// Caller is who makes a request: the HTTP layer's auth middleware attaches
// it to the request context.
type Caller struct {
	// Authenticated is true for the service token (and in dev mode).
	Authenticated bool
	// Who names the caller in transition records, e.g. "token:1a2b3c4d"
	// (a fingerprint, never the token), "dev-mode" or "system".
	Who string
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of ctx; without one, an anonymous caller.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	if c.Who == "" {
		c.Who = "anonymous"
	}
	return c
}

// System is the caller for transitions the registry makes itself.
var System = Caller{Authenticated: true, Who: "system"}

// Transition is one committed lifecycle transition, as the audit log
// records it.
type Transition struct {
	Name       string
	Repository string
	Digest     digest.Digest // the artifact's manifest
	Action     Action
	From, To   State
	Record     digest.Digest
	Who        string
	Reason     string
}
