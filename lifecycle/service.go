package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/modelformat"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/storage"
	"github.com/ai-model-registry/ai-model-registry/tensormanifest"
)

// Store is what the lifecycle needs from storage.
type Store interface {
	Commit(ctx context.Context, repo string, tx storage.Txn) error
	Read(ctx context.Context, repo string, fn func(storage.View) error) error
	Repositories(ctx context.Context, last string, n int) ([]string, error)
	OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, int64, error)
	StartUpload(ctx context.Context, repo string, algo digest.Algorithm) (oci.UploadStatus, error)
	CommitUpload(ctx context.Context, repo, id string, start int64, body io.Reader, d digest.Digest) (ocispec.Descriptor, error)
	CancelUpload(ctx context.Context, repo, id string) error
	DeleteBlob(ctx context.Context, repo string, d digest.Digest) error
}

// Files is implemented by stores on a local filesystem: it hands runtimes
// read-only paths and moves imported files in without copying them.
type Files interface {
	// BlobPath is the absolute path of a blob's content-addressed copy.
	BlobPath(repo string, d digest.Digest) (string, error)
	// ImportFile publishes the open file f (already hashed to d) as a blob
	// of repo by linking its inode, without copying the bytes; it returns
	// storage.ErrCrossDevice when that is impossible.
	ImportFile(ctx context.Context, repo string, f *os.File, d digest.Digest, size int64) error
	// PublishRuntime makes a read-only directory in which each file of an
	// artifact appears under its name; UnpublishRuntime removes it.
	PublishRuntime(repo string, d digest.Digest, files map[string]digest.Digest) (string, error)
	UnpublishRuntime(repo string, d digest.Digest) error
}

// Config configures a Service.
type Config struct {
	Store Store
	// Files is optional: without it /v1/model/path and imports are
	// unavailable.
	Files Files
	// ImportDir is where acquire finds files by name (the predecessor's
	// way); it must be on the same filesystem as the store.
	ImportDir string
	// HashWorkers bounds parallel hashing (default: the number of CPUs).
	HashWorkers int
	// IntegrityInterval is the period of the built-in integrity check (0
	// disables it); IntegrityResultPath is where its result is written.
	IntegrityInterval   time.Duration
	IntegrityResultPath string
	// Policy decides promotions; nil means policy.Default (strict).
	Policy *policy.Policy
	// Keys signs promotion attestations and verifies them; nil disables
	// attestations (then RequireProvenance must be off).
	Keys *provenance.Keyring
	// RequireProvenance: a trusted artifact is served to runtimes only
	// with a promotion attestation that verifies with Keys.
	RequireProvenance bool
	// VerifierID and Version name this registry in attestations (the
	// VSA's verifier.id and verifier.version).
	VerifierID string
	Version    string
	// OnTransition, when set, is called after every committed transition,
	// before the call that made it returns (the audit log).
	OnTransition func(ctx context.Context, t Transition)
	Logger       *slog.Logger
	Now          func() time.Time

	// OnIntegrityCheck, when set, is called after every run of the
	// integrity check, scheduled or asked for, with its report and error
	// (metrics).
	OnIntegrityCheck func(ctx context.Context, r IntegrityReport, err error)
}

// Service performs lifecycle transitions and answers the /v1 model API.
type Service struct {
	store     Store
	files     Files
	importDir string
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	names   map[string]ref    // /v1 names of artifacts created through /v1
	pending map[string]bool   // names being acquired right now
	blocked map[string]string // names and "sha256:<hex>" the lock blocks, with the reason

	policy            *policy.Policy
	keys              *provenance.Keyring
	requireProvenance bool
	verifierID        string
	version           string
	provCache         provenanceCache
	onTransition      func(ctx context.Context, t Transition)
	onIntegrity       func(ctx context.Context, r IntegrityReport, err error)

	hash      *hasher
	integrity integrity
	jobs      jobs
	tensors   chan ref // artifacts waiting for their per-tensor manifests
}

// ref locates an artifact: a manifest in a repository.
type ref struct {
	repo   string
	digest digest.Digest
}

// Annotations the registry sets on artifacts it creates through /v1.
const (
	annName   = Prefix + "name"
	annFormat = Prefix + "format"
	// annRevision is the OCI annotation for the source revision.
	annRevision = ocispec.AnnotationRevision
	annSource   = ocispec.AnnotationSource
)

