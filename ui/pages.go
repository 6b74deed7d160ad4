package ui

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/token"
)

const (
	// auditTail is how many of the newest audit entries the page shows.
	auditTail = 20
	// maxRows bounds the artifact table; securectl list shows the rest.
	maxRows = 500
	// maxForm bounds the sign-in request body.
	maxForm = 8 << 10
)

// viewer is who is looking at the page.
type viewer struct {
	SignedIn     bool
	AuthRequired bool
	Who          string
	Role         token.Role
}

// Admin reports whether the viewer may read the audit log.
func (v viewer) Admin() bool { return v.SignedIn && v.Role == token.Admin }

// view is what the layout renders: a title, the viewer and the page's own
// data.
type view struct {
	Title  string
	Viewer viewer
	Data   any
}

// loginForm is the sign-in form: where to go afterwards and why the last
// attempt failed.
type loginForm struct {
	Next  string
	Note  string
	Error string
}

type overviewData struct {
	Artifacts    []lifecycle.Artifact
	More         int // rows left out beyond maxRows
	AllStates    bool
	ArtifactsErr string
	Integrity    *lifecycle.IntegrityStatus
	IntegrityErr string
	AuditShown   bool
	Audit        []audit.Entry
	AuditErr     string
	AuditNote    string
	Login        loginForm
}

type modelData struct {
	Artifact      lifecycle.Artifact
	History       *lifecycle.HistoryReport
	HistoryErr    string
	Provenance    *lifecycle.Provenance
	ProvenanceErr string
	// Check is the artifact's result in the last integrity check, if any.
	Check     *lifecycle.IntegrityResult
	CheckedAt string
}

type errorData struct {
	Status  int
	Message string
}

var funcs = template.FuncMap{
	"size":       humanSize,
	"when":       when,
	"short":      short,
	"statusText": http.StatusText,
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"overview", "model", "login", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a whole page, or a plain 500 if it cannot be rendered:
// never half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("operator page not rendered", "page", page, "error", err, "request_id", requestID(w))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", view{Title: http.StatusText(status), Viewer: h.viewer(w, r), Data: errorData{Status: status, Message: msg}})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, http.StatusNotFound, "There is no such page. The operator page is at /ui/.")
}

// viewer finds the request's session. A cookie that names no live
// session is cleared.
func (h *Handler) viewer(w http.ResponseWriter, r *http.Request) viewer {
	if !h.auth.RequiresAuth() {
		return viewer{SignedIn: true, Who: "dev-mode", Role: token.Admin}
	}
	v := viewer{AuthRequired: true}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return v
	}
	s, ok := h.sessions.get(c.Value)
	if !ok {
		clearCookie(w, r)
		return v
	}
	v.SignedIn, v.Who, v.Role = true, s.who, s.role
	return v
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := h.viewer(w, r)
	d := overviewData{AllStates: v.SignedIn, Login: loginForm{Next: "/ui/"}}
	list, err := h.catalog.List(ctx)
	if err != nil {
		d.ArtifactsErr = h.message(w, err)
	}
	for _, a := range list {
		// Without a token, only what runtimes may load anyway.
		if !v.SignedIn && a.State != lifecycle.Trusted {
			continue
		}
		if len(d.Artifacts) == maxRows {
			d.More++
			continue
		}
		d.Artifacts = append(d.Artifacts, a)
	}
	if v.SignedIn {
		st, err := h.integrity.LastIntegrity()
		if err != nil {
			d.IntegrityErr = h.message(w, err)
		} else {
			d.Integrity = &st
		}
		switch {
		case !v.Admin():
			d.AuditNote = fmt.Sprintf("The audit log needs the admin role; %s has the %s role.", v.Who, v.Role)
		case h.audit == nil:
			d.AuditNote = "This registry keeps no audit log."
		default:
			d.AuditShown = true
			d.Audit, err = h.auditTail(r)
			if err != nil {
				d.AuditErr = h.message(w, err)
			}
		}
	}
	h.render(w, r, http.StatusOK, "overview", view{Title: "Artifacts", Viewer: v, Data: d})
}

// auditTail reads the newest entries, newest first.
func (h *Handler) auditTail(r *http.Request) ([]audit.Entry, error) {
	head, _ := h.audit.Head()
	if head == 0 {
		return nil, nil
	}
	from := uint64(1)
	if head > auditTail {
		from = head - auditTail + 1
	}
	entries, err := h.audit.Read(r.Context(), from, auditTail)
	slices.Reverse(entries)
	return entries, err
}

