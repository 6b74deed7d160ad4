package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/strictjson"
)

const (
	// BundleMediaType is the Sigstore bundle v0.3 media type: the bundle's
	// mediaType, and the referrer's artifactType and layer media type.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// MaxBundleSize caps a bundle read by VerifyBundle. A promotion bundle
	// is about 3 KB.
	MaxBundleSize = 1 << 20

	maxBundleDepth    = 16
	maxStatementDepth = 32
)

// SignBundle signs an in-toto statement (as BuildStatement returns it) into
// a DSSE envelope and wraps it in a Sigstore bundle v0.3: verification
// material is the public-key hint signer.KeyID() (no certificate, no
// transparency-log entry, no timestamp), and the statement bytes are signed
// exactly as given. The output is compact JSON, identical for identical
// input except for the signature (ECDSA signatures are randomized).
//
// The DSSE signature's own keyid is left empty, as sigstore-go and cosign
// write it: sigstore-go skips a signature whose keyid is set and differs
// from the SSH-style fingerprint it computes, so a set keyid would make
// their verification fail.
//
// If signer is also a dsse.Verifier (a *Key is), the signature is checked
// before the bundle is returned.
func SignBundle(ctx context.Context, statement []byte, signer dsse.Signer) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := parseStatement(statement); err != nil {
		return nil, fmt.Errorf("statement to sign: %w", err)
	}
	hint, err := signer.KeyID()
	if err != nil {
		return nil, fmt.Errorf("signing key id: %w", err)
	}
	pae := dsse.PAE(PayloadType, statement)
	sig, err := signer.Sign(ctx, pae)
	if err != nil {
		return nil, fmt.Errorf("sign attestation: %w", err)
	}
	if v, ok := signer.(dsse.Verifier); ok {
		if err := v.Verify(ctx, pae, sig); err != nil {
			return nil, fmt.Errorf("sign attestation: the signer's own key rejects its signature: %w", err)
		}
	}
	out, err := marshalCompact(newBundle(hint, PayloadType, statement, sig))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxBundleSize {
		return nil, fmt.Errorf("attestation bundle would be %d bytes; the limit is %d", len(out), MaxBundleSize)
	}
	return out, nil
}

// newBundle is a v0.3 bundle with a public-key hint and a DSSE envelope
// holding the given signatures.
func newBundle(hint, payloadType string, payload []byte, sigs ...[]byte) *protobundle.Bundle {
	env := &protodsse.Envelope{Payload: payload, PayloadType: payloadType}
	for _, sig := range sigs {
		env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: sig})
	}
	return &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env},
	}
}

// Verified is what a verified bundle says.
type Verified struct {
	// KeyID is the id of the trusted key whose signature verified — never
	// just the hint the bundle claims.
	KeyID         string
	Subject       digest.Digest // the expected subject, which the statement names
	PredicateType string
	Statement     []byte          // the signed in-toto statement, as signed
	Predicate     json.RawMessage // its predicate
	// Summary is the parsed predicate when PredicateType is PredicateVSA.
	Summary *Summary
}

