// Package ocilayout stores repositories as standard OCI image layouts on a
// local filesystem, so that any OCI tool can read them offline
// (`oras pull --oci-layout`, `skopeo inspect oci:`), and serves them to the
// HTTP layer through a narrow, backend-agnostic set of methods.
//
// On-disk layout under the registry directory:
//
//	registry.json                      format marker {"format":..., "version":1}
//	.lock                              flock(2): one registry process per directory
//	pool/<alg>/<hex>                   every blob and manifest, stored once (mode 0440)
//	repos/<name>/_layout/oci-layout    one OCI image layout per repository
//	repos/<name>/_layout/index.json    manifests and tags (org.opencontainers.image.ref.name)
//	repos/<name>/_layout/blobs/<alg>/<hex>   hard links into pool/: shared blobs cost no space
//	repos/<name>/_index.log            write-ahead journal of index changes (see below)
//	uploads/<id>/{state.json,data}     upload sessions (data + serialized hash state)
//	tmp/                               temp files; same filesystem, so rename/link is atomic
//
// Repository names follow the distribution-spec grammar, whose components
// never start with "_", so "_layout" and "_index.log" can never collide with a
// nested repository such as "a/blobs".
//
// Durability: a blob is written to a temp file while it is hashed, fdatasync'd,
// and only then hard-linked into pool/ and the repository (link(2) never
// replaces), followed by an fsync of both directories. Index changes are
// appended to the repository's journal (one checksummed JSON line per
// transaction, fdatasync'd) before they are acknowledged, and folded into
// index.json (temp file, fsync, rename, directory fsync) at most a second
// later and on shutdown. On start, journal lines newer than the sequence
// number recorded in index.json are replayed and a torn last line is dropped.
// A kill -9 at any moment therefore leaves every acknowledged write readable.
// Offline readers of a running registry may see an index.json that lags the
// journal by up to a second.
//
// The package never trusts a client's digest or size: every byte is hashed on
// the way in, and a mismatch leaves nothing visible. It must never build a
// path from a name, tag or digest that package oci has not validated.
package ocilayout
