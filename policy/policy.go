package policy

import (
	"bytes"
	"crypto"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"
)

// Limits of a policy file. They are far above what a real policy needs and
// bound the work and memory of Parse (yaml.v3 builds a node tree of tens
// of bytes per input byte) and of Evaluate.
const (
	MaxFileBytes    = 1 << 20  // the policy file
	MaxKeyFileBytes = 64 << 10 // one public_key_file

	MaxVersionChars = 128 // version, in characters
	MaxVersionBytes = 256 // and in bytes: policy_version in a lock holds 256
	MaxNameBytes    = 128 // a scanner or key name
	MaxListEntries  = 256 // formats, media_types, licenses, a scanner's versions
	MaxSources      = 64  // sources patterns
	MaxPatternBytes = 1024
	MaxScanners     = 64 // as many as scan_results may hold
	MaxSignatures   = 32
)

// DefaultURI is URI() of the Default policy.
const DefaultURI = "builtin:default"

// DefaultVersion is the version of the Default policy, recorded as
// policy_version on promotions it allowed.
const DefaultVersion = "builtin-default-1"

// Policy is a parsed promotion policy. It is immutable and safe for
// concurrent use; get one from Default, Parse or Load. A nil or zero
// Policy allows nothing.
type Policy struct {
	uri    string
	digest digest.Digest
	r      rules
}

// rules is everything a policy file declares. A zero number, a false
// bool and a nil list mean "no such rule", which is what an absent key
// means; the parser refuses empty lists so that there is one spelling.
type rules struct {
	Version               string
	RequireQuarantine     bool
	AllowOneStepPromote   bool
	Scanners              []scannerRule
	MinPassingScanners    int
	Formats               []string
	MediaTypes            []string
	MaxSizeBytes          int64
	Sources               []string
	RequireTensorManifest bool
	Signatures            []NamedKey
	MinSignatures         int
	Licenses              []string
}

// scannerRule is one entry of scanners.
type scannerRule struct {
	Name       string
	Result     string // expected verdict, compared ASCII case-insensitively
	Versions   []string
	MinVersion string
	Required   bool
}

// NamedKey is a public key listed under signatures: its name (what the
// caller reports in Input.SignedBy once a signature made with it has
// verified), the key as canonical PEM (one "PUBLIC KEY" block, whether the
// file gave it inline or as public_key_file), and the parsed key: an
// *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey (2048 bits or
// more).
type NamedKey struct {
	Name   string
	PEM    []byte
	Public crypto.PublicKey
}

// Version is the policy's version string, recorded on every promotion as
// policy_version.
func (p *Policy) Version() string {
	if p == nil {
		return ""
	}
	return p.r.Version
}

// Digest is the sha256 of the exact bytes the policy was read from (for
// Default, of its YAML text). It names the policy precisely where two
// files might carry the same version. Keys read through public_key_file
// are not part of it; inline them as public_key when the digest must
// cover them.
func (p *Policy) Digest() digest.Digest {
	if p == nil {
		return ""
	}
	return p.digest
}

// URI says where the policy came from: the path given to Load,
// DefaultURI for Default, "" for Parse.
func (p *Policy) URI() string {
	if p == nil {
		return ""
	}
	return p.uri
}

// SignatureKeys returns the keys of the signatures rule in the file's
// order (copies: changing them does not change the policy), nil when the
// policy has none. The caller verifies the artifact's signature referrers
// against them and passes the names of the keys that verified as
// Input.SignedBy.
func (p *Policy) SignatureKeys() []NamedKey {
	if p == nil || len(p.r.Signatures) == 0 {
		return nil
	}
	out := make([]NamedKey, len(p.r.Signatures))
	for i, k := range p.r.Signatures {
		out[i] = NamedKey{Name: k.Name, PEM: bytes.Clone(k.PEM), Public: k.Public}
	}
	return out
}

// defaultRules is the strict policy used when none is configured. Hash
// verification is not a key: Evaluate checks it under every policy.
var defaultRules = rules{
	Version:             DefaultVersion,
	RequireQuarantine:   true,
	AllowOneStepPromote: false,
	MinPassingScanners:  1,
}

var defaultPolicy = sync.OnceValue(func() *Policy {
	text := marshal(&defaultRules)
	p, err := Parse(text)
	if err != nil {
		panic(fmt.Sprintf("policy: the default policy does not parse: %v", err))
	}
	p.uri = DefaultURI
	return p
})

// Default is the policy used when no policy file is configured: the
// artifact must have been quarantined (require_quarantine: true), a file
// never acquired cannot be acquired and promoted in one request
// (allow_one_step_promote: false), at least one scanner must have
// reported "pass" (min_passing_scanners: 1), and, as under every policy,
// the stored bytes must have verified against their digest
// (hash_verified). Its YAML is what (*Policy).YAML prints, its Digest the
// sha256 of that text. Dev mode does not weaken it: there is no parameter
// for that, here or anywhere in this package.
func Default() *Policy {
	return defaultPolicy()
}
