// Package tensormanifest computes and compares per-tensor manifests of GGUF
// and safetensors files: a SHA-256 of every tensor's bytes with its name,
// type, shape and offset, a hash of every metadata key/value (chat template
// and tokenizer included) and one over all of them, the whole-file hash, and
// a Merkle root over the tensors with leaf/node domain separation.
//
// A manifest is built in one streaming pass: the header is parsed from the
// stream, tensors are hashed as their bytes go by, and the whole-file hash
// runs on another goroutine over the same bytes. Comparing a fresh manifest
// with a stored one names exactly what changed — tensors, metadata keys,
// shapes, types, offsets, order — which a whole-file hash cannot.
package tensormanifest
