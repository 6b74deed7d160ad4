package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// authMissingToken is a SERVICE_TOKEN_PATH that does not exist: the
// registry must start with every mutation (and every token-protected read)
// refused, fail-closed.
const authMissingToken = "/nonexistent/ai-model-registry/service-token"

// authMode is one way of configuring authentication.
type authMode struct {
	name string
	env  []string // added after the harness's own; exec.Cmd keeps the last value of a duplicate key
	dev  bool     // INSECURE_DEV_MODE=true: nothing needs a token
	none bool     // no usable token configured: token-protected routes answer 403
}

// authCred is what a request carries.
type authCred string

const (
	credNoneSent authCred = "no token"
	credWrong    authCred = "wrong token"
	credRight    authCred = "right token"
)

// authRoute is one route of the matrix. ok is its status with the right
// token (or in dev mode) when the routes before it in the same list
// succeeded.
type authRoute struct {
	name   string
	v2     bool // a /v2 route: Basic challenge and OCI error bodies
	method string
	path   string
	body   []byte
	ctype  string
	ok     int
}

// TestAuthMatrix sends every mutating route of /v1 (acquire, quarantine,
// promote, revoke, delete) and of /v2 (blob upload, manifest PUT, manifest
// DELETE, blob DELETE), and the token-protected /v1 reads, with no token, a
// wrong token and the right token, to a registry with a token, one in dev
// mode and one without any usable token, and checks each answer: 401 with
// a challenge (Bearer and a JSON error on /v1, Basic and an OCI UNAUTHORIZED
// error on /v2) without or with a wrong token; the route's own success
// with the right token or in dev mode; 403 telling how to set
// SERVICE_TOKEN_PATH when no token is configured. /v1/model/path and
// /health need no token, and /health never shows the data directory.
func TestAuthMatrix(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry has no auth")
	modes := []authMode{
		{name: "token configured", env: []string{"INSECURE_DEV_MODE=false"}},
		{name: "dev mode", env: []string{"INSECURE_DEV_MODE=true", "SERVICE_TOKEN_PATH=" + authMissingToken}, dev: true},
		{name: "no token configured", env: []string{"INSECURE_DEV_MODE=false", "SERVICE_TOKEN_PATH=" + authMissingToken}, none: true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			r := startRegistry(t, m.env...)
			refused, succeeds := authCreds(m)

			authHealth(t, r, m)

			// The token-protected reads, on a trusted artifact when one can
			// be made.
			const readName = "auth read"
			if !m.none {
				data := oneTensorGGUF(41)
				v1PutImport(t, r, "read.gguf", data)
				authMust(t, r, m, "POST", "/v1/model/promote", v1JSON(t, map[string]any{"name": readName, "filename": "read.gguf", "sha256": v1SHA256(data)}), http.StatusCreated)
			}
			q := "?name=" + url.QueryEscape(readName)
			reads := []authRoute{
				{name: "list", method: "GET", path: "/v1/models", ok: 200},
				{name: "get", method: "GET", path: "/v1/model" + q, ok: 200},
				{name: "history", method: "GET", path: "/v1/model/history" + q, ok: 200},
				{name: "integrity status", method: "GET", path: "/v1/integrity/status", ok: 200},
				{name: "verify", method: "POST", path: "/v1/model/verify" + q, ok: 200},
				{name: "verify-all", method: "POST", path: "/v1/models/verify-all", ok: 200},
				{name: "verify-manifest", method: "POST", path: "/v1/model/verify-manifest" + q, ok: 200},
			}
			for _, rt := range reads {
				for _, c := range append(refused, succeeds...) {
					authCheck(t, r, m, rt, c)
				}
			}

			// What a runtime asks needs no token: the trusted artifact's
			// path, or 404 where none could be made — never 401 or 403.
			pathWant := http.StatusOK
			if m.none {
				pathWant = http.StatusNotFound
			}
			if res := r.do(t, "GET", "/v1/model/path"+q, nil, false, nil); res.Status != pathWant {
				t.Errorf("GET /v1/model/path without a token: %d %s, want %d", res.Status, res.Body, pathWant)
			}

			// The mutations, each in a lifecycle order so that with the
			// right token every one succeeds. Refused attempts come first
			// and must change nothing.
			data := oneTensorGGUF(42)
			v1PutImport(t, r, "auth.gguf", data)
			const name = "auth model"
			fields := v1JSON(t, map[string]any{"name": name, "filename": "auth.gguf", "sha256": v1SHA256(data), "size_bytes": len(data)})
			qn := "?name=" + url.QueryEscape(name)
			v1 := []authRoute{
				{name: "acquire", method: "POST", path: "/v1/model/acquire", body: fields, ctype: "application/json", ok: 201},
				{name: "quarantine", method: "POST", path: "/v1/model/quarantine" + qn, ok: 200},
				{name: "promote", method: "POST", path: "/v1/model/promote", body: fields, ctype: "application/json", ok: 201},
				{name: "revoke", method: "POST", path: "/v1/model/revoke" + qn, ok: 200},
				{name: "delete", method: "DELETE", path: "/v1/model/delete" + qn, ok: 200},
			}
			v2 := authV2Routes(t, r, m)
			for _, rt := range append(v1, v2...) {
				before := authState(t, r)
				for _, c := range refused {
					authCheck(t, r, m, rt, c)
				}
				if after := authState(t, r); !reflect.DeepEqual(before, after) {
					t.Errorf("%s %s: refused requests changed the registry: %s", rt.method, rt.path, v1TreeDiff(before, after))
				}
				for _, c := range succeeds {
					authCheck(t, r, m, rt, c)
				}
			}
		})
	}
}

