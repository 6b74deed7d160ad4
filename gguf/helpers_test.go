package gguf

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
)

// Encoders for building test files byte by byte.

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// gstr encodes a gguf_string.
func gstr(s string) []byte { return cat(le64(uint64(len(s))), []byte(s)) }

// arr encodes an array value (the part after the type tag).
func arr(et ValueType, n uint64, elems ...[]byte) []byte {
	return cat(le32(uint32(et)), le64(n), cat(elems...))
}

type kvSpec struct {
	key string
	typ ValueType
	raw []byte
}

func kvStr(key, v string) kvSpec        { return kvSpec{key, String, gstr(v)} }
func kvU32(key string, v uint32) kvSpec { return kvSpec{key, Uint32, le32(v)} }

type tensorSpec struct {
	name   string
	dims   []uint64
	typ    GGMLType
	offset uint64
}

// spec describes a GGUF file. Zero values give a valid v3 file: the counts
// follow the slices, the header is padded to the alignment and every
// tensor gets zero bytes padded to the alignment, unless overridden.
type spec struct {
	magic    string
	version  uint32
	nTensors *uint64
	nKVs     *uint64
	kvs      []kvSpec
	tensors  []tensorSpec
	align    uint64 // padding used when writing; 0 = 32
	noData   bool   // stop after the header padding
	data     []byte // if set, written instead of generated tensor bytes
}

func (s spec) header() []byte {
	var b bytes.Buffer
	magic := s.magic
	if magic == "" {
		magic = "GGUF"
	}
	version := s.version
	if version == 0 {
		version = 3
	}
	nT, nKV := uint64(len(s.tensors)), uint64(len(s.kvs))
	if s.nTensors != nil {
		nT = *s.nTensors
	}
	if s.nKVs != nil {
		nKV = *s.nKVs
	}
	b.WriteString(magic)
	b.Write(le32(version))
	b.Write(le64(nT))
	b.Write(le64(nKV))
	for _, kv := range s.kvs {
		b.Write(gstr(kv.key))
		b.Write(le32(uint32(kv.typ)))
		b.Write(kv.raw)
	}
	for _, t := range s.tensors {
		b.Write(gstr(t.name))
		b.Write(le32(uint32(len(t.dims))))
		for _, d := range t.dims {
			b.Write(le64(d))
		}
		b.Write(le32(uint32(t.typ)))
		b.Write(le64(t.offset))
	}
	return b.Bytes()
}

func (s spec) bytes() []byte {
	align := s.align
	if align == 0 {
		align = 32
	}
	b := s.header()
	if len(s.tensors) == 0 {
		return b
	}
	for uint64(len(b))%align != 0 {
		b = append(b, 0)
	}
	if s.noData {
		return b
	}
	if s.data != nil {
		return append(b, s.data...)
	}
	for _, t := range s.tensors {
		n := uint64(1)
		for _, d := range t.dims {
			n *= d
		}
		size := n / t.typ.BlockSize() * t.typ.TypeSize()
		size = (size + align - 1) / align * align
		b = append(b, make([]byte, size)...)
	}
	return b
}

// contiguous assigns each tensor the offset ggml requires.
func contiguous(align uint64, ts ...tensorSpec) []tensorSpec {
	var off uint64
	for i := range ts {
		ts[i].offset = off
		n := uint64(1)
		for _, d := range ts[i].dims {
			n *= d
		}
		size := n / ts[i].typ.BlockSize() * ts[i].typ.TypeSize()
		off += (size + align - 1) / align * align
	}
	return ts
}

func u64p(v uint64) *uint64 { return &v }

