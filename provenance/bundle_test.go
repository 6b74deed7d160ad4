package provenance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

var (
	testSubject = digest.Digest("sha256:" + strings.Repeat("ab", 32))
	otherDigest = digest.Digest("sha256:" + strings.Repeat("cd", 32))
)

// bundleErrors are the sentinels an error about a bundle wraps exactly one
// of.
var bundleErrors = []error{ErrTooLarge, ErrMalformed, ErrUnsupported, ErrUntrusted, ErrMismatch}

// checkOneSentinel fails unless err wraps exactly one of bundleErrors.
func checkOneSentinel(t testing.TB, err error) {
	t.Helper()
	n := 0
	for _, s := range bundleErrors {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d of the bundle sentinels, want exactly 1", err, n)
	}
}

func testPromotion() *Promotion {
	return &Promotion{
		Subject:           testSubject,
		Registry:          "registry.example:5000",
		Repository:        "models/llama",
		Tag:               "v1",
		VerifierID:        "https://registry.example/promoter",
		VerifierVersion:   "v0.9.0",
		Time:              time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600)),
		PolicyURI:         "https://registry.example/policies/default",
		PolicyDigest:      otherDigest,
		Result:            ResultPassed,
		Levels:            []string{StageLevel("trusted")},
		InputAttestations: []digest.Digest{"sha256:" + digest.Digest(strings.Repeat("01", 32))},
		Actor:             "alice",
		From:              "scanned",
		To:                "trusted",
		PolicyVersion:     "7",
		ScanResults:       map[string]string{"modelscan": "clean", "picklescan": "clean"},
		ScannerVersions:   map[string]string{"modelscan": "0.8.1", "picklescan": "0.0.26"},
		TensorManifest:    "sha256:" + digest.Digest(strings.Repeat("02", 32)),
		Source:            "https://huggingface.co/meta/llama",
		SourceRevision:    "0123abc",
	}
}

