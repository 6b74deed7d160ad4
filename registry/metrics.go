package registry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/policy"
)

// Metrics is the registry's Prometheus instrumentation, served at
// /metrics. It registers on a registry its caller owns: nothing here is
// global, so tests and several handlers in one process do not collide.
//
// Every label takes values from a closed set — route patterns, never raw
// paths; methods, states, actions and rules the code or the operator's
// policy defines — so a client cannot grow the number of series.
type Metrics struct {
	gatherer prometheus.Gatherer
	reg      prometheus.Registerer
	log      *slog.Logger

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	bytesIn        *prometheus.CounterVec
	bytesOut       *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	policyRefusals *prometheus.CounterVec
	transitions    *prometheus.CounterVec
	checks         *prometheus.CounterVec
	checkDuration  prometheus.Histogram
	checkFailures  prometheus.Gauge
	checkSuccess   prometheus.Gauge
	ready          prometheus.Gauge
}

// Auth failure reasons, the values of aimr_auth_failures_total's label.
const (
	authMissing       = "missing"        // no credentials where a route needs them
	authInvalid       = "invalid"        // a token that is no token of this registry
	authRole          = "role"           // a valid token without the role the route needs
	authRateLimited   = "rate_limited"   // an invalid token beyond the limiter's allowance
	authNotConfigured = "not_configured" // no usable token is configured at all
)

// NewMetrics registers the registry's metrics, the Go runtime's and the
// process's on reg, and serves what reg gathers.
func NewMetrics(reg *prometheus.Registry, log *slog.Logger) (*Metrics, error) {
	if log == nil {
		log = slog.Default()
	}
	m := &Metrics{
		gatherer: reg,
		reg:      reg,
		log:      log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code."}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aimr_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by method and route pattern (blob transfers included).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"method", "route"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_http_request_bytes_total",
			Help: "Request body bytes read, by route pattern."}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_http_response_bytes_total",
			Help: "Response body bytes written (sendfile included), by route pattern."}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_auth_failures_total",
			Help: "Requests refused by the credential check, by reason: missing, invalid, role, rate_limited, not_configured."}, []string{"reason"}),
		policyRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_policy_refusals_total",
			Help: "Unmet rules of promotions the policy refused, by rule (a refusal with two unmet rules counts once for each)."}, []string{"rule"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_lifecycle_transitions_total",
			Help: "Committed lifecycle transitions, by action."}, []string{"action"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aimr_integrity_checks_total",
			Help: "Integrity checks of every model, by result: ok, failed (some bytes do not match), error (the check did not complete or its result was not written)."}, []string{"result"}),
		checkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aimr_integrity_check_duration_seconds",
			Help:    "How long an integrity check of every model took.",
			Buckets: []float64{.1, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200}}),
		checkFailures: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aimr_integrity_last_check_failures",
			Help: "Models whose bytes did not match in the last completed integrity check."}),
		checkSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aimr_integrity_last_success_timestamp_seconds",
			Help: "When the last integrity check that found every model intact started (Unix time; 0: none since start)."}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aimr_ready",
			Help: "1 once boot recovery has finished and the registry serves its API, 0 while it starts."}),
	}
	// Series that exist from the start, at 0, so that rates and alerts
	// work before the first event.
	for _, r := range []string{authMissing, authInvalid, authRole, authRateLimited, authNotConfigured} {
		m.authFailures.WithLabelValues(r)
	}
	for _, a := range []lifecycle.Action{lifecycle.Acquire, lifecycle.Quarantine, lifecycle.Promote, lifecycle.Revoke, lifecycle.Delete, lifecycle.IntegrityFailure} {
		m.transitions.WithLabelValues(string(a))
	}
	for _, r := range []string{"ok", "failed", "error"} {
		m.checks.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytesIn, m.bytesOut, m.authFailures, m.policyRefusals, m.transitions,
		m.checks, m.checkDuration, m.checkFailures, m.checkSuccess, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Watch registers what is read at scrape time: artifacts by state
// (counts, the lifecycle's in-memory Counts) and upload sessions open
// (uploads). It is called once boot recovery has made them available.
func (m *Metrics) Watch(counts func(context.Context) (lifecycle.Counts, error), uploads func() int) error {
	if err := m.reg.Register(&artifactCollector{counts: counts, log: m.log}); err != nil {
		return err
	}
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aimr_upload_sessions",
		Help: "Upload sessions open now (resumable ones kept across a restart included)."}, func() float64 { return float64(uploads()) }))
}

// Transition counts a committed lifecycle transition (lifecycle.Config's
// OnTransition).
func (m *Metrics) Transition(_ context.Context, t lifecycle.Transition) {
	m.transitions.WithLabelValues(string(t.Action)).Inc()
}

