package registry

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// Backend is where blobs, manifests, tags and upload sessions live. Errors
// that the client caused are *oci.Error values; anything else is reported as
// an internal error. Names, references and digests are validated by the
// handlers before a Backend sees them, and validated again by the Backend.
type Backend interface {
	StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error)
	// OpenBlob returns the blob and its size. When the reader is an
	// *os.File, the response is sent with sendfile(2).
	OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, int64, error)
	DeleteBlob(ctx context.Context, repo string, d digest.Digest) error
	// MountBlob links an existing blob from repository from (any
	// repository when from is empty) and reports false when there is
	// nothing to mount.
	MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error)

	StartUpload(ctx context.Context, repo string, algo digest.Algorithm) (oci.UploadStatus, error)
	UploadStatus(ctx context.Context, repo, id string) (oci.UploadStatus, error)
	// AppendUpload stores a chunk durably. start is the chunk's first byte
	// as the client declared it, or -1.
	AppendUpload(ctx context.Context, repo, id string, start int64, body io.Reader) (oci.UploadStatus, error)
	// CommitUpload appends an optional last chunk (body may be nil),
	// verifies the digest and publishes the blob.
	CommitUpload(ctx context.Context, repo, id string, start int64, body io.Reader, d digest.Digest) (ocispec.Descriptor, error)
	CancelUpload(ctx context.Context, repo, id string) error

	ResolveManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, error)
	GetManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, []byte, error)
	PutManifest(ctx context.Context, repo string, m *oci.Manifest, tags []string) error
	DeleteManifest(ctx context.Context, repo string, d digest.Digest) error
	DeleteTag(ctx context.Context, repo, tag string) error
	// Tags and Repositories return up to n names after last, sorted; n < 0
	// means all.
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)
	Repositories(ctx context.Context, last string, n int) ([]string, error)
	Referrers(ctx context.Context, repo string, subject digest.Digest) ([]ocispec.Descriptor, error)
}
