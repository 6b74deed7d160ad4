package registry

// Hostile-client tests: the real handler over a real ocilayout store, on a
// real socket. Every refusal is checked for its status, its spec error code
// in a well-formed JSON body, and for having written nothing.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/ocilayout"
)

const testToken = "0123456789abcdef0123456789abcdef-hostile-test"

type authMode int

const (
	authToken   authMode = iota // SERVICE_TOKEN_PATH holds testToken
	authNoToken                 // no token configured: mutations refused
	authDevMode                 // INSECURE_DEV_MODE=true
)

type testRegistry struct {
	srv   *httptest.Server
	store *ocilayout.Store
	dir   string
}

// newTestRegistry starts the real handler over a fresh store. Journals are
// folded into index.json only on Close, so the files on disk change only
// when a request changes them.
func newTestRegistry(t *testing.T, mode authMode) *testRegistry {
	t.Helper()
	cfg := TokenConfig{}
	switch mode {
	case authToken:
		cfg.Path = filepath.Join(t.TempDir(), "service-token")
		if err := os.WriteFile(cfg.Path, []byte(testToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	case authDevMode:
		cfg.DevMode = true
	}
	return newTestRegistryWithAuth(t, cfg)
}

func newTestRegistryWithAuth(t *testing.T, cfg TokenConfig, opts ...func(*Config)) *testRegistry {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := ocilayout.Open(context.Background(), ocilayout.Config{
		Dir:           filepath.Join(t.TempDir(), "data"),
		FlushInterval: time.Hour,
		Logger:        log,
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	auth, err := LoadAuth(cfg, log)
	if err != nil {
		t.Fatalf("LoadAuth: %v", err)
	}
	hc := Config{Backend: store, Auth: auth, Logger: log}
	for _, o := range opts {
		o(&hc)
	}
	h, err := New(hc)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testRegistry{srv: srv, store: store, dir: store.Dir()}
}

// req is one request. target is sent verbatim as the request-URI (no
// cleaning, no re-encoding). Requests carry the service token as a Bearer
// token unless hdr sets Authorization ("" sends none).
type req struct {
	method  string
	target  string
	body    []byte
	hdr     map[string]string
	chunked bool // send the body with Transfer-Encoding: chunked
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *testRegistry) send(t *testing.T, q req) resp {
	t.Helper()
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	// A request that hangs is a failure, not a stuck test run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, q.method, r.srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(q.target, "?")
	hr.URL.Opaque, hr.URL.RawQuery = path, query
	if q.chunked {
		hr.Body = io.NopCloser(bytes.NewReader(q.body))
		hr.ContentLength = -1
	}
	hr.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range q.hdr {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	res, err := r.srv.Client().Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", q.method, q.target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", q.method, q.target, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// anon marks a request as carrying no credentials.
var anon = map[string]string{"Authorization": ""}

// sendTruncated writes a request that declares a Content-Length of declared
// bytes but carries only body, then shuts its write side, and reads the
// response: a client that died mid-upload.
func (r *testRegistry) sendTruncated(t *testing.T, method, target string, hdr map[string]string, declared int, body []byte) resp {
	t.Helper()
	if declared <= len(body) {
		t.Fatalf("test setup: declared %d bytes but sends %d", declared, len(body))
	}
	conn, err := net.Dial("tcp", r.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n",
		method, target, r.srv.Listener.Addr(), testToken, declared)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	b.Write(body)
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s with a truncated body: no response: %v", method, target, err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: rb}
}

// wantError checks status, the spec error code and the envelope: JSON,
// {"errors":[{"code":...,"message":...}]}, served as application/json; a
// HEAD response has no body at all.
func wantError(t *testing.T, method string, res resp, status int, code oci.Code) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d (%s); body: %s", res.status, status, code, res.body)
	}
	if method == http.MethodHead {
		if len(res.body) != 0 {
			t.Errorf("HEAD error response has a %d-byte body", len(res.body))
		}
		return
	}
	if mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", res.header.Get("Content-Type"))
	}
	var env struct {
		Errors []struct {
			Code    oci.Code `json:"code"`
			Message string   `json:"message"`
			Detail  any      `json:"detail"`
		} `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || dec.More() {
		t.Fatalf("error body is not the spec's JSON envelope (%v): %s", err, res.body)
	}
	if len(env.Errors) == 0 {
		t.Fatalf("error body has no errors: %s", res.body)
	}
	if env.Errors[0].Code != code {
		t.Fatalf("error code %s, want %s; body: %s", env.Errors[0].Code, code, res.body)
	}
	if env.Errors[0].Message == "" {
		t.Errorf("error %s has no message", code)
	}
}

func errorMessage(t *testing.T, res resp) string {
	t.Helper()
	var env struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil || len(env.Errors) == 0 {
		t.Fatalf("no error message in %s", res.body)
	}
	return env.Errors[0].Message
}

func wantStatus(t *testing.T, what string, res resp, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, res.status, status, res.body)
	}
}

// state is what a refused request must leave as it was: every file and
// directory (with sizes) under repos/, pool/ and uploads/, the catalog, and
// every repository's tags.
type state struct {
	files   []string
	catalog string
	tags    map[string]string
}

func (r *testRegistry) state(t *testing.T) state {
	t.Helper()
	var st state
	for _, top := range []string{"repos", "pool", "uploads"} {
		root := filepath.Join(r.dir, top)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(r.dir, p)
			if d.IsDir() {
				st.files = append(st.files, rel+"/")
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			st.files = append(st.files, fmt.Sprintf("%s (%d bytes)", rel, fi.Size()))
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	cat := r.send(t, req{method: http.MethodGet, target: "/v2/_catalog", hdr: anon})
	wantStatus(t, "catalog", cat, http.StatusOK)
	st.catalog = string(cat.body)
	var c struct{ Repositories []string }
	if err := json.Unmarshal(cat.body, &c); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	st.tags = map[string]string{}
	for _, repo := range c.Repositories {
		tl := r.send(t, req{method: http.MethodGet, target: "/v2/" + repo + "/tags/list", hdr: anon})
		st.tags[repo] = fmt.Sprintf("%d %s", tl.status, tl.body)
	}
	return st
}

func (r *testRegistry) wantUnchanged(t *testing.T, before state) {
	t.Helper()
	after := r.state(t)
	if added, removed := diff(before.files, after.files); len(added)+len(removed) > 0 {
		t.Errorf("a refused request changed the store:\n  added:   %v\n  removed: %v", added, removed)
	}
	if before.catalog != after.catalog {
		t.Errorf("catalog changed from %s to %s", before.catalog, after.catalog)
	}
	for repo, tags := range before.tags {
		if after.tags[repo] != tags {
			t.Errorf("tags of %s changed from %s to %s", repo, tags, after.tags[repo])
		}
	}
}

func diff(before, after []string) (added, removed []string) {
	for _, f := range after {
		if !slices.Contains(before, f) {
			added = append(added, f)
		}
	}
	for _, f := range before {
		if !slices.Contains(after, f) {
			removed = append(removed, f)
		}
	}
	return added, removed
}

// uploadSessions lists the session directories on disk.
func (r *testRegistry) uploadSessions(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(r.dir, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// --- pushing the fixture through the API ---

func (r *testRegistry) pushBlob(t *testing.T, repo string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	res := r.send(t, req{method: http.MethodPost, target: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: content})
	wantStatus(t, "push blob", res, http.StatusCreated)
	return d
}

func (r *testRegistry) pushManifest(t *testing.T, repo, ref, mediaType string, body []byte) {
	t.Helper()
	res := r.send(t, req{method: http.MethodPut, target: "/v2/" + repo + "/manifests/" + ref, body: body, hdr: map[string]string{"Content-Type": mediaType}})
	wantStatus(t, "push manifest", res, http.StatusCreated)
}

// startUpload opens a session and returns its id.
func (r *testRegistry) startUpload(t *testing.T, repo string) string {
	t.Helper()
	res := r.send(t, req{method: http.MethodPost, target: "/v2/" + repo + "/blobs/uploads/"})
	wantStatus(t, "start upload", res, http.StatusAccepted)
	id := res.header.Get("Docker-Upload-UUID")
	if loc := res.header.Get("Location"); loc != "/v2/"+repo+"/blobs/uploads/"+id || id == "" {
		t.Fatalf("start upload: Location %q, id %q", loc, id)
	}
	return id
}

// uploadRange returns the session's Range header, failing if it is gone.
func (r *testRegistry) uploadRange(t *testing.T, repo, id string) string {
	t.Helper()
	res := r.send(t, req{method: http.MethodGet, target: "/v2/" + repo + "/blobs/uploads/" + id})
	wantStatus(t, "upload status", res, http.StatusNoContent)
	return res.header.Get("Range")
}

func (r *testRegistry) blobStatus(t *testing.T, repo string, d digest.Digest) int {
	t.Helper()
	return r.send(t, req{method: http.MethodHead, target: "/v2/" + repo + "/blobs/" + d.String()}).status
}

func descriptor(mediaType string, content []byte) string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mediaType, digest.FromBytes(content), len(content))
}

func imageManifest(config string, layers ...string) []byte {
	return []byte(`{"schemaVersion":2,"mediaType":"` + oci.MediaTypeImageManifest + `","config":` + config + `,"layers":[` + strings.Join(layers, ",") + `]}`)
}

func imageIndex(children ...string) []byte {
	return []byte(`{"schemaVersion":2,"mediaType":"` + oci.MediaTypeImageIndex + `","manifests":[` + strings.Join(children, ",") + `]}`)
}

const (
	mtConfig = "application/vnd.oci.image.config.v1+json"
	mtLayer  = "application/vnd.oci.image.layer.v1.tar"
)

// fixture is what seed pushes: seed/model has a config, a layer and a
// manifest tagged v1; seed/other exists with one unrelated blob.
type fixture struct {
	config, layer, manifest []byte
	manifestDigest          digest.Digest
}

func (r *testRegistry) seed(t *testing.T) fixture {
	t.Helper()
	f := fixture{config: []byte(`{"architecture":"amd64","os":"linux"}`), layer: []byte("model weights, layer one")}
	r.pushBlob(t, "seed/model", f.config)
	r.pushBlob(t, "seed/model", f.layer)
	f.manifest = imageManifest(descriptor(mtConfig, f.config), descriptor(mtLayer, f.layer))
	f.manifestDigest = digest.FromBytes(f.manifest)
	r.pushManifest(t, "seed/model", "v1", oci.MediaTypeImageManifest, f.manifest)
	r.pushBlob(t, "seed/other", []byte("unrelated"))
	return f
}

// hostileCase is one refused request.
type hostileCase struct {
	name   string
	req    req
	status int
	code   oci.Code
}

// runRefused sends each request and checks it was refused with the right
// status and code and changed nothing.
func runRefused(t *testing.T, r *testRegistry, cases []hostileCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.state(t)
			res := r.send(t, tc.req)
			wantError(t, tc.req.method, res, tc.status, tc.code)
			r.wantUnchanged(t, before)
		})
	}
}

var (
	hex64     = strings.Repeat("0123456789abcdef", 4)
	longName  = strings.Repeat("a", oci.MaxNameLength+1)
	longTag   = strings.Repeat("t", 129)
	upperHex  = "sha256:" + strings.ToUpper(hex64)
	someBlob  = digest.FromString("some blob")
	unknownID = strings.Repeat("0", 32)
)

func TestHostileNamesAndReferences(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	mf := map[string]string{"Content-Type": oci.MediaTypeImageManifest}
	put := func(target string) req {
		return req{method: http.MethodPut, target: target, body: f.manifest, hdr: mf}
	}
	post := func(target string) req { return req{method: http.MethodPost, target: target, body: []byte("x")} }
	get := func(target string) req { return req{method: http.MethodGet, target: target} }
	head := func(target string) req { return req{method: http.MethodHead, target: target} }
	del := func(target string) req { return req{method: http.MethodDelete, target: target} }
	const bad, name = http.StatusBadRequest, oci.CodeNameInvalid

	runRefused(t, r, []hostileCase{
		// Names.
		{"dot dot in name (GET)", get("/v2/seed/../seed/model/manifests/v1"), bad, name},
		{"dot dot in name (PUT)", put("/v2/seed/../seed/model/manifests/v2"), bad, name},
		{"dot dot escaping repos/", put("/v2/../../etc/manifests/v1"), bad, name},
		{"percent-encoded dot dot", put("/v2/seed/model/%2e%2e/%2e%2e/evil/manifests/v1"), bad, name},
		{"percent-encoded dot dot (HEAD)", head("/v2/%2E%2E/manifests/v1"), bad, name},
		{"percent-encoded slash and dots", post("/v2/seed%2f..%2fx/blobs/uploads/?digest=" + digest.FromString("x").String()), bad, name},
		{"leading slash", post("/v2//seed/model/blobs/uploads/"), bad, name},
		{"double slash", post("/v2/seed//model/blobs/uploads/"), bad, name},
		{"trailing slash", post("/v2/seed/model//blobs/uploads/"), bad, name},
		{"upper case", post("/v2/Seed/Model/blobs/uploads/"), bad, name},
		{"layout directory as a component", put("/v2/seed/model/_layout/manifests/v1"), bad, name},
		{"journal name as a component", post("/v2/seed/_index.log/blobs/uploads/"), bad, name},
		{"NUL in name", post("/v2/seed/model%00/blobs/uploads/"), bad, name},
		{"unicode name", put("/v2/seed/mod%C3%A8le/manifests/v1"), bad, name},
		{"over-long name (tags)", get("/v2/" + longName + "/tags/list"), bad, name},
		{"over-long name (PUT)", put("/v2/" + longName + "/manifests/v1"), bad, name},
		{"mount from a traversal name", post("/v2/seed/other/blobs/uploads/?mount=" + digest.FromBytes(f.layer).String() + "&from=../seed/model"), bad, name},
		{"mount from an upper-case name", post("/v2/seed/other/blobs/uploads/?mount=" + digest.FromBytes(f.layer).String() + "&from=Seed/Model"), bad, name},

		// Tags.
		{"over-long tag", put("/v2/seed/model/manifests/" + longTag), bad, oci.CodeManifestInvalid},
		{"tag with leading dash", put("/v2/seed/model/manifests/-rf"), bad, oci.CodeManifestInvalid},
		{"tag with leading dot", del("/v2/seed/model/manifests/.v1"), bad, oci.CodeManifestInvalid},
		{"over-long ?tag=", put("/v2/seed/model/manifests/" + f.manifestDigest.String() + "?tag=" + longTag), bad, oci.CodeManifestInvalid},
		{"one bad ?tag= among good ones", put("/v2/seed/model/manifests/" + f.manifestDigest.String() + "?tag=good&tag=..%2Fbad"), bad, oci.CodeManifestInvalid},

		// Digests.
		{"short blob digest (GET)", get("/v2/seed/model/blobs/sha256:abc"), bad, oci.CodeDigestInvalid},
		{"short blob digest (HEAD)", head("/v2/seed/model/blobs/sha256:abc"), bad, oci.CodeDigestInvalid},
		{"upper-case blob digest (DELETE)", del("/v2/seed/model/blobs/" + upperHex), bad, oci.CodeDigestInvalid},
		{"md5 blob digest", get("/v2/seed/model/blobs/md5:d41d8cd98f00b204e9800998ecf8427e"), bad, oci.CodeDigestInvalid},
		{"non-hex blob digest", head("/v2/seed/model/blobs/sha256:" + hex64[:63] + "g"), bad, oci.CodeDigestInvalid},
		{"sha512 with sha256 length", del("/v2/seed/model/blobs/sha512:" + hex64), bad, oci.CodeDigestInvalid},
		{"monolithic upload with a bad digest", post("/v2/seed/model/blobs/uploads/?digest=sha256:zzz"), bad, oci.CodeDigestInvalid},
		{"monolithic upload with md5", post("/v2/seed/model/blobs/uploads/?digest=md5:d41d8cd98f00b204e9800998ecf8427e"), bad, oci.CodeDigestInvalid},
		{"mount of a bad digest", post("/v2/seed/other/blobs/uploads/?mount=sha256:bad&from=seed/model"), bad, oci.CodeDigestInvalid},
		{"upload with an unknown digest algorithm", post("/v2/seed/model/blobs/uploads/?digest-algorithm=md5"), bad, oci.CodeDigestInvalid},
		{"referrers of a bad digest", get("/v2/seed/model/referrers/sha256:bad"), bad, oci.CodeDigestInvalid},
		{"manifest by upper-case digest", get("/v2/seed/model/manifests/" + upperHex), bad, oci.CodeDigestInvalid},
		{"manifest PUT by md5", put("/v2/seed/model/manifests/md5:d41d8cd98f00b204e9800998ecf8427e"), bad, oci.CodeDigestInvalid},
		{"manifest DELETE by short digest", del("/v2/seed/model/manifests/sha256:0123"), bad, oci.CodeDigestInvalid},
		// A digest with slashes is no route at all.
		{"traversal in a blob digest", get("/v2/seed/model/blobs/sha256:../../../../registry.json"), http.StatusNotFound, oci.CodeUnsupported},

		// Upload ids. "../x" decodes to a path with more segments, which is
		// no route (404 UNSUPPORTED); ids that parse are unknown sessions.
		{"upload id ..", get("/v2/seed/model/blobs/uploads/.."), http.StatusNotFound, oci.CodeBlobUploadUnknown},
		{"upload id ../x", get("/v2/seed/model/blobs/uploads/..%2Fx"), http.StatusNotFound, oci.CodeUnsupported},
		{"upload id of 31 hex", req{method: http.MethodPatch, target: "/v2/seed/model/blobs/uploads/" + unknownID[:31], body: []byte("x")}, http.StatusNotFound, oci.CodeBlobUploadUnknown},
		{"upload id of 33 hex", get("/v2/seed/model/blobs/uploads/" + unknownID + "0"), http.StatusNotFound, oci.CodeBlobUploadUnknown},
		{"upper-case upload id", req{method: http.MethodPut, target: "/v2/seed/model/blobs/uploads/" + strings.Repeat("A", 32) + "?digest=" + someBlob.String()}, http.StatusNotFound, oci.CodeBlobUploadUnknown},
		{"unknown upload id (DELETE)", del("/v2/seed/model/blobs/uploads/" + unknownID), http.StatusNotFound, oci.CodeBlobUploadUnknown},
		{"unknown upload id (PATCH)", req{method: http.MethodPatch, target: "/v2/seed/model/blobs/uploads/" + unknownID, body: []byte("x")}, http.StatusNotFound, oci.CodeBlobUploadUnknown},

		// Endpoints and methods.
		{"unknown endpoint", get("/v2/seed/model/nothing/here"), http.StatusNotFound, oci.CodeUnsupported},
		{"outside /v2", get("/etc/passwd"), http.StatusNotFound, oci.CodeUnsupported},
		{"PATCH on a manifest", req{method: http.MethodPatch, target: "/v2/seed/model/manifests/v1", body: f.manifest}, http.StatusMethodNotAllowed, oci.CodeUnsupported},
		{"PUT on a blob", req{method: http.MethodPut, target: "/v2/seed/model/blobs/" + someBlob.String(), body: []byte("some blob")}, http.StatusMethodNotAllowed, oci.CodeUnsupported},
		{"DELETE on the catalog", del("/v2/_catalog"), http.StatusMethodNotAllowed, oci.CodeUnsupported},
		{"bad pagination", get("/v2/_catalog?n=-1"), bad, oci.Code("PAGINATION_NUMBER_INVALID")},
	})

	// The good tag of the refused multi-tag PUT must not exist.
	res := r.send(t, req{method: http.MethodGet, target: "/v2/seed/model/manifests/good"})
	wantError(t, http.MethodGet, res, http.StatusNotFound, oci.CodeManifestUnknown)
}

func TestHostileManifests(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	cfg := descriptor(mtConfig, f.config)
	layer := descriptor(mtLayer, f.layer)
	missing := descriptor(mtLayer, []byte("never pushed"))
	valid := imageManifest(cfg, layer, descriptor(mtLayer, []byte{}))
	validDigest := digest.FromBytes(valid)
	put := func(ref, contentType string, body []byte) req {
		return req{method: http.MethodPut, target: "/v2/seed/model/manifests/" + ref, body: body, hdr: map[string]string{"Content-Type": contentType}}
	}
	oversize := imageManifest(cfg)
	oversize = append(oversize[:len(oversize)-1], []byte(`,"annotations":{"pad":"`+strings.Repeat("x", oci.MaxManifestSize)+`"}}`)...)
	oversizeChunked := put("big", oci.MediaTypeImageManifest, oversize)
	oversizeChunked.chunked = true
	const bad, invalid = http.StatusBadRequest, oci.CodeManifestInvalid

	runRefused(t, r, []hostileCase{
		{"over 4 MiB", put("big", oci.MediaTypeImageManifest, oversize), http.StatusRequestEntityTooLarge, invalid},
		{"over 4 MiB, chunked", oversizeChunked, http.StatusRequestEntityTooLarge, invalid},
		{"duplicate keys", put("dup", oci.MediaTypeImageManifest,
			[]byte(`{"schemaVersion":2,"config":`+cfg+`,"layers":[`+layer+`],"layers":[`+missing+`]}`)), bad, invalid},
		{"duplicate keys nested", put("dup", oci.MediaTypeImageManifest,
			imageManifest(`{"mediaType":"`+mtConfig+`","digest":"`+digest.FromBytes(f.config).String()+`","size":1,"size":`+fmt.Sprint(len(f.config))+`}`)), bad, invalid},
		{"keys differing only in case", put("case", oci.MediaTypeImageManifest,
			[]byte(`{"schemaVersion":2,"config":`+cfg+`,"layers":[`+missing+`],"Layers":[`+layer+`]}`)), bad, invalid},
		{"invalid UTF-8", put("utf8", oci.MediaTypeImageManifest, append(imageManifest(cfg), "\xff"...)), bad, invalid},
		{"trailing data", put("trail", oci.MediaTypeImageManifest, append(slices.Clone(valid), valid...)), bad, invalid},
		{"schemaVersion 1", put("v1schema", oci.MediaTypeImageManifest, bytes.Replace(valid, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":1`), 1)), bad, invalid},
		{"Content-Type contradicts the body", put("ct", oci.MediaTypeImageIndex, valid), bad, invalid},
		{"unsupported media type", put("ct", "application/vnd.docker.distribution.manifest.v1+prettyjws", valid), bad, invalid},
		{"PUT by a digest the body does not hash to", put(someBlob.String(), oci.MediaTypeImageManifest, valid), bad, oci.CodeDigestInvalid},
		{"PUT by sha512 of other bytes", put(digest.SHA512.FromString("x").String(), oci.MediaTypeImageManifest, valid), bad, oci.CodeDigestInvalid},
		{"PUT by a truncated sha512 digest", put(digest.SHA512.FromBytes(valid).String()[:71], oci.MediaTypeImageManifest, valid), bad, oci.CodeDigestInvalid},
		{"missing config blob", put("missing", oci.MediaTypeImageManifest, imageManifest(descriptor(mtConfig, []byte("no config")), layer)), bad, oci.CodeManifestBlobUnknown},
		{"missing layer blob", put("missing", oci.MediaTypeImageManifest, imageManifest(cfg, layer, missing)), bad, oci.CodeManifestBlobUnknown},
		{"blob size lies", put("size", oci.MediaTypeImageManifest, imageManifest(cfg, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mtLayer, digest.FromBytes(f.layer), len(f.layer)+1))), bad, invalid},
		{"index with a missing child", put("idx", oci.MediaTypeImageIndex, imageIndex(descriptor(oci.MediaTypeImageManifest, []byte("no such manifest")))), bad, oci.CodeManifestBlobUnknown},
		{"index child that is a blob, not a manifest", put("idx", oci.MediaTypeImageIndex, imageIndex(descriptor(oci.MediaTypeImageManifest, f.layer))), bad, oci.CodeManifestBlobUnknown},
		{"index child size lies", put("idx", oci.MediaTypeImageIndex, imageIndex(fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, oci.MediaTypeImageManifest, f.manifestDigest, len(f.manifest)-1))), bad, invalid},
		{"blobs only in another repository", req{method: http.MethodPut, target: "/v2/seed/other/manifests/v1", body: f.manifest, hdr: map[string]string{"Content-Type": oci.MediaTypeImageManifest}}, bad, oci.CodeManifestBlobUnknown},
	})

	// Positive controls: the valid manifest is accepted by digest and tag.
	r.pushBlob(t, "seed/model", []byte{})
	res := r.send(t, put(validDigest.String()+"?tag=ok", oci.MediaTypeImageManifest, valid))
	wantStatus(t, "valid manifest by digest", res, http.StatusCreated)
	if got := res.header.Get("Docker-Content-Digest"); got != validDigest.String() {
		t.Errorf("Docker-Content-Digest %q, want %s", got, validDigest)
	}
	sha512 := digest.SHA512.FromBytes(valid)
	wantStatus(t, "valid manifest by sha512", r.send(t, put(sha512.String(), oci.MediaTypeImageManifest, valid)), http.StatusCreated)
}

