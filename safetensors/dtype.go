package safetensors

// dtypeBits is the size in bits of one element of each dtype, as
// Dtype::bitsize in huggingface/safetensors safetensors/src/tensor.rs
// (HEAD 24b0b285) gives it. F4 and F6_* are sub-byte types: a tensor of
// them must hold a whole number of bytes (the reader's MisalignedSlice).
var dtypeBits = map[string]uint64{
	"BOOL":        8,
	"F4":          4,
	"F6_E2M3":     6,
	"F6_E3M2":     6,
	"U8":          8,
	"I8":          8,
	"F8_E5M2":     8,
	"F8_E4M3":     8,
	"F8_E8M0":     8,
	"F8_E4M3FNUZ": 8,
	"F8_E5M2FNUZ": 8,
	"I16":         16,
	"U16":         16,
	"F16":         16,
	"BF16":        16,
	"I32":         32,
	"U32":         32,
	"F32":         32,
	"C64":         64, // complex64: two float32
	"F64":         64,
	"I64":         64,
	"U64":         64,
}

// DTypeBits returns the bits per element of a dtype name, and whether the
// name is a dtype at all.
func DTypeBits(dtype string) (uint64, bool) {
	b, ok := dtypeBits[dtype]
	return b, ok
}
