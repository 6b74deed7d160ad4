package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// promoteBody is a promote request for name with the given evidence.
func promoteBody(t *testing.T, name string, data []byte, scans map[string]string) []byte {
	t.Helper()
	return v1JSON(t, map[string]any{"name": name, "sha256": v1SHA256(data), "scan_results": scans})
}

// unmet returns the rules of a 422 policy refusal.
func unmet(t *testing.T, res httpResult) []string {
	t.Helper()
	var body struct {
		Error string
		Unmet []struct{ Rule, Message string }
	}
	if res.Status != http.StatusUnprocessableEntity || json.Unmarshal(res.Body, &body) != nil {
		t.Fatalf("want a 422 policy refusal, got %d %s", res.Status, res.Body)
	}
	var rules []string
	for _, u := range body.Unmet {
		if u.Message == "" {
			t.Errorf("rule %s without a message", u.Rule)
		}
		rules = append(rules, u.Rule)
	}
	return rules
}

// TestPolicyEvidence: under a policy that needs quarantine, a passing
// picklescan verdict and a pipeline signature, a promotion is refused
// (422, every unmet rule, nothing recorded) until the pipeline attaches a
// signed in-toto test-result with the real cosign CLI (`cosign attest`,
// the pipeline's own key, pushed through /v2 as an OCI 1.1 referrer); then
// it is promoted, and the verdict is on record. Without a policy file the
// strict default refuses the predecessor's one-step promote by name.
func TestPolicyEvidence(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry has no policy")
	dir := t.TempDir()
	cosignIn(t, dir, []string{"COSIGN_PASSWORD="}, "generate-key-pair")
	policy := fmt.Sprintf(`version: e2e-strict-1
require_quarantine: true
scanners:
  - name: picklescan
    result: pass
    min_version: "0.0.20"
    required: true
signatures:
  - name: pipeline
    public_key_file: %s
min_signatures: 1
`, filepath.Join(dir, "cosign.pub"))
	r := startRegistry(t, "POLICY_PATH="+writeFile(t, dir, "policy.yaml", []byte(policy)))
	sc := newSecurectl(t, r)
	if out := sc.ok("policy", "show"); !strings.Contains(out, `version: "e2e-strict-1"`) {
		t.Errorf("securectl policy show: %s", out)
	}

	data := oneTensorGGUF(80)
	v1PutImport(t, r, "gated.gguf", data)
	res := r.do(t, "POST", "/v1/model/acquire", v1JSON(t, map[string]any{"name": "gated", "filename": "gated.gguf", "sha256": v1SHA256(data)}),
		true, map[string]string{"Content-Type": "application/json"})
	var a struct {
		Digest       string `json:"digest"`
		OCIReference string `json:"oci_reference"`
	}
	if res.Status != http.StatusCreated || json.Unmarshal(res.Body, &a) != nil {
		t.Fatalf("acquire: %d %s", res.Status, res.Body)
	}
	json := map[string]string{"Content-Type": "application/json"}
	if got := unmet(t, r.do(t, "POST", "/v1/model/promote", promoteBody(t, "gated", data, nil), true, json)); !slices.Equal(got,
		[]string{"require_quarantine", "scanners.picklescan.result", "scanners.picklescan.version", "min_signatures"}) {
		t.Errorf("unmet rules before quarantine: %v", got)
	}
	if res := r.do(t, "POST", "/v1/model/quarantine?name=gated", nil, true, nil); res.Status != http.StatusOK {
		t.Fatalf("quarantine: %d %s", res.Status, res.Body)
	}
	// A verdict in the request does not replace the pipeline's signature.
	unsigned := v1JSON(t, map[string]any{"name": "gated", "sha256": v1SHA256(data), "scan_results": map[string]string{"picklescan": "pass"},
		"scanner_versions": map[string]string{"picklescan": "0.0.26"}})
	if got := unmet(t, r.do(t, "POST", "/v1/model/promote", unsigned, true, json)); !slices.Equal(got,
		[]string{"min_signatures"}) {
		t.Errorf("unmet rules with an unsigned verdict: %v", got)
	}
	check := sc.fail(nil, 1, []string{"unmet rules"}, "policy", "check", "gated")
	if !strings.Contains(check.Stdout, "REFUSED: gated by policy e2e-strict-1") || !strings.Contains(check.Stdout, "min_signatures:") {
		t.Errorf("securectl policy check: %s", check)
	}
	if h := r.do(t, "GET", "/v1/model/history?name=gated", nil, true, nil); !bytes.Contains(h.Body, []byte(`"action":"quarantine"`)) || bytes.Contains(h.Body, []byte(`"action":"promote"`)) {
		t.Errorf("refused promotions left records: %s", h.Body)
	}

	// The pipeline attests its scan with cosign.
	pred := writeFile(t, dir, "picklescan.json", []byte(`{"result":"PASSED","configuration":[{"name":"picklescan","annotations":{"version":"0.0.26"}}],"passedTests":["no-unsafe-imports"]}`))
	docker := filepath.Join(dir, "docker")
	auth := base64.StdEncoding.EncodeToString([]byte("pipeline:" + r.Token))
	writeFile(t, docker, "config.json", []byte(`{"auths":{"`+r.Addr+`":{"auth":"`+auth+`"}}}`))
	repo, _, _ := strings.Cut(a.OCIReference, ":")
	cosignIn(t, dir, []string{"COSIGN_PASSWORD=", "DOCKER_CONFIG=" + docker}, "attest", "--key", filepath.Join(dir, "cosign.key"),
		"--type", "https://in-toto.io/attestation/test-result/v0.1", "--predicate", pred, "--use-signing-config=false", "--tlog-upload=false", "--yes", r.Ref(repo+"@"+a.Digest))

	if out := sc.ok("policy", "check", "gated"); !strings.HasPrefix(out, "ALLOWED: gated by policy e2e-strict-1") {
		t.Errorf("securectl policy check after the attestation: %s", out)
	}
	res = r.do(t, "POST", "/v1/model/promote", promoteBody(t, "gated", data, nil), true, json)
	if res.Status != http.StatusCreated || !bytes.Contains(res.Body, []byte(`"scan_results":{"picklescan":"pass"}`)) ||
		!bytes.Contains(res.Body, []byte(`"scanner_versions":{"picklescan":"0.0.26"}`)) || !bytes.Contains(res.Body, []byte(`"policy_version":"e2e-strict-1"`)) {
		t.Fatalf("promote with the pipeline's attestation: %d %s", res.Status, res.Body)
	}

	// The strict default names the rule a one-step promote breaks.
	rd := startRegistry(t, "POLICY_PATH=")
	v1PutImport(t, rd, "one.gguf", data)
	got := unmet(t, rd.do(t, "POST", "/v1/model/promote", v1JSON(t, map[string]any{"name": "one step", "filename": "one.gguf", "sha256": v1SHA256(data),
		"scan_results": map[string]string{"modelscan": "pass"}}), true, json))
	if !slices.Contains(got, "allow_one_step_promote") {
		t.Errorf("one-step promote under the default policy: %v", got)
	}
	if res := rd.do(t, "GET", "/v1/model?name="+url.QueryEscape("one step"), nil, true, nil); res.Status != http.StatusNotFound {
		t.Errorf("a refused one-step promote acquired the model: %d %s", res.Status, res.Body)
	}
}

