package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustParse(t *testing.T, b []byte) *File {
	t.Helper()
	f, err := Parse(bytes.NewReader(b), DefaultLimits)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := f.Validate(int64(len(b))); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return f
}

func TestMinimalFile(t *testing.T) {
	b := minimalFile()
	if got, want := sha(b), "a4e5e156ddec27e286f75328784d7106b60a4eb1d246e950a001a3f944fbda99"; got != want {
		t.Fatalf("fixture sha256 %s, reference says %s", got, want)
	}
	f := mustParse(t, b)
	if f.Version != 3 || len(f.KVs) != 0 || len(f.Tensors) != 0 || f.Alignment != 32 || f.DataOffset != 24 || f.HeaderBytes != 24 {
		t.Fatalf("got %+v", f)
	}
	// Without tensors there is no aligned data section: the file may end at
	// the header or carry padding up to the alignment, nothing more.
	for size, ok := range map[int64]bool{23: false, 24: true, 32: true, 33: false} {
		if err := f.Validate(size); (err == nil) != ok {
			t.Errorf("Validate(%d) = %v, want ok=%v", size, err, ok)
		}
	}
}

func TestTinyFile(t *testing.T) {
	b := tinyFile()
	if len(b) != 160 {
		t.Fatalf("fixture is %d bytes, want 160", len(b))
	}
	if got, want := sha(b), "b65987353fd36e34641f22bb4a28addd954948d48cb5c0ee0f72e8acdd47a700"; got != want {
		t.Fatalf("fixture sha256 %s, reference says %s", got, want)
	}
	r := bytes.NewReader(b)
	f, err := Parse(r, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 160-128 {
		t.Errorf("Parse left %d bytes unread, want the 32 data bytes", r.Len())
	}
	if f.HeaderBytes != 128 || f.DataOffset != 128 || f.Alignment != 32 || f.Version != 3 {
		t.Errorf("header: %+v", f)
	}
	if err := f.Validate(160); err != nil {
		t.Fatal(err)
	}
	if len(f.KVs) != 1 || f.KVs[0].Key != "general.architecture" || f.KVs[0].Type != String {
		t.Fatalf("KVs: %+v", f.KVs)
	}
	if !bytes.Equal(f.KVs[0].Raw, b[0x38:0x45]) {
		t.Errorf("Raw %x is not the file's bytes %x", f.KVs[0].Raw, b[0x38:0x45])
	}
	if s, err := f.KVs[0].String(); err != nil || s != "llama" {
		t.Errorf("String() = %q, %v", s, err)
	}
	want := Tensor{Name: "token_embd.weight", Dims: []uint64{4}, Type: TypeF32, Offset: 0, Size: 16, Elements: 4}
	if len(f.Tensors) != 1 || !reflect.DeepEqual(f.Tensors[0], want) {
		t.Fatalf("tensors: %+v", f.Tensors)
	}
	start, end := f.Range(f.Tensors[0])
	if got, want := sha(b[start:end]), "ad73b9acd6e4a74b2f5bb5386658ce3bb146cd040a1867646ab3b973fb6632b1"; got != want {
		t.Errorf("tensor bytes sha256 %s, reference says %s", got, want)
	}
}

func TestRichFile(t *testing.T) {
	b := richFile()
	f := mustParse(t, b)
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Errorf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
	}
	if !bytes.Equal(encode(f), b[:len(encode(f))]) {
		t.Error("re-encoding the parsed header does not give the file's bytes")
	}
	want := map[string]any{
		"general.architecture": "llama", "general.alignment": uint32(64),
		"u8": uint8(200), "i8": int8(-1), "u16": uint16(0x0201), "i16": int16(-2), "i32": int32(-3),
		"f32": float32(1.5), "bool": true, "u64": uint64(1 << 40), "i64": int64(-1), "f64": float64(-2.25),
		"arr.u8": []uint8{1, 2, 3}, "arr.i8": []int8{-128}, "arr.u16": []uint16{256}, "arr.i16": []int16{},
		"arr.u32": []uint32{7, 8}, "arr.i32": []int32{-1}, "arr.f32": []float32{0.5, -1}, "arr.bool": []bool{false, true},
		"arr.str": []string{"<s>", "", "héllo"}, "arr.u64": []uint64{9}, "arr.i64": []int64{-1}, "arr.f64": []float64{3},
	}
	for key, w := range want {
		kv, ok := f.Lookup(key)
		if !ok {
			t.Errorf("key %q missing", key)
			continue
		}
		got, err := kv.Value()
		if err != nil || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: Value() = %#v, %v; want %#v", key, got, err, w)
		}
	}
	kv, _ := f.Lookup("u16")
	if v, err := kv.Uint(); err != nil || v != 0x0201 {
		t.Errorf("Uint() = %d, %v", v, err)
	}
	if _, err := kv.String(); err == nil || !strings.Contains(err.Error(), `key "u16" is a uint16, not a string`) {
		t.Errorf("String() on a uint16: %v", err)
	}
	kv, _ = f.Lookup("i16")
	if v, err := kv.Int(); err != nil || v != -2 {
		t.Errorf("Int() = %d, %v", v, err)
	}
	kv, _ = f.Lookup("f64")
	if v, err := kv.Float(); err != nil || v != -2.25 {
		t.Errorf("Float() = %v, %v", v, err)
	}
	kv, _ = f.Lookup("bool")
	if v, err := kv.Bool(); err != nil || !v {
		t.Errorf("Bool() = %v, %v", v, err)
	}
	kv, _ = f.Lookup("arr.str")
	if et, n, err := kv.ArrayInfo(); err != nil || et != String || n != 3 {
		t.Errorf("ArrayInfo() = %v, %d, %v", et, n, err)
	}
	wantTensors := []struct {
		name string
		size uint64
	}{{"token_embd.weight", 2 * 144}, {"blk.0.attn_norm.weight", 20}, {"blk.0.attn_q.weight", 6 * 34}, {"output.weight", 2 * 17}}
	for i, w := range wantTensors {
		if tt := f.Tensors[i]; tt.Name != w.name || tt.Size != w.size {
			t.Errorf("tensor %d: %s %d bytes, want %s %d", i, tt.Name, tt.Size, w.name, w.size)
		}
	}
	// Reading one byte at a time gives the same result.
	g, err := Parse(iotest.OneByteReader(bytes.NewReader(b)), DefaultLimits)
	if err != nil || !reflect.DeepEqual(f, g) {
		t.Errorf("byte-at-a-time parse differs: %v", err)
	}
}

