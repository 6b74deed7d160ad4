package e2e

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCrane(t *testing.T) {
	r := startRegistry(t)
	c := newCLI(t)
	crane := func(args ...string) string {
		return strings.TrimSpace(c.must("crane", append(args, "--insecure")...))
	}

	writeFile(t, c.Dir, "small.tar.gz", gzipBytes(t, tarFiles(t, map[string][]byte{"README": []byte("small\n")})))

	// Without credentials a push is refused.
	if target != "crane" {
		res := c.run("crane", "append", "--insecure", "--oci-empty-base", "-f", "small.tar.gz", "-t", r.Ref("crane/denied:v1"))
		if res.Code == 0 || !strings.Contains(res.Stderr, "UNAUTHORIZED") && !strings.Contains(res.Stderr, "401") {
			t.Errorf("crane append without login: want a 401 failure, got %s", res)
		}
	}
	c.must("crane", "auth", "login", r.Addr, "-u", "any", "-p", r.Token)

	// An image built by crane: an empty OCI base plus one tar+gzip layer.
	layer := gzipBytes(t, tarFiles(t, map[string][]byte{"model/weights.bin": randomBytes(t, 1<<20)}))
	writeFile(t, c.Dir, "layer.tar.gz", layer)
	baseRef := r.Ref("crane/base:v1")
	appended := crane("append", "--oci-empty-base", "-f", "layer.tar.gz", "-t", baseRef)
	_, baseDigest, _ := strings.Cut(appended, "@")
	if got := crane("digest", baseRef); got != baseDigest {
		t.Fatalf("crane digest %s = %q, crane append printed %q", baseRef, got, appended)
	}
	manifestBytes := crane("manifest", baseRef)
	if got := digest.FromString(manifestBytes).String(); got != baseDigest {
		t.Errorf("crane manifest %s hashes to %s, want %s", baseRef, got, baseDigest)
	}
	var manifest ocispec.Manifest
	decodeJSON(t, manifestBytes, &manifest)
	if manifest.MediaType != ocispec.MediaTypeImageManifest || len(manifest.Layers) != 1 || manifest.Layers[0].Digest != digest.FromBytes(layer) {
		t.Fatalf("manifest of %s: %s, want one layer %s", baseRef, manifestBytes, digest.FromBytes(layer))
	}

	// Copy to another repository (a cross-repository blob mount for crane).
	copyRef := r.Ref("crane/copy:v1")
	crane("copy", baseRef, copyRef)
	if got := crane("digest", copyRef); got != baseDigest {
		t.Errorf("crane digest %s = %s, want the source's %s", copyRef, got, baseDigest)
	}
	blob := c.must("crane", "blob", "--insecure", r.Ref("crane/copy@"+manifest.Layers[0].Digest.String()))
	if !bytes.Equal([]byte(blob), layer) {
		t.Errorf("crane blob of the copied layer: %d bytes (%s), want %d (%s)", len(blob), digest.FromString(blob), len(layer), digest.FromBytes(layer))
	}

	// An index of two crane-built images, copied whole.
	otherRef := r.Ref("crane/other:v1")
	crane("append", "--oci-empty-base", "-f", "small.tar.gz", "-t", otherRef)
	indexRef := r.Ref("crane/index:v1")
	crane("index", "append", "-m", baseRef, "-m", otherRef, "-t", indexRef)
	indexDigest := crane("digest", indexRef)
	crane("copy", indexRef, r.Ref("crane/index-copy:v1"))
	if got := crane("digest", r.Ref("crane/index-copy:v1")); got != indexDigest {
		t.Errorf("copied index digest %s, want %s", got, indexDigest)
	}
	if got := crane("index", "list", r.Ref("crane/index-copy:v1")); !strings.Contains(got, baseDigest) {
		t.Errorf("crane index list of the copy does not list %s:\n%s", baseDigest, got)
	}

	// Tags and catalog.
	crane("tag", copyRef, "v2")
	if got := strings.Fields(crane("ls", r.Ref("crane/copy"))); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("crane ls crane/copy: %q, want [v1 v2]", got)
	}
	catalog := strings.Fields(crane("catalog", r.Addr))
	for _, repo := range []string{"crane/base", "crane/copy", "crane/other", "crane/index", "crane/index-copy"} {
		if !slices.Contains(catalog, repo) {
			t.Errorf("crane catalog %q lacks %s", catalog, repo)
		}
	}
	if slices.Contains(catalog, "crane/denied") {
		t.Errorf("crane catalog lists crane/denied, whose push was refused")
	}
}
