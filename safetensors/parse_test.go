package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// file assembles a safetensors file: the u64 header length, the header,
// the data.
func file(header string, data []byte) []byte {
	return append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...), data...)
}

// docFile is the crate's doc-test file of reference §13 (84 bytes).
func docFile() []byte {
	return file(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`, make([]byte, 16))
}

// paddedFile is the 104-byte variant of reference §13: metadata, a header
// padded with spaces to a multiple of 8, two float32.
func paddedFile() []byte {
	data := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(2))
	return file(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   `, data)
}

// mixedFile has zero-size, scalar, sub-byte and listed-out-of-order tensors.
func mixedFile() []byte {
	return file(`{"b":{"dtype":"BF16","shape":[3,1],"data_offsets":[4,10]},`+
		`"empty":{"dtype":"F32","shape":[0,7],"data_offsets":[10,10]},`+
		`"a":{"dtype":"F4","shape":[2,4],"data_offsets":[0,4]},`+
		`"scalar":{"dtype":"C64","shape":[],"data_offsets":[10,18]},`+
		`"f6":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[18,21]},`+
		`"__metadata__":{"format":"pt","note":"caf\u00e9 \ud83d\ude00"}}`, make([]byte, 21))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDocFile(t *testing.T) {
	b := docFile()
	if len(b) != 84 {
		t.Fatalf("fixture is %d bytes", len(b))
	}
	if got, want := sha(b), "5860a1db541437c971bd2dde08494ecd24c70a0a6d5c2a81076cddbde9e4c503"; got != want {
		t.Fatalf("fixture sha256 %s, reference says %s", got, want)
	}
	r := bytes.NewReader(b)
	f, err := Parse(r, 84, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 16 {
		t.Errorf("Parse left %d bytes, want the 16 data bytes", r.Len())
	}
	want := &File{HeaderLen: 60, DataOffset: 68, Tensors: []Tensor{{Name: "test", DType: "I32", Shape: []uint64{2, 2}, Begin: 0, End: 16}}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v", f)
	}
	if s, e := f.Range(f.Tensors[0]); s != 68 || e != 84 {
		t.Errorf("Range = %d, %d", s, e)
	}
}

func TestPaddedFile(t *testing.T) {
	b := paddedFile()
	if len(b) != 104 || binary.LittleEndian.Uint64(b) != 88 {
		t.Fatalf("fixture is %d bytes with N=%d, want 104 and 88", len(b), binary.LittleEndian.Uint64(b))
	}
	// Size unknown: Parse leaves the covers-exactly check to Validate.
	f, err := Parse(bytes.NewReader(b), -1, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(104); err != nil {
		t.Fatal(err)
	}
	if f.DataOffset != 96 || !reflect.DeepEqual(f.Metadata, map[string]string{"format": "pt"}) ||
		len(f.Tensors) != 1 || f.Tensors[0].Name != "w" || f.Tensors[0].Size() != 8 {
		t.Fatalf("got %+v", f)
	}
	if err := f.Validate(105); err == nil {
		t.Error("a trailing byte passed Validate")
	}
}

func TestMixedFile(t *testing.T) {
	b := mixedFile()
	f, err := Parse(iotest.OneByteReader(bytes.NewReader(b)), int64(len(b)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	if want := []string{"a", "b", "empty", "scalar", "f6"}; !reflect.DeepEqual(names, want) {
		t.Errorf("order %v, want %v (by offsets, then name)", names, want)
	}
	if f.Metadata["note"] != "café 😀" {
		t.Errorf("metadata %q", f.Metadata)
	}
	if f.Tensors[3].Shape == nil || len(f.Tensors[3].Shape) != 0 {
		t.Errorf("scalar shape %#v, want empty", f.Tensors[3].Shape)
	}
}

func TestDTypes(t *testing.T) {
	want := map[string]uint64{"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
		"F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16,
		"BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}
	if !reflect.DeepEqual(dtypeBits, want) {
		t.Errorf("dtype table %v", dtypeBits)
	}
	if _, ok := DTypeBits("f32"); ok {
		t.Error("dtype names are case-sensitive")
	}
	// One tensor of each dtype with 8 elements: 8 * bits / 8 bytes.
	var h strings.Builder
	var off uint64
	h.WriteString("{")
	for _, d := range []string{"BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
		"F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"} {
		if off > 0 {
			h.WriteString(",")
		}
		n := want[d]
		h.WriteString(`"t.` + d + `":{"dtype":"` + d + `","shape":[2,4],"data_offsets":[` + itoa(off) + `,` + itoa(off+n) + `]}`)
		off += n
	}
	h.WriteString("}")
	b := file(h.String(), make([]byte, off))
	f, err := Parse(bytes.NewReader(b), int64(len(b)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 22 {
		t.Errorf("%d tensors", len(f.Tensors))
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// TestTruncated cuts the valid files at every byte. With the size known
// Parse must refuse every prefix; with it unknown, Parse refuses a cut
// header with an end-of-file error and Validate refuses a cut data section.
func TestTruncated(t *testing.T) {
	for name, b := range map[string][]byte{"doc": docFile(), "padded": paddedFile(), "mixed": mixedFile()} {
		full, err := Parse(bytes.NewReader(b), int64(len(b)), DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(b); i++ {
			if _, err := Parse(bytes.NewReader(b[:i]), int64(i), DefaultLimits); err == nil {
				t.Fatalf("%s cut at %d with its size: accepted", name, i)
			}
			f, err := Parse(bytes.NewReader(b[:i]), -1, DefaultLimits)
			if int64(i) < full.DataOffset {
				if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "file ends at byte") {
					t.Fatalf("%s cut at %d: %v, want an end-of-file error", name, i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s cut at %d: header complete but %v", name, i, err)
			}
			if err := f.Validate(int64(i)); err == nil || !strings.Contains(err.Error(), "extend past the end of the data section") {
				t.Fatalf("%s cut at %d: Validate = %v", name, i, err)
			}
		}
	}
}

func TestReaderErrorIsReported(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(docFile()[:30]), iotest.ErrReader(boom))
	if _, err := Parse(r, -1, DefaultLimits); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

func TestNegative(t *testing.T) {
	tensor := func(name, dtype, shape string, b, e int) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":[` + itoa(uint64(b)) + `,` + itoa(uint64(e)) + `]}`
	}
	w := tensor("w", "F32", "[2]", 0, 8)
	two := func(second string) string { return `{` + w + `,` + second + `}` }
	hugeN := binary.LittleEndian.AppendUint64(nil, 100_000_001)
	cases := []struct {
		name string
		file []byte
		size int64 // 0 = len(file); -2 = unknown to Parse, len(file) to Validate
		lim  Limits
		want string
	}{
		{name: "empty file", file: nil, want: "file of 0 bytes is shorter than the 8-byte header length"},
		{name: "short length", file: []byte{1, 0, 0}, size: -2, want: "file ends at byte 3, 3 bytes into the 8-byte header length"},
		{name: "N beyond file", file: append(binary.LittleEndian.AppendUint64(nil, 200), `{}`...), want: "header length 200 exceeds the 2 bytes of the file after it"},
		{name: "N beyond stream", file: append(binary.LittleEndian.AppendUint64(nil, 200), `{}`...), size: -2, want: "file ends at byte 10, 2 bytes into the 200-byte JSON header"},
		{name: "N over 100MB", file: append(hugeN, '{'), want: "header length 100000001 exceeds the format's maximum of 100000000"},
		{name: "N 2^64-1", file: binary.LittleEndian.AppendUint64(nil, math.MaxUint64), want: "exceeds the format's maximum"},
		{name: "N over limit", file: docFile(), lim: Limits{MaxHeaderBytes: 59}, want: "header length 60 exceeds the limit of 59"},
		{name: "N zero", file: file("", nil), want: "header length 0 is too short"},
		{name: "not an object", file: file(`[{"a":1}]`, nil), want: `header does not start with '{' (starts with "[")`},
		{name: "leading space", file: file(` {}`, nil), want: `header does not start with '{'`},
		{name: "invalid UTF-8", file: file("{\"w\xff\":{}}", nil), want: "header is not valid UTF-8"},
		{name: "bad JSON", file: file(`{"w":}`, nil), want: "header JSON:"},
		{name: "duplicate tensor", file: file(`{`+w+`,`+w+`}`, make([]byte, 8)), want: `duplicate key "w"`},
		{name: "duplicate metadata key", file: file(`{"__metadata__":{"a":"1","a":"2"}}`, nil), want: `duplicate key "a"`},
		{name: "trailing JSON", file: file(`{}{}`, nil), want: "data after the JSON object"},
		{name: "trailing NBSP", file: file("{}\u00a0", nil), want: "bytes other than JSON whitespace after the JSON object"},
		{name: "trailing NUL padding", file: file("{}\x00\x00", nil), want: "header JSON"},
		{name: "lone surrogate", file: file(`{"\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), want: `unpaired UTF-16 surrogate escape \ud800`},
		{name: "lone low surrogate", file: file(`{"__metadata__":{"a":"x\udc00"}}`, nil), want: `unpaired UTF-16 surrogate escape \udc00`},

		{name: "gap", file: file(two(tensor("v", "F32", "[1]", 12, 16)), make([]byte, 16)), want: `tensor "v": data_offsets begin at 12, leaving 4 unused bytes after tensor "w"`},
		{name: "gap at start", file: file(`{`+tensor("v", "F32", "[1]", 4, 8)+`}`, make([]byte, 8)), want: "leaving 4 unused bytes after the start of the data section"},
		{name: "overlap", file: file(two(tensor("v", "F32", "[1]", 4, 8)), make([]byte, 8)), want: `tensor "v": data_offsets [4, 8) overlap tensor "w" at [0, 8)`},
		{name: "same range", file: file(two(tensor("v", "F32", "[2]", 0, 8)), make([]byte, 8)), want: `tensor "w": data_offsets [0, 8) overlap tensor "v" at [0, 8)`},
		{name: "end before begin", file: file(`{`+tensor("w", "F32", "[0]", 8, 4)+`}`, make([]byte, 8)), want: "data_offsets [8, 4) end before they begin"},
		{name: "size mismatch", file: file(`{`+tensor("w", "F32", "[3]", 0, 8)+`}`, make([]byte, 8)), want: `tensor "w": data_offsets [0, 8) hold 8 bytes, but shape [3] of F32 needs 12`},
		{name: "trailing bytes", file: file(`{`+w+`}`, make([]byte, 9)), want: "1 bytes follow the last tensor: the tensors cover 8 of the 9 bytes"},
		{name: "trailing bytes, size unknown", file: file(`{`+w+`}`, make([]byte, 9)), size: -2, want: "1 bytes follow the last tensor"},
		{name: "data missing", file: file(`{`+w+`}`, make([]byte, 7)), want: `tensor "w": data_offsets [0, 8) extend past the end of the data section (7 bytes)`},
		{name: "no tensors, data", file: file(`{}`, []byte{0}), want: "1 bytes follow the last tensor"},
		{name: "sub-byte", file: file(`{`+tensor("w", "F4", "[3]", 0, 2)+`}`, make([]byte, 2)), want: `tensor "w": 3 elements of F4 take 12 bits, not a whole number of bytes`},
		{name: "sub-byte F6", file: file(`{`+tensor("w", "F6_E3M2", "[2]", 0, 2)+`}`, make([]byte, 2)), want: "2 elements of F6_E3M2 take 12 bits"},
		{name: "shape overflow", file: file(`{`+tensor("w", "U8", "[4294967296,4294967296]", 0, 0)+`}`, nil), want: "shape [4294967296,4294967296] has more than 2^64 elements"},
		{name: "bits overflow", file: file(`{`+tensor("w", "F64", "[4611686018427387904]", 0, 0)+`}`, nil), want: "is larger than 2^64 bits"},
		{name: "offsets beyond int64", file: file(`{"w":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,18446744073709551615]}}`, nil), want: "lie beyond 2^63 bytes"},
		{name: "offset beyond u64", file: file(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616]}}`, nil), want: "element 1 (18446744073709551616) is not an unsigned 64-bit integer"},

		{name: "metadata number", file: file(`{"__metadata__":{"a":1}}`, nil), want: `__metadata__ "a": value is not a string`},
		{name: "metadata null value", file: file(`{"__metadata__":{"a":null}}`, nil), want: `__metadata__ "a": value is not a string`},
		{name: "metadata object value", file: file(`{"__metadata__":{"a":{}}}`, nil), want: `__metadata__ "a": value is not a string`},
		{name: "metadata array", file: file(`{"__metadata__":["a"]}`, nil), want: "__metadata__ is not an object"},
		{name: "unknown dtype", file: file(`{`+tensor("w", "F128", "[1]", 0, 16)+`}`, make([]byte, 16)), want: `tensor "w": unknown dtype "F128"`},
		{name: "lowercase dtype", file: file(`{`+tensor("w", "f32", "[2]", 0, 8)+`}`, make([]byte, 8)), want: `unknown dtype "f32"`},
		{name: "dtype number", file: file(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), want: `tensor "w": dtype is not a string`},
		{name: "tensor not object", file: file(`{"w":[0,8]}`, make([]byte, 8)), want: `tensor "w": entry is not an object`},
		{name: "unknown field", file: file(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"offsets":[0,8]}}`, make([]byte, 8)), want: `tensor "w": unknown field "offsets"`},
		{name: "field case", file: file(`{"w":{"DType":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), want: `tensor "w": unknown field "DType"`},
		{name: "missing shape", file: file(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, make([]byte, 8)), want: `tensor "w": missing "shape"`},
		{name: "missing offsets", file: file(`{"w":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), want: `tensor "w": missing "data_offsets"`},
		{name: "null shape", file: file(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,8]}}`, make([]byte, 8)), want: `tensor "w": shape is not an array`},
		{name: "null dim", file: file(`{`+tensor("w", "F32", "[2,null]", 0, 8)+`}`, make([]byte, 8)), want: "shape: element 1 (null) is not an unsigned 64-bit integer"},
		{name: "negative dim", file: file(`{`+tensor("w", "F32", "[-2]", 0, 8)+`}`, make([]byte, 8)), want: "shape: element 0 (-2) is not an unsigned"},
		{name: "float dim", file: file(`{`+tensor("w", "F32", "[2.0]", 0, 8)+`}`, make([]byte, 8)), want: "element 0 (2.0) is not an unsigned"},
		{name: "exponent dim", file: file(`{`+tensor("w", "F32", "[2e0]", 0, 8)+`}`, make([]byte, 8)), want: "element 0 (2e0) is not an unsigned"},
		{name: "nested shape", file: file(`{`+tensor("w", "F32", "[[2]]", 0, 8)+`}`, make([]byte, 8)), want: "nesting deeper than 3"},
		{name: "three offsets", file: file(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, make([]byte, 8)), want: "data_offsets must hold exactly 2 numbers"},
		{name: "one offset", file: file(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, make([]byte, 8)), want: "data_offsets must hold exactly 2 numbers"},
		{name: "offsets object", file: file(`{"w":{"dtype":"F32","shape":[2],"data_offsets":{}}}`, make([]byte, 8)), want: `tensor "w": data_offsets is not an array`},
		{name: "shape string", file: file(`{"w":{"dtype":"F32","shape":"[2]","data_offsets":[0,8]}}`, make([]byte, 8)), want: `tensor "w": shape is not an array`},
		{name: "quoted dim", file: file(`{`+tensor("w", "F32", `["2"]`, 0, 8)+`}`, make([]byte, 8)), want: `shape: element 0 ("2") is not an unsigned`},
		{name: "null dtype", file: file(`{"w":{"dtype":null,"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), want: `tensor "w": dtype is not a string`},
		{name: "too many dims", file: file(`{`+tensor("w", "F32", "[1,1,2]", 0, 8)+`}`, make([]byte, 8)), lim: Limits{MaxDims: 2}, want: "shape has more than 2 dimensions"},
		{name: "too many tensors", file: file(two(tensor("v", "F32", "[1]", 8, 12)), make([]byte, 12)), lim: Limits{MaxTensors: 1}, want: "more than 1 tensors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			switch size {
			case 0:
				size = int64(len(tc.file))
			case -2:
				size = -1
			}
			f, err := Parse(bytes.NewReader(tc.file), size, tc.lim)
			if err == nil && size == -1 {
				err = f.Validate(int64(len(tc.file)))
			} else if err != nil && f != nil {
				t.Error("Parse returned a File with an error")
			}
			if err == nil {
				t.Fatalf("accepted, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(tc.want, "limit") || strings.Contains(tc.want, "more than 1 tensors") || strings.Contains(tc.want, "more than 2 dimensions") {
				if !errors.Is(err, ErrLimit) {
					t.Errorf("%q does not wrap ErrLimit", err)
				}
			}
		})
	}
}

func TestValidateHandMadeFile(t *testing.T) {
	f, err := Parse(bytes.NewReader(docFile()), 84, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	g := *f
	g.Tensors = []Tensor{{Name: "test", DType: "I32", Shape: []uint64{2, 2}, Begin: 0, End: 12}}
	if err := g.Validate(80); err == nil || !strings.Contains(err.Error(), "needs 16") {
		t.Errorf("Validate = %v", err)
	}
	g = *f
	g.DataOffset = 7
	if err := g.Validate(84); err == nil || !strings.Contains(err.Error(), "inconsistent header") {
		t.Errorf("Validate = %v", err)
	}
	if err := f.Validate(-1); err == nil {
		t.Error("negative size accepted")
	}
	if err := f.Validate(60); err == nil || !strings.Contains(err.Error(), "beyond the end of the file") {
		t.Errorf("Validate = %v", err)
	}
}

func TestNullMetadataAndEmptyHeader(t *testing.T) {
	for _, b := range [][]byte{file(`{"__metadata__":null}`, nil), file(`{}`, nil), file("{}\t\r\n ", nil)} {
		f, err := Parse(bytes.NewReader(b), int64(len(b)), DefaultLimits)
		if err != nil || f.Metadata != nil || len(f.Tensors) != 0 {
			t.Errorf("%q: %+v, %v", b, f, err)
		}
	}
}

// Headers other writers could produce: pretty-printed, fields in any
// order, escaped names, an empty metadata object.
func TestHeaderVariants(t *testing.T) {
	h := "{\n\t\"__metadata__\" : { } ,\n" +
		"  \"a\\\"b\\\\c\\u0041\\ud83d\\ude00\" : {\r\n \"data_offsets\" : [ 0 , 8 ] , \"shape\" : [ 2 ] , \"dtype\" : \"F32\" } ,\n" +
		"  \"\" : { \"shape\" : [ ] , \"dtype\" : \"U8\" , \"data_offsets\" : [ 8 , 9 ] }\n}\n"
	b := file(h, make([]byte, 9))
	f, err := Parse(bytes.NewReader(b), int64(len(b)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "a\"b\\cA😀", DType: "F32", Shape: []uint64{2}, Begin: 0, End: 8},
		{Name: "", DType: "U8", Shape: []uint64{}, Begin: 8, End: 9},
	}
	if !reflect.DeepEqual(f.Tensors, want) || f.Metadata == nil || len(f.Metadata) != 0 {
		t.Fatalf("got %+v %#v", f.Tensors, f.Metadata)
	}
}
