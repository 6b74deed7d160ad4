package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	vsaType    = "https://slsa.dev/verification_summary/v1"
)

// TestProvenance promotes a model through the real binary and checks its
// signed attestation with independent verifiers: sigstore-go v1.3.0 (in
// this module) and the cosign CLI (COSIGN, which test.sh installs, pinned),
// both with only the key the registry serves at /v1/keys. A tampered
// bundle, another key or another subject fail both; and with
// REQUIRE_SIGNED_PROVENANCE (the default) the registry itself stops serving
// the model to runtimes once its attestation is tampered with or its key
// is replaced, until the requirement is turned off.
func TestProvenance(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry does not attest")
	r := startRegistry(t)
	data := oneTensorGGUF(70)
	v1PutImport(t, r, "prov.gguf", data)
	res := r.do(t, "POST", "/v1/model/promote", v1JSON(t, map[string]any{"name": "attested", "filename": "prov.gguf", "sha256": v1SHA256(data)}),
		true, map[string]string{"Content-Type": "application/json"})
	if res.Status != http.StatusCreated {
		t.Fatalf("promote: %d %s", res.Status, res.Body)
	}
	var a struct {
		Digest       string `json:"digest"`
		OCIReference string `json:"oci_reference"`
	}
	if err := json.Unmarshal(res.Body, &a); err != nil {
		t.Fatal(err)
	}
	repo, _, _ := strings.Cut(a.OCIReference, ":")
	subject := digest.Digest(a.Digest)

	// The key, anonymously, as a runtime or an auditor fetches it.
	keyRes := r.do(t, "GET", "/v1/keys", nil, false, nil)
	if keyRes.Status != http.StatusOK || !bytes.HasPrefix(keyRes.Body, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("GET /v1/keys: %d %s", keyRes.Status, keyRes.Body)
	}
	pubPEM := keyRes.Body
	keyFile := writeFile(t, t.TempDir(), "registry.pub", pubPEM)

	// The attestation, anonymously, through the referrers API filtered by
	// artifact type, as cosign finds it.
	bundleJSON, bundleDigest := fetchAttestation(t, r, repo, subject)
	if len(bundleJSON) > 8<<10 {
		t.Errorf("the attestation is %d bytes; a promotion bundle should be a few KB", len(bundleJSON))
	}
	t.Logf("attestation bundle: %d bytes (%s)", len(bundleJSON), bundleDigest)

	// sigstore-go: verifies with the served key; refuses tampering,
	// another key and another subject.
	st, err := sigstoreVerify(t, pubPEM, bundleJSON, subject)
	if err != nil {
		t.Fatalf("sigstore-go does not verify the registry's attestation: %v", err)
	}
	if st.PredicateType != vsaType {
		t.Errorf("predicate type %q, want %s", st.PredicateType, vsaType)
	}
	var pred struct {
		VerificationResult string `json:"verificationResult"`
	}
	if err := json.Unmarshal(st.Predicate, &pred); err != nil || pred.VerificationResult != "PASSED" {
		t.Errorf("predicate %s: result %q (%v)", st.Predicate, pred.VerificationResult, err)
	}
	if !strings.Contains(string(st.Predicate), `"https://ai-model-registry.dev/promotion/v1"`) || !strings.Contains(string(st.Predicate), `"to":"trusted"`) {
		t.Errorf("predicate lacks the promotion extension: %s", st.Predicate)
	}
	tampered := bytes.Clone(bundleJSON)
	i := bytes.Index(tampered, []byte(`"payload":"`)) + len(`"payload":"`) + 20
	tampered[i] ^= 0x01
	if _, err := sigstoreVerify(t, pubPEM, tampered, subject); err == nil {
		t.Error("sigstore-go verified a tampered bundle")
	}
	other := otherKeyPEM(t)
	if _, err := sigstoreVerify(t, other, bundleJSON, subject); err == nil {
		t.Error("sigstore-go verified the attestation with another key")
	}
	if _, err := sigstoreVerify(t, pubPEM, bundleJSON, digest.FromBytes([]byte("another model"))); err == nil {
		t.Error("sigstore-go verified the attestation for another subject")
	}

	// cosign, the documented command, against the real server.
	ref := r.Ref(repo + "@" + subject.String())
	cosign(t, true, "verify-attestation", "--key", keyFile, "--type", vsaType, "--insecure-ignore-tlog=true", ref)
	cosign(t, false, "verify-attestation", "--key", writeFile(t, t.TempDir(), "other.pub", other), "--type", vsaType, "--insecure-ignore-tlog=true", ref)
	cosign(t, false, "verify-attestation", "--key", keyFile, "--type", "https://in-toto.io/attestation/test-result/v0.1", "--insecure-ignore-tlog=true", ref)

	// The registry's own gate. Tamper with the stored bundle: the runtime
	// is refused, verify says why, and an anonymous pull is denied.
	r.Stop()
	blob := filepath.Join(r.Dir, "pool", "sha256", bundleDigest.Encoded())
	orig, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(orig)
	flipped[bytes.Index(flipped, []byte(`"payload":"`))+len(`"payload":"`)+20] ^= 0x01
	rewrite(t, blob, flipped)
	r.Restart()
	q := "?name=attested"
	if res := r.do(t, "GET", "/v1/model/path"+q, nil, false, nil); res.Status != http.StatusForbidden || !bytes.Contains(res.Body, []byte("REQUIRE_SIGNED_PROVENANCE")) {
		t.Errorf("path of a model whose attestation was tampered with: %d %s", res.Status, res.Body)
	}
	res = r.do(t, "POST", "/v1/model/verify"+q, nil, true, nil)
	if !bytes.Contains(res.Body, []byte(`"safe_to_use":"false"`)) || !bytes.Contains(res.Body, []byte(`"status":"invalid"`)) {
		t.Errorf("verify of a model whose attestation was tampered with: %d %s", res.Status, res.Body)
	}
	if res := r.do(t, "GET", "/v2/"+repo+"/manifests/"+subject.String(), nil, false, nil); res.Status != http.StatusForbidden || !bytes.Contains(res.Body, []byte("DENIED")) {
		t.Errorf("anonymous pull of a model whose attestation was tampered with: %d %s", res.Status, res.Body)
	}

	// Put the bundle back but replace the key: the old attestation is no
	// longer trusted.
	r.Stop()
	rewrite(t, blob, orig)
	keys := filepath.Join(r.Dir, "keys")
	if err := os.RemoveAll(keys); err != nil {
		t.Fatal(err)
	}
	r.Restart()
	if res := r.do(t, "GET", "/v1/model/path"+q, nil, false, nil); res.Status != http.StatusForbidden {
		t.Errorf("path of a model attested by a key the registry no longer trusts: %d %s", res.Status, res.Body)
	}

	// Without the requirement the runtime is served, and a new promotion
	// attests the model with the new key.
	r.Stop()
	r.env = append(r.env, "REQUIRE_SIGNED_PROVENANCE=false")
	r.Restart()
	if res := r.do(t, "GET", "/v1/model/path"+q, nil, false, nil); res.Status != http.StatusOK {
		t.Errorf("path without the requirement: %d %s", res.Status, res.Body)
	}
	res = r.do(t, "POST", "/v1/model/promote", v1JSON(t, map[string]any{"name": "attested", "sha256": v1SHA256(data)}), true, map[string]string{"Content-Type": "application/json"})
	if res.Status != http.StatusCreated {
		t.Fatalf("promote again: %d %s", res.Status, res.Body)
	}
	res = r.do(t, "POST", "/v1/model/verify"+q, nil, true, nil)
	if !bytes.Contains(res.Body, []byte(`"status":"verified","required":false`)) {
		t.Errorf("verify after promoting again: %s", res.Body)
	}
}

