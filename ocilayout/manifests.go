package ocilayout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

func manifestUnknown(repo string, ref oci.Reference) error {
	return oci.Errorf(oci.CodeManifestUnknown, "manifest %s is not in repository %q", ref, repo)
}

// PutManifest stores a validated manifest in repo and points tags at it. The
// config, layers and index children it references must already be in the
// repository (MANIFEST_BLOB_UNKNOWN otherwise); its subject need not exist.
func (s *Store) PutManifest(ctx context.Context, repo string, m *oci.Manifest, tags []string) error {
	for _, t := range tags {
		if err := oci.ValidateTag(t); err != nil {
			return err
		}
	}
	// Check first without writing anything, so a bad manifest leaves no
	// trace, not even a new empty repository.
	r, err := s.repo(repo, false)
	switch {
	case errors.Is(err, oci.ErrNameUnknown):
		if err := newRepo(s, repo, false).checkRefsEmpty(m); err != nil {
			return err
		}
		if r, err = s.repo(repo, true); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		r.mu.RLock()
		err = r.checkRefs(m)
		r.mu.RUnlock()
		if err != nil {
			return err
		}
	}
	synced, err := s.writeBlob(r, m.Body, m.Digest)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkRefs(m); err != nil { // a blob may have gone meanwhile
		_ = synced()
		return err
	}
	var ops []op
	e := r.manifests[m.Digest]
	if e == nil {
		ops = append(ops, op{Op: opPut, Digest: m.Digest, MediaType: m.MediaType, Size: int64(len(m.Body))})
	}
	for _, t := range tags {
		if r.tags[t] != m.Digest {
			ops = append(ops, op{Op: opTag, Tag: t, Digest: m.Digest})
		}
	}
	// The journal line is made durable while the manifest blob's directory
	// entries are fsync'd; the change is acknowledged only once both are. If
	// a crash lands in between, the manifest loads as broken (not served)
	// and a re-push repairs it, below.
	jerr := r.commit(ops)
	if serr := synced(); serr != nil {
		if jerr == nil && e == nil {
			_ = r.commit([]op{{Op: opDel, Digest: m.Digest}})
		}
		return serr
	}
	if jerr != nil {
		return jerr
	}
	if e = r.manifests[m.Digest]; e.broken != nil {
		e.broken = nil // the blob is back: a re-push repairs a manifest lost in a crash
	}
	r.detail(e, m)
	return nil
}

// checkRefsEmpty checks m against a repository that does not exist yet, in
// which no blob or manifest can be present.
func (r *repo) checkRefsEmpty(m *oci.Manifest) error {
	r.manifests = map[digest.Digest]*manifestEntry{}
	return r.checkRefs(m)
}

// checkRefs is called with r.mu held.
func (r *repo) checkRefs(m *oci.Manifest) error {
	for _, b := range m.Blobs {
		fi, err := os.Lstat(r.blobPath(b.Digest))
		if err != nil {
			return &oci.Error{Code: oci.CodeManifestBlobUnknown, Status: 400,
				Message: fmt.Sprintf("manifest references blob %s, which is not in repository %q; push the blob first", b.Digest, r.name),
				Detail:  map[string]string{"digest": b.Digest.String()}}
		}
		if fi.Size() != b.Size {
			return oci.Errorf(oci.CodeManifestInvalid, "manifest says blob %s is %d bytes; it is %d", b.Digest, b.Size, fi.Size())
		}
	}
	for _, c := range m.Children {
		e := r.manifests[c.Digest]
		if e == nil {
			return &oci.Error{Code: oci.CodeManifestBlobUnknown, Status: 400,
				Message: fmt.Sprintf("index references manifest %s, which is not in repository %q; push it first", c.Digest, r.name),
				Detail:  map[string]string{"digest": c.Digest.String()}}
		}
		if e.desc.Size != c.Size {
			return oci.Errorf(oci.CodeManifestInvalid, "index says manifest %s is %d bytes; it is %d", c.Digest, c.Size, e.desc.Size)
		}
	}
	return nil
}

// resolve finds a manifest by tag or digest. Called with r.mu held.
func (r *repo) resolve(ref oci.Reference) (*manifestEntry, error) {
	d := ref.Digest
	if ref.Tag != "" {
		var ok bool
		if d, ok = r.tags[ref.Tag]; !ok {
			return nil, manifestUnknown(r.name, ref)
		}
	}
	e := r.manifests[d]
	if e == nil || e.broken != nil {
		return nil, manifestUnknown(r.name, ref)
	}
	return e, nil
}

