package ui

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/token"
)

const (
	adminToken  = "admin-token-0123456789abcdef0123456789"
	readerToken = "reader-token-0123456789abcdef012345678"
	// hostile is an artifact name a pusher chose.
	hostile = `<script>alert("x")</script><img src=x onerror=alert(1)> & 'q'`
)

type fakeCatalog struct {
	arts    []lifecycle.Artifact
	listErr error
	hist    lifecycle.HistoryReport
	prov    lifecycle.Provenance
}

func (f *fakeCatalog) List(context.Context) ([]lifecycle.Artifact, error) { return f.arts, f.listErr }

func (f *fakeCatalog) Get(_ context.Context, name string) (lifecycle.Artifact, error) {
	for _, a := range f.arts {
		if a.Name == name {
			return a, nil
		}
	}
	return lifecycle.Artifact{}, &lifecycle.Error{Kind: lifecycle.KindNotFound, Msg: "model not found"}
}

func (f *fakeCatalog) History(_ context.Context, name string) (lifecycle.HistoryReport, error) {
	h := f.hist
	h.Name = name
	return h, nil
}

func (f *fakeCatalog) Provenance(context.Context, string) (lifecycle.Provenance, error) {
	return f.prov, nil
}

type fakeIntegrity struct {
	st  lifecycle.IntegrityStatus
	err error
}

func (f fakeIntegrity) LastIntegrity() (lifecycle.IntegrityStatus, error) { return f.st, f.err }

type fakeAudit struct{ entries []audit.Entry }

func (f fakeAudit) Head() (uint64, string) { return uint64(len(f.entries)), "" }

