package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// Probe checks, with a few small objects under probe/ that it removes, that
// the bucket exists and that the store honours what Put relies on:
// create-once writes (If-None-Match: *) on PutObject and on
// CompleteMultipartUpload, and multipart uploads. The error names the
// missing capability; the registry refuses to start on it.
func (s *Store) Probe(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3blob probe: checking bucket %q at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
	}
	if !ok {
		return fmt.Errorf("s3blob probe: bucket %q does not exist at %s; create it first", s.cfg.Bucket, s.cfg.Endpoint)
	}

	var nonce [8]byte
	rand.Read(nonce[:])
	prefix := "probe/" + hex.EncodeToString(nonce[:]) + "/"
	a, b := prefix+"a", prefix+"b"
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		for _, k := range []string{a, b} {
			_ = s.client.RemoveObject(ctx, s.cfg.Bucket, k, minio.RemoveObjectOptions{})
		}
	}()

	create := minio.PutObjectOptions{DisableMultipart: true}
	create.SetMatchETagExcept("*")
	put := func(key, body string) error {
		_, err := s.core.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader([]byte(body)), int64(len(body)), "", "", create)
		return err
	}
	if err := put(a, "first"); err != nil {
		return fmt.Errorf("s3blob probe: conditional create (PutObject with If-None-Match: *) of a new object failed: %w", err)
	}
	switch err := put(a, "second"); {
	case err == nil:
		return fmt.Errorf("s3blob probe: the store ignores If-None-Match: * on PutObject (a second create-once write succeeded); conditional writes are required")
	case !preconditionFailed(err):
		return fmt.Errorf("s3blob probe: a second create-once PutObject should fail with 412 Precondition Failed: %w", err)
	}

	// Multipart: one (last, so small) part, completed create-once on a new key.
	if err := s.multipart(ctx, b, "multipart", create); err != nil {
		return fmt.Errorf("s3blob probe: multipart upload: %w", err)
	}
	if got, err := s.read(ctx, b); err != nil || got != "multipart" {
		return fmt.Errorf("s3blob probe: multipart upload: the completed object reads back as %q (%v)", got, err)
	}
	// ... and completed create-once onto an existing key: must be refused.
	switch err := s.multipart(ctx, a, "overwrite", create); {
	case err == nil:
		return fmt.Errorf("s3blob probe: the store ignores If-None-Match: * on CompleteMultipartUpload (it overwrote an existing object); conditional writes are required")
	case !preconditionFailed(err):
		return fmt.Errorf("s3blob probe: a create-once CompleteMultipartUpload onto an existing object should fail with 412 Precondition Failed: %w", err)
	}
	if got, err := s.read(ctx, a); err != nil || got != "first" {
		return fmt.Errorf("s3blob probe: after refused writes the object reads %q (%v), not %q; conditional writes are not honoured", got, err, "first")
	}
	return nil
}

// multipart uploads body as a one-part multipart upload to key, aborting
// the upload when it does not complete.
func (s *Store) multipart(ctx context.Context, key, body string, opts minio.PutObjectOptions) error {
	id, err := s.core.NewMultipartUpload(ctx, s.cfg.Bucket, key, minio.PutObjectOptions{})
	if err != nil {
		return err
	}
	p, err := s.core.PutObjectPart(ctx, s.cfg.Bucket, key, id, 1, bytes.NewReader([]byte(body)), int64(len(body)), minio.PutObjectPartOptions{})
	if err == nil {
		_, err = s.core.CompleteMultipartUpload(ctx, s.cfg.Bucket, key, id, []minio.CompletePart{{PartNumber: 1, ETag: p.ETag}}, opts)
	}
	if err != nil {
		s.abort(ctx, key, id)
	}
	return err
}

func (s *Store) read(ctx context.Context, key string) (string, error) {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", err
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, 64))
	return string(b), err
}
