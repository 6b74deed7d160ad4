// Package audit keeps the registry's audit log: who did what to which
// model, with what result. It is an append-only directory of JSONL files
// whose entries form one SHA-256 hash chain (each entry holds the hash of
// the one before it, across files), so that editing, removing, inserting
// or reordering entries is found by Verify, and cutting the end off is
// found against a signed checkpoint.
//
// An entry is acknowledged only once it is on disk, and a crash at any
// moment loses nothing acknowledged: Open cuts off a half-written final
// line and continues the chain.
//
// It must never record a secret (a token, a request body, an artifact's
// bytes), never rewrite or delete an entry, and never start on a log it
// did not leave that way: Open refuses damage it sees rather than
// continuing a broken chain.
package audit
