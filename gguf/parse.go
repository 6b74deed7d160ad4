package gguf

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// File is a parsed GGUF header.
type File struct {
	Version   uint32
	Alignment uint64 // general.alignment, or DefaultAlignment
	KVs       []KV   // in file order
	Tensors   []Tensor
	// DataOffset is where the data section starts: the end of the tensor
	// infos padded to Alignment (not padded when there are no tensors,
	// as ggml does). Tensor offsets are relative to it.
	DataOffset int64
	// HeaderBytes is how many bytes Parse consumed from its reader. It
	// always equals DataOffset: the alignment padding before the data
	// section is consumed (and checked to be zeros), so the reader is left
	// at the first byte of the first tensor.
	HeaderBytes int64
}

// Tensor is one tensor info. Its bytes are [DataOffset+Offset,
// DataOffset+Offset+Size) in the file.
type Tensor struct {
	Name     string
	Dims     []uint64 // ne[0] first (innermost), as in the file
	Type     GGMLType
	Offset   uint64 // relative to DataOffset
	Size     uint64 // bytes: Elements / BlockSize * TypeSize
	Elements uint64
}

// Lookup returns the KV with the given key.
func (f *File) Lookup(key string) (KV, bool) {
	for _, kv := range f.KVs {
		if kv.Key == key {
			return kv, true
		}
	}
	return KV{}, false
}

// Parse reads a GGUF header (versions 2 and 3) from r, which must be
// positioned at the start of the file, and stops at the start of the data
// section: exactly File.HeaderBytes bytes are consumed, never more, so the
// caller can keep reading r for the tensor data in the same pass. Parse
// reads r in small pieces; give it a bufio.Reader when r is a file or a
// socket.
//
// Everything the header alone can prove is checked here: structure, limits,
// types, shapes, and that tensor offsets are aligned and exactly
// contiguous. Whether the tensors fit in the file needs its size: call
// Validate.
func Parse(r io.Reader, lim Limits) (*File, error) {
	lim = lim.withDefaults()
	p := parser{r: reader{r: r, max: lim.MaxHeaderBytes}, lim: lim}
	f, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

type parser struct {
	r   reader
	lim Limits
}

// Smallest encodings of a KV (key length, 1-byte key, type, 1-byte value)
// and of a tensor info (name length, 1-byte name, n_dims, type, offset).
const (
	minKVBytes     = 8 + 1 + 4 + 1
	minTensorBytes = 8 + 1 + 4 + 4 + 8
)

func (p *parser) parse() (*File, error) {
	r := &p.r
	var magic [4]byte
	if err := r.fill(magic[:]); err != nil {
		return nil, fmt.Errorf("magic: %w", err)
	}
	if string(magic[:]) != "GGUF" {
		return nil, fmt.Errorf("not a GGUF file: magic %q, want \"GGUF\"", magic[:])
	}
	version, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("version: %w", err)
	}
	if err := checkVersion(version); err != nil {
		return nil, err
	}
	nTensors, err := r.u64()
	if err != nil {
		return nil, fmt.Errorf("tensor count: %w", err)
	}
	nKVs, err := r.u64()
	if err != nil {
		return nil, fmt.Errorf("metadata key/value count: %w", err)
	}
	if nTensors > uint64(p.lim.MaxTensors) {
		return nil, fmt.Errorf("tensor count %d exceeds the limit of %d: %w", nTensors, p.lim.MaxTensors, ErrLimit)
	}
	if nKVs > uint64(p.lim.MaxKVs) {
		return nil, fmt.Errorf("metadata key/value count %d exceeds the limit of %d: %w", nKVs, p.lim.MaxKVs, ErrLimit)
	}
	// Each entry takes a minimum number of bytes: counts the header budget
	// cannot hold are refused before any slice is sized by them.
	if budget := uint64(r.max - r.off); nKVs > budget/minKVBytes || nTensors > budget/minTensorBytes ||
		nKVs*minKVBytes+nTensors*minTensorBytes > budget {
		return nil, fmt.Errorf("%d key/values and %d tensor infos cannot fit in the %d-byte header limit: %w", nKVs, nTensors, r.max, ErrLimit)
	}

	f := &File{Version: version, Alignment: DefaultAlignment}
	// The counts are bounded by the limits and by the header budget, but
	// the input may still be much shorter than they claim: start small and
	// let append grow with what actually arrives.
	f.KVs = make([]KV, 0, min(nKVs, 256))
	seen := make(map[string]struct{}, min(nKVs, 256))
	for i := uint64(0); i < nKVs; i++ {
		kv, err := p.kv(i)
		if err != nil {
			return nil, err
		}
		if _, dup := seen[kv.Key]; dup {
			return nil, fmt.Errorf("key %q appears more than once", kv.Key)
		}
		seen[kv.Key] = struct{}{}
		f.KVs = append(f.KVs, kv)
	}
	if kv, ok := f.Lookup("general.alignment"); ok {
		a, err := alignment(kv)
		if err != nil {
			return nil, err
		}
		f.Alignment = a
	}

	f.Tensors = make([]Tensor, 0, min(nTensors, 256))
	names := make(map[string]struct{}, min(nTensors, 256))
	for i := uint64(0); i < nTensors; i++ {
		t, err := p.tensor(i)
		if err != nil {
			return nil, err
		}
		if _, dup := names[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears more than once", t.Name)
		}
		names[t.Name] = struct{}{}
		f.Tensors = append(f.Tensors, t)
	}
	// With no tensors ggml does not seek to an aligned data section, and
	// neither do we: the file may end right after the header.
	if len(f.Tensors) > 0 {
		if err := f.checkLayout(int64(alignUp(uint64(r.off), f.Alignment))); err != nil {
			return nil, err
		}
		if err := p.padding(f.Alignment); err != nil {
			return nil, err
		}
	}
	f.HeaderBytes = r.off
	f.DataOffset = r.off
	return f, nil
}

