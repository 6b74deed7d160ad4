package e2e

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestAuth checks the binary's auth contract: writes need the service token
// (Bearer, or Basic with any user), GET /v2/ challenges, and without the
// token only trusted artifacts can be read.
func TestAuth(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry has no auth")
	r := startRegistry(t)
	basic := func(user, pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	wrong := randomHex(t, 32)

	// RFC 7617 allows parameters after the realm (charset="UTF-8").
	res := r.do(t, "GET", "/v2/", nil, false, nil)
	if challenge := res.Header.Get("WWW-Authenticate"); res.Status != http.StatusUnauthorized || !strings.HasPrefix(challenge, `Basic realm="ai-model-registry"`) {
		t.Errorf("GET /v2/ without credentials: %d, WWW-Authenticate %q; want 401 with Basic realm=\"ai-model-registry\"", res.Status, challenge)
	}
	for name, hdr := range map[string]map[string]string{
		"Bearer token":    {"Authorization": "Bearer " + r.Token},
		"Basic any:token": basic("any", r.Token),
		"Basic x:token":   basic("someone-else", r.Token),
	} {
		if res := r.do(t, "GET", "/v2/", nil, false, hdr); res.Status != http.StatusOK {
			t.Errorf("GET /v2/ with %s: %d, want 200", name, res.Status)
		}
	}

	// Every kind of write, without and with wrong credentials.
	upload := r.do(t, "POST", "/v2/auth/img/blobs/uploads/", nil, true, nil).Header.Get("Location")
	if upload == "" {
		t.Fatal("POST with the token started no upload (no Location)")
	}
	writes := []struct{ method, path string }{
		{"POST", "/v2/auth/img/blobs/uploads/"},
		{"PATCH", upload},
		{"PUT", "/v2/auth/img/manifests/v1"},
		{"DELETE", "/v2/auth/img/manifests/v1"},
		{"DELETE", "/v2/auth/img/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
	}
	for _, w := range writes {
		if res := r.do(t, w.method, w.path, []byte("{}"), false, nil); res.Status != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without credentials: %d, WWW-Authenticate %q; want 401 with a challenge", w.method, w.path, res.Status, res.Header.Get("WWW-Authenticate"))
		}
		for name, hdr := range map[string]map[string]string{
			"a wrong Bearer token": {"Authorization": "Bearer " + wrong},
			"a wrong Basic token":  basic("any", wrong),
			"an empty Basic token": basic("any", ""),
		} {
			if res := r.do(t, w.method, w.path, []byte("{}"), false, hdr); res.Status != http.StatusUnauthorized && res.Status != http.StatusForbidden {
				t.Errorf("%s %s with %s: %d, want 401 or 403", w.method, w.path, name, res.Status)
			}
		}
	}

	// Reads of what is not trusted need the token: anonymous callers get
	// the same 401 and Basic challenge as for absent content.
	manifestDigest, layerDigest, layer := pushImage(t, r, "auth/img", "v1")
	manifest := r.do(t, "GET", "/v2/auth/img/manifests/v1", nil, true, nil).Body
	reads := []struct{ method, path string }{
		{"GET", "/v2/auth/img/manifests/v1"},
		{"HEAD", "/v2/auth/img/manifests/v1"},
		{"GET", "/v2/auth/img/manifests/" + manifestDigest.String()},
		{"HEAD", "/v2/auth/img/manifests/" + manifestDigest.String()},
		{"GET", "/v2/auth/img/blobs/" + layerDigest.String()},
		{"HEAD", "/v2/auth/img/blobs/" + layerDigest.String()},
		{"GET", "/v2/auth/img/tags/list"},
		{"GET", "/v2/auth/img/referrers/" + manifestDigest.String()},
	}
	accept := map[string]string{"Accept": ocispec.MediaTypeImageManifest}
	absent := []struct{ method, path string }{
		{"GET", "/v2/auth/img/manifests/v2"},
		{"GET", "/v2/auth/img/blobs/" + digest.FromString("absent").String()},
		{"GET", "/v2/auth/none/tags/list"},
		{"GET", "/v2/auth/img/tags/list?last=a"},
		{"GET", "/v2/auth/none/manifests/v1"},
	}
	for _, rd := range append(reads, absent...) {
		res := r.do(t, rd.method, rd.path, nil, false, accept)
		if challenge := res.Header.Get("WWW-Authenticate"); res.Status != http.StatusUnauthorized || !strings.HasPrefix(challenge, `Basic realm="ai-model-registry"`) {
			t.Errorf("%s %s without credentials before promotion: %d, WWW-Authenticate %q; want 401 with Basic realm=\"ai-model-registry\"", rd.method, rd.path, res.Status, challenge)
		}
	}
	checkReads := func(who string, auth bool) {
		t.Helper()
		for _, rd := range reads {
			res := r.do(t, rd.method, rd.path, nil, auth, accept)
			if res.Status != http.StatusOK {
				t.Errorf("%s %s %s: %d, want 200", rd.method, rd.path, who, res.Status)
			}
			switch {
			case rd.method == "HEAD":
			case strings.Contains(rd.path, "/manifests/") && !bytes.Equal(res.Body, manifest):
				t.Errorf("%s %s %s: %d bytes (%s), want the pushed manifest %s", rd.method, rd.path, who, len(res.Body), digest.FromBytes(res.Body), manifestDigest)
			case strings.Contains(rd.path, "/blobs/") && !bytes.Equal(res.Body, layer):
				t.Errorf("%s %s %s: %d bytes, want the pushed %d-byte layer", rd.method, rd.path, who, len(res.Body), len(layer))
			case strings.HasSuffix(rd.path, "/tags/list") && !strings.Contains(string(res.Body), `"v1"`):
				t.Errorf("%s %s %s: %s, want tag v1", rd.method, rd.path, who, res.Body)
			}
		}
	}
	checkReads("with the token", true)
	catalog := func() string { return string(r.do(t, "GET", "/v2/_catalog", nil, false, nil).Body) }
	if got := catalog(); strings.Contains(got, "auth/img") {
		t.Errorf("anonymous GET /v2/_catalog lists the untrusted auth/img: %s", got)
	}

	// Once promoted through /v1, runtimes read it without credentials.
	res = r.do(t, "POST", "/v1/model/quarantine?name=auth/img:v1", nil, true, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("POST /v1/model/quarantine: %d %s", res.Status, res.Body)
	}
	promote := []byte(`{"name":"auth/img:v1","sha256":"` + layerDigest.Encoded() + `"}`)
	res = r.do(t, "POST", "/v1/model/promote", promote, true, map[string]string{"Content-Type": "application/json"})
	if res.Status != http.StatusCreated {
		t.Fatalf("POST /v1/model/promote: %d %s", res.Status, res.Body)
	}
	checkReads("without credentials after promotion", false)
	if got := catalog(); !strings.Contains(got, `"auth/img"`) {
		t.Errorf("anonymous GET /v2/_catalog after promotion: %s, want auth/img listed", got)
	}
}

// TestKillRestart checks that what was pushed, and its lifecycle state,
// survive a SIGKILL and a graceful restart.
func TestKillRestart(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry keeps data in memory")
	r := startRegistry(t)
	manifestDigest, layerDigest, layer := pushImage(t, r, "durable/img", "v1")
	manifest := r.do(t, "GET", "/v2/durable/img/manifests/v1", nil, true, nil).Body

	check := func(when string, auth bool) {
		t.Helper()
		if res := r.do(t, "GET", "/v2/durable/img/manifests/v1", nil, auth, nil); res.Status != http.StatusOK || !bytes.Equal(res.Body, manifest) {
			t.Errorf("%s: GET manifest v1: %d, %d bytes, want 200 and the pushed %d bytes (%s)", when, res.Status, len(res.Body), len(manifest), manifestDigest)
		}
		if res := r.do(t, "GET", "/v2/durable/img/blobs/"+layerDigest.String(), nil, auth, nil); res.Status != http.StatusOK || !bytes.Equal(res.Body, layer) {
			t.Errorf("%s: GET layer %s: %d, %d bytes, want 200 and %d bytes", when, layerDigest, res.Status, len(res.Body), len(layer))
		}
	}
	anonymousRefused := func(when string) {
		t.Helper()
		if res := r.do(t, "GET", "/v2/durable/img/manifests/v1", nil, false, nil); res.Status != http.StatusUnauthorized {
			t.Errorf("%s: anonymous GET of the acquired manifest: %d, want 401", when, res.Status)
		}
	}
	r.Kill()
	r.Restart()
	check("after SIGKILL and restart, with the token", true)
	anonymousRefused("after SIGKILL and restart")

	// A promotion acknowledged just before a SIGKILL holds after it.
	promote := []byte(`{"name":"durable/img:v1","sha256":"` + layerDigest.Encoded() + `"}`)
	if res := r.do(t, "POST", "/v1/model/promote", promote, true, map[string]string{"Content-Type": "application/json"}); res.Status != http.StatusCreated {
		t.Fatalf("POST /v1/model/promote: %d %s", res.Status, res.Body)
	}
	r.Kill()
	r.Restart()
	check("after promotion, SIGKILL and restart, anonymously", false)
	r.Restart()
	check("after a graceful restart, anonymously", false)
	check("after a graceful restart, with the token", true)
}
