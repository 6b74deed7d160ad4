package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// Names fixed by the formats.
const (
	// StatementType is the in-toto Statement v1 _type.
	StatementType = intoto.StatementTypeUri
	// StatementTypeV01 is the in-toto Statement v0.1 _type, which cosign
	// attest writes; VerifyBundle accepts it too.
	StatementTypeV01 = "https://in-toto.io/Statement/v0.1"
	// PayloadType is the DSSE payloadType of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// PredicateVSA is the SLSA verification summary v1 predicate type, the
	// one promotion attestations use.
	PredicateVSA = "https://slsa.dev/verification_summary/v1"
	// PromotionExtensionKey names the VSA field that holds the registry's
	// promotion details. VSA consumers ignore fields they do not know.
	PromotionExtensionKey = "https://ai-model-registry.dev/promotion/v1"
	// VerifierVersionKey is the key of the registry's version in
	// verifier.version.
	VerifierVersionKey = "ai-model-registry"
	// StageLevelPrefix starts the registry's verifiedLevels names; VSA
	// reserves the SLSA_ prefix for SLSA's own levels.
	StageLevelPrefix = "AIMR_STAGE_"
)

// Verification results.
const (
	ResultPassed = "PASSED"
	ResultFailed = "FAILED"
)

// StageLevel returns the verifiedLevels name of a lifecycle stage:
// "trusted" → "AIMR_STAGE_TRUSTED".
func StageLevel(stage string) string { return StageLevelPrefix + strings.ToUpper(stage) }

// Promotion is what one promotion decision records. The subject of the
// statement is the model manifest digest.
type Promotion struct {
	Subject    digest.Digest // model manifest digest (sha256 or sha512)
	Registry   string        // host[:port] clients reach the registry at; optional
	Repository string        // repository name, e.g. "models/llama"
	Tag        string        // optional; recorded in resourceUri

	VerifierID      string    // the promoter, e.g. "https://registry.example/promoter"
	VerifierVersion string    // the registry build
	Time            time.Time // when the decision was made; stored to the second, UTC
	PolicyURI       string
	PolicyDigest    digest.Digest // optional: digest of the exact policy document
	Result          string        // ResultPassed or ResultFailed
	Levels          []string      // verifiedLevels, e.g. StageLevel("trusted")
	// InputAttestations are the manifest digests of the scanner-result
	// referrers the decision relied on.
	InputAttestations []digest.Digest

	// Extension fields.
	Actor           string // who promoted
	From, To        string // lifecycle states
	PolicyVersion   string
	ScanResults     map[string]string
	ScannerVersions map[string]string
	TensorManifest  digest.Digest // optional
	Source          string
	SourceRevision  string
}

// Summary is the VSA v1 predicate as this package writes and reads it.
type Summary struct {
	Verifier           Verifier   `json:"verifier"`
	TimeVerified       time.Time  `json:"timeVerified"`
	ResourceURI        string     `json:"resourceUri"`
	Policy             Policy     `json:"policy"`
	InputAttestations  []Resource `json:"inputAttestations,omitempty"`
	VerificationResult string     `json:"verificationResult"`
	VerifiedLevels     []string   `json:"verifiedLevels"`
	// Promotion is nil in a VSA written by someone else.
	Promotion *Extension `json:"https://ai-model-registry.dev/promotion/v1,omitempty"`
}

// Verifier is the VSA verifier: who made the decision.
type Verifier struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// Policy is the VSA policy: the exact rules the decision applied.
type Policy struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest,omitempty"`
}

// Resource is an in-toto resource descriptor with a URI and a digest.
type Resource struct {
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest"`
}

// Extension is the registry's own part of a promotion VSA, under
// PromotionExtensionKey. The JSON names match lifecycle's evidence fields.
// The policy's URI and digest are not repeated here: they are the VSA's own
// policy field, where every VSA reader looks; only its version, which VSA
// has no place for, is.
type Extension struct {
	Actor           string            `json:"actor"`
	From            string            `json:"from,omitempty"`
	To              string            `json:"to"`
	PolicyVersion   string            `json:"policy_version,omitempty"`
	ScanResults     map[string]string `json:"scan_results,omitempty"`
	ScannerVersions map[string]string `json:"scanner_versions,omitempty"`
	TensorManifest  string            `json:"tensor_manifest,omitempty"`
	Source          string            `json:"source,omitempty"`
	SourceRevision  string            `json:"source_revision,omitempty"`
}

// hostRE accepts host[:port] as a registry is addressed: DNS name or IPv4,
// or a bracketed IPv6 literal.
var hostRE = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// BuildStatement returns the in-toto Statement v1 recording p, as compact
// JSON: a single subject (name = registry/repository, digest = manifest
// digest) and a VSA v1 predicate. The same Promotion always gives the same
// bytes.
func BuildStatement(p *Promotion) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	sum := p.summary()
	raw, err := json.Marshal(sum)
	if err != nil {
		return nil, err
	}
	var pred structpb.Struct
	if err := protojson.Unmarshal(raw, &pred); err != nil {
		return nil, err
	}
	name := p.Repository
	if p.Registry != "" {
		name = p.Registry + "/" + p.Repository
	}
	st := &intoto.Statement{
		Type: StatementType,
		Subject: []*intoto.ResourceDescriptor{{
			Name:   name,
			Digest: map[string]string{p.Subject.Algorithm().String(): p.Subject.Encoded()},
		}},
		PredicateType: PredicateVSA,
		Predicate:     &pred,
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return marshalCompact(st)
}

