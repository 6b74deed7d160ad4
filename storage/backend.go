package storage

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// Backend is what a storage backend implements: every method the HTTP layer
// (registry.Backend) and the lifecycle (lifecycle.Store) call, so one value
// serves both. Its contract is the shared suite in package storagetest,
// which every backend must pass; the doc comments here only name the
// conditions it checks.
//
// Errors the client caused are *oci.Error values (wrapped or not) with the
// codes given below; anything else is an internal error. Capabilities only a
// local filesystem has (blob paths, importing files by link, runtime
// directories) are not part of it: they are optional interfaces of their
// consumers.
type Backend interface {
	// StatBlob returns a blob's size; BLOB_UNKNOWN when the repository
	// does not hold it.
	StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error)
	// OpenBlob returns the blob, seekable, and its size. When the reader is
	// an *os.File, the HTTP layer sends it with sendfile(2).
	OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, int64, error)
	// DeleteBlob removes a blob from a repository: BLOB_UNKNOWN when it is
	// not there, DENIED when it is a manifest or a manifest uses it.
	DeleteBlob(ctx context.Context, repo string, d digest.Digest) error
	// MountBlob links an existing blob from repository from (any
	// repository when from is empty) and reports false when there is
	// nothing to mount.
	MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error)

	// StartUpload opens an upload session hashing with algo (sha256 when
	// empty). Sessions belong to their repository: another repository's
	// session, or a finished, cancelled or invented one, is
	// BLOB_UPLOAD_UNKNOWN.
	StartUpload(ctx context.Context, repo string, algo digest.Algorithm) (oci.UploadStatus, error)
	UploadStatus(ctx context.Context, repo, id string) (oci.UploadStatus, error)
	// AppendUpload stores a chunk durably. start is the chunk's first byte
	// as the client declared it, or -1; a start other than the session's
	// offset is BLOB_UPLOAD_INVALID with status 416. A body that fails
	// part-way leaves the session as it was.
	AppendUpload(ctx context.Context, repo, id string, start int64, body io.Reader) (oci.UploadStatus, error)
	// CommitUpload appends an optional last chunk (body may be nil),
	// verifies the digest and publishes the blob. A mismatch is
	// DIGEST_INVALID, ends the session and publishes nothing.
	CommitUpload(ctx context.Context, repo, id string, start int64, body io.Reader, d digest.Digest) (ocispec.Descriptor, error)
	CancelUpload(ctx context.Context, repo, id string) error

	// ResolveManifest and GetManifest find a manifest by tag or digest
	// (MANIFEST_UNKNOWN otherwise, also in an unknown repository);
	// GetManifest returns the exact bytes that were put.
	ResolveManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, error)
	GetManifest(ctx context.Context, repo string, ref oci.Reference) (ocispec.Descriptor, []byte, error)
	// PutManifest stores a manifest and points tags at it, creating the
	// repository. Its config, layers and index children must be in the
	// repository (MANIFEST_BLOB_UNKNOWN; MANIFEST_INVALID when a size
	// differs); its subject need not be.
	PutManifest(ctx context.Context, repo string, m *oci.Manifest, tags []string) error
	// DeleteManifest removes a manifest and every tag pointing at it;
	// DENIED while an index of the repository lists it.
	DeleteManifest(ctx context.Context, repo string, d digest.Digest) error
	DeleteTag(ctx context.Context, repo, tag string) error
	// Tags and Repositories return up to n names after last, sorted; n < 0
	// means all. Tags of an unknown repository is NAME_UNKNOWN.
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)
	Repositories(ctx context.Context, last string, n int) ([]string, error)
	// Referrers lists the manifests whose subject is subject (with their
	// artifactType and annotations); an unknown repository has none.
	Referrers(ctx context.Context, repo string, subject digest.Digest) ([]ocispec.Descriptor, error)

	// Commit applies a transaction atomically and durably (see Txn). It
	// returns the error of tx.Check as it is; a repository that does not
	// exist is NAME_UNKNOWN unless tx.Create is set.
	Commit(ctx context.Context, repo string, tx Txn) error
	// Read runs fn with a consistent view of a repository (NAME_UNKNOWN
	// when there is none) and returns its error.
	Read(ctx context.Context, repo string, fn func(View) error) error
}
