package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// Every promotion leaves a signed attestation: a SLSA verification summary
// (provenance.BuildStatement) in a Sigstore bundle, stored as an OCI
// referrer of the model manifest in the same storage transaction as the
// promote record, so a promotion and its attestation exist together or not
// at all.

// annMadeBy marks a manifest the registry wrote whose artifactType is not
// one of ours (the attestation's is Sigstore's): like records, it is born
// trusted and is never an artifact. Clients cannot push keys under Prefix.
const annMadeBy = Prefix + "made-by"

const madeByRegistry = "registry"

// attachment is what a transition stores beside its record, in the same
// transaction: a manifest and the blobs it needs (the empty config is
// always stored).
type attachment struct {
	manifest *oci.Manifest
	blobs    [][]byte
}

// promotionFacts is what a promotion's attestation says beyond the
// transition itself: the policy decision and the evidence it relied on.
type promotionFacts struct {
	decision       decisionRef
	inputs         []digest.Digest // scanner-result referrers the decision used
	scanResults    map[string]string
	scanVersions   map[string]string
	tensorManifest digest.Digest
	source         string
	sourceRevision string
}

// decisionRef names the policy that allowed a promotion.
type decisionRef struct {
	uri     string
	version string
	digest  digest.Digest
}

// attest signs the attestation of promotion p of r; nil when the registry
// has no signing key (then REQUIRE_SIGNED_PROVENANCE cannot be on).
func (s *Service) attest(ctx context.Context, r ref, p plannedTransition, f *promotionFacts) (*attachment, error) {
	if s.keys == nil || f == nil {
		return nil, nil
	}
	prom := &provenance.Promotion{
		Subject:           r.digest,
		Repository:        r.repo,
		VerifierID:        s.verifierID,
		VerifierVersion:   s.version,
		Time:              p.at,
		PolicyURI:         f.decision.uri,
		PolicyDigest:      f.decision.digest,
		Result:            provenance.ResultPassed,
		Levels:            []string{provenance.StageLevel(string(Trusted))},
		InputAttestations: f.inputs,
		Actor:             p.who,
		From:              string(p.from),
		To:                string(p.to),
		PolicyVersion:     f.decision.version,
		ScanResults:       f.scanResults,
		ScannerVersions:   f.scanVersions,
		TensorManifest:    f.tensorManifest,
		Source:            f.source,
		SourceRevision:    f.sourceRevision,
	}
	stmt, err := provenance.BuildStatement(prom)
	if err != nil {
		return nil, fmt.Errorf("build the promotion attestation: %w", err)
	}
	bundle, err := provenance.SignBundle(ctx, stmt, s.keys.Current())
	if err != nil {
		return nil, fmt.Errorf("sign the promotion attestation: %w", err)
	}
	rm := provenance.ReferrerManifest(p.subject, bundle, provenance.PredicateVSA, p.at)
	rm.Annotations[annMadeBy] = madeByRegistry
	body, err := json.Marshal(rm)
	if err != nil {
		return nil, err
	}
	m, err := oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
	if err != nil {
		return nil, fmt.Errorf("the promotion attestation's referrer: %w", err)
	}
	return &attachment{manifest: m, blobs: [][]byte{bundle}}, nil
}

// Provenance is the state of an artifact's promotion attestation, as
// POST /v1/model/verify reports it.
type Provenance struct {
	// Status: "verified" (a promotion attestation of this manifest verifies
	// with the registry's keys), "missing" (none is stored), "invalid"
	// (one or more are stored and none verifies).
	Status        string `json:"status"`
	Required      bool   `json:"required"`
	KeyID         string `json:"key_id,omitempty"`
	Attestation   string `json:"attestation,omitempty"` // digest of the referrer manifest
	PolicyVersion string `json:"policy_version,omitempty"`
	Error         string `json:"error,omitempty"`
}

// Provenance statuses.
const (
	ProvenanceVerified = "verified"
	ProvenanceMissing  = "missing"
	ProvenanceInvalid  = "invalid"
)

// provenanceCache remembers verification outcomes. An outcome depends only
// on immutable inputs — the manifest digest, the bundle's digest and the
// keyring, which only grows while the registry runs — so entries never go
// stale; the map is cleared when full to bound memory.
type provenanceCache struct {
	mu sync.Mutex
	m  map[[2]digest.Digest]bundleOutcome
}

