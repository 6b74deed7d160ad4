package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"http://registry.example.com", false},
		{"http://10.0.0.5:8470", false},
		{"https://user:pass@registry.example.com", false},
		{"https://registry.example.com/?token=x", false},
		{"https://registry.example.com/#frag", false},
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

func TestTokenHandling(t *testing.T) {
	tok := strings.Repeat("ab", 32)
	var seen = map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen[r.URL.Path] = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/health":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		case "/v2/_catalog":
			_, _ = w.Write([]byte(`{"repositories":["a"]}`))
		case "/v2/redirect/tags/list":
			http.Redirect(w, r, "http://127.0.0.2:1/steal", http.StatusFound)
		default:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"nope"}]}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, writeToken(t, tok), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if seen["/health"] != "" {
		t.Fatal("token sent to /health")
	}
	if repos, err := c.Repositories(ctx); err != nil || len(repos) != 1 {
		t.Fatalf("repositories: %v %v", repos, err)
	}
	if seen["/v2/_catalog"] != "Bearer "+tok {
		t.Fatalf("catalog auth = %q", seen["/v2/_catalog"])
	}
	if _, err := c.Tags(ctx, "redirect"); err == nil {
		t.Fatal("redirect followed")
	}
	_, err = c.Tags(ctx, "denied")
	if ce, ok := err.(*Error); !ok || ce.Code != "DENIED" || ce.Message != "nope" {
		t.Fatalf("error = %#v", err)
	}
	// An explicitly configured token that cannot be read is an error, not
	// a silent anonymous request.
	bad := filepath.Join(t.TempDir(), "missing")
	c, _ = New(srv.URL, bad, true)
	if _, err := c.Repositories(ctx); err == nil || !strings.Contains(err.Error(), "SERVICE_TOKEN_PATH") {
		t.Fatalf("missing explicit token: %v", err)
	}
}
