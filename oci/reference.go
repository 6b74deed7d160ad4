package oci

import (
	_ "crypto/sha256" // register the hashes go-digest resolves by name
	_ "crypto/sha512"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxNameLength caps a repository name. The spec asks clients to keep
// host+name under 256 bytes; a longer name can only be an attack on paths.
const MaxNameLength = 255

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidateName checks a repository name against the distribution-spec
// grammar. Because every component must start with [a-z0-9] and "." only
// appears between alphanumerics, a valid name can never contain "..", an
// empty component, a leading "/" or a component starting with "_" — which
// is what lets storage use it (and "_"-prefixed siblings) as a path.
func ValidateName(name string) error {
	if name == "" {
		return Errorf(CodeNameInvalid, "repository name is empty")
	}
	if len(name) > MaxNameLength {
		return Errorf(CodeNameInvalid, "repository name is %d bytes; the limit is %d", len(name), MaxNameLength)
	}
	if !nameRE.MatchString(name) {
		return Errorf(CodeNameInvalid, "invalid repository name %q: use lowercase letters, digits and separators (. _ __ -) in /-separated components", truncate(name))
	}
	return nil
}

// ValidateTag checks a tag against the distribution-spec grammar.
func ValidateTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return Errorf(CodeManifestInvalid, "invalid tag %q: a tag is 1-128 characters of [A-Za-z0-9_.-] and cannot start with '.' or '-'", truncate(tag))
	}
	return nil
}

// ParseDigest parses a digest and accepts only the algorithms the registry
// stores (sha256, sha512) with lowercase hex of the exact length. Anything
// else is DIGEST_INVALID.
func ParseDigest(s string) (digest.Digest, error) {
	algo, hex, ok := strings.Cut(s, ":")
	if !ok {
		return "", Errorf(CodeDigestInvalid, "invalid digest %q: expected <algorithm>:<hex>", truncate(s))
	}
	var n int
	switch digest.Algorithm(algo) {
	case digest.SHA256:
		n = 64
	case digest.SHA512:
		n = 128
	default:
		return "", Errorf(CodeDigestInvalid, "unsupported digest algorithm %q: use sha256 or sha512", truncate(algo))
	}
	if len(hex) != n || !isLowerHex(hex) {
		return "", Errorf(CodeDigestInvalid, "invalid digest %q: %s needs %d lowercase hex characters", truncate(s), algo, n)
	}
	return digest.Digest(s), nil
}

// ParseAlgorithm accepts the digest algorithms the registry can hash with.
func ParseAlgorithm(s string) (digest.Algorithm, error) {
	switch a := digest.Algorithm(s); a {
	case digest.SHA256, digest.SHA512:
		return a, nil
	}
	return "", Errorf(CodeDigestInvalid, "unsupported digest algorithm %q: use sha256 or sha512", truncate(s))
}

// Reference is a parsed manifest reference: exactly one of Tag or Digest is set.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

func (r Reference) String() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// ParseReference parses the <reference> of a manifest URL: a digest when it
// contains ':', a tag otherwise.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if err := ValidateTag(s); err != nil {
		return Reference{}, err
	}
	return Reference{Tag: s}, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// truncate keeps hostile input from filling error messages and logs.
func truncate(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// UploadStatus describes a blob upload session.
type UploadStatus struct {
	ID string
	// Offset is the number of bytes received and stored so far; the next
	// chunk must start here.
	Offset int64
}
