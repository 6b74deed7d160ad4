package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// llamaHeader builds the header of a llama-style model with a vocabulary of
// nVocab tokens (tokens, scores, token types and as many merges) and the
// 291 tensor infos of a 32-layer 4096-wide model, without tensor data.
func llamaHeader(nVocab int) []byte {
	var tokens, scores, types, merges []byte
	var num []byte
	for i := range nVocab {
		num = strconv.AppendInt(num[:0], int64(i), 10)
		tokens = binary.LittleEndian.AppendUint64(tokens, uint64(len("Ġtok")+len(num)))
		tokens = append(append(tokens, "Ġtok"...), num...)
		merges = binary.LittleEndian.AppendUint64(merges, uint64(len("Ġt ok")+len(num)))
		merges = append(append(merges, "Ġt ok"...), num...)
		scores = binary.LittleEndian.AppendUint32(scores, math.Float32bits(-float32(i)))
		types = binary.LittleEndian.AppendUint32(types, 1)
	}
	n := uint64(nVocab)
	kvs := []kvSpec{
		kvStr("general.architecture", "llama"),
		kvStr("general.name", "synthetic"),
		kvU32("llama.context_length", 131072),
		kvU32("llama.embedding_length", 4096),
		kvU32("llama.block_count", 32),
		kvStr("tokenizer.ggml.model", "gpt2"),
		{"tokenizer.ggml.tokens", Array, arr(String, n, tokens)},
		{"tokenizer.ggml.scores", Array, arr(Float32, n, scores)},
		{"tokenizer.ggml.token_type", Array, arr(Int32, n, types)},
		{"tokenizer.ggml.merges", Array, arr(String, n, merges)},
		kvStr("tokenizer.chat_template", strings.Repeat("{% if message.role == 'user' %}{{ message.content }}{% endif %}", 128)),
		kvU32("general.quantization_version", 2),
	}
	ts := []tensorSpec{{name: "token_embd.weight", dims: []uint64{4096, n}, typ: TypeQ4_K}}
	for l := range 32 {
		for _, w := range []struct {
			name string
			dims []uint64
			typ  GGMLType
		}{
			{"attn_norm.weight", []uint64{4096}, TypeF32},
			{"attn_q.weight", []uint64{4096, 4096}, TypeQ4_K},
			{"attn_k.weight", []uint64{4096, 1024}, TypeQ4_K},
			{"attn_v.weight", []uint64{4096, 1024}, TypeQ6_K},
			{"attn_output.weight", []uint64{4096, 4096}, TypeQ4_K},
			{"ffn_norm.weight", []uint64{4096}, TypeF32},
			{"ffn_gate.weight", []uint64{4096, 14336}, TypeQ4_K},
			{"ffn_up.weight", []uint64{4096, 14336}, TypeQ4_K},
			{"ffn_down.weight", []uint64{14336, 4096}, TypeQ6_K},
		} {
			ts = append(ts, tensorSpec{name: fmt.Sprintf("blk.%d.%s", l, w.name), dims: w.dims, typ: w.typ})
		}
	}
	ts = append(ts,
		tensorSpec{name: "output_norm.weight", dims: []uint64{4096}, typ: TypeF32},
		tensorSpec{name: "output.weight", dims: []uint64{4096, n}, typ: TypeQ6_K})
	return spec{kvs: kvs, tensors: contiguous(32, ts...), noData: true}.bytes()
}

// A 256k-token vocabulary (Gemma 3 has 262,144) must pass the default
// limits with room to spare.
func TestRealisticVocabularyPasses(t *testing.T) {
	h := llamaHeader(262_144)
	f, err := Parse(bytes.NewReader(h), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if f.HeaderBytes != int64(len(h)) || len(f.Tensors) != 291 {
		t.Fatalf("header %d of %d bytes, %d tensors", f.HeaderBytes, len(h), len(f.Tensors))
	}
	kv, _ := f.Lookup("tokenizer.ggml.tokens")
	if _, n, err := kv.ArrayInfo(); err != nil || n != 262_144 {
		t.Fatalf("tokens: %d, %v", n, err)
	}
	if int64(len(h))*20 > DefaultLimits.MaxHeaderBytes {
		t.Errorf("a %d-byte header leaves the default limit less than 20x headroom", len(h))
	}
}

// BenchmarkParse parses the header of a llama-style model with a
// 150k-token vocabulary (its tokens and merges are 150k-entry string
// arrays), from memory and through a bufio.Reader as a caller streaming a
// file would.
func BenchmarkParse(b *testing.B) {
	h := llamaHeader(150_000)
	b.Run("bytes.Reader", func(b *testing.B) {
		b.SetBytes(int64(len(h)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(bytes.NewReader(h), DefaultLimits); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bufio.Reader", func(b *testing.B) {
		b.SetBytes(int64(len(h)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(bufio.NewReaderSize(bytes.NewReader(h), 1<<20), DefaultLimits); err != nil {
				b.Fatal(err)
			}
		}
	})
}
