// Package lifecycle is the single home of the artifact state machine:
// acquired → quarantined → trusted → revoked / deleted, the transition
// records that store it as OCI referrers (a hash chain per artifact), the
// rule that decides what an anonymous runtime may read, and the service
// that performs transitions for the /v1 API and the /v2 push path.
//
// It must never make an artifact servable without a durable record saying
// so: state is derived from the records, the index annotation is only a
// cache, and a missing, unknown or unverifiable state is never trusted.
package lifecycle
