package ocilayout

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage/storagetest"
)

func TestChunkedUploadSurvivesCrashAndRollsBackBrokenChunks(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	data := storagetest.RandomBytes(3<<20+17, 1)
	want := digest.FromBytes(data)
	st, err := s.StartUpload(ctx, "r", digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	first := data[:1<<20]
	if st2, err := s.AppendUpload(ctx, "r", st.ID, 0, bytes.NewReader(first)); err != nil || st2.Offset != int64(len(first)) {
		t.Fatalf("append: %+v %v", st2, err)
	}
	// A chunk that breaks off half-way leaves the session as it was.
	_, err = s.AppendUpload(ctx, "r", st.ID, int64(len(first)), storagetest.FailingReader(data[len(first):], 300<<10))
	storagetest.WantCode(t, err, oci.CodeBlobUploadInvalid)
	if got, _ := s.UploadStatus(ctx, "r", st.ID); got.Offset != int64(len(first)) {
		t.Fatalf("offset after a broken chunk = %d", got.Offset)
	}
	// Out-of-order chunks are refused with 416.
	_, err = s.AppendUpload(ctx, "r", st.ID, 5, bytes.NewReader([]byte("x")))
	var oe *oci.Error
	if !errors.As(err, &oe) || oe.Status != 416 {
		t.Fatalf("out-of-order chunk: %v", err)
	}
	// kill -9, restart: the acknowledged chunk and the hash state survive.
	crash(s)
	s = openStore(t, dir)
	defer s.Close()
	got, err := s.UploadStatus(ctx, "r", st.ID)
	if err != nil || got.Offset != int64(len(first)) {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	if _, err := s.AppendUpload(ctx, "r", st.ID, int64(len(first)), bytes.NewReader(data[len(first):2<<20])); err != nil {
		t.Fatal(err)
	}
	desc, err := s.CommitUpload(ctx, "r", st.ID, 2<<20, bytes.NewReader(data[2<<20:]), want)
	if err != nil || desc.Size != int64(len(data)) {
		t.Fatalf("commit: %+v %v", desc, err)
	}
	if !bytes.Equal(storagetest.ReadBlob(t, s, "r", want), data) {
		t.Fatal("stored blob differs")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(entries) != 0 {
		t.Fatalf("session directory left behind: %v", entries)
	}
}

// A rejected upload leaves no file behind (the shared suite checks that
// clients see nothing).
func TestDigestMismatchLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	st, _ := s.StartUpload(ctx, "r", digest.SHA256)
	_, err := s.CommitUpload(ctx, "r", st.ID, -1, bytes.NewReader([]byte("payload")), digest.FromString("something else"))
	storagetest.WantCode(t, err, oci.CodeDigestInvalid)
	for _, sub := range []string{"uploads", "pool/sha256", "tmp"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "spare-") { // empty files kept ready
				t.Fatalf("%s not empty after a rejected upload: %v", sub, entries)
			}
		}
	}
}

func TestUploadSessionsAreBounded(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: tempDir(t), MaxUploads: 2, FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _ := s.StartUpload(ctx, "r", "")
	if _, err := s.StartUpload(ctx, "r", ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.StartUpload(ctx, "r", "")
	storagetest.WantCode(t, err, oci.CodeTooManyRequests)
	if n := s.UploadSessions(); n != 2 {
		t.Errorf("UploadSessions = %d, want 2", n)
	}
	if err := s.CancelUpload(ctx, "r", a.ID); err != nil {
		t.Fatal(err)
	}
	if n := s.UploadSessions(); n != 1 {
		t.Errorf("UploadSessions after a cancel = %d, want 1", n)
	}
	if _, err := s.StartUpload(ctx, "r", ""); err != nil {
		t.Fatalf("cancel did not free a slot: %v", err)
	}
}

func TestIdleUploadsExpire(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	st, _ := s.StartUpload(ctx, "r", "")
	if _, err := s.AppendUpload(ctx, "r", st.ID, 0, bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	s.uploads.expire(time.Now())
	if _, err := s.UploadStatus(ctx, "r", st.ID); err != nil {
		t.Fatalf("fresh session expired: %v", err)
	}
	s.uploads.expire(time.Now().Add(25 * time.Hour))
	_, err := s.UploadStatus(ctx, "r", st.ID)
	storagetest.WantCode(t, err, oci.CodeBlobUploadUnknown)
	if _, err := os.Stat(filepath.Join(dir, "uploads", st.ID+".data")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("expired session still on disk: %v", err)
	}
	s.Close()
}

func TestOrphanSweep(t *testing.T) {
	s := openStore(t, tempDir(t))
	defer s.Close()
	d := digest.FromString("orphan")
	p := s.poolPath(d)
	if err := os.WriteFile(p, []byte("orphan"), 0o440); err != nil {
		t.Fatal(err)
	}
	kept := storagetest.PushBlob(t, s, "r", []byte("kept"))
	s.sweepOrphans(time.Now())
	if _, err := os.Stat(p); err != nil {
		t.Fatal("orphan removed before its grace period")
	}
	s.sweepOrphans(time.Now().Add(2 * time.Hour))
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("orphan kept after its grace period")
	}
	if _, err := os.Stat(s.poolPath(kept.Digest)); err != nil {
		t.Fatal("referenced blob swept")
	}
}

func TestEmptyUploadsExpireSooner(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, tempDir(t))
	defer s.Close()
	empty, _ := s.StartUpload(ctx, "r", "")
	used, _ := s.StartUpload(ctx, "r", "")
	if _, err := s.AppendUpload(ctx, "r", used.ID, 0, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	s.uploads.expire(time.Now().Add(20 * time.Minute))
	_, err := s.UploadStatus(ctx, "r", empty.ID)
	storagetest.WantCode(t, err, oci.CodeBlobUploadUnknown)
	if _, err := s.UploadStatus(ctx, "r", used.ID); err != nil {
		t.Fatalf("session with data expired early: %v", err)
	}
}

// The janitor leaves alone the temp file of a session state being replaced
// right now (removing it made that write fail), and collects one a crash
// left behind once it is older than the maximum age.
func TestExpireSparesStateBeingWritten(t *testing.T) {
	s := openStore(t, t.TempDir())
	fresh := filepath.Join(s.uploads.root(), ".0123456789abcdef0123456789abcdef.json.tmp-1")
	old := filepath.Join(s.uploads.root(), ".fedcba9876543210fedcba9876543210.json.tmp-2")
	for _, p := range []string{fresh, old} {
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * s.cfg.UploadMaxAge)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	s.uploads.expire(time.Now())
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the janitor removed a state file being written: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the janitor kept a stale temp file: %v", err)
	}
}
