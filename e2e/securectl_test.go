package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// securectl drives the built securectl binary against one registry.
type securectl struct {
	t   *testing.T
	bin string
	env []string
}

// newSecurectl builds ../cmd/securectl and points it at r with r's token.
func newSecurectl(t *testing.T, r *registry) *securectl {
	t.Helper()
	dir := t.TempDir()
	if err := goBuild("..", dir, "./cmd/securectl"); err != nil {
		t.Fatal(err)
	}
	tokenPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenPath, []byte(r.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &securectl{t: t, bin: filepath.Join(dir, "securectl"),
		env: append(os.Environ(), "REGISTRY_URL=http://"+r.Addr, "SERVICE_TOKEN_PATH="+tokenPath)}
}

func (s *securectl) run(extraEnv []string, args ...string) cmdResult {
	s.t.Helper()
	return runCmd(s.t, runOpts{Env: append(s.env[:len(s.env):len(s.env)], extraEnv...), Timeout: toolTimeout}, s.bin, args...)
}

// ok runs securectl, fails the test unless it exits 0 with nothing on
// stderr, and returns stdout.
func (s *securectl) ok(args ...string) string {
	s.t.Helper()
	res := s.run(nil, args...)
	if res.Code != 0 || res.Stderr != "" {
		s.t.Fatalf("securectl %q: %s", args, res)
	}
	return res.Stdout
}

// fail runs securectl, and fails the test unless it exits with code and
// stderr holds every one of want.
func (s *securectl) fail(env []string, code int, want []string, args ...string) cmdResult {
	s.t.Helper()
	res := s.run(env, args...)
	if res.Code != code {
		s.t.Fatalf("securectl %q: want exit %d, got %s", args, code, res)
	}
	for _, w := range want {
		if !strings.Contains(res.Stderr, w) {
			s.t.Errorf("securectl %q: stderr lacks %q: %s", args, w, res)
		}
	}
	return res
}

func (s *securectl) json(v any, args ...string) {
	s.t.Helper()
	out := s.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("securectl --json %q: %v\n%s", args, err, out)
	}
}

