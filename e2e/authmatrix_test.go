package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

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
	name  string
	env   []string // added after the harness's own; exec.Cmd keeps the last value of a duplicate key
	dev   bool     // INSECURE_DEV_MODE=true: nothing needs a token
	none  bool     // no usable token configured: token-protected routes answer 403
	roles bool     // a TOKENS_PATH file with one named token per role
}

// authNeed is what a route needs, mirroring registry/auth.go's perm.
type authNeed int

const (
	needNothing authNeed = iota // open: the lifecycle gates what is served
	needToken                   // any valid token (every role reads)
	needPush                    // pusher or admin
	needPromote                 // promoter or admin
	needAdmin                   // admin
)

// authCred is what a request carries: nothing, a wrong token, the service
// token or a named token with a role.
type authCred struct {
	name  string
	kind  string // "none", "wrong", "valid"
	role  string // for valid credentials: reader, pusher, promoter, admin (the service token is admin)
	token string
}

func (c authCred) allows(n authNeed) bool {
	switch n {
	case needNothing, needToken:
		return true
	case needPush:
		return c.role == "pusher" || c.role == "admin"
	case needPromote:
		return c.role == "promoter" || c.role == "admin"
	}
	return c.role == "admin"
}

// authRoute is one route of the matrix. ok is its status for a credential
// that may use it, when the routes before it in the same list succeeded;
// anon is its status without credentials when it is open.
type authRoute struct {
	name   string
	v2     bool // a /v2 route: Basic challenge and OCI error bodies
	method string
	path   string
	body   []byte
	ctype  string
	need   authNeed
	ok     int
	anon   int
}

// authMatrix is one mode's run: its registry, its credentials, and how
// many wrong tokens it has been sent (beyond 20 a minute from one address,
// wrong tokens are answered late, with 429).
type authMatrix struct {
	t      *testing.T
	r      *registry
	m      authMode
	creds  map[string]authCred
	wrongs int
}

