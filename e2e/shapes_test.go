package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// shape is a manifest as one AI-model client writes it, with its blobs.
type shape struct {
	manifest []byte
	blobs    map[digest.Digest][]byte
}

// shapeBuilder collects blobs while a shape's descriptors are made.
type shapeBuilder map[digest.Digest][]byte

func (b shapeBuilder) desc(mediaType string, data []byte, annotations map[string]string) ocispec.Descriptor {
	d := digest.FromBytes(data)
	b[d] = data
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data)), Annotations: annotations}
}

// TestClientShapedManifests pushes manifests shaped exactly as podman,
// KitOps and ModelPack (current and legacy) write them, and checks that
// each comes back byte for byte, with the pushed Content-Type, to a client
// holding the token (anonymous callers get 401: nothing pushed is trusted).
func TestClientShapedManifests(t *testing.T) {
	r := startRegistry(t)
	weights := append([]byte("GGUF\x03\x00\x00\x00"), randomBytes(t, 512<<10)...)
	readme := []byte("# tiny model\n\nShaped like real clients' pushes.\n")

	shapes := map[string]shape{
		"podman":    podmanShape(t, weights, readme),
		"kitops":    kitopsShape(t, weights, readme),
		"modelpack": modelPackShape(t, "cncf", weights, readme),
		"cnai":      modelPackShape(t, "cnai", weights, readme),
	}
	for name, s := range shapes {
		t.Run(name, func(t *testing.T) {
			repo := "shapes/" + name
			for _, data := range s.blobs {
				r.pushBlob(t, repo, data)
			}
			dgst := r.pushManifest(t, repo, "v1", ocispec.MediaTypeImageManifest, s.manifest)
			accept := map[string]string{"Accept": ocispec.MediaTypeImageManifest + ", " + ocispec.MediaTypeImageIndex}
			for _, ref := range []string{"v1", dgst.String()} {
				path := "/v2/" + repo + "/manifests/" + ref
				if anon := r.do(t, "GET", path, nil, false, accept); anon.Status != http.StatusUnauthorized && target != "crane" {
					t.Errorf("anonymous GET %s of an acquired artifact: %d, want 401", path, anon.Status)
				}
				get := r.do(t, "GET", path, nil, true, accept)
				if get.Status != http.StatusOK || !bytes.Equal(get.Body, s.manifest) {
					t.Errorf("GET %s: status %d, body %s, want 200 and the %d pushed bytes:\n%s", path, get.Status, get.Body, len(s.manifest), s.manifest)
				}
				head := r.do(t, "HEAD", path, nil, true, accept)
				for _, res := range []httpResult{get, head} {
					if ct := res.Header.Get("Content-Type"); ct != ocispec.MediaTypeImageManifest {
						t.Errorf("%s: Content-Type %q, want %q", path, ct, ocispec.MediaTypeImageManifest)
					}
					if got := res.Header.Get("Docker-Content-Digest"); got != dgst.String() {
						t.Errorf("%s: Docker-Content-Digest %q, want %s", path, got, dgst)
					}
				}
				if head.Status != http.StatusOK || head.Header.Get("Content-Length") != strconv.Itoa(len(s.manifest)) {
					t.Errorf("HEAD %s: status %d, Content-Length %q, want 200 and %d", path, head.Status, head.Header.Get("Content-Length"), len(s.manifest))
				}
			}
			for d, data := range s.blobs {
				path := "/v2/" + repo + "/blobs/" + d.String()
				if res := r.do(t, "GET", path, nil, true, nil); res.Status != http.StatusOK || !bytes.Equal(res.Body, data) {
					t.Errorf("GET %s: status %d, %d bytes (%s), want 200 and %d bytes", path, res.Status, len(res.Body), digest.FromBytes(res.Body), len(data))
				}
			}
		})
	}

	// oras pull of the podman artifact writes its titled files.
	out := t.TempDir()
	newCLI(t).must("oras", "pull", "--plain-http", "-u", "any", "-p", r.Token, "-o", out, r.Ref("shapes/podman:v1"))
	sameFile(t, filepath.Join(out, "README.md"), readme)
	sameFile(t, filepath.Join(out, "model.gguf"), weights)
}