func checkVersion(v uint32) error {
	switch {
	case v == 0:
		return fmt.Errorf("version 0 is invalid")
	case v&0xFFFF == 0:
		// gguf.cpp's heuristic: a v2/v3 file of the other byte order reads
		// as 0x02000000/0x03000000.
		return fmt.Errorf("version 0x%08x: the file was written in big-endian byte order, which is not supported", v)
	case v == 1:
		return fmt.Errorf("version 1 is no longer supported by ggml; convert the file to GGUF v3")
	case v > 3:
		return fmt.Errorf("version %d is not supported (only 2 and 3)", v)
	}
	return nil
}

func alignment(kv KV) (uint64, error) {
	// gguf.cpp insists on uint32: another type is an error, not ignored.
	if kv.Type != Uint32 {
		return 0, fmt.Errorf("general.alignment is a %s, must be a uint32", kv.Type)
	}
	a, err := kv.Uint()
	if err != nil {
		return 0, err
	}
	if a == 0 || a&(a-1) != 0 {
		return 0, fmt.Errorf("general.alignment %d is not a power of two", a)
	}
	if a > maxAlignment {
		return 0, fmt.Errorf("general.alignment %d exceeds the maximum of %d", a, maxAlignment)
	}
	return a, nil
}

func (p *parser) kv(i uint64) (KV, error) {
	key, err := p.name(maxKeyLen)
	if err != nil {
		return KV{}, fmt.Errorf("key %d: %w", i, err)
	}
	vt, err := p.r.u32()
	if err != nil {
		return KV{}, fmt.Errorf("key %q: value type: %w", key, err)
	}
	raw, err := p.value(ValueType(vt), nil)
	if err != nil {
		return KV{}, fmt.Errorf("key %q: %w", key, err)
	}
	return KV{Key: key, Type: ValueType(vt), Raw: raw}, nil
}

