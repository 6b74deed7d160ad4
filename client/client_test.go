package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

func TestNewRefusesLeakyURLs(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8470", true},
		{"http://localhost:8470/", true},
		{"http://[::1]:8470", true},
		{"https://registry.example.com", true},
		{"https://registry.example.com/prefix/", true},
		{"http://registry.example.com", false},
		{"http://10.0.0.5:8470", false},
		{"http://127.0.0.1.example.com", false},
		{"https://user:pass@registry.example.com", false},
		{"https://registry.example.com/?token=x", false},
		{"https://registry.example.com/?", false},
		{"https://registry.example.com/#frag", false},
		{"https://", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8470", false},
	} {
		_, err := New(tc.url, "", false)
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder is a test server that remembers the Authorization header of
// each path and answers from a table.
type recorder struct {
	mu   sync.Mutex
	seen map[string]string
}

func (rc *recorder) auth(path string) (string, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	v, ok := rc.seen[path]
	return v, ok
}

func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rc := &recorder{seen: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.seen[r.URL.Path] = r.Header.Get("Authorization")
		rc.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rc
}

func TestTokenHandling(t *testing.T) {
	tok := strings.Repeat("ab", 32)
	thief, stolen := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[]`)) })
	srv, seen := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/health":
			_, _ = w.Write([]byte(`{"status":"ok","auth_required":true}`))
		case r.Header.Get("Authorization") != "Bearer "+tok:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"forbidden: invalid service token"}`))
		case r.URL.Path == "/v1/models":
			_, _ = w.Write([]byte(`[{"name":"a","state":"trusted"}]`))
		case r.URL.Path == "/v1/model/history":
			http.Redirect(w, r, thief.URL+"/steal", http.StatusFound)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"model not found"}`))
		}
	})
	ctx := context.Background()
	c, err := New(srv.URL, writeToken(t, tok), true)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, err := c.Health(ctx); err != nil || h.Status != "ok" || !h.AuthRequired {
		t.Fatalf("health: %+v %v", h, err)
	}
	if a, _ := seen.auth("/health"); a != "" {
		t.Fatal("token sent to /health")
	}
	models, raw, err := c.Models(ctx)
	if err != nil || len(models) != 1 || models[0].State != lifecycle.Trusted || !strings.Contains(string(raw), `"name":"a"`) {
		t.Fatalf("models: %v %s %v", models, raw, err)
	}
	if a, _ := seen.auth("/v1/models"); a != "Bearer "+tok {
		t.Fatalf("models auth = %q", a)
	}
	if _, _, err := c.History(ctx, "x"); err == nil {
		t.Fatal("redirect followed")
	}
	if _, hit := stolen.auth("/steal"); hit {
		t.Fatal("the redirect target was contacted")
	}
	_, _, err = c.Model(ctx, "nope")
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Message != "model not found" || ce.Hint() != "" {
		t.Fatalf("error = %#v", err)
	}
	if err.Error() != "model not found (HTTP 404)" {
		t.Fatalf("message %q", err.Error())
	}

	// A token the registry refuses: the hint says which file it came from.
	wrongPath := writeToken(t, strings.Repeat("cd", 32))
	wrong, _ := New(srv.URL, wrongPath, true)
	_, _, err = wrong.Models(ctx)
	if !errors.As(err, &ce) || ce.Status != 401 || !ce.TokenSent || !strings.Contains(ce.Hint(), wrongPath) {
		t.Fatalf("wrong token: %#v hint %q", err, ce.Hint())
	}
	// An explicitly configured token that cannot be read is an error, not
	// a silent anonymous request.
	bad := filepath.Join(t.TempDir(), "missing")
	c, _ = New(srv.URL, bad, true)
	if _, _, err := c.Models(ctx); err == nil || !strings.Contains(err.Error(), "SERVICE_TOKEN_PATH") {
		t.Fatalf("missing explicit token: %v", err)
	}
	// The default path, unreadable: anonymous, and the hint says why.
	c, _ = New(srv.URL, bad, false)
	_, _, err = c.Models(ctx)
	if !errors.As(err, &ce) || ce.TokenSent || !strings.Contains(ce.Hint(), "no service token was sent") || !strings.Contains(ce.Hint(), "does not exist") {
		t.Fatalf("default token missing: %#v hint %q", err, ce.Hint())
	}
	// A token file others may write is refused before anything is sent.
	loose := writeToken(t, tok)
	if err := os.Chmod(loose, 0o666); err != nil {
		t.Fatal(err)
	}
	c, _ = New(srv.URL, loose, true)
	if _, _, err := c.Models(ctx); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("loose token file: %v", err)
	}
}

func TestNamesAreQueryEscaped(t *testing.T) {
	names := []string{"Phi-3 Mini 3.8B (Q4_K_M)", "a&name=b", "x+y#z?", "models/tiny:v1", "Ünïcødé 模型"}
	var mu sync.Mutex
	var got []string
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Query().Get("name")+"|"+r.URL.Query().Get("reason"))
		mu.Unlock()
		if len(r.URL.Query()) > 2 {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write([]byte(`{"status":"revoked","name":"x"}`))
	})
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	for _, n := range names {
		if _, _, err := c.Revoke(context.Background(), n, "CVE-1 & more=bad"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range names {
		if got[i] != n+"|CVE-1 & more=bad" {
			t.Errorf("server saw %q, want %q", got[i], n)
		}
	}
}

func TestAcquireFileStreamsAndReportsProgress(t *testing.T) {
	data := make([]byte, 3<<20+17)
	copy(data, "GGUF")
	for i := 4; i < len(data); i++ {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	path := filepath.Join(t.TempDir(), "tiny model.gguf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var checkMu sync.Mutex
	var check []string
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fail := func(f string, a ...any) {
			checkMu.Lock()
			check = append(check, fmt.Sprintf(f, a...))
			checkMu.Unlock()
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/model/acquire" {
			fail("%s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" {
			fail("content-type %q", ct)
		}
		if r.ContentLength != int64(len(data)) || len(r.TransferEncoding) != 0 {
			fail("content-length %d, transfer-encoding %v", r.ContentLength, r.TransferEncoding)
		}
		if r.Header.Get("Expect") != "100-continue" { // a refusal then costs no upload
			fail("Expect %q", r.Header.Get("Expect"))
		}
		if q.Get("name") != "Tiny (Q4)" || q.Get("filename") != "tiny model.gguf" || q.Get("sha256") != want ||
			q.Get("size_bytes") != "3145745" || q.Get("source") != "https://example.com/x" || q.Has("source_revision") {
			fail("query %v", q)
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		if got := hex.EncodeToString(h.Sum(nil)); got != want || n != int64(len(data)) {
			fail("body %d bytes hashing to %s", n, got)
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(lifecycle.Artifact{Name: q.Get("name"), SHA256: want, SizeBytes: n, State: lifecycle.Acquired})
	})
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	var mu sync.Mutex
	last := map[string][2]int64{}
	calls := 0
	progress := func(phase string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if prev := last[phase]; done < prev[0] {
			t.Errorf("%s went back from %d to %d", phase, prev[0], done)
		}
		last[phase] = [2]int64{done, total}
	}
	a, raw, err := c.AcquireFile(context.Background(), lifecycle.AcquireRequest{Name: "Tiny (Q4)", Source: "https://example.com/x"}, path, progress)
	if err != nil {
		t.Fatal(err)
	}
	checkMu.Lock()
	if len(check) > 0 {
		t.Fatalf("server saw: %v", check)
	}
	checkMu.Unlock()
	if a.SHA256 != want || a.State != lifecycle.Acquired || !json.Valid(raw) {
		t.Fatalf("answer %+v %s", a, raw)
	}
	mu.Lock()
	defer mu.Unlock()
	full := [2]int64{int64(len(data)), int64(len(data))}
	if last[PhaseHashing] != full || last[PhaseUploading] != full || calls < 6 {
		t.Fatalf("progress: %v after %d calls", last, calls)
	}
}

func TestAcquireFileChecksBeforeUploading(t *testing.T) {
	srv, seen := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(path, []byte("GGUF and more"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		req  lifecycle.AcquireRequest
		path string
		want string
	}{
		{lifecycle.AcquireRequest{Name: "m", SHA256: strings.Repeat("0", 64)}, path, "not the expected"},
		{lifecycle.AcquireRequest{Name: "m", SizeBytes: 3}, path, "not the expected 3"},
		{lifecycle.AcquireRequest{Name: "m"}, dir, "not a regular file"},
		{lifecycle.AcquireRequest{Name: "m"}, filepath.Join(dir, "missing"), "no such file"},
	} {
		if _, _, err := c.AcquireFile(ctx, tc.req, tc.path, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %s: error %v, want %q", tc.req, tc.path, err, tc.want)
		}
	}
	if _, hit := seen.auth("/v1/model/acquire"); hit {
		t.Fatal("a refused file reached the registry")
	}
	// Cancelled while hashing: nothing is sent.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.AcquireFile(cctx, lifecycle.AcquireRequest{Name: "m"}, path, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestUploadThatStopsMovingIsCancelled(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.CopyN(io.Discard, r.Body, 1<<20) // then stop reading
		<-release
	})
	defer close(release)
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	c.uploadIdle = 300 * time.Millisecond
	size := int64(256 << 20) // far more than socket buffers hold
	start := time.Now()
	_, _, err := c.AcquireUpload(context.Background(), lifecycle.AcquireRequest{Name: "m", Filename: "m.gguf", SHA256: strings.Repeat("0", 64), SizeBytes: size},
		io.LimitReader(zeros{}, size))
	if err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %s", d)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestAnswersInErrorStatuses(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("name") {
		case "tampered":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"status":"failed","name":"tampered","expected":"aa","actual":"bb","error":"hash mismatch","safe_to_use":"false"}`))
		case "busy":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"artifact changed meanwhile"}`))
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"error","auth_required":true}`))
		}
	})
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	ctx := context.Background()
	res, _, err := c.Verify(ctx, "tampered")
	if err != nil || res.Status != "failed" || res.SafeToUse != "false" || *res.Actual != "bb" {
		t.Fatalf("verify tampered: %+v %v", res, err)
	}
	var ce *Error
	if _, _, err := c.Verify(ctx, "busy"); !errors.As(err, &ce) || ce.Status != 409 || ce.Message != "artifact changed meanwhile" {
		t.Fatalf("verify busy: %v", err)
	}
	if h, _, err := c.Health(ctx); err != nil || h.Status != "error" {
		t.Fatalf("health 503: %+v %v", h, err)
	}
}

