package tensormanifest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// writeBigGGUF writes a GGUF v3 file of about size bytes: a chat template
// and F32 tensors of 16 MiB each with random contents.
func writeBigGGUF(b *testing.B, path string, size int64) int64 {
	const tensorBytes = 16 << 20
	n := max(1, size/tensorBytes)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	le := binary.LittleEndian
	var pos int64
	put := func(v any) { _ = binary.Write(w, le, v); pos += int64(binary.Size(v)) }
	str := func(s string) { put(uint64(len(s))); w.WriteString(s); pos += int64(len(s)) }
	w.WriteString("GGUF")
	pos += 4
	put(uint32(3))
	put(uint64(n))
	put(uint64(2))
	str("general.architecture")
	put(uint32(8))
	str("llama")
	str("tokenizer.chat_template")
	put(uint32(8))
	str("{% for m in messages %}{{ m.content }}{% endfor %}")
	for i := range n {
		str(fmt.Sprintf("blk.%d.weight", i))
		put(uint32(1))
		put(uint64(tensorBytes / 4))
		put(uint32(0)) // F32
		put(uint64(i * tensorBytes))
	}
	for ; pos%32 != 0; pos++ {
		w.WriteByte(0)
	}
	block := make([]byte, 1<<20)
	_, _ = rand.Read(block)
	for i := range n * tensorBytes / int64(len(block)) {
		binary.LittleEndian.PutUint64(block, uint64(i))
		w.Write(block)
		pos += int64(len(block))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return pos
}

// BenchmarkBuild builds the per-tensor manifest of a 1 GiB GGUF
// (AIMR_BENCH_GGUF_BYTES) and, in the same run, a plain SHA-256 of the
// same file; vs_sha256 is the manifest's wall time over the plain hash's
// (1.0 = the per-tensor hashes cost nothing extra). Both read the file
// from the page cache.
func BenchmarkBuild(b *testing.B) {
	size := int64(1 << 30)
	if v := os.Getenv("AIMR_BENCH_GGUF_BYTES"); v != "" {
		var err error
		if size, err = strconv.ParseInt(v, 10, 64); err != nil || size <= 0 {
			b.Fatalf("AIMR_BENCH_GGUF_BYTES=%q", v)
		}
	}
	path := filepath.Join(b.TempDir(), "big.gguf")
	size = writeBigGGUF(b, path, size)
	read := func(fn func(io.Reader) error) time.Duration {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		if err := fn(f); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	plain := func(r io.Reader) error {
		h := sha256.New()
		_, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
		return err
	}
	manifest := func(r io.Reader) error {
		m, err := Build(r, size)
		if err == nil && m.FileSize != size {
			err = fmt.Errorf("manifest of %d bytes, file has %d", m.FileSize, size)
		}
		return err
	}
	read(plain) // warm the page cache
	b.SetBytes(size)
	b.ResetTimer()
	var tPlain, tManifest time.Duration
	for b.Loop() {
		b.StopTimer()
		tPlain += read(plain)
		b.StartTimer()
		tManifest += read(manifest)
	}
	b.ReportMetric(float64(size)*float64(b.N)/tPlain.Seconds()/1e6, "sha256_MB/s")
	b.ReportMetric(tManifest.Seconds()/tPlain.Seconds(), "vs_sha256")
}
