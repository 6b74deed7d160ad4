package lifecycle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/modelformat"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// ModelPack media types (CNCF model-spec v0.0.7): artifacts created through
// /v1 are stored in this shape, so ModelPack tooling reads them.
const (
	ArtifactTypeModel       = "application/vnd.cncf.model.manifest.v1+json"
	MediaTypeModelConfig    = "application/vnd.cncf.model.config.v1+json"
	MediaTypeModelWeightRaw = "application/vnd.cncf.model.weight.v1.raw"
	annModelFilepath        = "org.cncf.model.filepath"
)

// AllowedFormats are the formats /v1 accepts, as the predecessor did.
var AllowedFormats = []string{modelformat.GGUF, modelformat.Safetensors}

// AcquireRequest is the body of POST /v1/model/acquire (or, for a streamed
// upload, its query parameters).
type AcquireRequest struct {
	Name           string `json:"name"`
	Filename       string `json:"filename"`
	SHA256         string `json:"sha256"`
	SizeBytes      int64  `json:"size_bytes"`
	Source         string `json:"source,omitempty"`
	SourceRevision string `json:"source_revision,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

func (r *AcquireRequest) validate() error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	if r.Filename == "" || r.SHA256 == "" {
		return errorf(KindInvalid, "name, filename and sha256 are required")
	}
	if err := validateFilename(r.Filename); err != nil {
		return err
	}
	if _, err := oci.ParseDigest("sha256:" + r.SHA256); err != nil {
		return errorf(KindInvalid, "sha256 must be 64 lowercase hex characters")
	}
	if r.SizeBytes < 0 {
		return errorf(KindInvalid, "size_bytes must not be negative")
	}
	if err := boundedText("source", r.Source, 4096); err != nil {
		return err
	}
	if err := boundedText("source_revision", r.SourceRevision, 256); err != nil {
		return err
	}
	return boundedText("reason", r.Reason, 1024)
}

// validateFilename accepts a relative, clean path without "..", control
// characters or backslashes.
func validateFilename(name string) error {
	if len(name) > 1024 || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) || path.Clean(name) != name || name == "." ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
		return errorf(KindInvalid, "invalid filename %q: use a relative path inside the import directory, without '..'", truncate(name))
	}
	if hasUnsafeRune(name) {
		return errorf(KindInvalid, "invalid filename: it contains a control character or a bidirectional-formatting character")
	}
	return nil
}

// hasUnsafeRune reports control characters (which can drive terminals that
// print the text) and bidirectional formatting characters (which make a
// name display as something else).
func hasUnsafeRune(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return true
		}
	}
	return false
}

func boundedText(field, v string, max int) error {
	if len(v) > max {
		return errorf(KindInvalid, "%s is longer than %d bytes", field, max)
	}
	if hasUnsafeRune(v) {
		return errorf(KindInvalid, "%s must not contain a control character or a bidirectional-formatting character", field)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// reserve claims a name for the duration of an acquire, so two concurrent
// acquires of one name cannot both succeed.
func (s *Service) reserve(ctx context.Context, name string) (func(), error) {
	s.mu.Lock()
	_, known := s.names[name]
	busy := s.pending[name]
	if !known && !busy {
		s.pending[name] = true
	}
	s.mu.Unlock()
	if known || busy {
		return nil, s.nameTaken(ctx, name)
	}
	if _, err := s.resolve(ctx, name); err == nil { // an OCI reference of a /v2 artifact
		s.mu.Lock()
		delete(s.pending, name)
		s.mu.Unlock()
		return nil, s.nameTaken(ctx, name)
	}
	return func() {
		s.mu.Lock()
		delete(s.pending, name)
		s.mu.Unlock()
	}, nil
}

func (s *Service) nameTaken(ctx context.Context, name string) error {
	st := State("being acquired")
	if a, err := s.Get(ctx, name); err == nil {
		st = a.State
	}
	return &Refusal{Name: name, Action: Acquire, From: st}
}

// Acquire registers a new artifact in state acquired. With body == nil the
// file is taken from the import directory (the predecessor's way): the
// registry hashes it itself, refuses a mismatch, and moves it into the blob
// store without copying. Otherwise body is the file's bytes. Either way the
// format is decided from the bytes, and the artifact is stored as a
// ModelPack artifact under models/<slug>:latest.
func (s *Service) Acquire(ctx context.Context, req AcquireRequest, body io.Reader) (Artifact, error) {
	if err := req.validate(); err != nil {
		return Artifact{}, err
	}
	release, err := s.reserve(ctx, req.Name)
	if err != nil {
		return Artifact{}, err
	}
	defer release()
	repo, tag, err := s.allocate(ctx, req.Name)
	if err != nil {
		return Artifact{}, err
	}
	want := digest.NewDigestFromEncoded(digest.SHA256, req.SHA256)
	var weight ocispec.Descriptor
	var format string
	if body == nil {
		weight, format, err = s.importFile(ctx, repo, req, want)
	} else {
		weight, format, err = s.uploadFile(ctx, repo, req, want, body)
	}
	if err != nil {
		return Artifact{}, err
	}
	m, err := s.modelManifest(ctx, repo, req, weight, format)
	if err != nil {
		return Artifact{}, err
	}
	rec := Record{Seq: 1, Action: Acquire, To: Acquired, At: s.now().UTC(), Who: CallerFrom(ctx).Who, Reason: req.Reason}
	rm, err := rec.Manifest(m.Descriptor())
	if err != nil {
		return Artifact{}, err
	}
	err = s.store.Commit(ctx, repo, storage.Txn{
		Put:    []*oci.Manifest{m, rm},
		Blobs:  [][]byte{emptyJSON.Data},
		Tag:    map[string]digest.Digest{tag: m.Digest},
		Meta:   map[digest.Digest]map[string]string{m.Digest: stateMeta(nil, Acquired, rm.Digest), rm.Digest: recordMeta()},
		Create: true,
		Check: func(v storage.View) error {
			if _, ok := v.Tag(tag); ok {
				return errorf(KindConflict, "%s:%s was taken meanwhile; retry", repo, tag)
			}
			return nil
		},
	})
	if err != nil {
		return Artifact{}, err
	}
	s.mu.Lock()
	s.names[req.Name] = ref{repo, m.Digest}
	s.mu.Unlock()
	s.enqueueTensors(ref{repo, m.Digest})
	s.log.Info("lifecycle transition", "name", req.Name, "repository", repo, "digest", m.Digest, "action", Acquire,
		"from", "", "to", Acquired, "record", rm.Digest, "who", CallerFrom(ctx).Who, "reason", req.Reason)
	s.observe(ctx, Transition{Name: req.Name, Repository: repo, Digest: m.Digest, Action: Acquire, To: Acquired,
		Record: rm.Digest, Who: CallerFrom(ctx).Who, Reason: req.Reason})
	return s.Get(ctx, req.Name)
}

// allocate picks the repository and tag for a new name (see Reference).
func (s *Service) allocate(ctx context.Context, name string) (string, string, error) {
	for _, taken := range []bool{false, true} {
		repo, tag := Reference(name, taken)
		free := true
		err := s.store.Read(ctx, repo, func(v storage.View) error {
			_, exists := v.Tag(tag)
			free = !exists
			return nil
		})
		if err != nil && !errors.Is(err, oci.ErrNameUnknown) {
			return "", "", err
		}
		if free {
			return repo, tag, nil
		}
	}
	return "", "", errorf(KindConflict, "no free OCI reference for %q; choose a more distinctive name", truncate(name))
}

// checkFormat decides the format from the file's first bytes and refuses
// what /v1 does not accept, or a name that claims another format.
func checkFormat(filename string, header []byte) (string, error) {
	got := modelformat.Detect(header)
	ext := modelformat.FromName(filename)
	allowed := got == modelformat.GGUF || got == modelformat.Safetensors
	if !allowed {
		if got == modelformat.Unknown {
			return "", errorf(KindForbidden, "the content of %q is not a recognised model format; permitted: %s", truncate(filename), strings.Join(AllowedFormats, ", "))
		}
		return "", errorf(KindForbidden, "format %q not allowed; permitted: %s", got, strings.Join(AllowedFormats, ", "))
	}
	if ext != "" && ext != got {
		return "", errorf(KindForbidden, "file %q is named as %s but its bytes are %s", truncate(filename), ext, got)
	}
	return got, nil
}

// importFile hashes a file in the import directory and links it into the
// blob store. The path is resolved inside the import directory with
// os.Root, no component may be a symlink, and the file must not change
// while it is hashed.
func (s *Service) importFile(ctx context.Context, repo string, req AcquireRequest, want digest.Digest) (ocispec.Descriptor, string, error) {
	if s.files == nil || s.importDir == "" {
		return ocispec.Descriptor{}, "", errorf(KindUnavailable, "this registry has no import directory; send the file in the request body instead")
	}
	root, err := os.OpenRoot(s.importDir)
	if err != nil {
		return ocispec.Descriptor{}, "", errorf(KindUnavailable, "the import directory is not available")
	}
	defer root.Close()
	notFound := errorf(KindNotFound, "file %q not found in the import directory", truncate(req.Filename))
	parts := strings.Split(req.Filename, "/")
	for i := range parts {
		fi, err := root.Lstat(strings.Join(parts[:i+1], "/"))
		if err != nil {
			return ocispec.Descriptor{}, "", notFound
		}
		last := i == len(parts)-1
		if (!last && !fi.IsDir()) || (last && !fi.Mode().IsRegular()) {
			return ocispec.Descriptor{}, "", errorf(KindInvalid, "invalid filename %q: symlinks and special files are not accepted", truncate(req.Filename))
		}
	}
	f, err := root.OpenFile(req.Filename, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return ocispec.Descriptor{}, "", notFound
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil || !before.Mode().IsRegular() {
		return ocispec.Descriptor{}, "", notFound
	}
	header := make([]byte, modelformat.HeaderSize)
	n, _ := io.ReadFull(f, header)
	format, err := checkFormat(req.Filename, header[:n])
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	h := sha256.New()
	size, err := io.Copy(h, contextReader{ctx, f})
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	got := digest.NewDigest(digest.SHA256, h)
	after, err := f.Stat()
	if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || size != before.Size() {
		return ocispec.Descriptor{}, "", errorf(KindConflict, "file %q changed while it was being hashed; make sure nothing writes it and retry", truncate(req.Filename))
	}
	if got != want {
		return ocispec.Descriptor{}, "", errorf(KindConflict, "hash mismatch: file %q hashes to %s, not the claimed %s", truncate(req.Filename), got.Encoded(), want.Encoded())
	}
	if req.SizeBytes > 0 && req.SizeBytes != size {
		return ocispec.Descriptor{}, "", errorf(KindConflict, "size mismatch: file %q is %d bytes, not the claimed %d", truncate(req.Filename), size, req.SizeBytes)
	}
	err = s.files.ImportFile(ctx, repo, f, got, size)
	if errors.Is(err, storage.ErrCrossDevice) {
		// Not on the store's filesystem: copy through an upload, which
		// hashes the bytes again on the way in.
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			err = s.putBlob(ctx, repo, f, got)
		}
	}
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	// The bytes now belong to the store; drop the import path if it is
	// still the file that was hashed.
	if fi, err := root.Lstat(req.Filename); err == nil && os.SameFile(fi, before) {
		_ = root.Remove(req.Filename)
	}
	return ocispec.Descriptor{Digest: got, Size: size}, format, nil
}

// uploadFile stores a streamed file as a blob: hashed on the way in, and
// refused before anything is stored (not even an empty repository) on a
// digest or size mismatch or a refused format.
func (s *Service) uploadFile(ctx context.Context, repo string, req AcquireRequest, want digest.Digest, body io.Reader) (ocispec.Descriptor, string, error) {
	g := &acquireGuard{r: body, filename: req.Filename, size: req.SizeBytes}
	st, err := s.store.StartUpload(ctx, repo, digest.SHA256)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc, err := s.store.CommitUpload(ctx, repo, st.ID, -1, g, want)
	if err != nil {
		_ = s.store.CancelUpload(ctx, repo, st.ID)
		if errors.Is(err, oci.ErrDigestInvalid) {
			return ocispec.Descriptor{}, "", errorf(KindConflict, "hash mismatch: the uploaded bytes do not hash to the claimed sha256 %s; nothing was stored", want.Encoded())
		}
		return ocispec.Descriptor{}, "", err
	}
	return desc, g.format, nil
}

// acquireGuard checks a streamed file while it passes: its format from the
// first bytes, and its length against the declared size. Failing the read
// makes the upload fail, so a refused file is never stored.
type acquireGuard struct {
	r        io.Reader
	filename string
	size     int64 // declared; 0 = not declared
	n        int64
	head     []byte
	format   string
}

func (g *acquireGuard) Read(p []byte) (int, error) {
	m, err := g.r.Read(p)
	if need := modelformat.HeaderSize - len(g.head); need > 0 && m > 0 {
		g.head = append(g.head, p[:min(need, m)]...)
	}
	g.n += int64(m)
	if g.size > 0 && g.n > g.size {
		return m, errorf(KindConflict, "size mismatch: the upload is longer than the claimed %d bytes; nothing was stored", g.size)
	}
	if g.format == "" && (len(g.head) >= modelformat.HeaderSize || err == io.EOF) {
		f, ferr := checkFormat(g.filename, g.head)
		if ferr != nil {
			return m, ferr
		}
		g.format = f
	}
	if err == io.EOF && g.size > 0 && g.n != g.size {
		return m, errorf(KindConflict, "size mismatch: the upload is %d bytes, not the claimed %d; nothing was stored", g.n, g.size)
	}
	return m, err
}

// putBlob uploads r as blob d of repo.
func (s *Service) putBlob(ctx context.Context, repo string, r io.Reader, d digest.Digest) error {
	st, err := s.store.StartUpload(ctx, repo, d.Algorithm())
	if err != nil {
		return err
	}
	if _, err := s.store.CommitUpload(ctx, repo, st.ID, -1, r, d); err != nil {
		_ = s.store.CancelUpload(ctx, repo, st.ID)
		return err
	}
	return nil
}

// modelManifest stores the ModelPack config and returns the artifact's
// manifest: one raw weight layer named by the file, the immutable facts in
// config and annotations.
func (s *Service) modelManifest(ctx context.Context, repo string, req AcquireRequest, weight ocispec.Descriptor, format string) (*oci.Manifest, error) {
	now := s.now().UTC().Format(time.RFC3339)
	cfg := map[string]any{
		"descriptor": map[string]any{"name": req.Name, "createdAt": now, "sourceURL": req.Source, "revision": req.SourceRevision},
		"config":     map[string]any{"format": format},
		"modelfs":    map[string]any{"type": "layers", "diffIds": []string{weight.Digest.String()}},
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cd := digest.FromBytes(cb)
	if err := s.putBlob(ctx, repo, bytes.NewReader(cb), cd); err != nil {
		return nil, err
	}
	ann := map[string]string{annName: req.Name, annFormat: format, ocispec.AnnotationCreated: now}
	if req.Source != "" {
		ann[annSource] = req.Source
	}
	if req.SourceRevision != "" {
		ann[annRevision] = req.SourceRevision
	}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeModel,
		Config:       ocispec.Descriptor{MediaType: MediaTypeModelConfig, Digest: cd, Size: int64(len(cb))},
		Layers: []ocispec.Descriptor{{
			MediaType:   MediaTypeModelWeightRaw,
			Digest:      weight.Digest,
			Size:        weight.Size,
			Annotations: map[string]string{annModelFilepath: req.Filename, ocispec.AnnotationTitle: req.Filename},
		}},
		Annotations: ann,
	}
	body, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	return oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
}

// contextReader stops a long read when the request is cancelled.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