// fetchAttestation finds the promotion attestation of subject through the
// referrers API (filtered by artifactType, anonymously) and returns the
// bundle's bytes and digest.
func fetchAttestation(t *testing.T, r *registry, repo string, subject digest.Digest) ([]byte, digest.Digest) {
	t.Helper()
	res := r.do(t, "GET", "/v2/"+repo+"/referrers/"+subject.String()+"?artifactType="+url.QueryEscape(bundleType), nil, false, nil)
	var idx ocispec.Index
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &idx) != nil {
		t.Fatalf("referrers of %s: %d %s", subject, res.Status, res.Body)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != bundleType || idx.Manifests[0].Annotations["dev.sigstore.bundle.predicateType"] != vsaType {
		t.Fatalf("referrers of %s filtered by %s: %s", subject, bundleType, res.Body)
	}
	res = r.do(t, "GET", "/v2/"+repo+"/manifests/"+idx.Manifests[0].Digest.String(), nil, false, map[string]string{"Accept": ocispec.MediaTypeImageManifest})
	var m ocispec.Manifest
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &m) != nil || len(m.Layers) != 1 || m.Subject == nil || m.Subject.Digest != subject {
		t.Fatalf("attestation manifest: %d %s", res.Status, res.Body)
	}
	if !strings.HasSuffix(m.Layers[0].Annotations[ocispec.AnnotationTitle], ".sigstore.json") {
		t.Errorf("bundle layer title %q", m.Layers[0].Annotations[ocispec.AnnotationTitle])
	}
	res = r.do(t, "GET", "/v2/"+repo+"/blobs/"+m.Layers[0].Digest.String(), nil, false, nil)
	if res.Status != http.StatusOK || digest.FromBytes(res.Body) != m.Layers[0].Digest {
		t.Fatalf("bundle blob: %d", res.Status)
	}
	return res.Body, m.Layers[0].Digest
}

