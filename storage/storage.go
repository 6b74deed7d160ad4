// Package storage is the vocabulary of the storage seam: the transaction
// and read-view types that the HTTP layer, the lifecycle and every storage
// backend share, and Backend, the whole contract a backend implements (the
// consumers keep their own, narrower interfaces; backend_test.go checks that
// Backend satisfies both). It holds no behaviour; storagetest is the one
// suite every backend must pass.
package storage

import (
	"errors"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// Txn is one atomic change to a repository: either all of it is applied and
// durable, or none of it is. A backend runs Check under the repository's
// exclusive lock against the current state, then applies the changes in
// this order: Put, Delete, Untag, Tag, Meta.
type Txn struct {
	// Put stores manifests. Their blobs and index children must already be
	// in the repository (or be put in the same transaction).
	Put []*oci.Manifest
	// Blobs are small blobs (such as the empty JSON "{}") stored with the
	// transaction, so manifests in Put may use them. They are written only
	// if the transaction passes its checks.
	Blobs [][]byte
	// Delete removes manifests and every tag pointing at them.
	Delete []digest.Digest
	// Untag removes tags; Tag points tags at manifests.
	Untag []string
	Tag   map[string]digest.Digest
	// Meta replaces the index annotations of manifests (kept on their
	// descriptors in the layout's index.json; used as a cache of derived
	// state such as the lifecycle state).
	Meta map[digest.Digest]map[string]string
	// Unlink removes blobs from the repository once the change is durable,
	// even if a manifest still references them (a soft delete drops the
	// bytes but keeps the manifest).
	Unlink []digest.Digest
	// Check runs under the repository lock before anything is applied; an
	// error aborts the transaction. It must not do I/O.
	Check func(View) error
	// Create makes the repository if it does not exist.
	Create bool
}

// View is a consistent, read-only view of one repository.
type View interface {
	// Tag resolves a tag.
	Tag(tag string) (digest.Digest, bool)
	// Manifest describes a manifest of the repository.
	Manifest(d digest.Digest) (Manifest, bool)
	// Manifests lists every manifest digest of the repository.
	Manifests() []digest.Digest
	// Users lists the manifests that use d as config or layer, or list it
	// as an index child.
	Users(d digest.Digest) []digest.Digest
	// Referrers lists the manifests whose subject is d.
	Referrers(d digest.Digest) []digest.Digest
	// HasBlob reports whether the blob is stored in the repository.
	HasBlob(d digest.Digest) bool
}

// Manifest is what a backend knows about a stored manifest.
type Manifest struct {
	Descriptor   ocispec.Descriptor // mediaType, digest, size
	ArtifactType string             // artifactType, else the config media type
	Annotations  map[string]string  // the manifest's own annotations
	Meta         map[string]string  // index annotations (see Txn.Meta)
	Subject      *ocispec.Descriptor
	Config       *ocispec.Descriptor
	Layers       []ocispec.Descriptor
	Children     []ocispec.Descriptor
	Tags         []string
}

// ErrCrossDevice is returned by a backend asked to import a file by linking
// it when the file lives on another filesystem: the bytes must be copied.
var ErrCrossDevice = errors.New("the file is on another filesystem than the store")
