package gguf

import (
	"bytes"
	"testing"
)

// fuzzLimits keep what one input can make Parse allocate small, so the
// fuzzer explores structure rather than memory exhaustion; the limits
// themselves are tested in TestNegative.
var fuzzLimits = Limits{MaxTensors: 64, MaxKVs: 64, MaxString: 1 << 12, MaxArrayLen: 1 << 12, MaxHeaderBytes: 1 << 16, MaxDims: 4}

// FuzzParse: Parse and Validate never panic; an accepted header was read
// exactly (no byte past HeaderBytes), re-encodes to the same bytes, and its
// values decode; when Validate accepts the file, every tensor lies inside
// it, after the header, contiguous and in order.
func FuzzParse(f *testing.F) {
	f.Add(minimalFile())
	f.Add(tinyFile())
	f.Add(richFile())
	f.Add(twoTensors().bytes())
	f.Fuzz(checkParse)
}

func checkParse(t *testing.T, data []byte) {
	{
		cr := &countingReader{r: bytes.NewReader(data)}
		file, err := Parse(cr, fuzzLimits)
		if err != nil {
			if file != nil {
				t.Fatal("File returned with an error")
			}
			return
		}
		if cr.n != file.HeaderBytes || file.DataOffset != file.HeaderBytes {
			t.Fatalf("read %d bytes, HeaderBytes %d, DataOffset %d", cr.n, file.HeaderBytes, file.DataOffset)
		}
		if file.HeaderBytes > fuzzLimits.MaxHeaderBytes {
			t.Fatalf("header of %d bytes passed a limit of %d", file.HeaderBytes, fuzzLimits.MaxHeaderBytes)
		}
		enc := encode(file)
		if !bytes.Equal(enc, data[:len(enc)]) {
			t.Fatal("re-encoded header differs from the input")
		}
		for _, b := range data[len(enc):file.HeaderBytes] {
			if b != 0 {
				t.Fatal("nonzero padding accepted")
			}
		}
		for _, kv := range file.KVs {
			if _, err := kv.Value(); err != nil {
				t.Fatalf("accepted KV does not decode: %v", err)
			}
		}
		if err := file.Validate(int64(len(data))); err != nil {
			return
		}
		next := file.DataOffset
		for _, tt := range file.Tensors {
			start, end := file.Range(tt)
			if start != next || start%int64(file.Alignment) != 0 || end < start || end > int64(len(data)) {
				t.Fatalf("tensor %q at [%d, %d) in a %d-byte file, expected at %d", tt.Name, start, end, len(data), next)
			}
			next = start + int64(alignUp(tt.Size, file.Alignment))
		}
		if int64(len(data)) > max(next, int64(alignUp(uint64(file.DataOffset), file.Alignment))) {
			t.Fatalf("%d-byte file accepted with data ending at %d", len(data), next)
		}
	}
}
