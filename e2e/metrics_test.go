package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// promSample is one sample of Prometheus' text exposition format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promScrape is a parsed /metrics answer: its samples and each family's
// type.
type promScrape struct {
	samples []promSample
	types   map[string]string
}

// scrapeMetrics GETs /metrics (with header, e.g. a token) and parses it
// strictly: every line is a comment or a sample, and every sample belongs
// to a family with a TYPE.
func scrapeMetrics(t *testing.T, r *registry, header map[string]string) promScrape {
	t.Helper()
	res := r.do(t, "GET", "/metrics", nil, false, header)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	s := promScrape{types: map[string]string{}}
	for i, line := range strings.Split(string(res.Body), "\n") {
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			s.types[name] = typ
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		sm, err := parsePromSample(line)
		if err != nil {
			t.Fatalf("/metrics line %d %q: %v", i+1, line, err)
		}
		family := sm.name
		if _, ok := s.types[family]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := strings.CutSuffix(sm.name, suffix); ok && s.types[f] != "" {
					family = f
				}
			}
		}
		if s.types[family] == "" {
			t.Errorf("/metrics: sample %s has no TYPE line", sm.name)
		}
		s.samples = append(s.samples, sm)
	}
	return s
}

var promNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)

// parsePromSample parses `name{k="v",...} value`.
func parsePromSample(line string) (promSample, error) {
	sm := promSample{name: promNameRE.FindString(line), labels: map[string]string{}}
	if sm.name == "" {
		return sm, fmt.Errorf("no metric name")
	}
	rest := line[len(sm.name):]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			k := promNameRE.FindString(rest)
			rest = rest[len(k):]
			if k == "" || !strings.HasPrefix(rest, `="`) {
				return sm, fmt.Errorf("bad label at %q", rest)
			}
			rest = rest[2:]
			var v strings.Builder
			for {
				if rest == "" {
					return sm, fmt.Errorf("unterminated label value")
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\\' && rest != "" {
					if c, rest = rest[0], rest[1:]; c == 'n' {
						c = '\n'
					}
				}
				v.WriteByte(c)
			}
			sm.labels[k] = v.String()
			rest = strings.TrimPrefix(rest, ",")
		}
		rest = rest[1:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return sm, fmt.Errorf("want a value (and a timestamp) after the labels, got %q", rest)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return sm, err
	}
	sm.value = v
	return sm, nil
}

// get is the value of the sample name whose labels include want, and
// whether there is one.
func (s promScrape) get(name string, want map[string]string) (float64, bool) {
	for _, sm := range s.samples {
		if sm.name != name {
			continue
		}
		match := true
		for k, v := range want {
			match = match && sm.labels[k] == v
		}
		if match {
			return sm.value, true
		}
	}
	return 0, false
}

