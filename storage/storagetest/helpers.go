package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// SignatureType is the artifactType PushImage gives a manifest with a
// subject.
const SignatureType = "application/vnd.example.sig.v1"

// PushBlob uploads data to repo in one request and fails t unless the
// backend reports its digest and size.
func PushBlob(t testing.TB, b storage.Backend, repo string, data []byte) ocispec.Descriptor {
	t.Helper()
	desc, err := pushBlob(t.Context(), b, repo, data, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// pushBlob is PushBlob for any algorithm and goroutine.
func pushBlob(ctx context.Context, b storage.Backend, repo string, data []byte, algo digest.Algorithm) (ocispec.Descriptor, error) {
	st, err := b.StartUpload(ctx, repo, algo)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("start upload to %s: %w", repo, err)
	}
	d := algo.FromBytes(data)
	desc, err := b.CommitUpload(ctx, repo, st.ID, -1, bytes.NewReader(data), d)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("commit blob to %s: %w", repo, err)
	}
	if desc.Digest != d || desc.Size != int64(len(data)) {
		return ocispec.Descriptor{}, fmt.Errorf("commit returned %s (%d bytes), want %s (%d bytes)", desc.Digest, desc.Size, d, len(data))
	}
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(data))}, nil
}

// PushImage pushes a config, one layer per element of layers and an image
// manifest that uses them, tagged with tags. With a subject, the manifest
// is an artifact of type SignatureType that refers to it.
func PushImage(t testing.TB, b storage.Backend, repo string, subject *ocispec.Descriptor, tags []string, layers ...[]byte) *oci.Manifest {
	t.Helper()
	m, err := pushImage(t.Context(), b, repo, subject, tags, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pushImage is PushImage for any goroutine.
func pushImage(ctx context.Context, b storage.Backend, repo string, subject *ocispec.Descriptor, tags []string, layers ...[]byte) (*oci.Manifest, error) {
	cfg, err := pushBlob(ctx, b, repo, []byte(`{"architecture":"amd64","os":"linux"}`), digest.SHA256)
	if err != nil {
		return nil, err
	}
	cfg.MediaType = ocispec.MediaTypeImageConfig
	var descs []ocispec.Descriptor
	for _, l := range layers {
		d, err := pushBlob(ctx, b, repo, l, digest.SHA256)
		if err != nil {
			return nil, err
		}
		d.MediaType = ocispec.MediaTypeImageLayer
		descs = append(descs, d)
	}
	m, err := buildImage(cfg, descs, func(m *ocispec.Manifest) {
		if subject != nil {
			m.Subject, m.ArtifactType = subject, SignatureType
		}
	})
	if err != nil {
		return nil, err
	}
	if err := b.PutManifest(ctx, repo, m, tags); err != nil {
		return nil, fmt.Errorf("put manifest in %s: %w", repo, err)
	}
	return m, nil
}

// ReadBlob returns the whole content of a blob.
func ReadBlob(t testing.TB, b storage.Backend, repo string, d digest.Digest) []byte {
	t.Helper()
	f, size, err := b.OpenBlob(t.Context(), repo, d)
	if err != nil {
		t.Fatalf("open blob %s in %s: %v", d, repo, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != size {
		t.Fatalf("blob %s: OpenBlob said %d bytes, read %d", d, size, len(data))
	}
	return data
}

// WantCode fails t unless err is an *oci.Error (wrapped or not) with code.
func WantCode(t testing.TB, err error, code oci.Code) {
	t.Helper()
	var oe *oci.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

// RandomBytes returns n bytes that depend only on seed.
func RandomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// FailingReader yields the first n bytes of data and then fails with
// io.ErrUnexpectedEOF, like a client that disconnects mid-chunk.
func FailingReader(data []byte, n int) io.Reader {
	return &failingReader{data: data, n: n}
}

type failingReader struct {
	data []byte
	n    int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	m := copy(p, f.data[:min(len(f.data), f.n)])
	f.data, f.n = f.data[m:], f.n-m
	return m, nil
}

// parse validates a manifest the way the HTTP layer does before a backend
// sees it, hashing it with sha256.
func parse(t testing.TB, contentType string, body []byte) *oci.Manifest {
	t.Helper()
	return parseAs(t, contentType, body, digest.SHA256)
}

func parseAs(t testing.TB, contentType string, body []byte, algo digest.Algorithm) *oci.Manifest {
	t.Helper()
	m, err := oci.ParseManifest(contentType, body, algo)
	if err != nil {
		t.Fatalf("parse manifest %s: %v", body, err)
	}
	return m
}

// image builds an image manifest; edit, when not nil, changes it first.
func image(t testing.TB, cfg ocispec.Descriptor, layers []ocispec.Descriptor, edit func(*ocispec.Manifest)) *oci.Manifest {
	t.Helper()
	m, err := buildImage(cfg, layers, edit)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func buildImage(cfg ocispec.Descriptor, layers []ocispec.Descriptor, edit func(*ocispec.Manifest)) (*oci.Manifest, error) {
	man := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers}
	man.SchemaVersion = 2
	if man.Layers == nil {
		man.Layers = []ocispec.Descriptor{}
	}
	if edit != nil {
		edit(&man)
	}
	return encode(man)
}

// index builds an image index of children; edit, when not nil, changes it
// first.
func index(t testing.TB, edit func(*ocispec.Index), children ...ocispec.Descriptor) *oci.Manifest {
	t.Helper()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: children}
	idx.SchemaVersion = 2
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	if edit != nil {
		edit(&idx)
	}
	m, err := encode(idx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// encode turns a manifest or index into the validated form a backend gets.
func encode(v any) (*oci.Manifest, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return oci.ParseManifest("", body, digest.SHA256)
}

// emptyConfig is the OCI empty JSON descriptor, put with Txn.Blobs the
// way the lifecycle does.
var emptyConfig = ocispec.DescriptorEmptyJSON

// record builds a small artifact manifest using only the empty JSON blob,
// as the lifecycle's records do; name makes it unique.
func record(t testing.TB, name string) *oci.Manifest {
	t.Helper()
	return image(t, emptyConfig, []ocispec.Descriptor{emptyConfig}, func(m *ocispec.Manifest) {
		m.ArtifactType = "application/vnd.example.record.v1"
		m.Annotations = map[string]string{"org.example.name": name}
	})
}

func put(t testing.TB, b storage.Backend, repo string, m *oci.Manifest, tags ...string) {
	t.Helper()
	if err := b.PutManifest(t.Context(), repo, m, tags); err != nil {
		t.Fatalf("put manifest %s in %s: %v", m.Digest, repo, err)
	}
}

func commit(t testing.TB, b storage.Backend, repo string, tx storage.Txn) {
	t.Helper()
	if err := b.Commit(t.Context(), repo, tx); err != nil {
		t.Fatalf("commit to %s: %v", repo, err)
	}
}

// read runs fn with a view of repo.
func read(t testing.TB, b storage.Backend, repo string, fn func(v storage.View)) {
	t.Helper()
	if err := b.Read(t.Context(), repo, func(v storage.View) error { fn(v); return nil }); err != nil {
		t.Fatalf("read %s: %v", repo, err)
	}
}

// wantNoBlob checks that neither StatBlob nor OpenBlob finds d in repo.
func wantNoBlob(t testing.TB, b storage.Backend, repo string, d digest.Digest) {
	t.Helper()
	_, err := b.StatBlob(t.Context(), repo, d)
	WantCode(t, err, oci.CodeBlobUnknown)
	f, _, err := b.OpenBlob(t.Context(), repo, d)
	if f != nil {
		_ = f.Close()
	}
	WantCode(t, err, oci.CodeBlobUnknown)
}

// wantBlob checks that repo holds exactly data as blob d.
func wantBlob(t testing.TB, b storage.Backend, repo string, d digest.Digest, data []byte) {
	t.Helper()
	size, err := b.StatBlob(t.Context(), repo, d)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("stat blob %s in %s = %d, %v; want %d bytes", d, repo, size, err, len(data))
	}
	if !bytes.Equal(ReadBlob(t, b, repo, d), data) {
		t.Fatalf("blob %s in %s differs from what was pushed", d, repo)
	}
}

func wantTags(t testing.TB, b storage.Backend, repo string, want ...string) {
	t.Helper()
	got, err := b.Tags(t.Context(), repo, "", -1)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("tags of %s = %q, %v; want %q", repo, got, err, want)
	}
}

// wantResolve checks that tag or digest ref resolves to want.
func wantResolve(t testing.TB, b storage.Backend, repo, ref string, want digest.Digest) {
	t.Helper()
	r, err := oci.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := b.ResolveManifest(t.Context(), repo, r)
	if err != nil || desc.Digest != want {
		t.Fatalf("%s:%s resolves to %s, %v; want %s", repo, ref, desc.Digest, err, want)
	}
}

// wantUnknown checks that tag or digest ref is MANIFEST_UNKNOWN.
func wantUnknown(t testing.TB, b storage.Backend, repo, ref string) {
	t.Helper()
	r, err := oci.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.ResolveManifest(t.Context(), repo, r)
	WantCode(t, err, oci.CodeManifestUnknown)
	_, _, err = b.GetManifest(t.Context(), repo, r)
	WantCode(t, err, oci.CodeManifestUnknown)
}

// hasRepo reports whether Repositories lists name.
func hasRepo(t testing.TB, b storage.Backend, name string) bool {
	t.Helper()
	all, err := b.Repositories(t.Context(), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(all, name)
}

// sameSet reports whether two digest lists hold the same digests.
func sameSet(a, b []digest.Digest) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
