package s3blob

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"
)

// repeating is size bytes of one random MiB over and over: cheap to make,
// so the benchmark measures the upload, not the source.
type repeating struct {
	block []byte
	off   int64
	size  int64
}

func (r *repeating) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.off)]
	n := 0
	for n < len(p) {
		n += copy(p[n:], r.block[(r.off+int64(n))%int64(len(r.block)):])
	}
	r.off += int64(n)
	return n, nil
}

// BenchmarkPutGet moves one blob (1 GiB; S3BLOB_BENCH_BYTES to change)
// through the Store and, in the same run against the same gateway, through
// a plain minio-go PutObject/GetObject, and reports both rates and their
// ratio. Run it with -benchtime=1x.
func BenchmarkPutGet(b *testing.B) {
	size := int64(1 << 30)
	if v := os.Getenv("S3BLOB_BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("S3BLOB_BENCH_BYTES=%q: want a positive byte count", v)
		}
		size = n
	}
	cfg := startGateway(b)
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	c := rawClient(b, cfg)
	ctx := context.Background()

	block := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(block)
	src := func() io.Reader { return &repeating{block: block, size: size} }
	d, err := digest.FromReader(src())
	if err != nil {
		b.Fatal(err)
	}

	var tPut, tDirectPut, tGet, tDirectGet time.Duration
	timed := func(acc *time.Duration, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*acc += time.Since(start)
	}
	drain := func(r io.ReadCloser, err error) error {
		if err != nil {
			return err
		}
		defer r.Close()
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != size {
			b.Fatalf("read %d bytes, want %d", n, size)
		}
		return err
	}
	b.ResetTimer()
	for range b.N {
		timed(&tDirectPut, func() error {
			_, err := c.PutObject(ctx, cfg.Bucket, "direct", src(), size, minio.PutObjectOptions{})
			return err
		})
		timed(&tPut, func() error { return s.Put(ctx, d, src(), size) })
		timed(&tDirectGet, func() error { return drain(c.GetObject(ctx, cfg.Bucket, "direct", minio.GetObjectOptions{})) })
		timed(&tGet, func() error {
			r, _, err := s.Open(ctx, d)
			return drain(r, err)
		})
		b.StopTimer()
		if err := s.Delete(ctx, d); err != nil {
			b.Fatal(err)
		}
		if err := c.RemoveObject(ctx, cfg.Bucket, "direct", minio.RemoveObjectOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	mbps := func(t time.Duration) float64 { return float64(size) * float64(b.N) / 1e6 / t.Seconds() }
	b.ReportMetric(mbps(tPut), "put-MB/s")
	b.ReportMetric(mbps(tDirectPut), "direct-put-MB/s")
	b.ReportMetric(float64(tDirectPut)/float64(tPut), "put-ratio")
	b.ReportMetric(mbps(tGet), "get-MB/s")
	b.ReportMetric(mbps(tDirectGet), "direct-get-MB/s")
	b.ReportMetric(float64(tDirectGet)/float64(tGet), "get-ratio")
}
