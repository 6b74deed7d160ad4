package lifecycle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/ocilayout"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

type env struct {
	t     *testing.T
	dir   string
	store *ocilayout.Store
	svc   *lifecycle.Service
	ctx   context.Context
	keys  *provenance.Keyring // kept across restarts, as the key file is
	pol   *policy.Policy      // nil: permissivePolicy
	lax   bool                // signed provenance not required

	onIntegrity func(context.Context, lifecycle.IntegrityReport, error)
}

// permissivePolicy allows what the predecessor allowed (one-step promotes
// without scanners), so that tests of other behaviour can promote; the
// policy gate has its own tests.
func permissivePolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte("version: permissive-test\nallow_one_step_promote: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testKeys(t testing.TB) *provenance.Keyring {
	t.Helper()
	k, err := provenance.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return provenance.NewKeyring(k)
}

var operator = lifecycle.Caller{Authenticated: true, Who: "token:test"}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, &env{t: t})
}

// newEnvWith opens a registry configured as e says (pol, lax).
func newEnvWith(t *testing.T, e *env) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "reg")
	e.dir, e.ctx = dir, lifecycle.WithCaller(context.Background(), operator)
	e.open()
	t.Cleanup(func() {
		_ = e.store.Close()
		// Runtime directories are read-only; make them removable for
		// t.TempDir's cleanup when the tests do not run as root.
		_ = filepath.Walk(filepath.Join(dir, "runtime"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				_ = os.Chmod(p, 0o750)
			}
			return nil
		})
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	log := slog.New(slog.DiscardHandler)
	var err error
	e.store, err = ocilayout.Open(context.Background(), ocilayout.Config{Dir: e.dir, Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(e.dir, "import"), 0o750); err != nil {
		e.t.Fatal(err)
	}
	if e.keys == nil {
		e.keys = testKeys(e.t)
	}
	if e.pol == nil {
		e.pol = permissivePolicy(e.t)
	}
	e.svc, err = lifecycle.New(context.Background(), lifecycle.Config{Store: e.store, Files: e.store, ImportDir: filepath.Join(e.dir, "import"), Logger: log,
		Policy: e.pol, Keys: e.keys, RequireProvenance: !e.lax, OnIntegrityCheck: e.onIntegrity})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) restart() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

// gguf returns a valid GGUF header made unique by seed.
func gguf(seed int) []byte {
	var b bytes.Buffer
	b.WriteString("GGUF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(3))
	_ = binary.Write(&b, binary.LittleEndian, uint64(0))
	_ = binary.Write(&b, binary.LittleEndian, uint64(0))
	b.WriteString(strings.Repeat("x", seed)) // trailing bytes make each file distinct
	return b.Bytes()
}

func hexsum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func (e *env) acquire(name string, data []byte) lifecycle.Artifact {
	e.t.Helper()
	a, err := e.svc.Acquire(e.ctx, lifecycle.AcquireRequest{Name: name, Filename: "m.gguf", SHA256: hexsum(data), SizeBytes: int64(len(data))}, bytes.NewReader(data))
	if err != nil {
		e.t.Fatalf("acquire %q: %v", name, err)
	}
	return a
}

// tamper overwrites the stored bytes of trusted artifact name with data.
func (e *env) tamper(name string, data []byte) {
	e.t.Helper()
	p, err := e.svc.Path(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(p.Path, 0o640); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p.Path, data, 0o640); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) state(name string) lifecycle.State {
	e.t.Helper()
	a, err := e.svc.Get(e.ctx, name)
	if err != nil {
		e.t.Fatalf("get %q: %v", name, err)
	}
	return a.State
}

func TestLifecycleAndHistory(t *testing.T) {
	e := newEnv(t)
	data := gguf(1)
	a := e.acquire("Phi-3 Mini 3.8B (Q4_K_M)", data)
	if a.State != lifecycle.Acquired || a.OCIReference != "models/phi-3-mini-3-8b-q4-k-m:latest" || a.Format != "gguf" {
		t.Fatalf("acquired artifact = %+v", a)
	}
	if _, err := e.svc.Quarantine(e.ctx, a.Name, "scan"); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data), ScanResults: map[string]string{"modelscan": "pass"}})
	if err != nil || p.State != lifecycle.Trusted || p.ScanResults["modelscan"] != "pass" {
		t.Fatalf("promote: %+v %v", p, err)
	}
	path, err := e.svc.Path(e.ctx, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path.Path); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("path bytes: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(path.Directory, "m.gguf")); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("runtime directory: %v", err)
	}
	if _, err := e.svc.Revoke(e.ctx, a.Name, "bad behaviour"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path.Directory); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("runtime directory survives revocation")
	}
	if _, err := e.svc.Path(e.ctx, a.Name); lifecycle.KindOf(err) != lifecycle.KindForbidden {
		t.Fatalf("path of a revoked artifact: %v", err)
	}
	if _, err := e.svc.Delete(e.ctx, a.Name, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("bytes of a deleted artifact are still on disk")
	}
	h, err := e.svc.History(e.ctx, a.Name)
	if err != nil || h.Chain != "verified" || len(h.Records) != 5 {
		t.Fatalf("history: %+v %v", h, err)
	}
	want := []lifecycle.Action{lifecycle.Acquire, lifecycle.Quarantine, lifecycle.Promote, lifecycle.Revoke, lifecycle.Delete}
	for i, r := range h.Records {
		if r.Action != want[i] || r.Who != "token:test" || (i > 0 && r.Prev != h.Records[i-1].Digest) {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	if _, err := e.svc.Acquire(e.ctx, lifecycle.AcquireRequest{Name: a.Name, Filename: "m.gguf", SHA256: hexsum(data)}, bytes.NewReader(data)); err == nil {
		t.Fatal("a deleted name was acquired again")
	}
}

// The records are the source of truth: with the cached states removed from
// every index.json, a restart derives the same states.
func TestStateRebuiltFromRecords(t *testing.T) {
	e := newEnv(t)
	names := map[string]lifecycle.State{}
	for i, target := range []lifecycle.State{lifecycle.Acquired, lifecycle.Quarantined, lifecycle.Trusted, lifecycle.Revoked, lifecycle.Deleted} {
		data := gguf(i)
		a := e.acquire("model "+string(target), data)
		steps := map[lifecycle.State][]func() error{
			lifecycle.Quarantined: {func() error { _, err := e.svc.Quarantine(e.ctx, a.Name, ""); return err }},
			lifecycle.Trusted: {func() error {
				_, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)})
				return err
			}},
			lifecycle.Revoked: {func() error { _, err := e.svc.Revoke(e.ctx, a.Name, ""); return err }},
			lifecycle.Deleted: {func() error { _, err := e.svc.Delete(e.ctx, a.Name, ""); return err }},
		}[target]
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		names[a.Name] = target
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	// Strip every lifecycle annotation from every index.json.
	err := filepath.Walk(filepath.Join(e.dir, "repos"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Name() != "index.json" {
			return err
		}
		b, _ := os.ReadFile(p)
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return err
		}
		for i := range idx.Manifests {
			for k := range idx.Manifests[i].Annotations {
				if strings.HasPrefix(k, lifecycle.Prefix) {
					delete(idx.Manifests[i].Annotations, k)
				}
			}
		}
		delete(idx.Annotations, "dev.aimr.journal.seq")
		b, _ = json.Marshal(idx)
		return os.WriteFile(p, b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.open()
	for name, want := range names {
		if got := e.state(name); got != want {
			t.Errorf("%s: state %s after rebuild, want %s", name, got, want)
		}
	}
	// The gate reads the rebuilt cache: the trusted one is servable again.
	if _, err := e.svc.Path(e.ctx, "model trusted"); err != nil {
		t.Fatalf("trusted artifact not servable after rebuild: %v", err)
	}
}

// A forged or removed record breaks the chain, and an artifact whose chain
// does not verify is never trusted.
func TestBrokenChainIsNotTrusted(t *testing.T) {
	e := newEnv(t)
	data := gguf(3)
	a := e.acquire("m", data)
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	// Remove the acquisition record behind the registry's back.
	repo, _, _ := strings.Cut(a.OCIReference, ":")
	h, _ := e.svc.History(e.ctx, a.Name)
	first := digest.Digest(h.Records[0].Digest)
	if err := e.store.Commit(e.ctx, repo, storage.Txn{Delete: []digest.Digest{first}}); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := e.state(a.Name); got != lifecycle.Quarantined {
		t.Fatalf("state with a broken chain = %s, want quarantined", got)
	}
	if h, _ := e.svc.History(e.ctx, a.Name); h.Chain != "broken" {
		t.Fatalf("chain = %s", h.Chain)
	}
	if _, err := e.svc.Path(e.ctx, a.Name); err == nil {
		t.Fatal("an artifact with a broken history is servable")
	}
}

// Concurrent transitions of one artifact leave one consistent chain.
func TestConcurrentTransitions(t *testing.T) {
	e := newEnv(t)
	data := gguf(4)
	a := e.acquire("m", data)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				_, _ = e.svc.Quarantine(e.ctx, a.Name, "")
			case 1:
				_, _ = e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)})
			case 2:
				_, _ = e.svc.Revoke(e.ctx, a.Name, "")
			case 3:
				_, _ = e.svc.Verify(e.ctx, a.Name)
			}
		}()
	}
	wg.Wait()
	h, err := e.svc.History(e.ctx, a.Name)
	if err != nil || h.Chain != "verified" || h.State != e.state(a.Name) {
		t.Fatalf("history after concurrent transitions: %+v %v", h, err)
	}
}

