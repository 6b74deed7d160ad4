package gguf

import "errors"

// Limits bound what a header may make Parse read and keep. Memory use is
// roughly MaxHeaderBytes (the KV values are kept verbatim) plus a small
// per-tensor and per-KV overhead, so MaxHeaderBytes is the knob that bounds
// memory; the others reject absurd counts early with a precise message.
// A field that is zero or negative takes its value from DefaultLimits.
type Limits struct {
	MaxTensors     int   // tensor infos in the header
	MaxKVs         int   // metadata key/value pairs
	MaxString      int64 // bytes in any one string (key, value, array element)
	MaxArrayLen    int64 // elements in one array value
	MaxHeaderBytes int64 // bytes before the data section, alignment padding included
	MaxDims        int   // dimensions of one tensor; above 4 counts as 4 (GGML_MAX_DIMS)
}

// DefaultLimits admit every real model we know of by a wide margin while
// keeping a hostile header's cost bounded:
//
//   - MaxTensors 100,000: the largest published GGUF models (Llama 3.1
//     405B, DeepSeek V3 with merged experts) have about 1,150 tensors;
//     gguf-guard used the same cap.
//   - MaxKVs 100,000: real files have a few dozen keys.
//   - MaxString 16 MiB: the longest real strings are chat templates of some
//     tens of KiB; ggml allows up to 1 GiB, which would let one string pin
//     a gigabyte.
//   - MaxArrayLen 16 Mi elements: tokenizer arrays are the largest, and a
//     256k-token vocabulary (Gemma 3: 262,144) with its merges and scores is
//     a few hundred thousand elements per array.
//   - MaxHeaderBytes 512 MiB: a 256k-token vocabulary header is 10–20 MiB;
//     this leaves 25x headroom and still bounds memory per parse.
//   - MaxDims 4: GGML_MAX_DIMS; ggml refuses more.
var DefaultLimits = Limits{
	MaxTensors:     100_000,
	MaxKVs:         100_000,
	MaxString:      16 << 20,
	MaxArrayLen:    16 << 20,
	MaxHeaderBytes: 512 << 20,
	MaxDims:        maxDims,
}

const (
	maxDims = 4 // GGML_MAX_DIMS

	// maxNameLen is the longest tensor name ggml accepts: GGML_MAX_NAME is
	// 64 including the terminating NUL, and gguf.cpp refuses
	// name.length() >= GGML_MAX_NAME.
	maxNameLen = 63

	// maxKeyLen is the GGUF spec's limit on a key ("at most 2^16-1 bytes").
	maxKeyLen = 65535

	// maxAlignment caps general.alignment. ggml accepts any power of two,
	// but one stored version of gguf.cpp caps it at 1 MiB, and a larger
	// value only serves to make every tensor carry up to that much
	// unhashed padding.
	maxAlignment = 1 << 20

	// DefaultAlignment applies when general.alignment is absent.
	DefaultAlignment = 32

	// maxElements keeps the element count representable as int64, as
	// gguf.cpp requires (INT64_MAX/ne[1] <= ne[0] ... is refused).
	maxElements = 1<<63 - 1
)

// ErrLimit is wrapped by every error that reports a Limits bound exceeded,
// so a caller can tell "too big for this registry" from "malformed".
var ErrLimit = errors.New("limit exceeded")

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxTensors > 0 {
		d.MaxTensors = l.MaxTensors
	}
	if l.MaxKVs > 0 {
		d.MaxKVs = l.MaxKVs
	}
	if l.MaxString > 0 {
		d.MaxString = l.MaxString
	}
	if l.MaxArrayLen > 0 {
		d.MaxArrayLen = l.MaxArrayLen
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if l.MaxDims > 0 {
		d.MaxDims = min(l.MaxDims, maxDims)
	}
	return d
}
