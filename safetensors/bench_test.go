package safetensors

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// header builds a safetensors header in the layout the Python writer
// produces (metadata first, names sorted by dtype then name, padded to 8):
// nLayers layers of nExperts MoE experts with three BF16 projections each,
// plus attention and norms. With nExperts 0 it is a dense llama-style model.
func header(nLayers, nExperts int) (string, uint64) {
	var b strings.Builder
	var off uint64
	add := func(name string, dims ...uint64) {
		n := uint64(2)
		for _, d := range dims {
			n *= d
		}
		shape := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(dims)), ","), "[]")
		fmt.Fprintf(&b, `,%q:{"dtype":"BF16","shape":[%s],"data_offsets":[%d,%d]}`, name, shape, off, off+n)
		off += n
	}
	b.WriteString(`{"__metadata__":{"format":"pt"}`)
	add("model.embed_tokens.weight", 152064, 64)
	for l := range nLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", 64)
		add(p+"self_attn.q_proj.weight", 64, 64)
		add(p+"self_attn.k_proj.weight", 16, 64)
		add(p+"self_attn.v_proj.weight", 16, 64)
		add(p+"self_attn.o_proj.weight", 64, 64)
		add(p+"post_attention_layernorm.weight", 64)
		if nExperts == 0 {
			add(p+"mlp.gate_proj.weight", 224, 64)
			add(p+"mlp.up_proj.weight", 224, 64)
			add(p+"mlp.down_proj.weight", 64, 224)
		}
		for e := range nExperts {
			q := fmt.Sprintf("%smlp.experts.%d.", p, e)
			add(q+"gate_proj.weight", 32, 64)
			add(q+"up_proj.weight", 32, 64)
			add(q+"down_proj.weight", 64, 32)
		}
	}
	add("lm_head.weight", 152064, 64)
	b.WriteString("}")
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.String(), off
}

// BenchmarkParse parses the header of a dense 32-layer model (291
// tensors, ~30 KB) and of a 48-layer MoE shard with 128 unfused experts
// per layer (18,723 tensors, ~2 MB); the data section is not read.
func BenchmarkParse(b *testing.B) {
	for _, m := range []struct {
		name            string
		layers, experts int
	}{{"dense-291", 32, 0}, {"moe-18723", 48, 128}} {
		h, dataLen := header(m.layers, m.experts)
		raw := file(h, nil)
		size := int64(len(raw)) + int64(dataLen)
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(len(h)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(raw), size, DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
