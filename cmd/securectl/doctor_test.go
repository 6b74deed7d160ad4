package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type doctorReport struct {
	Checks []check `json:"checks"`
	Failed int     `json:"failed"`
}

// doctorRun runs doctor --json and returns each check by name, failing
// the test unless it exits with code.
func doctorRun(t *testing.T, code int) map[string]check {
	t.Helper()
	r := securectl(t, "doctor", "--json")
	if r.code != code {
		t.Fatalf("doctor: exit %d, want %d\n%s\n%s", r.code, code, r.stdout, r.stderr)
	}
	rep := decode[doctorReport](t, r.stdout)
	byName := map[string]check{}
	for _, c := range rep.Checks {
		byName[c.Name] = c
	}
	if len(byName) != 8 {
		t.Fatalf("%d checks: %+v", len(byName), rep.Checks)
	}
	return byName
}

// want checks the status of each named check, and that each detail (or
// fix) contains the text given after the status, as "FAIL:text".
func wantChecks(t *testing.T, got map[string]check, want map[string]string) {
	t.Helper()
	for name, w := range want {
		status, text, _ := strings.Cut(w, ":")
		c := got[name]
		if c.Status != status || !strings.Contains(c.Detail+" "+c.Fix, text) {
			t.Errorf("%s: %s %q (fix %q), want %s with %q", name, c.Status, c.Detail, c.Fix, status, text)
		}
		if (status == checkFail || status == checkWarn) && c.Fix == "" {
			t.Errorf("%s: %s without a fix", name, status)
		}
	}
}

// keyRing makes a stand-in key ring directory with the given modes.
func keyRing(t *testing.T, dirMode, keyMode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "promotion.key"), []byte("key"), keyMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "promotion.key"), keyMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tokenFile writes a token file with mode and content.
func tokenFile(t *testing.T, mode os.FileMode, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDoctorOK(t *testing.T) {
	reg := newRegistry(t)
	t.Setenv("SIGNING_KEY_DIR", reg.keyDir)
	t.Setenv("REGISTRY_DIR", "")
	got := doctorRun(t, 0)
	for name, c := range got {
		if c.Status != checkOK && !(name == "ready" && c.Status == checkSkip) { // a registry without /ready is fine
			t.Errorf("%s: %s %q", name, c.Status, c.Detail)
		}
	}
	wantChecks(t, got, map[string]string{
		"token file":     "OK:mode 0600",
		"registry":       "OK:" + reg.url,
		"auth":           "OK:requires a token",
		"clock":          "OK:within 1s",
		"keys":           "OK:serves 1 PEM public key",
		"key files":      "OK:promotion.key mode 0600",
		"token accepted": "OK:accepts the token",
	})

	// The text form: one line per check, status first; the token never.
	out := ok(t, "doctor")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[0], "OK  token file  ") || strings.Contains(out, strings.Repeat("c", 40)) {
		t.Fatalf("doctor:\n%s", out)
	}
}

// TestDoctorFailures breaks one thing at a time against the real handler.
func TestDoctorFailures(t *testing.T) {
	reg := newRegistry(t)
	valid := strings.Repeat("c", 40)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		code  int
		want  map[string]string
	}{
		{"token writable by others", func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", tokenFile(t, 0o666, valid))
		}, 1, map[string]string{"token file": "FAIL:chmod 600", "token accepted": "SKIP:", "registry": "OK:"}},
		{"token readable by group", func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", tokenFile(t, 0o640, valid))
		}, 0, map[string]string{"token file": "WARN:readable by group or others (mode 0640)", "token accepted": "OK:"}},
		{"token missing", func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", filepath.Join(t.TempDir(), "missing"))
		}, 1, map[string]string{"token file": "FAIL:does not exist", "token accepted": "SKIP:"}},
		{"token a directory", func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", t.TempDir())
		}, 1, map[string]string{"token file": "FAIL:not a regular file"}},
		{"token too short", func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", tokenFile(t, 0o600, "short"))
		}, 1, map[string]string{"token file": "FAIL:use at least 32"}},
		{"token refused", func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", tokenFile(t, 0o600, strings.Repeat("d", 40)))
		}, 1, map[string]string{"token file": "OK:", "token accepted": "FAIL:refused the token"}},
		{"key readable by others", func(t *testing.T) {
			t.Setenv("SIGNING_KEY_DIR", keyRing(t, 0o700, 0o644))
		}, 1, map[string]string{"key files": "FAIL:chmod 600"}},
		{"key dir listable by others", func(t *testing.T) {
			t.Setenv("SIGNING_KEY_DIR", keyRing(t, 0o755, 0o600))
		}, 0, map[string]string{"key files": "WARN:chmod 700"}},
		{"key dir writable by group", func(t *testing.T) {
			t.Setenv("SIGNING_KEY_DIR", keyRing(t, 0o770, 0o600))
		}, 1, map[string]string{"key files": "FAIL:writable by group or others"}},
		{"key ring under REGISTRY_DIR", func(t *testing.T) {
			t.Setenv("SIGNING_KEY_DIR", "")
			t.Setenv("REGISTRY_DIR", filepath.Dir(reg.keyDir))
		}, 0, map[string]string{"key files": "OK:" + reg.keyDir}},
		{"no key ring named", func(t *testing.T) {
			t.Setenv("SIGNING_KEY_DIR", "")
		}, 0, map[string]string{"key files": "SKIP:neither SIGNING_KEY_DIR nor REGISTRY_DIR"}},
		{"registry down", func(t *testing.T) {
			t.Setenv("REGISTRY_URL", "http://127.0.0.1:1")
		}, 1, map[string]string{"registry": "FAIL:cannot reach", "auth": "SKIP:", "ready": "SKIP:", "clock": "SKIP:",
			"keys": "SKIP:", "token accepted": "SKIP:", "token file": "OK:"}},
		{"REGISTRY_URL refused", func(t *testing.T) {
			t.Setenv("REGISTRY_URL", "http://10.0.0.5:8470")
		}, 1, map[string]string{"registry": "FAIL:only allowed to a loopback address", "keys": "SKIP:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SERVICE_TOKEN_PATH", reg.tokenPath)
			t.Setenv("REGISTRY_URL", reg.url)
			t.Setenv("SIGNING_KEY_DIR", reg.keyDir)
			t.Setenv("REGISTRY_DIR", "")
			tc.setup(t)
			wantChecks(t, doctorRun(t, tc.code), tc.want)
		})
	}
}