// TestAuthMatrix sends every /v1 route and the /v2 ping and mutations
// (blob upload, manifest PUT, manifest DELETE, blob DELETE) with no token, a
// wrong token, the service token and a named token of each role, to a
// registry with a service token and a tokens file, one in dev mode and one
// without any usable token, and checks each answer: 401 with a challenge
// (Bearer and a JSON error on /v1, Basic and an OCI UNAUTHORIZED error on
// /v2) without or with a wrong token; 403 naming the role and what the
// route needs for a valid token of too small a role (DENIED on /v2); the
// route's own success for a token that may use it, or in dev mode; 403
// telling how to set SERVICE_TOKEN_PATH when no token is configured.
// Refused requests change nothing, and transition records name the token
// that made them. The open routes (/health, /v1/model/path, verification
// of trusted artifacts) answer anonymous callers. A guard checks that
// every route registry/v1.go registers is in the matrix.
func TestAuthMatrix(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry has no auth")
	modes := []authMode{
		{name: "tokens", env: []string{"INSECURE_DEV_MODE=false"}, roles: true},
		{name: "dev mode", env: []string{"INSECURE_DEV_MODE=true", "SERVICE_TOKEN_PATH=" + authMissingToken}, dev: true},
		{name: "no token configured", env: []string{"INSECURE_DEV_MODE=false", "SERVICE_TOKEN_PATH=" + authMissingToken}, none: true},
	}
	covered := map[string]bool{}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			a := &authMatrix{t: t, m: m, creds: map[string]authCred{}}
			var named []authCred
			if m.roles {
				env, creds := authTokensFile(t)
				m.env = append(m.env, env)
				a.m = m
				named = creds
			}
			a.r = startRegistry(t, m.env...)
			r := a.r
			a.creds["none"] = authCred{name: "no token", kind: "none"}
			a.creds["wrong"] = authCred{name: "a wrong token", kind: "wrong"}
			a.creds["service"] = authCred{name: "the service token", kind: "valid", role: "admin", token: r.Token}
			for _, c := range named {
				a.creds[c.role] = c
			}

			authHealth(t, r, m)

			// A trusted artifact to read, an acquired one that anonymous
			// callers may not verify, and a finished verification of every
			// artifact for anonymous verify-all to answer with.
			const readName, untrustedName = "auth read", "auth untrusted"
			if !m.none {
				data := oneTensorGGUF(41)
				v1PutImport(t, r, "read.gguf", data)
				authMust(t, r, m, "POST", "/v1/model/promote", v1JSON(t, map[string]any{"name": readName, "filename": "read.gguf", "sha256": v1SHA256(data)}), http.StatusCreated)
				data = oneTensorGGUF(40)
				v1PutImport(t, r, "untrusted.gguf", data)
				authMust(t, r, m, "POST", "/v1/model/acquire", v1JSON(t, map[string]any{"name": untrustedName, "filename": "untrusted.gguf", "sha256": v1SHA256(data)}), http.StatusCreated)
				authMust(t, r, m, "POST", "/v1/models/verify-all", nil, http.StatusOK)
			}
			q := "?name=" + url.QueryEscape(readName)
			qu := "?name=" + url.QueryEscape(untrustedName)
			okIfMade := func(status int) int {
				if m.none {
					return http.StatusNotFound
				}
				return status
			}
			anonVerifyAll := http.StatusOK
			if m.none {
				anonVerifyAll = http.StatusServiceUnavailable // no check has run, and nobody may start one
			}
			reads := []authRoute{
				{name: "ping", v2: true, method: "GET", path: "/v2/", need: needToken, ok: 200},
				{name: "list", method: "GET", path: "/v1/models", need: needToken, ok: 200},
				{name: "get", method: "GET", path: "/v1/model" + q, need: needToken, ok: 200},
				{name: "history", method: "GET", path: "/v1/model/history" + q, need: needToken, ok: 200},
				{name: "integrity status", method: "GET", path: "/v1/integrity/status", need: needToken, ok: 200},
				{name: "integrity run", method: "POST", path: "/v1/integrity/run", need: needToken, ok: 200},
				{name: "job", method: "GET", path: "/v1/jobs/" + strings.Repeat("0", 24), need: needToken, ok: 404},
				{name: "lock", method: "GET", path: "/v1/lock", need: needToken, ok: 200},
				{name: "verify-manifest", method: "POST", path: "/v1/model/verify-manifest" + q, need: needToken, ok: 200},
				{name: "policy check", method: "POST", path: "/v1/model/policy-check" + q, need: needToken, ok: 200},
				{name: "policy", method: "GET", path: "/v1/policy", need: needToken, ok: 200},
				{name: "keys", method: "GET", path: "/v1/keys", need: needNothing, ok: 200, anon: 200},
				{name: "key rotation", method: "POST", path: "/v1/keys/rotate", need: needAdmin, ok: 200},
				{name: "audit", method: "GET", path: "/v1/audit", need: needAdmin, ok: 200},
				{name: "path", method: "GET", path: "/v1/model/path" + q, need: needNothing, ok: okIfMade(200), anon: okIfMade(200)},
				// Anonymous callers learn nothing about names that are not trusted.
				{name: "verify", method: "POST", path: "/v1/model/verify" + q, need: needNothing, ok: okIfMade(200), anon: map[bool]int{false: 200, true: 401}[m.none]},
				{name: "verify untrusted", method: "POST", path: "/v1/model/verify" + qu, need: needNothing, ok: okIfMade(200), anon: 401},
				{name: "verify-all", method: "POST", path: "/v1/models/verify-all", need: needNothing, ok: 200, anon: anonVerifyAll},
				{name: "verify-all job", method: "POST", path: "/v1/models/verify-all?async=1", need: needNothing, ok: 202, anon: 401},
			}
			// The ping asks for credentials only when there are some to ask
			// for.
			if m.none {
				reads[0].need, reads[0].anon = needNothing, 200
			}
			for _, rt := range reads {
				covered[rt.method+" "+strings.SplitN(rt.path, "?", 2)[0]] = true
				for _, c := range a.order() {
					a.check(rt, c)
					if strings.Contains(rt.path, "async") && a.want(rt, c) == http.StatusAccepted {
						authWaitJobs(t, r) // one job at a time: a second request would be answered with this one
					}
				}
			}

			// The mutations, in lifecycle order: once with the least role
			// each step needs (every refused credential tried first, changing
			// nothing), then with the service token, then with the admin
			// role. In dev mode, once without a token; without a usable
			// token, once, all refused.
			var runs []string
			switch {
			case m.dev:
				runs = []string{"none"}
			case m.none:
				runs = []string{"refused"}
			default:
				runs = []string{"least", "service", "admin"}
			}
			for i, run := range runs {
				data := oneTensorGGUF(float32(50 + i))
				file := fmt.Sprintf("auth-%d.gguf", i)
				v1PutImport(t, r, file, data)
				name := "auth model " + run
				fields := v1JSON(t, map[string]any{"name": name, "filename": file, "sha256": v1SHA256(data), "size_bytes": len(data)})
				qn := "?name=" + url.QueryEscape(name)
				v1 := []authRoute{
					{name: "acquire", method: "POST", path: "/v1/model/acquire", body: fields, ctype: "application/json", need: needPush, ok: 201},
					{name: "quarantine", method: "POST", path: "/v1/model/quarantine" + qn, need: needPromote, ok: 200},
					{name: "promote", method: "POST", path: "/v1/model/promote", body: fields, ctype: "application/json", need: needPromote, ok: 201},
					{name: "revoke", method: "POST", path: "/v1/model/revoke" + qn, need: needPromote, ok: 200},
					{name: "delete", method: "DELETE", path: "/v1/model/delete" + qn, need: needAdmin, ok: 200},
				}
				v2 := authV2Routes(t, a, "auth/"+run, float32(60+i))
				for _, rt := range append(v1, v2...) {
					covered[rt.method+" "+strings.SplitN(rt.path, "?", 2)[0]] = true
					if run == "least" || run == "refused" {
						before := authState(t, r)
						for _, c := range a.order() {
							if c.kind != "valid" || !c.allows(rt.need) || m.none {
								a.check(rt, c)
							}
						}
						if after := authState(t, r); !reflect.DeepEqual(before, after) {
							t.Errorf("%s %s: refused requests changed the registry: %s", rt.method, rt.path, v1TreeDiff(before, after))
						}
					}
					if run != "refused" {
						a.check(rt, a.succeeding(run, rt.need))
						// The per-tensor manifest is computed in the background:
						// let it land, so it is not mistaken for a change made
						// by the next step's refused requests.
						switch rt.name {
						case "acquire":
							authWaitTensorManifest(t, r, name)
						case "manifest put":
							authWaitTensorManifest(t, r, "auth/"+run+":v1")
						}
					}
				}
				if run == "least" {
					a.checkWho(name, map[string]string{"acquire": "e2e-pusher", "quarantine": "e2e-promoter", "promote": "e2e-promoter", "revoke": "e2e-promoter", "delete": "e2e-admin"})
				}
			}
		})
	}
	authRouteGuard(t, covered)
}

