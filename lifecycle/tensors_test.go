package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// oneTensorGGUF is a GGUF v3 file with a chat template and one F32 tensor.
func oneTensorGGUF(template string, vals ...float32) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	str := func(s string) { _ = binary.Write(&b, le, uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	_ = binary.Write(&b, le, uint32(3))
	_ = binary.Write(&b, le, uint64(1))
	_ = binary.Write(&b, le, uint64(2))
	str("general.architecture")
	_ = binary.Write(&b, le, uint32(8))
	str("llama")
	str("tokenizer.chat_template")
	_ = binary.Write(&b, le, uint32(8))
	str(template)
	str("token_embd.weight")
	_ = binary.Write(&b, le, uint32(1))
	_ = binary.Write(&b, le, uint64(len(vals)))
	_ = binary.Write(&b, le, uint32(0))
	_ = binary.Write(&b, le, uint64(0))
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	for _, v := range vals {
		_ = binary.Write(&b, le, math.Float32bits(v))
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestTensorManifestCatchesTampering(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go e.svc.RunTensorWorker(ctx)
	data := oneTensorGGUF("{{ messages }}", 1, 2, 3, 4)
	a := e.acquire("tiny", data)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.svc.Get(e.ctx, a.Name)
		if err == nil && got.GGUFGuardManifest != "" {
			if !strings.Contains(string(got.GGUFGuardFingerprint), `"tensor_count":1`) {
				t.Fatalf("fingerprint = %s", got.GGUFGuardFingerprint)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("per-tensor manifest not computed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, err := e.svc.VerifyManifest(e.ctx, a.Name); err != nil || res.Status != "verified" {
		t.Fatalf("untouched file: %+v %v", res, err)
	}
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	// Edit the chat template in place (same length), as an attacker who
	// can write the blob would.
	p, _ := e.svc.Path(e.ctx, a.Name)
	evil := oneTensorGGUF("{{ exfiltr }}", 1, 2, 3, 4)
	if len(evil) != len(data) {
		t.Fatal("test files differ in size")
	}
	if err := os.Chmod(p.Path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Path, evil, 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.VerifyManifest(e.ctx, a.Name)
	if err != nil || res.Status != "failed" || len(res.Changes) != 1 || res.Changes[0].Kind != "metadata_changed" || res.Changes[0].Name != "tokenizer.chat_template" {
		t.Fatalf("after editing the chat template: %+v %v", res, err)
	}
	if got := e.state(a.Name); got != lifecycle.Quarantined {
		t.Fatalf("state after a failed manifest check = %s", got)
	}
}
