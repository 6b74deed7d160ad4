package s3blob_test

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/s3blob"
)

func Example() {
	ctx := context.Background()
	s, err := s3blob.New(s3blob.Config{
		Endpoint:  "127.0.0.1:7070",
		Bucket:    "modelreg",
		AccessKey: "testkey",    // read from S3_ACCESS_KEY_FILE
		SecretKey: "testsecret", // read from S3_SECRET_KEY_FILE
	})
	if err != nil {
		panic(err)
	}
	if err := s.Probe(ctx); err != nil {
		panic(err) // refuse to start: the store lacks a capability
	}
	content := "hello"
	d := digest.FromString(content)
	if err := s.Put(ctx, d, strings.NewReader(content), int64(len(content))); err != nil {
		panic(err)
	}
	r, _, err := s.Open(ctx, d)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	io.Copy(os.Stdout, r)
}
