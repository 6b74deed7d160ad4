package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestLogsHoldNoSecrets runs a registry with named tokens and debug logs,
// sends every route (every /v1 route the OpenAPI document lists, every
// /v2 endpoint, /health, /ready, /metrics) with the service token and
// each named token, as Bearer and as Basic, with wrong tokens of each
// scheme, and with secrets in query strings, pushes and pulls with oras
// (Basic auth after a challenge), then greps the whole log for every
// secret, raw and as sent in a Basic header: none may appear.
func TestLogsHoldNoSecrets(t *testing.T) {
	skipUnlessOurServer(t, "the log is ours")
	tokensEnv, named := authTokensFile(t)
	r := startRegistry(t, tokensEnv, "LOG_LEVEL=debug", "METRICS_REQUIRE_TOKEN=true")
	querySecret := randomHex(t, 32)
	secrets := []string{r.Token, querySecret}
	byRole := map[string]string{}
	for _, c := range named {
		secrets = append(secrets, c.token)
		byRole[c.role] = c.token
	}

	// Something real to read: an artifact pushed and pulled by oras with a
	// named pusher token (Basic, after the /v2/ challenge), and one
	// promoted through /v1.
	dir := t.TempDir()
	writeFile(t, dir, "model.gguf", oneTensorGGUF(80))
	ref := r.Ref("logs/model:v1")
	if res := runCmd(t, runOpts{Dir: dir, Timeout: toolTimeout}, "oras", "push", "--plain-http", "-u", "e2e", "-p", byRole["pusher"],
		"--artifact-type", "application/vnd.e2e.logs", ref, "model.gguf"); res.Code != 0 {
		t.Fatalf("oras push: %s", res)
	}
	if res := runCmd(t, runOpts{Dir: dir, Timeout: toolTimeout}, "oras", "pull", "--plain-http", "-u", "e2e", "-p", byRole["reader"], "-o", "out", ref); res.Code != 0 {
		t.Fatalf("oras pull: %s", res)
	}
	const name = "logs model"
	data := oneTensorGGUF(81)
	v1PutImport(t, r, "logs.gguf", data)
	fields := map[string]any{"name": name, "filename": "logs.gguf", "sha256": v1SHA256(data)}
	if res := lcJSON(t, r, "POST", "/v1/model/promote", fields, true); res.Status != http.StatusCreated {
		t.Fatalf("promote: %d %s", res.Status, res.Body)
	}
	layer := r.pushBlob(t, "logs/model", oneTensorGGUF(82))
	config := r.pushBlob(t, "logs/model", []byte("{}"))
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.e2e.logs",
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: config, Size: 2},
		Layers: []ocispec.Descriptor{{MediaType: "application/octet-stream", Digest: layer, Size: int64(len(oneTensorGGUF(82)))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := r.pushManifest(t, "logs/model", "v2", ocispec.MediaTypeImageManifest, manifest)
	fields["token"] = querySecret // a secret in a body field the API does not know
	body, _ := json.Marshal(fields)

	// Every route. Statuses do not matter here (other tests hold them);
	// what the registry writes about each request does.
	q := "?name=" + url.QueryEscape(name) + "&token=" + querySecret + "&access_token=" + querySecret + "&X-Amz-Signature=" + querySecret
	type call struct {
		method, path string
		body         []byte
		ctype        string
	}
	var calls []call
	for _, route := range openAPIRoutes {
		method, path, _ := strings.Cut(route, " ")
		path = strings.ReplaceAll(path, "{id}", strings.Repeat("0", 24))
		c := call{method: method, path: path + q}
		if method == "POST" {
			c.body, c.ctype = body, "application/json"
		}
		calls = append(calls, c)
	}
	for _, c := range []call{
		{method: "GET", path: "/ready" + q}, {method: "GET", path: "/metrics" + q},
		{method: "GET", path: "/v2/" + q}, {method: "GET", path: "/v2/_catalog" + q},
		{method: "GET", path: "/v2/logs/model/tags/list" + q},
		{method: "GET", path: "/v2/logs/model/manifests/v2" + q}, {method: "HEAD", path: "/v2/logs/model/manifests/" + md.String() + q},
		{method: "PUT", path: "/v2/logs/model/manifests/v2" + q, body: manifest, ctype: ocispec.MediaTypeImageManifest},
		{method: "GET", path: "/v2/logs/model/blobs/" + layer.String() + q}, {method: "HEAD", path: "/v2/logs/model/blobs/" + layer.String() + q},
		{method: "GET", path: "/v2/logs/model/referrers/" + md.String() + q},
		{method: "DELETE", path: "/v2/logs/model/blobs/" + layer.String() + q},
		{method: "GET", path: "/v2/logs/model/blobs/uploads/" + strings.Repeat("0", 32) + q},
		{method: "DELETE", path: "/v2/logs/model/manifests/v2" + q},
	} {
		calls = append(calls, c)
	}
	send := func(c call, auth string) httpResult {
		hdr := map[string]string{}
		if auth != "" {
			hdr["Authorization"] = auth
		}
		if c.ctype != "" {
			hdr["Content-Type"] = c.ctype
		}
		return r.do(t, c.method, c.path, c.body, false, hdr)
	}
	// An upload through every step, with each credential.
	upload := func(auth string) {
		res := r.do(t, "POST", "/v2/logs/model/blobs/uploads/"+q, nil, false, map[string]string{"Authorization": auth})
		loc := res.Header.Get("Location")
		if loc == "" {
			return
		}
		chunk := []byte("chunk")
		u := loc + "&token=" + querySecret
		if !strings.Contains(loc, "?") {
			u = loc + "?token=" + querySecret
		}
		r.do(t, "GET", u, nil, false, map[string]string{"Authorization": auth})
		r.do(t, "PATCH", u, chunk, false, map[string]string{"Authorization": auth, "Content-Type": "application/octet-stream"})
		r.do(t, "PUT", u+"&digest=sha256:"+v1SHA256(chunk), nil, false, map[string]string{"Authorization": auth})
		res = r.do(t, "POST", "/v2/logs/model/blobs/uploads/", nil, false, map[string]string{"Authorization": auth})
		if loc := res.Header.Get("Location"); loc != "" {
			r.do(t, "DELETE", loc, nil, false, map[string]string{"Authorization": auth})
		}
	}
	var auths []string
	for _, tok := range append([]string{r.Token}, byRole["reader"], byRole["pusher"], byRole["promoter"], byRole["admin"]) {
		auths = append(auths, "Bearer "+tok, basicAuth("e2e", tok))
	}
	sent := 0
	for _, auth := range append(auths, "", basicAuth(r.Token, "")) {
		upload(auth)
		for _, c := range calls {
			if res := send(c, auth); res.Status >= 500 {
				t.Errorf("%s %s: %d %s", c.method, c.path, res.Status, res.Body)
			}
			sent++
		}
	}
	// Wrong tokens of each scheme, and a secret under a scheme the
	// registry does not know; fewer than the 20 a minute after which
	// failures are answered late.
	for i, c := range calls[1:7] { // /v1 routes behind the credential check (not /health)
		wrong := randomHex(t, 32)
		secrets = append(secrets, wrong)
		for _, auth := range []string{"Bearer " + wrong, basicAuth("e2e", wrong), "Token " + wrong} {
			if res := send(c, auth); res.Status != http.StatusUnauthorized {
				t.Errorf("%s %s with a wrong token (%d): %d, want 401", c.method, c.path, i, res.Status)
			}
			sent++
		}
	}
	r.Stop() // the log is complete: shutdown lines too

	log, err := os.ReadFile(r.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte(`"msg":"request"`)); n < sent {
		t.Fatalf("the log has %d request lines for %d requests sent: is it the registry's?", n, sent)
	}
	if !bytes.Contains(log, []byte(`"msg":"authentication failed"`)) {
		t.Error("the log has no failed authentication: the wrong tokens did not reach it")
	}
	for _, s := range secrets {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte("e2e:" + s)), base64.StdEncoding.EncodeToString([]byte(s + ":"))} {
			if i := bytes.Index(log, []byte(form)); i >= 0 {
				start := max(0, bytes.LastIndexByte(log[:i], '\n')+1)
				end := bytes.IndexByte(log[i:], '\n')
				if end < 0 {
					end = len(log) - i
				}
				t.Errorf("the registry log holds a secret (%s…):\n%s", form[:6], log[start:i+end])
			}
		}
	}
}
