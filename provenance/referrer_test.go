package provenance

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

func TestReferrerManifest(t *testing.T) {
	bundle := mustSign(t, mustKey(t), mustStatement(t, testPromotion()))
	subject := ocispec.Descriptor{
		MediaType:   ocispec.MediaTypeImageManifest,
		Digest:      testSubject,
		Size:        1234,
		Annotations: map[string]string{"not": "copied"},
	}
	created := time.Date(2025, 3, 8, 19, 18, 20, 406e6, time.FixedZone("", 3600))
	m := ReferrerManifest(subject, bundle, PredicateVSA, created)
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}

	// The registry's own manifest parser takes it as a referrer of the
	// subject, with what the referrers API will list.
	pm, err := oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
	if err != nil {
		t.Fatalf("ParseManifest: %v\n%s", err, body)
	}
	if pm.ArtifactType != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("artifactType = %q", pm.ArtifactType)
	}
	if pm.Subject == nil || pm.Subject.Digest != testSubject || pm.Subject.Size != 1234 || pm.Subject.Annotations != nil {
		t.Errorf("subject = %+v", pm.Subject)
	}
	if pm.Config.MediaType != "application/vnd.oci.empty.v1+json" || pm.Config.Size != 2 || pm.Config.Digest != digest.FromString("{}") || pm.Config.Data != nil {
		t.Errorf("config = %+v", pm.Config)
	}
	wantAnn := map[string]string{
		"dev.sigstore.bundle.content":       "dsse-envelope",
		"dev.sigstore.bundle.predicateType": "https://slsa.dev/verification_summary/v1",
		"org.opencontainers.image.created":  "2025-03-08T18:18:20Z",
	}
	if !reflect.DeepEqual(pm.Annotations, wantAnn) {
		t.Errorf("annotations = %v, want %v", pm.Annotations, wantAnn)
	}

	bd := digest.FromBytes(bundle)
	wantLayer := ocispec.Descriptor{
		MediaType:   "application/vnd.dev.sigstore.bundle.v0.3+json",
		Digest:      bd,
		Size:        int64(len(bundle)),
		Annotations: map[string]string{"org.opencontainers.image.title": "sha256-" + bd.Encoded() + ".sigstore.json"},
	}
	if len(pm.Layers) != 1 || !reflect.DeepEqual(pm.Layers[0], wantLayer) {
		t.Errorf("layers = %+v, want [%+v]", pm.Layers, wantLayer)
	}

	entry := ocispec.Descriptor{ArtifactType: pm.ArtifactType, Annotations: pm.Annotations}
	if !IsBundleReferrer(entry, PredicateVSA) {
		t.Error("IsBundleReferrer rejects the referrer's index entry")
	}
	for name, e := range map[string]ocispec.Descriptor{
		"other predicate": entry,
		"other artifact":  {ArtifactType: "application/json", Annotations: pm.Annotations},
		"no annotations":  {ArtifactType: pm.ArtifactType},
		"message signature": {ArtifactType: pm.ArtifactType, Annotations: map[string]string{
			AnnotationBundleContent: "message-signature", AnnotationBundlePredicateType: PredicateVSA,
		}},
	} {
		pt := PredicateVSA
		if name == "other predicate" {
			pt = "https://slsa.dev/provenance/v1"
		}
		if IsBundleReferrer(e, pt) {
			t.Errorf("IsBundleReferrer accepts %s", name)
		}
	}
}

func TestBundleTitle(t *testing.T) {
	d := digest.Digest("sha512:ab")
	if got := BundleTitle(d); got != "sha512-ab.sigstore.json" {
		t.Errorf("BundleTitle = %q", got)
	}
}
