package registry

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/provenance"
)

// Config configures the HTTP layer.
type Config struct {
	Backend Backend
	// Models serves the /v1 model API; without it /v1 is not routed.
	Models Models
	// IntegrityResultPath is the file /v1/integrity/status serves, and
	// IntegrityInterval the period of the check that writes it (a result
	// older than two intervals is reported stale; 0: never stale).
	IntegrityResultPath string
	IntegrityInterval   time.Duration
	Auth                *Auth
	// Keys are the registry's attestation keys, served at /v1/keys;
	// nil when it has none.
	Keys *provenance.Keyring
	// Auditor records every mutating request; nil: no audit log.
	Auditor *Auditor
	Logger  *slog.Logger
	// IdleTimeout bounds how long a blob transfer may make no progress
	// before the connection is dropped (default 60s). Transfers that keep
	// moving are never cut off, whatever their size.
	IdleTimeout time.Duration
	// RequestTimeout bounds every other request (default 60s).
	RequestTimeout time.Duration
	// Metrics counts every request and is served at /metrics; nil: no
	// metrics. MetricsRequireToken makes /metrics need a valid token
	// (any role).
	Metrics             *Metrics
	MetricsRequireToken bool
	// Check reports whether the store can serve: /ready answers 503
	// while it fails. nil: ready.
	Check func() error
	// UI is the operator page, served at / and under /ui/; nil: none.
	UI http.Handler
}

// Handler serves the registry's HTTP API.
type Handler struct {
	backend           Backend
	models            Models
	integrityPath     string
	integrityInterval time.Duration
	auth              *Auth
	keyring           *provenance.Keyring
	auditor           *Auditor
	log               *slog.Logger
	idle              time.Duration
	reqTime           time.Duration
	echo              *echo.Echo
	metrics           *Metrics
	metricsToken      bool
	check             func() error
	starting          bool // the Gate's handler while the registry starts
}

// New builds the HTTP handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Backend == nil {
		return nil, errors.New("registry: no backend")
	}
	h := newHandler(cfg)
	e := h.newEcho()
	if h.models != nil {
		h.routesV1(e)
	}
	if cfg.UI != nil {
		page := echo.WrapHandler(cfg.UI)
		e.Any("/", page)
		e.Any("/ui", page)
		e.Any("/ui/*", page)
	}
	v2 := e.Group("/v2", h.auditor.middleware(v2Action), h.auth.middleware(h), distributionHeader)
	v2.Any("", h.dispatch)
	v2.Any("/", h.dispatch)
	v2.Any("/*", h.dispatch)
	h.echo = e
	return h, nil
}

// newHandler applies cfg's defaults.
func newHandler(cfg Config) *Handler {
	if cfg.Auth == nil {
		cfg.Auth = &Auth{refusal: "mutations are disabled on this registry: no service token is configured"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 60 * time.Second
	}
	return &Handler{backend: cfg.Backend, models: cfg.Models, integrityPath: cfg.IntegrityResultPath, integrityInterval: cfg.IntegrityInterval, auth: cfg.Auth, keyring: cfg.Keys, auditor: cfg.Auditor,
		log: cfg.Logger, idle: cfg.IdleTimeout, reqTime: cfg.RequestTimeout, metrics: cfg.Metrics, metricsToken: cfg.MetricsRequireToken, check: cfg.Check}
}

// newEcho builds the echo instance with the middlewares every request
// goes through and the routes that answer whether the registry is ready
// or not: /health, /ready, /metrics.
func (h *Handler) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = h.httpErrorHandler
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		// Only our own ids: a client-chosen id could forge log lines.
		Skipper: func(echo.Context) bool { return false },
	}))
	if h.metrics != nil {
		e.Use(h.metrics.middleware) // outside the access log, which answers errors
	}
	e.Use(h.accessLog)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		h.log.Error("panic", "request_id", requestID(c), "error", err, "stack", string(stack))
		return err
	}}))
	e.Use(h.baseline)

	e.GET("/health", h.health)
	h.routesOps(e)
	return e
}

// ServeHTTP makes the Handler an http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.echo.ServeHTTP(w, r) }

// Server returns an http.Server with limits suited to a registry: short
// header timeouts and a header size cap, but no whole-request read/write
// timeouts — those would cut off a multi-gigabyte transfer that is making
// progress. Per-request deadlines are set by the handlers instead.
func Server(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// baseline sets headers every response carries and the default deadlines.
// Blob transfers replace the deadlines with progress-based ones.
func (h *Handler) baseline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hdr := c.Response().Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Cache-Control", "no-store")
		rc := http.NewResponseController(c.Response())
		deadline := time.Now().Add(h.reqTime)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
		return next(c)
	}
}

func distributionHeader(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return next(c)
	}
}

// accessLog writes one structured line per request. It never logs headers
// or query strings, so credentials cannot end up in the log.
func (h *Handler) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		res := c.Response()
		h.log.Info("request",
			"request_id", requestID(c),
			"method", c.Request().Method,
			"path", c.Request().URL.Path,
			"status", res.Status,
			"bytes_in", c.Request().ContentLength,
			"bytes_out", res.Size,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"remote", c.RealIP(),
		)
		return nil
	}
}

