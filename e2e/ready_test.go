package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readyModelBytes is the size of the model the lock makes the registry
// import at boot: hashed twice during recovery (acquire, then the
// promotion's re-hash), long enough to watch /ready answer 503.
const readyModelBytes = 256 << 20

// TestReadyDuringBootRecovery: a registry whose lock lists a large model
// in its import directory listens at once but recovers first (imports,
// hashes and promotes the model): meanwhile /health answers 200, /ready
// 503 with Retry-After, the APIs 503 with Retry-After, and /metrics
// aimr_ready 0; then /ready answers 200 and the model is trusted. No test
// hook: the slow path is the real one.
func TestReadyDuringBootRecovery(t *testing.T) {
	skipUnlessOurServer(t, "/ready is ours")
	lockPath := filepath.Join(t.TempDir(), "models.lock.yaml")
	r := startRegistry(t, "REGISTRY_LOCK_PATH="+lockPath, "INTEGRITY_INTERVAL=0")
	r.Stop()

	const name = "ready big model"
	sum, size := writeLargeGGUF(t, filepath.Join(r.Dir, "import", "big.gguf"), readyModelBytes)
	lock := fmt.Sprintf("version: 1\nmodels:\n  - name: %q\n    format: \"gguf\"\n    filename: \"big.gguf\"\n    sha256: %q\n    size_bytes: %d\n", name, sum, size)
	if err := os.WriteFile(lockPath, []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}

	// Started by hand, not by r.start, which waits for /ready.
	logFile, err := os.OpenFile(r.LogPath, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins["registry"])
	cmd.Env, cmd.Stdout, cmd.Stderr = r.env, logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logFile.Close()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	r.proc = p // r.Stop, at cleanup, ends it

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, string, error) {
		res, err := client.Get(r.URL(path))
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b), nil
	}
	deadline := time.Now().Add(2 * time.Minute)
	starting := 0
	for {
		if time.Now().After(deadline) {
			t.Fatalf("/ready did not answer 200 within 2 minutes (log tail below)")
		}
		select {
		case <-p.done:
			r.proc = nil
			t.Fatalf("registry exited during recovery: %v", p.err)
		default:
		}
		res, body, err := get("/ready")
		if err != nil { // not listening yet
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if res.StatusCode == http.StatusOK {
			break
		}
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(body, `"starting"`) {
			t.Fatalf("GET /ready while starting: %d %q Retry-After %q", res.StatusCode, body, res.Header.Get("Retry-After"))
		}
		starting++
		if starting == 1 {
			// The rest of the server while it starts.
			if res, body, err := get("/health"); err != nil || res.StatusCode != http.StatusOK {
				t.Errorf("GET /health while starting: %v %v %q", err, res, body)
			}
			for _, path := range []string{"/v2/", "/v1/models", "/v1/model/path?name=" + url.QueryEscape(name)} {
				if res, body, err := get(path); err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
					t.Errorf("GET %s while starting: %v %v %q, want 503 with Retry-After", path, err, res, body)
				}
			}
			if res, body, err := get("/metrics"); err != nil || res.StatusCode != http.StatusOK || !strings.Contains(body, "\naimr_ready 0\n") {
				t.Errorf("GET /metrics while starting: %v %v, want aimr_ready 0", err, res)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if starting == 0 {
		t.Fatal("/ready never answered 503: recovery ended before the first request, so this test shows nothing (make the model larger)")
	}
	t.Logf("/ready answered 503 %d times before 200", starting)

	// Ready means recovered: the lock's model is trusted and servable.
	res := r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil)
	if res.Status != http.StatusOK {
		t.Errorf("GET /v1/model/path once ready: %d %s", res.Status, res.Body)
	}
	s := scrapeMetrics(t, r, nil)
	if v, _ := s.get("aimr_ready", nil); v != 1 {
		t.Errorf("aimr_ready = %v once ready", v)
	}
	if v, _ := s.get("aimr_http_requests_total", map[string]string{"route": "/ready", "status": "503"}); v != float64(starting) {
		t.Errorf("aimr_http_requests_total{route=/ready,status=503} = %v, want %d", v, starting)
	}
	log := r.LogTail(1000)
	listening, applied, ready := strings.LastIndex(log, "registry listening"), strings.LastIndex(log, `"msg":"lock applied"`), strings.LastIndex(log, `"msg":"registry ready"`)
	if listening < 0 || applied < listening || ready < applied {
		t.Errorf("log order: listening at %d, lock applied at %d, ready at %d; want listening < lock applied < ready", listening, applied, ready)
	}
}

// writeLargeGGUF writes a GGUF v3 file of about size bytes (one F32
// tensor, zeros, sparse on disk) and returns its SHA-256 and size.
func writeLargeGGUF(t *testing.T, path string, size int64) (string, int64) {
	t.Helper()
	header := ggufF32Header(uint64(size / 4))
	total := int64(len(header)) + size
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(header); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(total); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), total
}
