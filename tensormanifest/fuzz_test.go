package tensormanifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// FuzzBuild feeds arbitrary bytes to Build: it must never panic, and a
// manifest it returns must describe the input (its hash, its size, tensors
// inside the file), be deterministic, and compare equal to itself.
func FuzzBuild(f *testing.F) {
	f.Add(ggufFile([]kv{{"general.architecture", "llama"}}, []tensor{{"token_embd.weight", []float32{1, 2, 3, 4}}}))
	f.Add(ggufFile([]kv{{"general.architecture", "llama"}, {"tokenizer.chat_template", "{{ m }}"}},
		[]tensor{{"a", []float32{1}}, {"b", []float32{2, 3}}, {"c", nil}}))
	f.Add(ggufFile(nil, nil))
	header := []byte(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}`)
	st := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	st = append(append(st, header...), make([]byte, 11)...)
	f.Add(st)
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Build(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		sum := sha256.Sum256(data)
		if m.FileHash != hex.EncodeToString(sum[:]) || m.FileSize != int64(len(data)) {
			t.Fatalf("manifest says %s/%d for %d bytes", m.FileHash, m.FileSize, len(data))
		}
		for _, tn := range m.Tensors {
			if tn.Offset < m.DataOffset || tn.Offset+int64(tn.DataSize) > int64(len(data)) {
				t.Fatalf("tensor %q at %d+%d outside the %d-byte file", tn.Name, tn.Offset, tn.DataSize, len(data))
			}
		}
		again, err := Build(bytes.NewReader(data), int64(len(data)))
		if err != nil || again.MerkleRoot != m.MerkleRoot {
			t.Fatalf("second build: %v, root %s vs %s", err, again.MerkleRoot, m.MerkleRoot)
		}
		if c := Compare(m, again); len(c) != 0 {
			t.Fatalf("a manifest differs from itself: %v", c)
		}
	})
}
