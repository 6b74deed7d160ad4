package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// maxParts is S3's limit on the parts of one multipart upload.
const maxParts = 10000

// cleanupTimeout bounds the requests that undo a failed upload, which run
// even when the caller's context is already cancelled.
const cleanupTimeout = 30 * time.Second

// Store keeps blobs in one bucket. It is safe for concurrent use; any number
// of processes may share the bucket.
type Store struct {
	cfg    Config
	client *minio.Client
	core   minio.Core
	bufs   sync.Pool // *[]byte of cfg.PartSize
}

// New returns a Store for cfg. It makes no request; call Probe at startup.
func New(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.TLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &Store{cfg: cfg, client: client, core: minio.Core{Client: client}}
	s.bufs.New = func() any { b := make([]byte, cfg.PartSize); return &b }
	return s, nil
}

// MinChunk is the smallest chunk an upload may send except the last: the
// object store's minimum multipart part size, for OCI-Chunk-Min-Length.
func (s *Store) MinChunk() int64 { return MinPartSize }

// Key is the object key of a blob: blobs/<algorithm>/<hex>.
func Key(d digest.Digest) string { return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded() }

// Put stores size bytes read from r as blob d. Size -1 means unknown. The
// object appears under Key(d) only once the bytes hash to d and number
// size; otherwise nothing is left behind and the error is DIGEST_INVALID or
// SIZE_INVALID. When the blob is already stored, Put returns nil without
// reading r; when a concurrent Put of the same digest wins, both succeed
// and one object remains. Memory use is bounded by the part size and
// Concurrency, whatever the blob's size.
func (s *Store) Put(ctx context.Context, d digest.Digest, r io.Reader, size int64) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	if size < -1 {
		return oci.Errorf(oci.CodeSizeInvalid, "size %d is negative", size)
	}
	if _, err := s.Stat(ctx, d); err == nil {
		return nil
	} else if !errors.Is(err, oci.ErrBlobUnknown) {
		return err
	}
	if size >= 0 {
		// One byte past the declared size is enough to tell it was wrong.
		r = io.LimitReader(r, size+1)
	}
	h := d.Algorithm().Hash()
	bp := s.bufs.Get().(*[]byte)
	n, err := io.ReadFull(r, *bp)
	h.Write((*bp)[:n])
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		defer s.bufs.Put(bp)
		if err := verify(d, size, h, int64(n)); err != nil {
			return err
		}
		return s.putSingle(ctx, d, (*bp)[:n])
	case nil:
		return s.putMultipart(ctx, d, r, size, h, bp)
	default:
		s.bufs.Put(bp)
		return fmt.Errorf("s3blob: reading blob %s: %w", d, err)
	}
}

// putSingle uploads a verified blob that fits in one part with one request.
func (s *Store) putSingle(ctx context.Context, d digest.Digest, b []byte) error {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	opts.SetMatchETagExcept("*")
	var sha string
	if d.Algorithm() == digest.SHA256 {
		// The digest is the payload hash SigV4 wants: the store checks it.
		sha = d.Encoded()
	}
	_, err := s.core.PutObject(ctx, s.cfg.Bucket, Key(d), bytes.NewReader(b), int64(len(b)), "", sha, opts)
	if err != nil && !preconditionFailed(err) {
		return fmt.Errorf("s3blob: put %s: %w", d, err)
	}
	return nil
}