// TestMetricsScrape: after real traffic — /v2 pushes and pulls, a
// promotion the strict policy refuses and one it allows, a wrong token, an
// integrity check, an upload left open — /metrics has every series the
// README lists, with the values that traffic implies, labelled by route
// pattern only.
func TestMetricsScrape(t *testing.T) {
	skipUnlessOurServer(t, "metrics are ours")
	started := time.Now()
	// POLICY_PATH empty: the strict built-in policy, which refuses a
	// one-step promotion.
	r := startRegistry(t, "POLICY_PATH=", "INTEGRITY_INTERVAL=0")
	wrong := map[string]string{"Authorization": "Bearer " + randomHex(t, 32)}
	if res := r.do(t, "GET", "/v2/", nil, false, wrong); res.Status != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ with a wrong token: %d", res.Status)
	}

	// /v2: an image-shaped artifact, pulled back.
	const repo = "metrics/scrape-secret-name"
	layer, config := oneTensorGGUF(70), []byte("{}")
	ld, cd := r.pushBlob(t, repo, layer), r.pushBlob(t, repo, config)
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.e2e.metrics",
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: cd, Size: int64(len(config))},
		Layers: []ocispec.Descriptor{{MediaType: "application/octet-stream", Digest: ld, Size: int64(len(layer))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := r.pushManifest(t, repo, "v1", ocispec.MediaTypeImageManifest, manifest)
	if res := r.do(t, "GET", "/v2/"+repo+"/blobs/"+ld.String(), nil, true, nil); res.Status != http.StatusOK {
		t.Fatalf("GET blob: %d", res.Status)
	}
	// An upload left open.
	if res := r.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, true, nil); res.Status != http.StatusAccepted {
		t.Fatalf("start upload: %d %s", res.Status, res.Body)
	}

	// /v1: refused by the policy, then quarantined and promoted.
	const name = "metrics model"
	data := oneTensorGGUF(71)
	v1PutImport(t, r, "metrics.gguf", data)
	promote := map[string]any{"name": name, "sha256": v1SHA256(data), "scan_results": map[string]string{"modelscan": "pass"}, "scanner_versions": map[string]string{"modelscan": "0.8.8"}}
	if res := lcJSON(t, r, "POST", "/v1/model/acquire", map[string]any{"name": name, "filename": "metrics.gguf", "sha256": v1SHA256(data)}, true); res.Status != http.StatusCreated {
		t.Fatalf("acquire: %d %s", res.Status, res.Body)
	}
	if res := lcJSON(t, r, "POST", "/v1/model/promote", map[string]any{"name": name, "sha256": v1SHA256(data)}, true); res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("promote without quarantine and scanners: %d %s, want 422", res.Status, res.Body)
	}
	lcTransition(t, r, "quarantine", name, http.StatusOK, "quarantined")
	if res := lcJSON(t, r, "POST", "/v1/model/promote", promote, true); res.Status != http.StatusCreated {
		t.Fatalf("promote: %d %s", res.Status, res.Body)
	}
	if res := r.do(t, "POST", "/v1/integrity/run", nil, true, nil); res.Status != http.StatusAccepted && res.Status != http.StatusOK {
		t.Fatalf("integrity run: %d %s", res.Status, res.Body)
	}
	authWaitJobs(t, r)

	// On loopback, /metrics needs no token by default.
	s := scrapeMetrics(t, r, nil)
	type want struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	now := float64(time.Now().Unix())
	for _, w := range []want{
		{"aimr_ready", nil, 1, 1},
		{"aimr_http_requests_total", l("method", "PUT", "route", "/v2/<name>/manifests/<reference>", "status", "201"), 1, 1},
		{"aimr_http_requests_total", l("method", "PUT", "route", "/v2/<name>/blobs/uploads/<id>", "status", "201"), 2, 2},
		{"aimr_http_requests_total", l("method", "GET", "route", "/v2/", "status", "401"), 1, 1},
		{"aimr_http_requests_total", l("method", "POST", "route", "/v1/model/promote", "status", "422"), 1, 1},
		{"aimr_http_requests_total", l("method", "POST", "route", "/v1/model/promote", "status", "201"), 1, 1},
		{"aimr_http_requests_total", l("method", "GET", "route", "/ready", "status", "200"), 1, 1e6},
		{"aimr_http_request_duration_seconds_count", l("method", "POST", "route", "/v1/model/promote"), 2, 2},
		{"aimr_http_request_duration_seconds_bucket", l("method", "POST", "route", "/v1/model/promote", "le", "+Inf"), 2, 2},
		{"aimr_http_request_bytes_total", l("route", "/v2/<name>/blobs/uploads/<id>"), float64(len(layer) + len(config)), float64(len(layer) + len(config))},
		{"aimr_http_request_bytes_total", l("route", "/v2/<name>/manifests/<reference>"), float64(len(manifest)), float64(len(manifest))},
		{"aimr_http_response_bytes_total", l("route", "/v2/<name>/blobs/<digest>"), float64(len(layer)), float64(len(layer))},
		{"aimr_upload_sessions", nil, 1, 1},
		{"aimr_artifacts", l("state", "trusted"), 1, 1},
		{"aimr_artifacts", l("state", "acquired"), 1, 1}, // the /v2 push
		{"aimr_artifacts", l("state", "revoked"), 0, 0},
		{"aimr_lifecycle_transitions_total", l("action", "acquire"), 2, 2},
		{"aimr_lifecycle_transitions_total", l("action", "quarantine"), 1, 1},
		{"aimr_lifecycle_transitions_total", l("action", "promote"), 1, 1},
		{"aimr_lifecycle_transitions_total", l("action", "revoke"), 0, 0},
		{"aimr_policy_refusals_total", l("rule", "require_quarantine"), 1, 1},
		{"aimr_policy_refusals_total", l("rule", "min_passing_scanners"), 1, 1},
		{"aimr_auth_failures_total", l("reason", "invalid"), 1, 1},
		{"aimr_auth_failures_total", l("reason", "missing"), 0, 0},
		{"aimr_auth_failures_total", l("reason", "role"), 0, 0},
		{"aimr_integrity_checks_total", l("result", "ok"), 1, 1},
		{"aimr_integrity_checks_total", l("result", "failed"), 0, 0},
		{"aimr_integrity_check_duration_seconds_count", nil, 1, 1},
		{"aimr_integrity_last_check_failures", nil, 0, 0},
		{"aimr_integrity_last_success_timestamp_seconds", nil, float64(started.Unix()) - 1, now + 1},
		{"go_goroutines", nil, 1, 1e6},
		{"process_resident_memory_bytes", nil, 1, 1e12},
	} {
		v, ok := s.get(w.name, w.labels)
		if !ok || v < w.min || v > w.max {
			t.Errorf("%s%v = %v (present: %v), want %v..%v", w.name, w.labels, v, ok, w.min, w.max)
		}
	}
	// Route patterns only: no repository name, digest or upload id.
	for _, sm := range s.samples {
		for k, v := range sm.labels {
			for _, raw := range []string{"secret-name", ld.Encoded(), md.Encoded(), url.PathEscape(name)} {
				if strings.Contains(v, raw) {
					t.Errorf("%s{%s=%q} holds a raw request value", sm.name, k, v)
				}
			}
			if k == "route" && v != "unmatched" && !strings.HasPrefix(v, "/") {
				t.Errorf("%s{route=%q}: not a route pattern", sm.name, v)
			}
		}
	}
}

