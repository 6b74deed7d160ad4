package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// browser is a headless Chromium driven through chromedriver's W3C
// WebDriver HTTP API. The test needs a dozen calls, spoken here with
// net/http and JSON: a WebDriver client library would bring a large
// dependency tree into e2e/go.mod for that.
type browser struct {
	t       *testing.T
	session string // http://127.0.0.1:PORT/session/ID
	client  *http.Client
}

// chromiumFlags are the flags the browser starts with: headless, no
// sandbox (CI runs as root), and nothing that reaches the network by
// itself.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"}

// webElement is the key of an element reference in WebDriver JSON.
const webElement = "element-6066-11e4-a52e-4f735466cecf"

// startBrowser starts chromedriver and a Chromium session with a window
// of width×height; both end with the test.
func startBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Fatal("chromedriver not found: install chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: install chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
	}
	tmp := t.TempDir()
	port := freePort(t)
	logPath := filepath.Join(tmp, "chromedriver.log")
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--log-path="+logPath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	b := &browser{t: t, session: base, client: &http.Client{Timeout: time.Minute}}
	t.Cleanup(func() {
		// Close the browser (best effort: chromedriver's end takes it along).
		if req, err := http.NewRequest("DELETE", b.session, nil); err == nil && b.session != base {
			if resp, err := b.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("chromedriver log tail:\n%s", tail(string(log), 30))
			}
		}
	})
	deadline := time.Now().Add(healthTimeout)
	for {
		var status struct {
			Value struct{ Ready bool }
		}
		resp, err := b.client.Get(base + "/status")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&status)
			resp.Body.Close()
		}
		if err == nil && status.Value.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver not ready after %s: %v", healthTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	args := append([]string{"--user-data-dir=" + filepath.Join(tmp, "profile"), fmt.Sprintf("--window-size=%d,%d", width, height)}, chromiumFlags...)
	var created struct {
		SessionID string `json:"sessionId"`
	}
	b.decode(b.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
	}}}), &created)
	b.session = base + "/session/" + created.SessionID
	return b
}

// call sends one WebDriver command and returns its "value"; a WebDriver
// error fails the test.
func (b *browser) call(method, path string, body any) json.RawMessage {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.session+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("WebDriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		b.t.Fatalf("WebDriver %s %s: %s: %v", method, path, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(out.Value, &e)
		b.t.Fatalf("WebDriver %s %s: %s: %s: %.300s", method, path, resp.Status, e.Error, e.Message)
	}
	return out.Value
}

func (b *browser) decode(v json.RawMessage, into any) {
	b.t.Helper()
	if err := json.Unmarshal(v, into); err != nil {
		b.t.Fatalf("WebDriver answer %.200s: %v", v, err)
	}
}

// open navigates to url and waits for the page to load.
func (b *browser) open(url string) {
	b.t.Helper()
	b.call("POST", "/url", map[string]string{"url": url})
}

// url is the address of the current page.
func (b *browser) url() string {
	b.t.Helper()
	var u string
	b.decode(b.call("GET", "/url", nil), &u)
	return u
}

// findAll returns the elements matching a CSS selector, within the element
// in (or the page when in is "").
func (b *browser) findAll(in, css string) []string {
	b.t.Helper()
	path := "/elements"
	if in != "" {
		path = "/element/" + in + "/elements"
	}
	var els []map[string]string
	b.decode(b.call("POST", path, map[string]string{"using": "css selector", "value": css}), &els)
	ids := make([]string, len(els))
	for i, e := range els {
		ids[i] = e[webElement]
	}
	return ids
}

// find returns the one element matching css, failing the test otherwise.
func (b *browser) find(in, css string) string {
	b.t.Helper()
	els := b.findAll(in, css)
	if len(els) != 1 {
		b.t.Fatalf("%d elements match %q on %s, want 1", len(els), css, b.url())
	}
	return els[0]
}

// text is the element's rendered text.
func (b *browser) text(el string) string {
	b.t.Helper()
	var s string
	b.decode(b.call("GET", "/element/"+el+"/text", nil), &s)
	return s
}

func (b *browser) typeInto(el, text string) {
	b.t.Helper()
	b.call("POST", "/element/"+el+"/value", map[string]string{"text": text})
}

// waitFor waits until an element matches css (a click's navigation has
// landed), failing the test after 10 s.
func (b *browser) waitFor(css string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.findAll("", css)) == 0 {
		if time.Now().After(deadline) {
			b.t.Fatalf("no element matches %q on %s after 10s", css, b.url())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) click(el string) {
	b.t.Helper()
	b.call("POST", "/element/"+el+"/click", map[string]any{})
}

// webCookie is a cookie as WebDriver reports it.
type webCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path"`
	HTTPOnly bool   `json:"httpOnly"`
	Secure   bool   `json:"secure"`
	SameSite string `json:"sameSite"`
	Expiry   int64  `json:"expiry"`
}

func (b *browser) cookies() []webCookie {
	b.t.Helper()
	var cs []webCookie
	b.decode(b.call("GET", "/cookie", nil), &cs)
	return cs
}

// screenshot saves the visible page as a PNG.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	var s string
	b.decode(b.call("GET", "/screenshot", nil), &s)
	png, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