// statementOf is what a verification found.
type statementOf struct {
	PredicateType string
	Predicate     json.RawMessage
}

// sigstoreVerify verifies a bundle with sigstore-go, offline (no
// transparency log, no timestamps), trusting exactly the first key of
// pemBytes under whatever key hint the bundle gives, for subject.
func sigstoreVerify(t *testing.T, pemBytes, raw []byte, subject digest.Digest) (statementOf, error) {
	t.Helper()
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	var hint struct {
		VerificationMaterial struct {
			PublicKey struct{ Hint string } `json:"publicKey"`
		} `json:"verificationMaterial"`
	}
	_ = json.Unmarshal(raw, &hint)
	tm := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hint.VerificationMaterial.PublicKey.Hint: root.NewExpiringKey(sv, time.Time{}, time.Time{}),
	})
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return statementOf{}, err
	}
	want, err := hex.DecodeString(subject.Encoded())
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", want), verify.WithKey()))
	if err != nil {
		return statementOf{}, err
	}
	if res.Statement == nil {
		return statementOf{}, errors.New("no statement")
	}
	pred, err := protojson.Marshal(res.Statement.GetPredicate())
	if err != nil {
		t.Fatal(err)
	}
	return statementOf{PredicateType: res.Statement.GetPredicateType(), Predicate: pred}, nil
}

func otherKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// rewrite replaces a stored file's bytes in place (its inode is shared by
// the pool and the repositories' hard links).
func rewrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o440); err != nil {
		t.Fatal(err)
	}
}

// cosign runs the pinned cosign CLI (COSIGN) and checks its exit status.
func cosign(t *testing.T, wantOK bool, args ...string) {
	t.Helper()
	bin := os.Getenv("COSIGN")
	if bin == "" {
		t.Fatal("COSIGN is not set: run the tests with ./test.sh, which installs the pinned cosign and sets it")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "SIGSTORE_NO_CACHE=true", "TUF_ROOT="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ok := err == nil; ok != wantOK {
		t.Errorf("cosign %s: ok=%v, want %v: %v\n%s", strings.Join(args, " "), ok, wantOK, err, out)
		return
	}
	t.Logf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
}