// stallingReader yields n bytes of filler, then blocks until done is
// closed: a client that streams a manifest without end.
type stallingReader struct {
	n    int
	done <-chan struct{}
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.n == 0 {
		<-s.done
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), s.n)
	for i := range n {
		p[i] = ' '
	}
	s.n -= n
	return n, nil
}

// The registry must stop reading a manifest at the size limit, not buffer
// whatever a client streams.
func TestHostileEndlessManifest(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	r.seed(t)
	before := r.state(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel() // also ends the body
	hr, err := http.NewRequestWithContext(ctx, http.MethodPut, r.srv.URL+"/v2/seed/model/manifests/endless", &stallingReader{n: 2 * oci.MaxManifestSize, done: ctx.Done()})
	if err != nil {
		t.Fatal(err)
	}
	hr.ContentLength = -1
	hr.Header.Set("Authorization", "Bearer "+testToken)
	hr.Header.Set("Content-Type", oci.MediaTypeImageManifest)
	res, err := r.srv.Client().Do(hr)
	if err != nil {
		t.Fatalf("no answer to a manifest body that never ends (the registry kept reading it?): %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantError(t, http.MethodPut, resp{status: res.StatusCode, header: res.Header, body: body}, http.StatusRequestEntityTooLarge, oci.CodeManifestInvalid)
	r.wantUnchanged(t, before)
}

// A refused manifest must not create the repository it was pushed to.
func TestHostileManifestLeavesNoRepository(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	put := func(repo, contentType string, body []byte) req {
		return req{method: http.MethodPut, target: "/v2/" + repo + "/manifests/v1", body: body, hdr: map[string]string{"Content-Type": contentType}}
	}
	runRefused(t, r, []hostileCase{
		{"missing blobs", put("fresh/one", oci.MediaTypeImageManifest, f.manifest), http.StatusBadRequest, oci.CodeManifestBlobUnknown},
		{"missing index child", put("fresh/two", oci.MediaTypeImageIndex, imageIndex(descriptor(oci.MediaTypeImageManifest, f.manifest))), http.StatusBadRequest, oci.CodeManifestBlobUnknown},
		{"invalid manifest", put("fresh/three", oci.MediaTypeImageManifest, []byte(`{"schemaVersion":1}`)), http.StatusBadRequest, oci.CodeManifestInvalid},
	})
}

func TestHostileBlobDeletes(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	del := func(repo string, d digest.Digest) req {
		return req{method: http.MethodDelete, target: "/v2/" + repo + "/blobs/" + d.String()}
	}
	runRefused(t, r, []hostileCase{
		{"config referenced by a manifest", del("seed/model", digest.FromBytes(f.config)), http.StatusForbidden, oci.CodeDenied},
		{"layer referenced by a manifest", del("seed/model", digest.FromBytes(f.layer)), http.StatusForbidden, oci.CodeDenied},
		{"a manifest through the blob API", del("seed/model", f.manifestDigest), http.StatusForbidden, oci.CodeDenied},
		{"blob of an unknown repository", del("seed/nothing", digest.FromBytes(f.layer)), http.StatusNotFound, oci.CodeBlobUnknown},
		{"blob the repository does not have", del("seed/other", digest.FromBytes(f.layer)), http.StatusNotFound, oci.CodeBlobUnknown},
	})
	for _, d := range []digest.Digest{digest.FromBytes(f.config), digest.FromBytes(f.layer), f.manifestDigest} {
		if got := r.blobStatus(t, "seed/model", d); got != http.StatusOK {
			t.Errorf("blob %s: HEAD %d after refused deletes, want 200", d, got)
		}
	}
	// Once the manifest is gone, its blobs may be deleted.
	wantStatus(t, "delete manifest", r.send(t, req{method: http.MethodDelete, target: "/v2/seed/model/manifests/" + f.manifestDigest.String()}), http.StatusAccepted)
	wantStatus(t, "delete config", r.send(t, del("seed/model", digest.FromBytes(f.config))), http.StatusAccepted)
}

func TestHostileDigestMismatch(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	r.seed(t)
	content := []byte("the bytes actually sent")
	claimed := digest.FromString("the bytes the client claims")

	check := func(t *testing.T, repo string, before state, res resp) {
		t.Helper()
		wantError(t, http.MethodPut, res, http.StatusBadRequest, oci.CodeDigestInvalid)
		r.wantUnchanged(t, before)
		if ids := r.uploadSessions(t); len(ids) != 0 {
			t.Errorf("upload sessions left on disk: %v", ids)
		}
		for _, d := range []digest.Digest{claimed, digest.FromBytes(content)} {
			if got := r.blobStatus(t, repo, d); got != http.StatusNotFound {
				t.Errorf("blob %s: HEAD %d after a refused upload, want 404", d, got)
			}
		}
	}
	for _, repo := range []string{"seed/model", "fresh/repo"} {
		t.Run("monolithic POST to "+repo, func(t *testing.T) {
			before := r.state(t)
			res := r.send(t, req{method: http.MethodPost, target: "/v2/" + repo + "/blobs/uploads/?digest=" + claimed.String(), body: content})
			check(t, repo, before, res)
		})
		t.Run("POST, PATCH, PUT to "+repo, func(t *testing.T) {
			before := r.state(t)
			id := r.startUpload(t, repo)
			wantStatus(t, "patch", r.send(t, req{method: http.MethodPatch, target: "/v2/" + repo + "/blobs/uploads/" + id, body: content}), http.StatusAccepted)
			res := r.send(t, req{method: http.MethodPut, target: "/v2/" + repo + "/blobs/uploads/" + id + "?digest=" + claimed.String()})
			check(t, repo, before, res)
			gone := r.send(t, req{method: http.MethodGet, target: "/v2/" + repo + "/blobs/uploads/" + id})
			wantError(t, http.MethodGet, gone, http.StatusNotFound, oci.CodeBlobUploadUnknown)
		})
		t.Run("POST, PUT with body and a sha512 digest to "+repo, func(t *testing.T) {
			before := r.state(t)
			id := r.startUpload(t, repo)
			res := r.send(t, req{method: http.MethodPut, target: "/v2/" + repo + "/blobs/uploads/" + id + "?digest=" + digest.SHA512.FromString("other").String(), body: content})
			check(t, repo, before, res)
			gone := r.send(t, req{method: http.MethodPatch, target: "/v2/" + repo + "/blobs/uploads/" + id, body: content})
			wantError(t, http.MethodPatch, gone, http.StatusNotFound, oci.CodeBlobUploadUnknown)
		})
	}
}

func TestHostileUploadSessions(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	r.seed(t)
	id := r.startUpload(t, "seed/model")
	first := []byte("0123456789")
	wantStatus(t, "first chunk", r.send(t, req{method: http.MethodPatch, target: "/v2/seed/model/blobs/uploads/" + id, body: first,
		hdr: map[string]string{"Content-Range": "0-9", "Content-Type": "application/octet-stream"}}), http.StatusAccepted)
	loc := "/v2/seed/model/blobs/uploads/" + id
	patch := func(contentRange string, body []byte) req {
		return req{method: http.MethodPatch, target: loc, body: body, hdr: map[string]string{"Content-Range": contentRange, "Content-Type": "application/octet-stream"}}
	}
	ten := []byte("abcdefghij")
	const rangeNot = http.StatusRequestedRangeNotSatisfiable

	tests := []struct {
		name      string
		req       req
		status    int
		code      oci.Code
		wantRange bool // 416 must say where to resume
	}{
		{"chunk after a gap", patch("20-29", ten), rangeNot, oci.CodeBlobUploadInvalid, true},
		{"chunk replayed from 0", patch("0-9", ten), rangeNot, oci.CodeBlobUploadInvalid, true},
		{"overlapping chunk", patch("5-14", ten), rangeNot, oci.CodeBlobUploadInvalid, true},
		{"RFC 9110 form after a gap", patch("bytes 30-39/*", ten), rangeNot, oci.CodeBlobUploadInvalid, true},
		{"last chunk after a gap", req{method: http.MethodPut, target: loc + "?digest=" + someBlob.String(), body: ten, hdr: map[string]string{"Content-Range": "20-29"}}, rangeNot, oci.CodeBlobUploadInvalid, true},
		{"Content-Range longer than the body", patch("10-19", ten[:5]), http.StatusBadRequest, oci.CodeBlobUploadInvalid, false},
		{"Content-Range shorter than the body", patch("10-12", ten), http.StatusBadRequest, oci.CodeBlobUploadInvalid, false},
		{"Content-Range whose length overflows", patch("0-9223372036854775807", ten), rangeNot, oci.CodeBlobUploadInvalid, false},
		{"reversed Content-Range", patch("19-10", ten), rangeNot, oci.CodeBlobUploadInvalid, false},
		{"negative Content-Range", patch("-10-19", ten), rangeNot, oci.CodeBlobUploadInvalid, false},
		{"garbage Content-Range", patch("ten to nineteen", ten), rangeNot, oci.CodeBlobUploadInvalid, false},
		{"finish without a digest", req{method: http.MethodPut, target: loc}, http.StatusBadRequest, oci.CodeDigestInvalid, false},
		{"finish with a bad digest", req{method: http.MethodPut, target: loc + "?digest=sha256:0123"}, http.StatusBadRequest, oci.CodeDigestInvalid, false},
		{"finish with an upper-case digest", req{method: http.MethodPut, target: loc + "?digest=" + upperHex, body: ten}, http.StatusBadRequest, oci.CodeDigestInvalid, false},
		{"session through another repository (GET)", req{method: http.MethodGet, target: "/v2/seed/other/blobs/uploads/" + id}, http.StatusNotFound, oci.CodeBlobUploadUnknown, false},
		{"session through another repository (PATCH)", req{method: http.MethodPatch, target: "/v2/seed/other/blobs/uploads/" + id, body: ten}, http.StatusNotFound, oci.CodeBlobUploadUnknown, false},
		{"session through another repository (PUT)", req{method: http.MethodPut, target: "/v2/seed/other/blobs/uploads/" + id + "?digest=" + digest.FromBytes(first).String()}, http.StatusNotFound, oci.CodeBlobUploadUnknown, false},
		{"session through another repository (DELETE)", req{method: http.MethodDelete, target: "/v2/seed/other/blobs/uploads/" + id}, http.StatusNotFound, oci.CodeBlobUploadUnknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.state(t)
			res := r.send(t, tt.req)
			wantError(t, tt.req.method, res, tt.status, tt.code)
			if tt.wantRange {
				if got := res.header.Get("Range"); got != "0-9" {
					t.Errorf("416 Range header %q, want 0-9", got)
				}
				if got := res.header.Get("Location"); got != loc {
					t.Errorf("416 Location header %q, want %s", got, loc)
				}
			}
			r.wantUnchanged(t, before)
			if got := r.uploadRange(t, "seed/model", id); got != "0-9" {
				t.Errorf("session Range is %q after a refused request, want 0-9", got)
			}
		})
	}

	// The session still works and finishes with exactly the right bytes.
	wantStatus(t, "next chunk", r.send(t, patch("10-19", ten)), http.StatusAccepted)
	want := append(slices.Clone(first), ten...)
	wantStatus(t, "finish", r.send(t, req{method: http.MethodPut, target: loc + "?digest=" + digest.FromBytes(want).String()}), http.StatusCreated)
	got := r.send(t, req{method: http.MethodGet, target: "/v2/seed/model/blobs/" + digest.FromBytes(want).String()})
	if got.status != http.StatusOK || !bytes.Equal(got.body, want) {
		t.Errorf("finished blob: %d %q, want %q", got.status, got.body, want)
	}
}

// A chunked PATCH has no Content-Length to hold the Content-Range against,
// so the body itself must match the range. A short body is refused; a body
// longer than its range is acknowledged with 202 after storing only the
// range's bytes; and 0-9223372036854775807 (2^63 bytes, whose length
// overflows int64 to a negative number) is acknowledged with 202 and stores
// nothing. Both must be refused: the client was told its bytes are stored.
func TestHostileChunkedBodyDisagreesWithContentRange(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	tests := []struct {
		name         string
		contentRange string
		body         string
		status       int
	}{
		{"body shorter than its range", "0-9", "abcde", http.StatusBadRequest},
		{"body longer than its range", "0-2", "abcdefghij", http.StatusBadRequest},
		{"range length overflows int64", "0-9223372036854775807", "abcdefghij", http.StatusRequestedRangeNotSatisfiable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := r.startUpload(t, "seed/model")
			loc := "/v2/seed/model/blobs/uploads/" + id
			// An empty chunk opens the session's data file.
			wantStatus(t, "empty chunk", r.send(t, req{method: http.MethodPatch, target: loc}), http.StatusAccepted)
			before := r.state(t)
			res := r.send(t, req{method: http.MethodPatch, target: loc, body: []byte(tt.body), chunked: true,
				hdr: map[string]string{"Content-Range": tt.contentRange}})
			wantError(t, http.MethodPatch, res, tt.status, oci.CodeBlobUploadInvalid)
			r.wantUnchanged(t, before)
		})
	}
}

func TestHostileTruncatedBodies(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	full := bytes.Repeat([]byte("0123456789"), 100)
	octet := map[string]string{"Content-Type": "application/octet-stream"}

	t.Run("monolithic upload", func(t *testing.T) {
		for _, repo := range []string{"seed/model", "fresh/repo"} {
			before := r.state(t)
			res := r.sendTruncated(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(full).String(), octet, len(full), full[:100])
			wantError(t, http.MethodPost, res, http.StatusBadRequest, oci.CodeBlobUploadInvalid)
			r.wantUnchanged(t, before)
			if ids := r.uploadSessions(t); len(ids) != 0 {
				t.Errorf("upload sessions left on disk: %v", ids)
			}
			if got := r.blobStatus(t, repo, digest.FromBytes(full)); got != http.StatusNotFound {
				t.Errorf("truncated blob: HEAD %d, want 404", got)
			}
		}
	})

	t.Run("manifest", func(t *testing.T) {
		before := r.state(t)
		res := r.sendTruncated(t, http.MethodPut, "/v2/seed/model/manifests/cut", map[string]string{"Content-Type": oci.MediaTypeImageManifest}, len(f.manifest), f.manifest[:len(f.manifest)/2])
		wantError(t, http.MethodPut, res, http.StatusBadRequest, oci.CodeManifestInvalid)
		r.wantUnchanged(t, before)
	})

	chunks := []struct {
		name string
		send func(t *testing.T, loc string) resp
	}{
		{"PATCH without Content-Range", func(t *testing.T, loc string) resp {
			return r.sendTruncated(t, http.MethodPatch, loc, octet, 900, full[100:400])
		}},
		{"PATCH with Content-Range", func(t *testing.T, loc string) resp {
			return r.sendTruncated(t, http.MethodPatch, loc, map[string]string{"Content-Range": "100-999", "Content-Type": "application/octet-stream"}, 900, full[100:400])
		}},
		{"last chunk on PUT", func(t *testing.T, loc string) resp {
			return r.sendTruncated(t, http.MethodPut, loc+"?digest="+digest.FromBytes(full).String(), octet, 900, full[100:400])
		}},
	}
	for _, c := range chunks {
		t.Run(c.name, func(t *testing.T) {
			id := r.startUpload(t, "seed/model")
			loc := "/v2/seed/model/blobs/uploads/" + id
			wantStatus(t, "first chunk", r.send(t, req{method: http.MethodPatch, target: loc, body: full[:100], hdr: octet}), http.StatusAccepted)
			before := r.state(t)
			res := c.send(t, loc)
			wantError(t, http.MethodPatch, res, http.StatusBadRequest, oci.CodeBlobUploadInvalid)
			if got := r.uploadRange(t, "seed/model", id); got != "0-99" {
				t.Errorf("session Range %q after a truncated chunk, want 0-99 (the chunk rolled back)", got)
			}
			r.wantUnchanged(t, before)
			// Resuming with the whole chunk gives exactly the right blob.
			wantStatus(t, "resend", r.send(t, req{method: http.MethodPatch, target: loc, body: full[100:], hdr: map[string]string{"Content-Range": "100-999"}}), http.StatusAccepted)
			wantStatus(t, "finish", r.send(t, req{method: http.MethodPut, target: loc + "?digest=" + digest.FromBytes(full).String()}), http.StatusCreated)
			got := r.send(t, req{method: http.MethodGet, target: "/v2/seed/model/blobs/" + digest.FromBytes(full).String()})
			if !bytes.Equal(got.body, full) {
				t.Errorf("resumed blob is %d bytes, not the %d sent", len(got.body), len(full))
			}
			wantStatus(t, "cleanup", r.send(t, req{method: http.MethodDelete, target: "/v2/seed/model/blobs/" + digest.FromBytes(full).String()}), http.StatusAccepted)
		})
	}
}

// rawHead sends a HEAD request on its own connection and returns the status
// line and every byte the server sent after the response headers.
func (r *testRegistry) rawHead(t *testing.T, target string) (statusLine string, rest []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", r.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, r.srv.Listener.Addr())
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("HEAD %s: %v", target, err)
	}
	head, rest, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("HEAD %s: no end of headers in %q", target, raw)
	}
	statusLine, _, _ = strings.Cut(string(head), "\r\n")
	return statusLine, rest
}

