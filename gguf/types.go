package gguf

import "fmt"

// GGMLType is a tensor's element type, the ggml_type enum of ggml.h.
type GGMLType uint32

// Tensor types. The numbers are ggml's and never change: ggml.h says
// "always add types at the end of the enum to keep backward compatibility".
const (
	TypeF32     GGMLType = 0
	TypeF16     GGMLType = 1
	TypeQ4_0    GGMLType = 2
	TypeQ4_1    GGMLType = 3
	TypeQ5_0    GGMLType = 6
	TypeQ5_1    GGMLType = 7
	TypeQ8_0    GGMLType = 8
	TypeQ8_1    GGMLType = 9
	TypeQ2_K    GGMLType = 10
	TypeQ3_K    GGMLType = 11
	TypeQ4_K    GGMLType = 12
	TypeQ5_K    GGMLType = 13
	TypeQ6_K    GGMLType = 14
	TypeQ8_K    GGMLType = 15
	TypeIQ2_XXS GGMLType = 16
	TypeIQ2_XS  GGMLType = 17
	TypeIQ3_XXS GGMLType = 18
	TypeIQ1_S   GGMLType = 19
	TypeIQ4_NL  GGMLType = 20
	TypeIQ3_S   GGMLType = 21
	TypeIQ2_S   GGMLType = 22
	TypeIQ4_XS  GGMLType = 23
	TypeI8      GGMLType = 24
	TypeI16     GGMLType = 25
	TypeI32     GGMLType = 26
	TypeI64     GGMLType = 27
	TypeF64     GGMLType = 28
	TypeIQ1_M   GGMLType = 29
	TypeBF16    GGMLType = 30
	TypeTQ1_0   GGMLType = 34
	TypeTQ2_0   GGMLType = 35
	TypeMXFP4   GGMLType = 39
	TypeNVFP4   GGMLType = 40
	TypeQ1_0    GGMLType = 41
)

type typeInfo struct {
	name      string
	blockSize uint64 // elements per block
	typeSize  uint64 // bytes per block
	removed   bool   // the id once existed; ggml refuses it in files now
}