// authCreds splits the credentials to try in mode m into those that must
// be refused and the one that must succeed (none when no token is
// configured).
func authCreds(m authMode) (refused, succeeds []authCred) {
	switch {
	case m.dev:
		return nil, []authCred{credNoneSent}
	case m.none:
		// r.Token is in the harness's token file, which this registry was
		// told not to use: to it, it is just some token.
		return []authCred{credNoneSent, credWrong, credRight}, nil
	}
	return []authCred{credNoneSent, credWrong}, []authCred{credRight}
}

// authV2Routes returns the /v2 mutations in an order that succeeds with the
// token: start an upload, put a manifest whose blobs were pushed, delete
// it, delete its now unused layer.
func authV2Routes(t *testing.T, r *registry, m authMode) []authRoute {
	t.Helper()
	const repo = "auth/model"
	layer := oneTensorGGUF(43)
	config := []byte("{}")
	ld, cd := "sha256:"+v1SHA256(layer), "sha256:"+v1SHA256(config)
	if !m.none {
		r.pushBlob(t, repo, config)
		r.pushBlob(t, repo, layer)
	}
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.e2e.auth",
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: digest.Digest(cd), Size: int64(len(config))},
		Layers: []ocispec.Descriptor{{MediaType: "application/octet-stream", Digest: digest.Digest(ld), Size: int64(len(layer)),
			Annotations: map[string]string{ocispec.AnnotationTitle: "model.gguf"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := "sha256:" + v1SHA256(manifest)
	return []authRoute{
		{name: "blob upload", v2: true, method: "POST", path: "/v2/" + repo + "/blobs/uploads/", ok: 202},
		{name: "manifest put", v2: true, method: "PUT", path: "/v2/" + repo + "/manifests/v1", body: manifest, ctype: ocispec.MediaTypeImageManifest, ok: 201},
		{name: "manifest delete", v2: true, method: "DELETE", path: "/v2/" + repo + "/manifests/" + md, ok: 202},
		{name: "blob delete", v2: true, method: "DELETE", path: "/v2/" + repo + "/blobs/" + ld, ok: 202},
	}
}

// authCheck sends rt with credential c and checks the answer for mode m.
func authCheck(t *testing.T, r *registry, m authMode, rt authRoute, c authCred) {
	t.Helper()
	hdr := map[string]string{}
	if rt.ctype != "" {
		hdr["Content-Type"] = rt.ctype
	}
	switch c {
	case credWrong:
		hdr["Authorization"] = "Bearer " + randomHex(t, 32)
	case credRight:
		hdr["Authorization"] = "Bearer " + r.Token
	}
	res := r.do(t, rt.method, rt.path, rt.body, false, hdr)
	what := rt.method + " " + rt.path + " (" + rt.name + ") with " + string(c)
	challenge := res.Header.Get("WWW-Authenticate")
	switch {
	case m.none:
		// Fail closed, and say how to fix it.
		if res.Status != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403 (no token configured)", what, res.Status, res.Body)
			return
		}
		msg := authErrorMessage(t, what, rt, res, "DENIED")
		if !strings.Contains(msg, "SERVICE_TOKEN_PATH") {
			t.Errorf("%s: 403 message %q does not say how to configure SERVICE_TOKEN_PATH", what, msg)
		}
		v1CheckNoLeak(t, r, what+": ", msg, "")
	case m.dev || c == credRight:
		if res.Status != rt.ok { // in particular never 401 or 403
			t.Errorf("%s: %d %s, want %d", what, res.Status, res.Body, rt.ok)
		}
	default: // no or a wrong token, with a token configured
		if res.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", what, res.Status, res.Body)
			return
		}
		scheme := "Bearer "
		if rt.v2 {
			scheme = "Basic "
		}
		if !strings.HasPrefix(challenge, scheme+`realm="`) {
			t.Errorf("%s: WWW-Authenticate %q, want a %schallenge with a realm", what, challenge, scheme)
		}
		v1CheckNoLeak(t, r, what+": ", authErrorMessage(t, what, rt, res, "UNAUTHORIZED"), "")
	}
}