// putMultipart uploads the first part (already read and hashed, in first)
// and the rest of r as a multipart upload, and completes it only once the
// whole stream checked out. Parts are read and hashed in order by this
// goroutine and uploaded by up to Concurrency workers.
func (s *Store) putMultipart(ctx context.Context, d digest.Digest, r io.Reader, size int64, h hash.Hash, first *[]byte) (err error) {
	key := Key(d)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	id, err := s.core.NewMultipartUpload(ctx, s.cfg.Bucket, key, opts)
	if err != nil {
		s.bufs.Put(first)
		return fmt.Errorf("s3blob: starting multipart upload of %s: %w", d, err)
	}
	completed := false
	defer func() {
		if !completed {
			s.abort(ctx, key, id)
		}
	}()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []minio.CompletePart
		slots = make(chan struct{}, s.cfg.Concurrency)
	)
	upload := func(num int, bp *[]byte, n int) {
		defer wg.Done()
		defer func() { <-slots }()
		defer s.bufs.Put(bp)
		p, err := s.core.PutObjectPart(ctx, s.cfg.Bucket, key, id, num, bytes.NewReader((*bp)[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			cancel(fmt.Errorf("s3blob: uploading part %d of %s: %w", num, d, err))
			return
		}
		mu.Lock()
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		mu.Unlock()
	}

	total := int64(len(*first))
	bp, n := first, len(*first)
	var readErr error
	for num := 1; ; num++ {
		if num > maxParts {
			s.bufs.Put(bp)
			readErr = fmt.Errorf("more than %d parts of %d bytes; raise the part size", maxParts, s.cfg.PartSize)
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			s.bufs.Put(bp)
			wg.Wait()
			return context.Cause(ctx)
		}
		wg.Add(1)
		go upload(num, bp, n)
		if n < int(s.cfg.PartSize) {
			break // that was the last, short part
		}
		bp = s.bufs.Get().(*[]byte)
		n, readErr = io.ReadFull(r, *bp)
		h.Write((*bp)[:n])
		total += int64(n)
		if readErr == io.EOF || readErr == io.ErrUnexpectedEOF {
			readErr = nil
			if n == 0 {
				s.bufs.Put(bp)
				break
			}
		} else if readErr != nil {
			s.bufs.Put(bp)
			break
		}
	}
	wg.Wait()
	if readErr != nil {
		return fmt.Errorf("s3blob: reading blob %s: %w", d, readErr)
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if err := verify(d, size, h, total); err != nil {
		return err
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	// Create-once: if a concurrent Put completed first, its object (the
	// same bytes) stays and this upload is aborted by the deferred call.
	opts.SetMatchETagExcept("*")
	if _, err := s.core.CompleteMultipartUpload(ctx, s.cfg.Bucket, key, id, parts, opts); err != nil {
		if preconditionFailed(err) {
			return nil
		}
		return fmt.Errorf("s3blob: completing multipart upload of %s: %w", d, err)
	}
	completed = true
	return nil
}

func (s *Store) abort(ctx context.Context, key, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	// Best effort: an upload left behind holds no visible object, and the
	// garbage collector aborts abandoned uploads.
	_ = s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, key, id)
}

// Open returns blob d, seekable (each read after a seek is a ranged GET),
// and its size. The caller closes the reader.
func (s *Store) Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, int64, error) {
	if err := checkDigest(d); err != nil {
		return nil, 0, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, Key(d), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s.mapErr(d, "open", err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, 0, s.mapErr(d, "open", err)
	}
	return obj, info.Size, nil
}

// Stat returns the size of blob d, or BLOB_UNKNOWN.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	if err := checkDigest(d); err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, Key(d), minio.StatObjectOptions{})
	if err != nil {
		return 0, s.mapErr(d, "stat", err)
	}
	return info.Size, nil
}

// Delete removes blob d, or returns BLOB_UNKNOWN when it is not stored.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	if _, err := s.Stat(ctx, d); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, Key(d), minio.RemoveObjectOptions{}); err != nil {
		return s.mapErr(d, "delete", err)
	}
	return nil
}

func (s *Store) mapErr(d digest.Digest, op string, err error) error {
	if e := minio.ToErrorResponse(err); e.StatusCode == http.StatusNotFound || e.Code == "NoSuchKey" {
		return oci.Errorf(oci.CodeBlobUnknown, "blob %s is not stored", d)
	}
	return fmt.Errorf("s3blob: %s %s in bucket %q: %w", op, d, s.cfg.Bucket, err)
}

func preconditionFailed(err error) bool {
	e := minio.ToErrorResponse(err)
	return e.StatusCode == http.StatusPreconditionFailed || e.Code == "PreconditionFailed"
}

func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return oci.Errorf(oci.CodeDigestInvalid, "digest %q: %v", d, err)
	}
	return nil
}

func verify(d digest.Digest, size int64, h hash.Hash, got int64) error {
	if size >= 0 && got != size {
		if got > size {
			return oci.Errorf(oci.CodeSizeInvalid, "blob %s: more than the declared %d bytes were sent; nothing was stored", d, size)
		}
		return oci.Errorf(oci.CodeSizeInvalid, "blob %s: %d bytes were sent, not the declared %d; nothing was stored", d, got, size)
	}
	if sum := digest.NewDigest(d.Algorithm(), h); sum != d {
		return oci.Errorf(oci.CodeDigestInvalid, "uploaded content (%d bytes) hashes to %s, not %s; nothing was stored", got, sum, d)
	}
	return nil
}