// New returns a service over cfg.Store. It reads every repository once: to
// learn the /v1 names, and to rebuild the cached state of every artifact
// from its transition records (the records are the source of truth; a
// missing or stale cache is corrected, and an artifact found without any
// record gets an acquisition record).
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("lifecycle: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HashWorkers <= 0 {
		cfg.HashWorkers = runtime.NumCPU()
	}
	s := &Service{store: cfg.Store, files: cfg.Files, importDir: cfg.ImportDir, log: cfg.Logger, now: cfg.Now,
		names: map[string]ref{}, pending: map[string]bool{}, blocked: map[string]string{}, hash: newHasher(cfg.HashWorkers), tensors: make(chan ref, tensorQueue)}
	if cfg.Policy == nil {
		cfg.Policy = policy.Default()
	}
	if cfg.RequireProvenance && cfg.Keys == nil {
		return nil, errors.New("lifecycle: signed provenance is required but there is no signing key")
	}
	if cfg.VerifierID == "" {
		cfg.VerifierID = "https://ai-model-registry.dev/registry"
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s.policy, s.keys, s.requireProvenance, s.verifierID, s.version = cfg.Policy, cfg.Keys, cfg.RequireProvenance, cfg.VerifierID, cfg.Version
	s.onTransition, s.onIntegrity = cfg.OnTransition, cfg.OnIntegrityCheck
	s.integrity.init(cfg.IntegrityInterval, cfg.IntegrityResultPath)
	repos, err := s.store.Repositories(ctx, "", -1)
	if err != nil {
		return nil, err
	}
	for _, repo := range repos {
		if err := s.rebuild(ctx, repo); err != nil {
			return nil, fmt.Errorf("rebuild lifecycle state of %s: %w", repo, err)
		}
	}
	return s, nil
}

// rebuild derives every artifact's state in repo from its records and fixes
// the cache where it differs.
func (s *Service) rebuild(ctx context.Context, repo string) error {
	var tx storage.Txn
	var unpublish []digest.Digest
	fix := 0
	err := s.store.Read(ctx, repo, func(v storage.View) error {
		tx = storage.Txn{Meta: map[digest.Digest]map[string]string{}}
		for _, d := range v.Manifests() {
			m, _ := v.Manifest(d)
			if registryMade(m) {
				if m.Meta[MetaState] != string(Trusted) {
					tx.Meta[d] = stateMeta(m.Meta, Trusted, "")
				}
				continue
			}
			if name := m.Annotations[annName]; name != "" {
				s.names[name] = ref{repo, d}
			}
			h := ReadHistory(v, d)
			if h.Err != nil {
				s.log.Error("ALERT: transition records of an artifact do not verify; it is treated as quarantined", "repository", repo, "digest", d, "error", h.Err)
			}
			if len(h.Records) == 0 {
				// Stored before it had a history (or its history was
				// removed): it starts over as acquired, on record.
				rec := Record{Seq: 1, Action: Acquire, To: Acquired, At: s.now().UTC(), Who: System.Who, Reason: "found without transition records at start"}
				rm, err := rec.Manifest(m.Descriptor)
				if err != nil {
					return err
				}
				tx.Put = append(tx.Put, rm)
				tx.Meta[rm.Digest] = recordMeta()
				tx.Meta[d] = stateMeta(m.Meta, Acquired, rm.Digest)
				continue
			}
			want := h.State()
			if want == Deleted {
				// A crash between a delete's commit and the removal of
				// its bytes must not leave them behind.
				tx.Unlink = append(tx.Unlink, droppable(v, d, m)...)
			}
			if want != Trusted && s.files != nil {
				// A crash between a commit and the removal of the
				// runtime directory must not leave it behind.
				unpublish = append(unpublish, d)
			}
			if m.Meta[MetaState] != string(want) || m.Meta[MetaHead] != h.Head().String() {
				if m.Meta[MetaState] != "" {
					s.log.Warn("cached lifecycle state differed from the records; using the records", "repository", repo, "digest", d, "cached", m.Meta[MetaState], "records", want)
				}
				tx.Meta[d] = stateMeta(m.Meta, want, h.Head())
			}
		}
		fix = len(tx.Meta) + len(tx.Unlink)
		return nil
	})
	for _, d := range unpublish {
		if uerr := s.files.UnpublishRuntime(repo, d); uerr != nil {
			s.log.Error("ALERT: could not remove the runtime directory of an artifact that is not trusted", "repository", repo, "digest", d, "error", uerr)
		}
	}
	if err != nil || fix == 0 {
		return err
	}
	if len(tx.Put) > 0 {
		tx.Blobs = [][]byte{emptyJSON.Data}
	}
	return s.store.Commit(ctx, repo, tx)
}

