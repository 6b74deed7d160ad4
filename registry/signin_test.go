package registry

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// TestSignIn: the operator page's sign-in answers as the API's credential
// check does, shares its failure limit, and never looks at the request's
// own Authorization header.
func TestSignIn(t *testing.T) {
	dir := t.TempDir()
	service, reader := strings.Repeat("s", 40), strings.Repeat("r", 40)
	if err := os.WriteFile(filepath.Join(dir, "service-token"), []byte(service), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := "version: 1\ntokens:\n  - name: scanner-1\n    role: reader\n    sha256: " + token.Hash(reader) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.yaml"), []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAuth(TokenConfig{Path: filepath.Join(dir, "service-token"), TokensPath: filepath.Join(dir, "tokens.yaml")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/ui/login", nil)
	r.Header.Set("Authorization", "Bearer "+service) // ignored: only the typed secret counts
	for _, tc := range []struct {
		secret string
		who    string
		role   token.Role
		kind   lifecycle.Kind
	}{
		{secret: service, who: a.who, role: token.Admin},
		{secret: reader, who: "scanner-1", role: token.Reader},
		{secret: "", kind: lifecycle.KindUnauthorized},
		{secret: "wrong", kind: lifecycle.KindUnauthorized},
	} {
		who, role, err := a.SignIn(r, tc.secret)
		if who != tc.who || role != tc.role || lifecycle.KindOf(err) != tc.kind {
			t.Errorf("SignIn(%.6q) = %q, %q, %v; want %q, %q, kind %d", tc.secret, who, role, err, tc.who, tc.role, tc.kind)
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+service {
		t.Error("SignIn changed the caller's request")
	}
	// Failures count towards the same limit as the API's: beyond it, the
	// answer is 429, and a valid token still signs in.
	for range maxFails {
		_, _, _ = a.SignIn(r, "wrong")
	}
	if _, _, err := a.SignIn(r, "wrong"); lifecycle.KindOf(err) != lifecycle.KindRateLimited {
		t.Errorf("after %d failures: %v, want rate limited", maxFails+2, err)
	}
	api := r.Clone(r.Context())
	api.Header.Set("Authorization", "Bearer wrong")
	if v := a.decide(api, permRead); v.d != limited {
		t.Errorf("the API does not see the sign-in failures: %v", v.d)
	}
	if _, role, err := a.SignIn(r, service); err != nil || role != token.Admin {
		t.Errorf("a valid token after failures: %q, %v", role, err)
	}

	none, err := LoadAuth(TokenConfig{Path: filepath.Join(dir, "absent")}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := none.SignIn(r, service); lifecycle.KindOf(err) != lifecycle.KindForbidden {
		t.Errorf("no token configured: %v, want forbidden", err)
	}
	dev, _ := LoadAuth(TokenConfig{DevMode: true}, slog.New(slog.DiscardHandler))
	if who, role, err := dev.SignIn(r, ""); err != nil || role != token.Admin || who != "dev-mode" {
		t.Errorf("dev mode: %q, %q, %v", who, role, err)
	}
}
