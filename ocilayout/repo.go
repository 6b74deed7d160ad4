package ocilayout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// annotationSeq records, in index.json, the last journal transaction folded
// into it, so replay after a crash applies each transaction exactly once.
const annotationSeq = "dev.aimr.journal.seq"

// repo is one repository: an OCI image layout plus its in-memory index. The
// in-memory state is only changed after the journal line describing the
// change is on disk.
type repo struct {
	s      *Store
	name   string
	dir    string // repos/<name>
	layout string // repos/<name>/_layout

	created atomic.Bool // oci-layout exists on disk
	loaded  atomic.Bool

	mu          sync.RWMutex
	journal     *os.File
	journalSize int64
	seq         uint64 // last transaction applied
	flushedSeq  uint64 // last transaction in index.json

	manifests map[digest.Digest]*manifestEntry
	tags      map[string]digest.Digest
	referrers digestIndex // subject -> manifests referring to it
	users     digestIndex // blob or child manifest -> manifests using it
}

type digestSet map[digest.Digest]struct{}

// digestIndex maps a digest to the set of manifests pointing at it.
type digestIndex map[digest.Digest]digestSet

func (m digestIndex) add(key, d digest.Digest) {
	if m[key] == nil {
		m[key] = digestSet{}
	}
	m[key][d] = struct{}{}
}

func (m digestIndex) remove(key, d digest.Digest) {
	delete(m[key], d)
	if len(m[key]) == 0 {
		delete(m, key)
	}
}

type manifestEntry struct {
	desc ocispec.Descriptor // mediaType, digest, size
	meta map[string]string  // annotations on its index.json descriptor(s)
	tags map[string]struct{}

	detailed     bool // the fields below are filled from the manifest body
	broken       error
	artifactType string
	annotations  map[string]string
	subject      *ocispec.Descriptor
	config       *ocispec.Descriptor
	layers       []ocispec.Descriptor
	blobs        []digest.Digest // config and distributable layers
	children     []ocispec.Descriptor
}

func (e *manifestEntry) subjectDigest() digest.Digest {
	if e.subject == nil {
		return ""
	}
	return e.subject.Digest
}

func newRepo(s *Store, name string, exists bool) *repo {
	r := &repo{
		s:      s,
		name:   name,
		dir:    filepath.Join(s.dir, "repos", filepath.FromSlash(name)),
		layout: filepath.Join(s.dir, "repos", filepath.FromSlash(name), "_layout"),
	}
	r.created.Store(exists)
	return r
}

func (r *repo) existsOnDisk() bool { return r.created.Load() }

func (r *repo) blobPath(d digest.Digest) string {
	return filepath.Join(r.layout, "blobs", d.Algorithm().String(), d.Encoded())
}

func (r *repo) blobDir(d digest.Digest) string {
	return filepath.Join(r.layout, "blobs", d.Algorithm().String())
}

// ensure makes sure the repository exists (creating it if asked) and its
// index is loaded.
func (r *repo) ensure(create bool) error {
	if r.created.Load() && r.loaded.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.created.Load() {
		if !create {
			return oci.Errorf(oci.CodeNameUnknown, "repository %q is not known to this registry", r.name)
		}
		if err := r.createOnDisk(); err != nil {
			return fmt.Errorf("create repository %s: %w", r.name, err)
		}
		r.created.Store(true)
	}
	if !r.loaded.Load() {
		if err := r.load(); err != nil {
			return fmt.Errorf("load repository %s: %w", r.name, err)
		}
		r.loaded.Store(true)
	}
	return nil
}

func (r *repo) createOnDisk() error {
	for _, alg := range []string{"sha256", "sha512"} {
		if err := mkdirAllDurable(filepath.Join(r.layout, "blobs", alg), dirPerm); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(r.layout, "index.json")); errors.Is(err, fs.ErrNotExist) {
		idx, _ := json.Marshal(emptyIndex())
		if err := writeFileAtomic(filepath.Join(r.layout, "index.json"), idx, filePerm); err != nil {
			return err
		}
	}
	// oci-layout is written last: its presence marks a complete layout.
	lay, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	return writeFileAtomic(filepath.Join(r.layout, ocispec.ImageLayoutFile), lay, filePerm)
}

func emptyIndex() ocispec.Index {
	return ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
}

