package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// uiResults is where the browser test leaves its screenshots.
const uiResults = "results"

// TestOperatorPage drives the operator page in headless Chromium: a
// trusted and a revoked artifact, an artifact whose name is HTML, the
// page without a token and with one, its cookie, an artifact's history
// and attestation, and screenshots (results/ui-anonymous.png, results/ui.png,
// results/ui-model.png).
// The list must also be there with JavaScript off: fetched with net/http.
func TestOperatorPage(t *testing.T) {
	skipUnlessOurServer(t, "the operator page is this registry's")
	// Its own integrity result file: the default path is the host's,
	// shared with every other registry a test starts.
	r := startRegistry(t, "INTEGRITY_RESULT_PATH="+filepath.Join(t.TempDir(), "integrity-last.json"))
	const (
		trusted = "Llama 3.1 8B Instruct (Q4_K_M)"
		revoked = "Phi-3 mini adapter (rejected)"
		hostile = `<script>alert("pwned")</script> tokenizer`
	)
	// Acquire and promote; promote in one step and revoke; the HTML name
	// is promoted in one step too, so that anonymous visitors see it.
	data := oneTensorGGUF(1)
	v1PutImport(t, r, "llama.gguf", data)
	uiMust(t, lcJSON(t, r, "POST", "/v1/model/acquire", map[string]any{"name": trusted, "filename": "llama.gguf", "sha256": v1SHA256(data), "source": "https://huggingface.co/meta-llama/"}, true), http.StatusCreated)
	uiMust(t, lcJSON(t, r, "POST", "/v1/model/promote", map[string]any{"name": trusted, "sha256": v1SHA256(data),
		"scan_results": map[string]string{"modelscan": "pass"}, "scanner_versions": map[string]string{"modelscan": "0.8.8"}}, true), http.StatusCreated)
	for i, name := range []string{revoked, hostile} {
		d := oneTensorGGUF(float32(i + 2))
		file := []string{"adapter.gguf", "tokenizer.gguf"}[i]
		v1PutImport(t, r, file, d)
		uiMust(t, lcJSON(t, r, "POST", "/v1/model/promote", map[string]any{"name": name, "filename": file, "sha256": v1SHA256(d)}, true), http.StatusCreated)
	}
	uiMust(t, lcJSON(t, r, "POST", "/v1/model/revoke?name="+url.QueryEscape(revoked)+"&reason=failed+behavioural+test", nil, true), http.StatusOK)
	uiMust(t, lcJSON(t, r, "POST", "/v1/integrity/run", nil, true), http.StatusOK)

	t.Run("without JavaScript", func(t *testing.T) {
		res := r.do(t, "GET", "/", nil, false, nil) // follows the redirect to /ui/
		body := string(res.Body)
		if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /: %d %s", res.Status, res.Header.Get("Content-Type"))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		row := regexp.MustCompile(`<tr class="artifact" data-state="trusted">\s*<td class="name"><a href="/ui/model\?name=[^"]+">` + regexp.QuoteMeta(trusted) + `</a>`)
		if !row.MatchString(body) {
			t.Errorf("the trusted artifact's row is not in the server-rendered page:\n%s", body)
		}
		if strings.Contains(body, revoked) || strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
			t.Errorf("anonymous page: the revoked artifact is listed, or the HTML name is not escaped:\n%s", body)
		}
	})

	b := startBrowser(t, 1280, 1080)
	b.open(r.URL("/"))
	if got := b.url(); got != r.URL("/ui/") {
		t.Errorf("/ led to %s, want /ui/", got)
	}
	rows := uiRows(b)
	if rows[trusted] != "trusted" || rows[hostile] != "trusted" || len(rows) != 2 {
		t.Errorf("anonymous rows %q: want the two trusted artifacts only, the HTML name as text", rows)
	}
	if n := len(b.findAll("", "script")); n != 0 {
		t.Errorf("%d script elements on the page: an artifact name became markup", n)
	}
	b.screenshot(filepath.Join(uiResults, "ui-anonymous.png"))

	// Sign in with the service token.
	b.typeInto(b.find("", "#token"), r.Token)
	b.click(b.find("", "#signin"))
	b.waitFor("#signout")
	if got := b.url(); got != r.URL("/ui/") {
		t.Errorf("after signing in: at %s, want /ui/", got)
	}
	rows = uiRows(b)
	if rows[trusted] != "trusted" || rows[revoked] != "revoked" || rows[hostile] != "trusted" {
		t.Errorf("signed-in rows %q: want %q trusted and %q revoked", rows, trusted, revoked)
	}
	if got := b.text(b.find("", "#integrity-status")); got != "ok" {
		t.Errorf("last integrity check shows %q, want ok", got)
	}
	audit := map[string]bool{}
	for _, row := range b.findAll("", "#audit tbody tr") {
		audit[b.text(b.find(row, "td.action"))+" "+b.text(b.find(row, "td.name"))] = true
	}
	for _, want := range []string{"acquire " + trusted, "promote " + trusted, "revoke " + revoked, "promote " + hostile} {
		if !audit[want] {
			t.Errorf("audit tail lacks %q: %v", want, audit)
		}
	}
	var session *webCookie
	for _, c := range b.cookies() {
		if strings.Contains(c.Value, r.Token) {
			t.Errorf("cookie %s holds the token", c.Name)
		}
		if c.Name == "aimr_ui_session" {
			session = &c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != "Strict" || session.Path != "/ui" || session.Expiry != 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui, ending with the browser session", session)
	}
	b.screenshot(filepath.Join(uiResults, "ui.png"))

	// The trusted artifact's page: history chain and attestation.
	for _, row := range b.findAll("", "tr.artifact") {
		if link := b.find(row, "td.name a"); b.text(link) == trusted {
			b.click(link)
			break
		}
	}
	for sel, want := range map[string]string{"#model-name": trusted, "#model-state": "trusted", "#chain-status": "verified",
		"#provenance-status": "verified", "#provenance-policy": "e2e-permissive", "#check-status": "verified"} {
		if got := b.text(b.find("", sel)); got != want {
			t.Errorf("model page %s: %q, want %q", sel, got, want)
		}
	}
	if key := b.text(b.find("", "#provenance-key")); key == "" {
		t.Error("model page: no attestation key id")
	}
	var actions []string
	for _, row := range b.findAll("", "#history tbody tr") {
		actions = append(actions, b.text(b.find(row, "td.action")))
	}
	if strings.Join(actions, ",") != "acquire,promote" {
		t.Errorf("history %v, want acquire,promote", actions)
	}
	b.screenshot(filepath.Join(uiResults, "ui-model.png"))

	b.open(r.URL("/ui/model?name=" + url.QueryEscape(revoked)))
	if got := b.text(b.find("", "#model-state")); got != "revoked" {
		t.Errorf("revoked artifact's page: state %q", got)
	}
	b.open(r.URL("/ui/model?name=" + url.QueryEscape(hostile)))
	if got := b.text(b.find("", "#model-name")); got != hostile {
		t.Errorf("HTML name shown as %q, want the text %q", got, hostile)
	}

	// Signing out ends the session: the page is anonymous again.
	b.click(b.find("", "#signout"))
	b.waitFor("#signin")
	if rows := uiRows(b); rows[revoked] != "" || rows[trusted] != "trusted" {
		t.Errorf("after signing out: rows %q", rows)
	}
	if !strings.Contains(b.url(), "/ui/") || strings.Contains(b.url(), r.Token) {
		t.Errorf("after signing out: at %s", b.url())
	}

	log, err := os.ReadFile(r.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), r.Token) {
		t.Error("the registry log contains the token")
	}
}

// uiRows maps each artifact row's name to its state as the browser shows
// them.
func uiRows(b *browser) map[string]string {
	b.t.Helper()
	rows := map[string]string{}
	for _, row := range b.findAll("", "tr.artifact") {
		rows[b.text(b.find(row, "td.name a"))] = b.text(b.find(row, "td.state"))
	}
	return rows
}

func uiMust(t *testing.T, res httpResult, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}