// ResolveManifest returns the descriptor of a manifest, without its body.
func (s *Store) ResolveManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, error) {
	r, err := s.lookup(repo, func() error { return manifestUnknown(repo, ref) })
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.resolve(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return e.desc, nil
}

// GetManifest returns a manifest's descriptor and its exact bytes.
func (s *Store) GetManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, []byte, error) {
	r, err := s.lookup(repo, func() error { return manifestUnknown(repo, ref) })
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	r.mu.RLock()
	e, err := r.resolve(ref)
	r.mu.RUnlock()
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	body, err := os.ReadFile(r.blobPath(e.desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return ocispec.Descriptor{}, nil, manifestUnknown(repo, ref) // deleted meanwhile
	}
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("read manifest %s: %w", e.desc.Digest, err)
	}
	if int64(len(body)) != e.desc.Size {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest %s in %q is %d bytes on disk, expected %d: storage is damaged", e.desc.Digest, repo, len(body), e.desc.Size)
	}
	return e.desc, body, nil
}

// DeleteManifest removes a manifest and every tag pointing at it.
func (s *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	ref := oci.Reference{Digest: d}
	r, err := s.lookup(repo, func() error { return manifestUnknown(repo, ref) })
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.manifests[d]; !ok {
		return manifestUnknown(repo, ref)
	}
	if n := r.childRefs[d]; n > 0 {
		return oci.Errorf(oci.CodeDenied, "manifest %s is listed by %d index(es) in %q; delete those first", d, n, repo)
	}
	if err := r.commit([]op{{Op: opDel, Digest: d}}); err != nil {
		return err
	}
	if r.blobRefs[d] > 0 {
		return nil // the same bytes are also a layer of another manifest
	}
	if err := s.unlinkBlob(r, d); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("manifest deleted but its blob could not be removed", "repository", repo, "digest", d, "error", err)
	}
	return nil
}

// DeleteTag removes a tag; the manifest stays reachable by digest.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	ref := oci.Reference{Tag: tag}
	if err := oci.ValidateTag(tag); err != nil {
		return err
	}
	r, err := s.lookup(repo, func() error { return manifestUnknown(repo, ref) })
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.tags[tag]; !ok {
		return manifestUnknown(repo, ref)
	}
	return r.commit([]op{{Op: opUntag, Tag: tag}})
}

// Tags returns up to n tags of repo after last, sorted; n < 0 means all.
func (s *Store) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	r, err := s.repo(repo, false)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	tags := make([]string, 0, len(r.tags))
	for t := range r.tags {
		if t > last {
			tags = append(tags, t)
		}
	}
	r.mu.RUnlock()
	slices.Sort(tags)
	if n >= 0 && len(tags) > n {
		tags = tags[:n]
	}
	return tags, nil
}

// Referrers lists the manifests of repo whose subject is subject, plus those
// listed in a referrers-tag-schema index ("sha256-<hex>") that older clients
// maintain. An unknown repository simply has no referrers.
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest) ([]ocispec.Descriptor, error) {
	if _, err := oci.ParseDigest(string(subject)); err != nil {
		return nil, err
	}
	r, err := s.repo(repo, false)
	if err != nil {
		if errors.Is(err, oci.ErrNameUnknown) {
			return []ocispec.Descriptor{}, nil
		}
		return nil, err
	}
	r.mu.RLock()
	out := make([]ocispec.Descriptor, 0, len(r.referrers[subject]))
	seen := map[digest.Digest]bool{}
	for d := range r.referrers[subject] {
		e := r.manifests[d]
		if e == nil || e.broken != nil {
			continue
		}
		out = append(out, referrerDescriptor(e))
		seen[d] = true
	}
	fallbackTag := subject.Algorithm().String() + "-" + subject.Encoded()
	fallback := r.tags[fallbackTag]
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b ocispec.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })

	if fallback != "" {
		desc, body, err := s.GetManifest(ctx, repo, oci.Reference{Digest: fallback})
		if err == nil && desc.MediaType == ocispec.MediaTypeImageIndex {
			if m, err := oci.ParseManifest(desc.MediaType, body, fallback.Algorithm()); err == nil {
				for _, c := range m.Children {
					if !seen[c.Digest] {
						out = append(out, c)
						seen[c.Digest] = true
					}
				}
			}
		}
	}
	return out, nil
}

func referrerDescriptor(e *manifestEntry) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType:    e.desc.MediaType,
		Digest:       e.desc.Digest,
		Size:         e.desc.Size,
		ArtifactType: e.artifactType,
		Annotations:  maps.Clone(e.annotations),
	}
}

// TagManifest points tag at a manifest already in repo.
func (s *Store) TagManifest(ctx context.Context, repo, tag string, d digest.Digest) error {
	if err := oci.ValidateTag(tag); err != nil {
		return err
	}
	r, err := s.lookup(repo, func() error { return manifestUnknown(repo, oci.Reference{Digest: d}) })
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.manifests[d]; e == nil || e.broken != nil {
		return manifestUnknown(repo, oci.Reference{Digest: d})
	}
	if r.tags[tag] == d {
		return nil
	}
	return r.commit([]op{{Op: opTag, Tag: tag, Digest: d}})
}