// load reads index.json, replays the journal and indexes every manifest.
// Called with r.mu held.
func (r *repo) load() error {
	r.manifests = map[digest.Digest]*manifestEntry{}
	r.tags = map[string]digest.Digest{}
	r.referrers = digestIndex{}
	r.users = digestIndex{}

	b, err := os.ReadFile(filepath.Join(r.layout, "index.json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return fmt.Errorf("index.json is not valid JSON (the journal cannot repair it; restore it from a backup): %w", err)
		}
		if v, ok := idx.Annotations[annotationSeq]; ok {
			if r.flushedSeq, err = strconv.ParseUint(v, 10, 64); err != nil {
				return fmt.Errorf("index.json: bad %s annotation %q", annotationSeq, v)
			}
		}
		for _, d := range idx.Manifests {
			dg, err := oci.ParseDigest(string(d.Digest))
			if err != nil {
				r.s.log.Warn("index.json entry with an invalid digest ignored", "repository", r.name, "digest", d.Digest)
				continue
			}
			meta := maps.Clone(d.Annotations)
			tag := meta[ocispec.AnnotationRefName]
			delete(meta, ocispec.AnnotationRefName)
			r.applyPut(dg, d.MediaType, d.Size, meta)
			if tag != "" {
				if oci.ValidateTag(tag) != nil {
					r.s.log.Warn("index.json tag that is not a valid OCI tag ignored", "repository", r.name, "tag", tag)
					continue
				}
				r.applyTag(tag, dg)
			}
		}
	}
	r.seq = r.flushedSeq

	jf, err := os.OpenFile(filepath.Join(r.dir, "_index.log"), os.O_RDWR|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return err
	}
	txns, good, err := readJournal(jf)
	if err != nil {
		_ = jf.Close()
		return err
	}
	if fi, err := jf.Stat(); err == nil && fi.Size() > good {
		r.s.log.Warn("dropping a torn journal line left by a crash", "repository", r.name, "bytes", fi.Size()-good)
		if err := jf.Truncate(good); err != nil {
			_ = jf.Close()
			return err
		}
	}
	r.journal, r.journalSize = jf, good
	replayed := 0
	for _, t := range txns {
		if t.Seq <= r.seq {
			continue
		}
		for _, o := range t.Ops {
			r.apply(o)
		}
		r.seq = t.Seq
		replayed++
	}
	if replayed > 0 {
		r.s.log.Info("replayed journal", "repository", r.name, "transactions", replayed)
	}
	for _, e := range r.manifests {
		r.detail(e, nil)
	}
	return nil
}

// detail fills an entry's parsed fields from m, or from the manifest body on
// disk when m is nil, and indexes its references.
func (r *repo) detail(e *manifestEntry, m *oci.Manifest) {
	if e.detailed {
		return
	}
	if m == nil {
		body, err := os.ReadFile(r.blobPath(e.desc.Digest))
		if err == nil && int64(len(body)) != e.desc.Size {
			err = fmt.Errorf("manifest blob is %d bytes, index says %d", len(body), e.desc.Size)
		}
		if err == nil {
			m, err = oci.ParseManifest(e.desc.MediaType, body, e.desc.Digest.Algorithm())
		}
		if err == nil && m.Digest != e.desc.Digest {
			err = fmt.Errorf("manifest blob hashes to %s", m.Digest)
		}
		if err != nil {
			e.broken = err
			r.s.log.Error("manifest cannot be read; it will not be served", "repository", r.name, "digest", e.desc.Digest, "error", err)
			return
		}
	}
	e.detailed = true
	e.artifactType = m.ArtifactType
	e.annotations = m.Annotations
	e.subject, e.config, e.layers, e.children = m.Subject, m.Config, m.Layers, m.Children
	if m.Subject != nil {
		r.referrers.add(m.Subject.Digest, e.desc.Digest)
	}
	for _, b := range m.Blobs {
		e.blobs = append(e.blobs, b.Digest)
		r.users.add(b.Digest, e.desc.Digest)
	}
	for _, c := range m.Children {
		r.users.add(c.Digest, e.desc.Digest)
	}
}

func (r *repo) undetail(e *manifestEntry) {
	if !e.detailed {
		return
	}
	if e.subject != nil {
		r.referrers.remove(e.subject.Digest, e.desc.Digest)
	}
	for _, b := range e.blobs {
		r.users.remove(b, e.desc.Digest)
	}
	for _, c := range e.children {
		r.users.remove(c.Digest, e.desc.Digest)
	}
	e.detailed = false
}