// TestMetricsRequireToken: METRICS_REQUIRE_TOKEN=true makes /metrics need
// a valid token, any role; an invalid value stops the start naming it.
func TestMetricsRequireToken(t *testing.T) {
	skipUnlessOurServer(t, "metrics are ours")
	tokensEnv, creds := authTokensFile(t)
	r := startRegistry(t, "METRICS_REQUIRE_TOKEN=true", tokensEnv)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, tc := range []struct {
		what string
		hdr  map[string]string
		want int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"a wrong token", bearer(randomHex(t, 32)), http.StatusUnauthorized},
		{"the service token", bearer(r.Token), http.StatusOK},
		{"the service token as Basic", map[string]string{"Authorization": basicAuth("prometheus", r.Token)}, http.StatusOK},
	} {
		if res := r.do(t, "GET", "/metrics", nil, false, tc.hdr); res.Status != tc.want {
			t.Errorf("GET /metrics with %s: %d %s, want %d", tc.what, res.Status, res.Body, tc.want)
		}
	}
	for _, c := range creds {
		scrapeMetrics(t, r, bearer(c.token)) // every role may scrape
	}
	// /health and /ready stay open.
	for _, p := range []string{"/health", "/ready"} {
		if res := r.do(t, "GET", p, nil, false, nil); res.Status != http.StatusOK {
			t.Errorf("GET %s without a token: %d", p, res.Status)
		}
	}

	r.Stop()
	run := runCmd(t, runOpts{Env: append(r.env, "METRICS_REQUIRE_TOKEN=maybe"), Timeout: 30 * time.Second}, bins["registry"])
	if run.Code == 0 || !strings.Contains(run.Stderr, "METRICS_REQUIRE_TOKEN") {
		t.Errorf("start with METRICS_REQUIRE_TOKEN=maybe: %s; want a failed start naming the variable", run)
	}
}