func (f fakeAudit) Read(_ context.Context, from uint64, limit int) ([]audit.Entry, error) {
	var out []audit.Entry
	for _, e := range f.entries {
		if e.Seq >= from && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// fakeAuth knows two tokens; err, when set, is every sign-in's answer.
type fakeAuth struct {
	dev bool
	err error
}

func (f fakeAuth) RequiresAuth() bool { return !f.dev }

func (f fakeAuth) SignIn(_ *http.Request, secret string) (string, token.Role, error) {
	switch {
	case f.err != nil:
		return "", "", f.err
	case secret == adminToken:
		return "token:abcd1234", token.Admin, nil
	case secret == readerToken:
		return "scanner-1", token.Reader, nil
	}
	return "", "", &lifecycle.Error{Kind: lifecycle.KindUnauthorized, Msg: "invalid token"}
}

func sampleCatalog() *fakeCatalog {
	return &fakeCatalog{
		arts: []lifecycle.Artifact{
			{Name: "good model", State: lifecycle.Trusted, Format: "gguf", SizeBytes: 3 << 20, Digest: "sha256:" + strings.Repeat("a", 64), OCIReference: "models/good-model:latest"},
			{Name: "bad model", State: lifecycle.Revoked, Format: "gguf", SizeBytes: 10, Digest: "sha256:" + strings.Repeat("b", 64)},
			{Name: hostile, State: lifecycle.Trusted, Format: "safetensors", SizeBytes: 1, Digest: "sha256:" + strings.Repeat("c", 64)},
		},
		hist: lifecycle.HistoryReport{State: lifecycle.Trusted, Chain: "verified", Records: []lifecycle.Record{
			{Seq: 1, Action: lifecycle.Acquire, To: lifecycle.Acquired, At: time.Unix(1e9, 0), Who: "token:abcd1234", Reason: hostile},
			{Seq: 2, Action: lifecycle.Promote, From: lifecycle.Acquired, To: lifecycle.Trusted, At: time.Unix(1e9+60, 0), Who: "token:abcd1234",
				Evidence: &lifecycle.Evidence{PolicyVersion: "pol-7"}},
		}},
		prov: lifecycle.Provenance{Status: lifecycle.ProvenanceVerified, Required: true, KeyID: "key-42", PolicyVersion: "pol-7", Attestation: "sha256:" + strings.Repeat("d", 64)},
	}
}

func sampleAudit() fakeAudit {
	var entries []audit.Entry
	for i := range 30 {
		entries = append(entries, audit.Entry{Seq: uint64(i + 1), Time: time.Unix(1e9, 0), Who: "token:abcd1234", Action: "promote", Name: hostile, Result: audit.ResultOK, Detail: "entry " + string(rune('A'+i%26))})
	}
	return fakeAudit{entries: entries}
}

func newTestHandler(t *testing.T, mod func(*Config)) *Handler {
	t.Helper()
	cfg := Config{
		Catalog:   sampleCatalog(),
		Integrity: fakeIntegrity{st: lifecycle.IntegrityStatus{Found: true, Report: lifecycle.IntegrityReport{Status: "ok", CheckedAt: "2026-11-25T15:00:00Z", ModelsChecked: 3}}},
		Audit:     sampleAudit(),
		Auth:      fakeAuth{},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// request serves one request; cookie, when set, is the session cookie.
func request(h http.Handler, method, target, cookie string, form url.Values, header map[string]string) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func bodyOf(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signIn posts tok to the sign-in form and returns the session cookie.
func signIn(t *testing.T, h http.Handler, tok string) string {
	t.Helper()
	res := request(h, "POST", "/ui/login", "", url.Values{"token": {tok}, "next": {"/ui/"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d, want 303: %s", res.StatusCode, bodyOf(t, res))
	}
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			return c.Value
		}
	}
	t.Fatal("sign-in set no session cookie")
	return ""
}

func TestSecurityHeaders(t *testing.T) {
	h := newTestHandler(t, nil)
	cookie := signIn(t, h, adminToken)
	for _, tc := range []struct {
		method, target string
		cookie         string
		form           url.Values
		status         int
	}{
		{"GET", "/", "", nil, http.StatusFound},
		{"GET", "/ui", "", nil, http.StatusFound},
		{"GET", "/ui/", "", nil, http.StatusOK},
		{"GET", "/ui/", cookie, nil, http.StatusOK},
		{"GET", "/ui/model?name=good+model", cookie, nil, http.StatusOK},
		{"GET", "/ui/model?name=good+model", "", nil, http.StatusUnauthorized},
		{"GET", "/ui/login", "", nil, http.StatusOK},
		{"POST", "/ui/login", "", url.Values{"token": {"wrong"}}, http.StatusUnauthorized},
		{"GET", "/ui/static/style.css", "", nil, http.StatusOK},
		{"GET", "/ui/nothing-here", "", nil, http.StatusNotFound},
		{"DELETE", "/ui/", "", nil, http.StatusNotFound},
	} {
		res := request(h, tc.method, tc.target, tc.cookie, tc.form, nil)
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.target, res.StatusCode, tc.status)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.target, k, got, want)
			}
		}
		body := bodyOf(t, res)
		if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			// The CSP would block inline code anyway; the page has none.
			if regexp.MustCompile(`(?i)<script|<[a-z][^>]*\s(style|on[a-z]+)=|javascript:`).MatchString(body) {
				t.Errorf("%s %s: inline script or style in the page:\n%s", tc.method, tc.target, body)
			}
		}
	}
	if res := request(h, "GET", "/ui/static/style.css", "", nil, nil); !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: Content-Type %q", res.Header.Get("Content-Type"))
	}
}

