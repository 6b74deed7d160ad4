package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types real clients push.
const (
	mtEmpty       = "application/vnd.oci.empty.v1+json"
	mtLayerTar    = "application/vnd.oci.image.layer.v1.tar"
	mtLayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtImageConfig = "application/vnd.oci.image.config.v1+json"
	mtNonDist     = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	mtDockerCfg   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtDockerFgn   = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mtKitConfig   = "application/vnd.kitops.modelkit.config.v1+json"
	mtKitModel    = "application/vnd.kitops.modelkit.model.v1.tar"
	mtModelPack   = "application/vnd.cncf.model.manifest.v1+json"
	mtMPConfig    = "application/vnd.cncf.model.config.v1+json"
	mtMPWeight    = "application/vnd.cncf.model.weight.v1.raw"
	mtTextPlain   = "text/plain; charset=utf-8"
)

// emptyJSON is the OCI empty descriptor's digest: sha256 of "{}".
const emptyJSON = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

// desc renders a descriptor of content with extra raw JSON members.
func desc(mt, content string, extra ...string) string {
	s := fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d`, mt, digest.FromString(content), len(content))
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// emptyConfig is the empty config as podman and oras push it, with data.
const emptyConfig = `{"mediaType":"` + mtEmpty + `","digest":"` + emptyJSON + `","size":2,"data":"e30="}`

// image renders an image manifest with the given extra top-level members.
func image(config string, layers []string, extra ...string) string {
	s := `{"schemaVersion":2`
	for _, e := range extra {
		s += "," + e
	}
	return s + `,"config":` + config + `,"layers":[` + strings.Join(layers, ",") + `]}`
}

func index(children []string, extra ...string) string {
	s := `{"schemaVersion":2`
	for _, e := range extra {
		s += "," + e
	}
	return s + `,"manifests":[` + strings.Join(children, ",") + `]}`
}

func mediaTypeField(mt string) string { return fmt.Sprintf(`"mediaType":%q`, mt) }

func digestsOf(ds []ocispec.Descriptor) []digest.Digest {
	out := make([]digest.Digest, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	return out
}

func dg(content string) digest.Digest { return digest.FromString(content) }

func TestParseManifestAcceptsRealClients(t *testing.T) {
	subject := desc(MediaTypeImageManifest, "the subject")
	platform := `"platform":{"architecture":"amd64","os":"linux"}`
	tests := []struct {
		name         string
		contentType  string
		body         string
		wantType     string
		wantArtifact string
		wantBlobs    []digest.Digest
		wantChildren []digest.Digest
		wantSubject  digest.Digest
	}{
		{
			name:        "podman 5 artifact: empty config with data, no artifactType, text/plain layer",
			contentType: MediaTypeImageManifest,
			body: image(emptyConfig,
				[]string{desc(mtTextPlain, "hello\n", `"annotations":{"org.opencontainers.image.title":"hello.txt"}`)},
				mediaTypeField(MediaTypeImageManifest)),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtEmpty, // falls back to the config media type
			wantBlobs:    []digest.Digest{emptyJSON, dg("hello\n")},
		},
		{
			name:         "KitOps: no top-level mediaType, Content-Type says it",
			contentType:  MediaTypeImageManifest,
			body:         image(desc(mtKitConfig, `{"model":{}}`), []string{desc(mtKitModel, "weights")}),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtKitConfig,
			wantBlobs:    []digest.Digest{dg(`{"model":{}}`), dg("weights")},
		},
		{
			name:        "ModelPack artifactType and config",
			contentType: MediaTypeImageManifest,
			body: image(desc(mtMPConfig, `{"descriptor":{}}`), []string{desc(mtMPWeight, "w1"), desc(mtMPWeight, "w2")},
				mediaTypeField(MediaTypeImageManifest), `"artifactType":"`+mtModelPack+`"`),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtModelPack,
			wantBlobs:    []digest.Digest{dg(`{"descriptor":{}}`), dg("w1"), dg("w2")},
		},
		{
			name:        "oras artifact with an empty layer",
			contentType: MediaTypeImageManifest,
			body: image(emptyConfig, []string{desc(mtLayerTar, "")},
				mediaTypeField(MediaTypeImageManifest), `"artifactType":"application/vnd.example.thing"`),
			wantType:     MediaTypeImageManifest,
			wantArtifact: "application/vnd.example.thing",
			wantBlobs:    []digest.Digest{emptyJSON, dg("")},
		},
		{
			name:         "OCI index: no artifactType fallback",
			contentType:  MediaTypeImageIndex,
			body:         index([]string{desc(MediaTypeImageManifest, "m1", platform), desc(MediaTypeImageManifest, "m2")}, mediaTypeField(MediaTypeImageIndex)),
			wantType:     MediaTypeImageIndex,
			wantArtifact: "",
			wantChildren: []digest.Digest{dg("m1"), dg("m2")},
		},
		{
			name:         "OCI index with artifactType",
			contentType:  MediaTypeImageIndex,
			body:         index([]string{desc(MediaTypeImageManifest, "m1")}, `"artifactType":"application/vnd.example.bundle"`),
			wantType:     MediaTypeImageIndex,
			wantArtifact: "application/vnd.example.bundle",
			wantChildren: []digest.Digest{dg("m1")},
		},
		{
			name:        "empty OCI index",
			body:        index(nil, mediaTypeField(MediaTypeImageIndex)),
			wantType:    MediaTypeImageIndex,
			wantSubject: "",
		},
		{
			name:         "Docker schema 2 manifest",
			contentType:  MediaTypeDockerManifest,
			body:         image(desc(mtDockerCfg, "cfg"), []string{desc(mtDockerLayer, "l1")}, mediaTypeField(MediaTypeDockerManifest)),
			wantType:     MediaTypeDockerManifest,
			wantArtifact: mtDockerCfg,
			wantBlobs:    []digest.Digest{dg("cfg"), dg("l1")},
		},
		{
			name:        "Docker manifest list",
			contentType: MediaTypeDockerManifestList,
			body: index([]string{desc(MediaTypeDockerManifest, "amd64", platform), desc(MediaTypeDockerManifest, "arm64", `"platform":{"architecture":"arm64","os":"linux","variant":"v8"}`)},
				mediaTypeField(MediaTypeDockerManifestList)),
			wantType:     MediaTypeDockerManifestList,
			wantChildren: []digest.Digest{dg("amd64"), dg("arm64")},
		},
		{
			name:        "non-distributable and foreign layers are not required blobs",
			contentType: MediaTypeImageManifest,
			body: image(desc(mtImageConfig, "cfg"), []string{
				desc(mtLayerGzip, "base"),
				desc(mtNonDist, "windows base", `"urls":["https://example.com/layer"]`),
				desc(mtDockerFgn, "foreign", `"urls":["https://example.com/foreign"]`),
				desc(mtLayerGzip, "top"),
			}),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg"), dg("base"), dg("top")},
		},
		{
			name:        "unknown extra fields everywhere",
			contentType: MediaTypeImageManifest,
			body: image(desc(mtImageConfig, "cfg", `"x-vendor":{"nested":[1,2,{"k":null}]}`),
				[]string{desc(mtLayerGzip, "l", `"futureField":true`)},
				`"x-extension":"value"`, `"notes":[{"a":1},{"a":2}]`),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg"), dg("l")},
		},
		{
			name:         "subject (a referrer)",
			contentType:  MediaTypeImageManifest,
			body:         image(emptyConfig, []string{desc("application/vnd.example.sbom", "sbom")}, `"artifactType":"application/vnd.example.sbom"`, `"subject":`+subject),
			wantType:     MediaTypeImageManifest,
			wantArtifact: "application/vnd.example.sbom",
			wantBlobs:    []digest.Digest{emptyJSON, dg("sbom")},
			wantSubject:  dg("the subject"),
		},
		{
			name:         "Content-Type with parameters",
			contentType:  MediaTypeImageManifest + "; charset=utf-8",
			body:         image(desc(mtImageConfig, "cfg"), nil, mediaTypeField(MediaTypeImageManifest)),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg")},
		},
		{
			name:         "generic Content-Type: the body's mediaType decides",
			contentType:  "application/json",
			body:         image(desc(mtDockerCfg, "cfg"), nil, mediaTypeField(MediaTypeDockerManifest)),
			wantType:     MediaTypeDockerManifest,
			wantArtifact: mtDockerCfg,
			wantBlobs:    []digest.Digest{dg("cfg")},
		},
		{
			name:         "octet-stream Content-Type, no mediaType, manifests array: an index",
			contentType:  "application/octet-stream",
			body:         index([]string{desc(MediaTypeImageManifest, "m")}),
			wantType:     MediaTypeImageIndex,
			wantChildren: []digest.Digest{dg("m")},
		},
		{
			name:         "no Content-Type, no mediaType: an image manifest",
			body:         image(desc(mtImageConfig, "cfg"), []string{desc(mtLayerGzip, "l")}),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg"), dg("l")},
		},
		{
			name:         "layers absent altogether",
			contentType:  MediaTypeImageManifest,
			body:         `{"schemaVersion":2,"config":` + desc(mtImageConfig, "cfg") + `}`,
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg")},
		},
		{
			name:         "data field matching a non-empty blob",
			contentType:  MediaTypeImageManifest,
			body:         image(desc(mtImageConfig, "cfg", `"data":"Y2Zn"`), nil),
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg")},
		},
		{
			name:         "whitespace and escapes",
			contentType:  MediaTypeImageManifest,
			body:         "\n\t " + strings.Replace(image(desc(mtImageConfig, "cfg"), nil, `"annotations":{"k":"caf\u00e9 \"q\" <html>"}`), `"schemaVersion"`, `"schema\u0056ersion"`, 1) + " \r\n",
			wantType:     MediaTypeImageManifest,
			wantArtifact: mtImageConfig,
			wantBlobs:    []digest.Digest{dg("cfg")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			m, err := ParseManifest(tt.contentType, body, digest.SHA256)
			if err != nil {
				t.Fatalf("ParseManifest rejected a manifest real clients push: %v\n%s", err, tt.body)
			}
			if m.MediaType != tt.wantType {
				t.Errorf("MediaType = %q, want %q", m.MediaType, tt.wantType)
			}
			if m.ArtifactType != tt.wantArtifact {
				t.Errorf("ArtifactType = %q, want %q", m.ArtifactType, tt.wantArtifact)
			}
			if got := digestsOf(m.Blobs); !slices.Equal(got, tt.wantBlobs) {
				t.Errorf("Blobs = %v, want %v", got, tt.wantBlobs)
			}
			if got := digestsOf(m.Children); !slices.Equal(got, tt.wantChildren) {
				t.Errorf("Children = %v, want %v", got, tt.wantChildren)
			}
			switch {
			case tt.wantSubject == "" && m.Subject != nil:
				t.Errorf("Subject = %v, want none", m.Subject.Digest)
			case tt.wantSubject != "" && (m.Subject == nil || m.Subject.Digest != tt.wantSubject):
				t.Errorf("Subject = %v, want %v", m.Subject, tt.wantSubject)
			}
			if want := digest.FromBytes(body); m.Digest != want {
				t.Errorf("Digest = %s, want %s (of the exact bytes)", m.Digest, want)
			}
			if string(m.Body) != tt.body {
				t.Errorf("Body was not kept byte for byte")
			}
			if m.IsIndex() != isIndexType(tt.wantType) {
				t.Errorf("IsIndex() = %v for %s", m.IsIndex(), tt.wantType)
			}
			d := m.Descriptor()
			if d.Digest != m.Digest || d.Size != int64(len(body)) || d.MediaType != m.MediaType {
				t.Errorf("Descriptor() = %+v, inconsistent with the manifest", d)
			}
			if m.IsIndex() && (m.Config != nil || len(m.Blobs) != 0) {
				t.Errorf("an index has Config %v / Blobs %v", m.Config, m.Blobs)
			}
			if !m.IsIndex() && (m.Config == nil || m.Config.Digest != m.Blobs[0].Digest) {
				t.Errorf("Config %v is not the first required blob %v", m.Config, m.Blobs)
			}
		})
	}
}

func TestParseManifestKeepsDescriptorDetails(t *testing.T) {
	body := image(emptyConfig, []string{desc(mtTextPlain, "x", `"annotations":{"org.opencontainers.image.title":"x.txt"}`)},
		`"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}`, `"subject":`+desc(MediaTypeImageManifest, "s"))
	m, err := ParseManifest(MediaTypeImageManifest, []byte(body), digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Annotations["org.opencontainers.image.created"]; got != "2024-01-01T00:00:00Z" {
		t.Errorf("manifest annotation = %q", got)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != mtTextPlain || m.Layers[0].Annotations["org.opencontainers.image.title"] != "x.txt" {
		t.Errorf("Layers = %+v", m.Layers)
	}
	if string(m.Config.Data) != "{}" || m.Config.Size != 2 {
		t.Errorf("Config = %+v, want the empty config with its data", m.Config)
	}
	if m.Subject == nil || m.Subject.Size != 1 || m.Subject.MediaType != MediaTypeImageManifest {
		t.Errorf("Subject = %+v", m.Subject)
	}
}

func TestParseManifestDigestAlgorithm(t *testing.T) {
	body := []byte(image(desc(mtImageConfig, "cfg"), nil))
	for _, algo := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		m, err := ParseManifest(MediaTypeImageManifest, body, algo)
		if err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		if m.Digest.Algorithm() != algo || m.Digest != algo.FromBytes(body) {
			t.Errorf("%s: Digest = %s, want %s", algo, m.Digest, algo.FromBytes(body))
		}
	}
	// An algorithm that is not linked in is DIGEST_INVALID, not a panic.
	_, err := ParseManifest(MediaTypeImageManifest, body, digest.Algorithm("md5"))
	wantCode(t, err, CodeDigestInvalid, http.StatusBadRequest)

	// A sha512 descriptor inside is fine too.
	cfg := fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":3,"data":"Y2Zn"}`, mtImageConfig, digest.SHA512.FromString("cfg"))
	if _, err := ParseManifest(MediaTypeImageManifest, []byte(image(cfg, nil)), digest.SHA256); err != nil {
		t.Errorf("sha512 descriptor with matching data rejected: %v", err)
	}
}

// nested returns a JSON value nested depth arrays deep.
func nested(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }

func TestParseManifestRejectsHostile(t *testing.T) {
	cfg := desc(mtImageConfig, "cfg")
	layer := desc(mtLayerGzip, "l")
	otherLayer := desc(mtLayerGzip, "other")
	valid := image(cfg, []string{layer}, mediaTypeField(MediaTypeImageManifest))
	huge := image(cfg, []string{layer}, `"annotations":{"pad":"`+strings.Repeat("x", MaxManifestSize)+`"}`)

	tests := []struct {
		name        string
		contentType string
		body        string
		status      int // 400 unless set
	}{
		// Ambiguous JSON.
		{name: "duplicate top-level key", body: `{"schemaVersion":2,"schemaVersion":2,"config":` + cfg + `,"layers":[]}`},
		{name: "duplicate layers arrays", body: `{"schemaVersion":2,"config":` + cfg + `,"layers":[` + layer + `],"layers":[` + otherLayer + `]}`},
		{name: "duplicate key in config", body: image(`{"mediaType":"`+mtImageConfig+`","digest":"`+string(dg("a"))+`","digest":"`+string(dg("b"))+`","size":1}`, nil)},
		{name: "duplicate key in a layer", body: image(cfg, []string{desc(mtLayerGzip, "l", `"size":99`)})},
		{name: "duplicate annotation", body: image(cfg, nil, `"annotations":{"a":"1","a":"2"}`)},
		{name: "duplicate key deep in an unknown field", body: image(cfg, nil, `"x":[{"y":[{"z":1,"z":2}]}]`)},
		{name: "duplicate key spelled with an escape", body: `{"schemaVersion":2,"config":` + cfg + `,"layers":[],"l\u0061yers":[` + layer + `]}`},
		{name: "invalid UTF-8 in a value", body: image(cfg, nil, "\"annotations\":{\"a\":\"\xff\xfe\"}")},
		{name: "invalid UTF-8 in a key", body: image(cfg, nil, "\"\xc3\x28\":1")},
		{name: "overlong UTF-8 encoding", body: image(cfg, nil, "\"annotations\":{\"a\":\"\xc0\xaf\"}")},
		{name: "trailing object", body: valid + `{}`},
		{name: "trailing garbage", body: valid + ` x`},
		{name: "trailing second manifest", body: valid + "\n" + valid},
		{name: "trailing NUL", body: valid + "\x00"},
		{name: "truncated", body: valid[:len(valid)-1]},
		{name: "empty body", body: ``},
		{name: "whitespace only", body: " \n"},
		{name: "top-level array", body: `[` + valid + `]`},
		{name: "top-level string", body: `"manifest"`},
		{name: "top-level null", body: `null`},
		{name: "single quotes", body: `{'schemaVersion':2}`},
		{name: "comment", body: `{/* c */"schemaVersion":2,"config":` + cfg + `}`},
		{name: "non-string key", body: `{2:2}`},

		// Schema.
		{name: "schemaVersion 1", body: strings.Replace(valid, `"schemaVersion":2`, `"schemaVersion":1`, 1)},
		{name: "schemaVersion 3", body: strings.Replace(valid, `"schemaVersion":2`, `"schemaVersion":3`, 1)},
		{name: "schemaVersion missing", body: strings.Replace(valid, `"schemaVersion":2,`, ``, 1)},
		{name: "schemaVersion null", body: strings.Replace(valid, `"schemaVersion":2`, `"schemaVersion":null`, 1)},
		{name: "schemaVersion string", body: strings.Replace(valid, `"schemaVersion":2`, `"schemaVersion":"2"`, 1)},
		{name: "schemaVersion float", body: strings.Replace(valid, `"schemaVersion":2`, `"schemaVersion":2.5`, 1)},
		{name: "Docker schema 1 signed", contentType: "application/vnd.docker.distribution.manifest.v1+prettyjws", body: `{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}`},

		// Media types.
		{name: "Content-Type contradicts body mediaType", contentType: MediaTypeImageIndex, body: valid},
		{name: "Docker Content-Type, OCI body", contentType: MediaTypeDockerManifest, body: valid},
		{name: "unsupported Content-Type", contentType: "application/vnd.example.thing+json", body: image(cfg, nil)},
		{name: "unsupported body mediaType", body: image(cfg, nil, mediaTypeField("application/vnd.example.thing+json"))},
		{name: "body mediaType with parameters", body: image(cfg, nil, mediaTypeField(MediaTypeImageManifest+"; charset=utf-8"))},
		{name: "config media type as manifest type", contentType: mtImageConfig, body: image(cfg, nil)},
		{name: "malformed Content-Type", contentType: "application/vnd.oci.image.manifest.v1+json; =", body: image(cfg, nil)},
		{name: "invalid artifactType", contentType: MediaTypeImageManifest, body: image(cfg, nil, `"artifactType":"not a media type"`)},

		// Shape.
		{name: "image with a manifests array", contentType: MediaTypeImageManifest, body: image(cfg, nil, `"manifests":[]`)},
		{name: "layers and manifests, no mediaType", body: image(cfg, []string{layer}, `"manifests":[`+desc(MediaTypeImageManifest, "m")+`]`)},
		{name: "layers and manifests, index mediaType", body: index([]string{desc(MediaTypeImageManifest, "m")}, mediaTypeField(MediaTypeImageIndex), `"layers":[`+layer+`]`)},
		{name: "index with config", contentType: MediaTypeImageIndex, body: index(nil, `"config":`+cfg)},
		{name: "index with empty layers", contentType: MediaTypeImageIndex, body: index(nil, `"layers":[]`)},
		{name: "index without manifests", contentType: MediaTypeImageIndex, body: `{"schemaVersion":2}`},
		{name: "Docker list with config", contentType: MediaTypeDockerManifestList, body: index(nil, `"config":`+cfg)},
		{name: "image without config", contentType: MediaTypeImageManifest, body: `{"schemaVersion":2,"layers":[` + layer + `]}`},
		{name: "image with null config", contentType: MediaTypeImageManifest, body: `{"schemaVersion":2,"config":null,"layers":[]}`},
		{name: "layers is an object", contentType: MediaTypeImageManifest, body: `{"schemaVersion":2,"config":` + cfg + `,"layers":{}}`},

		// Descriptors.
		{name: "data does not match digest", body: image(`{"mediaType":"`+mtEmpty+`","digest":"`+string(dg("xx"))+`","size":2,"data":"e30="}`, nil)},
		{name: "data does not match size", body: image(`{"mediaType":"`+mtEmpty+`","digest":"`+emptyJSON+`","size":3,"data":"e30="}`, nil)},
		{name: "data is not base64", body: image(`{"mediaType":"`+mtEmpty+`","digest":"`+emptyJSON+`","size":2,"data":"{}"}`, nil)},
		{name: "data mismatch in a layer", body: image(cfg, []string{desc(mtLayerGzip, "l", `"data":"bQ=="`)})},
		{name: "negative size", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"` + string(dg("l")) + `","size":-1}`})},
		{name: "size is a string", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"` + string(dg("l")) + `","size":"1"}`})},
		{name: "size overflows int64", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"` + string(dg("l")) + `","size":99999999999999999999}`})},
		{name: "fractional size", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"` + string(dg("l")) + `","size":1.5}`})},
		{name: "uppercase layer digest", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"` + strings.ToUpper(string(dg("l"))) + `","size":1}`})},
		{name: "md5 config digest", body: image(`{"mediaType":"`+mtImageConfig+`","digest":"md5:d41d8cd98f00b204e9800998ecf8427e","size":0}`, nil)},
		{name: "traversal in layer digest", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"sha256:../../../../etc/passwd","size":1}`})},
		{name: "missing layer digest", body: image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","size":1}`})},
		{name: "missing layer mediaType", body: image(cfg, []string{`{"digest":"` + string(dg("l")) + `","size":1}`})},
		{name: "invalid layer mediaType", body: image(cfg, []string{desc("gzip", "l")})},
		{name: "overlong layer mediaType", body: image(cfg, []string{desc("application/"+strings.Repeat("x", 300), "l")})},
		{name: "bad subject digest", body: image(cfg, nil, `"subject":{"mediaType":"`+MediaTypeImageManifest+`","digest":"sha256:abc","size":1}`)},
		{name: "bad index child digest", contentType: MediaTypeImageIndex, body: index([]string{`{"mediaType":"` + MediaTypeImageManifest + `","digest":"sha256:` + strings.Repeat("g", 64) + `","size":1}`})},
		{name: "negative index child size", contentType: MediaTypeImageIndex, body: index([]string{`{"mediaType":"` + MediaTypeImageManifest + `","digest":"` + string(dg("m")) + `","size":-5}`})},
		{name: "annotation value not a string", body: image(cfg, nil, `"annotations":{"a":1}`)},

		// Resource limits.
		{name: "nested beyond the depth cap", body: image(cfg, nil, `"x":`+nested(maxJSONDepth+1))},
		{name: "very deeply nested", body: image(cfg, nil, `"x":`+nested(100000))},
		{name: "deeply nested objects", body: image(cfg, nil, `"x":`+strings.Repeat(`{"a":`, 200)+`1`+strings.Repeat(`}`, 200))},
		{name: "over 4 MiB", contentType: MediaTypeImageManifest, body: huge, status: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(tt.contentType, []byte(tt.body), digest.SHA256)
			status := tt.status
			if status == 0 {
				status = http.StatusBadRequest
			}
			if err == nil {
				t.Fatalf("ParseManifest accepted a hostile manifest (%s, %d blobs)\n%s", m.MediaType, len(m.Blobs), truncate(tt.body))
			}
			wantCode(t, err, CodeManifestInvalid, status)
			if m != nil {
				t.Errorf("ParseManifest returned a manifest with its error")
			}
		})
	}
}