func mustKey(t testing.TB) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustStatement(t testing.TB, p *Promotion) []byte {
	t.Helper()
	st, err := BuildStatement(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustSign(t testing.TB, k *Key, statement []byte) []byte {
	t.Helper()
	b, err := SignBundle(context.Background(), statement, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawBundle signs payload as it is, with no check of the statement, so
// tests can sign what SignBundle refuses to.
func rawBundle(t testing.TB, k *Key, payloadType string, payload []byte) []byte {
	t.Helper()
	sig, err := k.Sign(context.Background(), dsse.PAE(payloadType, payload))
	if err != nil {
		t.Fatal(err)
	}
	b, err := marshalCompact(newBundle(k.ID(), payloadType, payload, sig))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editBundle parses a bundle, lets edit change it and marshals it again.
func editBundle(t testing.TB, bundle []byte, edit func(*protobundle.Bundle)) []byte {
	t.Helper()
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	edit(&b)
	out, err := marshalCompact(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// editStatement decodes a statement into generic JSON, lets edit change it
// and encodes it again.
func editStatement(t testing.TB, statement []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(statement, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func predicateOf(m map[string]any) map[string]any { return m["predicate"].(map[string]any) }

func TestVerifyBundle(t *testing.T) {
	ctx := context.Background()
	key, other, stranger, edKey := mustKey(t), mustKey(t), mustKey(t), mustEd25519Key(t)
	trusted := PublicKeys{other.PublicKey(), key.PublicKey()}
	st := mustStatement(t, testPromotion())
	good := mustSign(t, key, st)
	// A bundle whose hint names the other trusted key: the hint is a
	// claim, and a wrong claim must cost nothing but an extra try.
	misHinted := editBundle(t, good, func(b *protobundle.Bundle) {
		b.GetVerificationMaterial().GetPublicKey().Hint = other.ID()
	})

	sigOf := func(b []byte) []byte {
		var pb protobundle.Bundle
		if err := protojson.Unmarshal(b, &pb); err != nil {
			t.Fatal(err)
		}
		return pb.GetDsseEnvelope().GetSignatures()[0].GetSig()
	}
	otherSubjectSt := func() []byte {
		p := testPromotion()
		p.Subject = otherDigest
		return mustStatement(t, p)
	}()
	provenanceSt := editStatement(t, st, func(m map[string]any) {
		m["predicateType"] = "https://slsa.dev/provenance/v1"
	})
	big := append(append([]byte{}, good[:len(good)-1]...), []byte(`,"x":"`+strings.Repeat("a", MaxBundleSize)+`"}`)...)

	tests := []struct {
		name    string
		bundle  []byte
		keys    KeySet
		subject digest.Digest // testSubject when empty
		ptype   string        // PredicateVSA when empty
		wantErr error         // nil: verifies
		wantMsg string        // a part of the error message
		wantKey *Key          // the key Verified.KeyID names, when it verifies
	}{
		{name: "good", bundle: good, keys: trusted, wantKey: key},
		{name: "good, keyring", bundle: good, keys: NewKeyring(key), wantKey: key},
		{name: "good, ed25519", bundle: mustSign(t, edKey, st), keys: PublicKeys{edKey.PublicKey()}, wantKey: edKey},
		{name: "hint names another trusted key, real key present", bundle: misHinted, keys: trusted, wantKey: key},
		{name: "hint names an unknown key, real key present", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetVerificationMaterial().GetPublicKey().Hint = stranger.ID()
		}), keys: trusted, wantKey: key},
		{name: "no hint", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetVerificationMaterial().GetPublicKey().Hint = ""
		}), keys: trusted, wantKey: key},
		{name: "whitespace around the bundle", bundle: append(append([]byte("\n "), good...), "\n"...), keys: trusted, wantKey: key},

		{name: "payload byte flipped", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().Payload[10] ^= 0x01
		}), keys: trusted, wantErr: ErrUntrusted},
		{name: "signature byte flipped", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().GetSignatures()[0].Sig[8] ^= 0x01
		}), keys: trusted, wantErr: ErrUntrusted},
		{name: "subject changed after signing", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().Payload = bytes.ReplaceAll(b.GetDsseEnvelope().GetPayload(), []byte(testSubject.Encoded()), []byte(otherDigest.Encoded()))
		}), keys: trusted, subject: otherDigest, wantErr: ErrUntrusted},
		{name: "predicate type changed after signing", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().Payload = provenanceSt
		}), keys: trusted, ptype: "https://slsa.dev/provenance/v1", wantErr: ErrUntrusted},
		{name: "payload type changed after signing", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().PayloadType = "application/json"
		}), keys: trusted, wantErr: ErrUnsupported, wantMsg: `payload type "application/json"`},
		{name: "signed statement about another subject", bundle: mustSign(t, key, otherSubjectSt), keys: trusted, wantErr: ErrMismatch, wantMsg: "not about " + string(testSubject)},
		{name: "asked about another subject", bundle: good, keys: trusted, subject: otherDigest, wantErr: ErrMismatch},
		{name: "asked about a sha512 subject", bundle: good, keys: trusted, subject: digest.Digest("sha512:" + strings.Repeat("ab", 64)), wantErr: ErrMismatch},
		{name: "signed statement with another predicate type", bundle: mustSign(t, key, provenanceSt), keys: trusted, wantErr: ErrMismatch, wantMsg: "predicate type"},
		{name: "asked for another predicate type", bundle: good, keys: trusted, ptype: "https://slsa.dev/provenance/v1", wantErr: ErrMismatch},
		{name: "key not in the set", bundle: good, keys: PublicKeys{other.PublicKey(), stranger.PublicKey()}, wantErr: ErrUntrusted, wantMsg: "names no trusted key"},
		{name: "hinted trusted key does not verify", bundle: misHinted, keys: PublicKeys{other.PublicKey()}, wantErr: ErrUntrusted, wantMsg: "that the bundle names"},
		{name: "empty key set", bundle: good, keys: PublicKeys{}, wantErr: ErrUntrusted, wantMsg: "no trusted keys"},
		{name: "signature by an untrusted key, hint copied", bundle: editBundle(t, mustSign(t, stranger, st), func(b *protobundle.Bundle) {
			b.GetVerificationMaterial().GetPublicKey().Hint = key.ID()
		}), keys: trusted, wantErr: ErrUntrusted},
		{name: "keyless certificate", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: []byte("not really DER")},
			}
		}), keys: trusted, wantErr: ErrUnsupported, wantMsg: "keyless"},
		{name: "keyless certificate chain", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{
				X509CertificateChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: []byte("x")}}},
			}
		}), keys: trusted, wantErr: ErrUnsupported, wantMsg: "keyless"},
		{name: "no verification material", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.VerificationMaterial = nil
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "verification material"},
		{name: "over 1 MiB", bundle: big, keys: trusted, wantErr: ErrTooLarge},
		{name: "not JSON", bundle: []byte("\x00\x01 not json"), keys: trusted, wantErr: ErrMalformed},
		{name: "empty", bundle: nil, keys: trusted, wantErr: ErrMalformed, wantMsg: "empty"},
		{name: "whitespace only", bundle: []byte(" \n"), keys: trusted, wantErr: ErrMalformed, wantMsg: "empty"},
		{name: "JSON array", bundle: []byte(`[` + string(good) + `]`), keys: trusted, wantErr: ErrMalformed},
		{name: "trailing garbage", bundle: append(append([]byte{}, good...), "x"...), keys: trusted, wantErr: ErrMalformed, wantMsg: "after the JSON object"},
		{name: "second JSON object", bundle: append(append([]byte{}, good...), good...), keys: trusted, wantErr: ErrMalformed},
		{name: "duplicate key", bundle: append([]byte(`{"mediaType":"x",`), good[1:]...), keys: trusted, wantErr: ErrMalformed, wantMsg: "duplicate key"},
		{name: "unknown bundle field", bundle: append([]byte(`{"extra":1,`), good[1:]...), keys: trusted, wantErr: ErrMalformed},
		{name: "bundle v0.2", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.2"
		}), keys: trusted, wantErr: ErrUnsupported, wantMsg: "media type"},
		{name: "message signature", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{Signature: sigOf(good)}}
		}), keys: trusted, wantErr: ErrUnsupported, wantMsg: "message signature"},
		{name: "no content", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.Content = nil
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "no DSSE envelope"},
		{name: "empty payload", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().Payload = nil
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "empty DSSE payload"},
		{name: "empty signatures", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().Signatures = nil
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "0 signatures"},
		{name: "empty signature", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().GetSignatures()[0].Sig = nil
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "empty signature"},
		{name: "two signatures, one bad", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			env := b.GetDsseEnvelope()
			env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: []byte("bad")})
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "2 signatures"},
		{name: "two signatures, bad one first", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			env := b.GetDsseEnvelope()
			env.Signatures = append([]*protodsse.Signature{{Sig: []byte("bad")}}, env.Signatures...)
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "2 signatures"},
		{name: "two good signatures", bundle: editBundle(t, good, func(b *protobundle.Bundle) {
			env := b.GetDsseEnvelope()
			env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: sigOf(mustSign(t, other, st))})
		}), keys: trusted, wantErr: ErrMalformed, wantMsg: "2 signatures"},
		{name: "signed with another payload type", bundle: rawBundle(t, key, "application/json", st), keys: trusted, wantErr: ErrUnsupported, wantMsg: "payload type"},
		{name: "signed statement v0.1 (what cosign attest writes)", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			m["_type"] = "https://in-toto.io/Statement/v0.1"
		})), keys: trusted, wantKey: key},
		{name: "signed statement v0.2", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			m["_type"] = "https://in-toto.io/Statement/v0.2"
		})), keys: trusted, wantErr: ErrMalformed, wantMsg: "wrong statement type"},
		{name: "signed statement with proto field names", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			m["predicate_type"] = m["predicateType"]
			delete(m, "predicateType")
		})), keys: trusted, wantErr: ErrMalformed, wantMsg: "predicate_type"},
		{name: "signed statement with duplicate subject key", bundle: rawBundle(t, key, PayloadType, append([]byte(`{"subject":[],`), st[1:]...)), keys: trusted, wantErr: ErrMalformed, wantMsg: "duplicate key"},
		{name: "signed statement that is not JSON", bundle: rawBundle(t, key, PayloadType, []byte("hello")), keys: trusted, wantErr: ErrMalformed},
		{name: "signed VSA without verifier id", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			predicateOf(m)["verifier"] = map[string]any{}
		})), keys: trusted, wantErr: ErrMalformed, wantMsg: "verifier.id"},
		{name: "signed VSA with an unknown result", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			predicateOf(m)["verificationResult"] = "MAYBE"
		})), keys: trusted, wantErr: ErrMalformed, wantMsg: "MAYBE"},
		{name: "signed VSA with a case-folded twin key", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			predicateOf(m)["VerificationResult"] = ResultFailed
		})), keys: trusted, wantErr: ErrMalformed, wantMsg: `must be spelled "verificationResult"`},
		{name: "signed VSA with a case-folded extension key", bundle: rawBundle(t, key, PayloadType, editStatement(t, st, func(m map[string]any) {
			ext := predicateOf(m)[PromotionExtensionKey].(map[string]any)
			ext["ACTOR"] = "mallory"
		})), keys: trusted, wantErr: ErrMalformed, wantMsg: `must be spelled "actor"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subject, ptype := tc.subject, tc.ptype
			if subject == "" {
				subject = testSubject
			}
			if ptype == "" {
				ptype = PredicateVSA
			}
			v, err := VerifyBundle(ctx, tc.bundle, tc.keys, subject, ptype)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifyBundle: %v", err)
				}
				if v.KeyID != tc.wantKey.ID() {
					t.Errorf("KeyID = %q, want %q", v.KeyID, tc.wantKey.ID())
				}
				if v.Subject != subject || v.PredicateType != ptype || v.Summary == nil {
					t.Errorf("Verified = %+v", v)
				}
				return
			}
			t.Log(err)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifyBundle error = %v, want %v", err, tc.wantErr)
			}
			checkOneSentinel(t, err)
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if v != nil {
				t.Errorf("Verified = %+v with an error", v)
			}
		})
	}
}

func mustEd25519Key(t testing.TB) *Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyBundleArguments(t *testing.T) {
	key := mustKey(t)
	good := mustSign(t, key, mustStatement(t, testPromotion()))
	keys := PublicKeys{key.PublicKey()}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name    string
		ctx     context.Context
		keys    KeySet
		subject digest.Digest
		ptype   string
	}{
		{"cancelled context", cancelled, keys, testSubject, PredicateVSA},
		{"no key set", context.Background(), nil, testSubject, PredicateVSA},
		{"invalid subject", context.Background(), keys, "sha256:abc", PredicateVSA},
		{"uppercase subject", context.Background(), keys, digest.Digest(strings.ToUpper(string(testSubject))), PredicateVSA},
		{"no predicate type", context.Background(), keys, testSubject, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyBundle(tc.ctx, good, tc.keys, tc.subject, tc.ptype)
			if err == nil {
				t.Fatal("VerifyBundle accepted bad arguments")
			}
			for _, s := range bundleErrors {
				if errors.Is(err, s) {
					t.Errorf("error %q about the arguments wraps %v", err, s)
				}
			}
		})
	}
}

func TestVerifiedContent(t *testing.T) {
	key := mustKey(t)
	p := testPromotion()
	st := mustStatement(t, p)
	v, err := VerifyBundle(context.Background(), mustSign(t, key, st), PublicKeys{key.PublicKey()}, testSubject, PredicateVSA)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Statement, st) {
		t.Error("Verified.Statement is not the signed statement")
	}
	var pred map[string]any
	if err := json.Unmarshal(v.Predicate, &pred); err != nil {
		t.Fatalf("Verified.Predicate: %v", err)
	}
	if pred["verificationResult"] != ResultPassed {
		t.Errorf("Predicate = %s", v.Predicate)
	}
	want := p.summary()
	gotJSON, _ := json.Marshal(v.Summary)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("Summary =\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

// TestVerifyBundleOtherPredicate shows that VerifyBundle is not tied to the
// VSA: any in-toto predicate verifies, without a Summary.
func TestVerifyBundleOtherPredicate(t *testing.T) {
	key := mustKey(t)
	const ptype = "https://model_signing/signature/v1.0"
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"` + testSubject.Encoded() + `"}}],"predicateType":"` + ptype + `","predicate":{"x":1}}`)
	v, err := VerifyBundle(context.Background(), mustSign(t, key, st), PublicKeys{key.PublicKey()}, testSubject, ptype)
	if err != nil {
		t.Fatal(err)
	}
	if v.Summary != nil || string(v.Predicate) != `{"x":1}` {
		t.Errorf("Verified = %+v", v)
	}
}

