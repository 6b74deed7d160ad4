package lifecycle

import (
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/storage"
)

// maxGateDepth bounds the walk up from a manifest to a trusted one (index →
// index → manifest, or referrer → subject); real graphs are two or three
// levels deep, and the bound makes a cycle harmless.
const maxGateDepth = 8

// stateOf reads the cached state of a manifest. A missing or unknown value
// is "" and never trusted.
func stateOf(v storage.View, d digest.Digest) State {
	m, ok := v.Manifest(d)
	if !ok {
		return ""
	}
	s := State(m.Meta[MetaState])
	if !s.Valid() {
		return ""
	}
	return s
}

// ServableManifest reports whether an anonymous caller (a runtime) may read
// manifest d: it is trusted, or listed by a servable index, or it refers to
// a trusted artifact (its signatures and transition records).
func ServableManifest(v storage.View, d digest.Digest) bool {
	_, ok := trustedRoot(v, d, 0)
	return ok
}

// trustedRoot finds the trusted artifact that makes manifest d servable.
func trustedRoot(v storage.View, d digest.Digest, depth int) (digest.Digest, bool) {
	if depth > maxGateDepth {
		return "", false
	}
	m, ok := v.Manifest(d)
	if !ok {
		return "", false
	}
	if stateOf(v, d) == Trusted && !registryMade(m) {
		return d, true
	}
	if m.Subject != nil && stateOf(v, m.Subject.Digest) == Trusted {
		if s, ok := v.Manifest(m.Subject.Digest); ok && !registryMade(s) {
			return m.Subject.Digest, true
		}
	}
	for _, u := range v.Users(d) {
		if root, ok := trustedRoot(v, u, depth+1); ok {
			return root, true
		}
	}
	return "", false
}

// ServableBlob reports whether an anonymous caller may read blob d: a
// servable manifest uses it.
func ServableBlob(v storage.View, d digest.Digest) bool {
	return len(blobRoots(v, d)) > 0
}

// blobRoots lists the trusted artifacts that make blob d servable.
func blobRoots(v storage.View, d digest.Digest) []digest.Digest {
	var out []digest.Digest
	for _, u := range v.Users(d) {
		if root, ok := trustedRoot(v, u, 0); ok && !slices.Contains(out, root) {
			out = append(out, root)
		}
	}
	return out
}
