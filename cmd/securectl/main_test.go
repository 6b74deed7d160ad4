package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ai-model-registry/ai-model-registry/ocilayout"
	"github.com/ai-model-registry/ai-model-registry/registry"
)

// TestStatusAndList runs the CLI against the real handler and store.
func TestStatusAndList(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	store, err := ocilayout.Open(ctx, ocilayout.Config{Dir: filepath.Join(dir, "data"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tokPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokPath, []byte(strings.Repeat("c", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := registry.LoadAuth(registry.TokenConfig{Path: tokPath}, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := registry.New(registry.Config{Backend: store, Auth: auth, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	src := memory.New()
	layer := content.NewDescriptorFromBytes("application/vnd.example.gguf", []byte("GGUF"))
	_ = src.Push(ctx, layer, bytes.NewReader([]byte("GGUF")))
	man, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.example.model.v1", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := store.Repository("models/tiny")
	if err := oras.CopyGraph(ctx, src, dst, man, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatal(err)
	}
	if err := dst.Tag(ctx, man, "v1"); err != nil {
		t.Fatal(err)
	}

	t.Setenv("REGISTRY_URL", srv.URL)
	t.Setenv("SERVICE_TOKEN_PATH", tokPath)
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"status"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "status: ok") {
		t.Fatalf("status: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(ctx, []string{"list"}, &out, &errb); code != 0 {
		t.Fatalf("list: %d %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "models/tiny") || !strings.Contains(out.String(), man.Digest.String()[:19]) {
		t.Fatalf("list output:\n%s", out.String())
	}
	if code := run(ctx, []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown verb exit code %d", code)
	}
}