// VerifyBundle verifies an untrusted Sigstore bundle: at most MaxBundleSize
// bytes of strict JSON, mediaType v0.3, public-key verification material
// (certificates, i.e. keyless bundles, are refused), a DSSE envelope with
// exactly one signature over an in-toto statement that a key of keys
// produced, statement _type v1, the wanted predicate type, and a subject
// whose digest equals subject. For a VSA the predicate is parsed into
// Verified.Summary; a VSA that cannot be parsed is refused.
//
// The bundle's key hint only decides which trusted key is tried first;
// every trusted key is tried, and no key outside keys ever counts.
// Transparency-log entries and timestamps in the bundle are ignored, never
// relied on.
//
// Errors about the bundle wrap ErrTooLarge, ErrMalformed, ErrUnsupported,
// ErrUntrusted or ErrMismatch. Pass a Keyring, or PublicKeys to learn which
// of a pipeline's keys signed (Verified.KeyID).
func VerifyBundle(ctx context.Context, bundle []byte, keys KeySet, subject digest.Digest, predicateType string) (*Verified, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("verify attestation: no key set")
	}
	if _, err := oci.ParseDigest(string(subject)); err != nil {
		return nil, fmt.Errorf("verify attestation: expected subject: %w", err)
	}
	if predicateType == "" {
		return nil, errors.New("verify attestation: no predicate type given")
	}
	if len(bundle) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes; the limit is %d", ErrTooLarge, len(bundle), MaxBundleSize)
	}
	if len(bytes.TrimSpace(bundle)) == 0 {
		return nil, fmt.Errorf("%w: the bundle is empty", ErrMalformed)
	}
	if err := strictjson.Check(bundle, maxBundleDepth, nil); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, clip(err.Error()))
	}
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, clip(err.Error()))
	}
	if b.GetMediaType() != BundleMediaType {
		return nil, fmt.Errorf("%w: bundle media type %q; only %s is accepted", ErrUnsupported, clip(b.GetMediaType()), BundleMediaType)
	}
	var hint string
	switch vm := b.GetVerificationMaterial().GetContent().(type) {
	case *protobundle.VerificationMaterial_PublicKey:
		hint = vm.PublicKey.GetHint()
	case *protobundle.VerificationMaterial_Certificate, *protobundle.VerificationMaterial_X509CertificateChain:
		return nil, fmt.Errorf("%w: the bundle is signed with a certificate (keyless/Fulcio signing); only bundles signed with configured public keys are accepted", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: no verification material", ErrMalformed)
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		if b.GetMessageSignature() != nil {
			return nil, fmt.Errorf("%w: the bundle holds a message signature, not a DSSE attestation", ErrUnsupported)
		}
		return nil, fmt.Errorf("%w: no DSSE envelope", ErrMalformed)
	}
	if env.GetPayloadType() != PayloadType {
		return nil, fmt.Errorf("%w: DSSE payload type %q; only %s is accepted", ErrUnsupported, clip(env.GetPayloadType()), PayloadType)
	}
	if len(env.GetPayload()) == 0 {
		return nil, fmt.Errorf("%w: empty DSSE payload", ErrMalformed)
	}
	if n := len(env.GetSignatures()); n != 1 {
		return nil, fmt.Errorf("%w: the DSSE envelope has %d signatures; a Sigstore bundle carries exactly one", ErrMalformed, n)
	}
	sig := env.GetSignatures()[0].GetSig()
	if len(sig) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrMalformed)
	}
	key, err := findSigner(ctx, keys, hint, dsse.PAE(PayloadType, env.GetPayload()), sig)
	if err != nil {
		return nil, err
	}

	// Everything below is vouched for by a trusted key, but is still
	// checked: a trusted key signs statements about many subjects.
	payload := env.GetPayload()
	st, err := parseStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: signed statement: %s", ErrMalformed, clip(err.Error()))
	}
	if st.GetPredicateType() != predicateType {
		return nil, fmt.Errorf("%w: predicate type %q, expected %s", ErrMismatch, clip(st.GetPredicateType()), predicateType)
	}
	if !hasSubject(st, subject) {
		return nil, fmt.Errorf("%w: the statement is not about %s", ErrMismatch, subject)
	}
	var raw struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: signed statement: %s", ErrMalformed, clip(err.Error()))
	}
	v := &Verified{
		KeyID:         key.id,
		Subject:       subject,
		PredicateType: st.GetPredicateType(),
		Statement:     payload,
		Predicate:     raw.Predicate,
	}
	if v.PredicateType == PredicateVSA {
		if v.Summary, err = parseSummary(raw.Predicate); err != nil {
			return nil, fmt.Errorf("%w: verification summary: %s", ErrMalformed, clip(err.Error()))
		}
	}
	return v, nil
}

