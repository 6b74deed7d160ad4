package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/ocilayout"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/registry"
)

// testRegistry is the real handler, lifecycle service and store, served
// in-process.
type testRegistry struct {
	url, tokenPath, importDir string
	keyDir                    string // the attestation key ring
	store                     *ocilayout.Store
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	store, err := ocilayout.Open(ctx, ocilayout.Config{Dir: filepath.Join(dir, "data"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &testRegistry{tokenPath: filepath.Join(dir, "token"), importDir: filepath.Join(dir, "data", "import"), keyDir: filepath.Join(dir, "keys"), store: store}
	if err := os.MkdirAll(r.importDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.tokenPath, []byte(strings.Repeat("c", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A permissive policy: these tests are about the CLI, not the gate.
	pol, err := policy.Parse([]byte("version: cli-test\nallow_one_step_promote: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := provenance.OpenKeyring(r.keyDir)
	if err != nil {
		t.Fatal(err)
	}
	models, err := lifecycle.New(ctx, lifecycle.Config{Store: store, Files: store, ImportDir: r.importDir, Logger: log, Policy: pol, Keys: keys, RequireProvenance: true})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := registry.LoadAuth(registry.TokenConfig{Path: r.tokenPath}, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := registry.New(registry.Config{Backend: models.Gate(store), Models: models, Auth: auth, Keys: keys, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	t.Setenv("REGISTRY_URL", r.url)
	t.Setenv("SERVICE_TOKEN_PATH", r.tokenPath)
	return r
}

type result struct {
	code           int
	stdout, stderr string
}

func securectl(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// ok runs securectl, fails the test unless it exits 0, and returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := securectl(t, args...)
	if r.code != 0 {
		t.Fatalf("securectl %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs securectl and checks its exit status and that stderr holds
// every one of want.
func fails(t *testing.T, code int, want []string, args ...string) result {
	t.Helper()
	r := securectl(t, args...)
	if r.code != code {
		t.Fatalf("securectl %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("securectl %q: stderr lacks %q:\n%s", args, w, r.stderr)
		}
	}
	return r
}

// ggufFile writes a minimal GGUF file (header, then padding) of size bytes.
func ggufFile(t *testing.T, dir, name string, size int) (string, string) {
	t.Helper()
	b := make([]byte, size)
	copy(b, "GGUF")
	binary.LittleEndian.PutUint32(b[4:], 3)
	for i := 24; i < size; i++ {
		b[i] = byte(i % 251)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// TestLifecycle walks one model through every verb against the real
// handler and store.
func TestLifecycle(t *testing.T) {
	reg := newRegistry(t)
	const name = "Phi-3 Mini 3.8B (Q4_K_M)"
	file, sum := ggufFile(t, t.TempDir(), "phi-3-mini.gguf", 1<<20+5)

	if out := ok(t, "status"); !strings.Contains(out, "status: ok") || !strings.Contains(out, "auth_required: true") {
		t.Fatalf("status:\n%s", out)
	}
	out := ok(t, "acquire", name, file, "--source", "https://huggingface.co/x", "--reason", "first")
	for _, w := range []string{"ACQUIRED: " + name, "state:", "acquired", sum, "1.0 MB (1048581 bytes)", "oci_reference:"} {
		if !strings.Contains(out, w) {
			t.Errorf("acquire output lacks %q:\n%s", w, out)
		}
	}
	fails(t, 1, []string{"already registered"}, "acquire", name, file)

	// The import directory way: the registry hashes the file itself.
	_, isum := ggufFile(t, reg.importDir, "second.gguf", 4096)
	fails(t, 2, []string{"needs --sha256"}, "acquire", "--import", "Second", "second.gguf")
	a := decode[lifecycle.Artifact](t, ok(t, "--json", "acquire", "--import", "Second", "second.gguf", "--sha256", isum, "--size", "4096"))
	if a.State != lifecycle.Acquired || a.SHA256 != isum || a.SizeBytes != 4096 {
		t.Fatalf("import acquire: %+v", a)
	}

	out = ok(t, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "SHA256") || !strings.Contains(lines[0], "PROMOTED") {
		t.Fatalf("list:\n%s", out)
	}
	if f := strings.Fields(lines[1]); !strings.HasPrefix(lines[1], name) || !strings.Contains(lines[1], " gguf ") ||
		!strings.Contains(lines[1], " acquired ") || f[len(f)-2] != sum[:12] {
		t.Fatalf("list row: %q", lines[1])
	}
	if out := ok(t, "ls", "--wide"); !strings.Contains(out, "OCI REFERENCE") || !strings.Contains(out, "models/") {
		t.Fatalf("ls --wide:\n%s", out)
	}
	if list := decode[[]lifecycle.Artifact](t, ok(t, "list", "--json")); len(list) != 2 {
		t.Fatalf("list --json: %+v", list)
	}

	info := decode[map[string]any](t, ok(t, "info", name))
	if info["name"] != name || info["state"] != "acquired" || info["sha256"] != sum {
		t.Fatalf("info: %v", info)
	}
	if out := ok(t, "info", name); !strings.Contains(out, "\n  \"name\": ") {
		t.Fatalf("info is not indented:\n%s", out)
	}

	fails(t, 1, []string{`path "` + name + `"`, "only trusted artifacts can be loaded", "HTTP 403"}, "path", name)
	if r := fails(t, 1, []string{"not safe to use"}, "verify", name); !strings.Contains(r.stdout, "VERIFIED: "+name+" (sha256="+sum+", state=acquired)") {
		t.Fatalf("verify acquired:\n%s", r.stdout)
	}
	if out := ok(t, "quarantine", name, "--reason", "scanning"); out != "QUARANTINED: "+name+"\n" {
		t.Fatalf("quarantine: %q", out)
	}
	if out := ok(t, "quarantine", name); out != "ALREADY QUARANTINED: "+name+"\n" {
		t.Fatalf("quarantine again: %q", out)
	}
	fails(t, 1, []string{"hash verification failed"}, "promote", name, "--sha256", strings.Repeat("0", 64))
	out = ok(t, "promote", name, "--sha256", sum, "--scan", "modelscan=pass", "--scanner-version", "modelscan=0.8.8",
		"--policy-version", "local-v1", "--reason", "scans passed")
	for _, w := range []string{"PROMOTED: " + name, "trusted", "modelscan=pass", "cli-test"} { // the registry records its own policy's version, not the client's
		if !strings.Contains(out, w) {
			t.Errorf("promote output lacks %q:\n%s", w, out)
		}
	}

	p := strings.TrimSpace(ok(t, "path", name))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
		t.Fatal("the path's bytes do not hash to the sha256")
	}
	if pi := decode[lifecycle.PathInfo](t, ok(t, "path", name, "--json")); pi.Path != p || pi.SHA256 != sum {
		t.Fatalf("path --json: %+v", pi)
	}
	if out := ok(t, "verify", name); !strings.HasPrefix(out, "VERIFIED: "+name+" (sha256="+sum+", state=trusted)\n  attestation: verified (key ") ||
		!strings.HasSuffix(out, ", policy cli-test)\n") {
		t.Fatalf("verify: %q", out)
	}
	if out := ok(t, "policy", "show"); !strings.Contains(out, "version: \"cli-test\"") {
		t.Fatalf("policy show: %q", out)
	}
	if out := ok(t, "policy", "check", name); !strings.HasPrefix(out, "ALLOWED: "+name+" by policy cli-test (sha256:") {
		t.Fatalf("policy check: %q", out)
	}
	if out := ok(t, "key"); !strings.HasPrefix(out, "-----BEGIN PUBLIC KEY-----\n") {
		t.Fatalf("key: %q", out)
	}
	if vr := decode[lifecycle.VerifyResult](t, ok(t, "verify", "--json", name)); vr.SafeToUse != "true" {
		t.Fatalf("verify --json: %+v", vr)
	}

	ok(t, "revoke", name, "--reason", "CVE-2026-0001")
	fails(t, 1, []string{"revoked"}, "path", name)
	ok(t, "rm", name, "--reason", "gone")
	ok(t, "delete", "Second")

	out = ok(t, "history", name)
	if !strings.HasSuffix(out, "chain: verified\n") {
		t.Fatalf("history:\n%s", out)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("history lines:\n%s", out)
	}
	for i, act := range []string{"acquire", "quarantine", "promote", "revoke", "delete"} {
		if f := strings.Fields(lines[i+1]); f[0] != string(rune('1'+i)) || f[1] != act {
			t.Errorf("history row %d: %q", i+1, lines[i+1])
		}
	}
	if !strings.Contains(lines[4], "CVE-2026-0001") {
		t.Errorf("revoke reason missing: %q", lines[4])
	}
	if rep := decode[lifecycle.HistoryReport](t, ok(t, "history", "--json", name)); len(rep.Records) != 5 || rep.Chain != "verified" {
		t.Fatalf("history --json: %+v", rep)
	}

	out = ok(t, "verify-all")
	if !strings.Contains(out, "skipped") || !strings.HasSuffix(out, "checked: 2, status: ok\n") {
		t.Fatalf("verify-all:\n%s", out)
	}
	if r := fails(t, 1, []string{"not verified"}, "verify", name); !strings.HasPrefix(r.stdout, "SKIPPED: ") {
		t.Fatalf("verify deleted: %q", r.stdout)
	}
	if h := decode[map[string]any](t, ok(t, "status", "--json")); h["model_count"] != 2.0 {
		t.Fatalf("status --json: %v", h)
	}
}

// TestV2ArtifactsAreListed: an artifact pushed through /v2 is listed under
// its repository:tag, acquired.
func TestV2ArtifactsAreListed(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	src := memory.New()
	layer := content.NewDescriptorFromBytes("application/vnd.example.gguf", []byte("GGUF"))
	_ = src.Push(ctx, layer, bytes.NewReader([]byte("GGUF")))
	man, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.example.model.v1", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := reg.store.Repository("models/tiny")
	if err := oras.CopyGraph(ctx, src, dst, man, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatal(err)
	}
	if err := dst.Tag(ctx, man, "v1"); err != nil {
		t.Fatal(err)
	}
	out := ok(t, "list", "--wide")
	if !strings.Contains(out, "models/tiny:v1") || !strings.Contains(out, " acquired ") || !strings.Contains(out, man.Digest.String()) {
		t.Fatalf("list output:\n%s", out)
	}
}

func TestFailures(t *testing.T) {
	reg := newRegistry(t)
	fails(t, 1, []string{`securectl: info "No such model": model not found (HTTP 404)`}, "info", "No such model")
	fails(t, 1, []string{"model not found"}, "verify", "No such model")
	fails(t, 1, []string{"model not found"}, "history", "No such model")

	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte(strings.Repeat("d", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SERVICE_TOKEN_PATH", wrong)
	fails(t, 1, []string{"invalid service token", "hint:", "SERVICE_TOKEN_PATH", wrong}, "list")
	ok(t, "status") // no token is sent to /health, so a wrong one does not matter
	t.Setenv("SERVICE_TOKEN_PATH", filepath.Join(t.TempDir(), "missing"))
	fails(t, 1, []string{"SERVICE_TOKEN_PATH", "does not exist"}, "list")
	t.Setenv("SERVICE_TOKEN_PATH", reg.tokenPath)

	t.Setenv("REGISTRY_URL", "http://10.0.0.5:8470")
	fails(t, 2, []string{"only allowed to a loopback address"}, "list")
	t.Setenv("REGISTRY_URL", "http://127.0.0.1:1")
	fails(t, 1, []string{"cannot reach the registry"}, "status")
}

func TestUsage(t *testing.T) {
	newRegistry(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--bogus", "list"}, "unknown flag --bogus"},
		{[]string{"info"}, "info takes exactly one argument, got 0"},
		{[]string{"info", "a", "b"}, "got 2"},
		{[]string{"list", "extra"}, "list takes no arguments"},
		{[]string{"list", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"acquire", "x"}, "exactly two arguments"},
		{[]string{"promote", "x"}, "promote needs --sha256"},
		{[]string{"promote", "x", "--sha256", "ab", "--scan", "novalue"}, `"novalue" is not key=value`},
		{[]string{"promote", "x", "--sha256", "ab", "--scan", "a=pass", "--scan", "a=fail"}, `"a" given twice`},
		{[]string{"promote", "x", "--sha256", "ab", "--size", "-1"}, "--size must not be negative"},
		{[]string{"promote", "x", "--sha256", "ab", "--size", "lots"}, "invalid value"},
		{[]string{"revoke", ""}, "empty argument"},
	} {
		r := securectl(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("securectl %q: exit %d, stderr %q; want exit 2 with %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	for _, args := range [][]string{nil, {"help"}, {"--help"}, {"help", "promote"}, {"promote", "--help"}} {
		r := securectl(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: securectl") {
			t.Errorf("securectl %q: exit %d\n%s", args, r.code, r.stdout)
		}
	}
	if out := ok(t, "help", "promote"); !strings.Contains(out, "-scanner-version") {
		t.Errorf("promote help lacks its flags:\n%s", out)
	}
}

// TestFlagsAnywhere: flags may follow the name, and "--" lets a name start
// with a dash.
func TestFlagsAnywhere(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Query().Get("name")+"|"+r.URL.Query().Get("reason"))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"status":"revoked","name":"x"}`))
	}))
	defer srv.Close()
	t.Setenv("REGISTRY_URL", srv.URL)
	t.Setenv("SERVICE_TOKEN_PATH", "") // the default path: missing, so no token is sent
	for _, args := range [][]string{
		{"revoke", "--reason", "r", "m"},
		{"revoke", "m", "--reason", "r"},
		{"revoke", "m", "--reason=r", "--json"},
		{"--json", "revoke", "--reason", "r", "--", "m"},
	} {
		ok(t, args...)
	}
	ok(t, "revoke", "--reason", "r", "--", "-m")
	want := []string{"m|r", "m|r", "m|r", "m|r", "-m|r"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("seen %q, want %q", seen, want)
	}
}

// TestServerAnswersShown covers answers the real registry is hard to drive
// into: a broken chain, a failed verification, hostile text.
func TestServerAnswersShown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/model/history":
			_, _ = w.Write([]byte(`{"name":"m","chain":"broken","error":"record 2 does not follow record 1","records":[
				{"seq":1,"action":"acquire","to":"acquired","at":"2026-01-02T03:04:05Z","who":"service","reason":"evil\u001b[2Jreason\there"}]}`))
		case "/v1/model/verify":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"status":"failed","name":"m","expected":"aa","actual":"bb","error":"hash mismatch: file \"m.gguf\" hashes to bb","safe_to_use":"false"}`))
		case "/v1/models/verify-all":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"status":"failed","checked":2,"models":[{"name":"m","status":"failed","error":"missing"},{"name":"n","status":"verified","sha256":"0123456789abcdef"}]}`))
		case "/health":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"error","auth_required":true}`))
		}
	}))
	defer srv.Close()
	t.Setenv("REGISTRY_URL", srv.URL)
	t.Setenv("SERVICE_TOKEN_PATH", "") // the default path: missing, so no token is sent

	r := fails(t, 1, []string{"chain is BROKEN", "record 2 does not follow"}, "history", "m")
	if !strings.Contains(r.stdout, "chain: BROKEN (record 2 does not follow record 1)") || strings.ContainsRune(r.stdout, 0x1b) ||
		!strings.Contains(r.stdout, `evil\u001b[2Jreason\u0009here`) {
		t.Fatalf("history stdout:\n%q", r.stdout)
	}
	r = fails(t, 1, []string{`verify "m": FAILED: hash mismatch`}, "verify", "m")
	if !strings.HasPrefix(r.stdout, "FAILED: m (expected=aa, actual=bb): hash mismatch") {
		t.Fatalf("verify stdout: %q", r.stdout)
	}
	r = fails(t, 1, nil, "--json", "verify", "m")
	if vr := decode[lifecycle.VerifyResult](t, r.stdout); vr.SafeToUse != "false" {
		t.Fatalf("verify --json: %q", r.stdout)
	}
	r = fails(t, 1, []string{"1 of 2 models FAILED"}, "verify-all")
	if !strings.Contains(r.stdout, "sha256=0123456789ab\n") || !strings.HasSuffix(r.stdout, "checked: 2, status: failed\n") {
		t.Fatalf("verify-all stdout:\n%s", r.stdout)
	}
	r = fails(t, 1, []string{`the registry reports "error"`}, "status")
	if !strings.Contains(r.stdout, "status: error") {
		t.Fatalf("status stdout: %q", r.stdout)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1048581: "1.0 MB", 2393231072: "2.4 GB", 5e15: "5.0 PB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPrintIndentedEscapesTerminalControls(t *testing.T) {
	var out bytes.Buffer
	raw := []byte("{\"name\":\"evil\u202egnp.gguf\",\"reason\":\"csi\u009b2J del\x7f\",\"n\":[1,2]}\n")
	if err := printIndented(&out, raw); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.ContainsAny(got, "\u202e\u009b\x7f") || !strings.Contains(got, `evil\u202egnp.gguf`) {
		t.Fatalf("not escaped: %q", got)
	}
	var back, orig map[string]any
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("no longer JSON: %v\n%s", err, got)
	}
	_ = json.Unmarshal(raw, &orig)
	if back["name"] != orig["name"] || back["reason"] != orig["reason"] || !strings.HasSuffix(got, "}\n") || strings.HasSuffix(got, "\n\n") {
		t.Fatalf("changed meaning or layout: %q", got)
	}
}
