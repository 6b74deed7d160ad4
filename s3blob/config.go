package s3blob

import (
	"fmt"
	"log/slog"
	"strings"
)

// MinPartSize is the smallest part S3 accepts in a multipart upload (every
// part but the last). It is what the registry advertises as
// OCI-Chunk-Min-Length.
const MinPartSize = 5 << 20

// DefaultPartSize is the part size used when Config.PartSize is zero; it is
// minio-go's own default, so large uploads make the same number of requests
// as a plain PutObject.
const DefaultPartSize = 16 << 20

// DefaultConcurrency is how many parts of one blob are in flight when
// Config.Concurrency is zero. Each costs one part-sized buffer.
const DefaultConcurrency = 2

// Config says where the bucket is and how to reach it. The caller reads the
// keys (from S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE); Config never
// prints them.
type Config struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	AccessKey string
	SecretKey string
	TLS       bool   // https; false only for a loopback test engine
	Region    string // optional; discovered from the bucket when empty

	// PartSize is the multipart part size in bytes (>= MinPartSize; default
	// DefaultPartSize). Blobs no larger than one part go up in one request.
	PartSize int64
	// Concurrency is the number of parts of one blob uploaded at once
	// (default DefaultConcurrency). Memory per Put is at most
	// Concurrency+1 parts.
	Concurrency int
}

func (c Config) withDefaults() Config {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Endpoint == "":
		return fmt.Errorf("s3blob: Endpoint (S3_ENDPOINT) is empty; give host:port")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("s3blob: Endpoint (S3_ENDPOINT) %q must be host:port without a scheme; use TLS (S3_TLS) to choose https", c.Endpoint)
	case c.Bucket == "":
		return fmt.Errorf("s3blob: Bucket (S3_BUCKET) is empty")
	case c.AccessKey == "" || c.SecretKey == "":
		return fmt.Errorf("s3blob: AccessKey and SecretKey (S3_ACCESS_KEY_FILE, S3_SECRET_KEY_FILE) must both be set")
	case c.PartSize < MinPartSize:
		return fmt.Errorf("s3blob: PartSize %d is below the S3 minimum part size %d", c.PartSize, MinPartSize)
	case c.Concurrency < 1:
		return fmt.Errorf("s3blob: Concurrency %d must be at least 1", c.Concurrency)
	}
	return nil
}

// String describes the configuration without the keys.
func (c Config) String() string {
	return fmt.Sprintf("s3blob.Config{Endpoint:%q Bucket:%q TLS:%t Region:%q PartSize:%d Concurrency:%d AccessKey:%s SecretKey:%s}",
		c.Endpoint, c.Bucket, c.TLS, c.Region, c.PartSize, c.Concurrency, redact(c.AccessKey), redact(c.SecretKey))
}

// GoString keeps %#v from printing the keys too.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the keys.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.Bool("tls", c.TLS),
		slog.String("region", c.Region),
		slog.Int64("part_size", c.PartSize),
		slog.Int("concurrency", c.Concurrency),
	)
}

func redact(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}
