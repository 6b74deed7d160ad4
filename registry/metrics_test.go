package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/ocilayout"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// Secrets of the metrics tests: the service token and a named reader token.
var (
	metricsServiceToken = strings.Repeat("s", 40)
	metricsReaderToken  = strings.Repeat("r", 40)
)

// metricsEnv is a handler over a real store with metrics on their own
// Prometheus registry.
type metricsEnv struct {
	reg     *prometheus.Registry
	metrics *Metrics
	store   *ocilayout.Store
	auth    *Auth
	log     *slog.Logger
}

func newMetricsEnv(t testing.TB) *metricsEnv {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	tokens := "version: 1\ntokens:\n  - name: metrics-reader\n    role: reader\n    sha256: " + token.Hash(metricsReaderToken) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "tokens.yaml"), []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "service-token"), []byte(metricsServiceToken), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := LoadAuth(TokenConfig{Path: filepath.Join(dir, "service-token"), TokensPath: filepath.Join(dir, "tokens.yaml")}, log)
	if err != nil {
		t.Fatal(err)
	}
	store, err := ocilayout.Open(context.Background(), ocilayout.Config{Dir: filepath.Join(dir, "data"), FlushInterval: time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, log)
	if err != nil {
		t.Fatal(err)
	}
	return &metricsEnv{reg: reg, metrics: m, store: store, auth: auth, log: log}
}