// ggufModel returns a valid GGUF header (version 3, no tensors, no
// metadata) padded with random bytes to size.
func ggufModel(t *testing.T, size int) []byte {
	t.Helper()
	b := make([]byte, 24, size)
	copy(b, "GGUF")
	binary.LittleEndian.PutUint32(b[4:], 3)
	return append(b, randomBytes(t, size-24)...)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type sctlArtifact struct {
	Name         string            `json:"name"`
	Format       string            `json:"format"`
	Filename     string            `json:"filename"`
	SHA256       string            `json:"sha256"`
	SizeBytes    int64             `json:"size_bytes"`
	Source       string            `json:"source"`
	State        string            `json:"state"`
	ScanResults  map[string]string `json:"scan_results"`
	Digest       string            `json:"digest"`
	OCIReference string            `json:"oci_reference"`
}

type sctlHistory struct {
	Chain   string `json:"chain"`
	Records []struct {
		Seq    int    `json:"seq"`
		Action string `json:"action"`
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason"`
	} `json:"records"`
}

// TestSecurectl walks a model through every securectl verb against the
// real registry binary: acquire (streamed and from the import directory),
// list, info, quarantine, promote, path, verify, verify-all, history,
// revoke, delete, status.
func TestSecurectl(t *testing.T) {
	skipUnlessOurServer(t, "securectl needs the /v1 API")
	r := startRegistry(t)
	s := newSecurectl(t, r)
	const name = "Phi-3 Mini 3.8B (Q4_K_M)"
	model := ggufModel(t, 3<<20+11)
	sum := sha256Hex(model)
	file := writeFile(t, t.TempDir(), "Phi-3-mini-4k-instruct-q4.gguf", model)

	if out := s.ok("status"); !strings.Contains(out, "status: ok") || !strings.Contains(out, "auth_required: true") || !strings.Contains(out, "models: 0") {
		t.Fatalf("status:\n%s", out)
	}

	// acquire streams the file; with stderr not a terminal, no progress bar.
	out := s.ok("acquire", name, file, "--source", "https://huggingface.co/microsoft/Phi-3-mini-4k-instruct-gguf",
		"--source-revision", "8755ece4", "--reason", "requested by ops")
	for _, w := range []string{"ACQUIRED: " + name, "acquired", sum, "Phi-3-mini-4k-instruct-q4.gguf", "(3145739 bytes)"} {
		if !strings.Contains(out, w) {
			t.Errorf("acquire output lacks %q:\n%s", w, out)
		}
	}
	s.fail(nil, 1, []string{"securectl: acquire", "already registered"}, "acquire", name, file)

	// acquire --import: the file is in the registry's import directory.
	second := ggufModel(t, 64<<10)
	writeFile(t, filepath.Join(r.Dir, "import"), "second.gguf", second)
	s.fail(nil, 2, []string{"needs --sha256"}, "acquire", "--import", "Second (import)", "second.gguf")
	s.fail(nil, 1, []string{"hash mismatch"}, "acquire", "--import", "Second (import)", "second.gguf", "--sha256", strings.Repeat("0", 64))
	var imported sctlArtifact
	s.json(&imported, "acquire", "--import", "Second (import)", "second.gguf", "--sha256", sha256Hex(second), "--size", "65536")
	if imported.State != "acquired" || imported.SHA256 != sha256Hex(second) || imported.Format != "gguf" {
		t.Fatalf("acquire --import: %+v", imported)
	}

	// list and info.
	out = s.ok("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME FORMAT STATE SIZE SHA256 PROMOTED" {
		t.Fatalf("list:\n%s", out)
	}
	if !strings.HasPrefix(lines[1], name+" ") || !strings.Contains(lines[1], " gguf ") || !strings.Contains(lines[1], " acquired ") ||
		!strings.Contains(lines[1], " 3.1 MB ") || !strings.Contains(lines[1], " "+sum[:12]+" ") {
		t.Errorf("list row: %q", lines[1])
	}
	var listed []sctlArtifact
	s.json(&listed, "ls")
	if len(listed) != 2 || listed[0].Name != name || listed[1].Name != "Second (import)" {
		t.Fatalf("ls --json: %+v", listed)
	}
	var info sctlArtifact
	if err := json.Unmarshal([]byte(s.ok("info", name)), &info); err != nil {
		t.Fatal(err)
	}
	if info.SHA256 != sum || info.State != "acquired" || info.Source == "" || info.Digest == "" || info.OCIReference == "" {
		t.Fatalf("info: %+v", info)
	}

	// Not trusted yet: no path, verify says the bytes match but exits 1.
	s.fail(nil, 1, []string{"only trusted artifacts can be loaded"}, "path", name)
	if res := s.fail(nil, 1, []string{"not safe to use"}, "verify", name); !strings.Contains(res.Stdout, "VERIFIED: "+name+" (sha256="+sum+", state=acquired)") {
		t.Errorf("verify of an acquired model: %s", res)
	}

	// quarantine, then promote with the sha256 from the acquire.
	if out := s.ok("quarantine", name, "--reason", "scanning"); out != "QUARANTINED: "+name+"\n" {
		t.Errorf("quarantine: %q", out)
	}
	var res struct{ Status, Name string }
	s.json(&res, "quarantine", name)
	if res.Status != "already_quarantined" || res.Name != name {
		t.Errorf("quarantine again: %+v", res)
	}
	s.fail(nil, 1, []string{"promote", "hash verification failed"}, "promote", name, "--sha256", strings.Repeat("0", 64))
	s.fail(nil, 2, []string{"needs --sha256"}, "promote", name)
	out = s.ok("promote", name, "--sha256", info.SHA256, "--scan", "modelscan=pass", "--scan", "gguf-guard=pass",
		"--scanner-version", "modelscan=0.8.8", "--scanner-version", "gguf-guard=1.2.0", "--policy-version", "local-v1",
		"--reason", "scans passed")
	for _, w := range []string{"PROMOTED: " + name, "trusted", "gguf-guard=pass modelscan=pass", "e2e-permissive"} { // the registry records its own policy's version
		if !strings.Contains(out, w) {
			t.Errorf("promote output lacks %q:\n%s", w, out)
		}
	}

	// path: the printed file holds exactly the model's bytes.
	path := strings.TrimSpace(s.ok("path", name))
	if !filepath.IsAbs(path) {
		t.Fatalf("path printed %q", path)
	}
	sameFile(t, path, model)
	var pi struct {
		Path      string `json:"path"`
		SHA256    string `json:"sha256"`
		SizeBytes int64  `json:"size_bytes"`
	}
	s.json(&pi, "path", name)
	if pi.Path != path || pi.SHA256 != sum || pi.SizeBytes != int64(len(model)) {
		t.Errorf("path --json: %+v", pi)
	}

	// verify and verify-all.
	if out := s.ok("verify", name); !strings.HasPrefix(out, "VERIFIED: "+name+" (sha256="+sum+", state=trusted)\n  attestation: verified (key ") {
		t.Errorf("verify: %q", out)
	}
	var vr struct{ Status, SafeToUse string }
	s.json(&vr, "verify", name)
	if vr.Status != "verified" {
		t.Errorf("verify --json: %+v", vr)
	}
	out = s.ok("verify-all")
	if strings.Count(out, " verified ") != 2 || !strings.HasSuffix(out, "checked: 2, status: ok\n") {
		t.Errorf("verify-all:\n%s", out)
	}

	// revoke: refused at once; delete: the bytes go, the history stays.
	if out := s.ok("revoke", name, "--reason", "CVE-2026-0001"); out != "REVOKED: "+name+"\n" {
		t.Errorf("revoke: %q", out)
	}
	s.fail(nil, 1, []string{"revoked", "only trusted artifacts can be loaded"}, "path", name)
	s.fail(nil, 1, []string{"not safe to use"}, "verify", name)
	if out := s.ok("delete", name, "--reason", "superseded"); out != "DELETED: "+name+"\n" {
		t.Errorf("delete: %q", out)
	}
	s.ok("rm", "Second (import)")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the deleted model's bytes are still at %s: %v", path, err)
	}

	out = s.ok("history", name)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 || strings.Join(strings.Fields(lines[0]), " ") != "SEQ ACTION FROM TO AT WHO REASON" || lines[6] != "chain: verified" {
		t.Fatalf("history:\n%s", out)
	}
	var hist sctlHistory
	s.json(&hist, "history", name)
	want := []struct{ action, from, to, reason string }{
		{"acquire", "", "acquired", "requested by ops"},
		{"quarantine", "acquired", "quarantined", "scanning"},
		{"promote", "quarantined", "trusted", "scans passed"},
		{"revoke", "trusted", "revoked", "CVE-2026-0001"},
		{"delete", "revoked", "deleted", "superseded"},
	}
	if hist.Chain != "verified" || len(hist.Records) != len(want) {
		t.Fatalf("history --json: %+v", hist)
	}
	for i, w := range want {
		rec := hist.Records[i]
		if rec.Seq != i+1 || rec.Action != w.action || rec.From != w.from || rec.To != w.to || rec.Reason != w.reason {
			t.Errorf("record %d: %+v, want %+v", i+1, rec, w)
		}
		if !strings.Contains(lines[i+1], w.action) || !strings.Contains(lines[i+1], w.reason) {
			t.Errorf("history row %d: %q", i+1, lines[i+1])
		}
	}

	out = s.ok("verify-all")
	if strings.Count(out, " skipped ") != 2 || !strings.HasSuffix(out, "checked: 2, status: ok\n") {
		t.Errorf("verify-all after delete:\n%s", out)
	}
	var health struct {
		ModelCount  int            `json:"model_count"`
		StateCounts map[string]int `json:"state_counts"`
	}
	s.json(&health, "status")
	if health.ModelCount != 2 || health.StateCounts["deleted"] != 2 {
		t.Errorf("status --json: %+v", health)
	}
}

// TestSecurectlFailures: exit status and stderr of failures.
func TestSecurectlFailures(t *testing.T) {
	skipUnlessOurServer(t, "securectl needs the /v1 API")
	r := startRegistry(t)
	s := newSecurectl(t, r)

	for _, args := range [][]string{{"info", "No such model"}, {"verify", "No such model"}, {"path", "No such model"},
		{"history", "No such model"}, {"quarantine", "No such model"}, {"revoke", "No such model"}, {"delete", "No such model"},
		{"promote", "No such model", "--sha256", strings.Repeat("a", 64)}} {
		res := s.fail(nil, 1, []string{"securectl: " + args[0] + ` "No such model": `}, args...)
		if res.Stdout != "" {
			t.Errorf("securectl %q printed on stdout: %q", args, res.Stdout)
		}
	}
	s.fail(nil, 1, []string{"model not found (HTTP 404)"}, "info", "No such model")
	s.fail(nil, 1, []string{"no such file"}, "acquire", "New", filepath.Join(t.TempDir(), "missing.gguf"))

	for _, args := range [][]string{{"frobnicate"}, {"info"}, {"info", "a", "b"}, {"list", "--bogus"}, {"acquire", "x"},
		{"promote", "x", "--scan", "novalue", "--sha256", "ab"}, {"--bogus"}} {
		s.fail(nil, 2, []string{"securectl: "}, args...)
	}

	// A wrong token: exit 1, the registry's message and a hint. /health
	// gets no token, so status still works.
	wrong := writeFile(t, t.TempDir(), "wrong-token", []byte(randomHex(t, 32)))
	if err := os.Chmod(wrong, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SERVICE_TOKEN_PATH=" + wrong}
	s.fail(env, 1, []string{"invalid service token", "hint:", "SERVICE_TOKEN_PATH"}, "list")
	// (Over 1 MiB, the upload waits for "100 Continue", so the refusal
	// arrives before any of the file is sent.)
	s.fail(env, 1, []string{"invalid service token", "hint:"}, "acquire", "x", writeFile(t, t.TempDir(), "x.gguf", ggufModel(t, 2<<20)))
	if res := s.run(env, "status"); res.Code != 0 {
		t.Errorf("status with a wrong token: %s", res)
	}
	// A missing configured token is an error before any request.
	s.fail([]string{"SERVICE_TOKEN_PATH=" + filepath.Join(t.TempDir(), "none")}, 1, []string{"SERVICE_TOKEN_PATH", "does not exist"}, "list")
	// The token is never sent over plain http beyond loopback.
	s.fail([]string{"REGISTRY_URL=http://192.0.2.1:8470"}, 2, []string{"only allowed to a loopback address"}, "list")

	// Nothing changed.
	var listed []sctlArtifact
	s.json(&listed, "list")
	if len(listed) != 0 {
		t.Errorf("failures left models behind: %+v", listed)
	}
}
