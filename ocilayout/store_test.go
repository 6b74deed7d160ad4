package ocilayout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage/storagetest"
)

// openStore opens a store whose journal is only folded when the test asks,
// so crash tests see the journal path. It is closed when the test ends
// (Close after a crash does nothing).
func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Dir: dir, FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tempDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "reg")
	return d
}

// crash drops the store like kill -9 would: no journal is folded, no file
// is flushed; only the lock and descriptors are released (the kernel does
// that for a killed process).
func crash(s *Store) {
	s.once.Do(func() {
		close(s.stop)
		s.bg.Wait()
		s.mu.Lock()
		for _, r := range s.repos {
			r.mu.Lock()
			if r.journal != nil {
				_ = r.journal.Close()
				r.journal = nil
			}
			r.mu.Unlock()
		}
		s.mu.Unlock()
		s.uploads.closeAll()
		_ = s.lock.Close()
	})
}

func TestRoundTripAndLayoutOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	m := storagetest.PushImage(t, s, "models/llama", nil, []string{"v1", "latest"}, []byte("weights"))

	desc, body, err := s.GetManifest(ctx, "models/llama", oci.Reference{Tag: "v1"})
	if err != nil || !bytes.Equal(body, m.Body) || desc.Digest != m.Digest || desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("get manifest: %v %+v", err, desc)
	}
	if got := storagetest.ReadBlob(t, s, "models/llama", m.Layers[0].Digest); string(got) != "weights" {
		t.Fatalf("layer = %q", got)
	}
	tags, _ := s.Tags(ctx, "models/llama", "", -1)
	if strings.Join(tags, ",") != "latest,v1" {
		t.Fatalf("tags = %v", tags)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// After a clean close, index.json alone describes the repository.
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, "repos/models/llama/_layout/index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	refs := map[string]digest.Digest{}
	for _, d := range idx.Manifests {
		refs[d.Annotations[ocispec.AnnotationRefName]] = d.Digest
	}
	if refs["v1"] != m.Digest || refs["latest"] != m.Digest || len(idx.Manifests) != 2 {
		t.Fatalf("index.json manifests = %+v", idx.Manifests)
	}
	if fi, err := os.Stat(filepath.Join(dir, "repos/models/llama/_index.log")); err != nil || fi.Size() != 0 {
		t.Fatalf("journal not truncated after close: %v %v", fi, err)
	}
}

func TestJournalReplayAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	a := storagetest.PushImage(t, s, "r", nil, []string{"a", "moving"}, []byte("A"))
	b := storagetest.PushImage(t, s, "r", nil, []string{"b"}, []byte("B"))
	if err := s.TagManifest(ctx, "r", "moving", b.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, "r", "a"); err != nil {
		t.Fatal(err)
	}
	c := storagetest.PushImage(t, s, "r", nil, []string{"c"}, []byte("C"))
	if err := s.DeleteManifest(ctx, "r", c.Digest); err != nil {
		t.Fatal(err)
	}
	// Fold part of the history into index.json, then keep writing: the
	// crash must replay only what index.json lacks.
	if err := s.repos["r"].flush(); err != nil {
		t.Fatal(err)
	}
	d := storagetest.PushImage(t, s, "r", nil, []string{"d"}, []byte("D"))
	crash(s)

	s = openStore(t, dir)
	defer s.Close()
	tags, _ := s.Tags(ctx, "r", "", -1)
	if strings.Join(tags, ",") != "b,d,moving" {
		t.Fatalf("tags after replay = %v", tags)
	}
	for tag, want := range map[string]digest.Digest{"moving": b.Digest, "b": b.Digest, "d": d.Digest} {
		desc, err := s.ResolveManifest(ctx, "r", oci.Reference{Tag: tag})
		if err != nil || desc.Digest != want {
			t.Fatalf("tag %s -> %v %v, want %s", tag, desc.Digest, err, want)
		}
	}
	if _, err := s.ResolveManifest(ctx, "r", oci.Reference{Digest: a.Digest}); err != nil {
		t.Fatalf("untagged manifest lost: %v", err)
	}
	_, err := s.ResolveManifest(ctx, "r", oci.Reference{Digest: c.Digest})
	storagetest.WantCode(t, err, oci.CodeManifestUnknown)
}

