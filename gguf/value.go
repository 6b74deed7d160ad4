package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ValueType is the type tag of a metadata value (gguf_type).
type ValueType uint32

// Metadata value types, numbered as in the GGUF spec.
const (
	Uint8   ValueType = 0
	Int8    ValueType = 1
	Uint16  ValueType = 2
	Int16   ValueType = 3
	Uint32  ValueType = 4
	Int32   ValueType = 5
	Float32 ValueType = 6
	Bool    ValueType = 7 // one byte, 0 or 1
	String  ValueType = 8 // u64 length + bytes
	Array   ValueType = 9 // u32 element type + u64 count + elements
	Uint64  ValueType = 10
	Int64   ValueType = 11
	Float64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32",
	"float32", "bool", "string", "array", "uint64", "int64", "float64"}

// fixedSize is the encoded size of a fixed-size value type, 0 for string,
// array and unknown tags.
func (t ValueType) fixedSize() uint64 {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	}
	return 0
}

func (t ValueType) valid() bool { return uint64(t) < uint64(len(valueTypeNames)) }

func (t ValueType) String() string {
	if t.valid() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("value_type(%d)", uint32(t))
}

// KV is one metadata key/value pair.
type KV struct {
	Key  string
	Type ValueType
	// Raw is the value exactly as encoded in the file after the u32 type
	// tag: for a string its u64 length and bytes, for an array its element
	// type, count and elements. Hashing Key, Type and Raw identifies the
	// pair byte for byte without decoding it.
	Raw []byte
}

var errTooShort = errors.New("encoded value is shorter than its type needs")

// String returns a string value.
func (kv KV) String() (string, error) {
	if kv.Type != String {
		return "", kv.typeErr("string")
	}
	s, rest, err := decodeString(kv.Raw)
	if err == nil && len(rest) != 0 {
		err = errors.New("trailing bytes after the string")
	}
	return s, kv.wrap(err)
}

// Uint returns an unsigned integer value of any width.
func (kv KV) Uint() (uint64, error) {
	switch kv.Type {
	case Uint8, Uint16, Uint32, Uint64:
		v, err := kv.scalar()
		return v, kv.wrap(err)
	}
	return 0, kv.typeErr("unsigned integer")
}

// Int returns a signed integer value of any width, sign-extended.
func (kv KV) Int() (int64, error) {
	v, err := kv.scalar()
	switch kv.Type {
	case Int8:
		return int64(int8(v)), kv.wrap(err)
	case Int16:
		return int64(int16(v)), kv.wrap(err)
	case Int32:
		return int64(int32(v)), kv.wrap(err)
	case Int64:
		return int64(v), kv.wrap(err)
	}
	return 0, kv.typeErr("signed integer")
}

// Float returns a float32 or float64 value.
func (kv KV) Float() (float64, error) {
	v, err := kv.scalar()
	switch kv.Type {
	case Float32:
		return float64(math.Float32frombits(uint32(v))), kv.wrap(err)
	case Float64:
		return math.Float64frombits(v), kv.wrap(err)
	}
	return 0, kv.typeErr("float")
}

// Bool returns a bool value.
func (kv KV) Bool() (bool, error) {
	if kv.Type != Bool {
		return false, kv.typeErr("bool")
	}
	v, err := kv.scalar()
	return v != 0, kv.wrap(err)
}

// ArrayInfo returns the element type and length of an array value.
func (kv KV) ArrayInfo() (ValueType, uint64, error) {
	if kv.Type != Array {
		return 0, 0, kv.typeErr("array")
	}
	if len(kv.Raw) < 12 {
		return 0, 0, kv.wrap(errTooShort)
	}
	return ValueType(binary.LittleEndian.Uint32(kv.Raw)), binary.LittleEndian.Uint64(kv.Raw[4:]), nil
}

// Value decodes the value into the matching Go type: uint8, int8, uint16,
// int16, uint32, int32, float32, bool, string, uint64, int64, float64, or
// for an array a slice of one of those. The result is built from Raw,
// never from a count alone, so it is bounded by what Parse already read.
func (kv KV) Value() (any, error) {
	if kv.Type == Array {
		v, err := decodeArray(kv.Raw)
		return v, kv.wrap(err)
	}
	v, rest, err := decodeScalar(kv.Type, kv.Raw)
	if err == nil && len(rest) != 0 {
		err = errors.New("trailing bytes after the value")
	}
	return v, kv.wrap(err)
}