func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := h.viewer(w, r)
	if !v.SignedIn {
		// An artifact's history needs a token, as GET /v1/model/history does.
		h.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Viewer: v,
			Data: loginForm{Next: r.URL.RequestURI(), Note: "An artifact's history needs a token: sign in to see it."}})
		return
	}
	name := r.URL.Query().Get("name")
	a, err := h.catalog.Get(ctx, name)
	if err != nil {
		h.fail(w, r, statusOf(err), h.message(w, err))
		return
	}
	d := modelData{Artifact: a}
	if hist, err := h.catalog.History(ctx, name); err != nil {
		d.HistoryErr = h.message(w, err)
	} else {
		d.History = &hist
	}
	if p, err := h.catalog.Provenance(ctx, name); err != nil {
		d.ProvenanceErr = h.message(w, err)
	} else {
		d.Provenance = &p
	}
	if st, err := h.integrity.LastIntegrity(); err == nil && st.Found {
		for i, res := range st.Report.Results {
			if res.Digest == a.Digest {
				d.Check, d.CheckedAt = &st.Report.Results[i], st.Report.CheckedAt
			}
		}
	}
	h.render(w, r, http.StatusOK, "model", view{Title: a.Name, Viewer: v, Data: d})
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	v := h.viewer(w, r)
	if v.SignedIn {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Viewer: v, Data: loginForm{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login checks the token posted by the sign-in form and starts a session.
// The token is read from the body only and kept nowhere: the session
// remembers who it belonged to and its role.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("token") {
		h.fail(w, r, http.StatusBadRequest, "A token must never be sent in a URL (URLs end up in histories and logs). Nothing was signed in; consider that token exposed and replace it.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if !h.auth.RequiresAuth() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	who, role, err := h.auth.SignIn(r, strings.TrimSpace(r.PostForm.Get("token")))
	if err != nil {
		status := statusOf(err)
		h.log.Warn("operator page sign-in refused", "request_id", requestID(w), "remote", r.RemoteAddr, "status", status)
		if le := (*lifecycle.Error)(nil); errors.As(err, &le) && le.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(le.RetryAfter.Round(time.Second)/time.Second)))
		}
		h.render(w, r, status, "login", view{Title: "Sign in", Viewer: viewer{AuthRequired: true},
			Data: loginForm{Next: next, Error: h.message(w, err)}})
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		h.sessions.drop(c.Value)
	}
	id := h.sessions.create(who, role)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: cookiePath, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	h.log.Info("operator page sign-in", "request_id", requestID(w), "who", who, "role", role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		h.sessions.drop(c.Value)
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// safeNext keeps a post-sign-in destination only when it is a page of
// this UI: never another site, nor a path that leaves /ui/ once cleaned.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(next, "/ui/") ||
		strings.ContainsAny(next, "\\\r\n") || u.Query().Has("token") {
		return "/ui/"
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") {
		clean += "/"
	}
	if clean != u.Path || !strings.HasPrefix(clean, "/ui/") {
		return "/ui/"
	}
	return u.RequestURI()
}

// kindStatus is the page's status for each kind of service error, as in
// the /v1 API.
var kindStatus = map[lifecycle.Kind]int{
	lifecycle.KindInvalid:      http.StatusBadRequest,
	lifecycle.KindUnauthorized: http.StatusUnauthorized,
	lifecycle.KindForbidden:    http.StatusForbidden,
	lifecycle.KindNotFound:     http.StatusNotFound,
	lifecycle.KindConflict:     http.StatusConflict,
	lifecycle.KindTooLarge:     http.StatusRequestEntityTooLarge,
	lifecycle.KindRateLimited:  http.StatusTooManyRequests,
	lifecycle.KindUnavailable:  http.StatusServiceUnavailable,
}

// statusOf maps a service error to the page's status: 500 for an internal
// one.
func statusOf(err error) int {
	if s, ok := kindStatus[lifecycle.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// message is what the page says about err: the service's own message, or,
// for an internal error, where the details are (the log).
func (h *Handler) message(w http.ResponseWriter, err error) string {
	var le *lifecycle.Error
	if errors.As(err, &le) {
		return le.Msg
	}
	if lifecycle.KindOf(err) != 0 {
		return err.Error()
	}
	h.log.Error("operator page: reading the registry failed", "request_id", requestID(w), "error", err)
	return "internal error; the registry log has the details under request id " + requestID(w)
}

// requestID is the id the registry's middleware gave the request.
func requestID(w http.ResponseWriter) string { return w.Header().Get("X-Request-Id") }

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// short abbreviates a digest for a table cell (the whole one is its title).
func short(d any) string {
	s := fmt.Sprint(d)
	if _, hex, ok := strings.Cut(s, ":"); ok && len(hex) > 16 {
		return s[:len(s)-len(hex)] + hex[:12] + "…"
	}
	return s
}

// when formats a time (or an RFC 3339 string) in UTC to the second.
func when(t any) string {
	switch t := t.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	case string:
		if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return when(p)
		}
		return t
	}
	return fmt.Sprint(t)
}
