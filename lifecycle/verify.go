package lifecycle

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/storage"
)

// VerifyResult is the answer to POST /v1/model/verify, in the predecessor's
// shape (safe_to_use is the string "true" or "false").
type VerifyResult struct {
	Status    string  `json:"status"` // verified, failed or skipped
	Name      string  `json:"name"`
	SHA256    string  `json:"sha256,omitempty"`
	State     State   `json:"state,omitempty"`
	Expected  string  `json:"expected,omitempty"`
	Actual    *string `json:"actual,omitempty"`
	Error     string  `json:"error,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	SafeToUse string  `json:"safe_to_use,omitempty"`
	// Provenance is the promotion attestation's check, for trusted
	// artifacts: when it is required and does not verify, safe_to_use is
	// "false" although the bytes verified.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Verify re-hashes every blob of an artifact. A mismatch or a missing blob
// of a trusted artifact moves it to quarantined (who = system), so the
// runtime loses access at once.
//
// Anonymous callers (runtimes) may verify trusted artifacts only, and cannot
// make the registry hash gigabytes at will: they get the last result if it
// is recent (one integrity interval, at most 15 minutes), and otherwise one
// fresh verification per artifact per minute (429 with Retry-After beyond).
// Token holders always get a fresh run.
func (s *Service) Verify(ctx context.Context, name string) (VerifyResult, error) {
	r, err := s.resolve(ctx, name)
	anon := !CallerFrom(ctx).Authenticated
	if anon && err != nil {
		return VerifyResult{}, errAnonymous()
	}
	if err != nil {
		return VerifyResult{}, err
	}
	a, err := s.Get(ctx, name)
	if err != nil {
		return VerifyResult{}, err
	}
	if anon {
		if a.State != Trusted {
			return VerifyResult{}, errAnonymous()
		}
		if res, ok := s.integrity.recent(r, s.now()); ok {
			return res, nil
		}
		if wait := s.integrity.anonymousRun(r, s.now()); wait > 0 {
			return VerifyResult{}, &Error{Kind: KindRateLimited, RetryAfter: wait,
				Msg: "this artifact was verified moments ago; retry later, or send the service token to force a fresh run"}
		}
	}
	release, ok := s.hash.tryAdmit()
	if !ok {
		return VerifyResult{}, busy(5*time.Second, "verification capacity is exhausted; retry shortly (this is load, not a failed check)")
	}
	defer release()
	res, err := s.verify(ctx, r, a)
	if err == nil {
		s.integrity.remember(r, res, s.now())
	}
	return res, err
}

// errAnonymous is what anonymous callers get for anything but a trusted
// artifact: the same answer whether it is absent or untrusted.
func errAnonymous() error {
	return errorf(KindUnauthorized, "authentication required: without the service token only trusted artifacts can be verified")
}

func (s *Service) verify(ctx context.Context, r ref, a Artifact) (VerifyResult, error) {
	if a.State == Deleted {
		return VerifyResult{Status: "skipped", Name: a.Name, State: Deleted, Reason: "deleted artifact bytes are intentionally absent", SafeToUse: "false"}, nil
	}
	bad, err := s.hashAll(ctx, r)
	if err != nil {
		return VerifyResult{}, err
	}
	return s.judge(ctx, r, a, bad), nil
}

// judge turns a hashing outcome into a result, quarantining a trusted
// artifact whose bytes no longer match.
func (s *Service) judge(ctx context.Context, r ref, a Artifact, bad *blobFault) VerifyResult {
	if bad == nil {
		res := VerifyResult{Status: "verified", Name: a.Name, SHA256: a.SHA256, State: a.State, SafeToUse: "false"}
		if a.State == Trusted {
			p := s.provenance(ctx, r)
			res.Provenance = &p
			if p.Status == ProvenanceVerified || !p.Required {
				res.SafeToUse = "true"
			}
		}
		return res
	}
	if a.State == Trusted {
		if _, err := s.integrityFailure(context.WithoutCancel(ctx), r, "verification failed: "+bad.Error()); err != nil {
			s.log.Error("could not quarantine an artifact that failed verification", "name", a.Name, "error", err)
		}
	}
	actual := bad.actual.Encoded()
	if bad.actual == "" || bad.actual == "unreadable" {
		actual = ""
	}
	return VerifyResult{Status: "failed", Name: a.Name, Expected: bad.digest.Encoded(), Actual: &actual, Error: bad.Error(), SafeToUse: "false"}
}

// VerifyAllResult is the answer to POST /v1/models/verify-all.
type VerifyAllResult struct {
	Status  string         `json:"status"` // ok or failed
	Models  []VerifyResult `json:"models"`
	Checked int            `json:"checked"`
}

// VerifyAll verifies every artifact, hashing blobs in parallel on every
// core; deleted artifacts are skipped, not failed. One run at a time: a
// second request while one runs gets 503 with Retry-After (or, with a job,
// the running job). Anonymous callers get the last completed run, limited
// to trusted artifacts, and never start one.
func (s *Service) VerifyAll(ctx context.Context) (VerifyAllResult, error) {
	if !CallerFrom(ctx).Authenticated {
		return s.integrity.lastTrusted()
	}
	res, _, err := s.runAll(ctx, nil)
	return res, err
}

// runAll is one verification of every artifact. progress, when set,
// receives the total and then every hashed blob's size.
func (s *Service) runAll(ctx context.Context, p *Progress) (VerifyAllResult, []checked, error) {
	if !s.integrity.running.TryLock() {
		return VerifyAllResult{}, nil, busy(30*time.Second, "a verification of every artifact is already running; retry later or poll its job")
	}
	defer s.integrity.running.Unlock()
	var items []checked
	var blobs []blobRef
	err := s.eachRepo(ctx, func(repo string, v storage.View) {
		for _, d := range v.Manifests() {
			m, _ := v.Manifest(d)
			if !listed(v, m) {
				continue
			}
			a, _, ok := artifact(v, repo, d)
			if !ok {
				continue
			}
			it := checked{r: ref{repo, d}, a: a}
			if a.State != Deleted {
				it.blobs = artifactBlobs(v, repo, d)
				blobs = append(blobs, it.blobs...)
			}
			items = append(items, it)
		}
	})
	if err != nil {
		return VerifyAllResult{}, nil, err
	}
	var report func(int64)
	if p != nil {
		// A blob shared by several artifacts is hashed once (hashMany), so
		// it is counted once.
		var total int64
		seen := map[digest.Digest]bool{}
		for _, b := range blobs {
			if !seen[b.d] {
				seen[b.d] = true
				total += b.size
			}
		}
		p.start(len(seen), total)
		report = p.add
	}
	faults, _, err := s.hashMany(ctx, blobs, report)
	if err != nil {
		return VerifyAllResult{}, nil, err
	}
	res := VerifyAllResult{Status: "ok", Models: []VerifyResult{}}
	now := s.now()
	for i := range items {
		it := &items[i]
		var bad *blobFault
		for _, b := range it.blobs {
			if f := faults[b.d]; f != nil {
				c := *f
				c.file = b.file
				bad = &c
				break
			}
		}
		vr := VerifyResult{Status: "skipped", Name: it.a.Name, State: Deleted, Reason: "deleted artifact bytes are intentionally absent"}
		if it.a.State != Deleted {
			vr = s.judge(ctx, it.r, it.a, bad)
			s.integrity.remember(it.r, vr, now)
		}
		it.result = vr
		// Entries have the predecessor's verify-all shapes: no state or
		// safe_to_use, except the state of skipped (deleted) ones.
		vr.SafeToUse = ""
		if vr.Status == "verified" {
			vr.State = ""
		}
		if vr.Status == "failed" {
			res.Status = "failed"
		}
		res.Models = append(res.Models, vr)
		res.Checked++
	}
	s.integrity.rememberAll(res, items, now)
	return res, items, nil
}

// checked is one artifact of a verify-all run.
type checked struct {
	r      ref
	a      Artifact
	blobs  []blobRef
	result VerifyResult
}

// PathInfo is the answer to GET /v1/model/path: where a runtime loads a
// trusted artifact from. The path is the blob's content-addressed copy
// (mode 0440, never rewritten in place); directory holds every file of the
// artifact under its own name while the artifact is trusted.
type PathInfo struct {
	Path            string     `json:"path"`
	SHA256          string     `json:"sha256"`
	SizeBytes       int64      `json:"size_bytes"`
	Digest          string     `json:"digest"`
	Directory       string     `json:"directory,omitempty"`
	Files           []PathFile `json:"files,omitempty"`
	StorageContract string     `json:"storage_contract"`
}

// PathFile is one file of a multi-file artifact.
type PathFile struct {
	Filename  string `json:"filename"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"size_bytes"`
}

// Path answers for trusted artifacts only; it does no hashing (O(1)).
func (s *Service) Path(ctx context.Context, name string) (PathInfo, error) {
	if s.files == nil {
		return PathInfo{}, errorf(KindUnavailable, "this registry's storage has no local paths")
	}
	r, err := s.resolve(ctx, name)
	if err != nil {
		return PathInfo{}, err
	}
	var all []File
	var primary File
	err = s.store.Read(ctx, r.repo, func(v storage.View) error {
		m, ok := v.Manifest(r.digest)
		if !ok {
			return errNotFound()
		}
		if st := stateOf(v, r.digest); st != Trusted {
			if st == "" {
				st = "unknown"
			}
			return errorf(KindForbidden, "artifact %q is in %q state — only trusted artifacts can be loaded", name, st)
		}
		all, primary = files(m)
		return nil
	})
	if err != nil {
		return PathInfo{}, err
	}
	if err := s.servableProvenance(ctx, r); err != nil {
		return PathInfo{}, err
	}
	if primary.digest == "" {
		return PathInfo{}, errorf(KindNotFound, "artifact %q has no file to load", name)
	}
	p, err := s.files.BlobPath(r.repo, primary.digest)
	if err != nil {
		return PathInfo{}, errorf(KindNotFound, "model file not found on disk")
	}
	info := PathInfo{Path: p, SHA256: primary.SHA256, SizeBytes: primary.SizeBytes, Digest: r.digest.String(), StorageContract: "content-addressed-v1"}
	if len(all) > 0 {
		names := map[string]digest.Digest{}
		for _, f := range all {
			names[f.Filename] = f.digest
		}
		dir, err := s.files.PublishRuntime(r.repo, r.digest, names)
		if err != nil {
			return PathInfo{}, fmt.Errorf("publish runtime directory: %w", err)
		}
		// A revoke may have landed while the directory was made: it must
		// not outlive the trust.
		still := false
		_ = s.store.Read(ctx, r.repo, func(v storage.View) error { still = stateOf(v, r.digest) == Trusted; return nil })
		if !still {
			_ = s.files.UnpublishRuntime(r.repo, r.digest)
			return PathInfo{}, errorf(KindForbidden, "artifact %q stopped being trusted — only trusted artifacts can be loaded", name)
		}
		info.Directory = dir
		if len(all) > 1 {
			for _, f := range all {
				info.Files = append(info.Files, PathFile{Filename: f.Filename, Path: filepath.Join(dir, filepath.FromSlash(f.Filename)), SHA256: f.SHA256, SizeBytes: f.SizeBytes})
			}
		}
	}
	return info, nil
}