func TestAnonymousSeesTrustedOnly(t *testing.T) {
	h := newTestHandler(t, nil)
	res := request(h, "GET", "/ui/", "", nil, nil)
	body := bodyOf(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if !strings.Contains(body, `<tr class="artifact" data-state="trusted">`) || !strings.Contains(body, ">good model</a>") {
		t.Errorf("the trusted artifact is not listed:\n%s", body)
	}
	if strings.Contains(body, "bad model") || strings.Contains(body, "revoked") {
		t.Errorf("an anonymous visitor sees the revoked artifact:\n%s", body)
	}
	for _, hidden := range []string{`id="integrity"`, `id="audit"`, "entry A"} {
		if strings.Contains(body, hidden) {
			t.Errorf("an anonymous visitor sees %s", hidden)
		}
	}
	if !strings.Contains(body, `<form method="post" action="/ui/login"`) {
		t.Error("no sign-in form for an anonymous visitor")
	}
	if !strings.Contains(body, "3.0 MiB") || !strings.Contains(body, "sha256:"+strings.Repeat("a", 64)) || !strings.Contains(body, ">gguf<") {
		t.Errorf("size, digest or format missing:\n%s", body)
	}
}

func TestEscaping(t *testing.T) {
	h := newTestHandler(t, nil)
	cookie := signIn(t, h, adminToken)
	pages := map[string]string{
		"overview, anonymous": bodyOf(t, request(h, "GET", "/ui/", "", nil, nil)),
		"overview, admin":     bodyOf(t, request(h, "GET", "/ui/", cookie, nil, nil)),
		"model":               bodyOf(t, request(h, "GET", "/ui/model?name="+url.QueryEscape(hostile), cookie, nil, nil)),
		"unknown model":       bodyOf(t, request(h, "GET", "/ui/model?name="+url.QueryEscape(hostile+"x"), cookie, nil, nil)),
		"next":                bodyOf(t, request(h, "GET", "/ui/model?name="+url.QueryEscape(hostile), "", nil, nil)),
	}
	for page, body := range pages {
		for _, raw := range []string{"<script", "<img"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s: %q reaches the page unescaped:\n%s", page, raw, body)
			}
		}
	}
	if !strings.Contains(pages["overview, anonymous"], "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("the hostile name is not shown as text:\n%s", pages["overview, anonymous"])
	}
	// The link to its page carries the name query-escaped.
	if !strings.Contains(pages["overview, anonymous"], `href="/ui/model?name=%3cscript%3ealert%28%22x%22%29%3c%2fscript%3e`) {
		t.Errorf("the hostile name's link is not query-escaped:\n%s", pages["overview, anonymous"])
	}
	if !strings.Contains(pages["model"], `<h1 id="model-name">&lt;script&gt;`) {
		t.Errorf("the model page does not show the name as text:\n%s", pages["model"])
	}
}