// fakeRegistry answers what the real one is hard to drive into.
type fakeRegistry struct {
	health       string // /health body
	healthStatus int
	noDate       bool
	dateOffset   time.Duration
	ready        int
	keys         string
	models       int
	modelsBody   string
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.noDate {
		w.Header()["Date"] = nil
	} else if f.dateOffset != 0 {
		w.Header().Set("Date", time.Now().Add(f.dateOffset).UTC().Format(http.TimeFormat))
	}
	switch r.URL.Path {
	case "/health":
		w.WriteHeader(f.healthStatus)
		_, _ = w.Write([]byte(f.health))
	case "/ready":
		w.WriteHeader(f.ready)
		_, _ = w.Write([]byte(`{"status":"recovering: replaying the journal"}`))
	case "/v1/keys":
		_, _ = w.Write([]byte(f.keys))
	case "/v1/models":
		w.WriteHeader(f.models)
		_, _ = w.Write([]byte(f.modelsBody))
	default:
		http.NotFound(w, r)
	}
}

func TestDoctorServerAnswers(t *testing.T) {
	reg := newRegistry(t) // for a real key
	keys := ok(t, "key")
	t.Setenv("SIGNING_KEY_DIR", "")
	t.Setenv("REGISTRY_DIR", "")
	healthy := `{"status":"ok","auth_required":true,"model_count":0}`
	for _, tc := range []struct {
		name string
		fake fakeRegistry
		code int
		want map[string]string
	}{
		{"clock behind, not ready, bad keys, role refused", fakeRegistry{
			health: healthy, healthStatus: 200, dateOffset: 2 * time.Minute, ready: 503, keys: "not a key",
			models: 403, modelsBody: `{"error":"token \"ci\" has the reader role; this operation needs the admin role"}`,
		}, 1, map[string]string{
			"registry":       "OK:",
			"clock":          "WARN:behind the registry's (more than 30s)", // 2m, give or take the Date header's second
			"ready":          "FAIL:recovering: replaying the journal",
			"keys":           "FAIL:GET /v1/keys",
			"token accepted": "FAIL:has the reader role",
		}},
		{"clock ahead, no /ready", fakeRegistry{
			health: healthy, healthStatus: 200, dateOffset: -time.Hour, ready: 404, keys: keys, models: 200, modelsBody: "[]",
		}, 0, map[string]string{
			"clock": "WARN:ahead of the registry's", "ready": "SKIP:no /ready", "keys": "OK:", "token accepted": "OK:",
		}},
		{"no auth, no Date", fakeRegistry{
			health: `{"status":"ok","auth_required":false}`, healthStatus: 200, noDate: true, ready: 200, keys: keys, models: 200, modelsBody: "[]",
		}, 0, map[string]string{
			"auth": "WARN:requires no token", "clock": "SKIP:no Date header", "token accepted": "SKIP:requires no token", "ready": "OK:",
		}},
		{"unhealthy", fakeRegistry{
			health: `{"status":"error","auth_required":true}`, healthStatus: 503, ready: 200, keys: keys, models: 200, modelsBody: "[]",
		}, 1, map[string]string{"registry": "FAIL:reports status error (HTTP 503)", "auth": "OK:"}},
		{"not a registry", fakeRegistry{
			health: "<html>hello</html>", healthStatus: 200, ready: 404, keys: "", models: 404,
		}, 1, map[string]string{"registry": "FAIL:no health report", "auth": "SKIP:", "keys": "FAIL:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&tc.fake)
			defer srv.Close()
			t.Setenv("REGISTRY_URL", srv.URL)
			t.Setenv("SERVICE_TOKEN_PATH", reg.tokenPath)
			got := doctorRun(t, tc.code)
			wantChecks(t, got, tc.want)
			if b, _ := json.Marshal(got); strings.Contains(string(b), strings.Repeat("c", 40)) {
				t.Fatal("the token is in the report")
			}
		})
	}
}
