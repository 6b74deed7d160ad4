package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/provenance"
)

func mustPolicy(t *testing.T, yaml string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// unmetRules returns the rules of a policy refusal, failing on any other
// error.
func unmetRules(t *testing.T, err error) []string {
	t.Helper()
	var pe *lifecycle.PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a policy refusal", err)
	}
	var rules []string
	for _, u := range pe.Decision.Unmet {
		rules = append(rules, u.Rule)
	}
	return rules
}

func (e *env) records(name string) int {
	e.t.Helper()
	h, err := e.svc.History(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(h.Records)
}

// The default policy refuses a promotion without quarantine and scanner
// evidence, names every unmet rule and records nothing; the same artifact
// is promoted once the evidence is there, with a signed attestation.
func TestDefaultPolicyGate(t *testing.T) {
	e := &env{t: t, pol: policy.Default()}
	e = newEnvWith(t, e)
	data := gguf(11)
	a := e.acquire("gated", data)
	req := lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)}
	_, err := e.svc.Promote(e.ctx, req)
	if got := unmetRules(t, err); !slices.Equal(got, []string{"require_quarantine", "min_passing_scanners"}) {
		t.Fatalf("unmet rules %v", got)
	}
	if n := e.records(a.Name); n != 1 || e.state(a.Name) != lifecycle.Acquired {
		t.Fatalf("a refused promotion left %d records, state %s", n, e.state(a.Name))
	}
	if _, err := e.svc.Quarantine(e.ctx, a.Name, "scan"); err != nil {
		t.Fatal(err)
	}
	req.ScanResults = map[string]string{"modelscan": "fail"}
	_, err = e.svc.Promote(e.ctx, req)
	if got := unmetRules(t, err); !slices.Equal(got, []string{"min_passing_scanners"}) {
		t.Fatalf("unmet rules with a failing scanner: %v", got)
	}
	req.ScanResults = map[string]string{"modelscan": "pass"}
	p, err := e.svc.Promote(e.ctx, req)
	if err != nil || p.State != lifecycle.Trusted || p.PolicyVersion != policy.DefaultVersion {
		t.Fatalf("promote with evidence: %+v %v", p, err)
	}
	v, err := e.svc.Verify(e.ctx, a.Name)
	if err != nil || v.Provenance == nil || v.Provenance.Status != lifecycle.ProvenanceVerified || v.SafeToUse != "true" ||
		v.Provenance.KeyID != e.keys.Current().ID() || v.Provenance.PolicyVersion != policy.DefaultVersion {
		t.Fatalf("verify after promotion: %+v %+v %v", v, v.Provenance, err)
	}
}

// A never-acquired file is refused by the default policy before anything
// is stored: the import file stays where it was.
func TestOneStepPromoteRefusedByDefault(t *testing.T) {
	e := newEnvWith(t, &env{t: t, pol: policy.Default()})
	data := gguf(12)
	e.importFile("one.gguf", data)
	_, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "one step", Filename: "one.gguf", SHA256: hexsum(data), ScanResults: map[string]string{"modelscan": "pass"}})
	if got := unmetRules(t, err); !slices.Contains(got, "allow_one_step_promote") {
		t.Fatalf("unmet rules %v", got)
	}
	if _, err := e.svc.Get(e.ctx, "one step"); lifecycle.KindOf(err) != lifecycle.KindNotFound {
		t.Fatalf("a refused one-step promotion acquired the file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "import", "one.gguf")); err != nil {
		t.Fatalf("the import file is gone: %v", err)
	}
}

// signedReferrer attaches an in-toto statement about m, signed by k, as a
// Sigstore bundle referrer pushed through /v2.
func signedReferrer(t *testing.T, e *env, g *lifecycle.Gated, repo string, m *oci.Manifest, k *provenance.Key, predicateType string, predicate any) {
	t.Helper()
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": repo, "digest": map[string]string{"sha256": m.Digest.Encoded()}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := provenance.SignBundle(e.ctx, stmt, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{[]byte("{}"), bundle} {
		st, err := g.StartUpload(e.ctx, repo, digest.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.CommitUpload(e.ctx, repo, st.ID, -1, bytes.NewReader(b), digest.FromBytes(b)); err != nil {
			t.Fatal(err)
		}
	}
	rm := provenance.ReferrerManifest(ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Body))}, bundle, predicateType, time.Now())
	body, _ := json.Marshal(rm)
	pm, err := oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.PutManifest(e.ctx, repo, pm, nil); err != nil {
		t.Fatal(err)
	}
}