// A hand-made KV with bad Raw bytes gives errors, not panics.
func TestKVAccessorsOnBadRaw(t *testing.T) {
	for _, kv := range []KV{
		{Key: "k", Type: String, Raw: le64(100)},
		{Key: "k", Type: String, Raw: []byte{1}},
		{Key: "k", Type: Uint32, Raw: []byte{1}},
		{Key: "k", Type: Array, Raw: arr(String, math.MaxUint64)},
		{Key: "k", Type: Array, Raw: arr(Uint32, 3, le32(1))},
		{Key: "k", Type: Array, Raw: arr(Array, 1, le32(1))},
		{Key: "k", Type: Array, Raw: []byte{1}},
		{Key: "k", Type: ValueType(99), Raw: []byte{1}},
	} {
		if _, err := kv.Value(); err == nil {
			t.Errorf("Value() of %+v succeeded", kv)
		}
	}
}

// TestTruncated cuts the valid files at every byte: the header part must
// fail to parse with an end-of-file error, the data part must fail
// Validate, and only a file that ends inside the last tensor's padding
// passes.
func TestTruncated(t *testing.T) {
	for name, b := range map[string][]byte{"minimal": minimalFile(), "tiny": tinyFile(), "rich": richFile()} {
		full := mustParse(t, b)
		dataEnd := full.DataOffset
		if n := len(full.Tensors); n > 0 {
			_, dataEnd = full.Range(full.Tensors[n-1])
		}
		for i := 0; i < len(b); i++ {
			f, err := Parse(bytes.NewReader(b[:i]), DefaultLimits)
			if int64(i) < full.HeaderBytes {
				if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s cut at %d: Parse = %v, want an end-of-file error", name, i, err)
				}
				if !strings.Contains(err.Error(), "file ends at byte") {
					t.Fatalf("%s cut at %d: unclear error %q", name, i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s cut at %d: header is complete but Parse = %v", name, i, err)
			}
			err = f.Validate(int64(i))
			if int64(i) < dataEnd && (err == nil || !strings.Contains(err.Error(), "past the end of the file")) {
				t.Fatalf("%s cut at %d: Validate = %v, want past-the-end error", name, i, err)
			}
			if int64(i) >= dataEnd && err != nil {
				t.Fatalf("%s cut at %d (inside the last padding): Validate = %v", name, i, err)
			}
		}
	}
}

func TestReaderErrorIsReported(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(tinyFile()[:50]), iotest.ErrReader(boom))
	if _, err := Parse(r, DefaultLimits); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

// twoTensors is a valid base for the negative cases: "a" F32[4] (16 bytes,
// padded to 32) and "b" F32[8] (32 bytes) at offset 32.
func twoTensors() spec {
	return spec{
		kvs: []kvSpec{kvStr("general.architecture", "llama")},
		tensors: contiguous(32,
			tensorSpec{name: "a", dims: []uint64{4}, typ: TypeF32},
			tensorSpec{name: "b", dims: []uint64{8}, typ: TypeF32}),
	}
}

// with edits a deep copy of s and encodes it.
func with(s spec, edit func(*spec)) []byte {
	s.kvs = append([]kvSpec(nil), s.kvs...)
	s.tensors = append([]tensorSpec(nil), s.tensors...)
	for i := range s.tensors {
		s.tensors[i].dims = append([]uint64(nil), s.tensors[i].dims...)
	}
	edit(&s)
	return s.bytes()
}

func patched(b []byte, off int, p []byte) []byte {
	b = bytes.Clone(b)
	copy(b[off:], p)
	return b
}

func oneTensor(dims []uint64, typ GGMLType) []byte {
	return spec{tensors: []tensorSpec{{name: "blk.0.attn_q.weight", dims: dims, typ: typ}}, noData: true}.bytes()
}

func TestNegative(t *testing.T) {
	base := twoTensors()
	valid := base.bytes()
	if _, err := Parse(bytes.NewReader(valid), DefaultLimits); err != nil {
		t.Fatalf("base is invalid: %v", err)
	}
	small := Limits{MaxTensors: 1, MaxKVs: 1, MaxString: 10, MaxArrayLen: 2, MaxHeaderBytes: 200}
	long := strings.Repeat("x", 64)

	cases := []struct {
		name string
		file []byte
		lim  Limits
		size int64 // for Validate; 0 = len(file)
		want string
	}{
		{name: "bad magic", file: with(base, func(s *spec) { s.magic = "GGML" }), want: `not a GGUF file: magic "GGML"`},
		{name: "empty file", file: nil, want: "magic: file ends at byte 0"},
		{name: "version 0", file: patched(valid, 4, le32(0)), want: "version 0 is invalid"},
		{name: "version 1", file: with(base, func(s *spec) { s.version = 1 }), want: "version 1 is no longer supported"},
		{name: "version 4", file: with(base, func(s *spec) { s.version = 4 }), want: "version 4 is not supported"},
		{name: "big-endian v3", file: with(base, func(s *spec) { s.version = 0x03000000 }), want: "big-endian"},
		{name: "big-endian v2", file: with(base, func(s *spec) { s.version = 0x02000000 }), want: "big-endian"},

		{name: "unaligned offset", file: with(base, func(s *spec) { s.tensors[1].offset = 40 }), want: `tensor "b": offset 40 is not aligned to 32`},
		{name: "gap", file: with(base, func(s *spec) { s.tensors[1].offset = 64 }), want: `tensor "b": offset 64, expected 32: 32 unused bytes after tensor "a"`},
		{name: "first tensor not at 0", file: with(base, func(s *spec) { s.tensors[0].offset = 32; s.tensors[1].offset = 64 }), want: `tensor "a": offset 32, expected 0: the first tensor must start`},
		{name: "overlap", file: with(base, func(s *spec) { s.tensors[0].dims = []uint64{16}; s.tensors[1].offset = 32 }), want: `tensor "b": offset 32, expected 64: it overlaps tensor "a" at [0, 64)`},
		{name: "same offset", file: with(base, func(s *spec) { s.tensors[1].offset = 0 }), want: `tensor "b": offset 0, expected 32: it overlaps tensor "a" at [0, 16)`},
		{name: "reordered", file: with(base, func(s *spec) { s.tensors[0].offset = 32; s.tensors[1].offset = 0 }), want: `tensor "a": offset 32, expected 0: tensor "b" is stored there instead, but tensor data must be stored in header order`},
		{name: "reordered later", file: with(base, func(s *spec) {
			s.tensors = append(s.tensors, tensorSpec{name: "c", dims: []uint64{4}, typ: TypeF32})
			s.tensors[1].offset, s.tensors[2].offset = 64, 32
		}), want: `tensor "b": offset 64, expected 32: tensor "c" is stored there instead`},
		{name: "tensor past EOF", file: valid[:len(valid)-1], want: `tensor "b": bytes [192, 224) extend past the end of the file (223 bytes)`},
		{name: "huge offset", file: with(base, func(s *spec) { s.tensors[1].offset = 1 << 62 }), want: `tensor "b": offset 4611686018427387904, expected 32`},
		{name: "trailing bytes", file: append(bytes.Clone(valid), 0), want: "1 bytes follow the end of the data at offset 224"},
		{name: "trailing bytes beyond padding", file: append(with(base, func(s *spec) {
			s.tensors[1].dims = []uint64{4}
			s.data = make([]byte, 48)
		}), make([]byte, 17)...), want: "17 bytes follow the end of the data at offset 208 (only alignment padding up to 224 may)"},
		{name: "header longer than file", file: valid, size: 50, want: "the header (160 bytes) is longer than the file (50 bytes)"},

		{name: "duplicate tensor", file: with(base, func(s *spec) { s.tensors[1].name = "a" }), want: `tensor "a" appears more than once`},
		{name: "duplicate key", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvStr("general.architecture", "evil")) }), want: `key "general.architecture" appears more than once`},
		{name: "nested array", file: with(base, func(s *spec) {
			s.kvs = append(s.kvs, kvSpec{"x", Array, arr(Array, 1, arr(Uint8, 1, []byte{1}))})
		}), want: `key "x": nested arrays are not allowed`},
		{name: "5 dims", file: oneTensor([]uint64{1, 1, 1, 1, 1}, TypeF32), want: `tensor "blk.0.attn_q.weight" has 5 dimensions, at most 4`},
		{name: "zero dim", file: oneTensor([]uint64{4, 0}, TypeF32), want: `tensor "blk.0.attn_q.weight": dimension 1 is 0`},
		{name: "element overflow", file: oneTensor([]uint64{1 << 32, 1 << 32}, TypeF32), want: "has more than 9223372036854775807 elements"},
		{name: "dim beyond int64", file: oneTensor([]uint64{1 << 63}, TypeI8), want: "has more than"},
		{name: "byte size overflow", file: oneTensor([]uint64{1 << 62}, TypeF32), want: "is larger than 2^63 bytes"},
		{name: "type 42", file: oneTensor([]uint64{32}, 42), want: "type 42 is not a ggml tensor type"},
		{name: "type 2^32-1", file: oneTensor([]uint64{32}, math.MaxUint32), want: "type 4294967295 is not"},
		{name: "block size", file: oneTensor([]uint64{16, 2}, TypeQ4_0), want: `tensor "blk.0.attn_q.weight": first dimension 16 is not a multiple of the Q4_0 block size 32`},
		{name: "block size K", file: oneTensor([]uint64{128}, TypeQ6_K), want: "first dimension 128 is not a multiple of the Q6_K block size 256"},
		{name: "string past EOF", file: cat(spec{nKVs: u64p(1)}.header(), gstr("k"), le32(uint32(String)), le64(1000), []byte("abc")),
			want: `key "k": string of 1000 bytes: file ends at byte 48, 997 bytes short`},
		{name: "key past EOF", file: cat(spec{nKVs: u64p(1)}.header(), le64(30), []byte("abc")), want: "key 0: name of 30 bytes: file ends"},
		{name: "more tensors than present", file: func() []byte { s := base; s.nTensors = u64p(3); return s.header() }(), want: "tensor 2: length: file ends"},

		{name: "alignment 0", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvU32("general.alignment", 0)) }), want: "general.alignment 0 is not a power of two"},
		{name: "alignment 3", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvU32("general.alignment", 3)) }), want: "general.alignment 3 is not a power of two"},
		{name: "alignment 2^31", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvU32("general.alignment", 1<<31)) }), want: "general.alignment 2147483648 exceeds the maximum of 1048576"},
		{name: "alignment u64", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvSpec{"general.alignment", Uint64, le64(32)}) }), want: "general.alignment is a uint64, must be a uint32"},
		{name: "nonzero padding", file: patched(valid, 150, []byte{7}), want: "alignment padding byte at offset 150 is 0x07, must be 0"},

		// ggml refuses names that do not fit GGML_MAX_NAME (64) with their NUL.
		{name: "name 64 bytes", file: with(base, func(s *spec) { s.tensors[0].name = long }), want: "tensor 0: name of 64 bytes is longer than the maximum of 63"},
		{name: "empty key", file: with(base, func(s *spec) { s.kvs[0].key = "" }), want: "key 0: empty name"},
		{name: "empty tensor name", file: with(base, func(s *spec) { s.tensors[0].name = "" }), want: "tensor 0: empty name"},
		{name: "NUL in key", file: with(base, func(s *spec) { s.kvs[0].key = "general.architecture\x00x" }), want: `name "general.architecture\x00x" contains a NUL byte`},
		{name: "bad UTF-8 name", file: with(base, func(s *spec) { s.tensors[0].name = "a\xff" }), want: `name "a\xff" is not valid UTF-8`},
		{name: "key too long", file: with(base, func(s *spec) { s.kvs[0].key = strings.Repeat("k", 65536) }), want: "name of 65536 bytes is longer than the maximum of 65535"},
		{name: "bool 2", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvSpec{"b", Bool, []byte{2}}) }), want: `key "b": bool value 2 is not 0 or 1`},
		{name: "bool array 7", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvSpec{"b", Array, arr(Bool, 2, []byte{1, 7})}) }), want: `key "b": array element 1: bool value 7`},
		{name: "value type 13", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvSpec{"x", 13, []byte{1}}) }), want: `key "x": unknown value type 13`},
		{name: "array element type 13", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvSpec{"x", Array, arr(13, 1, []byte{1})}) }), want: `key "x": array element type 13 is unknown`},
		{name: "array string past EOF", file: cat(spec{nKVs: u64p(1)}.header(), gstr("k"), le32(uint32(Array)), arr(String, 2, gstr("ok"), le64(5), []byte("ab"))),
			want: `key "k": array element 1 of 2: string of 5 bytes: file ends`},

		{name: "tensor count limit", file: valid, lim: small, want: "tensor count 2 exceeds the limit of 1"},
		{name: "kv count limit", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvStr("x", "y")); s.tensors = s.tensors[:1] }), lim: small, want: "metadata key/value count 2 exceeds the limit of 1"},
		{name: "string limit", file: with(base, func(s *spec) { s.tensors = s.tensors[:1]; s.kvs[0] = kvStr("k", "01234567890") }), lim: small, want: `key "k": string of 11 bytes exceeds the limit of 10`},
		{name: "array limit", file: with(base, func(s *spec) {
			s.tensors = s.tensors[:1]
			s.kvs[0] = kvSpec{"k", Array, arr(Uint8, 3, []byte{1, 2, 3})}
		}), lim: small, want: `key "k": array of 3 elements exceeds the limit of 2`},
		{name: "header limit", file: with(base, func(s *spec) {
			s.tensors = s.tensors[:1]
			s.kvs[0] = kvSpec{"k", Array, arr(Uint64, 2, le64(1), le64(2))}
		}), lim: Limits{MaxHeaderBytes: 90}, want: "header would exceed 90 bytes"},
		{name: "counts beyond header budget", file: with(base, func(s *spec) { s.nKVs = u64p(90_000) }), lim: Limits{MaxHeaderBytes: 1 << 20}, want: "90000 key/values and 2 tensor infos cannot fit"},
		{name: "count beyond default limit", file: with(base, func(s *spec) { s.nTensors = u64p(1 << 40) }), want: "tensor count 1099511627776 exceeds the limit of 100000"},
		{name: "huge string array count", file: with(base, func(s *spec) { s.kvs = append(s.kvs, kvSpec{"k", Array, arr(String, 1<<24)}) }), lim: Limits{MaxHeaderBytes: 1 << 20}, want: `key "k": array of 16777216 strings: header would exceed`},
		{name: "dims limit", file: oneTensor([]uint64{1, 1, 1}, TypeF32), lim: Limits{MaxDims: 2}, want: "has 3 dimensions, at most 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(bytes.NewReader(tc.file), tc.lim)
			if err == nil {
				size := tc.size
				if size == 0 {
					size = int64(len(tc.file))
				}
				err = f.Validate(size)
			} else if f != nil {
				t.Error("Parse returned a File with an error")
			}
			if err == nil {
				t.Fatalf("accepted, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "gguf: ") {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(tc.want, "limit") || strings.Contains(tc.want, "would exceed") || strings.Contains(tc.want, "cannot fit") {
				if !errors.Is(err, ErrLimit) {
					t.Errorf("error %q does not wrap ErrLimit", err)
				}
			}
		})
	}
}

