package safetensors

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"testing"
)

// fuzzLimits keep what one input can make Parse allocate small; the
// limits themselves are tested in TestNegative.
var fuzzLimits = Limits{MaxHeaderBytes: 1 << 16, MaxTensors: 256, MaxDims: 8}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// FuzzParse: Parse and Validate never panic; Parse reads exactly the
// header; parsing with the size known agrees with parsing without it and
// validating afterwards; and an accepted file's tensors cover its data
// section exactly, in order, each range inside the file.
func FuzzParse(f *testing.F) {
	f.Add(docFile())
	f.Add(paddedFile())
	f.Add(mixedFile())
	f.Fuzz(checkParse)
}

func checkParse(t *testing.T, data []byte) {
	{
		cr := &countingReader{r: bytes.NewReader(data)}
		file, err := Parse(cr, -1, fuzzLimits)
		sized, sizedErr := Parse(bytes.NewReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			if file != nil {
				t.Fatal("File returned with an error")
			}
			if sizedErr == nil {
				t.Fatalf("accepted with its size, refused without: %v", err)
			}
			return
		}
		if cr.n != file.DataOffset || file.DataOffset != 8+int64(file.HeaderLen) {
			t.Fatalf("read %d bytes, data offset %d, N %d", cr.n, file.DataOffset, file.HeaderLen)
		}
		err = file.Validate(int64(len(data)))
		if (err == nil) != (sizedErr == nil) {
			t.Fatalf("Parse with the size: %v; Parse then Validate: %v", sizedErr, err)
		}
		if err != nil {
			return
		}
		next := file.DataOffset
		for _, tt := range file.Tensors {
			start, end := file.Range(tt)
			if start != next || end < start || end > int64(len(data)) {
				t.Fatalf("tensor %q at [%d, %d), expected to start at %d in a %d-byte file", tt.Name, start, end, next, len(data))
			}
			if size, err := tt.byteSize(); err != nil || size != tt.Size() {
				t.Fatalf("tensor %q: %d bytes for %d needed (%v)", tt.Name, tt.Size(), size, err)
			}
			next = end
		}
		if next != int64(len(data)) || len(sized.Tensors) != len(file.Tensors) {
			t.Fatalf("tensors end at %d of %d bytes", next, len(data))
		}
		sameAsEncodingJSON(t, data[8:file.DataOffset], file)
	}
}

// sameAsEncodingJSON decodes an accepted header with encoding/json and
// requires the same tensors and metadata: the hand-written decoder must
// read what a general JSON parser reads.
func sameAsEncodingJSON(t *testing.T, h []byte, f *File) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(h, &top); err != nil {
		t.Fatalf("encoding/json refuses an accepted header: %v", err)
	}
	var md map[string]string
	if raw, ok := top["__metadata__"]; ok {
		if err := json.Unmarshal(raw, &md); err != nil {
			t.Fatalf("__metadata__: %v", err)
		}
		delete(top, "__metadata__")
	}
	if !reflect.DeepEqual(md, f.Metadata) && !(len(md) == 0 && len(f.Metadata) == 0) {
		t.Fatalf("metadata %q, encoding/json reads %q", f.Metadata, md)
	}
	if len(top) != len(f.Tensors) {
		t.Fatalf("%d tensors, encoding/json reads %d", len(f.Tensors), len(top))
	}
	for _, tt := range f.Tensors {
		var e struct {
			DType       string   `json:"dtype"`
			Shape       []uint64 `json:"shape"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(top[tt.Name], &e); err != nil {
			t.Fatalf("tensor %q: %v", tt.Name, err)
		}
		if e.DType != tt.DType || !slices.Equal(e.Shape, tt.Shape) || !slices.Equal(e.DataOffsets, []uint64{tt.Begin, tt.End}) {
			t.Fatalf("tensor %q: %+v, encoding/json reads %+v", tt.Name, tt, e)
		}
	}
}
