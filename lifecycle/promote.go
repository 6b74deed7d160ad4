package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// PromoteRequest is the body of POST /v1/model/promote. It accepts both of
// the predecessor's shapes: {name, filename, sha256, size_bytes, ...} and
// the service doc's {name, path, sha256, format, source}.
type PromoteRequest struct {
	Name                 string            `json:"name"`
	Filename             string            `json:"filename,omitempty"`
	Path                 string            `json:"path,omitempty"`
	SHA256               string            `json:"sha256"`
	SizeBytes            int64             `json:"size_bytes,omitempty"`
	Format               string            `json:"format,omitempty"`
	Source               string            `json:"source,omitempty"`
	ScanResults          map[string]string `json:"scan_results,omitempty"`
	ScannerVersions      map[string]string `json:"scanner_versions,omitempty"`
	PolicyVersion        string            `json:"policy_version,omitempty"`
	SourceRevision       string            `json:"source_revision,omitempty"`
	GGUFGuardFingerprint json.RawMessage   `json:"gguf_guard_fingerprint,omitempty"`
	GGUFGuardManifest    string            `json:"gguf_guard_manifest,omitempty"`
	Reason               string            `json:"reason,omitempty"`
}

// file is the file the request names: filename, else the base of path.
func (r *PromoteRequest) file() string {
	if r.Filename != "" {
		return r.Filename
	}
	if r.Path != "" {
		return path.Base(r.Path)
	}
	return ""
}

func (r *PromoteRequest) validate() error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	if r.SHA256 == "" {
		return errorf(KindInvalid, "name and sha256 are required (and filename, for a file that was never acquired)")
	}
	if _, err := oci.ParseDigest("sha256:" + r.SHA256); err != nil {
		return errorf(KindInvalid, "sha256 must be 64 lowercase hex characters")
	}
	if r.SizeBytes < 0 {
		return errorf(KindInvalid, "size_bytes must not be negative")
	}
	if r.Filename != "" {
		if err := validateFilename(r.Filename); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"path", r.Path, 4096}, {"format", r.Format, 64}, {"source", r.Source, 4096}, {"policy_version", r.PolicyVersion, 256},
		{"source_revision", r.SourceRevision, 256}, {"gguf_guard_manifest", r.GGUFGuardManifest, 4096}, {"reason", r.Reason, 1024}} {
		if err := boundedText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	for field, m := range map[string]map[string]string{"scan_results": r.ScanResults, "scanner_versions": r.ScannerVersions} {
		if len(m) > 64 {
			return errorf(KindInvalid, "%s has more than 64 entries", field)
		}
		for k, v := range m {
			if k == "" || boundedText(field+" key", k, 256) != nil || boundedText(field+" value", v, 1024) != nil {
				return errorf(KindInvalid, "%s: keys must be 1-256 bytes and values at most 1024 bytes, without NUL, CR or LF", field)
			}
		}
	}
	if string(r.GGUFGuardFingerprint) == "null" {
		r.GGUFGuardFingerprint = nil
	}
	if len(r.GGUFGuardFingerprint) > 0 {
		if len(r.GGUFGuardFingerprint) > 64<<10 {
			return errorf(KindInvalid, "gguf_guard_fingerprint is larger than 64 KiB")
		}
		var obj map[string]any
		if json.Unmarshal(r.GGUFGuardFingerprint, &obj) != nil {
			return errorf(KindInvalid, "gguf_guard_fingerprint must be a JSON object")
		}
	}
	return nil
}

func (r *PromoteRequest) evidence() *Evidence {
	return &Evidence{ScanResults: r.ScanResults, ScannerVersions: r.ScannerVersions, PolicyVersion: r.PolicyVersion,
		SourceRevision: r.SourceRevision, GGUFGuardFingerprint: r.GGUFGuardFingerprint, GGUFGuardManifest: r.GGUFGuardManifest}
}