func TestRemovedTypes(t *testing.T) {
	for _, id := range []GGMLType{4, 5, 31, 32, 33, 36, 37, 38} {
		_, err := Parse(bytes.NewReader(oneTensor([]uint64{256}, id)), DefaultLimits)
		if err == nil || !strings.Contains(err.Error(), "was removed from ggml") {
			t.Errorf("type %d: %v", id, err)
		}
	}
}

func TestLongestName(t *testing.T) {
	b := with(twoTensors(), func(s *spec) { s.tensors[0].name = strings.Repeat("n", 63) })
	mustParse(t, b)
}

func TestValidateHandMadeFile(t *testing.T) {
	f := mustParse(t, tinyFile())
	g := *f
	g.Tensors = []Tensor{f.Tensors[0]}
	g.Tensors[0].Size = 8 // lies about its size
	if err := g.Validate(160); err == nil || !strings.Contains(err.Error(), "do not match its shape") {
		t.Errorf("Validate = %v", err)
	}
	g = *f
	g.Alignment = 3
	if err := g.Validate(160); err == nil || !strings.Contains(err.Error(), "alignment 3") {
		t.Errorf("Validate = %v", err)
	}
	g = *f
	g.HeaderBytes = 1
	if err := g.Validate(160); err == nil {
		t.Error("inconsistent header accepted")
	}
	if err := f.Validate(-1); err == nil {
		t.Error("negative size accepted")
	}
}
