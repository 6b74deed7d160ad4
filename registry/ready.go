package registry

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// Gate is the server's handler from the moment it listens. Until Ready
// hands it the registry's Handler, it answers /health (alive), /ready
// (503), /metrics, and 503 with Retry-After to everything else: boot
// recovery (rebuilding the lifecycle state, applying the lock, opening
// the audit log) may take as long as it needs, and clients and
// orchestrators see a registry that is starting, not a refused connection.
type Gate struct {
	starting *Handler
	h        atomic.Pointer[Handler]
}

// NewGate returns a Gate that answers as starting. Of cfg it uses what
// needs no store: Auth, Metrics, MetricsRequireToken, Logger.
func NewGate(cfg Config) *Gate {
	h := newHandler(Config{Auth: cfg.Auth, Metrics: cfg.Metrics, MetricsRequireToken: cfg.MetricsRequireToken, Logger: cfg.Logger,
		RequestTimeout: cfg.RequestTimeout})
	h.starting = true
	e := h.newEcho()
	e.Any("/", h.unavailable)
	e.Any("/*", h.unavailable)
	h.echo = e
	h.metrics.setReady(false)
	return &Gate{starting: h}
}

// Ready hands every request from now on to h.
func (g *Gate) Ready(h *Handler) {
	g.h.Store(h)
	h.metrics.setReady(true)
}

// ServeHTTP makes the Gate an http.Handler.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.h.Load(); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	g.starting.ServeHTTP(w, r)
}

// startingRetry is the Retry-After of answers while the registry starts
// or its store is unavailable, in seconds.
const startingRetry = "1"

// routesOps adds the routes for operators and orchestrators.
func (h *Handler) routesOps(e *echo.Echo) {
	e.GET("/ready", h.ready)
	if h.metrics != nil {
		need := permNone
		if h.metricsToken {
			need = permRead
		}
		e.GET("/metrics", h.metrics.handler(), h.auth.v1(h, need))
	}
}

// ready answers /ready: 200 once the registry serves its API and its store
// is available; 503 while it starts or while the store is unavailable
// (/health, liveness, stays 200 meanwhile).
func (h *Handler) ready(c echo.Context) error {
	if h.starting {
		c.Response().Header().Set("Retry-After", startingRetry)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	}
	if h.check != nil {
		if err := h.check(); err != nil {
			h.log.Error("not ready: the store is unavailable", "request_id", requestID(c), "error", err)
			c.Response().Header().Set("Retry-After", startingRetry)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// unavailable answers every API request while the registry starts, in the
// shape of the API the path belongs to.
func (h *Handler) unavailable(c echo.Context) error {
	const msg = "the registry is starting (recovering its store); retry shortly"
	c.Response().Header().Set("Retry-After", startingRetry)
	if p := c.Request().URL.Path; p == "/v2" || strings.HasPrefix(p, "/v2/") {
		c.Response().Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return h.ociError(c, &oci.Error{Code: "UNAVAILABLE", Status: http.StatusServiceUnavailable, Message: msg})
	}
	return h.v1Error(c, http.StatusServiceUnavailable, msg)
}
