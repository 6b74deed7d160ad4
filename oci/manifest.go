package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/strictjson"
)

// Manifest media types the registry accepts.
const (
	MediaTypeImageManifest      = ocispec.MediaTypeImageManifest
	MediaTypeImageIndex         = ocispec.MediaTypeImageIndex
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// MaxManifestSize is the largest manifest accepted (the spec asks registries
// to support at least 4 MB; the conformance suite pushes ~3.9 MB).
const MaxManifestSize = 4 << 20

// maxJSONDepth bounds nesting so a hostile manifest cannot make the
// validator recurse deeply; real manifests nest four or five levels.
const maxJSONDepth = 64

// Manifest is a validated manifest: its exact bytes and the facts the
// registry needs to store it, check its references and list it as a referrer.
type Manifest struct {
	Body      []byte
	Digest    digest.Digest
	MediaType string // served back as Content-Type
	// ArtifactType is what the referrers API reports: the manifest's
	// artifactType, else (image manifests only) its config media type.
	ArtifactType string
	Annotations  map[string]string
	Subject      *ocispec.Descriptor
	Config       *ocispec.Descriptor
	Layers       []ocispec.Descriptor
	// Blobs must exist in the repository before the manifest is accepted:
	// the config and every distributable layer.
	Blobs []ocispec.Descriptor
	// Children must exist as manifests in the repository (index entries).
	Children []ocispec.Descriptor
}

// IsIndex reports whether the manifest is an image index or manifest list.
func (m *Manifest) IsIndex() bool { return isIndexType(m.MediaType) }

// Descriptor returns the descriptor that points at this manifest.
func (m *Manifest) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Body))}
}