func (r *repo) apply(o op) {
	switch o.Op {
	case opPut:
		r.applyPut(o.Digest, o.MediaType, o.Size, o.Meta)
	case opTag:
		r.applyTag(o.Tag, o.Digest)
	case opUntag:
		r.applyUntag(o.Tag)
	case opDel:
		r.applyDel(o.Digest)
	case opMeta:
		if e := r.manifests[o.Digest]; e != nil {
			e.meta = maps.Clone(o.Meta)
		}
	}
}

func (r *repo) applyPut(d digest.Digest, mediaType string, size int64, meta map[string]string) {
	if e := r.manifests[d]; e != nil {
		if len(meta) > 0 && len(e.meta) == 0 {
			e.meta = maps.Clone(meta)
		}
		return
	}
	r.manifests[d] = &manifestEntry{
		desc: ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: size},
		meta: maps.Clone(meta),
		tags: map[string]struct{}{},
	}
}

func (r *repo) applyTag(tag string, d digest.Digest) {
	e := r.manifests[d]
	if e == nil {
		r.s.log.Warn("tag of an unknown manifest ignored", "repository", r.name, "tag", tag, "digest", d)
		return
	}
	r.applyUntag(tag)
	r.tags[tag] = d
	e.tags[tag] = struct{}{}
}

func (r *repo) applyUntag(tag string) {
	old, ok := r.tags[tag]
	if !ok {
		return
	}
	delete(r.tags, tag)
	if e := r.manifests[old]; e != nil {
		delete(e.tags, tag)
	}
}

func (r *repo) applyDel(d digest.Digest) {
	e := r.manifests[d]
	if e == nil {
		return
	}
	for t := range e.tags {
		delete(r.tags, t)
	}
	r.undetail(e)
	delete(r.manifests, d)
}

// commit makes ops durable in the journal, then applies them. Called with
// r.mu held for writing. Nothing in memory changes unless the line is on
// disk.
func (r *repo) commit(ops []op) error {
	if len(ops) == 0 {
		return nil
	}
	t := txn{Seq: r.seq + 1, Ops: ops}
	line, err := encodeTxn(t)
	if err != nil {
		return err
	}
	if _, err := r.journal.Write(line); err != nil {
		_ = r.journal.Truncate(r.journalSize)
		return fmt.Errorf("append to journal of %s: %w", r.name, err)
	}
	if err := datasync(r.journal); err != nil {
		_ = r.journal.Truncate(r.journalSize)
		return fmt.Errorf("sync journal of %s: %w", r.name, err)
	}
	r.journalSize += int64(len(line))
	r.seq = t.Seq
	for _, o := range ops {
		r.apply(o)
	}
	return nil
}

// flush folds the journal into index.json. It holds the write lock for the
// one atomic file replacement this costs.
func (r *repo) flush() error {
	if !r.loaded.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq == r.flushedSeq {
		return nil
	}
	b, err := json.MarshalIndent(r.buildIndex(), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.layout, "index.json"), append(b, '\n'), filePerm); err != nil {
		return err
	}
	r.flushedSeq = r.seq
	// index.json now records seq, so a truncate lost in a crash is harmless:
	// replay skips transactions at or below it.
	if err := r.journal.Truncate(0); err != nil {
		return err
	}
	r.journalSize = 0
	return nil
}

// buildIndex renders the layout's index.json: one descriptor per tag (with
// org.opencontainers.image.ref.name, as oras and skopeo expect), and one
// untagged descriptor for manifests without tags.
func (r *repo) buildIndex() ocispec.Index {
	idx := emptyIndex()
	idx.Annotations = map[string]string{annotationSeq: strconv.FormatUint(r.seq, 10)}
	for _, d := range slices.Sorted(maps.Keys(r.manifests)) {
		e := r.manifests[d]
		tags := slices.Sorted(maps.Keys(e.tags))
		if len(tags) == 0 {
			tags = []string{""}
		}
		for _, t := range tags {
			desc := e.desc
			desc.Annotations = maps.Clone(e.meta)
			if t != "" {
				if desc.Annotations == nil {
					desc.Annotations = map[string]string{}
				}
				desc.Annotations[ocispec.AnnotationRefName] = t
			}
			idx.Manifests = append(idx.Manifests, desc)
		}
	}
	return idx
}

func (r *repo) close() error {
	if !r.loaded.Load() {
		return nil
	}
	err := r.flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journal != nil {
		err = errors.Join(err, r.journal.Close())
		r.journal = nil
	}
	r.loaded.Store(false)
	return err
}