// marshalCompact is protojson (which names _type right, unlike
// encoding/json on the generated types) without the whitespace protojson
// varies on purpose between builds, so output is stable across binaries.
func marshalCompact(m proto.Message) ([]byte, error) {
	out, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (p *Promotion) validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	checkDigest := func(field string, d digest.Digest, required bool) {
		if d == "" {
			if required {
				bad("%s is required", field)
			}
			return
		}
		if _, err := oci.ParseDigest(string(d)); err != nil {
			bad("%s: %v", field, err)
		}
	}
	checkDigest("Subject", p.Subject, true)
	if err := oci.ValidateName(p.Repository); err != nil {
		bad("Repository: %v", err)
	}
	if p.Registry != "" && !hostRE.MatchString(p.Registry) {
		bad("Registry %q is not host[:port]", p.Registry)
	}
	if p.Tag != "" {
		if err := oci.ValidateTag(p.Tag); err != nil {
			bad("Tag: %v", err)
		}
	}
	if p.VerifierID == "" {
		bad("VerifierID is required")
	}
	if p.Time.IsZero() {
		bad("Time is required")
	}
	if p.PolicyURI == "" {
		bad("PolicyURI is required")
	}
	checkDigest("PolicyDigest", p.PolicyDigest, false)
	if p.Result != ResultPassed && p.Result != ResultFailed {
		bad("Result must be %s or %s, not %q", ResultPassed, ResultFailed, p.Result)
	}
	for _, l := range p.Levels {
		if l == "" || strings.HasPrefix(l, "SLSA_") {
			bad("level %q: levels must be non-empty and must not use the reserved SLSA_ prefix", l)
		}
	}
	for i, d := range p.InputAttestations {
		checkDigest(fmt.Sprintf("InputAttestations[%d]", i), d, true)
	}
	if p.Actor == "" {
		bad("Actor is required")
	}
	if p.To == "" {
		bad("To is required")
	}
	checkDigest("TensorManifest", p.TensorManifest, false)
	if len(errs) > 0 {
		return fmt.Errorf("promotion statement: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (p *Promotion) summary() *Summary {
	s := &Summary{
		Verifier:           Verifier{ID: p.VerifierID},
		TimeVerified:       p.Time.UTC().Truncate(time.Second),
		ResourceURI:        ResourceURI(p.Registry, p.Repository, p.Subject, p.Tag),
		Policy:             Policy{URI: p.PolicyURI, Digest: digestMap(p.PolicyDigest)},
		VerificationResult: p.Result,
		VerifiedLevels:     append([]string{}, p.Levels...),
		Promotion: &Extension{
			Actor:           p.Actor,
			From:            p.From,
			To:              p.To,
			PolicyVersion:   p.PolicyVersion,
			ScanResults:     p.ScanResults,
			ScannerVersions: p.ScannerVersions,
			TensorManifest:  string(p.TensorManifest),
			Source:          p.Source,
			SourceRevision:  p.SourceRevision,
		},
	}
	if p.VerifierVersion != "" {
		s.Verifier.Version = map[string]string{VerifierVersionKey: p.VerifierVersion}
	}
	for _, d := range p.InputAttestations {
		s.InputAttestations = append(s.InputAttestations, Resource{
			URI:    ResourceURI(p.Registry, p.Repository, d, ""),
			Digest: digestMap(d),
		})
	}
	return s
}

func digestMap(d digest.Digest) map[string]string {
	if d == "" {
		return nil
	}
	return map[string]string{d.Algorithm().String(): d.Encoded()}
}

// ResourceURI returns the package URL of a manifest in the purl "oci" type:
// pkg:oci/<last path component>@sha256%3A<hex>?repository_url=<registry>/<repository>[&tag=<tag>].
// Without a registry host, repository_url is the bare repository name.
// The arguments must already be valid (see oci.ValidateName).
func ResourceURI(registry, repository string, d digest.Digest, tag string) string {
	name := repository[strings.LastIndexByte(repository, '/')+1:]
	repoURL := repository
	if registry != "" {
		repoURL = registry + "/" + repository
	}
	u := "pkg:oci/" + name + "@" + d.Algorithm().String() + "%3A" + d.Encoded() + "?repository_url=" + purlEscape(repoURL)
	if tag != "" {
		u += "&tag=" + purlEscape(tag)
	}
	return u
}

// purlEscape percent-encodes a qualifier value, leaving the characters a
// registry host and repository path are made of (as the purl examples do).
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == '~', c == '/', c == ':':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
