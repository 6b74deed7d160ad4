// Package registry is the HTTP layer: the OCI distribution API (/v2) served
// by echo on top of a Backend.
//
// Handlers know nothing about where bytes and metadata live; they validate
// the request (names, references, digests through package oci), call the
// Backend, and turn its spec errors into the spec's JSON error body in one
// place (errors.go). The token check lives in one middleware (auth.go). No
// handler holds a request body in memory except manifests (capped at 4 MiB),
// and no handler trusts a client's digest or size. Metrics (metrics.go) are
// labelled by route pattern, never by raw path; until boot recovery ends,
// the Gate (ready.go) answers in the registry's place.
package registry