// name reads a key or tensor name. Both must be non-empty UTF-8 without
// NUL bytes: ggml looks keys up with strcmp and copies tensor names into a
// C string, so "a\x00b" would be "a" to llama.cpp but not to us.
func (p *parser) name(maxLen uint64) (string, error) {
	n, err := p.r.u64()
	if err != nil {
		return "", fmt.Errorf("length: %w", err)
	}
	if n == 0 {
		return "", fmt.Errorf("empty name")
	}
	if n > maxLen {
		return "", fmt.Errorf("name of %d bytes is longer than the maximum of %d", n, maxLen)
	}
	if n > uint64(p.lim.MaxString) {
		return "", fmt.Errorf("name of %d bytes exceeds the string limit of %d: %w", n, p.lim.MaxString, ErrLimit)
	}
	b, err := p.r.appendN(nil, n)
	if err != nil {
		return "", fmt.Errorf("name of %d bytes: %w", n, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("name %q is not valid UTF-8", b)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", fmt.Errorf("name %q contains a NUL byte", b)
	}
	return string(b), nil
}

// value reads one value of type t and appends its exact encoding to dst.
func (p *parser) value(t ValueType, dst []byte) ([]byte, error) {
	switch {
	case t == Array:
		return p.array(dst)
	case t == String:
		return p.str(dst)
	case t.valid():
		n := len(dst)
		var err error
		if dst, err = p.r.appendN(dst, t.fixedSize()); err != nil {
			return dst, fmt.Errorf("%s value: %w", t, err)
		}
		if t == Bool && dst[n] > 1 {
			return dst, fmt.Errorf("bool value %d is not 0 or 1", dst[n])
		}
		return dst, nil
	}
	return dst, fmt.Errorf("unknown value type %d", uint32(t))
}

func (p *parser) str(dst []byte) ([]byte, error) {
	dst, n, err := p.r.appendU64(dst)
	if err != nil {
		return dst, fmt.Errorf("string length: %w", err)
	}
	if n > uint64(p.lim.MaxString) {
		return dst, fmt.Errorf("string of %d bytes exceeds the limit of %d: %w", n, p.lim.MaxString, ErrLimit)
	}
	dst, err = p.r.appendN(dst, n)
	if err != nil {
		return dst, fmt.Errorf("string of %d bytes: %w", n, err)
	}
	return dst, nil
}

func (p *parser) array(dst []byte) ([]byte, error) {
	dst, et32, err := p.r.appendU32(dst)
	if err != nil {
		return dst, fmt.Errorf("array element type: %w", err)
	}
	et := ValueType(et32)
	if et == Array {
		return dst, fmt.Errorf("nested arrays are not allowed (ggml refuses them)")
	}
	if !et.valid() {
		return dst, fmt.Errorf("array element type %d is unknown", et32)
	}
	dst, n, err := p.r.appendU64(dst)
	if err != nil {
		return dst, fmt.Errorf("array length: %w", err)
	}
	if n > uint64(p.lim.MaxArrayLen) {
		return dst, fmt.Errorf("array of %d elements exceeds the limit of %d: %w", n, p.lim.MaxArrayLen, ErrLimit)
	}
	if size := et.fixedSize(); size > 0 {
		if n > math.MaxUint64/size {
			return dst, fmt.Errorf("array of %d %s elements: %w", n, et, ErrLimit)
		}
		start := len(dst)
		dst, err = p.r.appendN(dst, n*size)
		if err != nil {
			return dst, fmt.Errorf("array of %d %s elements: %w", n, et, err)
		}
		if et == Bool {
			for j, b := range dst[start:] {
				if b > 1 {
					return dst, fmt.Errorf("array element %d: bool value %d is not 0 or 1", j, b)
				}
			}
		}
		return dst, nil
	}
	// Strings: at least 8 bytes each, so a count the budget cannot hold is
	// refused before reading any of them.
	if n > math.MaxUint64/8 {
		return dst, fmt.Errorf("array of %d strings: %w", n, ErrLimit)
	}
	if err := p.r.need(n * 8); err != nil {
		return dst, fmt.Errorf("array of %d strings: %w", n, err)
	}
	for j := uint64(0); j < n; j++ {
		if dst, err = p.str(dst); err != nil {
			return dst, fmt.Errorf("array element %d of %d: %w", j, n, err)
		}
	}
	return dst, nil
}

func (p *parser) tensor(i uint64) (Tensor, error) {
	name, err := p.name(maxNameLen)
	if err != nil {
		return Tensor{}, fmt.Errorf("tensor %d: %w", i, err)
	}
	t := Tensor{Name: name}
	nd, err := p.r.u32()
	if err != nil {
		return t, fmt.Errorf("tensor %q: number of dimensions: %w", name, err)
	}
	if uint64(nd) > uint64(p.lim.MaxDims) {
		return t, fmt.Errorf("tensor %q has %d dimensions, at most %d are allowed", name, nd, p.lim.MaxDims)
	}
	t.Dims = make([]uint64, nd)
	for j := range t.Dims {
		if t.Dims[j], err = p.r.u64(); err != nil {
			return t, fmt.Errorf("tensor %q: dimension %d: %w", name, j, err)
		}
	}
	typ, err := p.r.u32()
	if err != nil {
		return t, fmt.Errorf("tensor %q: type: %w", name, err)
	}
	t.Type = GGMLType(typ)
	if t.Offset, err = p.r.u64(); err != nil {
		return t, fmt.Errorf("tensor %q: offset: %w", name, err)
	}
	if err := t.size(); err != nil {
		return t, err
	}
	return t, nil
}

// size checks t's type and shape and sets Elements and Size from them.
func (t *Tensor) size() error {
	if err := t.Type.check(); err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	t.Elements = 1
	for j, d := range t.Dims {
		// ggml allows 0 in some versions and not in others; an empty
		// tensor has nothing to verify, so it is refused.
		if d == 0 {
			return fmt.Errorf("tensor %q: dimension %d is 0", t.Name, j)
		}
		if d > maxElements/t.Elements {
			return fmt.Errorf("tensor %q: shape %s has more than %d elements", t.Name, shape(t.Dims), uint64(maxElements))
		}
		t.Elements *= d
	}
	ne0 := uint64(1)
	if len(t.Dims) > 0 {
		ne0 = t.Dims[0]
	}
	bs, ts := t.Type.BlockSize(), t.Type.TypeSize()
	if ne0%bs != 0 {
		return fmt.Errorf("tensor %q: first dimension %d is not a multiple of the %s block size %d", t.Name, ne0, t.Type, bs)
	}
	blocks := t.Elements / bs
	if blocks > math.MaxInt64/ts {
		return fmt.Errorf("tensor %q: shape %s of %s is larger than 2^63 bytes", t.Name, shape(t.Dims), t.Type)
	}
	t.Size = blocks * ts
	return nil
}

// padding consumes the bytes up to the next multiple of align and requires
// them to be zero, as every writer makes them: they are covered by no
// tensor hash, so a payload hidden there would go unnamed.
func (p *parser) padding(align uint64) error {
	var buf [512]byte
	n := alignUp(uint64(p.r.off), align) - uint64(p.r.off)
	for n > 0 {
		c := min(n, uint64(len(buf)))
		start := p.r.off
		if err := p.r.fill(buf[:c]); err != nil {
			return fmt.Errorf("alignment padding before the data section: %w", err)
		}
		for j, b := range buf[:c] {
			if b != 0 {
				return fmt.Errorf("alignment padding byte at offset %d is 0x%02x, must be 0", start+int64(j), b)
			}
		}
		n -= c
	}
	return nil
}

// alignUp rounds v up to a multiple of the power of two a. The caller
// makes sure it cannot overflow (v is a header offset or checked first).
func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

func shape(d []uint64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range d {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, v)
	}
	b.WriteByte(']')
	return b.String()
}
