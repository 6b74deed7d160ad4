package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

var errSizeInvalid = &oci.Error{Code: oci.CodeSizeInvalid}

// blob is deterministic pseudo-random content that is generated, never
// held: open returns a fresh stream of it.
type blob struct {
	seed uint64
	size int64
}

func (b blob) open() io.Reader {
	var s [32]byte
	s[0], s[1] = byte(b.seed), byte(b.seed>>8)
	return io.LimitReader(rand.NewChaCha8(s), b.size)
}

func (b blob) digest() digest.Digest {
	d, err := digest.FromReader(b.open())
	if err != nil {
		panic(err)
	}
	return d
}

func (b blob) bytes() []byte {
	p, _ := io.ReadAll(b.open())
	return p
}

// newStore starts a gateway and returns a Store with the smallest parts,
// so multipart paths run with small blobs.
func newStore(t testing.TB) (*Store, *minio.Client) {
	t.Helper()
	cfg := startGateway(t)
	cfg.PartSize = MinPartSize
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, rawClient(t, cfg)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// objects lists every object and every unfinished multipart upload in the
// bucket: what a failed Put must not leave behind.
func objects(t *testing.T, c *minio.Client, bucket string) (keys, uploads []string) {
	t.Helper()
	ctx := testContext(t)
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	for u := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		uploads = append(uploads, u.Key+" "+u.UploadID)
	}
	return keys, uploads
}

