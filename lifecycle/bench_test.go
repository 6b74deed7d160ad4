package lifecycle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/ocilayout"
)

// benchBytes reads a size from the environment (for a quick local run),
// or returns def.
func benchBytes(b *testing.B, name string, def int64) int64 {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive byte count", name, v)
		}
		return n
	}
	return def
}

// fill is an endless stream of incompressible bytes, distinct per seed:
// a random block with a counter, so producing it costs next to nothing.
type fill struct {
	block []byte
	off   int
	n     uint64
}

func newFill(seed int) *fill {
	f := &fill{block: make([]byte, 1<<20)}
	_, _ = rand.Read(f.block)
	binary.LittleEndian.PutUint64(f.block, uint64(seed))
	return f
}

func (f *fill) Read(p []byte) (int, error) {
	if f.off == len(f.block) {
		f.n++
		binary.LittleEndian.PutUint64(f.block[8:], f.n)
		f.off = 0
	}
	n := copy(p, f.block[f.off:])
	f.off += n
	return n, nil
}

// singleCoreSHA256 measures one core's SHA-256 rate in bytes/s, the unit
// hashing throughput is judged against.
func singleCoreSHA256() float64 {
	buf := make([]byte, 64<<20)
	_, _ = rand.Read(buf)
	h := sha256.New()
	best := 0.0
	for range 3 {
		start := time.Now()
		for range 4 {
			h.Write(buf)
		}
		best = max(best, float64(4*len(buf))/time.Since(start).Seconds())
	}
	return best
}

// BenchmarkVerifyAll verifies a registry of files totalling 4 GiB
// (AIMR_BENCH_VERIFY_BYTES) and reports the throughput next to
// cores × one core's SHA-256 rate measured in the same run
// (vs_cores_x_sha256: 1.0 is every core hashing flat out).
func BenchmarkVerifyAll(b *testing.B) {
	total := benchBytes(b, "AIMR_BENCH_VERIFY_BYTES", 4<<30)
	const files = 8
	per := total / files
	dir := filepath.Join(b.TempDir(), "reg")
	log := slog.New(slog.DiscardHandler)
	ctx := lifecycle.WithCaller(context.Background(), operator)
	store, err := ocilayout.Open(ctx, ocilayout.Config{Dir: dir, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc, err := lifecycle.New(ctx, lifecycle.Config{Store: store, Files: store, Logger: log, Policy: permissivePolicy(b), Keys: testKeys(b)})
	if err != nil {
		b.Fatal(err)
	}
	for i := range files {
		// A GGUF header makes it a model; the rest is filler.
		head := gguf(0)
		body := io.MultiReader(bytes.NewReader(head), io.LimitReader(newFill(i), per-int64(len(head))))
		h := sha256.New()
		tmp := filepath.Join(dir, fmt.Sprintf("src-%d", i))
		f, err := os.Create(tmp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
			b.Fatal(err)
		}
		f.Close()
		src, _ := os.Open(tmp)
		_, err = svc.Acquire(ctx, lifecycle.AcquireRequest{Name: fmt.Sprintf("m%d", i), Filename: "m.gguf",
			SHA256: hex.EncodeToString(h.Sum(nil)), SizeBytes: per}, src)
		src.Close()
		os.Remove(tmp)
		if err != nil {
			b.Fatal(err)
		}
	}
	// One untimed pass puts the files in the page cache, so the figure is
	// hashing, not the disk.
	if _, err := svc.VerifyAll(ctx); err != nil {
		b.Fatal(err)
	}
	sha := singleCoreSHA256()
	cores := runtime.GOMAXPROCS(0)
	b.SetBytes(total)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		res, err := svc.VerifyAll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if res.Status != "ok" || res.Checked != files {
			b.Fatalf("verify-all: %+v", res)
		}
	}
	rate := float64(total) * float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(sha/1e6, "sha256_1core_MB/s")
	b.ReportMetric(float64(cores), "cores")
	b.ReportMetric(rate/(float64(cores)*sha), "vs_cores_x_sha256")
}

// BenchmarkPromote promotes (re-promotes: trusted → trusted, so each
// iteration does the whole work) a 1 GiB model (AIMR_BENCH_PROMOTE_BYTES):
// re-hash every blob, evaluate the policy, sign the attestation, commit
// record and attestation durably. It reports the promotion time next to
// one core's SHA-256 of the same bytes (vs_sha256: 1.0 is a promotion that
// costs exactly one hash pass) and the attestation's size: signing must
// not show.
func BenchmarkPromote(b *testing.B) {
	size := benchBytes(b, "AIMR_BENCH_PROMOTE_BYTES", 1<<30)
	dir := filepath.Join(b.TempDir(), "reg")
	log := slog.New(slog.DiscardHandler)
	ctx := lifecycle.WithCaller(context.Background(), operator)
	store, err := ocilayout.Open(ctx, ocilayout.Config{Dir: dir, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc, err := lifecycle.New(ctx, lifecycle.Config{Store: store, Files: store, Logger: log, Policy: permissivePolicy(b), Keys: testKeys(b), RequireProvenance: true})
	if err != nil {
		b.Fatal(err)
	}
	head := gguf(0)
	body := io.MultiReader(bytes.NewReader(head), io.LimitReader(newFill(7), size-int64(len(head))))
	h := sha256.New()
	tmp := filepath.Join(b.TempDir(), "src")
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
		b.Fatal(err)
	}
	f.Close()
	sum := hex.EncodeToString(h.Sum(nil))
	src, _ := os.Open(tmp)
	_, err = svc.Acquire(ctx, lifecycle.AcquireRequest{Name: "big", Filename: "m.gguf", SHA256: sum, SizeBytes: size}, src)
	src.Close()
	os.Remove(tmp)
	if err != nil {
		b.Fatal(err)
	}
	// One untimed promotion puts the file in the page cache.
	if _, err := svc.Promote(ctx, lifecycle.PromoteRequest{Name: "big", SHA256: sum}); err != nil {
		b.Fatal(err)
	}
	sha := singleCoreSHA256()
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := svc.Promote(ctx, lifecycle.PromoteRequest{Name: "big", SHA256: sum}); err != nil {
			b.Fatal(err)
		}
	}
	per := time.Since(start).Seconds() / float64(b.N)
	b.StopTimer()
	v, err := svc.Verify(ctx, "big")
	if err != nil || v.Provenance == nil || v.Provenance.Status != lifecycle.ProvenanceVerified {
		b.Fatalf("after the benchmark: %+v %v", v, err)
	}
	b.ReportMetric(per*1000, "ms/promotion")
	b.ReportMetric(per/(float64(size)/sha), "vs_sha256")
}