// Promote makes an artifact trusted. It re-hashes every stored blob of the
// artifact first (no lock is held meanwhile) and refuses a mismatch (409);
// the request's sha256 must match the named file (or the primary one).
// Then the policy decides (a refusal is a *PolicyError listing every unmet
// rule, and records nothing); an allowed promotion is recorded together
// with its signed attestation. A name that was never acquired is acquired
// from the import directory and promoted, recording both transitions, when
// the policy allows one-step promotions.
func (s *Service) Promote(ctx context.Context, req PromoteRequest) (Artifact, error) {
	if err := req.validate(); err != nil {
		return Artifact{}, err
	}
	r, err := s.resolve(ctx, req.Name)
	oneStep := false
	if KindOf(err) == KindNotFound && req.file() != "" {
		if err := s.checkOneStep(req); err != nil {
			return Artifact{}, err
		}
		oneStep = true
		filename := req.Filename
		if filename == "" {
			filename = req.file()
		}
		_, err = s.Acquire(ctx, AcquireRequest{Name: req.Name, Filename: filename, SHA256: req.SHA256, SizeBytes: req.SizeBytes,
			Source: req.Source, SourceRevision: req.SourceRevision, Reason: "acquired by a promotion of a file never acquired"}, nil)
		if err == nil {
			r, err = s.resolve(ctx, req.Name)
		}
	}
	if err != nil {
		return Artifact{}, err
	}
	a, err := s.Get(ctx, req.Name)
	if err != nil {
		return Artifact{}, err
	}
	if _, _, err := Decide(a.Name, a.State, Promote); err != nil {
		return Artifact{}, err
	}
	if err := s.refuseBlocked(a); err != nil {
		return Artifact{}, err
	}
	if err := matchFile(a, req); err != nil {
		return Artifact{}, err
	}
	bad, err := s.hashAll(ctx, r)
	if err != nil {
		return Artifact{}, err
	}
	if bad != nil {
		if a.State == Trusted {
			_, _ = s.integrityFailure(ctx, r, bad.Error())
		}
		return Artifact{}, errorf(KindConflict, "hash verification failed: %v", bad)
	}
	ev, facts, err := s.decide(ctx, r, req, oneStep)
	if err != nil {
		return Artifact{}, err
	}
	if _, err := s.transition(ctx, r, Promote, req.Reason, ev, facts); err != nil {
		return Artifact{}, err
	}
	return s.Get(ctx, req.Name)
}

