package storagetest

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

var durabilityTests = []struct {
	name string
	fn   func(t *testing.T, b storage.Backend, reopen ReopenFunc)
}{
	{"Acknowledged", testDurableAcknowledged},
	{"UploadSessions", testDurableUploads},
	{"ParallelPushes", testDurablePushes},
}

// Every kind of acknowledged change is there after a reopen, and a
// reopened backend takes (and keeps) new changes.
func testDurableAcknowledged(t *testing.T, b storage.Backend, reopen ReopenFunc) {
	ctx := t.Context()
	a := PushImage(t, b, "r", nil, []string{"v1", "latest"}, []byte("A"))
	bm := PushImage(t, b, "r", nil, []string{"v2"}, []byte("B"))
	put(t, b, "r", bm, "latest")
	if err := b.DeleteTag(ctx, "r", "v1"); err != nil {
		t.Fatal(err)
	}
	ad := a.Descriptor()
	sig := PushImage(t, b, "r", &ad, nil, []byte("signature"))
	gone := PushImage(t, b, "r", nil, []string{"gone"}, []byte("C"))
	if err := b.DeleteManifest(ctx, "r", gone.Digest); err != nil {
		t.Fatal(err)
	}
	idx := index(t, nil, a.Descriptor(), bm.Descriptor())
	put(t, b, "r", idx, "multi")
	rec := record(t, "record")
	commit(t, b, "r", storage.Txn{
		Put: []*oci.Manifest{rec}, Blobs: [][]byte{emptyConfig.Data}, Tag: map[string]digest.Digest{"rec": rec.Digest},
		Meta: map[digest.Digest]map[string]string{rec.Digest: {"kind": "record"}, a.Digest: {"state": "trusted"}},
	})
	commit(t, b, "r", storage.Txn{Unlink: []digest.Digest{bm.Layers[0].Digest}})
	loose := RandomBytes(200<<10, 61)
	looseDesc := PushBlob(t, b, "r", loose)
	deleted := PushBlob(t, b, "r", []byte("deleted blob"))
	if err := b.DeleteBlob(ctx, "r", deleted.Digest); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.MountBlob(ctx, "mounted", "r", looseDesc.Digest); err != nil || !ok {
		t.Fatalf("mount = %v, %v", ok, err)
	}
	big, err := pushBlob(ctx, b, "s", loose, digest.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, b, "empty", storage.Txn{Create: true})

	check := func(b storage.Backend) {
		t.Helper()
		wantTags(t, b, "r", "latest", "multi", "rec", "v2")
		wantManifest(t, b, "r", "latest", bm)
		wantManifest(t, b, "r", a.Digest.String(), a)
		wantManifest(t, b, "r", "multi", idx)
		wantManifest(t, b, "r", "rec", rec)
		wantUnknown(t, b, "r", "v1")
		wantUnknown(t, b, "r", gone.Digest.String())
		wantReferrers(t, b, "r", a.Digest, referrer(sig))
		wantMeta(t, b, "r", a.Digest, map[string]string{"state": "trusted"})
		wantMeta(t, b, "r", rec.Digest, map[string]string{"kind": "record"})
		wantNoBlob(t, b, "r", bm.Layers[0].Digest)
		wantNoBlob(t, b, "r", deleted.Digest)
		wantBlob(t, b, "r", a.Layers[0].Digest, []byte("A"))
		wantBlob(t, b, "r", looseDesc.Digest, loose)
		wantBlob(t, b, "mounted", looseDesc.Digest, loose)
		wantBlob(t, b, "s", big.Digest, loose)
		wantBlob(t, b, "r", emptyConfig.Digest, emptyConfig.Data)
		WantCode(t, b.DeleteManifest(ctx, "r", a.Digest), oci.CodeDenied) // idx still lists it
		read(t, b, "r", func(v storage.View) {
			if !sameSet(v.Manifests(), []digest.Digest{a.Digest, bm.Digest, sig.Digest, idx.Digest, rec.Digest}) {
				t.Fatalf("manifests = %v", v.Manifests())
			}
		})
		if got, err := b.Repositories(ctx, "", -1); err != nil || len(got) != 4 {
			t.Fatalf("repositories = %q, %v; want empty, mounted, r, s", got, err)
		}
	}
	check(b)
	b = reopen(t, b)
	check(b)
	put(t, b, "r", a, "after")
	if err := b.DeleteTag(ctx, "r", "rec"); err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b)
	wantResolve(t, b, "r", "after", a.Digest)
	wantUnknown(t, b, "r", "rec")
	wantManifest(t, b, "r", rec.Digest.String(), rec)
}

// An upload session with acknowledged chunks resumes after a reopen, where
// it stopped; finished and cancelled sessions stay gone.
func testDurableUploads(t *testing.T, b storage.Backend, reopen ReopenFunc) {
	ctx := t.Context()
	data := RandomBytes(300<<10+7, 62)
	d := digest.FromBytes(data)
	open, _ := b.StartUpload(ctx, "r", "")
	appendChunk(t, b, "r", open.ID, 0, data[:100<<10], 100<<10)
	cancelled, _ := b.StartUpload(ctx, "r", "")
	appendChunk(t, b, "r", cancelled.ID, 0, data[:10], 10)
	if err := b.CancelUpload(ctx, "r", cancelled.ID); err != nil {
		t.Fatal(err)
	}
	finished, _ := b.StartUpload(ctx, "r", "")
	appendChunk(t, b, "r", finished.ID, 0, data[:20], 20)
	if _, err := b.CommitUpload(ctx, "r", finished.ID, -1, nil, digest.FromBytes(data[:20])); err != nil {
		t.Fatal(err)
	}

	b = reopen(t, b)
	for _, id := range []string{cancelled.ID, finished.ID} {
		_, err := b.UploadStatus(ctx, "r", id)
		WantCode(t, err, oci.CodeBlobUploadUnknown)
	}
	wantBlob(t, b, "r", digest.FromBytes(data[:20]), data[:20])
	wantOffset(t, b, "r", open.ID, 100<<10)
	appendChunk(t, b, "r", open.ID, 100<<10, data[100<<10:200<<10], 200<<10)
	b = reopen(t, b)
	wantOffset(t, b, "r", open.ID, 200<<10)
	desc, err := b.CommitUpload(ctx, "r", open.ID, 200<<10, bytes.NewReader(data[200<<10:]), d)
	if err != nil || desc.Size != int64(len(data)) {
		t.Fatalf("commit of a resumed upload = %+v, %v", desc, err)
	}
	wantBlob(t, b, "r", d, data)
}

// What parallel pushes acknowledged is there, consistently, after a reopen.
func testDurablePushes(t *testing.T, b storage.Backend, reopen ReopenFunc) {
	check := parallelPushes(t, b)
	check(t, b)
	check(t, reopen(t, b))
}
