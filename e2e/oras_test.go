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
	// (Flags go last: "manifest fetch" and "blob fetch" are two words.)
	oras := func(args ...string) string {
		return c.must("oras", append(args, "--plain-http", "-u", "any", "-p", r.Token)...)
	}
	anonymous := func(args ...string) string {
		return c.must("oras", append(args, "--plain-http")...)
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
	manifestBytes := []byte(oras("manifest", "fetch", ref))
	if got := digest.FromBytes(manifestBytes).String(); got != pushed.Digest {
		t.Fatalf("oras manifest fetch: digest %s, oras push said %s", got, pushed.Digest)
	}
	var manifest ocispec.Manifest
	decodeJSON(t, string(manifestBytes), &manifest)
	if manifest.ArtifactType != modelType || manifest.Annotations["org.example.stage"] != "e2e" || len(manifest.Layers) != 3 {
		t.Errorf("fetched manifest: artifactType %q, annotations %v, %d layers", manifest.ArtifactType, manifest.Annotations, len(manifest.Layers))
	}

	// Nothing pushed is trusted: an anonymous pull is refused. With the
	// token, pull into a fresh dir: every file byte-identical.
	if target != "crane" {
		if res := c.run("oras", "pull", "--plain-http", "-o", t.TempDir(), ref); res.Code == 0 {
			t.Errorf("anonymous oras pull of an acquired artifact succeeded: %s", res)
		}
	}
	pull := func(who string, run func(...string) string) {
		t.Helper()
		out := t.TempDir()
		run("pull", "-o", out, ref)
		for name, data := range files {
			sameFile(t, filepath.Join(out, name), data)
		}
		// oras blob fetch of the weights layer, to stdout.
		weights := digest.FromBytes(files["model.gguf"])
		blob := run("blob", "fetch", "--output", "-", r.Ref("models/demo@"+weights.String()))
		if !bytes.Equal([]byte(blob), files["model.gguf"]) {
			t.Errorf("oras blob fetch %s %s: got %d bytes (%s)", weights, who, len(blob), digest.FromString(blob))
		}
	}
	pull("with the token", oras)

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

	// discover lists a reference's referrers (digest -> artifact type),
	// apart from the registry's transition records, which it counts.
	discover := func(reference string, args ...string) (found map[string]string, records int) {
		t.Helper()
		var d orasDiscover
		args = append([]string{"discover", "--format", "json", reference}, args...)
		if !slices.Contains(args, "--oci-layout") {
			args = append(args, "--plain-http", "-u", "any", "-p", r.Token, "--distribution-spec", "v1.1-referrers-api")
		}
		decodeJSON(t, c.must("oras", args...), &d)
		found = map[string]string{}
		for _, ref := range d.Referrers {
			if ref.ArtifactType == lcRecordType {
				records++
				continue
			}
			found[ref.Digest] = ref.ArtifactType
		}
		return found, records
	}
	records := 0
	if target != "crane" {
		records = 1 // the acquisition record of the pushed artifact
	}
	if got, n := discover(ref); got[sig] != signatureType || got[sbom] != sbomType || len(got) != 2 || n != records {
		t.Errorf("oras discover: got %v and %d records, want %s=%s and %s=%s and %d records", got, n, sig, signatureType, sbom, sbomType, records)
	}
	if got, n := discover(ref, "--artifact-type", signatureType); got[sig] != signatureType || len(got) != 1 || n != 0 {
		t.Errorf("oras discover --artifact-type %s: got %v and %d records, want only %s", signatureType, got, n, sig)
	}

	// The registry filters itself (oras would otherwise filter client-side).
	path := "/v2/models/demo/referrers/" + pushed.Digest + "?artifactType=" + signatureType
	res := r.do(t, "GET", path, nil, true, nil)
	var index ocispec.Index
	decodeJSON(t, string(res.Body), &index)
	if res.Status != http.StatusOK || res.Header.Get("OCI-Filters-Applied") != "artifactType" ||
		len(index.Manifests) != 1 || index.Manifests[0].Digest.String() != sig || index.Manifests[0].ArtifactType != signatureType {
		t.Errorf("GET %s: %d, OCI-Filters-Applied %q, %s; want 200, artifactType, only %s", path, res.Status, res.Header.Get("OCI-Filters-Applied"), res.Body, sig)
	}

	// Registry -> OCI layout, referrers included: the transition records
	// travel too, so the history can be read offline.
	layout := filepath.Join(t.TempDir(), "layout")
	c.must("oras", "cp", "-r", "--from-plain-http", "--from-username", "any", "--from-password", r.Token, ref, "--to-oci-layout", layout+":v1")
	if got, n := discover(layout+":v1", "--oci-layout"); got[sig] != signatureType || got[sbom] != sbomType || len(got) != 2 || n != records {
		t.Errorf("oras discover in the layout: got %v and %d records, want %s, %s and %d records", got, n, sig, sbom, records)
	}

	// Layout -> another repository. Only the registry writes transition
	// records, so a recursive copy that carries them is refused, clearly;
	// the artifact and its client-made referrers copy fine.
	copyRef := r.Ref("models/copy:v1")
	to := []string{"--to-plain-http", "--to-username", "any", "--to-password", r.Token}
	if target != "crane" {
		res := c.run("oras", append([]string{"cp", "-r", "--from-oci-layout", layout + ":v1", copyRef}, to...)...)
		if res.Code == 0 || !strings.Contains(res.Stderr, "reserved") || !strings.Contains(res.Stderr, lcRecordType) {
			t.Errorf("oras cp -r of transition records into the registry: want DENIED naming %s as reserved, got %s", lcRecordType, res)
		}
	}
	c.must("oras", append([]string{"cp", "--from-oci-layout", layout + ":v1", copyRef}, to...)...)
	for _, d := range []string{sig, sbom} {
		c.must("oras", append([]string{"cp", "--from-oci-layout", layout + "@" + d, r.Ref("models/copy")}, to...)...)
	}
	copied := oras("manifest", "fetch", copyRef)
	if !bytes.Equal([]byte(copied), manifestBytes) {
		t.Errorf("manifest after registry -> layout -> registry: %s, want %s", digest.FromString(copied), pushed.Digest)
	}
	if got, n := discover(copyRef); got[sig] != signatureType || got[sbom] != sbomType || len(got) != 2 || n != records {
		t.Errorf("oras discover on the copy: got %v and %d records, want %s, %s and %d records (its own acquisition)", got, n, sig, sbom, records)
	}
	out2 := t.TempDir()
	oras("pull", "-o", out2, copyRef)
	sameFile(t, filepath.Join(out2, "model.gguf"), files["model.gguf"])

	// Tags: exactly v1 in the source repository (referrers API, so no
	// sha256-<digest> fallback tags).
	tags := strings.Fields(oras("repo", "tags", r.Ref("models/demo")))
	if !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("oras repo tags models/demo: %q, want [v1]", tags)
	}
	if target == "crane" {
		return
	}

	// Promoted through /v1, it is what a runtime may load: anonymous
	// pulls, discover and tag listing work, and the history is visible.
	if res := r.do(t, "POST", "/v1/model/quarantine?name=models/demo:v1", nil, true, nil); res.Status != http.StatusOK {
		t.Fatalf("POST /v1/model/quarantine: %d %s", res.Status, res.Body)
	}
	promote := []byte(`{"name":"models/demo:v1","filename":"model.gguf","sha256":"` + digest.FromBytes(files["model.gguf"]).Encoded() + `"}`)
	if res := r.do(t, "POST", "/v1/model/promote", promote, true, map[string]string{"Content-Type": "application/json"}); res.Status != http.StatusCreated {
		t.Fatalf("POST /v1/model/promote: %d %s", res.Status, res.Body)
	}
	pull("anonymously, once trusted", anonymous)
	var d orasDiscover
	decodeJSON(t, anonymous("discover", "--format", "json", "--distribution-spec", "v1.1-referrers-api", ref), &d)
	found, records, attestations := map[string]string{}, 0, 0
	for _, rf := range d.Referrers {
		switch rf.ArtifactType {
		case lcRecordType:
			records++
		case "application/vnd.dev.sigstore.bundle.v0.3+json":
			attestations++
		default:
			found[rf.Digest] = rf.ArtifactType
		}
	}
	if found[sig] != signatureType || found[sbom] != sbomType || len(found) != 2 || records != 3 || attestations != 1 {
		t.Errorf("anonymous oras discover of the trusted artifact: %v, %d records and %d attestations; want %s, %s, 3 records (acquire, quarantine, promote) and the promotion attestation",
			found, records, attestations, sig, sbom)
	}
	if tags := strings.Fields(anonymous("repo", "tags", r.Ref("models/demo"))); !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("anonymous oras repo tags models/demo: %q, want [v1]", tags)
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %T from %q: %v", v, s, err)
	}
}
