// Package safetensors parses the header of a safetensors model file so the
// registry can build a per-tensor manifest: which tensors the file holds,
// their dtypes and shapes, where each one's bytes are, and the
// __metadata__ strings.
//
// Parse reads from a stream positioned at the start of the file and stops
// exactly at the start of the data section (8 + N bytes), so the caller can
// hash each tensor's bytes as the rest of the file streams by, in the same
// pass.
//
// The input is hostile. The package must never panic on any input, never
// allocate memory in proportion to a length read from the file before
// checking it against a limit and, when the file size is known, against
// what the file holds; never read past the header; and never accept a file
// the reference reader (huggingface/safetensors, tensor.rs) would refuse.
// It is stricter where readers could disagree about what a file says:
// duplicate JSON keys, unknown or missing tensor fields, null where a value
// is required, unpaired UTF-16 surrogate escapes.
package safetensors
