package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/modelformat"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
	"github.com/ai-model-registry/ai-model-registry/tensormanifest"
)

// Annotations of a tensor-manifest referrer: which layer it describes and
// the fingerprint shown in the artifact JSON, so neither needs a blob read.
const (
	annTensorLayer       = Prefix + "tensor.layer"
	annTensorFile        = Prefix + "tensor.file"
	annTensorFingerprint = Prefix + "tensor.fingerprint"
)

// tensorQueue feeds the background worker that computes per-tensor
// manifests after an artifact arrives.
const tensorQueue = 4096

// Fingerprint is the summary of a tensor manifest shown as
// gguf_guard_fingerprint (the predecessor's keys where they fit).
type Fingerprint struct {
	Format         string `json:"format"`
	FileHash       string `json:"file_hash"`
	StructureHash  string `json:"structure_hash"`
	MetadataHash   string `json:"metadata_hash"`
	MerkleRoot     string `json:"merkle_root"`
	Architecture   string `json:"architecture,omitempty"`
	QuantType      string `json:"quant_type,omitempty"`
	TensorCount    int    `json:"tensor_count"`
	ParameterCount uint64 `json:"parameter_count"`
	FileSize       int64  `json:"file_size"`
	Version        uint32 `json:"version,omitempty"`
}

func fingerprintOf(m *tensormanifest.Manifest) Fingerprint {
	return Fingerprint{Format: m.Format, FileHash: m.FileHash, StructureHash: m.StructureHash, MetadataHash: m.MetadataHash,
		MerkleRoot: m.MerkleRoot, Architecture: m.Architecture, QuantType: m.QuantType, TensorCount: m.TensorCount,
		ParameterCount: m.Parameters, FileSize: m.FileSize, Version: m.GGUFVersion}
}

// enqueueTensors asks the worker to compute the manifests of an artifact.
func (s *Service) enqueueTensors(r ref) {
	select {
	case s.tensors <- r:
	default:
		s.log.Warn("per-tensor manifest queue is full; the manifest will be computed at the next start", "repository", r.repo, "digest", r.digest)
	}
}