func TestTornAndCorruptJournal(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	m := storagetest.PushImage(t, s, "r", nil, []string{"v1"}, []byte("x"))
	crash(s)
	log := filepath.Join(dir, "repos/r/_index.log")
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`1234abcd {"seq":99,"ops":[{"op":"tag","tag":"evil"`) // torn: no newline
	_ = f.Close()

	s = openStore(t, dir)
	if desc, err := s.ResolveManifest(ctx, "r", oci.Reference{Tag: "v1"}); err != nil || desc.Digest != m.Digest {
		t.Fatalf("after torn line: %v %v", desc, err)
	}
	if tags, _ := s.Tags(ctx, "r", "", -1); len(tags) != 1 {
		t.Fatalf("torn line applied: %v", tags)
	}
	crash(s)

	// A damaged line followed by a good one is corruption, not a torn
	// write: the repository refuses to load rather than guess.
	b, _ := os.ReadFile(log)
	b = append([]byte("00000000 {\"seq\":1}\n"), b...)
	if err := os.WriteFile(log, b, 0o640); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	if _, err := s.ResolveManifest(ctx, "r", oci.Reference{Tag: "v1"}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt journal loaded: %v", err)
	}
}

func TestSharedBlobsStoredOnce(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, tempDir(t))
	defer s.Close()
	data := bytes.Repeat([]byte("w"), 1<<20)
	a := storagetest.PushBlob(t, s, "a", data)
	storagetest.PushBlob(t, s, "b", data)
	ok, err := s.MountBlob(ctx, "c", "a", a.Digest)
	if err != nil || !ok {
		t.Fatalf("mount: %v %v", ok, err)
	}
	pool, _ := os.Stat(s.poolPath(a.Digest))
	for _, repo := range []string{"a", "b", "c"} {
		fi, err := os.Stat(newRepo(s, repo, false).blobPath(a.Digest))
		if err != nil || !os.SameFile(fi, pool) {
			t.Fatalf("%s does not share the pool inode: %v", repo, err)
		}
	}
	if n := linkCount(pool); n != 4 {
		t.Fatalf("pool link count = %d, want 4", n)
	}
	for _, repo := range []string{"a", "b", "c"} {
		if err := s.DeleteBlob(ctx, repo, a.Digest); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(s.poolPath(a.Digest)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pool copy kept after the last repository dropped it: %v", err)
	}
	ok, err = s.MountBlob(ctx, "d", "", a.Digest)
	if err != nil || ok {
		t.Fatalf("anonymous mount of a deleted blob: %v %v", ok, err)
	}
}

// A manifest refused for a missing blob leaves no bytes in the pool (the
// shared suite checks what clients see).
func TestRefusedManifestLeavesNoBytes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, tempDir(t))
	missing := digest.FromString("not pushed")
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + missing.String() + `","size":10},"layers":[]}`)
	m, err := oci.ParseManifest("", body, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.WantCode(t, s.PutManifest(ctx, "r", m, []string{"v1"}), oci.CodeManifestBlobUnknown)
	if _, err := os.Stat(s.poolPath(m.Digest)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("rejected manifest left its bytes in the pool")
	}
}

func TestOpenRefusesSharedOrUnsafeDirectory(t *testing.T) {
	dir := tempDir(t)
	s := openStore(t, dir)
	if _, err := Open(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second store on the same directory: %v", err)
	}
	s.Close()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("world-writable directory accepted: %v", err)
	}
	other := tempDir(t)
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "registry.json"), []byte(`{"format":"something-else"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Config{Dir: other, Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("foreign directory accepted")
	}
}

// A manifest whose journal line survived a crash but whose blob did not is
// not served, and pushing it again repairs it.
func TestManifestBlobLostInCrashIsRepairedByRepush(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	m := storagetest.PushImage(t, s, "r", nil, []string{"v1"}, []byte("layer"))
	crash(s)
	if err := os.Remove(filepath.Join(dir, "repos/r/_layout/blobs/sha256", m.Digest.Encoded())); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	_, _, err := s.GetManifest(ctx, "r", oci.Reference{Tag: "v1"})
	storagetest.WantCode(t, err, oci.CodeManifestUnknown)
	if err := s.PutManifest(ctx, "r", m, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if _, body, err := s.GetManifest(ctx, "r", oci.Reference{Tag: "v1"}); err != nil || !bytes.Equal(body, m.Body) {
		t.Fatalf("after re-push: %v", err)
	}
	if refs := len(s.repos["r"].users[m.Layers[0].Digest]); refs != 1 {
		t.Fatalf("layer refcount after repair = %d", refs)
	}
}

// TestCheck: an open store is available; one whose directory went away, or
// that is closed, is not (what /ready reports).
func TestCheck(t *testing.T) {
	dir := tempDir(t)
	s := openStore(t, dir)
	if err := s.Check(); err != nil {
		t.Fatalf("open store: Check = %v", err)
	}
	if err := os.Rename(filepath.Join(dir, "registry.json"), filepath.Join(dir, "moved.json")); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err == nil {
		t.Error("Check = nil with the directory's marker gone")
	}
	if err := os.Rename(filepath.Join(dir, "moved.json"), filepath.Join(dir, "registry.json")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err == nil {
		t.Error("Check = nil after Close")
	}
}