func TestSignInSession(t *testing.T) {
	h := newTestHandler(t, nil)
	res := request(h, "POST", "/ui/login", "", url.Values{"token": {" " + adminToken + "\n"}, "next": {"/ui/model?name=good+model"}}, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/ui/model?name=good+model" {
		t.Fatalf("sign-in: %d to %q, want 303 to the page asked for", res.StatusCode, res.Header.Get("Location"))
	}
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v, want the session cookie only", cookies)
	}
	c := cookies[0]
	if c.Name != cookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui" || c.Secure || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui, a browser-session cookie (not Secure over plain http)", c)
	}
	if strings.Contains(c.Value, adminToken) || len(c.Value) < 40 {
		t.Errorf("cookie value %q: want a random session id, not the token", c.Value)
	}

	body := bodyOf(t, request(h, "GET", "/ui/", c.Value, nil, nil))
	for _, want := range []string{`data-state="revoked"`, "bad model", `id="integrity-status">ok<`, `id="audit"`, "entry D", `id="who">token:abcd1234<`} {
		if !strings.Contains(body, want) {
			t.Errorf("signed in as admin: %q missing", want)
		}
	}
	// The tail: the 20 newest of 30 entries, newest first.
	if strings.Contains(body, "<td class=\"num\">10</td>") || strings.Index(body, "<td class=\"num\">30</td>") > strings.Index(body, "<td class=\"num\">11</td>") {
		t.Error("the audit tail is not the 20 newest entries, newest first")
	}
	model := bodyOf(t, request(h, "GET", "/ui/model?name=good+model", c.Value, nil, nil))
	for _, want := range []string{`id="chain-status">verified<`, `id="provenance-status">verified<`, `id="provenance-key">key-42<`, `id="provenance-policy">pol-7<`, `id="model-state">trusted<`} {
		if !strings.Contains(model, want) {
			t.Errorf("model page: %q missing:\n%s", want, model)
		}
	}

	// A reader sees everything but the audit log.
	reader := bodyOf(t, request(h, "GET", "/ui/", signIn(t, h, readerToken), nil, nil))
	if strings.Contains(reader, "entry D") || !strings.Contains(reader, "needs the admin role") || !strings.Contains(reader, "bad model") {
		t.Errorf("reader's page:\n%s", reader)
	}

	// Over TLS the cookie is Secure.
	r := httptest.NewRequest("POST", "/ui/login", strings.NewReader(url.Values{"token": {adminToken}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("cookie over TLS %+v: want Secure", cs)
	}

	// Signing out ends the session on the server, not just in the browser.
	res = request(h, "POST", "/ui/logout", c.Value, url.Values{}, nil)
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign-out: %d, cookies %v: want 303 and the cookie cleared", res.StatusCode, res.Cookies())
	}
	if body := bodyOf(t, request(h, "GET", "/ui/", c.Value, nil, nil)); strings.Contains(body, "bad model") {
		t.Error("the session still works after signing out")
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name       string
		auth       fakeAuth
		method     string
		target     string
		form       url.Values
		header     map[string]string
		status     int
		want       string
		retryAfter string
	}{
		{name: "history needs a token", method: "GET", target: "/ui/model?name=good+model", status: http.StatusUnauthorized,
			want: `<input type="hidden" name="next" value="/ui/model?name=good&#43;model">`},
		{name: "wrong token", method: "POST", target: "/ui/login", form: url.Values{"token": {"nope"}}, status: http.StatusUnauthorized, want: "invalid token"},
		{name: "empty token", method: "POST", target: "/ui/login", form: url.Values{"token": {""}}, status: http.StatusUnauthorized},
		{name: "no token configured", auth: fakeAuth{err: &lifecycle.Error{Kind: lifecycle.KindForbidden, Msg: "no usable service token"}},
			method: "POST", target: "/ui/login", form: url.Values{"token": {adminToken}}, status: http.StatusForbidden, want: "no usable service token"},
		{name: "too many failures", auth: fakeAuth{err: &lifecycle.Error{Kind: lifecycle.KindRateLimited, Msg: "slow down", RetryAfter: 500 * time.Millisecond}},
			method: "POST", target: "/ui/login", form: url.Values{"token": {"x"}}, status: http.StatusTooManyRequests, want: "slow down", retryAfter: "1"},
		{name: "token in the URL", method: "POST", target: "/ui/login?token=" + adminToken, form: url.Values{}, status: http.StatusBadRequest, want: "never be sent in a URL"},
		{name: "cross-site sign-in", method: "POST", target: "/ui/login", form: url.Values{"token": {adminToken}}, header: map[string]string{"Sec-Fetch-Site": "cross-site"},
			status: http.StatusForbidden, want: "cross-origin"},
		{name: "cross-origin sign-in", method: "POST", target: "/ui/login", form: url.Values{"token": {adminToken}}, header: map[string]string{"Origin": "https://evil.example"},
			status: http.StatusForbidden},
		{name: "oversized form", method: "POST", target: "/ui/login", form: url.Values{"token": {strings.Repeat("x", maxForm)}}, status: http.StatusBadRequest},
		{name: "sign-in by GET", method: "GET", target: "/ui/login?token=" + adminToken, status: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, func(c *Config) { c.Auth = tc.auth })
			res := request(h, tc.method, tc.target, "", tc.form, tc.header)
			body := bodyOf(t, res)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d:\n%s", res.StatusCode, tc.status, body)
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("page lacks %q:\n%s", tc.want, body)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("cookies %v: a refused sign-in sets none", res.Cookies())
			}
			if got := res.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
		})
	}
}