// health reports status, counts and whether auth is required — never the
// data directory or anything else about the host.
func (h *Handler) health(c echo.Context) error {
	body := map[string]any{"status": "ok", "auth_required": h.auth.RequiresAuth()}
	if h.models != nil {
		counts, err := h.models.Counts(c.Request().Context())
		if err != nil {
			h.log.Error("health: counting models failed", "error", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "error", "auth_required": h.auth.RequiresAuth()})
		}
		body["model_count"], body["trusted_count"], body["state_counts"] = counts.Models, counts.Trusted, counts.States
	}
	return c.JSON(http.StatusOK, body)
}

// route is a parsed /v2 path.
type route struct {
	kind string // ping, catalog, tags, manifest, blob, uploads, upload, referrers
	name string
	arg  string // reference, digest or upload id
}

// parseRoute splits a /v2 path. Repository names contain slashes, so the
// fixed suffix is matched from the end; names are validated separately.
func parseRoute(path string) (route, bool) {
	p := strings.TrimPrefix(path, "/v2")
	if p == "" || p == "/" {
		return route{kind: "ping"}, true
	}
	p = strings.TrimPrefix(p, "/")
	if p == "_catalog" {
		return route{kind: "catalog"}, true
	}
	parts := strings.Split(p, "/")
	n := len(parts)
	switch {
	case n >= 4 && parts[n-3] == "blobs" && parts[n-2] == "uploads":
		if parts[n-1] == "" {
			return route{kind: "uploads", name: strings.Join(parts[:n-3], "/")}, true
		}
		return route{kind: "upload", name: strings.Join(parts[:n-3], "/"), arg: parts[n-1]}, true
	case n >= 3 && parts[n-2] == "blobs" && parts[n-1] == "uploads":
		return route{kind: "uploads", name: strings.Join(parts[:n-2], "/")}, true
	case n >= 3 && parts[n-2] == "tags" && parts[n-1] == "list":
		return route{kind: "tags", name: strings.Join(parts[:n-2], "/")}, true
	case n >= 3 && parts[n-2] == "manifests":
		return route{kind: "manifest", name: strings.Join(parts[:n-2], "/"), arg: parts[n-1]}, true
	case n >= 3 && parts[n-2] == "blobs":
		return route{kind: "blob", name: strings.Join(parts[:n-2], "/"), arg: parts[n-1]}, true
	case n >= 3 && parts[n-2] == "referrers":
		return route{kind: "referrers", name: strings.Join(parts[:n-2], "/"), arg: parts[n-1]}, true
	}
	return route{}, false
}

var allowed = map[string][]string{
	"ping":      {http.MethodGet, http.MethodHead},
	"catalog":   {http.MethodGet},
	"tags":      {http.MethodGet},
	"manifest":  {http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete},
	"blob":      {http.MethodGet, http.MethodHead, http.MethodDelete},
	"uploads":   {http.MethodPost},
	"upload":    {http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete},
	"referrers": {http.MethodGet},
}

func (h *Handler) dispatch(c echo.Context) error {
	rt, ok := parseRoute(c.Request().URL.Path)
	if !ok {
		return h.ociError(c, errNoEndpoint)
	}
	method := c.Request().Method
	if !slices.Contains(allowed[rt.kind], method) {
		c.Response().Header().Set("Allow", strings.Join(allowed[rt.kind], ", "))
		return h.ociError(c, errMethod)
	}
	if rt.kind != "ping" && rt.kind != "catalog" {
		if err := oci.ValidateName(rt.name); err != nil {
			return h.ociError(c, err)
		}
	}
	switch rt.kind {
	case "ping":
		return c.JSON(http.StatusOK, struct{}{})
	case "catalog":
		return h.catalog(c)
	case "tags":
		return h.tagsList(c, rt.name)
	case "referrers":
		return h.referrers(c, rt.name, rt.arg)
	case "manifest":
		switch method {
		case http.MethodPut:
			return h.putManifest(c, rt.name, rt.arg)
		case http.MethodDelete:
			return h.deleteManifest(c, rt.name, rt.arg)
		}
		return h.getManifest(c, rt.name, rt.arg)
	case "blob":
		if method == http.MethodDelete {
			return h.deleteBlob(c, rt.name, rt.arg)
		}
		return h.getBlob(c, rt.name, rt.arg)
	case "uploads":
		return h.startUpload(c, rt.name)
	case "upload":
		switch method {
		case http.MethodGet:
			return h.uploadStatus(c, rt.name, rt.arg)
		case http.MethodPatch:
			return h.patchUpload(c, rt.name, rt.arg)
		case http.MethodPut:
			return h.putUpload(c, rt.name, rt.arg)
		}
		return h.cancelUpload(c, rt.name, rt.arg)
	}
	return h.ociError(c, errNoEndpoint)
}

var (
	errNoEndpoint = &oci.Error{Code: oci.CodeUnsupported, Status: http.StatusNotFound, Message: "no such endpoint in the distribution API"}
	errMethod     = &oci.Error{Code: oci.CodeUnsupported, Status: http.StatusMethodNotAllowed, Message: "method not allowed on this endpoint"}
)
