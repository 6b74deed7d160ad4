package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue 4's acceptance, against the real binary: periodic integrity checks
// that pull a tampered model from runtime, the models.lock.yaml round trip,
// and per-tensor manifests that name what changed.

type igKV struct{ key, val string }

type igTensor struct {
	name string
	vals []float32
}

// igGGUF writes a GGUF v3 file with string metadata and F32 tensors laid
// out as ggml does (contiguous, each padded to 32 bytes).
func igGGUF(kvs []igKV, tensors []igTensor) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	str := func(s string) { _ = binary.Write(&b, le, uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	_ = binary.Write(&b, le, uint32(3))
	_ = binary.Write(&b, le, uint64(len(tensors)))
	_ = binary.Write(&b, le, uint64(len(kvs)))
	for _, kv := range kvs {
		str(kv.key)
		_ = binary.Write(&b, le, uint32(8)) // string
		str(kv.val)
	}
	var off uint64
	for _, t := range tensors {
		str(t.name)
		_ = binary.Write(&b, le, uint32(1)) // one dimension
		_ = binary.Write(&b, le, uint64(len(t.vals)))
		_ = binary.Write(&b, le, uint32(0)) // F32
		_ = binary.Write(&b, le, off)
		off += (uint64(len(t.vals))*4 + 31) / 32 * 32
	}
	pad := func() {
		for b.Len()%32 != 0 {
			b.WriteByte(0)
		}
	}
	pad()
	for _, t := range tensors {
		for _, v := range t.vals {
			_ = binary.Write(&b, le, math.Float32bits(v))
		}
		pad()
	}
	return b.Bytes()
}

const igTemplate = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"

// igModel is a small chat model: a template, a tokenizer list and three
// tensors; seed makes its bytes unique.
func igModel(seed float32, template string, drop string) []byte {
	kvs := []igKV{{"general.architecture", "llama"}, {"general.name", "e2e tiny"}, {"tokenizer.chat_template", template}}
	var ts []igTensor
	for i, name := range []string{"token_embd.weight", "blk.0.attn_q.weight", "output.weight"} {
		if name == drop {
			continue
		}
		vals := make([]float32, 64)
		for j := range vals {
			vals[j] = seed + float32(i*100+j)
		}
		ts = append(ts, igTensor{name, vals})
	}
	return igGGUF(kvs, ts)
}

type igArtifact struct {
	Name        string          `json:"name"`
	State       string          `json:"state"`
	SHA256      string          `json:"sha256"`
	Filename    string          `json:"filename"`
	Digest      string          `json:"digest"`
	Fingerprint json.RawMessage `json:"gguf_guard_fingerprint"`
	Manifest    string          `json:"gguf_guard_manifest"`
}

type igReport struct {
	Status        string `json:"status"`
	CheckedAt     string `json:"checked_at"`
	ModelsChecked int    `json:"models_checked"`
	Failures      int    `json:"failures"`
	Stale         *bool  `json:"stale"`
	Results       []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		State  string `json:"state"`
		Error  string `json:"error"`
	} `json:"results"`
}

// igTrust acquires data from the import directory under name and promotes
// it.
func igTrust(t *testing.T, r *registry, importDir, name, filename string, data []byte) igArtifact {
	t.Helper()
	writeFile(t, importDir, filename, data)
	res := lcJSON(t, r, "POST", "/v1/model/acquire", map[string]any{"name": name, "filename": filename, "sha256": lcSHA256(data), "size_bytes": len(data)}, true)
	if res.Status != http.StatusCreated {
		t.Fatalf("acquire %q: %d %s", name, res.Status, res.Body)
	}
	res = lcJSON(t, r, "POST", "/v1/model/promote", map[string]any{"name": name, "sha256": lcSHA256(data),
		"scan_results": map[string]string{"modelscan": "pass"}, "scanner_versions": map[string]string{"modelscan": "0.8.8"}, "policy_version": "e2e-1"}, true)
	return lcDecode[igArtifact](t, res, http.StatusCreated)
}