// types is ggml's type_traits table (blck_size, type_size), indexed by id.
//
// Where the numbers come from: ggml-org/llama.cpp ggml/src/ggml.c
// `type_traits[GGML_TYPE_COUNT]` (stored version 00bdaa10) gives each type's
// blck_size as a QK* constant and type_size as sizeof(block_*); the block
// structs and QK* constants are in ggml/src/ggml-common.h (stored version
// 01243c58), each guarded there by a static_assert on its exact size, which
// the comment on every row repeats. QK_K = 256. ggml_half is 2 bytes.
// The enum numbers are from ggml/include/ggml.h.
//
// Ids 40 (NVFP4) and 41 (Q1_0) are newer than the reference document
// (which stops at MXFP4 = 39, GGML_TYPE_COUNT = 40); they are in that
// ggml.c type_traits with sizes fixed by ggml-common.h, so a file using
// them is sized exactly and accepted. Anything above 41 is refused as
// unknown: without a size we cannot bound-check the tensor.
var types = [...]typeInfo{
	TypeF32:     sized("F32", 1, 4),        // sizeof(float)
	TypeF16:     sized("F16", 1, 2),        // sizeof(ggml_fp16_t)
	TypeQ4_0:    sized("Q4_0", 32, 18),     // QK4_0=32; block_q4_0: ggml_half d + qs[QK4_0/2]
	TypeQ4_1:    sized("Q4_1", 32, 20),     // QK4_1=32; block_q4_1: 2*ggml_half + qs[QK4_1/2]
	4:           gone("Q4_2"),              // "GGML_TYPE_Q4_2 = 4, support has been removed"
	5:           gone("Q4_3"),              // "GGML_TYPE_Q4_3 = 5, support has been removed"
	TypeQ5_0:    sized("Q5_0", 32, 22),     // QK5_0=32; block_q5_0: ggml_half + uint32 qh + qs[16]
	TypeQ5_1:    sized("Q5_1", 32, 24),     // QK5_1=32; block_q5_1: 2*ggml_half + uint32 qh + qs[16]
	TypeQ8_0:    sized("Q8_0", 32, 34),     // QK8_0=32; block_q8_0: ggml_half + qs[32]
	TypeQ8_1:    sized("Q8_1", 32, 36),     // QK8_1=32; block_q8_1: 2*ggml_half + qs[32]
	TypeQ2_K:    sized("Q2_K", 256, 84),    // block_q2_K: 2*ggml_half + QK_K/16 + QK_K/4
	TypeQ3_K:    sized("Q3_K", 256, 110),   // block_q3_K: ggml_half + QK_K/4 + QK_K/8 + 12
	TypeQ4_K:    sized("Q4_K", 256, 144),   // block_q4_K: 2*ggml_half + K_SCALE_SIZE(12) + QK_K/2
	TypeQ5_K:    sized("Q5_K", 256, 176),   // block_q5_K: 2*ggml_half + 12 + QK_K/2 + QK_K/8
	TypeQ6_K:    sized("Q6_K", 256, 210),   // block_q6_K: ggml_half + QK_K/16 + 3*QK_K/4
	TypeQ8_K:    sized("Q8_K", 256, 292),   // block_q8_K: float + QK_K + QK_K/16*sizeof(int16)
	TypeIQ2_XXS: sized("IQ2_XXS", 256, 66), // block_iq2_xxs: ggml_half + QK_K/8*sizeof(uint16)
	TypeIQ2_XS:  sized("IQ2_XS", 256, 74),  // block_iq2_xs: ggml_half + QK_K/8*sizeof(uint16) + QK_K/32
	TypeIQ3_XXS: sized("IQ3_XXS", 256, 98), // block_iq3_xxs: ggml_half + 3*(QK_K/8)
	TypeIQ1_S:   sized("IQ1_S", 256, 50),   // block_iq1_s: ggml_half + QK_K/8 + QK_K/16
	TypeIQ4_NL:  sized("IQ4_NL", 32, 18),   // QK4_NL=32; block_iq4_nl: ggml_half + QK4_NL/2
	TypeIQ3_S:   sized("IQ3_S", 256, 110),  // block_iq3_s: ggml_half + 13*(QK_K/32) + QK_K/64
	TypeIQ2_S:   sized("IQ2_S", 256, 82),   // block_iq2_s: ggml_half + QK_K/4 + QK_K/16
	TypeIQ4_XS:  sized("IQ4_XS", 256, 136), // block_iq4_xs: ggml_half + uint16 + QK_K/64 + QK_K/2
	TypeI8:      sized("I8", 1, 1),         // sizeof(int8_t)
	TypeI16:     sized("I16", 1, 2),        // sizeof(int16_t)
	TypeI32:     sized("I32", 1, 4),        // sizeof(int32_t)
	TypeI64:     sized("I64", 1, 8),        // sizeof(int64_t)
	TypeF64:     sized("F64", 1, 8),        // sizeof(double)
	TypeIQ1_M:   sized("IQ1_M", 256, 56),   // block_iq1_m: QK_K/8 + QK_K/16 + QK_K/32
	TypeBF16:    sized("BF16", 1, 2),       // sizeof(ggml_bf16_t)
	31:          gone("Q4_0_4_4"),          // "REMOVED, use Q4_0 with runtime repacking"
	32:          gone("Q4_0_4_8"),          // idem
	33:          gone("Q4_0_8_8"),          // idem
	TypeTQ1_0:   sized("TQ1_0", 256, 54),   // block_tq1_0: ggml_half + QK_K/64 + (QK_K - 4*QK_K/64)/5
	TypeTQ2_0:   sized("TQ2_0", 256, 66),   // block_tq2_0: ggml_half + QK_K/4
	36:          gone("IQ4_NL_4_4"),        // "REMOVED, use IQ4_NL with runtime repacking"
	37:          gone("IQ4_NL_4_8"),        // idem
	38:          gone("IQ4_NL_8_8"),        // idem
	TypeMXFP4:   sized("MXFP4", 32, 17),    // QK_MXFP4=32; block_mxfp4: uint8 e + QK_MXFP4/2
	TypeNVFP4:   sized("NVFP4", 64, 36),    // QK_NVFP4=64; block_nvfp4: d[QK_NVFP4/16] + qs[QK_NVFP4/2]
	TypeQ1_0:    sized("Q1_0", 128, 18),    // QK1_0=128; block_q1_0: ggml_half + QK1_0/8
}

func sized(name string, blockSize, typeSize uint64) typeInfo {
	return typeInfo{name: name, blockSize: blockSize, typeSize: typeSize}
}

func gone(name string) typeInfo { return typeInfo{name: name, removed: true} }

func (t GGMLType) info() (typeInfo, bool) {
	if int64(t) >= int64(len(types)) {
		return typeInfo{}, false
	}
	ti := types[t]
	return ti, ti.name != "" && !ti.removed
}

// Known reports whether t is a type this package can size.
func (t GGMLType) Known() bool {
	_, ok := t.info()
	return ok
}

// BlockSize is the number of elements in one block of t (1 for plain
// types), or 0 when t is unknown or removed.
func (t GGMLType) BlockSize() uint64 {
	ti, _ := t.info()
	return ti.blockSize
}

// TypeSize is the number of bytes in one block of t, or 0 when t is
// unknown or removed.
func (t GGMLType) TypeSize() uint64 {
	ti, _ := t.info()
	return ti.typeSize
}

// String is the type's name as ggml's tools print it ("Q4_K"), or
// "type(N)" for an id ggml never had.
func (t GGMLType) String() string {
	if int64(t) < int64(len(types)) && types[t].name != "" {
		return types[t].name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// check explains why a tensor of type t cannot be accepted.
func (t GGMLType) check() error {
	if int64(t) < int64(len(types)) && types[t].removed {
		return fmt.Errorf("type %d (%s) was removed from ggml and is no longer valid in GGUF files", uint32(t), types[t].name)
	}
	if !t.Known() {
		return fmt.Errorf("type %d is not a ggml tensor type this registry knows the size of", uint32(t))
	}
	return nil
}