// minimalFile is the 24-byte file of reference §12.
func minimalFile() []byte {
	return []byte{0x47, 0x47, 0x55, 0x46, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
}

// tinyFile is the 160-byte file of reference §12, written the way its Go
// generator writes it.
func tinyFile() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	str := func(s string) { binary.Write(&b, le, uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	binary.Write(&b, le, uint32(3))
	binary.Write(&b, le, uint64(1))
	binary.Write(&b, le, uint64(1))
	str("general.architecture")
	binary.Write(&b, le, uint32(8))
	str("llama")
	str("token_embd.weight")
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(4))
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, uint64(0))
	pad := func() {
		for b.Len()%32 != 0 {
			b.WriteByte(0)
		}
	}
	pad()
	binary.Write(&b, le, []float32{1, 2, 3, 4})
	pad()
	return b.Bytes()
}

// richFile uses every value type, arrays of every element type, an
// alignment of 64 and tensors of several block types.
func richFile() []byte {
	f32 := func(v float32) []byte { return le32(math.Float32bits(v)) }
	f64 := func(v float64) []byte { return le64(math.Float64bits(v)) }
	s := spec{
		align: 64,
		kvs: []kvSpec{
			kvStr("general.architecture", "llama"),
			kvU32("general.alignment", 64),
			{"u8", Uint8, []byte{200}},
			{"i8", Int8, []byte{0xff}},
			{"u16", Uint16, []byte{1, 2}},
			{"i16", Int16, []byte{0xfe, 0xff}},
			{"i32", Int32, le32(0xfffffffd)},
			{"f32", Float32, f32(1.5)},
			{"bool", Bool, []byte{1}},
			{"u64", Uint64, le64(1 << 40)},
			{"i64", Int64, le64(math.MaxUint64)},
			{"f64", Float64, f64(-2.25)},
			{"tokenizer.chat_template", String, gstr("{% for m in messages %}{{ m.content }}{% endfor %}")},
			{"arr.u8", Array, arr(Uint8, 3, []byte{1, 2, 3})},
			{"arr.i8", Array, arr(Int8, 1, []byte{0x80})},
			{"arr.u16", Array, arr(Uint16, 1, []byte{0, 1})},
			{"arr.i16", Array, arr(Int16, 0)},
			{"arr.u32", Array, arr(Uint32, 2, le32(7), le32(8))},
			{"arr.i32", Array, arr(Int32, 1, le32(0xffffffff))},
			{"arr.f32", Array, arr(Float32, 2, f32(0.5), f32(-1))},
			{"arr.bool", Array, arr(Bool, 2, []byte{0, 1})},
			{"arr.str", Array, arr(String, 3, gstr("<s>"), gstr(""), gstr("héllo"))},
			{"arr.u64", Array, arr(Uint64, 1, le64(9))},
			{"arr.i64", Array, arr(Int64, 1, le64(math.MaxUint64))},
			{"arr.f64", Array, arr(Float64, 1, f64(3))},
		},
		tensors: contiguous(64,
			tensorSpec{name: "token_embd.weight", dims: []uint64{256, 2}, typ: TypeQ4_K},
			tensorSpec{name: "blk.0.attn_norm.weight", dims: []uint64{5}, typ: TypeF32},
			tensorSpec{name: "blk.0.attn_q.weight", dims: []uint64{32, 3, 1, 2}, typ: TypeQ8_0},
			tensorSpec{name: "output.weight", dims: []uint64{64}, typ: TypeMXFP4},
		),
	}
	return s.bytes()
}

// countingReader counts the bytes handed to Parse, to prove it never reads
// past the header.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// encode writes f's header back out (without the alignment padding).
func encode(f *File) []byte {
	var b bytes.Buffer
	b.WriteString("GGUF")
	b.Write(le32(f.Version))
	b.Write(le64(uint64(len(f.Tensors))))
	b.Write(le64(uint64(len(f.KVs))))
	for _, kv := range f.KVs {
		b.Write(gstr(kv.Key))
		b.Write(le32(uint32(kv.Type)))
		b.Write(kv.Raw)
	}
	for _, t := range f.Tensors {
		b.Write(gstr(t.Name))
		b.Write(le32(uint32(len(t.Dims))))
		for _, d := range t.Dims {
			b.Write(le64(d))
		}
		b.Write(le32(uint32(t.Type)))
		b.Write(le64(t.Offset))
	}
	return b.Bytes()
}