// Scanner verdicts and signatures attached as signed referrers count when a
// key of the policy signed them, and only then.
func TestSignedEvidence(t *testing.T) {
	pipeline, err := provenance.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := provenance.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem := strings.ReplaceAll(strings.TrimSpace(string(pipeline.PublicKeyPEM())), "\n", "\n      ")
	pol := mustPolicy(t, `version: signed-1
allow_one_step_promote: false
scanners:
  - name: picklescan
    result: pass
    required: true
signatures:
  - name: pipeline
    public_key: |
      `+pem+`
min_signatures: 1
`)
	e := newEnvWith(t, &env{t: t, pol: pol})
	g := e.svc.Gate(e.store)
	testResult := func(verdict string) any {
		return map[string]any{"result": verdict, "configuration": []any{map[string]any{"name": "picklescan", "annotations": map[string]string{"version": "0.0.26"}}}}
	}

	// Signed by a stranger: neither the verdict nor the signature counts.
	data := gguf(13)
	m := pushOCI(t, e, g, "pipe/one", "v1", data)
	signedReferrer(t, e, g, "pipe/one", m, stranger, lifecycle.PredicateTestResult, testResult("PASSED"))
	_, err = e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "pipe/one:v1", SHA256: hexsum(data)})
	if got := unmetRules(t, err); !slices.Equal(got, []string{"scanners.picklescan.result", "min_signatures"}) {
		t.Fatalf("unmet rules with a stranger's evidence: %v", got)
	}

	// Signed by the pipeline: promoted, and the attestation names the
	// verdict it relied on.
	signedReferrer(t, e, g, "pipe/one", m, pipeline, lifecycle.PredicateTestResult, testResult("PASSED"))
	chk, err := e.svc.CheckPolicy(e.ctx, lifecycle.PromoteRequest{Name: "pipe/one:v1"})
	if err != nil || !chk.Allowed || chk.ScanResults["picklescan"] != "pass" || !slices.Equal(chk.SignedBy, []string{"pipeline"}) {
		t.Fatalf("policy check with the pipeline's evidence: %+v %v", chk, err)
	}
	p, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "pipe/one:v1", SHA256: hexsum(data)})
	if err != nil || p.ScanResults["picklescan"] != "pass" || p.ScannerVersions["picklescan"] != "0.0.26" {
		t.Fatalf("promote with the pipeline's evidence: %+v %v", p, err)
	}

	// A failing verdict from the pipeline beats a pass in the request.
	data = gguf(14)
	m = pushOCI(t, e, g, "pipe/two", "v1", data)
	signedReferrer(t, e, g, "pipe/two", m, pipeline, lifecycle.PredicateTestResult, testResult("FAILED"))
	_, err = e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "pipe/two:v1", SHA256: hexsum(data), ScanResults: map[string]string{"picklescan": "pass"}})
	if got := unmetRules(t, err); !slices.Equal(got, []string{"scanners.picklescan.result"}) {
		t.Fatalf("unmet rules with a failing signed verdict: %v", got)
	}
}

// With signed provenance required, a trusted artifact whose attestation
// does not verify is not served: not its path, not its bytes anonymously;
// verify says why. Without the requirement it is served.
func TestProvenanceGate(t *testing.T) {
	e := newEnv(t)
	g := e.svc.Gate(e.store)
	data := gguf(15)
	m := pushOCI(t, e, g, "prov/model", "v1", data)
	name := "prov/model:v1"
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	anon := context.Background()
	if _, err := e.svc.Path(e.ctx, name); err != nil {
		t.Fatalf("path of an attested artifact: %v", err)
	}
	refs, err := g.Referrers(e.ctx, "prov/model", m.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var bundle digest.Digest
	for _, r := range refs {
		if r.ArtifactType == provenance.ArtifactType {
			_, body, err := g.GetManifest(e.ctx, "prov/model", oci.Reference{Digest: r.Digest})
			if err != nil {
				t.Fatal(err)
			}
			var rm ocispec.Manifest
			if err := json.Unmarshal(body, &rm); err != nil {
				t.Fatal(err)
			}
			bundle = rm.Layers[0].Digest
		}
	}
	if bundle == "" {
		t.Fatal("no attestation among the referrers")
	}

	// Flip one byte of the stored bundle (its file is shared by every
	// name of the blob, so it is rewritten in place).
	path, err := e.store.BlobPath("prov/model", bundle)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"payload":"`)) + len(`"payload":"`) + 10
	b[i] ^= 1
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	e.restart() // a fresh verification cache
	g = e.svc.Gate(e.store)
	if _, err := e.svc.Path(e.ctx, name); lifecycle.KindOf(err) != lifecycle.KindForbidden || !strings.Contains(err.Error(), "REQUIRE_SIGNED_PROVENANCE") {
		t.Fatalf("path of an artifact whose attestation was tampered with: %v", err)
	}
	var oe *oci.Error
	if _, _, err := g.GetManifest(anon, "prov/model", oci.Reference{Tag: "v1"}); !errors.As(err, &oe) || oe.Code != oci.CodeDenied {
		t.Fatalf("anonymous read of an artifact whose attestation was tampered with: %v", err)
	}
	if _, _, err := g.OpenBlob(anon, "prov/model", m.Layers[0].Digest); !errors.As(err, &oe) || oe.Code != oci.CodeDenied {
		t.Fatalf("anonymous blob read of an artifact whose attestation was tampered with: %v", err)
	}
	v, err := e.svc.Verify(e.ctx, name)
	if err != nil || v.Status != "verified" || v.SafeToUse != "false" || v.Provenance == nil || v.Provenance.Status != lifecycle.ProvenanceInvalid {
		t.Fatalf("verify of an artifact whose attestation was tampered with: %+v %+v %v", v, v.Provenance, err)
	}

	// Promoting it again attests it again.
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Path(e.ctx, name); err != nil {
		t.Fatalf("path after a new promotion: %v", err)
	}

	// Without the requirement, a missing attestation does not stop a runtime.
	e.lax = true
	e.restart()
	data = gguf(16)
	pushOCI(t, e, e.svc.Gate(e.store), "prov/other", "v1", data)
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "prov/other:v1", SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Path(e.ctx, "prov/other:v1"); err != nil {
		t.Fatalf("path without the requirement: %v", err)
	}
}
