// Package gguf parses the header of a GGUF model file (versions 2 and 3)
// so the registry can build a per-tensor manifest: which tensors a file
// holds, where each one's bytes are, and every metadata key/value exactly
// as encoded, for hashing.
//
// Parse reads from a stream positioned at the start of the file and stops
// exactly at the start of the data section, so the caller can hash each
// tensor's bytes as the rest of the file streams by, in the same pass.
// Validate then checks the layout against the file size.
//
// The input is hostile. The package must never panic on any input, never
// allocate memory in proportion to a count or length read from the file
// before checking it against a Limits bound and against what the header may
// still hold, never read past the header, and never accept a file that
// ggml's own reader (gguf.cpp) would refuse. Where ggml is lax in a way a
// manifest cannot express — keys and tensor names that are empty, not
// UTF-8 or hold a NUL byte, bool bytes other than 0 and 1, nonzero header
// padding, bytes after the data — it is stricter, and every error names
// the key or tensor at fault.
package gguf