func igGet(t *testing.T, r *registry, name string) igArtifact {
	t.Helper()
	return lcDecode[igArtifact](t, r.do(t, "GET", "/v1/model?name="+url.QueryEscape(name), nil, true, nil), http.StatusOK)
}

// igBlob returns the runtime path of a trusted model's file, made writable
// so a test can tamper with it as an attacker with disk access would.
func igBlob(t *testing.T, r *registry, name string) string {
	t.Helper()
	p := lcDecode[struct {
		Path string `json:"path"`
	}](t, r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil), http.StatusOK)
	if err := os.Chmod(p.Path, 0o600); err != nil {
		t.Fatal(err)
	}
	return p.Path
}

func igFlip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func igWaitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPeriodicIntegrityCheck: a trusted model's blob gets one flipped bit
// on disk; the next scheduled check quarantines it, the runtime path is
// refused, and the result file and endpoint name the model and why.
func TestPeriodicIntegrityCheck(t *testing.T) {
	skipUnlessOurServer(t, "integrity checks are ours")
	result := filepath.Join(t.TempDir(), "logs", "integrity-last.json")
	r := startRegistry(t, "INTEGRITY_INTERVAL=1s", "INTEGRITY_RESULT_PATH="+result)
	importDir := filepath.Join(r.Dir, "import")
	good := igModel(1, igTemplate, "")
	bad := igModel(2, igTemplate, "")
	igTrust(t, r, importDir, "kept", "kept.gguf", good)
	igTrust(t, r, importDir, "tampered", "tampered.gguf", bad)

	// The scheduler runs and finds everything in order.
	igWaitFor(t, "a first ok integrity result", 15*time.Second, func() bool {
		var rep igReport
		b, err := os.ReadFile(result)
		return err == nil && json.Unmarshal(b, &rep) == nil && rep.Status == "ok" && rep.ModelsChecked == 2
	})

	path := igBlob(t, r, "tampered")
	igFlip(t, path, int64(len(bad))-7) // a bit in the last tensor
	flippedAt := time.Now()
	igWaitFor(t, "the periodic check to quarantine the tampered model", 15*time.Second, func() bool {
		return igGet(t, r, "tampered").State == "quarantined"
	})
	t.Logf("quarantined %s after the flip", time.Since(flippedAt).Round(time.Millisecond))

	res := r.do(t, "GET", "/v1/model/path?name=tampered", nil, false, nil)
	if res.Status != http.StatusForbidden {
		t.Errorf("path of the tampered model: %d %s, want 403", res.Status, res.Body)
	}
	if res := r.do(t, "GET", "/v1/model/path?name=kept", nil, false, nil); res.Status != http.StatusOK {
		t.Errorf("path of the untouched model: %d %s", res.Status, res.Body)
	}
	h := lcHistoryOf(t, r, "tampered")
	last := h.Records[len(h.Records)-1]
	if h.Chain != "verified" || last.Action != "integrity_failure" || last.Who != "system" || !strings.Contains(last.Reason, "sha256:") {
		t.Errorf("tampered model's last record: %+v (chain %s)", last, h.Chain)
	}
	if log := r.LogTail(200); !strings.Contains(log, `ALERT: integrity check failed; artifact \"tampered\"`) {
		t.Errorf("no alert line in the log:\n%s", log)
	}

	check := func(where string, rep igReport) {
		t.Helper()
		i := slices.IndexFunc(rep.Results, func(x struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			State  string `json:"state"`
			Error  string `json:"error"`
		}) bool {
			return x.Name == "tampered"
		})
		if rep.Status != "failed" || rep.Failures != 1 || i < 0 || rep.Results[i].Status != "failed" || rep.Results[i].Error == "" {
			t.Errorf("%s: %+v; want failed, naming %q and why", where, rep, "tampered")
		}
	}
	var fromFile igReport
	igWaitFor(t, "a failed integrity result in the file", 15*time.Second, func() bool {
		b, err := os.ReadFile(result)
		return err == nil && json.Unmarshal(b, &fromFile) == nil && fromFile.Status == "failed"
	})
	check("result file", fromFile)
	status := lcDecode[igReport](t, r.do(t, "GET", "/v1/integrity/status", nil, true, nil), http.StatusOK)
	check("GET /v1/integrity/status", status)
	if status.Stale == nil || *status.Stale {
		t.Errorf("integrity status stale = %v, want false", status.Stale)
	}
	if _, err := time.Parse(time.RFC3339, status.CheckedAt); err != nil {
		t.Errorf("checked_at %q: %v", status.CheckedAt, err)
	}

	// The timer variant: securectl integrity run does the same through
	// the API and exits 1 naming the failure.
	s := newSecurectl(t, r)
	out := s.run(nil, "integrity", "run")
	if out.Code != 1 || !strings.Contains(out.Stdout, "tampered") || !strings.Contains(out.Stderr, "FAILED") {
		t.Errorf("securectl integrity run: %s", out)
	}
	s.fail(nil, 1, []string{"failed"}, "integrity", "status")

	// A stopped scheduler leaves a result that goes stale.
	r.Stop()
	r.env = append(r.env, "INTEGRITY_INTERVAL=1h")
	r.start()
	time.Sleep(10 * time.Millisecond)
	status = lcDecode[igReport](t, r.do(t, "GET", "/v1/integrity/status", nil, true, nil), http.StatusOK)
	if status.Stale == nil || *status.Stale {
		t.Errorf("a result seconds old with a 1h interval: stale = %v", status.Stale)
	}
}

