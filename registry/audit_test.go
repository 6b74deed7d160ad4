package registry

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/audit"
)

// Every /v2 mutation is one audit entry, refused ones included; opening an
// upload session or sending a chunk is on record only when refused.
func TestAuditV2Mutations(t *testing.T) {
	ctx := context.Background()
	l, err := audit.Open(ctx, t.TempDir(), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	tok := filepath.Join(t.TempDir(), "service-token")
	if err := os.WriteFile(tok, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newTestRegistryWithAuth(t, TokenConfig{Path: tok}, func(c *Config) { c.Auditor = NewAuditor(l, nil) })

	wantStatus(t, "anonymous upload", r.send(t, req{method: http.MethodPost, target: "/v2/a/b/blobs/uploads/", hdr: anon}), http.StatusUnauthorized)
	id := r.startUpload(t, "a/b")
	d := r.pushBlob(t, "a/b", []byte("hello"))
	wantStatus(t, "cancel", r.send(t, req{method: http.MethodDelete, target: "/v2/a/b/blobs/uploads/" + id}), http.StatusNoContent)
	wantStatus(t, "delete blob", r.send(t, req{method: http.MethodDelete, target: "/v2/a/b/blobs/" + d.String()}), http.StatusAccepted)

	got, err := l.Read(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ who, action, result string }{
		{"anonymous", actUploadStep, audit.ResultRefused},
		{"", "push.blob", audit.ResultOK},
		{"", "cancel.upload", audit.ResultOK},
		{"", "delete.blob", audit.ResultOK},
	}
	if len(got) != len(want) {
		t.Fatalf("audit entries %+v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || g.Result != w.result || (w.who != "" && g.Who != w.who) || g.Repository != "a/b" {
			t.Errorf("entry %d: %+v, want %+v", i+1, g, w)
		}
		if g.Result == audit.ResultRefused && g.Detail == "" {
			t.Errorf("entry %d: a refusal without its reason", i+1)
		}
	}
}