// IntegrityCheck records a run of the integrity check
// (lifecycle.Config's OnIntegrityCheck).
func (m *Metrics) IntegrityCheck(_ context.Context, r lifecycle.IntegrityReport, err error) {
	switch {
	case err != nil:
		m.checks.WithLabelValues("error").Inc()
	case r.Status == "ok":
		m.checks.WithLabelValues("ok").Inc()
		if at, perr := time.Parse(time.RFC3339, r.CheckedAt); perr == nil {
			m.checkSuccess.Set(float64(at.Unix()))
		}
	default:
		m.checks.WithLabelValues("failed").Inc()
	}
	if r.CheckedAt != "" {
		m.checkDuration.Observe(float64(r.DurationMS) / 1000)
		m.checkFailures.Set(float64(r.Failures))
	}
}

// setReady records whether the registry serves its API.
func (m *Metrics) setReady(ready bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.Set(v)
}

// policyRefused counts each unmet rule of a refused promotion.
func (m *Metrics) policyRefused(unmet []policy.Unmet) {
	if m == nil {
		return
	}
	for _, u := range unmet {
		m.policyRefusals.WithLabelValues(u.Rule).Inc()
	}
}

// authVerdict counts a request the credential check refused.
func (m *Metrics) authVerdict(v verdict) {
	if m == nil {
		return
	}
	var reason string
	switch v.d {
	case allow:
		return
	case refuse403:
		reason = authNotConfigured
	case forbidden:
		reason = authRole
	case limited:
		reason = authRateLimited
	case challenge:
		reason = authMissing
		if v.cred == credInvalid {
			reason = authInvalid
		}
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// handler serves the metrics. A collector that fails (the artifact count)
// is left out of that scrape instead of failing it whole.
func (m *Metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}))
}

// middleware counts and times every request by method, route pattern and
// status, and the body bytes in and out. It sits outside the access log,
// which answers errors, so the status it reads is the one sent.
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		var body *countingBody
		if req.Body != nil && req.Body != http.NoBody {
			body = &countingBody{ReadCloser: req.Body}
			req.Body = body
		}
		err := next(c)
		route, method := routeLabel(c), methodLabel(req.Method)
		res := c.Response()
		m.requests.WithLabelValues(method, route, strconv.Itoa(res.Status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		if body != nil {
			if n := body.n.Load(); n > 0 {
				m.bytesIn.WithLabelValues(route).Add(float64(n))
			}
		}
		if res.Size > 0 {
			m.bytesOut.WithLabelValues(route).Add(float64(res.Size))
		}
		return err
	}
}

// countingBody counts the request body bytes a handler reads (it may read
// them on another goroutine).
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// v2Routes are the route labels of the distribution API's endpoints:
// everything under /v2 is one echo route, dispatched by parseRoute.
var v2Routes = map[string]string{
	"ping":      "/v2/",
	"catalog":   "/v2/_catalog",
	"tags":      "/v2/<name>/tags/list",
	"manifest":  "/v2/<name>/manifests/<reference>",
	"blob":      "/v2/<name>/blobs/<digest>",
	"uploads":   "/v2/<name>/blobs/uploads/",
	"upload":    "/v2/<name>/blobs/uploads/<id>",
	"referrers": "/v2/<name>/referrers/<digest>",
}

// routeLabel is the request's route pattern: echo's (/v1/jobs/:id), the
// /v2 endpoint's, or "unmatched" when no route matched. Never the raw
// path, which holds names, digests and ids without bound.
func routeLabel(c echo.Context) string {
	p := c.Path()
	switch {
	case p == "":
		return "unmatched"
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		if rt, ok := parseRoute(c.Request().URL.Path); ok {
			return v2Routes[rt.kind]
		}
		return "/v2/*"
	}
	return p
}

// methodLabel bounds the method label: clients may send any token as a
// method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// artifactCollector reports artifacts by state, read at scrape time from
// the lifecycle's in-memory index (no disk is read).
type artifactCollector struct {
	counts func(context.Context) (lifecycle.Counts, error)
	log    *slog.Logger
}

var artifactsDesc = prometheus.NewDesc("aimr_artifacts", "Artifacts by lifecycle state (deleted ones included: their history is kept).", []string{"state"}, nil)

// scrapeTimeout bounds the artifact count of one scrape.
const scrapeTimeout = 10 * time.Second

func (a *artifactCollector) Describe(ch chan<- *prometheus.Desc) { ch <- artifactsDesc }

func (a *artifactCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	c, err := a.counts(ctx)
	if err != nil {
		a.log.Warn("metrics: counting artifacts failed", "error", err)
		ch <- prometheus.NewInvalidMetric(artifactsDesc, err)
		return
	}
	for _, s := range []lifecycle.State{lifecycle.Acquired, lifecycle.Quarantined, lifecycle.Trusted, lifecycle.Revoked, lifecycle.Deleted} {
		ch <- prometheus.MustNewConstMetric(artifactsDesc, prometheus.GaugeValue, float64(c.States[s]), string(s))
	}
}
