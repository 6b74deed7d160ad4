package gguf

import "testing"

// TestTypeBitsPerWeight checks the table against the bits-per-weight
// figures ggml-common.h states in its comments ("Effectively 4.5 bits per
// weight", "2.0625 bpw", ...), an independent statement of the same sizes.
func TestTypeBitsPerWeight(t *testing.T) {
	for typ, bpw := range map[GGMLType]float64{
		TypeF32: 32, TypeF16: 16, TypeBF16: 16, TypeF64: 64, TypeI8: 8, TypeI16: 16, TypeI32: 32, TypeI64: 64,
		TypeQ4_0: 4.5, TypeQ4_1: 5, TypeQ5_0: 5.5, TypeQ5_1: 6, TypeQ8_0: 8.5, TypeQ8_1: 9,
		TypeQ2_K: 2.625, TypeQ3_K: 3.4375, TypeQ4_K: 4.5, TypeQ5_K: 5.5, TypeQ6_K: 6.5625, TypeQ8_K: 9.125,
		TypeIQ2_XXS: 2.0625, TypeIQ2_XS: 2.3125, TypeIQ2_S: 2.5625, TypeIQ3_XXS: 3.0625, TypeIQ3_S: 3.4375,
		TypeIQ1_S: 1.5625, TypeIQ1_M: 1.75, TypeIQ4_NL: 4.5, TypeIQ4_XS: 4.25,
		TypeTQ1_0: 1.6875, TypeTQ2_0: 2.0625, TypeMXFP4: 4.25, TypeNVFP4: 4.5, TypeQ1_0: 1.125,
	} {
		got := float64(typ.TypeSize()*8) / float64(typ.BlockSize())
		if got != bpw {
			t.Errorf("%s: %v bits per weight, want %v", typ, got, bpw)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for id, want := range map[GGMLType]string{0: "F32", 12: "Q4_K", 16: "IQ2_XXS", 30: "BF16", 39: "MXFP4", 31: "Q4_0_4_4", 42: "type(42)", 1 << 31: "type(2147483648)"} {
		if got := id.String(); got != want {
			t.Errorf("GGMLType(%d).String() = %q, want %q", uint32(id), got, want)
		}
	}
	known := 0
	for id := GGMLType(0); id < 100; id++ {
		if id.Known() {
			known++
			if id.BlockSize() == 0 || id.TypeSize() == 0 {
				t.Errorf("%s has no size", id)
			}
		} else if id.BlockSize() != 0 || id.TypeSize() != 0 {
			t.Errorf("%s is unknown but has a size", id)
		}
	}
	// 0..41 minus the eight removed ids.
	if known != 42-8 {
		t.Errorf("%d known types, want 34", known)
	}
}

// Every known type parses with a shape of two blocks by three rows, its
// size is blocks * type size, and the file with its data validates.
func TestEveryTypeSized(t *testing.T) {
	var ts []tensorSpec
	for id := GGMLType(0); id < 64; id++ {
		if id.Known() {
			ts = append(ts, tensorSpec{name: "t." + id.String(), dims: []uint64{2 * id.BlockSize(), 3}, typ: id})
		}
	}
	b := spec{tensors: contiguous(32, ts...)}.bytes()
	f := mustParse(t, b)
	for _, tt := range f.Tensors {
		if want := 6 * tt.Type.TypeSize(); tt.Size != want || tt.Elements != 6*tt.Type.BlockSize() {
			t.Errorf("%s: %d bytes, %d elements; want %d bytes", tt.Name, tt.Size, tt.Elements, want)
		}
	}
}
