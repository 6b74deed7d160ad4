package tensormanifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

type kv struct{ key, val string }

type tensor struct {
	name string
	vals []float32
}

// ggufFile writes a GGUF v3 file with string metadata and F32 tensors, laid
// out as ggml requires (contiguous, each padded to 32 bytes).
func ggufFile(kvs []kv, tensors []tensor) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	str := func(s string) { _ = binary.Write(&b, le, uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	_ = binary.Write(&b, le, uint32(3))
	_ = binary.Write(&b, le, uint64(len(tensors)))
	_ = binary.Write(&b, le, uint64(len(kvs)))
	for _, kv := range kvs {
		str(kv.key)
		_ = binary.Write(&b, le, uint32(8))
		str(kv.val)
	}
	var off uint64
	for _, t := range tensors {
		str(t.name)
		_ = binary.Write(&b, le, uint32(1))
		_ = binary.Write(&b, le, uint64(len(t.vals)))
		_ = binary.Write(&b, le, uint32(0))
		_ = binary.Write(&b, le, off)
		off += (uint64(len(t.vals))*4 + 31) / 32 * 32
	}
	pad := func() {
		for b.Len()%32 != 0 {
			b.WriteByte(0)
		}
	}
	pad()
	for _, t := range tensors {
		for _, v := range t.vals {
			_ = binary.Write(&b, le, math.Float32bits(v))
		}
		pad()
	}
	return b.Bytes()
}

func build(t *testing.T, data []byte) *Manifest {
	t.Helper()
	m, err := Build(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return m
}

// The 160-byte file of the reference (§12) gives the hashes it lists.
func TestReferenceFile(t *testing.T) {
	data := ggufFile([]kv{{"general.architecture", "llama"}}, []tensor{{"token_embd.weight", []float32{1, 2, 3, 4}}})
	if len(data) != 160 {
		t.Fatalf("generated %d bytes, want 160", len(data))
	}
	m := build(t, data)
	if m.FileHash != "b65987353fd36e34641f22bb4a28addd954948d48cb5c0ee0f72e8acdd47a700" {
		t.Fatalf("file hash %s", m.FileHash)
	}
	if m.Tensors[0].Hash != "ad73b9acd6e4a74b2f5bb5386658ce3bb146cd040a1867646ab3b973fb6632b1" {
		t.Fatalf("tensor hash %s", m.Tensors[0].Hash)
	}
	if m.Architecture != "llama" || m.TensorCount != 1 || m.Parameters != 4 || m.QuantType != "F32" || m.DataOffset != 128 || m.Tensors[0].Offset != 128 {
		t.Fatalf("manifest = %+v", m)
	}
	leaf := sha256.Sum256(append([]byte{0}, mustHex(m.Tensors[0].Hash)...))
	if m.MerkleRoot != hex.EncodeToString(leaf[:]) {
		t.Fatal("single-leaf Merkle root is not the domain-separated leaf hash")
	}
}

func mustHex(s string) []byte { b, _ := hex.DecodeString(s); return b }

func TestCompareNamesEveryChange(t *testing.T) {
	kvs := []kv{{"general.architecture", "llama"}, {"tokenizer.chat_template", "{{ messages }}"}}
	tensors := []tensor{{"a.weight", []float32{1, 2, 3, 4}}, {"b.weight", []float32{5, 6}}, {"c.weight", []float32{7, 8, 9}}}
	base := build(t, ggufFile(kvs, tensors))
	if got := Compare(base, build(t, ggufFile(kvs, tensors))); len(got) != 0 {
		t.Fatalf("identical file differs: %v", got)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want []string // substrings of the changes, each must be named
	}{
		{"edited chat template", ggufFile([]kv{kvs[0], {"tokenizer.chat_template", "{{ evil }}"}}, tensors),
			[]string{`metadata "tokenizer.chat_template": value changed`}},
		{"deleted tensor", ggufFile(kvs, []tensor{tensors[0], tensors[2]}),
			[]string{`tensor "b.weight": missing`, `tensor "c.weight": offset changed`}},
		{"flipped tensor byte", ggufFile(kvs, []tensor{tensors[0], {"b.weight", []float32{5, 6.5}}, tensors[2]}),
			[]string{`tensor "b.weight": data changed`}},
		{"reordered tensors", ggufFile(kvs, []tensor{tensors[1], tensors[0], tensors[2]}),
			[]string{`tensor "a.weight": order changed`, `tensor "b.weight": order changed`}},
		{"added tensor", ggufFile(kvs, append(append([]tensor{}, tensors...), tensor{"d.weight", []float32{1}})),
			[]string{`tensor "d.weight": added`}},
		{"removed key", ggufFile(kvs[:1], tensors), []string{`metadata "tokenizer.chat_template": missing`}},
		{"reshaped tensor", ggufFile(kvs, []tensor{tensors[0], {"b.weight", []float32{5, 6, 0}}, tensors[2]}),
			[]string{`tensor "b.weight": shape changed from [2] to [3]`}},
	} {
		changes := Compare(base, build(t, tc.data))
		var text []string
		for _, c := range changes {
			text = append(text, c.String())
		}
		all := strings.Join(text, "\n")
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: %q not named in:\n%s", tc.name, w, all)
			}
		}
	}
}

func TestSafetensors(t *testing.T) {
	header := `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`
	data := make([]byte, 8)
	binary.LittleEndian.PutUint64(data, uint64(len(header)))
	data = append(append(data, header...), make([]byte, 16)...)
	m := build(t, data)
	if m.Format != "safetensors" || m.TensorCount != 1 || m.Tensors[0].Elements != 4 || m.DataOffset != 68 {
		t.Fatalf("manifest = %+v", m)
	}
	changed := append([]byte{}, data...)
	changed[len(changed)-1] = 1
	if c := Compare(m, build(t, changed)); len(c) != 1 || c[0].Kind != "tensor_changed" {
		t.Fatalf("changes = %v", c)
	}
}

func TestNotAModelAndTruncated(t *testing.T) {
	if _, err := Build(strings.NewReader("hello world, not a model"), 24); err != ErrNotModel {
		t.Fatalf("plain text: %v", err)
	}
	data := ggufFile([]kv{{"general.architecture", "llama"}}, []tensor{{"t", []float32{1, 2, 3, 4}}})
	for _, n := range []int{30, 100, 130, 140} { // (a cut inside the last tensor's padding is a valid file)
		if _, err := Build(bytes.NewReader(data[:n]), int64(n)); err == nil {
			t.Errorf("truncated at %d bytes: no error", n)
		}
	}
	if _, err := Build(bytes.NewReader(data), int64(len(data)+1)); err == nil {
		t.Error("wrong declared size accepted")
	}
}

// Alignment padding is part of no tensor; a byte changed there must not go
// unnoticed.
func TestNonZeroPaddingIsRefused(t *testing.T) {
	data := ggufFile([]kv{{"general.architecture", "llama"}}, []tensor{{"a", []float32{1, 2, 3, 4}}, {"b", []float32{5, 6, 7, 8}}})
	m := build(t, data)
	for _, tc := range []struct {
		off  int64
		want string
	}{
		{m.Tensors[0].Offset + 20, `before tensor "b"`},
		{int64(len(data)) - 1, "after the last tensor"},
	} {
		bad := bytes.Clone(data)
		bad[tc.off] = 1
		if _, err := Build(bytes.NewReader(bad), int64(len(bad))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("padding byte at %d set: %v, want an error %q", tc.off, err, tc.want)
		}
	}
}