// authErrorMessage checks the error body of the route's API — /v1's
// {"error"} or /v2's OCI {"errors":[{"code":code,...}]} — and returns its
// message.
func authErrorMessage(t *testing.T, what string, rt authRoute, res httpResult, code string) string {
	t.Helper()
	if !rt.v2 {
		return v1ErrorMessage(t, res)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != code {
		t.Errorf("%s: body %s, want an OCI error with code %s", what, res.Body, code)
		return ""
	}
	return body.Errors[0].Message
}

// authMust sends a request the setup needs and fails unless it answers want.
func authMust(t *testing.T, r *registry, m authMode, method, path string, body []byte, want int) {
	t.Helper()
	res := r.do(t, method, path, body, !m.dev, map[string]string{"Content-Type": "application/json"})
	if res.Status != want {
		t.Fatalf("setup %s %s: %d %s, want %d", method, path, res.Status, res.Body, want)
	}
}

// authHealth checks /health: open to all, auth_required as configured, and
// nothing about the host.
func authHealth(t *testing.T, r *registry, m authMode) {
	t.Helper()
	res := r.do(t, "GET", "/health", nil, false, nil)
	var h struct {
		Status       string `json:"status"`
		AuthRequired *bool  `json:"auth_required"`
	}
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &h) != nil || h.Status != "ok" || h.AuthRequired == nil {
		t.Fatalf("GET /health: %d %s, want 200 {\"status\":\"ok\",\"auth_required\":...}", res.Status, res.Body)
	}
	if *h.AuthRequired == m.dev {
		t.Errorf("GET /health: auth_required %v in %s", *h.AuthRequired, m.name)
	}
	for _, s := range []string{r.Dir, filepath.Dir(r.Dir), r.Token, "registry_dir"} {
		if strings.Contains(string(res.Body), s) {
			t.Errorf("GET /health shows %q: %s", s, res.Body)
		}
	}
}

// authState is what a refused request must not change: the files of the
// data directory and, where a token can read them, the artifact list and
// the repository catalog.
func authState(t *testing.T, r *registry) map[string]string {
	t.Helper()
	s := v1Tree(t, r.Dir, "repos", "pool", "uploads", "import")
	for _, p := range []string{"/v1/models", "/v2/_catalog"} {
		res := r.do(t, "GET", p, nil, true, nil)
		s["GET "+p] = string(res.Body)
	}
	return s
}