// RunTensorWorker computes missing per-tensor manifests until ctx ends:
// first for every artifact already stored, then for each new one.
func (s *Service) RunTensorWorker(ctx context.Context) {
	_ = s.eachRepo(ctx, func(repo string, v storage.View) {
		for _, d := range v.Manifests() {
			if m, _ := v.Manifest(d); !registryMade(m) && m.Subject == nil && stateOf(v, d) != Deleted {
				s.enqueueTensors(ref{repo, d})
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-s.tensors:
			if err := s.computeTensors(ctx, r); err != nil && ctx.Err() == nil {
				s.log.Warn("per-tensor manifest not computed", "repository", r.repo, "digest", r.digest, "error", err)
			}
		}
	}
}

// modelLayer is a layer whose bytes are a GGUF or safetensors file.
type modelLayer struct {
	desc     ocispec.Descriptor
	file     string
	manifest *storage.Manifest // its stored tensor manifest, if any
}

// modelLayers lists the layers of artifact r that need (or have) a tensor
// manifest, deciding by magic bytes whatever the layer's media type says.
func (s *Service) modelLayers(ctx context.Context, r ref) ([]modelLayer, error) {
	var layers []ocispec.Descriptor
	have := map[digest.Digest]storage.Manifest{}
	err := s.store.Read(ctx, r.repo, func(v storage.View) error {
		m, ok := v.Manifest(r.digest)
		if !ok {
			return errNotFound()
		}
		layers = m.Layers
		for _, rd := range v.Referrers(r.digest) {
			if tm, ok := v.Manifest(rd); ok && tm.ArtifactType == tensormanifest.MediaType {
				have[digest.Digest(tm.Annotations[annTensorLayer])] = tm
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []modelLayer
	for _, l := range layers {
		if l.Size < 24 {
			continue
		}
		ml := modelLayer{desc: l, file: l.Annotations[ocispec.AnnotationTitle]}
		if tm, ok := have[l.Digest]; ok {
			ml.manifest = &tm
			out = append(out, ml)
			continue
		}
		rc, _, err := s.store.OpenBlob(ctx, r.repo, l.Digest)
		if err != nil {
			continue // a missing layer is verify's business
		}
		head := make([]byte, modelformat.HeaderSize)
		n, _ := io.ReadFull(rc, head)
		rc.Close()
		if f := modelformat.Detect(head[:n]); f == modelformat.GGUF || f == modelformat.Safetensors {
			out = append(out, ml)
		}
	}
	return out, nil
}

// computeTensors stores a tensor manifest for every model layer of r that
// has none yet, as a registry-made (born trusted) referrer of the artifact.
func (s *Service) computeTensors(ctx context.Context, r ref) error {
	layers, err := s.modelLayers(ctx, r)
	if err != nil {
		return err
	}
	var subject ocispec.Descriptor
	if err := s.store.Read(ctx, r.repo, func(v storage.View) error {
		m, ok := v.Manifest(r.digest)
		if !ok {
			return errNotFound()
		}
		subject = m.Descriptor
		return nil
	}); err != nil {
		return err
	}
	for _, l := range layers {
		if l.manifest != nil {
			continue
		}
		tm, err := s.buildTensors(ctx, r.repo, l.desc)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.desc.Digest, err)
		}
		if tm.FileHash != l.desc.Digest.Encoded() {
			return fmt.Errorf("layer %s hashes to %s: verification will report it", l.desc.Digest, tm.FileHash)
		}
		body, err := json.Marshal(tm)
		if err != nil {
			return err
		}
		fp, _ := json.Marshal(fingerprintOf(tm))
		blob := ocispec.Descriptor{MediaType: tensormanifest.MediaType, Digest: digest.FromBytes(body), Size: int64(len(body))}
		man, err := json.Marshal(ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			ArtifactType: tensormanifest.MediaType, Config: emptyJSON, Layers: []ocispec.Descriptor{blob},
			Subject: &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
			Annotations: map[string]string{
				annTensorLayer: l.desc.Digest.String(), annTensorFile: l.file, annTensorFingerprint: string(fp),
				ocispec.AnnotationCreated: s.now().UTC().Format(time.RFC3339),
			},
		})
		if err != nil {
			return err
		}
		pm, err := oci.ParseManifest(ocispec.MediaTypeImageManifest, man, digest.SHA256)
		if err != nil {
			return err
		}
		err = s.store.Commit(ctx, r.repo, storage.Txn{
			Put:   []*oci.Manifest{pm},
			Blobs: [][]byte{emptyJSON.Data, body},
			Meta:  map[digest.Digest]map[string]string{pm.Digest: recordMeta()},
			Check: func(v storage.View) error {
				if _, ok := v.Manifest(r.digest); !ok {
					return errNotFound() // deleted meanwhile
				}
				return nil
			},
		})
		if err != nil {
			return err
		}
		s.log.Info("per-tensor manifest stored", "repository", r.repo, "digest", r.digest, "layer", l.desc.Digest,
			"tensors", tm.TensorCount, "metadata", len(tm.Metadata), "manifest", pm.Digest)
	}
	return nil
}

// buildTensors reads a layer once (under a hashing slot) into a manifest.
func (s *Service) buildTensors(ctx context.Context, repo string, l ocispec.Descriptor) (*tensormanifest.Manifest, error) {
	select {
	case s.hash.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.hash.slots }()
	rc, size, err := s.store.OpenBlob(ctx, repo, l.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return tensormanifest.Build(contextReader{ctx, rc}, size)
}

// ManifestCheck is the answer to POST /v1/model/verify-manifest.
type ManifestCheck struct {
	Status  string                  `json:"status"` // verified, failed or skipped
	Name    string                  `json:"name"`
	Detail  string                  `json:"detail,omitempty"`
	Reason  string                  `json:"reason,omitempty"`
	Error   string                  `json:"error,omitempty"`
	Changes []tensormanifest.Change `json:"changes,omitempty"`
	Files   []ManifestCheckFile     `json:"files,omitempty"`
}

// ManifestCheckFile is the outcome for one model file of the artifact.
type ManifestCheckFile struct {
	Filename string                  `json:"filename"`
	Layer    string                  `json:"layer"`
	Manifest string                  `json:"manifest"` // digest of the stored tensor manifest
	Status   string                  `json:"status"`
	Changes  []tensormanifest.Change `json:"changes,omitempty"`
}

// VerifyManifest checks the stored bytes of every model file of an
// artifact against the tensor manifest stored when it arrived, and names
// every difference: changed, added, missing or reordered tensors, changed
// shapes, types and offsets, and changed, added or missing metadata keys.
// A trusted artifact that fails is quarantined.
func (s *Service) VerifyManifest(ctx context.Context, name string) (ManifestCheck, error) {
	r, err := s.resolve(ctx, name)
	if err != nil {
		return ManifestCheck{}, err
	}
	a, err := s.Get(ctx, name)
	if err != nil {
		return ManifestCheck{}, err
	}
	if a.State == Deleted {
		return ManifestCheck{Status: "skipped", Name: a.Name, Reason: "deleted artifact bytes are intentionally absent"}, nil
	}
	release, ok := s.hash.tryAdmit()
	if !ok {
		return ManifestCheck{}, busy(5*time.Second, "verification capacity is exhausted; retry shortly (this is load, not a failed check)")
	}
	defer release()
	layers, err := s.modelLayers(ctx, r)
	if err != nil {
		return ManifestCheck{}, err
	}
	if len(layers) == 0 {
		return ManifestCheck{Status: "skipped", Name: a.Name, Reason: "no gguf-guard manifest available: the artifact has no GGUF or safetensors file"}, nil
	}
	res := ManifestCheck{Status: "verified", Name: a.Name, Detail: "PASS: all tensors match manifest"}
	for _, l := range layers {
		if l.manifest == nil {
			return ManifestCheck{Status: "skipped", Name: a.Name, Reason: "no gguf-guard manifest available yet: it is computed after the artifact arrives; retry shortly"}, nil
		}
		want, err := s.storedTensors(ctx, r.repo, *l.manifest)
		if err != nil {
			return ManifestCheck{}, err
		}
		f := ManifestCheckFile{Filename: l.file, Layer: l.desc.Digest.String(), Manifest: l.manifest.Descriptor.Digest.String(), Status: "verified"}
		got, err := s.buildTensors(ctx, r.repo, l.desc)
		switch {
		case err != nil && ctx.Err() != nil:
			return ManifestCheck{}, ctx.Err()
		case errors.Is(err, oci.ErrBlobUnknown):
			f.Changes = []tensormanifest.Change{{Kind: "file", Name: "bytes", Was: "present", Now: "missing"}}
		case err != nil:
			f.Changes = []tensormanifest.Change{{Kind: "file", Name: "structure", Was: "valid " + want.Format, Now: err.Error()}}
		default:
			f.Changes = tensormanifest.Compare(want, got)
		}
		if len(f.Changes) > 0 {
			f.Status = "failed"
			res.Status = "failed"
			res.Detail = ""
			res.Changes = append(res.Changes, f.Changes...)
		}
		res.Files = append(res.Files, f)
	}
	if res.Status == "failed" {
		res.Error = fmt.Sprintf("FAIL: %d difference(s) from the per-tensor manifest", len(res.Changes))
		if a.State == Trusted {
			if _, err := s.integrityFailure(context.WithoutCancel(ctx), r, "per-tensor manifest mismatch: "+res.Changes[0].String()); err != nil {
				s.log.Error("could not quarantine an artifact that failed its manifest check", "name", a.Name, "error", err)
			}
		}
	}
	return res, nil
}

// storedTensors reads a stored tensor manifest, checking its bytes against
// their digest (the manifest is pinned by digest, so a replaced file is
// caught, unlike the predecessor's path).
func (s *Service) storedTensors(ctx context.Context, repo string, tm storage.Manifest) (*tensormanifest.Manifest, error) {
	if len(tm.Layers) != 1 {
		return nil, errors.New("tensor manifest referrer has no manifest blob")
	}
	l := tm.Layers[0]
	rc, _, err := s.store.OpenBlob(ctx, repo, l.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return nil, err
	}
	if digest.FromBytes(body) != l.Digest {
		return nil, fmt.Errorf("stored tensor manifest %s does not match its digest", l.Digest)
	}
	var m tensormanifest.Manifest
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}