// TestNoTokenInURL walks every page a signed-in admin can reach and
// checks that the token appears in no URL, header or page, and that every
// form that takes it posts its body.
func TestNoTokenInURL(t *testing.T) {
	h := newTestHandler(t, nil)
	res := request(h, "POST", "/ui/login", "", url.Values{"token": {adminToken}, "next": {"/ui/"}}, nil)
	cookie := res.Cookies()[0].Value
	seen := []*http.Response{res}
	for _, target := range []string{"/", "/ui/", "/ui/login", "/ui/model?name=good+model", "/ui/model?name=nothing", "/ui/nothing"} {
		seen = append(seen, request(h, "GET", target, cookie, nil, nil), request(h, "GET", target, "", nil, nil))
	}
	seen = append(seen, request(h, "POST", "/ui/login", "", url.Values{"token": {adminToken + "x"}}, nil))
	forms := regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
	for _, res := range seen {
		body := bodyOf(t, res)
		for k, vs := range res.Header {
			for _, v := range vs {
				if strings.Contains(v, adminToken) {
					t.Errorf("%s: header %s carries the token", res.Request.URL, k)
				}
			}
		}
		if strings.Contains(body, adminToken) {
			t.Errorf("%s: the page carries the token", res.Request.URL)
		}
		for _, f := range forms.FindAllString(body, -1) {
			if strings.Contains(f, `name="token"`) && !strings.HasPrefix(f, `<form method="post"`) {
				t.Errorf("%s: a form taking the token does not post it: %s", res.Request.URL, f)
			}
		}
		if !strings.Contains(body, "<html") && res.Header.Get("Location") == "" {
			continue
		}
		if loc := res.Header.Get("Location"); strings.Contains(loc, "token") {
			t.Errorf("%s: redirect to %q", res.Request.URL, loc)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/ui/",
		"/ui/":                     "/ui/",
		"/ui/model?name=a+b":       "/ui/model?name=a+b",
		"//evil.example/ui/":       "/ui/",
		"https://evil.example/ui/": "/ui/",
		"/v1/models":               "/ui/",
		"/ui/\\evil":               "/ui/",
		"/ui/model?token=secret":   "/ui/",
		"javascript:alert(1)//ui/": "/ui/",
		"/ui/\r\nSet-Cookie: a=b":  "/ui/",
		"/ui/../v1/keys":           "/ui/",
		"/ui/%2e%2e/v1/keys":       "/ui/",
		"/ui/./model":              "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorsAreShown(t *testing.T) {
	cat := sampleCatalog()
	cat.listErr = errors.New("disk on fire at /registry/repos")
	h := newTestHandler(t, func(c *Config) {
		c.Catalog = cat
		c.Integrity = fakeIntegrity{err: &lifecycle.Error{Kind: lifecycle.KindUnavailable, Msg: "the last integrity result cannot be read"}}
		c.Audit = nil
	})
	cookie := signIn(t, h, adminToken)
	res := request(h, "GET", "/ui/", cookie, nil, nil)
	body := bodyOf(t, res)
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d: a failing part must not take the page down", res.StatusCode)
	}
	for _, want := range []string{"internal error; the registry log has the details", "the last integrity result cannot be read", "keeps no audit log"} {
		if !strings.Contains(body, want) {
			t.Errorf("%q missing:\n%s", want, body)
		}
	}
	if strings.Contains(body, "/registry/repos") {
		t.Error("an internal error's details reach the page")
	}
	res = request(h, "GET", "/ui/model?name=absent", cookie, nil, nil)
	if body := bodyOf(t, res); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "model not found") {
		t.Errorf("unknown model: %d\n%s", res.StatusCode, body)
	}
}

func TestDevModeShowsEverything(t *testing.T) {
	h := newTestHandler(t, func(c *Config) { c.Auth = fakeAuth{dev: true} })
	body := bodyOf(t, request(h, "GET", "/ui/", "", nil, nil))
	for _, want := range []string{"bad model", "INSECURE_DEV_MODE", "entry D"} {
		if !strings.Contains(body, want) {
			t.Errorf("dev mode: %q missing", want)
		}
	}
	if strings.Contains(body, `action="/ui/login"`) {
		t.Error("dev mode asks for a token")
	}
}

func TestSessionsExpire(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := newSessions(time.Minute, time.Hour, 3)
	s.now = func() time.Time { return now }
	id := s.create("a", token.Reader)
	for range 70 { // busy for 70 minutes: the absolute limit ends it
		now = now.Add(59 * time.Second)
		if _, ok := s.get(id); !ok && now.Sub(time.Unix(1e9, 0)) < time.Hour {
			t.Fatalf("session ended after %s of use", now.Sub(time.Unix(1e9, 0)))
		}
	}
	if _, ok := s.get(id); ok {
		t.Error("a session outlived its maximum age")
	}
	idle := s.create("b", token.Reader)
	now = now.Add(time.Minute)
	if _, ok := s.get(idle); ok {
		t.Error("an idle session did not end")
	}
	// At the limit, the least recently used session goes.
	ids := []string{s.create("1", token.Reader), s.create("2", token.Reader), s.create("3", token.Reader)}
	now = now.Add(time.Second)
	s.get(ids[0])
	s.create("4", token.Reader)
	if _, ok := s.get(ids[1]); ok {
		t.Error("the least recently used session was kept beyond the limit")
	}
	if _, ok := s.get(ids[0]); !ok {
		t.Error("a recently used session was evicted")
	}
	if _, ok := s.get(""); ok {
		t.Error("an empty id names a session")
	}
}