// ValidateName checks a /v1 name: 1-256 bytes of UTF-8 without control
// characters or surrounding spaces.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errorf(KindInvalid, "missing ?name= parameter")
	case len(name) > 256:
		return errorf(KindInvalid, "name is %d bytes; the limit is 256", len(name))
	case !utf8.ValidString(name):
		return errorf(KindInvalid, "name is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return errorf(KindInvalid, "name has leading or trailing spaces")
	}
	if hasUnsafeRune(name) {
		return errorf(KindInvalid, "name contains a control character or a bidirectional-formatting character")
	}
	return nil
}

// Reference returns the OCI reference ("repository:tag") a new /v1 name is
// stored under: models/<slug>:latest, where the slug keeps [a-z0-9] of the
// lower-cased name and turns every other run into "-". When that is taken by
// another name, the repository gets the first 8 hex digits of the name's
// SHA-256 appended (models/<slug>-<hash>:latest).
func Reference(name string, taken bool) (repo, tag string) {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimRight(b.String(), "-")
	if len(slug) > 64 {
		slug = strings.TrimRight(slug[:64], "-")
	}
	if slug == "" {
		slug = "model"
	}
	if taken {
		sum := sha256.Sum256([]byte(name))
		slug += "-" + hex.EncodeToString(sum[:4])
	}
	return "models/" + slug, "latest"
}

// resolve finds the artifact a /v1 name points at: a name given at acquire,
// or an OCI reference "repository:tag" or "repository@digest" (how
// artifacts pushed through /v2 are named).
func (s *Service) resolve(ctx context.Context, name string) (ref, error) {
	if err := ValidateName(name); err != nil {
		return ref{}, err
	}
	s.mu.Lock()
	r, ok := s.names[name]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	repo, tag, dg := splitReference(name)
	if repo == "" {
		return ref{}, errNotFound()
	}
	err := s.store.Read(ctx, repo, func(v storage.View) error {
		if tag != "" {
			d, ok := v.Tag(tag)
			if !ok {
				return errNotFound()
			}
			dg = d
		}
		if _, ok := v.Manifest(dg); !ok {
			return errNotFound()
		}
		return nil
	})
	if errors.Is(err, oci.ErrNameUnknown) {
		return ref{}, errNotFound()
	}
	return ref{repo, dg}, err
}

// splitReference parses "repo:tag" or "repo@digest"; repo is "" when name
// is neither.
func splitReference(name string) (repo, tag string, d digest.Digest) {
	if r, ds, ok := strings.Cut(name, "@"); ok {
		if oci.ValidateName(r) != nil {
			return "", "", ""
		}
		if pd, err := oci.ParseDigest(ds); err == nil {
			return r, "", pd
		}
		return "", "", ""
	}
	i := strings.LastIndex(name, ":")
	if i < 0 || oci.ValidateName(name[:i]) != nil || oci.ValidateTag(name[i+1:]) != nil {
		return "", "", ""
	}
	return name[:i], name[i+1:], ""
}

// Artifact is a model as the /v1 API shows it: the predecessor's fields,
// plus where it lives in OCI terms.
type Artifact struct {
	Name                 string            `json:"name"`
	Format               string            `json:"format"`
	Filename             string            `json:"filename"`
	SHA256               string            `json:"sha256"`
	SizeBytes            int64             `json:"size_bytes"`
	Source               string            `json:"source,omitempty"`
	PromotedAt           string            `json:"promoted_at"`
	State                State             `json:"state"`
	ScanResults          map[string]string `json:"scan_results,omitempty"`
	ScannerVersions      map[string]string `json:"scanner_versions,omitempty"`
	PolicyVersion        string            `json:"policy_version,omitempty"`
	SourceRevision       string            `json:"source_revision,omitempty"`
	GGUFGuardFingerprint json.RawMessage   `json:"gguf_guard_fingerprint,omitempty"`
	GGUFGuardManifest    string            `json:"gguf_guard_manifest,omitempty"`
	Digest               string            `json:"digest"`
	OCIReference         string            `json:"oci_reference"`
	Files                []File            `json:"files,omitempty"`
}

