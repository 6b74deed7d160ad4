// Package policy holds the declared, versioned promotion policy: what an
// artifact must show before it may move from quarantined to trusted
// (scanner verdicts, formats, size, source, signatures, licenses ...), and
// the pure function that checks an artifact's facts against it.
//
// A policy is read from YAML with the same strictness as models.lock.yaml,
// through package strictyaml: unknown fields, duplicate keys, anchors,
// aliases, tags, a second document and values of the wrong type are
// refused with an *Error naming the line. Evaluate does no I/O and never stops at the
// first problem: it lists every unmet rule, each with a sentence saying
// what is missing and how to provide it.
//
// This package must never weaken a policy: there is no dev-mode switch,
// no rule that can turn off hash verification, and a missing or broken
// policy is an error for the caller, never an empty policy that allows
// everything. Without a configured file the caller uses Default, which is
// strict. Verifying signatures and gathering scan results is the caller's
// work; the policy only says which keys and results count.
package policy