type bundleOutcome struct {
	keyID, policyVersion, err string
}

const maxProvenanceCache = 1 << 14

func (c *provenanceCache) get(k [2]digest.Digest) (bundleOutcome, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.m[k]
	return o, ok
}

func (c *provenanceCache) put(k [2]digest.Digest, o bundleOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxProvenanceCache {
		c.m = map[[2]digest.Digest]bundleOutcome{}
	}
	c.m[k] = o
}

// provenance checks the promotion attestations stored as referrers of r:
// the first that verifies (signature by a key of the registry's keyring,
// subject r's manifest, a passed VSA recording a move to trusted) makes it
// verified.
func (s *Service) provenance(ctx context.Context, r ref) Provenance {
	out := Provenance{Status: ProvenanceMissing, Required: s.requireProvenance}
	if s.keys == nil {
		out.Error = "this registry has no signing keys"
		return out
	}
	type candidate struct{ ref, bundle digest.Digest }
	var cands []candidate
	_ = s.store.Read(ctx, r.repo, func(v storage.View) error {
		for _, d := range v.Referrers(r.digest) {
			m, ok := v.Manifest(d)
			if !ok || len(m.Layers) != 1 || !provenance.IsBundleReferrer(ocispec.Descriptor{ArtifactType: m.ArtifactType, Annotations: m.Annotations}, provenance.PredicateVSA) {
				continue
			}
			cands = append(cands, candidate{d, m.Layers[0].Digest})
		}
		return nil
	})
	for _, c := range cands {
		k := [2]digest.Digest{r.digest, c.bundle}
		o, ok := s.provCache.get(k)
		if !ok {
			o = s.verifyBundle(ctx, r, c.bundle)
			if ctx.Err() != nil {
				out.Status, out.Error = ProvenanceInvalid, ctx.Err().Error()
				return out
			}
			s.provCache.put(k, o)
		}
		if o.err == "" {
			return Provenance{Status: ProvenanceVerified, Required: s.requireProvenance, KeyID: o.keyID, Attestation: c.ref.String(), PolicyVersion: o.policyVersion}
		}
		out.Status, out.Attestation, out.Error = ProvenanceInvalid, c.ref.String(), o.err
	}
	return out
}

func (s *Service) verifyBundle(ctx context.Context, r ref, bundle digest.Digest) bundleOutcome {
	rc, size, err := s.store.OpenBlob(ctx, r.repo, bundle)
	if err != nil {
		return bundleOutcome{err: "the attestation's bundle cannot be read: " + err.Error()}
	}
	defer rc.Close()
	if size > provenance.MaxBundleSize {
		return bundleOutcome{err: fmt.Sprintf("the attestation's bundle is %d bytes, more than %d", size, provenance.MaxBundleSize)}
	}
	b, err := io.ReadAll(io.LimitReader(rc, provenance.MaxBundleSize+1))
	if err != nil {
		return bundleOutcome{err: "the attestation's bundle cannot be read: " + err.Error()}
	}
	v, err := provenance.VerifyBundle(ctx, b, s.keys, r.digest, provenance.PredicateVSA)
	if err != nil {
		return bundleOutcome{err: err.Error()}
	}
	sum := v.Summary
	if sum == nil || sum.VerificationResult != provenance.ResultPassed || sum.Promotion == nil || sum.Promotion.To != string(Trusted) {
		return bundleOutcome{err: "the attestation does not record a passed promotion to trusted"}
	}
	return bundleOutcome{keyID: v.KeyID, policyVersion: sum.Promotion.PolicyVersion}
}

// servableProvenance is the runtime gate: when signed provenance is
// required, a trusted artifact is served only with a verified attestation.
func (s *Service) servableProvenance(ctx context.Context, r ref) error {
	if !s.requireProvenance {
		return nil
	}
	p := s.provenance(ctx, r)
	if p.Status == ProvenanceVerified {
		return nil
	}
	msg := "no promotion attestation is stored"
	if p.Status == ProvenanceInvalid {
		msg = "its promotion attestation does not verify: " + p.Error
	}
	return errorf(KindForbidden, "artifact %s in %s is trusted but %s; REQUIRE_SIGNED_PROVENANCE is on, so it is not served (promote it again to attest it)", r.digest, r.repo, msg)
}
