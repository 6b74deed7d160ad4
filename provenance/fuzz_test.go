package provenance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

var updateCorpus = flag.Bool("update-corpus", false,
	"sign new FuzzVerifyBundle and FuzzVerifySignedStatement seed corpora with a new key and write its public half to "+fuzzKeyFile)

// fuzzKeyFile holds the public half of the key the committed
// FuzzVerifyBundle seeds are signed with; the private half is not kept.
const fuzzKeyFile = "testdata/fuzz-trusted.pub"

func fuzzKeys(t testing.TB) PublicKeys {
	t.Helper()
	data, err := os.ReadFile(fuzzKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParsePublicKeysPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// FuzzVerifyBundle feeds untrusted bytes to VerifyBundle. A refusal must
// wrap exactly one sentinel; an acceptance must hold up when checked again
// with securesystemslib's DSSE verifier and plain encoding/json.
func FuzzVerifyBundle(f *testing.F) {
	keys := fuzzKeys(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, bundle []byte) {
		v, err := VerifyBundle(ctx, bundle, keys, testSubject, PredicateVSA)
		if err != nil {
			checkOneSentinel(t, err)
			if v != nil {
				t.Fatal("Verified and an error")
			}
			return
		}
		checkAccepted(t, keys, bundle, v)
	})
}

// FuzzVerifySignedStatement signs each input with a trusted key, so what
// VerifyBundle does after the signature check (statement and VSA parsing)
// is fuzzed too: FuzzVerifyBundle cannot change a signed payload without
// breaking its signature.
func FuzzVerifySignedStatement(f *testing.F) {
	key := mustKey(f)
	keys := PublicKeys{key.PublicKey()}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, statement []byte) {
		bundle := rawBundle(t, key, PayloadType, statement)
		v, err := VerifyBundle(ctx, bundle, keys, testSubject, PredicateVSA)
		if err != nil {
			checkOneSentinel(t, err)
			return
		}
		checkAccepted(t, keys, bundle, v)
	})
}

// checkAccepted re-derives what VerifyBundle reported for an accepted
// bundle by other means than its own.
func checkAccepted(t *testing.T, keys PublicKeys, bundle []byte, v *Verified) {
	t.Helper()
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bundle, &b); err != nil {
		t.Fatalf("accepted a bundle protojson refuses: %v", err)
	}
	env := b.GetDsseEnvelope()
	if !bytes.Equal(env.GetPayload(), v.Statement) {
		t.Fatal("Verified.Statement is not the envelope's payload")
	}
	var signer *PublicKey
	for _, k := range keys {
		if k.ID() == v.KeyID {
			signer = k
		}
	}
	if signer == nil {
		t.Fatalf("Verified.KeyID %q is not a trusted key", v.KeyID)
	}
	ev, err := dsse.NewEnvelopeVerifier(signer)
	if err != nil {
		t.Fatal(err)
	}
	sse := &dsse.Envelope{PayloadType: env.GetPayloadType(), Payload: base64.StdEncoding.EncodeToString(env.GetPayload())}
	for _, s := range env.GetSignatures() {
		sse.Signatures = append(sse.Signatures, dsse.Signature{Sig: base64.StdEncoding.EncodeToString(s.GetSig())})
	}
	if _, err := ev.Verify(context.Background(), sse); err != nil {
		t.Fatalf("accepted an envelope securesystemslib refuses: %v", err)
	}

	// What encoding/json (case-sensitive by exact key here, through a map)
	// reads must be what VerifyBundle reported.
	var st struct {
		Type          string                       `json:"_type"`
		PredicateType string                       `json:"predicateType"`
		Subject       []map[string]json.RawMessage `json:"subject"`
		Predicate     map[string]json.RawMessage   `json:"predicate"`
	}
	if err := json.Unmarshal(v.Statement, &st); err != nil {
		t.Fatalf("accepted a statement encoding/json refuses: %v", err)
	}
	if (st.Type != StatementType && st.Type != StatementTypeV01) || st.PredicateType != v.PredicateType || v.PredicateType != PredicateVSA {
		t.Fatalf("_type %q, predicateType %q; Verified says %q", st.Type, st.PredicateType, v.PredicateType)
	}
	var result string
	if err := json.Unmarshal(st.Predicate["verificationResult"], &result); err != nil || result != v.Summary.VerificationResult {
		t.Fatalf("verificationResult %q (%v); Summary says %q", result, err, v.Summary.VerificationResult)
	}
}