type wireManifest struct {
	SchemaVersion *int                 `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

// ParseManifest validates manifest bytes pushed with contentType and computes
// their digest with algo. It is liberal where real clients differ (no
// top-level mediaType, no artifactType, media types with parameters, data
// fields) and strict where ambiguity could be abused: duplicate JSON keys,
// invalid UTF-8, trailing data, a Content-Type that contradicts the body, a
// manifest that is both an image and an index, and data fields that do not
// match their digest.
func ParseManifest(contentType string, body []byte, algo digest.Algorithm) (*Manifest, error) {
	if len(body) > MaxManifestSize {
		return nil, Errorf(CodeManifestInvalid, "manifest is %d bytes; the limit is %d", len(body), MaxManifestSize).WithStatus(413)
	}
	if !algo.Available() {
		return nil, Errorf(CodeDigestInvalid, "digest algorithm %q is not available", algo)
	}
	if err := checkJSON(body); err != nil {
		return nil, Errorf(CodeManifestInvalid, "manifest is not valid JSON: %v", err)
	}
	var w wireManifest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, Errorf(CodeManifestInvalid, "manifest does not decode: %v", err)
	}
	mt, err := resolveMediaType(contentType, &w)
	if err != nil {
		return nil, err
	}
	if w.SchemaVersion == nil || *w.SchemaVersion != 2 {
		return nil, Errorf(CodeManifestInvalid, "manifest schemaVersion must be 2")
	}
	m := &Manifest{
		Body:         body,
		Digest:       algo.FromBytes(body),
		MediaType:    mt,
		ArtifactType: w.ArtifactType,
		Annotations:  w.Annotations,
	}
	if w.ArtifactType != "" {
		if err := checkMediaType(w.ArtifactType); err != nil {
			return nil, Errorf(CodeManifestInvalid, "artifactType: %v", err)
		}
	}
	if w.Subject != nil {
		if err := checkDescriptor(*w.Subject); err != nil {
			return nil, Errorf(CodeManifestInvalid, "subject: %v", err)
		}
		s := *w.Subject
		m.Subject = &s
	}
	if isIndexType(mt) {
		if w.Config != nil || w.Layers != nil {
			return nil, Errorf(CodeManifestInvalid, "an index cannot have config or layers")
		}
		if w.Manifests == nil {
			return nil, Errorf(CodeManifestInvalid, "an index needs a manifests array (it may be empty)")
		}
		for i, d := range w.Manifests {
			if err := checkDescriptor(d); err != nil {
				return nil, Errorf(CodeManifestInvalid, "manifests[%d]: %v", i, err)
			}
		}
		m.Children = w.Manifests
		return m, nil
	}
	if w.Manifests != nil {
		return nil, Errorf(CodeManifestInvalid, "an image manifest cannot have a manifests array")
	}
	if w.Config == nil {
		return nil, Errorf(CodeManifestInvalid, "an image manifest needs a config descriptor")
	}
	if err := checkDescriptor(*w.Config); err != nil {
		return nil, Errorf(CodeManifestInvalid, "config: %v", err)
	}
	cfg := *w.Config
	m.Config = &cfg
	if m.ArtifactType == "" {
		m.ArtifactType = cfg.MediaType
	}
	m.Blobs = append(m.Blobs, cfg)
	for i, d := range w.Layers {
		if err := checkDescriptor(d); err != nil {
			return nil, Errorf(CodeManifestInvalid, "layers[%d]: %v", i, err)
		}
		if !isNonDistributable(d.MediaType) {
			m.Blobs = append(m.Blobs, d)
		}
	}
	m.Layers = w.Layers
	return m, nil
}

// resolveMediaType decides what the manifest is. The Content-Type header wins
// (KitOps sends no mediaType field), but it must not contradict the body.
func resolveMediaType(contentType string, w *wireManifest) (string, error) {
	ct := ""
	if contentType != "" {
		base, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return "", Errorf(CodeManifestInvalid, "invalid Content-Type %q", truncate(contentType))
		}
		ct = base
	}
	if ct == "application/json" || ct == "application/octet-stream" {
		ct = "" // generic: decide from the body
	}
	switch {
	case ct != "" && !isManifestType(ct):
		return "", Errorf(CodeManifestInvalid, "unsupported manifest media type %q: push an OCI image manifest or index, or a Docker schema 2 manifest or list", truncate(ct))
	case ct != "" && w.MediaType != "" && w.MediaType != ct:
		return "", Errorf(CodeManifestInvalid, "Content-Type %q does not match the manifest's mediaType %q", ct, truncate(w.MediaType))
	case ct != "":
		return ct, nil
	case w.MediaType != "":
		if !isManifestType(w.MediaType) {
			return "", Errorf(CodeManifestInvalid, "unsupported manifest media type %q", truncate(w.MediaType))
		}
		return w.MediaType, nil
	case w.Manifests != nil:
		return MediaTypeImageIndex, nil
	default:
		return MediaTypeImageManifest, nil
	}
}

// IsManifestMediaType reports whether mt is a manifest type the registry stores.
func IsManifestMediaType(mt string) bool { return isManifestType(mt) }

func isManifestType(mt string) bool {
	switch mt {
	case MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList:
		return true
	}
	return false
}

func isIndexType(mt string) bool {
	return mt == MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// isNonDistributable reports layers that registries are not expected to hold
// (OCI non-distributable and Docker foreign layers): their blobs are fetched
// from the descriptor's urls, so they are not required on push.
func isNonDistributable(mt string) bool {
	return strings.Contains(mt, ".nondistributable.") || strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.foreign.")
}

func checkDescriptor(d ocispec.Descriptor) error {
	if err := checkMediaType(d.MediaType); err != nil {
		return err
	}
	if _, err := ParseDigest(string(d.Digest)); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("size %d is negative", d.Size)
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			return fmt.Errorf("data field is %d bytes but size is %d", len(d.Data), d.Size)
		}
		if d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
			return fmt.Errorf("data field does not match digest %s", d.Digest)
		}
	}
	return nil
}

// checkMediaType accepts RFC 6838 types with parameters, because podman
// pushes "text/plain; charset=utf-8" layer types.
func checkMediaType(mt string) error {
	if mt == "" {
		return errors.New("mediaType is empty")
	}
	if len(mt) > 255 {
		return fmt.Errorf("mediaType is longer than 255 bytes")
	}
	if _, _, err := mime.ParseMediaType(mt); err != nil || !strings.Contains(mt, "/") {
		return fmt.Errorf("invalid mediaType %q", truncate(mt))
	}
	return nil
}

// knownFields are the member names the registry decodes from manifests,
// descriptors and platforms. encoding/json matches member names without
// regard to case, while most other parsers are exact, so "Layers" next to
// (or instead of) "layers" would make the registry check one set of blobs
// and a client pull another. A key that case-folds to one of these must be
// spelled exactly.
var knownFields = []string{
	"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations",
	"digest", "size", "urls", "data", "platform",
	"architecture", "os", "os.version", "os.features", "variant", "features",
}

// checkJSON rejects what parsers could read differently: duplicate keys,
// data after the object, deep nesting, and keys that case-fold to a field
// the registry decodes without spelling it exactly (annotation keys are
// free). Duplicate keys matter: parsers disagree on which value wins, so a
// manifest with two "layers" arrays could be validated as one and pulled as
// the other.
func checkJSON(body []byte) error {
	return strictjson.Check(body, maxJSONDepth, func(_ int, parent, key string) error {
		if parent == "annotations" {
			return nil
		}
		for _, f := range knownFields {
			if key != f && strings.EqualFold(key, f) {
				return fmt.Errorf("key %q must be spelled %q", truncate(key), f)
			}
		}
		return nil
	})
}
