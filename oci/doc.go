// Package oci holds the grammar of the OCI distribution and image specs that
// every other package relies on: repository names, tags and digests, manifest
// parsing, and the spec's error codes.
//
// It is the one place where untrusted names, references and manifest bytes are
// validated. Nothing here touches the disk or the network; callers must run
// every client-supplied name, tag or digest through this package before it is
// used to build a file path or a storage key.
package oci