// TestParseManifestCaseFoldedDuplicateKeys: encoding/json matches object
// keys to struct fields case-insensitively (with Unicode folding: "ſ" is
// "s", "K" is "k"), so "layers" and "Layers" are the same field to the
// registry while case-sensitive parsers (most other languages, Go's
// json/v2) read only the exact spelling. A manifest with both could be
// validated with one set of layers and pulled with the other: exactly the
// ambiguity the duplicate-key check exists to refuse.
func TestParseManifestCaseFoldedDuplicateKeys(t *testing.T) {
	cfg := desc(mtImageConfig, "cfg")
	verified := desc(mtLayerGzip, "pushed and verified")
	unverified := desc(mtLayerGzip, "never pushed")
	tests := []struct{ name, body string }{
		{"layers and Layers", `{"schemaVersion":2,"config":` + cfg + `,"layers":[` + unverified + `],"Layers":[` + verified + `]}`},
		{"layers and LAYERS", `{"schemaVersion":2,"config":` + cfg + `,"layers":[` + unverified + `],"LAYERS":[` + verified + `]}`},
		{"layers and layerſ (U+017F folds to s)", `{"schemaVersion":2,"config":` + cfg + `,"layers":[` + unverified + `],"layerſ":[` + verified + `]}`},
		{"config and Config", `{"schemaVersion":2,"config":` + desc(mtImageConfig, "other") + `,"Config":` + cfg + `,"layers":[]}`},
		{"digest and Digest in a layer", image(cfg, []string{`{"mediaType":"` + mtLayerGzip + `","digest":"` + string(dg("never pushed")) + `","size":12,"Digest":"` + string(dg("pushed and verified")) + `"}`})},
		{"mediaType and MediaType", `{"schemaVersion":2,"mediaType":"` + MediaTypeImageIndex + `","MediaType":"` + MediaTypeImageManifest + `","config":` + cfg + `,"layers":[]}`},
		{"subject and Subject", image(cfg, nil, `"subject":`+desc(MediaTypeImageManifest, "a"), `"Subject":`+desc(MediaTypeImageManifest, "b"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(MediaTypeImageManifest, []byte(tt.body), digest.SHA256)
			if err == nil {
				t.Fatalf("accepted a manifest whose keys differ only in case; the registry checked blobs %v, a case-sensitive client reads others\n%s",
					digestsOf(m.Blobs), tt.body)
			}
			wantCode(t, err, CodeManifestInvalid, http.StatusBadRequest)
		})
	}
}

func TestParseManifestDepthCap(t *testing.T) {
	cfg := desc(mtImageConfig, "cfg")
	// The manifest object is depth 1, so an unknown top-level field can
	// nest maxJSONDepth-1 more levels.
	ok := image(cfg, nil, `"x":`+nested(maxJSONDepth-1))
	if _, err := ParseManifest(MediaTypeImageManifest, []byte(ok), digest.SHA256); err != nil {
		t.Errorf("nesting at the cap rejected: %v", err)
	}
	deep := image(cfg, nil, `"x":`+nested(maxJSONDepth))
	_, err := ParseManifest(MediaTypeImageManifest, []byte(deep), digest.SHA256)
	wantCode(t, err, CodeManifestInvalid, http.StatusBadRequest)
}

func TestParseManifestSizeLimit(t *testing.T) {
	cfg := desc(mtImageConfig, "cfg")
	base := image(cfg, nil, `"annotations":{"pad":""}`)
	pad := func(total int) []byte {
		b := image(cfg, nil, `"annotations":{"pad":"`+strings.Repeat("x", total-len(base))+`"}`)
		if len(b) != total {
			t.Fatalf("test setup: built %d bytes, want %d", len(b), total)
		}
		return []byte(b)
	}
	if _, err := ParseManifest(MediaTypeImageManifest, pad(MaxManifestSize), digest.SHA256); err != nil {
		t.Errorf("a manifest of exactly %d bytes was rejected: %v", MaxManifestSize, err)
	}
	_, err := ParseManifest(MediaTypeImageManifest, pad(MaxManifestSize+1), digest.SHA256)
	wantCode(t, err, CodeManifestInvalid, http.StatusRequestEntityTooLarge)
}

func TestIsManifestMediaType(t *testing.T) {
	for _, mt := range []string{MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList} {
		if !IsManifestMediaType(mt) {
			t.Errorf("IsManifestMediaType(%q) = false", mt)
		}
	}
	for _, mt := range []string{"", mtImageConfig, "application/json", MediaTypeImageManifest + "; charset=utf-8", "application/vnd.docker.distribution.manifest.v1+prettyjws"} {
		if IsManifestMediaType(mt) {
			t.Errorf("IsManifestMediaType(%q) = true", mt)
		}
	}
}

// FuzzParseManifest: ParseManifest never panics; what it accepts is
// internally consistent and reproducible; what it refuses is a spec error.
// Seeds are in testdata/fuzz/FuzzParseManifest.
func FuzzParseManifest(f *testing.F) {
	f.Add(MediaTypeImageManifest, []byte(image(emptyConfig, []string{desc(mtTextPlain, "hi")})), false)
	f.Add("", []byte(index([]string{desc(MediaTypeImageManifest, "m")})), true)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, useSHA512 bool) {
		algo := digest.SHA256
		if useSHA512 {
			algo = digest.SHA512
		}
		m, err := ParseManifest(contentType, body, algo)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != CodeManifestInvalid || (oe.Status != 400 && oe.Status != 413) {
				t.Fatalf("rejection is not MANIFEST_INVALID 400/413: %#v", err)
			}
			if m != nil {
				t.Fatalf("a manifest was returned with the error %v", err)
			}
			return
		}
		if len(body) > MaxManifestSize || !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted %d bytes that are oversize, not UTF-8 or not JSON", len(body))
		}
		if want := algo.FromBytes(body); m.Digest != want {
			t.Fatalf("Digest = %s, want %s", m.Digest, want)
		}
		if !IsManifestMediaType(m.MediaType) {
			t.Fatalf("MediaType %q is not one of the four manifest types", m.MediaType)
		}
		for _, d := range append(slices.Clone(m.Blobs), m.Children...) {
			if _, err := ParseDigest(string(d.Digest)); err != nil {
				t.Fatalf("descriptor with invalid digest %q accepted: %v", d.Digest, err)
			}
			if d.Size < 0 {
				t.Fatalf("descriptor %s with negative size %d accepted", d.Digest, d.Size)
			}
		}
		if m.Subject != nil {
			if _, err := ParseDigest(string(m.Subject.Digest)); err != nil || m.Subject.Size < 0 {
				t.Fatalf("invalid subject %+v accepted", m.Subject)
			}
		}
		if m.IsIndex() {
			if m.Config != nil || len(m.Blobs) != 0 || len(m.Layers) != 0 {
				t.Fatalf("an index with config/blobs/layers was accepted")
			}
		} else if m.Config == nil || len(m.Children) != 0 || len(m.Blobs) == 0 || m.Blobs[0].Digest != m.Config.Digest {
			t.Fatalf("an image manifest without config or with children was accepted")
		}
		again, err := ParseManifest(contentType, body, algo)
		if err != nil {
			t.Fatalf("re-parsing the same bytes failed: %v", err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("re-parsing the same bytes gave a different result:\n%+v\n%+v", m, again)
		}
	})
}
