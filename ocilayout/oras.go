package ocilayout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// Repository is one repository of a Store seen through oras-go's content
// interfaces, so oras.Copy, oras.ExtendedCopy and the rest of oras-go work
// against the store directly (tests copy between it and other targets).
type Repository struct {
	s    *Store
	name string
}

var (
	_ content.Storage           = (*Repository)(nil)
	_ content.TagResolver       = (*Repository)(nil)
	_ content.PredecessorFinder = (*Repository)(nil)
	_ content.Deleter           = (*Repository)(nil)
	_ registry.ReferrerLister   = (*Repository)(nil)
)

// Repository returns the oras-go view of a repository. The repository is
// created on the first push.
func (s *Store) Repository(name string) (*Repository, error) {
	if err := oci.ValidateName(name); err != nil {
		return nil, err
	}
	return &Repository{s: s, name: name}, nil
}

// orasErr maps the store's "unknown" spec errors to errdef.ErrNotFound, which
// oras-go checks for.
func orasErr(err error) error {
	var oe *oci.Error
	if errors.As(err, &oe) {
		switch oe.Code {
		case oci.CodeBlobUnknown, oci.CodeManifestUnknown, oci.CodeNameUnknown:
			return fmt.Errorf("%s: %w", oe.Message, errdef.ErrNotFound)
		}
	}
	return err
}

func isManifest(desc ocispec.Descriptor) bool { return oci.IsManifestMediaType(desc.MediaType) }

// Fetch opens the content of target.
func (r *Repository) Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error) {
	f, _, err := r.s.OpenBlob(ctx, r.name, target.Digest)
	if err != nil {
		return nil, orasErr(err)
	}
	return f, nil
}

// Push stores content that must match expected. Manifests are validated like
// a /v2 manifest PUT (referenced blobs must be present); blobs are hashed on
// the way in like an upload.
func (r *Repository) Push(ctx context.Context, expected ocispec.Descriptor, rd io.Reader) error {
	if _, err := oci.ParseDigest(string(expected.Digest)); err != nil {
		return fmt.Errorf("%w: %v", errdef.ErrInvalidDigest, err)
	}
	if isManifest(expected) {
		if expected.Size > oci.MaxManifestSize {
			return fmt.Errorf("manifest of %d bytes: %w", expected.Size, errdef.ErrSizeExceedsLimit)
		}
		body, err := io.ReadAll(io.LimitReader(rd, expected.Size+1))
		if err != nil {
			return err
		}
		if int64(len(body)) != expected.Size {
			return fmt.Errorf("manifest is %d bytes, expected %d: %w", len(body), expected.Size, content.ErrMismatchedDigest)
		}
		m, err := oci.ParseManifest(expected.MediaType, body, expected.Digest.Algorithm())
		if err != nil {
			return err
		}
		if m.Digest != expected.Digest {
			return fmt.Errorf("manifest hashes to %s, expected %s: %w", m.Digest, expected.Digest, content.ErrMismatchedDigest)
		}
		return r.s.PutManifest(ctx, r.name, m, nil)
	}
	st, err := r.s.StartUpload(ctx, r.name, expected.Digest.Algorithm())
	if err != nil {
		return err
	}
	desc, err := r.s.CommitUpload(ctx, r.name, st.ID, -1, io.LimitReader(rd, expected.Size+1), expected.Digest)
	if err != nil {
		_ = r.s.CancelUpload(ctx, r.name, st.ID)
		return err
	}
	if desc.Size != expected.Size {
		return fmt.Errorf("blob is %d bytes, expected %d: %w", desc.Size, expected.Size, content.ErrMismatchedDigest)
	}
	return nil
}

// Exists reports whether target is in the repository.
func (r *Repository) Exists(ctx context.Context, target ocispec.Descriptor) (bool, error) {
	var err error
	if isManifest(target) {
		_, err = r.s.ResolveManifest(ctx, r.name, oci.Reference{Digest: target.Digest})
	} else {
		_, err = r.s.StatBlob(ctx, r.name, target.Digest)
	}
	if err != nil {
		if errors.Is(orasErr(err), errdef.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Resolve resolves a tag or digest to a manifest descriptor.
func (r *Repository) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	ref, err := oci.ParseReference(reference)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: %v", errdef.ErrInvalidReference, err)
	}
	desc, err := r.s.ResolveManifest(ctx, r.name, ref)
	return desc, orasErr(err)
}

// Tag points a tag at a manifest already in the repository.
func (r *Repository) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	return orasErr(r.s.TagManifest(ctx, r.name, reference, desc.Digest))
}

// Delete removes a manifest or a blob.
func (r *Repository) Delete(ctx context.Context, target ocispec.Descriptor) error {
	if isManifest(target) {
		return orasErr(r.s.DeleteManifest(ctx, r.name, target.Digest))
	}
	return orasErr(r.s.DeleteBlob(ctx, r.name, target.Digest))
}

// Predecessors returns the manifests that point at node: referrers (subject),
// indexes listing it, and manifests using it as config or layer.
func (r *Repository) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	rp, err := r.s.repo(r.name, false)
	if err != nil {
		return nil, nil
	}
	rp.mu.RLock()
	defer rp.mu.RUnlock()
	var out []ocispec.Descriptor
	for _, e := range rp.manifests {
		if e.broken != nil {
			continue
		}
		if e.subjectDigest() == node.Digest || slices.Contains(e.blobs, node.Digest) ||
			slices.ContainsFunc(e.children, func(c ocispec.Descriptor) bool { return c.Digest == node.Digest }) {
			out = append(out, referrerDescriptor(e))
		}
	}
	return out, nil
}

// Referrers lists the referrers of desc, optionally filtered by artifactType.
func (r *Repository) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	all, err := r.s.Referrers(ctx, r.name, desc.Digest)
	if err != nil {
		return err
	}
	if artifactType != "" {
		kept := all[:0]
		for _, d := range all {
			if d.ArtifactType == artifactType {
				kept = append(kept, d)
			}
		}
		all = kept
	}
	return fn(all)
}
