// Package lockfile reads and writes models.lock.yaml (REGISTRY_LOCK_PATH):
// the list of models an appliance image pins, in the predecessor's format
// (version 1, one entry per model with the artifact keys) plus the
// appliance's blocked / blocked_reason keys.
//
// Parse is strict because the lock decides what may be served: unknown
// fields, duplicate keys at any level, a version other than 1, a second
// document, anchors and aliases, explicit tags, values of the wrong YAML
// type and anything the YAML parser cannot read stop with an *Error that
// names the line ("models.lock.yaml line 12: ..."); so do control
// characters, bidirectional formatting characters (comments included: a
// reviewer must see what the parser reads) and invalid UTF-8, caught on
// the raw bytes before YAML parsing. Those YAML rules are package
// strictyaml's, shared with package policy. Parse never guesses a value,
// never turns a missing state into "trusted" and never ignores a key it
// does not know: a lock that means something this package does not
// understand is refused, not half-applied.
//
// Marshal is the inverse: the same lock content always gives the same
// bytes (entries sorted by name, keys in a fixed order, every string
// double-quoted, no timestamps of its own), and Parse(Marshal(l)) equals
// l for a lock in canonical form, which is what Parse returns.
// FingerprintFromJSON brings an artifact's JSON fingerprint into that
// form.
//
// The package only decodes and validates. Deciding what an entry means
// for the registry (blocked wins, an entry without a state is trusted only
// when its bytes are present and hash to its sha256, a lock revocation
// overrides runtime state) belongs to the code that applies the lock.
package lockfile
