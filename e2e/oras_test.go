package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	modelType     = "application/vnd.example.model.v1"
	signatureType = "application/vnd.example.signature.v1"
	sbomType      = "application/vnd.example.sbom.v1"
)

// orasOutput is what oras push/attach --format json print.
type orasOutput struct {
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// orasDiscover is what oras discover --format json prints.
type orasDiscover struct {
	Digest    string `json:"digest"`
	Referrers []struct {
		Digest       string `json:"digest"`
		ArtifactType string `json:"artifactType"`
	} `json:"referrers"`
}

func TestOras(t *testing.T) {
	r := startRegistry(t)
	c := newCLI(t)
	// oras runs an oras subcommand against the registry with credentials.
	oras := func(sub string, args ...string) string {
		return c.must("oras", append([]string{sub, "--plain-http", "-u", "any", "-p", r.Token}, args...)...)
	}
	ref := r.Ref("models/demo:v1")

	// A GGUF-like weight file, a JSON config and a README, pushed from c.Dir
	// so the titles are the bare file names.
	files := map[string][]byte{
		"model.gguf":  append([]byte("GGUF\x03\x00\x00\x00"), randomBytes(t, 3<<20)...),
		"config.json": []byte(`{"architecture":"llama","context_length":4096}` + "\n"),
		"README.md":   []byte("# demo model\n\nFor end-to-end tests.\n"),
	}
	for name, data := range files {
		writeFile(t, c.Dir, name, data)
	}
	var pushed orasOutput
	decodeJSON(t, oras("push", "--format", "json",
		"--artifact-type", modelType, "--annotation", "org.example.stage=e2e", ref,
		"model.gguf:application/vnd.example.gguf.v3", "config.json:application/json", "README.md"), &pushed)
	if pushed.ArtifactType != modelType || pushed.Annotations["org.example.stage"] != "e2e" {
		t.Errorf("oras push output: artifactType %q, annotations %v", pushed.ArtifactType, pushed.Annotations)
	}

	// The manifest as stored: exact digest, artifact type, annotation, layers.
	manifestBytes := []byte(c.must("oras", "manifest", "fetch", "--plain-http", ref))
	if got := digest.FromBytes(manifestBytes).String(); got != pushed.Digest {
		t.Fatalf("oras manifest fetch: digest %s, oras push said %s", got, pushed.Digest)
	}
	var manifest ocispec.Manifest
	decodeJSON(t, string(manifestBytes), &manifest)
	if manifest.ArtifactType != modelType || manifest.Annotations["org.example.stage"] != "e2e" || len(manifest.Layers) != 3 {
		t.Errorf("fetched manifest: artifactType %q, annotations %v, %d layers", manifest.ArtifactType, manifest.Annotations, len(manifest.Layers))
	}

	// Pull anonymously into a fresh dir: every file byte-identical.
	out := t.TempDir()
	c.must("oras", "pull", "--plain-http", "-o", out, ref)
	for name, data := range files {
		sameFile(t, filepath.Join(out, name), data)
	}

	// oras blob fetch of the weights layer, to stdout.
	weights := digest.FromBytes(files["model.gguf"])
	blob := c.must("oras", "blob", "fetch", "--plain-http", "--output", "-", r.Ref("models/demo@"+weights.String()))
	if !bytes.Equal([]byte(blob), files["model.gguf"]) {
		t.Errorf("oras blob fetch %s: got %d bytes (%s)", weights, len(blob), digest.FromString(blob))
	}

	// Two referrers of different types, through the referrers API.
	attach := func(artifactType, name string, data []byte) string {
		writeFile(t, c.Dir, name, data)
		var o orasOutput
		decodeJSON(t, oras("attach", "--format", "json", "--distribution-spec", "v1.1-referrers-api",
			"--artifact-type", artifactType, ref, name), &o)
		return o.Digest
	}
	sig := attach(signatureType, "model.sig", randomBytes(t, 256))
	sbom := attach(sbomType, "sbom.json", []byte(`{"spdxVersion":"SPDX-2.3"}`))

	discover := func(reference string, args ...string) map[string]string {
		var d orasDiscover
		decodeJSON(t, c.must("oras", append([]string{"discover", "--plain-http", "--format", "json",
			"--distribution-spec", "v1.1-referrers-api", reference}, args...)...), &d)
		found := map[string]string{} // digest -> artifact type
		for _, ref := range d.Referrers {
			found[ref.Digest] = ref.ArtifactType
		}
		return found
	}
	if got := discover(ref); got[sig] != signatureType || got[sbom] != sbomType || len(got) != 2 {
		t.Errorf("oras discover: got %v, want %s=%s and %s=%s", got, sig, signatureType, sbom, sbomType)
	}
	if got := discover(ref, "--artifact-type", signatureType); got[sig] != signatureType || len(got) != 1 {
		t.Errorf("oras discover --artifact-type %s: got %v, want only %s", signatureType, got, sig)
	}

	// The registry filters itself (oras would otherwise filter client-side).
	path := "/v2/models/demo/referrers/" + pushed.Digest + "?artifactType=" + signatureType
	res := r.do(t, "GET", path, nil, false, nil)
	var index ocispec.Index
	decodeJSON(t, string(res.Body), &index)
	if res.Status != http.StatusOK || res.Header.Get("OCI-Filters-Applied") != "artifactType" ||
		len(index.Manifests) != 1 || index.Manifests[0].Digest.String() != sig || index.Manifests[0].ArtifactType != signatureType {
		t.Errorf("GET %s: %d, OCI-Filters-Applied %q, %s; want 200, artifactType, only %s", path, res.Status, res.Header.Get("OCI-Filters-Applied"), res.Body, sig)
	}

	// Registry -> OCI layout -> another repository, referrers included.
	layout := filepath.Join(t.TempDir(), "layout")
	c.must("oras", "cp", "-r", "--from-plain-http", ref, "--to-oci-layout", layout+":v1")
	copyRef := r.Ref("models/copy:v1")
	c.must("oras", "cp", "-r", "--from-oci-layout", layout+":v1",
		"--to-plain-http", "--to-username", "any", "--to-password", r.Token, copyRef)
	copied := c.must("oras", "manifest", "fetch", "--plain-http", copyRef)
	if !bytes.Equal([]byte(copied), manifestBytes) {
		t.Errorf("manifest after registry -> layout -> registry: %s, want %s", digest.FromString(copied), pushed.Digest)
	}
	if got := discover(copyRef); got[sig] != signatureType || got[sbom] != sbomType {
		t.Errorf("oras discover on the copy: got %v, want %s and %s", got, sig, sbom)
	}
	out2 := t.TempDir()
	c.must("oras", "pull", "--plain-http", "-o", out2, copyRef)
	sameFile(t, filepath.Join(out2, "model.gguf"), files["model.gguf"])

	// Tags: exactly v1 in the source repository (referrers API, so no
	// sha256-<digest> fallback tags).
	tags := strings.Fields(c.must("oras", "repo", "tags", "--plain-http", r.Ref("models/demo")))
	if !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("oras repo tags models/demo: %q, want [v1]", tags)
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %T from %q: %v", v, s, err)
	}
}
