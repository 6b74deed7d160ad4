package registry

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/token"
)

// TestRoles is the role × permission table, and what decide makes of each
// credential.
func TestRoles(t *testing.T) {
	want := map[token.Role][]perm{
		token.Reader:   {permNone, permRead},
		token.Pusher:   {permNone, permRead, permPush},
		token.Promoter: {permNone, permRead, permPromote},
		token.Admin:    {permNone, permRead, permPush, permPromote, permAdmin},
	}
	for role, ok := range want {
		for p := permNone; p <= permAdmin; p++ {
			if got, exp := allows(role, p), slices.Contains(ok, p); got != exp {
				t.Errorf("%s may have %v: %v, want %v", role, p, got, exp)
			}
		}
	}

	dir := t.TempDir()
	secret := func(c string) string { return strings.Repeat(c, 40) }
	tokens := "version: 1\ntokens:\n"
	for i, role := range token.Roles {
		tokens += "  - name: " + string(role) + "-1\n    role: " + string(role) + "\n    sha256: " + token.Hash(secret(string(rune('a'+i)))) + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens.yaml"), []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "service-token"), []byte(secret("z")), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAuth(TokenConfig{Path: filepath.Join(dir, "service-token"), TokensPath: filepath.Join(dir, "tokens.yaml")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	req := func(tok string) *http.Request {
		r := httptest.NewRequest("POST", "/v1/model/promote", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return r
	}
	for _, tc := range []struct {
		tok  string
		need perm
		want decision
		who  string
	}{
		{"", permNone, allow, ""},
		{"", permRead, challenge, ""},
		{secret("a"), permRead, allow, "reader-1"},
		{secret("a"), permPush, forbidden, "reader-1"},
		{secret("b"), permPush, allow, "pusher-1"},
		{secret("b"), permPromote, forbidden, "pusher-1"},
		{secret("c"), permPromote, allow, "promoter-1"},
		{secret("c"), permAdmin, forbidden, "promoter-1"},
		{secret("d"), permAdmin, allow, "admin-1"},
		{secret("z"), permAdmin, allow, a.who},
		{secret("y"), permNone, challenge, ""},
	} {
		v := a.decide(req(tc.tok), tc.need)
		if v.d != tc.want || v.who.who != tc.who {
			t.Errorf("token %.4s… needing %v: decision %d who %q, want %d %q", tc.tok, tc.need, v.d, v.who.who, tc.want, tc.who)
		}
	}
}

// TestFailedAttemptsAreSlowedDown: beyond maxFails wrong tokens in a
// window, a client's further failures are limited (answered one at a time
// after a delay); its valid token, other clients and anonymous requests
// are unaffected, and the window ends.
func TestFailedAttemptsAreSlowedDown(t *testing.T) {
	dir := t.TempDir()
	good := strings.Repeat("g", 40)
	if err := os.WriteFile(filepath.Join(dir, "tok"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAuth(TokenConfig{Path: filepath.Join(dir, "tok")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	a.fails.now = func() time.Time { return now }
	req := func(ip, tok string) *http.Request {
		r := httptest.NewRequest("GET", "/v1/models", nil)
		r.RemoteAddr = ip + ":5000"
		r.Header.Set("X-Forwarded-For", "10.9.9.9") // never trusted
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return r
	}
	bad := strings.Repeat("x", 40)
	for i := range maxFails {
		if v := a.decide(req("192.0.2.1", bad), permRead); v.d != challenge {
			t.Fatalf("failure %d: decision %d", i+1, v.d)
		}
	}
	if v := a.decide(req("192.0.2.1", bad), permRead); v.d != limited || v.retryAfter != failDelay {
		t.Fatalf("failure %d: decision %d, retry %s; want limited", maxFails+1, v.d, v.retryAfter)
	}
	if v := a.decide(req("192.0.2.1", good), permRead); v.d != allow {
		t.Errorf("the limited client's valid token: decision %d", v.d)
	}
	if v := a.decide(req("192.0.2.2", bad), permRead); v.d != challenge {
		t.Errorf("another client's first failure: decision %d", v.d)
	}
	if v := a.decide(req("192.0.2.1", ""), permNone); v.d != allow {
		t.Errorf("anonymous request from the limited client: decision %d", v.d)
	}
	// Limited answers are serialised per client: two waits take two delays.
	start := time.Now()
	done := make(chan struct{})
	for range 2 {
		go func() { _ = a.fails.wait(t.Context(), "192.0.2.1"); done <- struct{}{} }()
	}
	<-done
	<-done
	if took := time.Since(start); took < 2*failDelay {
		t.Errorf("two limited answers took %s, want at least %s", took, 2*failDelay)
	}
	now = now.Add(failWindowLen)
	if v := a.decide(req("192.0.2.1", bad), permRead); v.d != challenge {
		t.Errorf("after the window: decision %d", v.d)
	}
}