// order is the credentials to try in this mode, least powerful first.
func (a *authMatrix) order() []authCred {
	if a.m.dev {
		return []authCred{a.creds["none"]}
	}
	out := []authCred{a.creds["none"], a.creds["wrong"], a.creds["service"]}
	for _, role := range []string{"reader", "pusher", "promoter", "admin"} {
		if c, ok := a.creds[role]; ok {
			out = append(out, c)
		}
	}
	return out
}

// succeeding is the credential that makes a step of the given run.
func (a *authMatrix) succeeding(run string, n authNeed) authCred {
	switch run {
	case "none", "service", "admin":
		return a.creds[run]
	}
	for _, role := range []string{"reader", "pusher", "promoter", "admin"} {
		if c := a.creds[role]; c.allows(n) {
			return c
		}
	}
	a.t.Fatalf("no role allows need %d", n)
	return authCred{}
}

// want is the status rt must answer to c in this mode (for a wrong token
// beyond the limiter's 20 a minute, check accepts 429 too).
func (a *authMatrix) want(rt authRoute, c authCred) int {
	switch {
	case a.m.dev:
		return rt.ok
	case a.m.none && rt.need > needNothing:
		return http.StatusForbidden
	case c.kind == "wrong", a.m.none && c.kind == "valid":
		return http.StatusUnauthorized // to a registry without tokens, any token is wrong
	case c.kind == "none" && rt.need == needNothing:
		return rt.anon
	case c.kind == "none":
		return http.StatusUnauthorized
	case !c.allows(rt.need):
		return http.StatusForbidden
	}
	return rt.ok
}

