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
	"github.com/ai-model-registry/ai-model-registry/storage"
)

func manifestUnknown(repo string, ref oci.Reference) error {
	return oci.Errorf(oci.CodeManifestUnknown, "manifest %s is not in repository %q", ref, repo)
}

// Commit applies a transaction to a repository atomically: manifests to put
// are written and made durable first, then, under the repository lock, the
// transaction's Check runs against the current state, references are
// verified, and every change goes into one journal line, which is the
// commit point. Nothing in memory changes unless that line is on disk.
func (s *Store) Commit(ctx context.Context, repo string, tx storage.Txn) error {
	if err := checkTxn(tx); err != nil {
		return err
	}
	r, err := s.repoFor(repo, tx)
	if err != nil {
		return err
	}
	// Check first without writing anything, so a refused change leaves no
	// trace. Then write manifest bodies before taking the lock: fsyncs are
	// slow, and the bytes are content-addressed, so writing them early is
	// harmless. Everything is checked again under the lock.
	extra := map[digest.Digest]bool{}
	for _, b := range tx.Blobs {
		extra[digest.FromBytes(b)] = true
	}
	if len(tx.Put) > 0 || len(tx.Blobs) > 0 {
		r.mu.RLock()
		_, _, err := r.plan(tx, extra)
		r.mu.RUnlock()
		if err != nil {
			return err
		}
	}
	var waits []func() error
	waitAll := func() error {
		var errs []error
		for _, w := range waits {
			errs = append(errs, w())
		}
		waits = nil
		return errors.Join(errs...)
	}
	// Blobs first and synchronously: manifests in Put are checked against
	// them under the lock below.
	for _, b := range tx.Blobs {
		w, err := s.writeBlob(r, b, digest.FromBytes(b))
		if err == nil {
			err = w()
		}
		if err != nil {
			return err
		}
	}
	for _, m := range tx.Put {
		w, err := s.writeBlob(r, m.Body, m.Digest)
		if err != nil {
			_ = waitAll()
			return err
		}
		waits = append(waits, w)
	}

	r.mu.Lock()
	ops, newPuts, err := r.plan(tx, nil)
	if err != nil {
		r.mu.Unlock()
		_ = waitAll()
		return err
	}
	// The journal line is made durable while the new manifests' directory
	// entries are fsync'd; the change is acknowledged only once both are.
	// If a crash lands in between, a manifest loads as broken (not served)
	// and a re-push repairs it.
	jerr := r.commit(ops)
	if serr := waitAll(); serr != nil {
		if jerr == nil && len(newPuts) > 0 {
			var undo []op
			for _, m := range newPuts {
				undo = append(undo, op{Op: opDel, Digest: m.Digest})
			}
			_ = r.commit(undo)
		}
		r.mu.Unlock()
		return serr
	}
	if jerr != nil {
		r.mu.Unlock()
		return jerr
	}
	for _, m := range tx.Put {
		if e := r.manifests[m.Digest]; e != nil {
			if e.broken != nil {
				e.broken = nil // the blob is back: a re-push repairs a manifest lost in a crash
			}
			r.detail(e, m)
		}
	}
	// Blobs that no manifest uses any more after a delete, and blobs the
	// transaction asks to drop.
	var unlink []digest.Digest
	for _, d := range tx.Delete {
		if len(r.users[d]) == 0 {
			unlink = append(unlink, d)
		}
	}
	unlink = append(unlink, tx.Unlink...)
	r.mu.Unlock()
	for _, d := range unlink {
		if err := s.unlinkBlob(r, d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("change committed but a blob could not be removed", "repository", repo, "digest", d, "error", err)
		}
	}
	return nil
}

