package provenance

import (
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// How a bundle is stored as an OCI 1.1 referrer of the model manifest, per
// sigstore/cosign specs/BUNDLE_SPEC.md: an image manifest with
// artifactType BundleMediaType, the empty config, one layer holding the
// bundle JSON, subject = the model manifest, and ReferrerAnnotations.
const (
	// ArtifactType is the referrer manifest's artifactType.
	ArtifactType = BundleMediaType
	// LayerMediaType is the media type of the layer holding the bundle.
	LayerMediaType = BundleMediaType

	AnnotationBundleContent       = "dev.sigstore.bundle.content"
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	// BundleContentDSSE is the AnnotationBundleContent value for a DSSE
	// envelope (the other value cosign knows is "message-signature").
	BundleContentDSSE = "dsse-envelope"
)

// ReferrerAnnotations returns the manifest annotations of a bundle
// referrer: content kind, predicate type and creation time (RFC 3339, UTC).
// The referrers API copies them into the index, so a client can pick the
// promotion attestation without fetching every bundle.
func ReferrerAnnotations(predicateType string, created time.Time) map[string]string {
	return map[string]string{
		AnnotationBundleContent:       BundleContentDSSE,
		AnnotationBundlePredicateType: predicateType,
		ocispec.AnnotationCreated:     created.UTC().Format(time.RFC3339),
	}
}

// BundleTitle is the layer's org.opencontainers.image.title:
// "<algorithm>-<hex>.sigstore.json" of the bundle blob's own digest (not the
// subject's), so `oras pull` saves each bundle under a distinct name.
func BundleTitle(bundleDigest digest.Digest) string {
	return bundleDigest.Algorithm().String() + "-" + bundleDigest.Encoded() + ".sigstore.json"
}

// BundleLayer returns the layer descriptor of a bundle blob: media type,
// sha256 digest, size and title annotation.
func BundleLayer(bundle []byte) ocispec.Descriptor {
	d := digest.SHA256.FromBytes(bundle)
	return ocispec.Descriptor{
		MediaType:   LayerMediaType,
		Digest:      d,
		Size:        int64(len(bundle)),
		Annotations: map[string]string{ocispec.AnnotationTitle: BundleTitle(d)},
	}
}

// ReferrerManifest returns the image manifest that attaches bundle to
// subject (the model manifest's descriptor) the way cosign does: the empty
// config, the bundle as the only layer, ReferrerAnnotations. The caller
// pushes the empty config blob ("{}") and the bundle blob before the
// manifest.
func ReferrerManifest(subject ocispec.Descriptor, bundle []byte, predicateType string, created time.Time) ocispec.Manifest {
	return ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		// Without the inline data DescriptorEmptyJSON carries: cosign
		// leaves it out, and it would only repeat the two bytes.
		Config: ocispec.Descriptor{
			MediaType: ocispec.DescriptorEmptyJSON.MediaType,
			Digest:    ocispec.DescriptorEmptyJSON.Digest,
			Size:      ocispec.DescriptorEmptyJSON.Size,
		},
		Layers:      []ocispec.Descriptor{BundleLayer(bundle)},
		Subject:     &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: ReferrerAnnotations(predicateType, created),
	}
}

// IsBundleReferrer reports whether a referrers-index entry is a Sigstore
// bundle with the given predicate type, judged by its artifactType and
// annotations. It is a filter only: the bundle must still pass
// VerifyBundle.
func IsBundleReferrer(desc ocispec.Descriptor, predicateType string) bool {
	return desc.ArtifactType == ArtifactType &&
		desc.Annotations[AnnotationBundleContent] == BundleContentDSSE &&
		desc.Annotations[AnnotationBundlePredicateType] == predicateType
}