// seed is one corpus entry: a file name and the bundle or statement.
type seed struct {
	name string
	data []byte
}

// TestFuzzSeeds keeps the committed FuzzVerifyBundle seeds meaningful: the
// valid one still verifies (so the fuzzer starts from a success path) and
// the broken ones are refused. With -update-corpus it writes both corpora
// anew.
func TestFuzzSeeds(t *testing.T) {
	if *updateCorpus {
		writeSeeds(t)
	}
	keys := fuzzKeys(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifyBundle")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	for _, e := range entries {
		data, err := readCorpusFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = VerifyBundle(context.Background(), data, keys, testSubject, PredicateVSA)
		switch isValid := bytes.HasPrefix([]byte(e.Name()), []byte("valid")); {
		case isValid && err != nil:
			t.Errorf("seed %s: %v", e.Name(), err)
		case isValid:
			valid++
		case err == nil:
			t.Errorf("seed %s verifies", e.Name())
		}
	}
	if valid == 0 {
		t.Error("no valid seed")
	}
}

// readCorpusFile reads a one-value []byte corpus file.
func readCorpusFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	header, rest, _ := bytes.Cut(raw, []byte("\n"))
	if string(header) != "go test fuzz v1" {
		return nil, fmt.Errorf("%s: not a corpus file", path)
	}
	var s string
	if _, err := fmt.Sscanf(string(bytes.TrimSpace(rest)), "[]byte(%q)", &s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return []byte(s), nil
}

func writeCorpus(t *testing.T, target string, seeds []seed) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeSeeds(t *testing.T) {
	key, stranger := mustKey(t), mustKey(t)
	if err := os.WriteFile(fuzzKeyFile, key.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	st := mustStatement(t, testPromotion())
	good := mustSign(t, key, st)
	other := testPromotion()
	other.Subject = otherDigest
	folded := editStatement(t, st, func(m map[string]any) { predicateOf(m)["VerificationResult"] = ResultFailed })

	bundles := []seed{
		{"valid", good},
		{"valid-unknown-hint", editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetVerificationMaterial().GetPublicKey().Hint = stranger.ID()
		})},
		{"payload-flipped", editBundle(t, good, func(b *protobundle.Bundle) { b.GetDsseEnvelope().Payload[20] ^= 1 })},
		{"signature-flipped", editBundle(t, good, func(b *protobundle.Bundle) { b.GetDsseEnvelope().GetSignatures()[0].Sig[8] ^= 1 })},
		{"untrusted-key", mustSign(t, stranger, st)},
		{"two-signatures", editBundle(t, good, func(b *protobundle.Bundle) {
			env := b.GetDsseEnvelope()
			env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: []byte("bad")})
		})},
		{"keyless-certificate", editBundle(t, good, func(b *protobundle.Bundle) {
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}},
			}
		})},
		{"wrong-payload-type", rawBundle(t, key, "application/json", st)},
		{"other-subject", mustSign(t, key, mustStatement(t, other))},
		{"case-folded-key", rawBundle(t, key, PayloadType, folded)},
		{"trailing-garbage", append(append([]byte{}, good...), "}"...)},
		{"not-json", []byte("not json")},
	}
	writeCorpus(t, "FuzzVerifyBundle", bundles)

	statements := []seed{
		{"valid", st},
		{"case-folded-key", folded},
		{"other-subject", mustStatement(t, other)},
		{"statement-v0.1", editStatement(t, st, func(m map[string]any) { m["_type"] = "https://in-toto.io/Statement/v0.1" })},
	}
	writeCorpus(t, "FuzzVerifySignedStatement", statements)
	names := make([]string, 0, len(bundles))
	for _, s := range bundles {
		names = append(names, s.name)
	}
	sort.Strings(names)
	t.Logf("wrote %s and seeds %v", fuzzKeyFile, names)
}