// scalar returns a fixed-size value's bits zero-extended to 64.
func (kv KV) scalar() (uint64, error) {
	n := kv.Type.fixedSize()
	if n == 0 {
		return 0, fmt.Errorf("%s is not a fixed-size type", kv.Type)
	}
	if uint64(len(kv.Raw)) != n {
		return 0, fmt.Errorf("%s value is %d bytes, want %d", kv.Type, len(kv.Raw), n)
	}
	return leUint(kv.Raw), nil
}

func (kv KV) typeErr(want string) error {
	return fmt.Errorf("gguf: key %q is a %s, not a %s", kv.Key, kv.Type, want)
}

func (kv KV) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("gguf: key %q: %w", kv.Key, err)
}

// leUint reads a 1, 2, 4 or 8 byte little-endian unsigned integer.
func leUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func decodeString(b []byte) (string, []byte, error) {
	if len(b) < 8 {
		return "", nil, errTooShort
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return "", nil, errTooShort
	}
	return string(b[8 : 8+n]), b[8+n:], nil
}

func decodeScalar(t ValueType, b []byte) (any, []byte, error) {
	if t == String {
		return decodeString(b)
	}
	n := t.fixedSize()
	if n == 0 {
		return nil, nil, fmt.Errorf("cannot decode a %s here", t)
	}
	if uint64(len(b)) < n {
		return nil, nil, errTooShort
	}
	v, rest := leUint(b[:n]), b[n:]
	switch t {
	case Uint8:
		return uint8(v), rest, nil
	case Int8:
		return int8(v), rest, nil
	case Uint16:
		return uint16(v), rest, nil
	case Int16:
		return int16(v), rest, nil
	case Uint32:
		return uint32(v), rest, nil
	case Int32:
		return int32(v), rest, nil
	case Float32:
		return math.Float32frombits(uint32(v)), rest, nil
	case Bool:
		return v != 0, rest, nil
	case Uint64:
		return v, rest, nil
	case Int64:
		return int64(v), rest, nil
	default: // Float64
		return math.Float64frombits(v), rest, nil
	}
}

func decodeArray(b []byte) (any, error) {
	if len(b) < 12 {
		return nil, errTooShort
	}
	et, n := ValueType(binary.LittleEndian.Uint32(b)), binary.LittleEndian.Uint64(b[4:])
	b = b[12:]
	if et == Array || !et.valid() {
		return nil, fmt.Errorf("array of %s cannot be decoded", et)
	}
	// Every element takes at least one byte (a string at least eight), so
	// a count larger than the bytes present is a lie, caught before any
	// slice is sized by it.
	minSize := et.fixedSize()
	if et == String {
		minSize = 8
	}
	if n > uint64(len(b))/minSize {
		return nil, fmt.Errorf("array claims %d elements but holds %d bytes", n, len(b))
	}
	switch et {
	case String:
		return decodeSlice[string](et, b, n)
	case Uint8:
		return decodeSlice[uint8](et, b, n)
	case Int8:
		return decodeSlice[int8](et, b, n)
	case Uint16:
		return decodeSlice[uint16](et, b, n)
	case Int16:
		return decodeSlice[int16](et, b, n)
	case Uint32:
		return decodeSlice[uint32](et, b, n)
	case Int32:
		return decodeSlice[int32](et, b, n)
	case Float32:
		return decodeSlice[float32](et, b, n)
	case Bool:
		return decodeSlice[bool](et, b, n)
	case Uint64:
		return decodeSlice[uint64](et, b, n)
	case Int64:
		return decodeSlice[int64](et, b, n)
	default: // Float64
		return decodeSlice[float64](et, b, n)
	}
}

func decodeSlice[T any](et ValueType, b []byte, n uint64) ([]T, error) {
	out := make([]T, 0, n)
	for i := uint64(0); i < n; i++ {
		v, rest, err := decodeScalar(et, b)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v.(T))
		b = rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes after %d elements", len(b), n)
	}
	return out, nil
}
