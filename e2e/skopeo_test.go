package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// skopeoInspect is the part of `skopeo inspect` output checked here.
type skopeoInspect struct {
	Digest       string
	RepoTags     []string
	Architecture string
	Os           string
	Layers       []string
}

func TestSkopeo(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo not found: install skopeo (apt-get install -y skopeo)")
	}
	r := startRegistry(t)
	c := newCLI(t)
	manifestDigest, layerDigest, layer := pushImage(t, r, "skopeo/src", "v1")
	src := "docker://" + r.Ref("skopeo/src:v1")
	creds := "--creds=any:" + r.Token

	// Nothing pushed is trusted: an anonymous inspect is refused.
	if res := c.run("skopeo", "inspect", "--tls-verify=false", src); res.Code == 0 && target != "crane" {
		t.Errorf("anonymous skopeo inspect of an acquired image succeeded: %s", res)
	}

	// Inspect with the token: digest, platform, layers, tags.
	var info skopeoInspect
	decodeJSON(t, c.must("skopeo", "inspect", "--tls-verify=false", creds, src), &info)
	if info.Digest != manifestDigest.String() || info.Os != "linux" || info.Architecture != "amd64" ||
		!slices.Equal(info.Layers, []string{layerDigest.String()}) || !slices.Contains(info.RepoTags, "v1") {
		t.Errorf("skopeo inspect %s: %+v, want digest %s, linux/amd64, layers [%s], tag v1", src, info, manifestDigest, layerDigest)
	}
	if raw := c.must("skopeo", "inspect", "--raw", "--tls-verify=false", creds, src); digest.FromString(raw) != manifestDigest {
		t.Errorf("skopeo inspect --raw: digest %s, want %s", digest.FromString(raw), manifestDigest)
	}

	// Registry -> OCI layout -> another repository, digests preserved.
	layout := filepath.Join(t.TempDir(), "layout")
	c.must("skopeo", "copy", "--insecure-policy", "--src-tls-verify=false", "--src-creds", "any:"+r.Token, src, "oci:"+layout+":v1")
	sameFile(t, filepath.Join(layout, "blobs", "sha256", layerDigest.Encoded()), layer)
	dst := "docker://" + r.Ref("skopeo/other:v1")
	c.must("skopeo", "copy", "--insecure-policy", "--preserve-digests", "--dest-tls-verify=false",
		"--dest-creds", "any:"+r.Token, "oci:"+layout+":v1", dst)
	var copied skopeoInspect
	decodeJSON(t, c.must("skopeo", "inspect", "--tls-verify=false", creds, dst), &copied)
	if copied.Digest != manifestDigest.String() || !slices.Equal(copied.Layers, info.Layers) {
		t.Errorf("skopeo inspect %s after the round trip: %+v, want digest %s and layers %v", dst, copied, manifestDigest, info.Layers)
	}
}

// pushImage pushes a linux/amd64 OCI image with one tar+gzip layer as
// repo:tag over raw HTTP, and returns the manifest and layer digests and the
// layer bytes.
func pushImage(t *testing.T, r *registry, repo, tag string) (manifestDigest, layerDigest digest.Digest, layer []byte) {
	t.Helper()
	tarball := tarFiles(t, map[string][]byte{
		"model/README.md":   []byte("# image-shaped model\n"),
		"model/weights.bin": randomBytes(t, 256<<10),
	})
	layer = gzipBytes(t, tarball)
	config, err := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tarball)}},
		History:  []ocispec.History{{CreatedBy: "e2e pushImage"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: r.pushBlob(t, repo, config), Size: int64(len(config))},
		Layers:    []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: r.pushBlob(t, repo, layer), Size: int64(len(layer))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.pushManifest(t, repo, tag, ocispec.MediaTypeImageManifest, manifest), digest.FromBytes(layer), layer
}