// TestLockRoundTrip: the trusted set exported as models.lock.yaml boots an
// empty registry (lock + files) into the same trusted set, whose export is
// the same bytes; a blocked entry is never servable; a broken lock stops
// the start naming the line.
func TestLockRoundTrip(t *testing.T) {
	skipUnlessOurServer(t, "models.lock.yaml is ours")
	a := startRegistry(t)
	importA := filepath.Join(a.Dir, "import")
	files := map[string][]byte{
		"alpha.gguf":        igModel(10, igTemplate, ""),
		"beta.gguf":         igModel(20, igTemplate, ""),
		"gamma.safetensors": oaSafetensors(7),
	}
	igTrust(t, a, importA, "Alpha 7B (Q4_K_M)", "alpha.gguf", files["alpha.gguf"])
	igTrust(t, a, importA, "beta", "beta.gguf", files["beta.gguf"])
	igTrust(t, a, importA, "gamma", "gamma.safetensors", files["gamma.safetensors"])
	igTrust(t, a, importA, "revoked one", "revoked.gguf", igModel(30, igTemplate, ""))
	lcTransition(t, a, "revoke", "revoked one", http.StatusOK, "revoked")
	writeFile(t, importA, "acquired.gguf", igModel(40, igTemplate, ""))
	lcJSON(t, a, "POST", "/v1/model/acquire", map[string]any{"name": "only acquired", "filename": "acquired.gguf", "sha256": lcSHA256(igModel(40, igTemplate, ""))}, true)

	res := a.do(t, "GET", "/v1/lock", nil, true, nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /v1/lock: %d %s %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	lockA := res.Body
	if res := a.do(t, "GET", "/v1/lock", nil, false, nil); res.Status != http.StatusUnauthorized {
		t.Errorf("GET /v1/lock without the token: %d", res.Status)
	}
	s := newSecurectl(t, a)
	out := filepath.Join(t.TempDir(), "exported.lock.yaml")
	s.ok("lock", "-o", out)
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, lockA) {
		t.Errorf("securectl lock -o differs from GET /v1/lock (%v):\n%s\n---\n%s", err, b, lockA)
	}
	if got := s.ok("lock"); got != string(lockA) {
		t.Errorf("securectl lock on stdout differs from GET /v1/lock")
	}
	for _, name := range []string{"Alpha 7B (Q4_K_M)", "beta", "gamma"} {
		if !bytes.Contains(lockA, []byte(`"`+name+`"`)) {
			t.Errorf("the export lacks %q:\n%s", name, lockA)
		}
	}
	for _, name := range []string{"revoked one", "only acquired", "promoted_at"} {
		if bytes.Contains(lockA, []byte(name)) {
			t.Errorf("the export has %q:\n%s", name, lockA)
		}
	}

	// A fresh registry: empty data directory, the lock, the files.
	tmp := t.TempDir()
	importB := filepath.Join(tmp, "import")
	for name, data := range files {
		writeFile(t, importB, name, data)
	}
	lockPath := filepath.Join(tmp, "models.lock.yaml")
	if err := os.WriteFile(lockPath, lockA, 0o644); err != nil {
		t.Fatal(err)
	}
	b := startRegistry(t, "IMPORT_DIR="+importB, "REGISTRY_LOCK_PATH="+lockPath)
	trusted := func(r *registry) map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, x := range lcModels(t, r) {
			if x.State == "trusted" {
				m[x.Name] = x.SHA256
			}
		}
		return m
	}
	wantSet := trusted(a)
	if got := trusted(b); fmt.Sprint(got) != fmt.Sprint(wantSet) {
		t.Errorf("trusted set booted from the lock: %v, want %v", got, wantSet)
	}
	for _, name := range []string{"Alpha 7B (Q4_K_M)", "beta", "gamma"} {
		lcRuntimePath(t, b, name, files[map[string]string{"Alpha 7B (Q4_K_M)": "alpha.gguf", "beta": "beta.gguf", "gamma": "gamma.safetensors"}[name]])
		h := lcHistoryOf(t, b, name)
		if last := h.Records[len(h.Records)-1]; last.Action != "promote" || last.Who != "system" || !strings.Contains(last.Reason, "models.lock.yaml") {
			t.Errorf("%s on the booted registry: last record %+v, want a promote by the lock", name, last)
		}
	}
	lockB := b.do(t, "GET", "/v1/lock", nil, true, nil).Body
	if !bytes.Equal(lockA, lockB) {
		t.Errorf("re-export differs:\n%s\n---\n%s", lockA, lockB)
	}
	// Every boot applies the lock; a second one changes nothing.
	b.Restart()
	if got := trusted(b); fmt.Sprint(got) != fmt.Sprint(wantSet) {
		t.Errorf("trusted set after a second boot: %v", got)
	}
	if lockB2 := b.do(t, "GET", "/v1/lock", nil, true, nil).Body; !bytes.Equal(lockA, lockB2) {
		t.Errorf("export after a second boot differs")
	}

	// Block beta (and list a missing file and a wrong one): beta is
	// revoked at boot and can never be served or promoted again.
	blocked := editEntry(t, string(lockA), "beta", func(e string) string {
		// A blocked entry states no trust (the lock refuses both at once).
		return strings.Replace(e, "    state: \"trusted\"\n", "", 1) + "    blocked: true\n    blocked_reason: \"failed the behavioural smoke test\"\n"
	})
	blocked += `  - name: "not there"
    format: "gguf"
    filename: "absent.gguf"
    sha256: "` + strings.Repeat("ab", 32) + `"
    size_bytes: 1234
    state: "trusted"
`
	if err := os.WriteFile(lockPath, []byte(blocked), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	if st := lcModel(t, b, "beta").State; st != "revoked" {
		t.Errorf("blocked beta is %s, want revoked", st)
	}
	if res := b.do(t, "GET", "/v1/model/path?name=beta", nil, false, nil); res.Status != http.StatusForbidden {
		t.Errorf("path of blocked beta: %d %s", res.Status, res.Body)
	}
	if res := b.do(t, "GET", "/v2/models/beta/manifests/latest", nil, false, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"}); res.Status != http.StatusUnauthorized {
		t.Errorf("anonymous /v2 pull of blocked beta: %d %s", res.Status, res.Body)
	}
	res = lcJSON(t, b, "POST", "/v1/model/promote", map[string]any{"name": "beta", "sha256": lcSHA256(files["beta.gguf"])}, true)
	if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "blocked") {
		t.Errorf("promote of blocked beta: %d %s, want 409 naming the block", res.Status, res.Body)
	}
	// The same bytes under another name are blocked too.
	lcAcquireStream(t, b, "beta again", "beta-again.gguf", files["beta.gguf"])
	res = lcJSON(t, b, "POST", "/v1/model/promote", map[string]any{"name": "beta again", "sha256": lcSHA256(files["beta.gguf"])}, true)
	if res.Status != http.StatusConflict {
		t.Errorf("promote of blocked bytes under another name: %d %s", res.Status, res.Body)
	}
	if h := lcHistoryOf(t, b, "beta"); !strings.Contains(h.Records[len(h.Records)-1].Reason, "behavioural smoke test") {
		t.Errorf("beta's last record does not give the lock's reason: %+v", h.Records[len(h.Records)-1])
	}
	if res := b.do(t, "GET", "/v1/model/path?name="+url.QueryEscape("not there"), nil, false, nil); res.Status != http.StatusNotFound {
		t.Errorf("a listed but missing file: %d %s", res.Status, res.Body)
	}
	if log := b.LogTail(100); !strings.Contains(log, `"name":"not there","action":"missing"`) {
		t.Errorf("the missing file is not reported in the log:\n%s", log)
	}
	if bytes.Contains(b.do(t, "GET", "/v1/lock", nil, true, nil).Body, []byte(`"beta"`)) {
		t.Error("the export still lists blocked beta")
	}

	// A broken lock stops the start, naming the file and line.
	broken := strings.Replace(string(lockA), `    format: "gguf"`, "    format: \"gguf\"\n    smoke_test_score: 0.9", 1)
	if err := os.WriteFile(lockPath, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	line := 1 + strings.Count(broken[:strings.Index(broken, "smoke_test_score")], "\n")
	run := runCmd(t, runOpts{Env: b.env, Timeout: 30 * time.Second}, bins["registry"])
	want := fmt.Sprintf("%s line %d: unknown field \"smoke_test_score\"", lockPath, line)
	if run.Code == 0 || !strings.Contains(run.Stderr, want) {
		t.Errorf("start with a broken lock: %s; want a failed start naming %q", run, want)
	}
}