// decide asks the policy about promoting r, whose bytes were just
// verified, and returns what the promote record and its attestation say.
func (s *Service) decide(ctx context.Context, r ref, req PromoteRequest, oneStep bool) (*Evidence, *promotionFacts, error) {
	in, f, err := s.policyInput(ctx, r, req)
	if err != nil {
		return nil, nil, err
	}
	in.OneStep, in.HashVerified = oneStep, true
	dec := s.policy.Evaluate(in)
	if !dec.Allowed && in.TensorManifestApplies && !in.TensorManifest && slices.ContainsFunc(dec.Unmet, func(u policy.Unmet) bool { return u.Rule == "require_tensor_manifest" }) {
		// Not computed yet (it is made in the background on arrival):
		// make it now rather than refuse.
		if err := s.computeTensors(ctx, r); err != nil {
			return nil, nil, fmt.Errorf("compute the per-tensor manifest the policy requires: %w", err)
		}
		if in, f, err = s.policyInput(ctx, r, req); err != nil {
			return nil, nil, err
		}
		in.OneStep, in.HashVerified = oneStep, true
		dec = s.policy.Evaluate(in)
	}
	if !dec.Allowed {
		return nil, nil, &PolicyError{Name: req.Name, Decision: dec}
	}
	ev := req.evidence()
	ev.ScanResults, ev.ScannerVersions, ev.PolicyVersion = nonEmpty(in.ScanResults), nonEmpty(in.ScannerVersions), dec.PolicyVersion
	facts := &promotionFacts{
		decision:       decisionRef{uri: policyURI(s.policy), version: dec.PolicyVersion, digest: dec.PolicyDigest},
		inputs:         f.inputs,
		scanResults:    ev.ScanResults,
		scanVersions:   ev.ScannerVersions,
		tensorManifest: f.tensorManifest,
		source:         f.source,
		sourceRevision: f.sourceRevision,
	}
	return ev, facts, nil
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// matchFile checks that the file the promotion names is the artifact's.
func matchFile(a Artifact, req PromoteRequest) error {
	all := a.Files
	if len(all) == 0 {
		all = []File{{Filename: a.Filename, SHA256: a.SHA256, SizeBytes: a.SizeBytes}}
	}
	target := all[0]
	if want := req.file(); want != "" {
		found := false
		for _, f := range all {
			if f.Filename == want || path.Base(f.Filename) == want {
				target, found = f, true
				break
			}
		}
		if !found {
			return errorf(KindConflict, "artifact %q has no file named %q", a.Name, truncate(want))
		}
	} else {
		target = File{Filename: a.Filename, SHA256: a.SHA256, SizeBytes: a.SizeBytes}
	}
	if target.SHA256 != req.SHA256 {
		return errorf(KindConflict, "hash verification failed: hash mismatch: expected %s, got %s", req.SHA256, target.SHA256)
	}
	if req.SizeBytes > 0 && req.SizeBytes != target.SizeBytes {
		return errorf(KindConflict, "declared size %d does not match the artifact's file (%d bytes)", req.SizeBytes, target.SizeBytes)
	}
	if req.Format != "" && a.Format != "" && !strings.EqualFold(req.Format, a.Format) {
		return errorf(KindConflict, "declared format %q does not match the artifact's format %q", req.Format, a.Format)
	}
	return nil
}

// blobFault is a blob that is missing or does not hash to its digest.
type blobFault struct {
	digest digest.Digest
	actual digest.Digest // "" when missing
	file   string
}

func (b *blobFault) Error() string {
	what := "blob " + b.digest.String()
	if b.file != "" {
		what = fmt.Sprintf("file %q (%s)", b.file, b.digest)
	}
	if b.actual == "" {
		return what + " is missing from the store"
	}
	return fmt.Sprintf("hash mismatch: %s hashes to %s", what, b.actual)
}

// hashAll re-hashes the config and every layer of an artifact (and of what
// its index reaches) in parallel and returns the first fault in order, or
// nil. Nothing is locked while it reads. err is set only when the work
// could not be done (the request was cancelled), which is never reported
// as a fault.
func (s *Service) hashAll(ctx context.Context, r ref) (*blobFault, error) {
	var blobs []blobRef
	err := s.store.Read(ctx, r.repo, func(v storage.View) error {
		if _, ok := v.Manifest(r.digest); !ok {
			return errNotFound()
		}
		blobs = artifactBlobs(v, r.repo, r.digest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	faults, _, err := s.hashMany(ctx, blobs, nil)
	if err != nil {
		return nil, err
	}
	for _, b := range blobs {
		if f := faults[b.d]; f != nil {
			f.file = b.file
			return f, nil
		}
	}
	return nil, nil
}

// blobRef is a blob to hash and the file name it carries, if any.
type blobRef struct {
	repo string
	d    digest.Digest
	file string
	size int64
}

// artifactBlobs lists the config and layers of manifest d and of every
// manifest an index reaches (a multi-platform artifact). A missing child
// manifest is listed too, so it is reported as missing.
func artifactBlobs(v storage.View, repo string, d digest.Digest) []blobRef {
	var blobs []blobRef
	seen := map[digest.Digest]bool{}
	var walk func(d digest.Digest, depth int)
	walk = func(d digest.Digest, depth int) {
		if seen[d] || depth > maxGateDepth {
			return
		}
		seen[d] = true
		m, ok := v.Manifest(d)
		if !ok {
			blobs = append(blobs, blobRef{repo: repo, d: d})
			return
		}
		if m.Config != nil {
			blobs = append(blobs, blobRef{repo: repo, d: m.Config.Digest, size: m.Config.Size})
		}
		for _, l := range m.Layers {
			if !v.HasBlob(l.Digest) && strings.Contains(l.MediaType, "nondistributable") {
				continue
			}
			blobs = append(blobs, blobRef{repo: repo, d: l.Digest, file: l.Annotations["org.opencontainers.image.title"], size: l.Size})
		}
		for _, c := range m.Children {
			walk(c.Digest, depth+1)
		}
	}
	walk(d, 0)
	return blobs
}

// hashMany hashes distinct blobs on up to one goroutine per hashing slot
// and returns the faults by digest and the bytes hashed. A blob shared by
// several artifacts or repositories (the same bytes on disk) is hashed once.
func (s *Service) hashMany(ctx context.Context, blobs []blobRef, progress func(n int64)) (map[digest.Digest]*blobFault, int64, error) {
	todo := make(chan blobRef)
	var mu sync.Mutex
	faults := map[digest.Digest]*blobFault{}
	var total int64
	var firstErr error
	var wg sync.WaitGroup
	for range cap(s.hash.slots) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				f, n, err := s.hashBlob(ctx, b.repo, b.d)
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if f != nil {
					faults[b.d] = f
				}
				mu.Unlock()
				if progress != nil {
					progress(n)
				}
			}
		}()
	}
	seen := map[digest.Digest]bool{}
feed:
	for _, b := range blobs {
		if seen[b.d] {
			continue
		}
		seen[b.d] = true
		select {
		case todo <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return faults, total, firstErr
}

// policyURI names the policy in attestations: where it was read from, or
// for a policy given as bytes, its version.
func policyURI(p *policy.Policy) string {
	if u := p.URI(); u != "" {
		return u
	}
	return "urn:ai-model-registry:policy:" + url.PathEscape(p.Version())
}