// cosignIn runs the pinned cosign CLI in dir and fails the test on error.
func cosignIn(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	bin := os.Getenv("COSIGN")
	if bin == "" {
		t.Fatal("COSIGN is not set: run the tests with ./test.sh, which installs the pinned cosign and sets it")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + t.TempDir(), "SIGSTORE_NO_CACHE=true", "TUF_ROOT=" + t.TempDir()}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// auditEntry is one line of GET /v1/audit.
type auditEntry struct {
	Seq                                                 uint64
	Who, Action, Name, Digest, From, To, Result, Detail string
}

func auditAll(t *testing.T, r *registry) []auditEntry {
	t.Helper()
	var all []auditEntry
	for from := uint64(1); ; {
		res := r.do(t, "GET", fmt.Sprintf("/v1/audit?from=%d&limit=1000", from), nil, true, nil)
		var page struct {
			Entries []auditEntry
			Next    uint64
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &page) != nil {
			t.Fatalf("GET /v1/audit: %d %s", res.Status, res.Body)
		}
		all = append(all, page.Entries...)
		if page.Next == 0 {
			return all
		}
		from = page.Next
	}
}

// TestAuditLog: every mutation, refused ones included, is one entry; a
// kill -9 in the middle of a burst of mutations loses none that was
// acknowledged and leaves the chain intact; and securectl audit verify
// names the entry where a line was edited, deleted or moved.
func TestAuditLog(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry has no audit log")
	r := startRegistry(t)
	sc := newSecurectl(t, r)
	json := map[string]string{"Content-Type": "application/json"}
	data := oneTensorGGUF(90)
	v1PutImport(t, r, "audited.gguf", data)
	body := v1JSON(t, map[string]any{"name": "audited", "filename": "audited.gguf", "sha256": v1SHA256(data)})
	wrong := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + randomHex(t, 32)}
	for _, step := range []struct {
		method, path string
		body         []byte
		hdr          map[string]string
		auth         bool
		want         int
	}{
		{"POST", "/v1/model/acquire", body, wrong, false, 401},
		{"POST", "/v1/model/acquire", body, json, true, 201},
		{"POST", "/v1/model/promote", body, json, true, 201},
		{"POST", "/v1/model/revoke?name=audited&reason=failed+eval", nil, nil, true, 200},
		{"POST", "/v1/model/quarantine?name=audited", nil, nil, true, 409},
	} {
		if res := r.do(t, step.method, step.path, step.body, step.auth, step.hdr); res.Status != step.want {
			t.Fatalf("%s %s: %d %s, want %d", step.method, step.path, res.Status, res.Body, step.want)
		}
	}
	got := auditAll(t, r)
	want := []auditEntry{
		{Who: "anonymous", Action: "acquire", Result: "refused"},
		{Action: "acquire", From: "", To: "acquired", Result: "ok"},
		{Action: "promote", From: "acquired", To: "trusted", Result: "ok"},
		{Action: "revoke", From: "trusted", To: "revoked", Result: "ok"},
		{Action: "quarantine", Result: "refused"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit log: %+v, want %d entries", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Seq != uint64(i+1) || g.Action != w.Action || g.Result != w.Result || g.From != w.From || g.To != w.To || (w.Who != "" && g.Who != w.Who) {
			t.Errorf("audit entry %d: %+v, want %+v", i+1, g, w)
		}
		if w.Result == "ok" && (g.Digest == "" || g.Who == "anonymous") {
			t.Errorf("audit entry %d names no digest or no token: %+v", i+1, g)
		}
		if w.Action == "revoke" && g.Detail != "failed eval" {
			t.Errorf("audit entry %d does not carry the revoke's reason: %+v", i+1, g)
		}
		if w.Result == "refused" && g.Detail == "" {
			t.Errorf("audit entry %d does not say why it was refused: %+v", i+1, g)
		}
	}

	// kill -9 during a burst: four clients make distinct models go
	// through acquire and quarantine; the registry dies under them.
	var mu sync.Mutex
	acked := map[string]bool{} // "action name"
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("burst-%d-%d", w, i)
				for _, act := range []string{"acquire", "quarantine"} {
					var req *http.Request
					if act == "acquire" {
						req, _ = http.NewRequest("POST", r.URL("/v1/model/acquire?name="+name+"&filename=m.gguf&sha256="+v1SHA256(data)), bytes.NewReader(data))
						req.Header.Set("Content-Type", "application/octet-stream")
					} else {
						req, _ = http.NewRequest("POST", r.URL("/v1/model/quarantine?name="+name), nil)
					}
					req.Header.Set("Authorization", "Bearer "+r.Token)
					res, err := client.Do(req)
					if err != nil {
						return // the registry is gone
					}
					res.Body.Close()
					if res.StatusCode < 300 {
						mu.Lock()
						acked[act+" "+name] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	time.Sleep(time.Duration(300+rand.IntN(400)) * time.Millisecond)
	r.Kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no mutation was acknowledged before the kill")
	}
	auditDir := filepath.Join(r.Dir, "audit")
	if out := sc.ok("audit", "verify", auditDir); !strings.HasPrefix(out, "INTACT: ") {
		t.Errorf("audit verify after kill -9: %s", out)
	}
	r.Restart()
	have := map[string]bool{}
	for _, e := range auditAll(t, r) {
		if e.Result == "ok" {
			have[e.Action+" "+e.Name] = true
		}
	}
	missing := 0
	for k := range acked {
		if !have[k] {
			missing++
			t.Errorf("acknowledged %q has no audit entry after kill -9", k)
		}
	}
	t.Logf("kill -9 during a burst: %d acknowledged mutations, %d missing from the audit log", len(acked), missing)
	keys := writeFile(t, t.TempDir(), "registry.pub", r.do(t, "GET", "/v1/keys", nil, false, nil).Body)
	r.Stop() // a clean stop signs a checkpoint of the head
	if out := sc.ok("audit", "verify", auditDir, "--key", keys); !strings.HasPrefix(out, "INTACT: ") || strings.Contains(out, " 0 checkpoints") || strings.Contains(out, "not checked") {
		t.Errorf("audit verify with the registry's keys: %s", out)
	}

	// Tampering: each is named by securectl audit verify.
	files, err := filepath.Glob(filepath.Join(auditDir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("audit files: %v %v", files, err)
	}
	var logFile string
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "audit-") {
			logFile = f
		}
	}
	orig, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(orig), "\n")
	for _, tc := range []struct {
		name   string
		change func([]string) []string
		want   string
	}{
		{"edited", func(l []string) []string {
			l[2] = strings.Replace(l[2], `"result":"ok"`, `"result":"refused"`, 1)
			return l
		}, "line 3 "},
		{"deleted", func(l []string) []string { return slices.Delete(l, 3, 4) }, "line 4 "},
		{"reordered", func(l []string) []string { l[1], l[2] = l[2], l[1]; return l }, "line 2 "},
		// The last entry cut off: only the signed checkpoint can tell.
		{"cut off the end", func(l []string) []string { return append(l[:len(l)-2], l[len(l)-1]) },
			fmt.Sprintf("(entry %d): the checkpoint counts %d entries but the log ends at seq %d", len(lines)-1, len(lines)-1, len(lines)-2)},
	} {
		cp := filepath.Join(t.TempDir(), "audit")
		if err := os.MkdirAll(cp, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if f == logFile {
				b = []byte(strings.Join(tc.change(slices.Clone(lines)), ""))
			}
			writeFile(t, cp, filepath.Base(f), b)
		}
		res := sc.fail(nil, 1, []string{"the log was altered"}, "audit", "verify", cp, "--key", keys)
		if !strings.Contains(res.Stdout, tc.want) || !strings.HasPrefix(res.Stdout, "BROKEN: ") {
			t.Errorf("audit verify of a log with a line %s: want it to say %q: %s", tc.name, tc.want, res)
		}
	}
}
