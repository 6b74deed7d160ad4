package lifecycle

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// Backend is what Gated wraps: a whole storage backend (storage.Backend,
// which ocilayout.Store implements and storagetest checks).
type Backend = storage.Backend

// Gated puts the lifecycle in front of a Backend for the /v2 API:
//
//   - Every manifest a client pushes starts acquired, with its acquisition
//     record written in the same storage transaction.
//   - Clients cannot push transition records or anything carrying the
//     registry's annotations, nor delete records.
//   - A tag on a trusted manifest cannot be moved or deleted, and a trusted
//     manifest cannot be deleted, until it is revoked or deleted via /v1.
//   - Anonymous callers (runtimes) see only what a runtime may load:
//     trusted manifests, what they reach, and their referrers. Everything
//     else answers 401 UNAUTHORIZED with a Basic challenge — the same answer
//     for quarantined, revoked and absent content, so an anonymous caller
//     learns nothing, while clients that hold the token (oras, crane,
//     skopeo, the conformance suite) authenticate and retry, as they do
//     for any registry. With the service token everything is readable.
type Gated struct {
	Backend
	svc *Service
}

// Gate wraps b. svc provides the clock and the log.
func (s *Service) Gate(b Backend) *Gated { return &Gated{Backend: b, svc: s} }

func anonymous(ctx context.Context) bool { return !CallerFrom(ctx).Authenticated }

// errHidden answers anonymous reads of anything a runtime may not load.
func errHidden() error {
	return oci.Errorf(oci.CodeUnauthorized, "authentication required: without the service token only trusted artifacts can be read")
}

func hidden(string, oci.Reference) error { return errHidden() }

func hiddenBlob(string, digest.Digest) error { return errHidden() }

// servableRef checks an anonymous read of a manifest reference.
func (g *Gated) servableRef(ctx context.Context, repo string, ref oci.Reference) error {
	var root digest.Digest
	ok := false
	err := g.Backend.Read(ctx, repo, func(v storage.View) error {
		d := ref.Digest
		if ref.Tag != "" {
			d, _ = v.Tag(ref.Tag)
		}
		if d != "" {
			root, ok = trustedRoot(v, d, 0)
		}
		return nil
	})
	if err != nil && !errors.Is(err, oci.ErrNameUnknown) {
		return err
	}
	if !ok {
		return hidden(repo, ref)
	}
	return g.attested(ctx, repo, []digest.Digest{root})
}

func (g *Gated) servableBlob(ctx context.Context, repo string, d digest.Digest) error {
	var roots []digest.Digest
	err := g.Backend.Read(ctx, repo, func(v storage.View) error {
		roots = blobRoots(v, d)
		return nil
	})
	if err != nil && !errors.Is(err, oci.ErrNameUnknown) {
		return err
	}
	if len(roots) == 0 {
		return hiddenBlob(repo, d)
	}
	return g.attested(ctx, repo, roots)
}

// attested passes when signed provenance is not required, or when one of
// the trusted artifacts that make something servable has a promotion
// attestation that verifies.
func (g *Gated) attested(ctx context.Context, repo string, roots []digest.Digest) error {
	var first error
	for _, root := range roots {
		err := g.svc.servableProvenance(ctx, ref{repo, root})
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return oci.Errorf(oci.CodeDenied, "%s", first.Error())
}

// ResolveManifest gates anonymous reads.
func (g *Gated) ResolveManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, error) {
	if anonymous(ctx) {
		if err := g.servableRef(ctx, repo, ref); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	return g.Backend.ResolveManifest(ctx, repo, ref)
}

// GetManifest gates anonymous reads.
func (g *Gated) GetManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, []byte, error) {
	if anonymous(ctx) {
		if err := g.servableRef(ctx, repo, ref); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
	}
	return g.Backend.GetManifest(ctx, repo, ref)
}

// StatBlob gates anonymous reads.
func (g *Gated) StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	if anonymous(ctx) {
		if err := g.servableBlob(ctx, repo, d); err != nil {
			return 0, err
		}
	}
	return g.Backend.StatBlob(ctx, repo, d)
}

