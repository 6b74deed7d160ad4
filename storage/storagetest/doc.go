// Package storagetest is the shared, backend-agnostic test suite of the
// storage seam: every storage.Backend (the local OCI layout, the scale-out
// one) runs Run from its own tests and must pass it unchanged. The suite
// holds the contract as the HTTP layer and the lifecycle rely on it,
// exact error codes included.
//
// It must never look inside a backend (no paths, no SQL, no type
// assertions): whatever it checks, it checks through storage.Backend, so a
// backend-specific detail stays in that backend's own tests.
package storagetest