func TestPutOpenStatDelete(t *testing.T) {
	s, c := newStore(t)
	ctx := testContext(t)
	for _, tc := range []struct {
		name     string
		blob     blob
		size     int64 // as given to Put
		partsTag string
	}{
		{"empty", blob{1, 0}, 0, ""},
		{"small", blob{2, 100}, 100, ""},
		{"one part exactly", blob{3, MinPartSize}, MinPartSize, "-1"},
		{"three and a half parts", blob{4, 3*MinPartSize + MinPartSize/2}, 3*MinPartSize + MinPartSize/2, "-4"},
		{"unknown size, small", blob{5, 1000}, -1, ""},
		{"unknown size, multipart", blob{6, 2*MinPartSize + 1}, -1, "-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.blob.digest()
			if err := s.Put(ctx, d, tc.blob.open(), tc.size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if n, err := s.Stat(ctx, d); err != nil || n != tc.blob.size {
				t.Fatalf("Stat = %d, %v; want %d", n, err, tc.blob.size)
			}
			info, err := c.StatObject(ctx, s.cfg.Bucket, "blobs/sha256/"+d.Encoded(), minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("the object is not at its content address: %v", err)
			}
			if tc.partsTag != "" && !strings.HasSuffix(info.ETag, tc.partsTag) {
				t.Errorf("ETag %q: want a multipart object with parts suffix %q", info.ETag, tc.partsTag)
			}

			r, size, err := s.Open(ctx, d)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got, err := digest.FromReader(r)
			r.Close()
			if err != nil || got != d || size != tc.blob.size {
				t.Fatalf("Open read %s (%v), size %d; want %s, %d", got, err, size, d, tc.blob.size)
			}

			// A second Put of a stored blob succeeds without reading.
			if err := s.Put(ctx, d, iotestErrReader{}, tc.size); err != nil {
				t.Fatalf("Put of a stored blob: %v", err)
			}

			if err := s.Delete(ctx, d); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Stat(ctx, d); !errors.Is(err, oci.ErrBlobUnknown) {
				t.Fatalf("Stat after Delete = %v; want BLOB_UNKNOWN", err)
			}
			if _, _, err := s.Open(ctx, d); !errors.Is(err, oci.ErrBlobUnknown) {
				t.Fatalf("Open after Delete = %v; want BLOB_UNKNOWN", err)
			}
			if err := s.Delete(ctx, d); !errors.Is(err, oci.ErrBlobUnknown) {
				t.Fatalf("second Delete = %v; want BLOB_UNKNOWN", err)
			}
		})
	}
	if keys, uploads := objects(t, c, s.cfg.Bucket); len(keys)+len(uploads) != 0 {
		t.Errorf("left behind: objects %q, uploads %q", keys, uploads)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

func TestRangeReads(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	b := blob{7, 3*MinPartSize - 10}
	want := b.bytes()
	d := b.digest()
	if err := s.Put(ctx, d, b.open(), b.size); err != nil {
		t.Fatal(err)
	}
	r, size, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if size != int64(len(want)) {
		t.Fatalf("size %d, want %d", size, len(want))
	}
	for _, tc := range []struct {
		name   string
		offset int64
		whence int
		n      int
		at     int64 // absolute offset the read starts at
	}{
		{"start", 6, io.SeekStart, 5, 6},
		{"across a part boundary", MinPartSize - 100, io.SeekStart, 200, MinPartSize - 100},
		{"from the end", -7, io.SeekEnd, 7, int64(len(want)) - 7},
		{"backwards", 1, io.SeekStart, 3, 1},
	} {
		pos, err := r.Seek(tc.offset, tc.whence)
		if err != nil || pos != tc.at {
			t.Fatalf("%s: Seek = %d, %v; want %d", tc.name, pos, err, tc.at)
		}
		got := make([]byte, tc.n)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, want[tc.at:tc.at+int64(tc.n)]) {
			t.Errorf("%s: wrong bytes", tc.name)
		}
	}
	ra, ok := r.(io.ReaderAt)
	if !ok {
		t.Fatal("the reader is not an io.ReaderAt")
	}
	got := make([]byte, 1000)
	if _, err := ra.ReadAt(got, 2*MinPartSize-500); err != nil || !bytes.Equal(got, want[2*MinPartSize-500:2*MinPartSize+500]) {
		t.Errorf("ReadAt: %v or wrong bytes", err)
	}
}

// TestRejected: a Put whose bytes do not match its digest or size stores
// nothing, not even an unfinished upload.
func TestRejected(t *testing.T) {
	s, c := newStore(t)
	ctx := testContext(t)
	small, large := blob{8, 1000}, blob{9, 2*MinPartSize + 7}
	other := blob{10, 1000}.digest()
	for _, tc := range []struct {
		name string
		d    digest.Digest
		b    blob
		size int64
		want error
	}{
		{"small, wrong digest", other, small, small.size, oci.ErrDigestInvalid},
		{"multipart, wrong digest", other, large, large.size, oci.ErrDigestInvalid},
		{"multipart, wrong digest, unknown size", other, large, -1, oci.ErrDigestInvalid},
		{"small, fewer bytes than declared", small.digest(), small, small.size + 1, errSizeInvalid},
		{"small, more bytes than declared", small.digest(), small, small.size - 1, errSizeInvalid},
		{"multipart, fewer bytes than declared", large.digest(), large, large.size + MinPartSize, errSizeInvalid},
		{"multipart, more bytes than declared", large.digest(), large, large.size - 1, errSizeInvalid},
		{"declared one part, sent more", large.digest(), large, MinPartSize, errSizeInvalid},
		{"negative size", small.digest(), small, -2, errSizeInvalid},
		{"malformed digest", "sha256:abc", small, small.size, oci.ErrDigestInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(ctx, tc.d, tc.b.open(), tc.size)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put = %v; want %v", err, tc.want)
			}
			if keys, uploads := objects(t, c, s.cfg.Bucket); len(keys)+len(uploads) != 0 {
				t.Fatalf("left behind: objects %q, uploads %q", keys, uploads)
			}
		})
	}
}