// check sends rt with credential c and checks the answer.
func (a *authMatrix) check(rt authRoute, c authCred) {
	t, r := a.t, a.r
	t.Helper()
	hdr := map[string]string{}
	if rt.ctype != "" {
		hdr["Content-Type"] = rt.ctype
	}
	switch c.kind {
	case "wrong":
		hdr["Authorization"] = "Bearer " + randomHex(t, 32)
		a.wrongs++
	case "valid":
		hdr["Authorization"] = "Bearer " + c.token
		if a.m.none {
			a.wrongs++ // to this registry, any token is wrong
		}
	}
	res := r.do(t, rt.method, rt.path, rt.body, false, hdr)
	what := rt.method + " " + rt.path + " (" + rt.name + ") with " + c.name
	want := a.want(rt, c)
	if want == http.StatusUnauthorized && c.kind != "none" && a.wrongs > 20 && res.Status == http.StatusTooManyRequests {
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 429 without Retry-After", what)
		}
		return
	}
	if res.Status != want {
		t.Errorf("%s: %d %s, want %d", what, res.Status, res.Body, want)
		return
	}
	switch {
	case want == http.StatusForbidden && a.m.none:
		// Fail closed, and say how to fix it.
		msg := authErrorMessage(t, what, rt, res, "DENIED")
		if !strings.Contains(msg, "SERVICE_TOKEN_PATH") {
			t.Errorf("%s: 403 message %q does not say how to configure SERVICE_TOKEN_PATH", what, msg)
		}
		v1CheckNoLeak(t, r, what+": ", msg, "")
	case want == http.StatusForbidden:
		// A role too small: say which, and what is needed.
		msg := authErrorMessage(t, what, rt, res, "DENIED")
		if !strings.Contains(msg, c.role+" role") || !strings.Contains(msg, "needs") {
			t.Errorf("%s: 403 message %q does not name the %s role and what the route needs", what, msg, c.role)
		}
		if strings.Contains(msg, c.token) {
			t.Errorf("%s: 403 message shows the token", what)
		}
	case want == http.StatusUnauthorized:
		scheme := "Bearer "
		if rt.v2 {
			scheme = "Basic "
		}
		if ch := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, scheme+`realm="`) {
			t.Errorf("%s: WWW-Authenticate %q, want a %schallenge with a realm", what, ch, scheme)
		}
		v1CheckNoLeak(t, r, what+": ", authErrorMessage(t, what, rt, res, "UNAUTHORIZED"), "")
	}
}

// checkWho checks that each transition of name's history names the token
// that made it.
func (a *authMatrix) checkWho(name string, want map[string]string) {
	t := a.t
	t.Helper()
	res := a.r.do(t, "GET", "/v1/model/history?name="+url.QueryEscape(name), nil, true, nil)
	var h struct {
		Records []struct{ Action, Who string }
	}
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &h) != nil {
		t.Fatalf("history of %s: %d %s", name, res.Status, res.Body)
	}
	for _, rec := range h.Records {
		if w, ok := want[rec.Action]; !ok || rec.Who != w {
			t.Errorf("history of %s: %s by %q, want %q", name, rec.Action, rec.Who, w)
		}
	}
	if len(h.Records) != len(want) {
		t.Errorf("history of %s: %d records, want %d: %s", name, len(h.Records), len(want), res.Body)
	}
}