func checkTxn(tx storage.Txn) error {
	for t := range tx.Tag {
		if err := oci.ValidateTag(t); err != nil {
			return err
		}
	}
	for _, t := range tx.Untag {
		if err := oci.ValidateTag(t); err != nil {
			return err
		}
	}
	for _, list := range [][]digest.Digest{tx.Delete, tx.Unlink, slices.Collect(maps.Keys(tx.Meta)), slices.Collect(maps.Values(tx.Tag))} {
		for _, d := range list {
			if _, err := oci.ParseDigest(string(d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// repoFor returns the repository a transaction applies to. A repository is
// only created for a transaction that could be accepted in it, so a refused
// push leaves no empty repository behind.
func (s *Store) repoFor(repo string, tx storage.Txn) (*repo, error) {
	r, err := s.repo(repo, false)
	if !errors.Is(err, oci.ErrNameUnknown) || !tx.Create {
		return r, err
	}
	empty := newRepo(s, repo, false)
	empty.manifests = map[digest.Digest]*manifestEntry{}
	extra := map[digest.Digest]bool{}
	for _, b := range tx.Blobs {
		extra[digest.FromBytes(b)] = true
	}
	if _, _, err := empty.plan(tx, extra); err != nil {
		return nil, err
	}
	return s.repo(repo, true)
}

// plan checks the transaction against the current state and turns it into
// journal ops. Called with r.mu held for writing.
// extra names blobs that count as present although not yet written.
func (r *repo) plan(tx storage.Txn, extra map[digest.Digest]bool) ([]op, []*oci.Manifest, error) {
	if tx.Check != nil {
		if err := tx.Check(repoView{r}); err != nil {
			return nil, nil, err
		}
	}
	ops, newPuts, err := r.planPuts(tx.Put, extra)
	if err != nil {
		return nil, nil, err
	}
	known := func(d digest.Digest) bool {
		if e := r.manifests[d]; e != nil && e.broken == nil {
			return true
		}
		return slices.ContainsFunc(tx.Put, func(m *oci.Manifest) bool { return m.Digest == d })
	}
	for _, d := range tx.Delete {
		if r.manifests[d] == nil {
			return nil, nil, manifestUnknown(r.name, oci.Reference{Digest: d})
		}
		for u := range r.users[d] {
			if !slices.Contains(tx.Delete, u) {
				return nil, nil, oci.Errorf(oci.CodeDenied, "manifest %s is listed by index %s in %q; delete the index first", d, u, r.name)
			}
		}
		ops = append(ops, op{Op: opDel, Digest: d})
	}
	for _, t := range tx.Untag {
		if _, ok := r.tags[t]; ok {
			ops = append(ops, op{Op: opUntag, Tag: t})
		}
	}
	for _, t := range slices.Sorted(maps.Keys(tx.Tag)) {
		d := tx.Tag[t]
		if !known(d) {
			return nil, nil, manifestUnknown(r.name, oci.Reference{Digest: d})
		}
		if r.tags[t] != d {
			ops = append(ops, op{Op: opTag, Tag: t, Digest: d})
		}
	}
	for _, d := range slices.Sorted(maps.Keys(tx.Meta)) {
		if !known(d) {
			return nil, nil, manifestUnknown(r.name, oci.Reference{Digest: d})
		}
		ops = append(ops, op{Op: opMeta, Digest: d, Meta: maps.Clone(tx.Meta[d])})
	}
	return ops, newPuts, nil
}

// planPuts checks that every manifest's blobs and children are present (or
// put in the same batch) and returns put ops for the new ones.
func (r *repo) planPuts(puts []*oci.Manifest, extra map[digest.Digest]bool) ([]op, []*oci.Manifest, error) {
	var ops []op
	var fresh []*oci.Manifest
	batch := map[digest.Digest]*oci.Manifest{}
	for _, m := range puts {
		batch[m.Digest] = m
	}
	for _, m := range puts {
		for _, b := range m.Blobs {
			if extra[b.Digest] {
				continue
			}
			fi, err := os.Lstat(r.blobPath(b.Digest))
			if err != nil {
				return nil, nil, &oci.Error{Code: oci.CodeManifestBlobUnknown, Status: 400,
					Message: fmt.Sprintf("manifest references blob %s, which is not in repository %q; push the blob first", b.Digest, r.name),
					Detail:  map[string]string{"digest": b.Digest.String()}}
			}
			if fi.Size() != b.Size {
				return nil, nil, oci.Errorf(oci.CodeManifestInvalid, "manifest says blob %s is %d bytes; it is %d", b.Digest, b.Size, fi.Size())
			}
		}
		for _, c := range m.Children {
			size := int64(-1)
			if e := r.manifests[c.Digest]; e != nil && e.broken == nil {
				size = e.desc.Size
			} else if bm := batch[c.Digest]; bm != nil {
				size = int64(len(bm.Body))
			}
			if size < 0 {
				return nil, nil, &oci.Error{Code: oci.CodeManifestBlobUnknown, Status: 400,
					Message: fmt.Sprintf("index references manifest %s, which is not in repository %q; push it first", c.Digest, r.name),
					Detail:  map[string]string{"digest": c.Digest.String()}}
			}
			if size != c.Size {
				return nil, nil, oci.Errorf(oci.CodeManifestInvalid, "index says manifest %s is %d bytes; it is %d", c.Digest, c.Size, size)
			}
		}
		if e := r.manifests[m.Digest]; e == nil || e.broken != nil {
			if e == nil {
				ops = append(ops, op{Op: opPut, Digest: m.Digest, MediaType: m.MediaType, Size: int64(len(m.Body))})
			}
			fresh = append(fresh, m)
		}
	}
	return ops, fresh, nil
}

// Read runs fn with a consistent view of a repository.
func (s *Store) Read(ctx context.Context, repo string, fn func(storage.View) error) error {
	r, err := s.repo(repo, false)
	if err != nil {
		return err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fn(repoView{r})
}

// repoView is a storage.View over a repository whose lock the caller holds.
type repoView struct{ r *repo }

func (v repoView) Tag(tag string) (digest.Digest, bool) {
	d, ok := v.r.tags[tag]
	return d, ok
}

func (v repoView) Manifest(d digest.Digest) (storage.Manifest, bool) {
	e := v.r.manifests[d]
	if e == nil || e.broken != nil {
		return storage.Manifest{}, false
	}
	return storage.Manifest{
		Descriptor:   e.desc,
		ArtifactType: e.artifactType,
		Annotations:  e.annotations,
		Meta:         maps.Clone(e.meta),
		Subject:      e.subject,
		Config:       e.config,
		Layers:       e.layers,
		Children:     e.children,
		Tags:         slices.Sorted(maps.Keys(e.tags)),
	}, true
}

func (v repoView) Manifests() []digest.Digest {
	out := make([]digest.Digest, 0, len(v.r.manifests))
	for d, e := range v.r.manifests {
		if e.broken == nil {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

func (v repoView) Users(d digest.Digest) []digest.Digest {
	return slices.Sorted(maps.Keys(v.r.users[d]))
}

func (v repoView) Referrers(d digest.Digest) []digest.Digest {
	return slices.Sorted(maps.Keys(v.r.referrers[d]))
}

func (v repoView) HasBlob(d digest.Digest) bool {
	fi, err := os.Lstat(v.r.blobPath(d))
	return err == nil && fi.Mode().IsRegular()
}

// PutManifest stores a validated manifest in repo and points tags at it. The
// config, layers and index children it references must already be in the
// repository (MANIFEST_BLOB_UNKNOWN otherwise); its subject need not exist.
func (s *Store) PutManifest(ctx context.Context, repo string, m *oci.Manifest, tags []string) error {
	tx := storage.Txn{Put: []*oci.Manifest{m}, Create: true}
	if len(tags) > 0 {
		tx.Tag = map[string]digest.Digest{}
		for _, t := range tags {
			tx.Tag[t] = m.Digest
		}
	}
	return s.Commit(ctx, repo, tx)
}

// TagManifest points tag at a manifest already in repo.
func (s *Store) TagManifest(ctx context.Context, repo, tag string, d digest.Digest) error {
	return s.lookupCommit(ctx, repo, oci.Reference{Digest: d}, storage.Txn{Tag: map[string]digest.Digest{tag: d}})
}

// DeleteTag removes a tag; the manifest stays reachable by digest.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := oci.ValidateTag(tag); err != nil {
		return err
	}
	ref := oci.Reference{Tag: tag}
	return s.lookupCommit(ctx, repo, ref, storage.Txn{Untag: []string{tag}, Check: func(v storage.View) error {
		if _, ok := v.Tag(tag); !ok {
			return manifestUnknown(repo, ref)
		}
		return nil
	}})
}

// DeleteManifest removes a manifest and every tag pointing at it. A manifest
// an index of the repository still lists is refused.
func (s *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	return s.lookupCommit(ctx, repo, oci.Reference{Digest: d}, storage.Txn{Delete: []digest.Digest{d}})
}

// lookupCommit commits to an existing repository, answering ref as unknown
// when the repository does not exist.
func (s *Store) lookupCommit(ctx context.Context, repo string, ref oci.Reference, tx storage.Txn) error {
	if _, err := s.lookup(repo, func() error { return manifestUnknown(repo, ref) }); err != nil {
		return err
	}
	return s.Commit(ctx, repo, tx)
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