// TestConcurrentPuts: racing Puts of one digest all succeed and leave one
// object with the right bytes.
func TestConcurrentPuts(t *testing.T) {
	s, c := newStore(t)
	ctx := testContext(t)
	for _, b := range []blob{{11, 4096}, {12, 2*MinPartSize + 3}} {
		t.Run(fmt.Sprint(b.size), func(t *testing.T) {
			d := b.digest()
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() { errs[i] = s.Put(ctx, d, b.open(), b.size) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			}
			keys, uploads := objects(t, c, s.cfg.Bucket)
			if len(keys) != 1 || keys[0] != Key(d) || len(uploads) != 0 {
				t.Fatalf("objects %q, uploads %q; want only %s", keys, uploads, Key(d))
			}
			checkContent(t, s, d)
			if err := s.Delete(ctx, d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLostRace forces the create-once path: a Put that checked the blob
// was absent, then finishes after another Put stored it, gets 412 from the
// store and must still succeed, leaving the first object in place.
func TestLostRace(t *testing.T) {
	s, c := newStore(t)
	ctx := testContext(t)
	for _, b := range []blob{{13, 4096}, {14, MinPartSize + 3}} {
		t.Run(fmt.Sprint(b.size), func(t *testing.T) {
			d := b.digest()
			pr, pw := io.Pipe()
			slow := make(chan error, 1)
			go func() { slow <- s.Put(ctx, d, pr, b.size) }()
			// The slow Put has stat'ed (absent) once it reads its first byte.
			whole := b.bytes()
			if _, err := pw.Write(whole[:1]); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, d, b.open(), b.size); err != nil {
				t.Fatalf("fast Put: %v", err)
			}
			before, err := c.StatObject(ctx, s.cfg.Bucket, Key(d), minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pw.Write(whole[1:]); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			if err := <-slow; err != nil {
				t.Fatalf("slow Put: %v", err)
			}
			after, err := c.StatObject(ctx, s.cfg.Bucket, Key(d), minio.StatObjectOptions{})
			if err != nil || after.ETag != before.ETag || !after.LastModified.Equal(before.LastModified) {
				t.Errorf("the object changed: %+v -> %+v (%v)", before, after, err)
			}
			keys, uploads := objects(t, c, s.cfg.Bucket)
			if len(keys) != 1 || len(uploads) != 0 {
				t.Fatalf("objects %q, uploads %q; want only %s", keys, uploads, Key(d))
			}
			checkContent(t, s, d)
			if err := s.Delete(ctx, d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func checkContent(t *testing.T, s *Store, d digest.Digest) {
	t.Helper()
	r, _, err := s.Open(testContext(t), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := digest.FromReader(r); err != nil || got != d {
		t.Fatalf("stored bytes hash to %s (%v), want %s", got, err, d)
	}
}

func TestProbe(t *testing.T) {
	s, c := newStore(t)
	ctx := testContext(t)
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if keys, uploads := objects(t, c, s.cfg.Bucket); len(keys)+len(uploads) != 0 {
		t.Errorf("Probe left behind: objects %q, uploads %q", keys, uploads)
	}

	cfg := s.cfg
	cfg.Bucket = "no-such-bucket"
	missing, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Probe(ctx); err == nil || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Errorf("Probe of a missing bucket = %v", err)
	}
	cfg.Bucket, cfg.SecretKey = s.cfg.Bucket, "wrong"
	denied, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := denied.Probe(ctx); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Probe with a wrong secret = %v; want an error that does not show the secret", err)
	}
}

func TestConfig(t *testing.T) {
	good := Config{Endpoint: "127.0.0.1:9000", Bucket: "b", AccessKey: "AKIDSECRETVALUE", SecretKey: "s3cr3t-value"}
	if _, err := New(good); err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Endpoint = "" }, "S3_ENDPOINT"},
		{func(c *Config) { c.Endpoint = "http://x:1" }, "without a scheme"},
		{func(c *Config) { c.Bucket = "" }, "S3_BUCKET"},
		{func(c *Config) { c.SecretKey = "" }, "S3_SECRET_KEY_FILE"},
		{func(c *Config) { c.PartSize = MinPartSize - 1 }, "PartSize"},
		{func(c *Config) { c.Concurrency = -1 }, "Concurrency"},
	} {
		c := good
		tc.change(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) = %v; want an error naming %s", c, err, tc.want)
		}
	}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "s3", good)
	for _, out := range []string{fmt.Sprint(good), fmt.Sprintf("%+v", good), fmt.Sprintf("%#v", good), logged.String()} {
		if strings.Contains(out, good.SecretKey) || strings.Contains(out, good.AccessKey) {
			t.Errorf("a key is printed: %s", out)
		}
	}
	s, _ := New(good)
	if s.MinChunk() != 5<<20 {
		t.Errorf("MinChunk = %d", s.MinChunk())
	}
}