// authTokensFile writes a TOKENS_PATH file with one token per role and
// returns its environment entry and the credentials.
func authTokensFile(t *testing.T) (string, []authCred) {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\ntokens:\n")
	var creds []authCred
	for _, role := range []string{"reader", "pusher", "promoter", "admin"} {
		secret := randomHex(t, 32)
		fmt.Fprintf(&b, "  - name: e2e-%s\n    role: %s\n    sha256: %s\n", role, role, v1SHA256([]byte(secret)))
		creds = append(creds, authCred{name: "token e2e-" + role, kind: "valid", role: role, token: secret})
	}
	return "TOKENS_PATH=" + writeFile(t, t.TempDir(), "tokens.yaml", []byte(b.String())), creds
}

// authWaitTensorManifest waits until name's per-tensor manifest is there.
func authWaitTensorManifest(t *testing.T, r *registry, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !bytes.Contains(r.do(t, "GET", "/v1/model?name="+url.QueryEscape(name), nil, true, nil).Body, []byte(`"gguf_guard_manifest"`)) {
		if time.Now().After(deadline) {
			t.Fatalf("no per-tensor manifest for %q after 30s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// authWaitJobs waits until no verification job runs.
func authWaitJobs(t *testing.T, r *registry) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var st struct{ Running bool }
		res := r.do(t, "GET", "/v1/integrity/status", nil, true, nil)
		if json.Unmarshal(res.Body, &st) == nil && !st.Running {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("a verification job still runs after a minute")
}

// authRouteGuard fails when the registry package registers a /v1 route
// the matrix did not send.
func authRouteGuard(t *testing.T, covered map[string]bool) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "registry", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("finding the route tables: %v", err)
	}
	re := regexp.MustCompile(`g\.(GET|POST|PUT|PATCH|DELETE|HEAD)\("([^"]+)"`)
	var found [][]string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("reading the route table: %v", err)
		}
		found = append(found, re.FindAllStringSubmatch(string(src), -1)...)
	}
	if len(found) < 10 {
		t.Fatalf("found only %d routes in package registry: the guard's pattern is stale", len(found))
	}
	for _, f := range found {
		route := f[1] + " /v1" + strings.ReplaceAll(f[2], ":id", strings.Repeat("0", 24))
		if !covered[route] {
			t.Errorf("%s is registered in package registry but not in the auth matrix", route)
		}
	}
}

// authV2Routes returns the /v2 mutations in an order that succeeds with a
// token that may make them: start an upload, put a manifest whose blobs
// were pushed, delete it, delete its now unused layer.
func authV2Routes(t *testing.T, a *authMatrix, repo string, seed float32) []authRoute {
	t.Helper()
	layer := oneTensorGGUF(seed)
	config := []byte("{}")
	ld, cd := "sha256:"+v1SHA256(layer), "sha256:"+v1SHA256(config)
	if !a.m.none {
		a.r.pushBlob(t, repo, config)
		a.r.pushBlob(t, repo, layer)
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
		{name: "blob upload", v2: true, method: "POST", path: "/v2/" + repo + "/blobs/uploads/", need: needPush, ok: 202},
		{name: "manifest put", v2: true, method: "PUT", path: "/v2/" + repo + "/manifests/v1", body: manifest, ctype: ocispec.MediaTypeImageManifest, need: needPush, ok: 201},
		{name: "manifest delete", v2: true, method: "DELETE", path: "/v2/" + repo + "/manifests/" + md, need: needAdmin, ok: 202},
		{name: "blob delete", v2: true, method: "DELETE", path: "/v2/" + repo + "/blobs/" + ld, need: needAdmin, ok: 202},
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
