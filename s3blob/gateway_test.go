package s3blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// versitygwVersion is the S3 gateway the tests run against; test.sh builds
// the same version into .tools/ and exports VERSITYGW.
const versitygwVersion = "v1.8.0"

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// gatewayBinary finds versitygw: $VERSITYGW, else the copy test.sh builds,
// else it builds one into .tools/ (a few minutes, once). Failing to get one
// fails the test unless S3_TESTS=skip says to skip.
func gatewayBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv("S3_TESTS") == "skip" {
		t.Skip("S3_TESTS=skip: not running the object-store tests")
	}
	if bin := os.Getenv("VERSITYGW"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(root, ".tools", "versitygw-"+versitygwVersion)
		if _, err := os.Stat(bin); err == nil {
			buildBin = bin
			return
		}
		gobin := filepath.Join(root, ".tools", "bin-versitygw-"+versitygwVersion)
		cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+versitygwVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(out)}
			return
		}
		if buildErr = os.Rename(filepath.Join(gobin, "versitygw"), bin); buildErr == nil {
			buildBin = bin
		}
	})
	if buildErr != nil {
		t.Fatalf("no versitygw: set VERSITYGW, or S3_TESTS=skip to skip these tests: %v", buildErr)
	}
	return buildBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "building versitygw: " + e.err.Error() + "\n" + e.out }

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// startGateway runs versitygw on a free loopback port over a fresh
// directory, creates a bucket, and returns a Config for it. The process is
// killed by its PID when the test ends.
func startGateway(t testing.TB) Config {
	t.Helper()
	bin := gatewayBinary(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--port", addr, "posix", data)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=testkey", "ROOT_SECRET_KEY=testsecret")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("versitygw log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s within 30 s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var nonce [4]byte
	rand.Read(nonce[:])
	cfg := Config{
		Endpoint: addr, Bucket: "blobs-" + hex.EncodeToString(nonce[:]),
		AccessKey: "testkey", SecretKey: "testsecret", Region: "us-east-1",
	}
	c := rawClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("creating bucket: %v", err)
	}
	return cfg
}

// rawClient is a plain minio-go client for looking behind the Store.
func rawClient(t testing.TB, cfg Config) *minio.Client {
	t.Helper()
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