// HEAD error responses carry no body on the wire (http.Client would hide
// one, so this reads the raw connection).
func TestHeadErrorsHaveNoBody(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	tests := []struct {
		target string
		status string
	}{
		{"/v2/seed/model/blobs/sha256:abc", "400"},
		{"/v2/seed/model/blobs/" + someBlob.String(), "404"},
		{"/v2/seed/model/manifests/nope", "404"},
		{"/v2/seed/nothing/manifests/" + f.manifestDigest.String(), "404"},
		{"/v2/Seed/manifests/v1", "400"},
		{"/v2/seed/model/manifests/" + longTag, "400"},
		{"/v2/", "401"},
		{"/v2/_catalog", "405"},
		{"/v2/seed/model/nothing", "404"},
	}
	for _, tt := range tests {
		status, rest := r.rawHead(t, tt.target)
		if !strings.HasPrefix(status, "HTTP/1.1 "+tt.status+" ") {
			t.Errorf("HEAD %s: %q, want %s", tt.target, status, tt.status)
		}
		if len(rest) != 0 {
			t.Errorf("HEAD %s: %d body bytes on the wire: %q", tt.target, len(rest), rest)
		}
	}
}

func TestAuthWithToken(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authToken)
	f := r.seed(t)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	startUpload := "/v2/seed/model/blobs/uploads/"
	refused := []struct {
		name, method, target, authorization string
	}{
		{"no credentials", http.MethodPost, startUpload, ""},
		{"no credentials, PUT manifest", http.MethodPut, "/v2/seed/model/manifests/v2", ""},
		{"no credentials, DELETE manifest", http.MethodDelete, "/v2/seed/model/manifests/v1", ""},
		{"no credentials, DELETE blob", http.MethodDelete, "/v2/seed/model/blobs/" + someBlob.String(), ""},
		{"empty Basic credentials", http.MethodPost, startUpload, basic("", "")},
		{"token as the user name", http.MethodPost, startUpload, basic(testToken, "")},
		{"wrong Basic password", http.MethodPost, startUpload, basic("registry", "wrong-token-wrong-token-wrong-token")},
		{"wrong Bearer token", http.MethodPost, startUpload, "Bearer wrong-token-wrong-token-wrong-token"},
		{"token prefix", http.MethodPost, startUpload, "Bearer " + testToken[:len(testToken)-1]},
		{"token with a suffix", http.MethodPost, startUpload, "Bearer " + testToken + "x"},
		{"malformed Basic", http.MethodPost, startUpload, "Basic !!!not-base64!!!"},
		{"unknown scheme", http.MethodPost, startUpload, "Token " + testToken},
		{"wrong token on a read", http.MethodGet, "/v2/seed/model/manifests/v1", "Bearer wrong-token-wrong-token-wrong-token"},
		{"anonymous ping", http.MethodGet, "/v2/", ""},
		{"anonymous ping without slash", http.MethodGet, "/v2", ""},
		{"anonymous HEAD ping", http.MethodHead, "/v2/", ""},
		{"wrong token on ping", http.MethodGet, "/v2/", basic("u", "nope")},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := r.state(t)
			res := r.send(t, req{method: tt.method, target: tt.target, body: []byte("x"), hdr: map[string]string{"Authorization": tt.authorization, "Content-Type": oci.MediaTypeImageManifest}})
			wantError(t, tt.method, res, http.StatusUnauthorized, oci.CodeUnauthorized)
			if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="ai-model-registry"`) {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge for realm ai-model-registry", got)
			}
			r.wantUnchanged(t, before)
		})
	}

	accepted := map[string]string{
		"Basic, any user":       basic("anyone", testToken),
		"Basic, empty user":     basic("", testToken),
		"Basic, user registry":  basic("registry", testToken),
		"Bearer":                "Bearer " + testToken,
		"lower-case scheme":     "bearer " + testToken,
		"extra space in header": "Bearer  " + testToken,
	}
	for name, authorization := range accepted {
		t.Run("accepted/"+name, func(t *testing.T) {
			res := r.send(t, req{method: http.MethodPost, target: startUpload, hdr: map[string]string{"Authorization": authorization}})
			wantStatus(t, name, res, http.StatusAccepted)
			wantStatus(t, "cancel", r.send(t, req{method: http.MethodDelete, target: res.header.Get("Location"), hdr: map[string]string{"Authorization": authorization}}), http.StatusNoContent)
		})
	}
	wantStatus(t, "ping with the token", r.send(t, req{method: http.MethodGet, target: "/v2/"}), http.StatusOK)

	// Anonymous reads of content work.
	reads := []struct {
		target string
		body   []byte
	}{
		{"/v2/seed/model/manifests/v1", f.manifest},
		{"/v2/seed/model/manifests/" + f.manifestDigest.String(), f.manifest},
		{"/v2/seed/model/blobs/" + digest.FromBytes(f.layer).String(), f.layer},
		{"/v2/seed/model/blobs/" + digest.FromBytes(f.config).String(), f.config},
	}
	for _, rd := range reads {
		res := r.send(t, req{method: http.MethodGet, target: rd.target, hdr: anon})
		if res.status != http.StatusOK || !bytes.Equal(res.body, rd.body) {
			t.Errorf("anonymous GET %s: %d, %d bytes; want 200 with %d bytes", rd.target, res.status, len(res.body), len(rd.body))
		}
		if head := r.send(t, req{method: http.MethodHead, target: rd.target, hdr: anon}); head.status != http.StatusOK {
			t.Errorf("anonymous HEAD %s: %d", rd.target, head.status)
		}
	}
	for _, target := range []string{"/v2/_catalog", "/v2/seed/model/tags/list", "/v2/seed/model/referrers/" + f.manifestDigest.String(), "/health"} {
		if res := r.send(t, req{method: http.MethodGet, target: target, hdr: anon}); res.status != http.StatusOK {
			t.Errorf("anonymous GET %s: %d %s", target, res.status, res.body)
		}
	}
}

func TestAuthWithoutUsableToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	configs := map[string]TokenConfig{
		"no path":             {},
		"missing file":        {Path: filepath.Join(dir, "absent")},
		"short token":         {Path: write("short", "tooshort\n", 0o600)},
		"group-writable file": {Path: write("shared", testToken, 0o660)},
		"directory":           {Path: dir},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			r := newTestRegistryWithAuth(t, cfg)
			before := r.state(t)
			for _, authorization := range []string{"", "Bearer " + testToken, "Bearer tooshort"} {
				res := r.send(t, req{method: http.MethodPost, target: "/v2/seed/model/blobs/uploads/?digest=" + digest.FromString("x").String(), body: []byte("x"), hdr: map[string]string{"Authorization": authorization}})
				wantError(t, http.MethodPost, res, http.StatusForbidden, oci.CodeDenied)
				if msg := errorMessage(t, res); !strings.Contains(msg, "SERVICE_TOKEN_PATH") {
					t.Errorf("refusal %q does not tell the operator about SERVICE_TOKEN_PATH", msg)
				}
			}
			r.wantUnchanged(t, before)
			wantStatus(t, "anonymous ping", r.send(t, req{method: http.MethodGet, target: "/v2/", hdr: anon}), http.StatusOK)
		})
	}
}

func TestAuthDevMode(t *testing.T) {
	t.Parallel()
	r := newTestRegistry(t, authDevMode)
	content := []byte("dev blob")
	d := digest.FromBytes(content)
	wantStatus(t, "anonymous push", r.send(t, req{method: http.MethodPost, target: "/v2/dev/repo/blobs/uploads/?digest=" + d.String(), body: content, hdr: anon}), http.StatusCreated)
	m := imageManifest(descriptor(mtConfig, content))
	wantStatus(t, "anonymous manifest", r.send(t, req{method: http.MethodPut, target: "/v2/dev/repo/manifests/v1", body: m, hdr: map[string]string{"Authorization": "", "Content-Type": oci.MediaTypeImageManifest}}), http.StatusCreated)
	wantStatus(t, "anonymous ping", r.send(t, req{method: http.MethodGet, target: "/v2/", hdr: anon}), http.StatusOK)
	wantStatus(t, "anonymous delete", r.send(t, req{method: http.MethodDelete, target: "/v2/dev/repo/manifests/v1", hdr: anon}), http.StatusAccepted)
	// Hostile input is refused the same way without auth.
	wantError(t, http.MethodPut, r.send(t, req{method: http.MethodPut, target: "/v2/dev/../x/manifests/v1", body: m, hdr: anon}), http.StatusBadRequest, oci.CodeNameInvalid)
}

// --- fuzz targets ---

// FuzzParseRoute: never panics, and a manifest, blob, tags or upload path
// built from a valid name routes to that name. Seeds are in
// testdata/fuzz/FuzzParseRoute.
func FuzzParseRoute(f *testing.F) {
	f.Add("a", "latest")
	f.Add("a/blobs", "uploads")
	f.Fuzz(func(t *testing.T, name, ref string) {
		parseRoute(name) // arbitrary paths must not panic
		parseRoute("/v2/" + name)
		parseRoute("/v2/" + name + "/" + ref)
		if oci.ValidateName(name) != nil || strings.Contains(ref, "/") {
			return
		}
		want := func(path, kind, arg string) {
			t.Helper()
			rt, ok := parseRoute(path)
			if !ok || rt.kind != kind || rt.name != name || rt.arg != arg {
				t.Fatalf("parseRoute(%q) = %+v, %v; want kind %s, name %q, arg %q", path, rt, ok, kind, name, arg)
			}
		}
		want("/v2/"+name+"/manifests/"+ref, "manifest", ref)
		want("/v2/"+name+"/tags/list", "tags", "")
		want("/v2/"+name+"/blobs/uploads/", "uploads", "")
		if strings.Contains(ref, ":") { // digest-shaped: never "uploads"
			want("/v2/"+name+"/blobs/"+ref, "blob", ref)
			want("/v2/"+name+"/referrers/"+ref, "referrers", ref)
		}
		if ref != "" {
			want("/v2/"+name+"/blobs/uploads/"+ref, "upload", ref)
		}
	})
}

// FuzzParseContentRange: never panics; an accepted range has
// 0 <= start <= end; a refused one is 416 BLOB_UPLOAD_INVALID. Seeds are in
// testdata/fuzz/FuzzParseContentRange.
func FuzzParseContentRange(f *testing.F) {
	f.Add("0-9")
	f.Add("bytes 0-9/10")
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := parseContentRange(s)
		if err != nil {
			var oe *oci.Error
			if !errors.As(err, &oe) || oe.Code != oci.CodeBlobUploadInvalid || oe.Status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("parseContentRange(%q) refusal is %#v", s, err)
			}
			return
		}
		if start < 0 || end < start {
			t.Fatalf("parseContentRange(%q) accepted start %d, end %d", s, start, end)
		}
	})
}