// podmanShape is `podman artifact add` (5.x) without --type: empty config
// with inline data, no artifactType, sniffed layer media types, titles.
func podmanShape(t *testing.T, weights, readme []byte) shape {
	b := shapeBuilder{}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    b.desc(ocispec.MediaTypeEmptyJSON, []byte("{}"), nil),
		Layers: []ocispec.Descriptor{
			b.desc("text/plain; charset=utf-8", readme, map[string]string{ocispec.AnnotationTitle: "README.md"}),
			b.desc("application/octet-stream", weights, map[string]string{ocispec.AnnotationTitle: "model.gguf"}),
		},
	}
	m.Config.Data = []byte("{}") // serialised as "data":"e30="
	return shape{manifest: marshal(t, m, false), blobs: b}
}

// kitopsShape is a KitOps ModelKit: no top-level mediaType, no artifactType,
// the Kitfile as config, uncompressed tar layers without annotations.
func kitopsShape(t *testing.T, weights, readme []byte) shape {
	b := shapeBuilder{}
	model := tarFiles(t, map[string][]byte{"model.gguf": weights})
	docs := tarFiles(t, map[string][]byte{"README.md": readme})
	kitfile := marshal(t, map[string]any{
		"manifestVersion": "1.0.0",
		"package":         map[string]any{"name": "tiny", "version": "1.0.0", "authors": []string{"e2e"}},
		"model": map[string]any{"name": "tiny", "path": "model.gguf", "format": "gguf",
			"digest": digest.FromBytes(model), "diffId": digest.FromBytes(model)},
		"docs": []map[string]any{{"path": "README.md", "digest": digest.FromBytes(docs), "diffId": digest.FromBytes(docs)}},
	}, false)
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		Config:    b.desc("application/vnd.kitops.modelkit.config.v1+json", kitfile, nil),
		Layers: []ocispec.Descriptor{
			b.desc("application/vnd.kitops.modelkit.model.v1.tar", model, nil),
			b.desc("application/vnd.kitops.modelkit.docs.v1.tar", docs, nil),
		},
		Annotations: map[string]string{"ml.kitops.modelkit.cli-version": "1.7.0"},
	}
	return shape{manifest: marshal(t, m, false), blobs: b}
}

// modelPackShape is a CNCF ModelPack artifact; ns "cnai" gives the legacy
// (model-spec <= v0.0.6) media types and annotations. Its manifest is
// indented, to check that the registry keeps bytes, not a re-encoding.
func modelPackShape(t *testing.T, ns string, weights, readme []byte) shape {
	b := shapeBuilder{}
	prefix := "application/vnd." + ns + ".model."
	filepathKey := "org." + ns + ".model.filepath"
	config := marshal(t, map[string]any{
		"descriptor": map[string]any{"name": "tiny", "version": "1.0.0", "licenses": []string{"Apache-2.0"}},
		"config":     map[string]any{"architecture": "llama", "format": "gguf", "paramSize": "1M"},
		"modelfs":    map[string]any{"type": "layers", "diffIds": []digest.Digest{digest.FromBytes(weights), digest.FromBytes(readme)}},
	}, false)
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: prefix + "manifest.v1+json",
		Config:       b.desc(prefix+"config.v1+json", config, nil),
		Layers: []ocispec.Descriptor{
			b.desc(prefix+"weight.v1.raw", weights, map[string]string{
				filepathKey: "model.gguf",
				"org." + ns + ".model.file.metadata+json":      `{"name":"model.gguf","mode":420,"uid":0,"gid":0,"size":` + strconv.Itoa(len(weights)) + `,"mtime":"2025-07-21T00:00:00Z","typeflag":48}`,
				"org." + ns + ".model.file.mediatype.untested": "true",
			}),
			b.desc(prefix+"doc.v1.raw", readme, map[string]string{filepathKey: "README.md"}),
		},
	}
	return shape{manifest: marshal(t, m, true), blobs: b}
}

func marshal(t *testing.T, v any, indent bool) []byte {
	t.Helper()
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}
