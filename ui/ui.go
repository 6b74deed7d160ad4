package ui

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// Catalog is what the page reads about artifacts (the lifecycle service).
type Catalog interface {
	List(ctx context.Context) ([]lifecycle.Artifact, error)
	Get(ctx context.Context, name string) (lifecycle.Artifact, error)
	History(ctx context.Context, name string) (lifecycle.HistoryReport, error)
	Provenance(ctx context.Context, name string) (lifecycle.Provenance, error)
}

// Integrity gives the last integrity check (the lifecycle service).
type Integrity interface {
	LastIntegrity() (lifecycle.IntegrityStatus, error)
}

// AuditLog is the audit log's read side (package audit's *Log).
type AuditLog interface {
	Head() (seq uint64, hash string)
	Read(ctx context.Context, from uint64, limit int) ([]audit.Entry, error)
}

// Authenticator checks a token typed into the sign-in form the way the API
// checks its Bearer tokens (registry's *Auth).
type Authenticator interface {
	// RequiresAuth is false in development mode: then everything is shown
	// to everyone, as the API shows it.
	RequiresAuth() bool
	// SignIn answers who the token belongs to and its role; its errors are
	// *lifecycle.Error with a message for the person signing in.
	SignIn(r *http.Request, secret string) (who string, role token.Role, err error)
}

// Config configures the page.
type Config struct {
	Catalog   Catalog
	Integrity Integrity
	// Audit is the audit log; nil when the registry keeps none.
	Audit AuditLog
	Auth  Authenticator
	// SessionIdle and SessionMax bound a signed-in session: unused for
	// SessionIdle, or older than SessionMax, it ends (defaults 30 minutes
	// and 8 hours).
	SessionIdle time.Duration
	SessionMax  time.Duration
	Logger      *slog.Logger
}

// Handler serves the operator page at / and under /ui/.
type Handler struct {
	catalog   Catalog
	integrity Integrity
	audit     AuditLog
	auth      Authenticator
	sessions  *sessions
	log       *slog.Logger
	pages     map[string]*template.Template
	h         http.Handler
}

//go:embed templates
var templates embed.FS

//go:embed static/style.css
var style []byte

// csp allows the page's own stylesheet and nothing else: no inline script
// or style, no framing, forms posting only to the registry.
const csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// cookieName names the session cookie; its Path is /ui, so it is never
// sent to the APIs (which would ignore it anyway: they take only the
// Authorization header).
const (
	cookieName = "aimr_ui_session"
	cookiePath = "/ui"
)

// sessionLimit bounds the sessions kept in memory.
const sessionLimit = 1024

// New builds the page's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Catalog == nil || cfg.Integrity == nil || cfg.Auth == nil {
		return nil, errors.New("ui: Catalog, Integrity and Auth are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 8 * time.Hour
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{catalog: cfg.Catalog, integrity: cfg.Integrity, audit: cfg.Audit, auth: cfg.Auth,
		sessions: newSessions(cfg.SessionIdle, cfg.SessionMax, sessionLimit), log: cfg.Logger, pages: pages}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", redirectHome)
	mux.HandleFunc("GET /ui", redirectHome)
	mux.HandleFunc("GET /ui/{$}", h.overview)
	mux.HandleFunc("GET /ui/model", h.model)
	mux.HandleFunc("GET /ui/login", h.loginPage)
	mux.HandleFunc("POST /ui/login", h.login)
	mux.HandleFunc("POST /ui/logout", h.logout)
	mux.HandleFunc("GET /ui/static/style.css", serveStyle)
	mux.HandleFunc("/", h.notFound)
	// Sign-in and sign-out are the only non-GET requests: refused when
	// another site's page sends them (login CSRF).
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusForbidden, "cross-origin requests are refused: sign in from the registry's own page")
	}))
	h.h = cop.Handler(mux)
	return h, nil
}

// ServeHTTP sets the page's security headers and routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	hdr.Set("Cache-Control", "no-store")
	h.h.ServeHTTP(w, r)
}

// redirectHome sends / (and /ui) to the page: its session cookie is scoped
// to /ui, so that is where the page lives.
func redirectHome(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/ui/", http.StatusFound)
}

func serveStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(style)
}