// File is one file of an artifact (a layer with a file name).
type File struct {
	Filename  string `json:"filename"`
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"size_bytes"`
	MediaType string `json:"media_type"`

	digest digest.Digest
}

// files lists the layers of m that carry a file name, and picks the primary
// one: the first in a model format, else the first named one.
func files(m storage.Manifest) (all []File, primary File) {
	for _, l := range m.Layers {
		name := l.Annotations[ocispec.AnnotationTitle]
		if name == "" {
			name = l.Annotations["org.cncf.model.filepath"]
		}
		if name == "" {
			continue
		}
		all = append(all, File{Filename: name, SHA256: l.Digest.Encoded(), SizeBytes: l.Size, MediaType: l.MediaType, digest: l.Digest})
	}
	for _, f := range all {
		switch modelformat.FromName(f.Filename) {
		case modelformat.GGUF, modelformat.Safetensors, modelformat.ONNX:
			return all, f
		}
	}
	if len(all) > 0 {
		return all, all[0]
	}
	if len(m.Layers) > 0 {
		l := m.Layers[0]
		return nil, File{SHA256: l.Digest.Encoded(), SizeBytes: l.Size, MediaType: l.MediaType, digest: l.Digest}
	}
	return nil, File{}
}

// nameOf is the /v1 name of a manifest: its acquire-time name, else its
// first tag, else its digest.
func nameOf(repo string, m storage.Manifest) string {
	if n := m.Annotations[annName]; n != "" {
		return n
	}
	return referenceOf(repo, m)
}

func referenceOf(repo string, m storage.Manifest) string {
	if len(m.Tags) > 0 {
		return repo + ":" + m.Tags[0]
	}
	return repo + "@" + m.Descriptor.Digest.String()
}

// artifact assembles the /v1 view of manifest d from a repository view.
func artifact(v storage.View, repo string, d digest.Digest) (Artifact, History, bool) {
	m, ok := v.Manifest(d)
	if !ok {
		return Artifact{}, History{}, false
	}
	h := ReadHistory(v, d)
	all, primary := files(m)
	a := Artifact{
		Name:           nameOf(repo, m),
		Format:         m.Annotations[annFormat],
		Filename:       primary.Filename,
		SHA256:         primary.SHA256,
		SizeBytes:      primary.SizeBytes,
		Source:         m.Annotations[annSource],
		SourceRevision: m.Annotations[annRevision],
		State:          h.State(),
		Digest:         d.String(),
		OCIReference:   referenceOf(repo, m),
	}
	if a.State == "" {
		a.State = Acquired
	}
	if a.Format == "" {
		a.Format = modelformat.FromName(primary.Filename)
	}
	if len(all) > 1 {
		a.Files = all
	}
	for _, rd := range v.Referrers(d) {
		if tm, ok := v.Manifest(rd); ok && tm.ArtifactType == tensormanifest.MediaType && tm.Annotations[annTensorLayer] == primary.digest.String() && len(tm.Layers) == 1 {
			a.GGUFGuardFingerprint = json.RawMessage(tm.Annotations[annTensorFingerprint])
			a.GGUFGuardManifest = tm.Layers[0].Digest.String()
		}
	}
	computed := a.GGUFGuardManifest != ""
	for _, r := range h.Records {
		switch {
		case r.Action == Promote:
			a.PromotedAt = r.At.UTC().Format(time.RFC3339)
			if e := r.Evidence; e != nil {
				a.ScanResults, a.ScannerVersions, a.PolicyVersion = e.ScanResults, e.ScannerVersions, e.PolicyVersion
				if !computed { // the registry's own manifest wins over a client's claim
					a.GGUFGuardFingerprint, a.GGUFGuardManifest = e.GGUFGuardFingerprint, e.GGUFGuardManifest
				}
				if e.SourceRevision != "" {
					a.SourceRevision = e.SourceRevision
				}
			}
		case a.PromotedAt == "":
			a.PromotedAt = r.At.UTC().Format(time.RFC3339) // the predecessor set it at acquisition too
		}
	}
	return a, h, true
}

// listed reports whether a manifest is shown as a model in /v1/models:
// records, referrers (signatures and other attachments) and untagged index
// children belong to another artifact.
func listed(v storage.View, m storage.Manifest) bool {
	if registryMade(m) || m.Subject != nil {
		return false
	}
	if len(m.Tags) == 0 && m.Annotations[annName] == "" && len(v.Users(m.Descriptor.Digest)) > 0 {
		return false
	}
	return true
}

// List returns every artifact, in repository and name order.
func (s *Service) List(ctx context.Context) ([]Artifact, error) {
	out := []Artifact{}
	err := s.eachRepo(ctx, func(repo string, v storage.View) {
		for _, d := range v.Manifests() {
			m, _ := v.Manifest(d)
			if !listed(v, m) {
				continue
			}
			if a, _, ok := artifact(v, repo, d); ok {
				out = append(out, a)
			}
		}
	})
	slices.SortStableFunc(out, func(a, b Artifact) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

func (s *Service) eachRepo(ctx context.Context, fn func(repo string, v storage.View)) error {
	repos, err := s.store.Repositories(ctx, "", -1)
	if err != nil {
		return err
	}
	for _, repo := range repos {
		err := s.store.Read(ctx, repo, func(v storage.View) error { fn(repo, v); return nil })
		if err != nil && !errors.Is(err, oci.ErrNameUnknown) {
			return err
		}
	}
	return nil
}

// Get returns one artifact by name.
func (s *Service) Get(ctx context.Context, name string) (Artifact, error) {
	r, err := s.resolve(ctx, name)
	if err != nil {
		return Artifact{}, err
	}
	var a Artifact
	err = s.store.Read(ctx, r.repo, func(v storage.View) error {
		var ok bool
		if a, _, ok = artifact(v, r.repo, r.digest); !ok {
			return errNotFound()
		}
		return nil
	})
	return a, err
}

// HistoryReport is the /v1/model/history answer.
type HistoryReport struct {
	Name         string   `json:"name"`
	Digest       string   `json:"digest"`
	OCIReference string   `json:"oci_reference"`
	State        State    `json:"state"`
	Chain        string   `json:"chain"` // "verified" or "broken"
	Error        string   `json:"error,omitempty"`
	Records      []Record `json:"records"`
}

// History returns an artifact's transition records, checked as a chain.
func (s *Service) History(ctx context.Context, name string) (HistoryReport, error) {
	r, err := s.resolve(ctx, name)
	if err != nil {
		return HistoryReport{}, err
	}
	var rep HistoryReport
	err = s.store.Read(ctx, r.repo, func(v storage.View) error {
		a, h, ok := artifact(v, r.repo, r.digest)
		if !ok {
			return errNotFound()
		}
		rep = HistoryReport{Name: a.Name, Digest: a.Digest, OCIReference: a.OCIReference, State: a.State, Chain: "verified", Records: h.Records}
		if h.Err != nil {
			rep.Chain, rep.Error = "broken", h.Err.Error()
		}
		if rep.Records == nil {
			rep.Records = []Record{}
		}
		return nil
	})
	return rep, err
}

// Counts is what /health reports.
type Counts struct {
	Models  int           `json:"model_count"`
	Trusted int           `json:"trusted_count"`
	States  map[State]int `json:"state_counts"`
}

// Counts counts artifacts by state.
func (s *Service) Counts(ctx context.Context) (Counts, error) {
	c := Counts{States: map[State]int{}}
	err := s.eachRepo(ctx, func(repo string, v storage.View) {
		for _, d := range v.Manifests() {
			m, _ := v.Manifest(d)
			if !listed(v, m) {
				continue
			}
			st := State(m.Meta[MetaState])
			if !st.Valid() {
				st = Acquired
			}
			c.Models++
			c.States[st]++
		}
	})
	c.Trusted = c.States[Trusted]
	return c, err
}
