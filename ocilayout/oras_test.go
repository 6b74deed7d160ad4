package ocilayout

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	orasoci "oras.land/oras-go/v2/content/oci"

	"github.com/ai-model-registry/ai-model-registry/storage/storagetest"
)

// packModel builds an artifact (one GGUF-like layer) and a signature that
// refers to it in an oras-go memory store.
func packModel(t *testing.T) (*memory.Store, ocispec.Descriptor, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	src := memory.New()
	layer := content.NewDescriptorFromBytes("application/vnd.example.gguf", storagetest.RandomBytes(256<<10, 3))
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: "model.gguf"}
	if err := src.Push(ctx, layer, bytes.NewReader(storagetest.RandomBytes(256<<10, 3))); err != nil {
		t.Fatal(err)
	}
	model, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.example.model.v1", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, model, "v1"); err != nil {
		t.Fatal(err)
	}
	sig := content.NewDescriptorFromBytes("application/vnd.example.sig", []byte("signature"))
	if err := src.Push(ctx, sig, bytes.NewReader([]byte("signature"))); err != nil {
		t.Fatal(err)
	}
	ref, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.example.signature.v1", oras.PackManifestOptions{Layers: []ocispec.Descriptor{sig}, Subject: &model})
	if err != nil {
		t.Fatal(err)
	}
	return src, model, ref
}

func TestOrasCopyInAndOut(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	src, model, sig := packModel(t)
	dst, err := s.Repository("models/tiny")
	if err != nil {
		t.Fatal(err)
	}
	// ExtendedCopy follows predecessors (the signature) from the source.
	if _, err := oras.ExtendedCopy(ctx, src, "v1", dst, "v1", oras.DefaultExtendedCopyOptions); err != nil {
		t.Fatalf("extended copy into the store: %v", err)
	}
	var got []ocispec.Descriptor
	if err := dst.Referrers(ctx, model, "application/vnd.example.signature.v1", func(r []ocispec.Descriptor) error { got = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Digest != sig.Digest {
		t.Fatalf("referrers after copy = %+v", got)
	}

	// And back out, with the store as the source of predecessors.
	out := memory.New()
	if _, err := oras.ExtendedCopy(ctx, dst, "v1", out, "v1", oras.DefaultExtendedCopyOptions); err != nil {
		t.Fatalf("extended copy out of the store: %v", err)
	}
	for _, d := range []ocispec.Descriptor{model, sig} {
		if ok, err := out.Exists(ctx, d); err != nil || !ok {
			t.Fatalf("%s missing after copy out: %v", d.Digest, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The repository is a plain OCI layout: oras-go's own OCI store reads
	// it offline, tag and all.
	layout, err := orasoci.NewFromFS(ctx, osDirFS(s.LayoutPath("models/tiny")))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := layout.Resolve(ctx, "v1")
	if err != nil || desc.Digest != model.Digest {
		t.Fatalf("offline resolve: %v %v", desc, err)
	}
	body, err := content.FetchAll(ctx, layout, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(body, &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("offline manifest: %v", err)
	}
	if _, err := content.FetchAll(ctx, layout, m.Layers[0]); err != nil {
		t.Fatalf("offline layer fetch: %v", err)
	}
}

func osDirFS(dir string) fs.FS { return os.DirFS(dir) }
