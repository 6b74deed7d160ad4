package storagetest

import (
	"io"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

var blobTests = []test{
	{"Unknown", testBlobUnknown},
	{"SeekAndRange", testBlobSeek},
	{"Delete", testBlobDelete},
	{"DeleteReferencedRefused", testBlobDeleteReferenced},
	{"Mount", testBlobMount},
	{"MountNothing", testBlobMountNothing},
}

// Blobs belong to repositories: one pushed to a is unknown in b, and
// nothing is known in a repository that does not exist.
func testBlobUnknown(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	desc := PushBlob(t, b, "a", []byte("only in a"))
	PushBlob(t, b, "b", []byte("something else"))
	wantNoBlob(t, b, "b", desc.Digest)
	wantNoBlob(t, b, "no/such/repo", desc.Digest)
	wantNoBlob(t, b, "a", digest.FromString("never pushed"))
	WantCode(t, b.DeleteBlob(ctx, "b", desc.Digest), oci.CodeBlobUnknown)
	WantCode(t, b.DeleteBlob(ctx, "no/such/repo", desc.Digest), oci.CodeBlobUnknown)
	wantBlob(t, b, "a", desc.Digest, []byte("only in a"))
}

// OpenBlob's reader seeks, which is how ranged GETs are served.
func testBlobSeek(t *testing.T, b storage.Backend) {
	data := RandomBytes(100<<10+3, 11)
	desc := PushBlob(t, b, "r", data)
	f, size, err := b.OpenBlob(t.Context(), "r", desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size != int64(len(data)) {
		t.Fatalf("size = %d, want %d", size, len(data))
	}
	n := int64(len(data))
	for _, c := range []struct {
		offset int64
		whence int
		pos    int64 // where the seek lands
		length int
	}{
		{1000, io.SeekStart, 1000, 500},
		{-100, io.SeekEnd, n - 100, 100},
		{0, io.SeekStart, 0, 10},
		{5, io.SeekCurrent, 15, 4096},
		{n - 1, io.SeekStart, n - 1, 1},
		{70 << 10, io.SeekStart, 70 << 10, 30<<10 + 3},
	} {
		pos, err := f.Seek(c.offset, c.whence)
		if err != nil || pos != c.pos {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", c.offset, c.whence, pos, err, c.pos)
		}
		got := make([]byte, c.length)
		if _, err := io.ReadFull(f, got); err != nil {
			t.Fatalf("read %d bytes at %d: %v", c.length, pos, err)
		}
		if string(got) != string(data[pos:pos+int64(c.length)]) {
			t.Fatalf("bytes %d-%d differ", pos, pos+int64(c.length)-1)
		}
	}
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != n {
		t.Fatalf("position after reading to the end = %d, %v", pos, err)
	}
	if k, err := f.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Fatalf("read at the end = %d, %v; want 0, EOF", k, err)
	}
}

// Deleting a blob from one repository leaves other repositories' copies.
func testBlobDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(64<<10, 12)
	desc := PushBlob(t, b, "a", data)
	PushBlob(t, b, "b", data)
	if err := b.DeleteBlob(ctx, "a", desc.Digest); err != nil {
		t.Fatal(err)
	}
	wantNoBlob(t, b, "a", desc.Digest)
	WantCode(t, b.DeleteBlob(ctx, "a", desc.Digest), oci.CodeBlobUnknown)
	wantBlob(t, b, "b", desc.Digest, data)
	// Pushed again after a delete, it is back.
	PushBlob(t, b, "a", data)
	wantBlob(t, b, "a", desc.Digest, data)
}

// A blob a manifest uses, or a manifest itself, cannot be deleted as a
// blob: the manifest would stay listed but be broken.
func testBlobDeleteReferenced(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	m := PushImage(t, b, "r", nil, []string{"v1"}, []byte("layer"))
	WantCode(t, b.DeleteBlob(ctx, "r", m.Layers[0].Digest), oci.CodeDenied)
	WantCode(t, b.DeleteBlob(ctx, "r", m.Config.Digest), oci.CodeDenied)
	WantCode(t, b.DeleteBlob(ctx, "r", m.Digest), oci.CodeDenied)
	wantResolve(t, b, "r", "v1", m.Digest)
	if err := b.DeleteManifest(ctx, "r", m.Digest); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBlob(ctx, "r", m.Layers[0].Digest); err != nil {
		t.Fatalf("delete after the manifest is gone: %v", err)
	}
	wantNoBlob(t, b, "r", m.Layers[0].Digest)
	wantNoBlob(t, b, "r", m.Digest)
}

// A mount links a blob from a named repository, or from any when from is
// empty, and creates the target repository.
func testBlobMount(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(32<<10, 13)
	desc := PushBlob(t, b, "a", data)
	for _, c := range []struct{ repo, from string }{{"c", "a"}, {"c", "a"}, {"d/e", ""}} {
		ok, err := b.MountBlob(ctx, c.repo, c.from, desc.Digest)
		if err != nil || !ok {
			t.Fatalf("mount into %s from %q = %v, %v; want true", c.repo, c.from, ok, err)
		}
		wantBlob(t, b, c.repo, desc.Digest, data)
		if !hasRepo(t, b, c.repo) {
			t.Fatalf("repository %s not listed after a mount into it", c.repo)
		}
	}
	// The copies are independent: deleting the source keeps the mounts.
	if err := b.DeleteBlob(ctx, "a", desc.Digest); err != nil {
		t.Fatal(err)
	}
	wantBlob(t, b, "c", desc.Digest, data)
	ok, err := b.MountBlob(ctx, "f", "", desc.Digest)
	if err != nil || !ok {
		t.Fatalf("mount from any repository while c still has it = %v, %v", ok, err)
	}
}

// A mount of a blob the source does not hold reports false and leaves
// nothing behind, so the client falls back to an upload.
func testBlobMountNothing(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	desc := PushBlob(t, b, "a", []byte("in a"))
	PushBlob(t, b, "b", []byte("in b"))
	for _, c := range []struct {
		from string
		d    digest.Digest
	}{
		{"b", desc.Digest},                   // the source exists but lacks it
		{"no/such/repo", desc.Digest},        // the source does not exist
		{"", digest.FromString("nowhere")},   // no repository has it
		{"a", digest.FromString("not in a")}, // nor the named one
	} {
		ok, err := b.MountBlob(ctx, "target", c.from, c.d)
		if err != nil || ok {
			t.Fatalf("mount %s from %q = %v, %v; want false", c.d, c.from, ok, err)
		}
		wantNoBlob(t, b, "target", c.d)
	}
	if hasRepo(t, b, "target") {
		t.Fatal("a mount that found nothing created the target repository")
	}
	// Once deleted everywhere, a blob is not mountable from anywhere.
	if err := b.DeleteBlob(ctx, "a", desc.Digest); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.MountBlob(ctx, "target", "", desc.Digest); err != nil || ok {
		t.Fatalf("mount of a blob deleted everywhere = %v, %v", ok, err)
	}
}