// handler is the registry's handler; metrics off leaves them out.
func (e *metricsEnv) handler(t testing.TB, metrics, requireToken bool) *Handler {
	t.Helper()
	cfg := Config{Backend: e.store, Auth: e.auth, Logger: e.log, MetricsRequireToken: requireToken, Check: e.store.Check}
	if metrics {
		cfg.Metrics = e.metrics
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, method, target, tok string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	if body == nil {
		r.Body = http.NoBody
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// families gathers reg by metric name.
func families(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value is the value of the series of name whose labels include want (a
// counter, gauge, or a histogram's count); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsMiddleware sends requests to every kind of route and checks
// what is counted under which labels: the route pattern, never the raw
// path, whatever names, digests, ids or methods the client sends.
func TestMetricsMiddleware(t *testing.T) {
	e := newMetricsEnv(t)
	h := e.handler(t, true, false)
	hex := strings.Repeat("ab", 32)
	start := serve(h, "POST", "/v2/team/secret-repo/blobs/uploads/", metricsServiceToken, nil)
	if start.Code != http.StatusAccepted {
		t.Fatalf("start upload: %d %s", start.Code, start.Body)
	}
	loc := start.Header().Get("Location")
	uploadID := loc[strings.LastIndex(loc, "/")+1:]
	for _, tc := range []struct {
		method, target, tok string
		body                []byte
		route, status       string
		method2             string // the method label, when not method
	}{
		{"GET", "/v2/", metricsServiceToken, nil, "/v2/", "200", ""},
		{"GET", "/v2/", "", nil, "/v2/", "401", ""},
		{"GET", "/v2/", "wrong-token-wrong-token-wrong-token-xx", nil, "/v2/", "401", ""},
		{"HEAD", "/v2/team/secret-repo/blobs/sha256:" + hex, "", nil, "/v2/<name>/blobs/<digest>", "404", ""},
		{"PATCH", loc, metricsServiceToken, []byte("hello"), "/v2/<name>/blobs/uploads/<id>", "202", ""},
		{"GET", "/v2/team/secret-repo/manifests/v1.0-secret-tag", metricsServiceToken, nil, "/v2/<name>/manifests/<reference>", "404", ""},
		{"GET", "/v2/team/secret-repo/tags/list", metricsServiceToken, nil, "/v2/<name>/tags/list", "404", ""},
		{"GET", "/v2/team/secret-repo/referrers/sha256:" + hex, metricsServiceToken, nil, "/v2/<name>/referrers/<digest>", "200", ""},
		{"GET", "/v2/_catalog", metricsServiceToken, nil, "/v2/_catalog", "200", ""},
		{"GET", "/v2/no-such-endpoint-secret", metricsServiceToken, nil, "/v2/*", "404", ""},
		{"GET", "/health", "", nil, "/health", "200", ""},
		{"GET", "/ready", "", nil, "/ready", "200", ""},
		{"GET", "/raw-path-secret/12345", "", nil, "unmatched", "404", ""},
		{"BREW", "/health", "", nil, "/health", "405", "OTHER"},
	} {
		w := serve(h, tc.method, tc.target, tc.tok, tc.body)
		if got := fmt.Sprint(w.Code); got != tc.status {
			t.Errorf("%s %s: %s, want %s: %s", tc.method, tc.target, got, tc.status, w.Body)
		}
		method := tc.method
		if tc.method2 != "" {
			method = tc.method2
		}
		if v := value(families(t, e.reg), "aimr_http_requests_total", map[string]string{"method": method, "route": tc.route, "status": tc.status}); v < 1 {
			t.Errorf("%s %s: no aimr_http_requests_total{method=%q,route=%q,status=%q}", tc.method, tc.target, method, tc.route, tc.status)
		}
	}

	fams := families(t, e.reg)
	want := map[string]float64{
		`aimr_http_requests_total{method="GET",route="/v2/",status="401"}`:                       2,
		`aimr_http_request_duration_seconds{method="GET",route="/v2/"}`:                          3,
		`aimr_http_request_bytes_total{route="/v2/<name>/blobs/uploads/<id>"}`:                   5,
		`aimr_auth_failures_total{reason="missing"}`:                                             1,
		`aimr_auth_failures_total{reason="invalid"}`:                                             1,
		`aimr_auth_failures_total{reason="role"}`:                                                0,
		`aimr_http_requests_total{method="POST",route="/v2/<name>/blobs/uploads/",status="202"}`: 1,
	}
	for series, v := range want {
		name, labels := parseSeries(series)
		if got := value(fams, name, labels); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	if got := value(fams, "aimr_http_response_bytes_total", map[string]string{"route": "/health"}); got <= 0 {
		t.Errorf("aimr_http_response_bytes_total{route=\"/health\"} = %v, want the /health body's size", got)
	}

	// No label value holds anything the client chose.
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, raw := range []string{"secret", hex, uploadID, "12345", "BREW"} {
					if strings.Contains(l.GetValue(), raw) {
						t.Errorf("%s{%s=%q} holds %q from the request", name, l.GetName(), l.GetValue(), raw)
					}
				}
			}
		}
	}
	routes := []string{"unmatched", "/health", "/ready", "/metrics", "/v2/*"}
	for _, r := range v2Routes {
		routes = append(routes, r)
	}
	for _, m := range fams["aimr_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && !slices.Contains(routes, l.GetValue()) {
				t.Errorf("route label %q is not a route pattern", l.GetValue())
			}
		}
	}
}

// parseSeries splits `name{k="v",...}`.
func parseSeries(s string) (string, map[string]string) {
	name, rest, _ := strings.Cut(s, "{")
	labels := map[string]string{}
	for kv := range strings.SplitSeq(strings.TrimSuffix(rest, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = strings.Trim(v, `"`)
		}
	}
	return name, labels
}

// TestMetricsHooks: transitions by action, integrity checks, policy
// refusals by rule, artifacts by state and upload sessions.
func TestMetricsHooks(t *testing.T) {
	e := newMetricsEnv(t)
	m := e.metrics
	ctx := context.Background()
	m.Transition(ctx, lifecycle.Transition{Action: lifecycle.Promote})
	m.Transition(ctx, lifecycle.Transition{Action: lifecycle.Promote})
	m.Transition(ctx, lifecycle.Transition{Action: lifecycle.IntegrityFailure})
	at := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	m.IntegrityCheck(ctx, lifecycle.IntegrityReport{Status: "ok", CheckedAt: at.Format(time.RFC3339), DurationMS: 1500}, nil)
	m.IntegrityCheck(ctx, lifecycle.IntegrityReport{Status: "failed", CheckedAt: at.Add(time.Hour).Format(time.RFC3339), DurationMS: 500, Failures: 2}, nil)
	m.IntegrityCheck(ctx, lifecycle.IntegrityReport{}, errors.New("cancelled"))
	m.policyRefused([]policy.Unmet{{Rule: "require_quarantine"}, {Rule: "min_passing_scanners"}})
	m.policyRefused([]policy.Unmet{{Rule: "require_quarantine"}})
	var uploads atomic.Int64
	uploads.Store(3)
	counts := func(context.Context) (lifecycle.Counts, error) {
		return lifecycle.Counts{States: map[lifecycle.State]int{lifecycle.Trusted: 2, lifecycle.Revoked: 1}}, nil
	}
	if err := m.Watch(counts, func() int { return int(uploads.Load()) }); err != nil {
		t.Fatal(err)
	}
	fams := families(t, e.reg)
	for series, want := range map[string]float64{
		`aimr_lifecycle_transitions_total{action="promote"}`:           2,
		`aimr_lifecycle_transitions_total{action="integrity_failure"}`: 1,
		`aimr_lifecycle_transitions_total{action="revoke"}`:            0,
		`aimr_integrity_checks_total{result="ok"}`:                     1,
		`aimr_integrity_checks_total{result="failed"}`:                 1,
		`aimr_integrity_checks_total{result="error"}`:                  1,
		`aimr_integrity_check_duration_seconds`:                        2, // observations
		`aimr_integrity_last_check_failures`:                           2,
		`aimr_integrity_last_success_timestamp_seconds`:                float64(at.Unix()),
		`aimr_policy_refusals_total{rule="require_quarantine"}`:        2,
		`aimr_policy_refusals_total{rule="min_passing_scanners"}`:      1,
		`aimr_artifacts{state="trusted"}`:                              2,
		`aimr_artifacts{state="revoked"}`:                              1,
		`aimr_artifacts{state="acquired"}`:                             0,
		`aimr_upload_sessions`:                                         3,
	} {
		name, labels := parseSeries(series)
		if got := value(fams, name, labels); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if f := fams["aimr_integrity_check_duration_seconds"]; f == nil || f.GetMetric()[0].GetHistogram().GetSampleSum() != 2 {
		t.Errorf("integrity check duration sum: %v, want 2 (1.5s + 0.5s)", f)
	}
}

// TestMetricsToken: METRICS_REQUIRE_TOKEN. When required, any valid token
// (a reader's too) may scrape; when not, anyone may, but a wrong token is
// still refused, as on every route.
func TestMetricsToken(t *testing.T) {
	e := newMetricsEnv(t)
	for _, tc := range []struct {
		require bool
		tok     string
		want    int
	}{
		{true, "", http.StatusUnauthorized},
		{true, "wrong-token-wrong-token-wrong-token-xx", http.StatusUnauthorized},
		{true, metricsReaderToken, http.StatusOK},
		{true, metricsServiceToken, http.StatusOK},
		{false, "", http.StatusOK},
		{false, metricsReaderToken, http.StatusOK},
		{false, "wrong-token-wrong-token-wrong-token-xx", http.StatusUnauthorized},
	} {
		h := e.handler(t, true, tc.require)
		w := serve(h, "GET", "/metrics", tc.tok, nil)
		if w.Code != tc.want {
			t.Errorf("require=%v token=%q: %d, want %d: %s", tc.require, tc.tok[:min(4, len(tc.tok))], w.Code, tc.want, w.Body)
			continue
		}
		if tc.want == http.StatusOK && !strings.Contains(w.Body.String(), "aimr_http_requests_total") {
			t.Errorf("require=%v: the scrape lacks aimr_http_requests_total:\n%s", tc.require, w.Body)
		}
		if tc.want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("require=%v: 401 without a challenge", tc.require)
		}
	}
	// Without metrics there is no /metrics route.
	if w := serve(e.handler(t, false, false), "GET", "/metrics", metricsServiceToken, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET /metrics without metrics: %d, want 404", w.Code)
	}
}

// TestReady: while the registry starts, the Gate answers /health 200,
// /ready 503 and the APIs 503 with Retry-After (each in its own error
// shape) and serves /metrics; once Ready, /ready follows the store check.
func TestReady(t *testing.T) {
	e := newMetricsEnv(t)
	g := NewGate(Config{Auth: e.auth, Metrics: e.metrics, Logger: e.log})
	for _, tc := range []struct {
		method, target string
		want           int
		retry          bool
		body           string
	}{
		{"GET", "/health", http.StatusOK, false, `"status":"ok"`},
		{"GET", "/ready", http.StatusServiceUnavailable, true, `"status":"starting"`},
		{"GET", "/v2/", http.StatusServiceUnavailable, true, `"code":"UNAVAILABLE"`},
		{"PUT", "/v2/a/manifests/v1", http.StatusServiceUnavailable, true, `"code":"UNAVAILABLE"`},
		{"GET", "/v1/models", http.StatusServiceUnavailable, true, `"error":"the registry is starting`},
		{"GET", "/", http.StatusServiceUnavailable, true, `"error":"the registry is starting`},
		{"GET", "/metrics", http.StatusOK, false, "aimr_ready 0"},
	} {
		w := serve(g, tc.method, tc.target, metricsServiceToken, nil)
		if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("starting: %s %s: %d %s, want %d with %s", tc.method, tc.target, w.Code, w.Body, tc.want, tc.body)
		}
		if got := w.Header().Get("Retry-After"); (got != "") != tc.retry {
			t.Errorf("starting: %s %s: Retry-After %q", tc.method, tc.target, got)
		}
	}

	var down atomic.Bool
	h, err := New(Config{Backend: e.store, Auth: e.auth, Logger: e.log, Metrics: e.metrics, Check: func() error {
		if down.Load() {
			return errors.New("store gone")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	g.Ready(h)
	if w := serve(g, "GET", "/ready", "", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"ready"`) {
		t.Errorf("ready: GET /ready: %d %s", w.Code, w.Body)
	}
	if w := serve(g, "GET", "/v2/", metricsServiceToken, nil); w.Code != http.StatusOK {
		t.Errorf("ready: GET /v2/: %d %s", w.Code, w.Body)
	}
	if w := serve(g, "GET", "/metrics", "", nil); !strings.Contains(w.Body.String(), "aimr_ready 1") {
		t.Errorf("ready: /metrics lacks aimr_ready 1")
	}
	down.Store(true)
	if w := serve(g, "GET", "/ready", "", nil); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"status":"unavailable"`) {
		t.Errorf("store unavailable: GET /ready: %d %s", w.Code, w.Body)
	}
	if w := serve(g, "GET", "/health", "", nil); w.Code != http.StatusOK {
		t.Errorf("store unavailable: GET /health (liveness): %d", w.Code)
	}
	// The real store's check: closed is unavailable.
	h = e.handler(t, false, false)
	_ = e.store.Close()
	if w := serve(h, "GET", "/ready", "", nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("closed store: GET /ready: %d", w.Code)
	}
}

// BenchmarkMetricsOverhead measures requests per second of a cheap route —
// HEAD of a small blob, anonymous — without and with the metrics
// middleware, in process (the middleware's own cost) and over loopback
// HTTP (what a client sees). The two run in alternating blocks, so both
// see the same load on a shared machine; the with/without ratio is
// reported too.
func BenchmarkMetricsOverhead(b *testing.B) {
	e := newMetricsEnv(b)
	blob := []byte("a small blob")
	d := digest.FromBytes(blob)
	without, with := e.handler(b, false, false), e.handler(b, true, false)
	if w := serve(without, "POST", "/v2/bench/blobs/uploads/?digest="+d.String(), metricsServiceToken, blob); w.Code != http.StatusCreated {
		b.Fatalf("push blob: %d %s", w.Code, w.Body)
	}
	target := "/v2/bench/blobs/" + d.String()
	b.Run("inprocess", func(b *testing.B) {
		head := func(h http.Handler) func() error {
			return func() error {
				if w := serve(h, "HEAD", target, "", nil); w.Code != http.StatusOK {
					return fmt.Errorf("HEAD: %d", w.Code)
				}
				return nil
			}
		}
		abBench(b, head(without), head(with))
	})
	b.Run("http", func(b *testing.B) {
		client := &http.Client{}
		head := func(h http.Handler) func() error {
			srv := httptest.NewServer(h)
			b.Cleanup(srv.Close)
			return func() error {
				res, err := client.Head(srv.URL + target)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					return fmt.Errorf("HEAD: %d", res.StatusCode)
				}
				return nil
			}
		}
		abBench(b, head(without), head(with))
	})
}

// abBench sends b.N requests of each kind, in alternating blocks (the
// order swapped each block), and reports each kind's requests per second
// and the ratio of with to without.
func abBench(b *testing.B, without, with func() error) {
	const block = 64
	var took [2]time.Duration
	fns := [2]func() error{without, with}
	for i := 0; i < b.N; i += block {
		n := min(block, b.N-i)
		for k := range 2 {
			j := (k + i/block) % 2
			start := time.Now()
			for range n {
				if err := fns[j](); err != nil {
					b.Fatal(err)
				}
			}
			took[j] += time.Since(start)
		}
	}
	b.ReportMetric(float64(b.N)/took[0].Seconds(), "req/s-without")
	b.ReportMetric(float64(b.N)/took[1].Seconds(), "req/s-with")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "with/without")
}