// editEntry rewrites the text of the lock entry named name.
func editEntry(t *testing.T, lock, name string, edit func(entry string) string) string {
	t.Helper()
	start := strings.Index(lock, `  - name: "`+name+`"`)
	if start < 0 {
		t.Fatalf("no entry %q in\n%s", name, lock)
	}
	end := strings.Index(lock[start+1:], "  - name: ")
	if end < 0 {
		end = len(lock)
	} else {
		end += start + 1
	}
	return lock[:start] + edit(lock[start:end]) + lock[end:]
}

type igCheck struct {
	Status  string `json:"status"`
	Name    string `json:"name"`
	Error   string `json:"error"`
	Changes []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
		Was  string `json:"was"`
		Now  string `json:"now"`
	} `json:"changes"`
}

// TestVerifyManifestNamesChanges: per-tensor manifests are computed on
// arrival (through /v1 and a /v2 push with a generic media type) and
// verify-manifest names an edited chat template, a deleted tensor and a
// flipped tensor byte.
func TestVerifyManifestNamesChanges(t *testing.T) {
	skipUnlessOurServer(t, "per-tensor manifests are ours")
	r := startRegistry(t, "INTEGRITY_INTERVAL=0")
	importDir := filepath.Join(r.Dir, "import")
	models := map[string][]byte{}
	for i, name := range []string{"template", "deleted", "flipped", "untouched"} {
		models[name] = igModel(float32(100*i), igTemplate, "")
		igTrust(t, r, importDir, name, name+".gguf", models[name])
	}
	// A /v2 push whose layer says octet-stream: detected by its magic.
	pushed := igModel(900, igTemplate, "")
	d := r.pushBlob(t, "e2e/pushed", pushed)
	cfg := r.pushBlob(t, "e2e/pushed", []byte("{}"))
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": "application/vnd.example.model",
		"config":       map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2},
		"layers":       []any{map[string]any{"mediaType": "application/octet-stream", "digest": d, "size": len(pushed)}}})
	r.pushManifest(t, "e2e/pushed", "v1", "application/vnd.oci.image.manifest.v1+json", man)

	for _, name := range []string{"template", "deleted", "flipped", "untouched", "e2e/pushed:v1"} {
		igWaitFor(t, "the per-tensor manifest of "+name, 30*time.Second, func() bool { return igGet(t, r, name).Manifest != "" })
		a := igGet(t, r, name)
		var fp map[string]any
		if err := json.Unmarshal(a.Fingerprint, &fp); err != nil || fp["tensor_count"] != float64(3) {
			t.Errorf("%s: gguf_guard_fingerprint %s (%v), want tensor_count 3", name, a.Fingerprint, err)
		}
		if !strings.HasPrefix(a.Manifest, "sha256:") {
			t.Errorf("%s: gguf_guard_manifest %q, want the manifest's digest", name, a.Manifest)
		}
	}
	// The manifest is a referrer of the artifact, with the registry's type.
	a := igGet(t, r, "untouched")
	res := r.do(t, "GET", "/v2/models/untouched/referrers/"+a.Digest+"?artifactType="+url.QueryEscape("application/vnd.aimr.tensor-manifest.v1+json"), nil, true, nil)
	if res.Status != http.StatusOK || !bytes.Contains(res.Body, []byte("application/vnd.aimr.tensor-manifest.v1+json")) {
		t.Errorf("tensor manifest referrer of untouched: %d %s", res.Status, res.Body)
	}

	verify := func(name string, status int) igCheck {
		t.Helper()
		return lcDecode[igCheck](t, r.do(t, "POST", "/v1/model/verify-manifest?name="+url.QueryEscape(name), nil, true, nil), status)
	}
	if c := verify("untouched", http.StatusOK); c.Status != "verified" || len(c.Changes) != 0 {
		t.Errorf("untouched: %+v", c)
	}
	if c := verify("e2e/pushed:v1", http.StatusOK); c.Status != "verified" {
		t.Errorf("pushed: %+v", c)
	}

	// 1. The chat template, edited to the same length (no offset moves).
	path := igBlob(t, r, "template")
	evil := strings.Replace(igTemplate, "{{ m.content }}", "{{ m.c0ntent }}", 1)
	if err := os.WriteFile(path, igModel(0, evil, ""), 0o600); err != nil {
		t.Fatal(err)
	}
	c := verify("template", http.StatusConflict)
	igExpect(t, "template", c, "metadata_changed", "tokenizer.chat_template")

	// 2. A tensor deleted (the file rewritten without it).
	path = igBlob(t, r, "deleted")
	if err := os.WriteFile(path, igModel(100, igTemplate, "blk.0.attn_q.weight"), 0o600); err != nil {
		t.Fatal(err)
	}
	igExpect(t, "deleted", verify("deleted", http.StatusConflict), "tensor_missing", "blk.0.attn_q.weight")

	// 3. One byte of a tensor flipped.
	path = igBlob(t, r, "flipped")
	igFlip(t, path, int64(len(models["flipped"]))-10) // inside output.weight, the last tensor
	igExpect(t, "flipped", verify("flipped", http.StatusConflict), "tensor_changed", "output.weight")

	// Each failure took the model out of runtime.
	for _, name := range []string{"template", "deleted", "flipped"} {
		if st := igGet(t, r, name).State; st != "quarantined" {
			t.Errorf("%s is %s after a failed verify-manifest, want quarantined", name, st)
		}
	}
	if res := r.do(t, "POST", "/v1/model/verify-manifest?name=untouched", nil, false, nil); res.Status != http.StatusUnauthorized {
		t.Errorf("verify-manifest without the token: %d", res.Status)
	}
}

func igExpect(t *testing.T, name string, c igCheck, kind, what string) {
	t.Helper()
	if c.Status != "failed" {
		t.Errorf("%s: status %q, want failed: %+v", name, c.Status, c)
		return
	}
	for _, ch := range c.Changes {
		if ch.Kind == kind && ch.Name == what {
			return
		}
	}
	t.Errorf("%s: changes %+v do not name %s %q", name, c.Changes, kind, what)
}