// OpenBlob gates anonymous reads.
func (g *Gated) OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, int64, error) {
	if anonymous(ctx) {
		if err := g.servableBlob(ctx, repo, d); err != nil {
			return nil, 0, err
		}
	}
	return g.Backend.OpenBlob(ctx, repo, d)
}

// Tags shows anonymous callers only tags of servable manifests, and a
// repository without any as unknown.
func (g *Gated) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	if !anonymous(ctx) {
		return g.Backend.Tags(ctx, repo, last, n)
	}
	all, err := g.Backend.Tags(ctx, repo, last, -1)
	if err != nil {
		return nil, errHidden() // an absent repository answers like an untrusted one
	}
	var out []string
	err = g.Backend.Read(ctx, repo, func(v storage.View) error {
		for _, t := range all {
			if d, ok := v.Tag(t); ok && ServableManifest(v, d) {
				out = append(out, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errHidden()
	}
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// Repositories shows anonymous callers only repositories with something
// servable.
func (g *Gated) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	if !anonymous(ctx) {
		return g.Backend.Repositories(ctx, last, n)
	}
	all, err := g.Backend.Repositories(ctx, last, -1)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, repo := range all {
		any := false
		_ = g.Backend.Read(ctx, repo, func(v storage.View) error {
			any = slices.ContainsFunc(v.Manifests(), func(d digest.Digest) bool { return ServableManifest(v, d) })
			return nil
		})
		if any {
			out = append(out, repo)
			if n >= 0 && len(out) == n {
				break
			}
		}
	}
	return out, nil
}

// Referrers lists, for anonymous callers, the referrers of a servable
// subject (all of which are servable).
func (g *Gated) Referrers(ctx context.Context, repo string, subject digest.Digest) ([]ocispec.Descriptor, error) {
	descs, err := g.Backend.Referrers(ctx, repo, subject)
	if err != nil || !anonymous(ctx) {
		return descs, err
	}
	if err := g.servableRef(ctx, repo, oci.Reference{Digest: subject}); err != nil {
		return nil, err
	}
	out := []ocispec.Descriptor{}
	err = g.Backend.Read(ctx, repo, func(v storage.View) error {
		for _, d := range descs {
			if ServableManifest(v, d.Digest) {
				out = append(out, d)
			}
		}
		return nil
	})
	return out, err
}

// reserved refuses what only the registry may write.
func reserved(m *oci.Manifest) error {
	if strings.HasPrefix(m.ArtifactType, vendorTypes) {
		return oci.Errorf(oci.CodeDenied, "artifactType %s is reserved: types under %s are written only by the registry", truncate(m.ArtifactType), vendorTypes)
	}
	for k := range m.Annotations {
		if strings.HasPrefix(k, Prefix) {
			return oci.Errorf(oci.CodeDenied, "annotation %q is reserved: keys under %q are written only by the registry", truncate(k), Prefix)
		}
	}
	return nil
}

// protectTags refuses moving a tag away from a trusted manifest.
func protectTags(v storage.View, tags []string, to digest.Digest) error {
	for _, t := range tags {
		if cur, ok := v.Tag(t); ok && cur != to && stateOf(v, cur) == Trusted {
			return oci.Errorf(oci.CodeDenied, "tag %q points at trusted artifact %s; revoke or delete it first (securectl revoke), then push again", t, cur)
		}
	}
	return nil
}

var errExists = errors.New("manifest exists")

// PutManifest stores a client's manifest in state acquired, with its
// acquisition record in the same transaction. Pushing a manifest that is
// already there only moves tags.
func (g *Gated) PutManifest(ctx context.Context, repo string, m *oci.Manifest, tags []string) error {
	if err := reserved(m); err != nil {
		return err
	}
	tagMap := map[string]digest.Digest{}
	for _, t := range tags {
		tagMap[t] = m.Digest
	}
	rec := Record{Seq: 1, Action: Acquire, To: Acquired, At: g.svc.now().UTC(), Who: CallerFrom(ctx).Who, Reason: "pushed through /v2"}
	rm, err := rec.Manifest(m.Descriptor())
	if err != nil {
		return err
	}
	err = g.Backend.Commit(ctx, repo, storage.Txn{
		Put:    []*oci.Manifest{m, rm},
		Blobs:  [][]byte{emptyJSON.Data},
		Tag:    tagMap,
		Meta:   map[digest.Digest]map[string]string{m.Digest: stateMeta(nil, Acquired, rm.Digest), rm.Digest: recordMeta()},
		Create: true,
		Check: func(v storage.View) error {
			if _, ok := v.Manifest(m.Digest); ok {
				return errExists
			}
			return protectTags(v, tags, m.Digest)
		},
	})
	if errors.Is(err, errExists) {
		if len(tags) == 0 {
			return nil
		}
		return g.Backend.Commit(ctx, repo, storage.Txn{Tag: tagMap, Check: func(v storage.View) error { return protectTags(v, tags, m.Digest) }})
	}
	if err == nil {
		g.svc.log.Info("lifecycle transition", "name", repo+"@"+m.Digest.String(), "repository", repo, "digest", m.Digest,
			"action", Acquire, "from", "", "to", Acquired, "record", rm.Digest, "who", rec.Who, "reason", rec.Reason)
		g.svc.observe(ctx, Transition{Name: repo + "@" + m.Digest.String(), Repository: repo, Digest: m.Digest, Action: Acquire, To: Acquired,
			Record: rm.Digest, Who: rec.Who, Reason: rec.Reason})
		if m.Subject == nil {
			g.svc.enqueueTensors(ref{repo, m.Digest})
		}
	}
	return err
}

// DeleteTag refuses removing a tag from a trusted manifest.
func (g *Gated) DeleteTag(ctx context.Context, repo, tag string) error {
	ref := oci.Reference{Tag: tag}
	return g.Backend.Commit(ctx, repo, storage.Txn{Untag: []string{tag}, Check: func(v storage.View) error {
		cur, ok := v.Tag(tag)
		if !ok {
			return oci.Errorf(oci.CodeManifestUnknown, "manifest %s is not in repository %q", ref, repo)
		}
		if stateOf(v, cur) == Trusted {
			return oci.Errorf(oci.CodeDenied, "tag %q points at trusted artifact %s; revoke or delete it first (securectl revoke)", tag, cur)
		}
		return nil
	}})
}

// DeleteManifest removes a manifest that is not trusted, together with its
// transition records (a hard delete; /v1 delete is the soft one that keeps
// metadata and history). Records cannot be deleted on their own.
func (g *Gated) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	var records []digest.Digest
	err := g.Backend.Read(ctx, repo, func(v storage.View) error {
		records = recordsOf(v, d)
		return nil
	})
	if errors.Is(err, oci.ErrNameUnknown) {
		return oci.Errorf(oci.CodeManifestUnknown, "manifest %s is not in repository %q", d, repo)
	}
	if err != nil {
		return err
	}
	return g.Backend.Commit(ctx, repo, storage.Txn{Delete: append([]digest.Digest{d}, records...), Check: func(v storage.View) error {
		m, ok := v.Manifest(d)
		switch {
		case !ok:
			return oci.Errorf(oci.CodeManifestUnknown, "manifest %s is not in repository %q", d, repo)
		case registryMade(m):
			return oci.Errorf(oci.CodeDenied, "%s was made by the registry (a transition record or tensor manifest); it is removed only with its artifact", d)
		case stateOf(v, d) == Trusted:
			return oci.Errorf(oci.CodeDenied, "%s is trusted; revoke or delete it first (securectl revoke)", d)
		case !slices.Equal(recordsOf(v, d), records):
			return oci.Errorf(oci.CodeDenied, "%s changed state while it was being deleted; retry", d)
		}
		return nil
	}})
}

// recordsOf lists what the registry wrote about d (records, tensor
// manifests), which goes when d is deleted through /v2.
func recordsOf(v storage.View, d digest.Digest) []digest.Digest {
	var out []digest.Digest
	for _, r := range v.Referrers(d) {
		if m, ok := v.Manifest(r); ok && registryMade(m) {
			out = append(out, r)
		}
	}
	return out
}
