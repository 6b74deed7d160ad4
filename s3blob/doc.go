// Package s3blob stores blob bytes in an S3-compatible object store under
// their content address (blobs/<algorithm>/<hex>). It is the bytes half of
// the scale-out backend: it knows nothing about repositories, tags or
// manifests, which live in PostgreSQL.
//
// A blob becomes visible only after its digest and size have been checked
// while the bytes streamed through, so a reader never sees an object whose
// name lies about its content. The package must never buffer a whole blob
// in memory and must never log credentials.
package s3blob