func TestSignBundle(t *testing.T) {
	ctx := context.Background()
	key := mustKey(t)
	st := mustStatement(t, testPromotion())
	out := mustSign(t, key, st)

	// The shape cosign and sigstore-go read, checked on the raw JSON
	// rather than through the proto types this package writes it with.
	var raw struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial struct {
			PublicKey struct {
				Hint string `json:"hint"`
			} `json:"publicKey"`
		} `json:"verificationMaterial"`
		DsseEnvelope struct {
			Payload     []byte `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig   []byte `json:"sig"`
				KeyID string `json:"keyid"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	switch {
	case raw.MediaType != "application/vnd.dev.sigstore.bundle.v0.3+json":
		t.Errorf("mediaType = %q", raw.MediaType)
	case raw.VerificationMaterial.PublicKey.Hint != key.ID():
		t.Errorf("hint = %q, want %q", raw.VerificationMaterial.PublicKey.Hint, key.ID())
	case raw.DsseEnvelope.PayloadType != "application/vnd.in-toto+json":
		t.Errorf("payloadType = %q", raw.DsseEnvelope.PayloadType)
	case !bytes.Equal(raw.DsseEnvelope.Payload, st):
		t.Error("payload is not the statement as given")
	case len(raw.DsseEnvelope.Signatures) != 1 || raw.DsseEnvelope.Signatures[0].KeyID != "":
		t.Errorf("signatures = %+v, want one without keyid", raw.DsseEnvelope.Signatures)
	}
	if bytes.ContainsAny(out, "\n\t") {
		t.Error("bundle is not compact JSON")
	}

	// The envelope is plain DSSE: securesystemslib's verifier accepts it.
	env := &dsse.Envelope{
		PayloadType: raw.DsseEnvelope.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(raw.DsseEnvelope.Payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(raw.DsseEnvelope.Signatures[0].Sig)}},
	}
	ev, err := dsse.NewEnvelopeVerifier(key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(ctx, env); err != nil {
		t.Errorf("securesystemslib dsse rejects the envelope: %v", err)
	}

	if _, err := SignBundle(ctx, []byte(`{"_type":"x"}`), key); err == nil {
		t.Error("SignBundle signed an invalid statement")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := SignBundle(cancelled, st, key); !errors.Is(err, context.Canceled) {
		t.Errorf("SignBundle with a cancelled context: %v", err)
	}
	if _, err := SignBundle(ctx, st, lyingSigner{key}); err == nil || !strings.Contains(err.Error(), "rejects its signature") {
		t.Errorf("SignBundle with a broken signer: %v", err)
	}
}

// lyingSigner signs with a key but verifies with a fresh one, as a
// misconfigured KMS signer could.
type lyingSigner struct{ *Key }

func (l lyingSigner) Verify(ctx context.Context, data, sig []byte) error {
	return errors.New("wrong key")
}

// TestVerifyBundleErrorLength: an error message quotes untrusted input only
// in part, so a hostile bundle cannot flood the logs.
func TestVerifyBundleErrorLength(t *testing.T) {
	key := mustKey(t)
	long := strings.Repeat("é", 300<<10)
	for name, b := range map[string][]byte{
		"unknown field": []byte(`{"` + long + `":1}`),
		"media type":    []byte(`{"mediaType":"` + long + `"}`),
		"payload type": editBundle(t, mustSign(t, key, mustStatement(t, testPromotion())), func(b *protobundle.Bundle) {
			b.GetDsseEnvelope().PayloadType = long
		}),
	} {
		_, err := VerifyBundle(context.Background(), b, PublicKeys{key.PublicKey()}, testSubject, PredicateVSA)
		if err == nil {
			t.Fatalf("%s: verified", name)
		}
		if msg := err.Error(); len(msg) > 500 || !utf8.ValidString(msg) {
			t.Errorf("%s: %d-byte error message (valid UTF-8: %v)", name, len(msg), utf8.ValidString(msg))
		}
	}
}