func TestLongRequestsHaveNoTotalTimeout(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		if r.URL.Path == "/v1/models" {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"verified","name":"m","sha256":"aa","state":"trusted","safe_to_use":"true"}`))
	})
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	c.short.Timeout = 100 * time.Millisecond
	ctx := context.Background()
	if _, _, err := c.Models(ctx); err == nil {
		t.Fatal("an ordinary request outlived its timeout")
	}
	if res, _, err := c.Verify(ctx, "m"); err != nil || res.SafeToUse != "true" {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

func TestResponsesAreBounded(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/model" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(strings.Repeat("\x1b[31m", 100<<10)))
			return
		}
		_, _ = w.Write([]byte("[" + strings.Repeat(`{"name":"x"},`, maxResponse/13+1) + `{}]`))
	})
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	if _, _, err := c.Models(context.Background()); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized answer: %v", err)
	}
	_, _, err := c.Model(context.Background(), "x")
	if err == nil || strings.ContainsRune(err.Error(), 0x1b) || len(err.Error()) > maxMessage+64 {
		t.Fatalf("hostile error body came through: %.200q", err)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain (Q4_K_M)":     "plain (Q4_K_M)",
		"a\tb":               `a\u0009b`,
		"\x1b[2Jcleared":     `\u001b[2Jcleared`,
		"evil\u202egnp.gguf": `evil\u202egnp.gguf`,
		"模型":                 "模型",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInterruptedIsSaidSo(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	c, _ := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, _, err := c.VerifyAll(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "interrupted") {
		t.Fatalf("err = %v", err)
	}
}