// findSigner returns the trusted key whose signature sig is. The hint is
// untrusted: it only moves the key it names (if trusted) to the front.
func findSigner(ctx context.Context, keys KeySet, hint string, pae, sig []byte) (*PublicKey, error) {
	all := keys.PublicKeys()
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: no trusted keys are configured", ErrUntrusted)
	}
	order := make([]*PublicKey, 0, len(all))
	hinted := false
	for _, k := range all {
		if hint != "" && k.id == hint && !hinted {
			order = append([]*PublicKey{k}, order...)
			hinted = true
		} else {
			order = append(order, k)
		}
	}
	for _, k := range order {
		if k.Verify(ctx, pae, sig) == nil {
			return k, nil
		}
	}
	if hinted {
		return nil, fmt.Errorf("%w: the signature verifies with none of the %d trusted keys, including key %s that the bundle names", ErrUntrusted, len(all), hint)
	}
	return nil, fmt.Errorf("%w: the signature verifies with none of the %d trusted keys, and the bundle's key hint %q names no trusted key", ErrUntrusted, len(all), clip(hint))
}

// statementKeys are the only top-level keys of a statement. protojson would
// also accept the proto field names ("type", "predicate_type"), which other
// in-toto parsers do not read; refusing them keeps every parser's view the
// same.
var statementKeys = map[string]bool{"_type": true, "subject": true, "predicateType": true, "predicate": true}

func parseStatement(payload []byte) (*intoto.Statement, error) {
	err := strictjson.Check(payload, maxStatementDepth, func(depth int, _, key string) error {
		if depth == 1 && !statementKeys[key] {
			return fmt.Errorf("unknown statement field %q", clip(key))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, err
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	// cosign attest (v2 and v3.1) still writes Statement v0.1, whose fields
	// are the ones read here; the pipeline's scan attestations are made that
	// way, so both are accepted. The registry writes v1.
	if t := st.GetType(); t != StatementType && t != StatementTypeV01 {
		return nil, fmt.Errorf("statement _type %q; only %s and %s are accepted", clip(t), StatementType, StatementTypeV01)
	}
	return &st, nil
}

func hasSubject(st *intoto.Statement, want digest.Digest) bool {
	alg, hex := want.Algorithm().String(), want.Encoded()
	for _, s := range st.GetSubject() {
		if h, ok := s.GetDigest()[alg]; ok && strings.EqualFold(h, hex) {
			return true
		}
	}
	return false
}

// summaryFields are the JSON names parseSummary decodes, by where the
// object holding them sits. encoding/json matches names case-insensitively,
// so {"verificationResult":"FAILED","VerificationResult":"PASSED"} would
// read as PASSED here and as FAILED in every other VSA reader; a key that
// case-folds to one of these names without spelling it is refused.
var summaryFields = map[summaryPlace][]string{
	{1, ""}:                    jsonNames(Summary{}),
	{2, "verifier"}:            jsonNames(Verifier{}),
	{2, "policy"}:              jsonNames(Policy{}),
	{3, "inputAttestations"}:   jsonNames(Resource{}),
	{2, PromotionExtensionKey}: jsonNames(Extension{}),
}

// summaryPlace is a strictjson.KeyCheck position: depth and parent key.
type summaryPlace struct {
	depth  int
	parent string
}

func jsonNames(v any) []string {
	t := reflect.TypeOf(v)
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

func checkSummaryKey(depth int, parent, key string) error {
	for _, f := range summaryFields[summaryPlace{depth, parent}] {
		if key != f && strings.EqualFold(key, f) {
			return fmt.Errorf("key %q must be spelled %q", clip(key), f)
		}
	}
	return nil
}

func parseSummary(pred json.RawMessage) (*Summary, error) {
	if err := strictjson.Check(pred, maxStatementDepth, checkSummaryKey); err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(pred, &s); err != nil {
		return nil, err
	}
	switch {
	case s.Verifier.ID == "":
		return nil, errors.New("verifier.id is missing")
	case s.TimeVerified.IsZero():
		return nil, errors.New("timeVerified is missing")
	case s.VerificationResult != ResultPassed && s.VerificationResult != ResultFailed:
		return nil, fmt.Errorf("verificationResult %q is neither %s nor %s", clip(s.VerificationResult), ResultPassed, ResultFailed)
	}
	return &s, nil
}

// clip shortens an untrusted string, or an error message that may quote
// one (protojson quotes unknown field names whole), at a rune boundary so
// the message stays valid UTF-8.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