// Tampering with a trusted artifact's bytes is caught by verify, which
// quarantines it (who = system) and takes it away from the runtime.
func TestVerifyQuarantinesTamperedArtifact(t *testing.T) {
	e := newEnv(t)
	data := gguf(5)
	a := e.acquire("m", data)
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	e.tamper(a.Name, gguf(6))
	res, err := e.svc.Verify(e.ctx, a.Name)
	if err != nil || res.Status != "failed" || res.SafeToUse != "false" {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if got := e.state(a.Name); got != lifecycle.Quarantined {
		t.Fatalf("state after failed verification = %s", got)
	}
	h, _ := e.svc.History(e.ctx, a.Name)
	last := h.Records[len(h.Records)-1]
	if last.Action != lifecycle.IntegrityFailure || last.Who != "system" || !strings.Contains(last.Reason, "hash mismatch") {
		t.Fatalf("last record = %+v", last)
	}
	if _, err := e.svc.Path(e.ctx, a.Name); err == nil {
		t.Fatal("tampered artifact still servable")
	}
}

// pushOCI pushes an image-shaped artifact through the gated /v2 path.
func pushOCI(t *testing.T, e *env, g *lifecycle.Gated, repo, tag string, layer []byte) *oci.Manifest {
	t.Helper()
	put := func(b []byte) ocispec.Descriptor {
		st, err := g.StartUpload(e.ctx, repo, digest.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(b)
		if _, err := g.CommitUpload(e.ctx, repo, st.ID, -1, bytes.NewReader(b), d); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	cfg := put([]byte(`{}`))
	cfg.MediaType = "application/vnd.oci.empty.v1+json"
	l := put(layer)
	l.MediaType = "application/vnd.example.gguf"
	l.Annotations = map[string]string{ocispec.AnnotationTitle: "m.gguf"}
	body, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.model", Config: cfg, Layers: []ocispec.Descriptor{l}})
	m, err := oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.PutManifest(e.ctx, repo, m, []string{tag}); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGatedV2(t *testing.T) {
	e := newEnv(t)
	g := e.svc.Gate(e.store)
	data := gguf(7)
	m := pushOCI(t, e, g, "demo/tiny", "v1", data)
	anon := context.Background()
	name := "demo/tiny:v1"
	if got := e.state(name); got != lifecycle.Acquired {
		t.Fatalf("pushed artifact state = %s", got)
	}
	wantUnauthorized := func(err error, what string) {
		t.Helper()
		var oe *oci.Error
		if !errors.As(err, &oe) || oe.Code != oci.CodeUnauthorized {
			t.Fatalf("%s: %v, want UNAUTHORIZED", what, err)
		}
	}
	_, _, err := g.GetManifest(anon, "demo/tiny", oci.Reference{Tag: "v1"})
	wantUnauthorized(err, "anonymous manifest read of an acquired artifact")
	_, _, err = g.OpenBlob(anon, "demo/tiny", m.Layers[0].Digest)
	wantUnauthorized(err, "anonymous blob read of an acquired artifact")
	if _, _, err := g.GetManifest(e.ctx, "demo/tiny", oci.Reference{Tag: "v1"}); err != nil {
		t.Fatalf("token holder read: %v", err)
	}
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.GetManifest(anon, "demo/tiny", oci.Reference{Tag: "v1"}); err != nil {
		t.Fatalf("anonymous read of a trusted artifact: %v", err)
	}
	if rc, _, err := g.OpenBlob(anon, "demo/tiny", m.Layers[0].Digest); err != nil {
		t.Fatalf("anonymous blob read of a trusted artifact: %v", err)
	} else {
		rc.Close()
	}
	refs, err := g.Referrers(anon, "demo/tiny", m.Digest)
	if err != nil || len(refs) != 3 { // acquire and promote records, the promotion attestation
		t.Fatalf("anonymous referrers of a trusted artifact: %d %v", len(refs), err)
	}
	if n := countType(refs, provenance.ArtifactType); n != 1 {
		t.Fatalf("%d promotion attestations among the referrers, want 1: %+v", n, refs)
	}
	// The tag of a trusted artifact cannot move or go.
	other := gguf(8)
	st, _ := g.StartUpload(e.ctx, "demo/tiny", digest.SHA256)
	_, _ = g.CommitUpload(e.ctx, "demo/tiny", st.ID, -1, bytes.NewReader(other), digest.FromBytes(other))
	var oe *oci.Error
	err = g.PutManifest(e.ctx, "demo/tiny", recordLike(t, m), []string{"v1"})
	if !errors.As(err, &oe) || oe.Code != oci.CodeDenied {
		t.Fatalf("pushing a manifest with registry annotations: %v", err)
	}
	if err := g.DeleteTag(e.ctx, "demo/tiny", "v1"); !errors.As(err, &oe) || oe.Code != oci.CodeDenied {
		t.Fatalf("deleting the tag of a trusted artifact: %v", err)
	}
	if err := g.DeleteManifest(e.ctx, "demo/tiny", m.Digest); !errors.As(err, &oe) || oe.Code != oci.CodeDenied {
		t.Fatalf("deleting a trusted manifest: %v", err)
	}
	// Revocation takes effect on the very next request.
	if _, err := e.svc.Revoke(e.ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	_, _, err = g.GetManifest(anon, "demo/tiny", oci.Reference{Tag: "v1"})
	wantUnauthorized(err, "anonymous read right after revocation")
	if err := g.DeleteTag(e.ctx, "demo/tiny", "v1"); err != nil {
		t.Fatalf("deleting the tag of a revoked artifact: %v", err)
	}
}

// recordLike returns a manifest carrying a reserved annotation.
func recordLike(t *testing.T, m *oci.Manifest) *oci.Manifest {
	t.Helper()
	var man map[string]any
	_ = json.Unmarshal(m.Body, &man)
	man["annotations"] = map[string]string{lifecycle.Prefix + "lifecycle.state": "trusted"}
	body, _ := json.Marshal(man)
	f, err := oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func countType(descs []ocispec.Descriptor, artifactType string) int {
	n := 0
	for _, d := range descs {
		if d.ArtifactType == artifactType {
			n++
		}
	}
	return n
}
