package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/goccy/go-yaml"
	"github.com/opencontainers/go-digest"
)

// openAPIPath is the /v1 API description this file holds the server to.
const openAPIPath = "../api/openapi.yaml"

// openAPIRoutes is every route the document must describe, and nothing else.
var openAPIRoutes = []string{
	"GET /health",
	"GET /v1/models",
	"GET /v1/model",
	"GET /v1/model/path",
	"GET /v1/model/history",
	"POST /v1/model/verify",
	"POST /v1/models/verify-all",
	"POST /v1/integrity/run",
	"GET /v1/jobs/{id}",
	"GET /v1/integrity/status",
	"POST /v1/model/verify-manifest",
	"GET /v1/lock",
	"POST /v1/model/acquire",
	"POST /v1/model/quarantine",
	"POST /v1/model/promote",
	"POST /v1/model/revoke",
	"DELETE /v1/model/delete",
	"POST /v1/model/policy-check",
	"GET /v1/policy",
	"GET /v1/keys",
	"POST /v1/keys/rotate",
	"GET /v1/audit",
}

// openAPIOpenRoutes need no token (registry/v1.go hands them to the
// middleware as open); the verification routes answer anonymous callers
// for trusted artifacts only.
var openAPIOpenRoutes = []string{"GET /health", "GET /v1/model/path", "POST /v1/model/verify", "POST /v1/models/verify-all", "GET /v1/keys"}

// openAPIUnexercised are documented statuses the conformance test cannot
// provoke against the real binary: internal errors, storage without local
// paths or import directory, a failed count, a delete racing another
// transition, and verification capacity running out (twice the CPUs'
// worth of verifications at once, a race). Every other documented status
// must be seen.
var openAPIUnexercised = map[string][]int{
	"*":              {http.StatusInternalServerError},
	"health":         {http.StatusServiceUnavailable},
	"modelPath":      {http.StatusServiceUnavailable},
	"acquireModel":   {http.StatusServiceUnavailable},
	"promoteModel":   {http.StatusServiceUnavailable},
	"deleteModel":    {http.StatusConflict},
	"verifyModel":    {http.StatusServiceUnavailable},
	"verifyManifest": {http.StatusServiceUnavailable},
	// The binary always has a signing key and an audit log.
	"publicKeys": {http.StatusNotFound},
	"rotateKey":  {http.StatusNotFound},
	"auditLog":   {http.StatusNotFound},
}

// openAPINonJSON are the responses whose body is not JSON (route and
// status → media type): the lock export is a file.
var openAPINonJSON = map[string]string{"GET /v1/lock 200": "application/yaml", "GET /v1/policy 200": "application/yaml", "GET /v1/keys 200": "application/x-pem-file"}

// openAPIVerification reports the routes whose 409 is a check's result,
// not an Error.
func openAPIVerification(path string) bool {
	return strings.Contains(path, "verify") || path == "/v1/integrity/run"
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIPath)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", openAPIPath, err)
	}
	return doc
}

// TestOpenAPIDocument checks that api/openapi.yaml is a valid OpenAPI 3.0
// document describing exactly the /v1 routes, with the error shape and
// the strictness the conformance test relies on.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi: %q, want 3.0.x (what common validators handle)", doc.OpenAPI)
	}
	var got []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := method + " " + path
			got = append(got, route)
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", route)
			}
			open := op.Security != nil && (len(*op.Security) == 0 || slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 }))
			if want := slices.Contains(openAPIOpenRoutes, route); open != want {
				t.Errorf("%s: open without a token = %v, want %v", route, open, want)
			}
			for code, ref := range op.Responses.Map() {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: response %q: only explicit status codes, no default or ranges", route, code)
					continue
				}
				ct := "application/json"
				if v, ok := openAPINonJSON[fmt.Sprintf("%s %d", route, n)]; ok {
					ct = v
				}
				mt := ref.Value.Content.Get(ct)
				if len(ref.Value.Content) != 1 || mt == nil || mt.Schema == nil {
					t.Errorf("%s %d: want exactly one media type, %s, with a schema", route, n, ct)
					continue
				}
				if ct != "application/json" && !mt.Schema.Value.Type.Is("string") {
					t.Errorf("%s %d: the %s body is a file: its schema must be a string", route, n, ct)
				}
				special := (n == 409 && openAPIVerification(path)) || (n == 503 && path == "/health") || (n == 422 && path == "/v1/model/promote")
				if n >= 400 && !special && mt.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s %d: schema %q, want the Error shape", route, n, mt.Schema.Ref)
				}
			}
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(openAPIRoutes))
	if !slices.Equal(got, want) {
		t.Errorf("routes in the document:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(doc.Security) == 0 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("global security %v, want bearerAuth", doc.Security)
	}
	// Our own objects refuse unknown properties, so a field the document
	// does not know fails the conformance test. Fingerprint and
	// IntegrityFile may be other programs' JSON, passed through.
	passThrough := map[*openapi3.Schema]bool{}
	for _, name := range []string{"Fingerprint", "IntegrityFile"} {
		if s := doc.Components.Schemas[name]; s != nil {
			passThrough[s.Value] = true
		}
	}
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		seen[s.Value] = true
		v := s.Value
		if v.Type.Is("object") && len(v.Properties) > 0 && !passThrough[v] {
			if has := v.AdditionalProperties.Has; has == nil || *has {
				t.Errorf("schema %s: additionalProperties must be false", where)
			}
		}
		for name, p := range v.Properties {
			walk(where+"."+name, p)
		}
		walk(where+"[]", v.Items)
		for _, l := range [][]*openapi3.SchemaRef{v.AllOf, v.AnyOf, v.OneOf} {
			for i, p := range l {
				walk(fmt.Sprintf("%s/%d", where, i), p)
			}
		}
	}
	for name, s := range doc.Components.Schemas {
		walk(name, s)
	}
	for _, key := range []string{"Health", "Artifact", "PathInfo", "HistoryReport", "VerifyAllResult", "Error",
		"IntegrityReport", "Job", "TensorFingerprint", "ManifestFailed"} {
		if doc.Components.Schemas[key] == nil {
			t.Errorf("components.schemas.%s is missing", key)
		}
	}
}

// oaChecker sends requests to the real registry and validates each request
// and response against the document, counting which operation answered
// which status.
type oaChecker struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	seen   map[string]map[int]int // operationId → status → count
}

func newOAChecker(t *testing.T) *oaChecker {
	doc := loadOpenAPI(t)
	doc.Servers = nil // match any host: the test's registries listen on random ports
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	// The lock export is a file with a string schema: take it as text once
	// it parses as YAML (kin-openapi's own decoder would make it a map).
	prev := openapi3filter.RegisteredBodyDecoder("application/yaml")
	openapi3filter.RegisterBodyDecoder("application/yaml", oaYAMLText)
	t.Cleanup(func() {
		if prev != nil {
			openapi3filter.RegisterBodyDecoder("application/yaml", prev)
		} else {
			openapi3filter.UnregisterBodyDecoder("application/yaml")
		}
	})
	// The public keys are PEM text: take them as text once they parse.
	openapi3filter.RegisterBodyDecoder("application/x-pem-file", oaPEMText)
	t.Cleanup(func() { openapi3filter.UnregisterBodyDecoder("application/x-pem-file") })
	return &oaChecker{t: t, doc: doc, router: router, seen: map[string]map[int]int{}}
}

// oaYAMLText decodes a YAML body as its text, refusing one that does not
// parse.
func oaYAMLText(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	return string(b), nil
}

func oaPEMText(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: errors.New("not a PEM public key")}
	}
	return string(b), nil
}

// oaCall is one request. badRequest says the request deliberately breaks
// the document (missing credentials, parameters or fields, out-of-range
// values): the validator must refuse it, as the server does.
type oaCall struct {
	Method      string
	Path        string // with the query
	Body        []byte
	ContentType string
	Auth        string // "" none, "token", "basic", "wrong", "wrong-basic"
	Want        int
	BadRequest  bool
}

type oaResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r oaResult) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func oaRequest(t *testing.T, reg *registry, c oaCall) *http.Request {
	t.Helper()
	req, err := http.NewRequest(c.Method, reg.URL(c.Path), bytes.NewReader(c.Body))
	if err != nil {
		t.Fatal(err)
	}
	if c.Body == nil {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	if c.ContentType != "" {
		req.Header.Set("Content-Type", c.ContentType)
	}
	switch c.Auth {
	case "token":
		req.Header.Set("Authorization", "Bearer "+reg.Token)
	case "basic":
		req.SetBasicAuth("any-user", reg.Token)
	case "wrong":
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("0", 64))
	case "wrong-basic":
		req.SetBasicAuth("any-user", strings.Repeat("0", 64))
	case "":
	default:
		t.Fatalf("unknown auth %q", c.Auth)
	}
	return req
}

func (c *oaChecker) authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	if in.SecurityScheme.Type == "http" && strings.EqualFold(scheme, in.SecurityScheme.Scheme) && cred != "" {
		return nil
	}
	return in.NewError(nil)
}

// do sends c to reg, checks the status and validates request and response.
func (c *oaChecker) do(reg *registry, call oaCall) oaResult {
	t := c.t
	t.Helper()
	label := fmt.Sprintf("%s %s (auth %q)", call.Method, call.Path, call.Auth)

	vreq := oaRequest(t, reg, call)
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s: not in the document: %v", label, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: c.authenticate, MultiError: true},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case call.BadRequest && reqErr == nil:
		t.Errorf("%s: the document accepts this request, but it is meant to break it (the server refuses it)", label)
	case !call.BadRequest && reqErr != nil:
		t.Errorf("%s: the request does not conform to the document: %v", label, reqErr)
	}

	resp, err := (&http.Client{Timeout: httpTimeout}).Do(oaRequest(t, reg, call))
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: reading body: %v", label, err)
	}
	res := oaResult{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if res.Status != call.Want {
		t.Errorf("%s: status %d, want %d: %s", label, res.Status, call.Want, body)
	}
	op := route.Operation.OperationID
	if c.seen[op] == nil {
		c.seen[op] = map[int]int{}
	}
	c.seen[op][res.Status]++
	if err := c.validateResponse(in, res); err != nil {
		t.Errorf("%s: response %d does not conform to the document: %v\nbody: %s", label, res.Status, err, body)
	}
	return res
}

func (c *oaChecker) validateResponse(in *openapi3filter.RequestValidationInput, res oaResult) error {
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.Status,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// mustReject checks that the validator refuses a doctored response: the
// conformance test would catch the server sending it.
func (c *oaChecker) mustReject(reg *registry, call oaCall, what string, status int, body []byte) {
	c.t.Helper()
	vreq := oaRequest(c.t, reg, call)
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		c.t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route}
	hdr := http.Header{"Content-Type": {"application/json"}}
	if err := c.validateResponse(in, oaResult{Status: status, Header: hdr, Body: body}); err == nil {
		c.t.Errorf("the document accepts a response of %s %s with %s; it must not", call.Method, call.Path, what)
	}
}

// coverage fails the test for any operation never called and any
// documented status never seen (except openAPIUnexercised).
func (c *oaChecker) coverage() {
	t := c.t
	t.Helper()
	var missing []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				n, _ := strconv.Atoi(code)
				if slices.Contains(openAPIUnexercised["*"], n) || slices.Contains(openAPIUnexercised[op.OperationID], n) {
					continue
				}
				if c.seen[op.OperationID][n] == 0 {
					missing = append(missing, fmt.Sprintf("%s %s → %d", method, path, n))
				}
			}
			var got []string
			for s, n := range c.seen[op.OperationID] {
				got = append(got, fmt.Sprintf("%d×%d", s, n))
			}
			sort.Strings(got)
			t.Logf("%-7s %-28s %s", method, path, strings.Join(got, " "))
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("documented but never exercised: %s", m)
	}
}

func oaQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func oaJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func oaSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// oaGGUF is the smallest valid GGUF file: magic, version 3, no tensors, no
// metadata.
func oaGGUF() []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, 0)
	return binary.LittleEndian.AppendUint64(b, 0)
}

// oaSafetensors is a valid safetensors file with one 2×2 int32 tensor whose
// bytes are all fill.
func oaSafetensors(fill byte) []byte {
	header := []byte(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`)
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, bytes.Repeat([]byte{fill}, 16)...)
}

// oaTensorGGUF is a GGUF v3 file with two metadata entries (the
// architecture and a chat template) and one F32 tensor of four values:
// enough for a per-tensor manifest with something in it.
func oaTensorGGUF(template string) []byte {
	le := binary.LittleEndian
	str := func(b []byte, s string) []byte { return append(le.AppendUint64(b, uint64(len(s))), s...) }
	b := le.AppendUint32([]byte("GGUF"), 3)
	b = le.AppendUint64(b, 1) // tensors
	b = le.AppendUint64(b, 2) // metadata entries
	b = le.AppendUint32(str(b, "general.architecture"), 8)
	b = str(b, "llama")
	b = le.AppendUint32(str(b, "tokenizer.chat_template"), 8)
	b = str(b, template)
	b = le.AppendUint32(str(b, "token_embd.weight"), 1) // one dimension
	b = le.AppendUint64(b, 4)
	b = le.AppendUint32(b, 0) // F32
	b = le.AppendUint64(b, 0) // offset in the data section
	pad := func(b []byte) []byte {
		for len(b)%32 != 0 {
			b = append(b, 0)
		}
		return b
	}
	b = pad(b)
	for _, v := range []float32{1, 2, 3, 4} {
		b = le.AppendUint32(b, math.Float32bits(v))
	}
	return pad(b)
}

// oaSparseGGUF writes a GGUF header followed by a hole to size bytes at
// path (no disk space, but every byte is hashed), and returns the file's
// SHA-256.
func oaSparseGGUF(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(oaGGUF()); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// oaJob is the part of a job the conformance test looks at.
type oaJob struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Error    string `json:"error"`
	Progress struct {
		BlobsTotal int64 `json:"blobs_total"`
	} `json:"progress"`
	Result *oaReport `json:"result"`
}

// oaReport is the part of an integrity report the conformance test looks at.
type oaReport struct {
	Status        string `json:"status"`
	Stale         *bool  `json:"stale"`
	Writer        string `json:"writer"`
	ModelsChecked int    `json:"models_checked"`
	Failures      int    `json:"failures"`
	Results       []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		State  string `json:"state"`
	} `json:"results"`
}

// oaManifestCheck is the part of a verify-manifest answer the conformance
// test looks at.
type oaManifestCheck struct {
	Status  string                        `json:"status"`
	Files   []struct{ Status string }     `json:"files"`
	Changes []struct{ Kind, Name string } `json:"changes"`
}

// TestOpenAPIConformance drives every /v1 route of the real binary through
// the statuses it documents, and validates every request and response
// against api/openapi.yaml: an undocumented field, status or header value,
// a missing required field or a wrong type fails it.
func TestOpenAPIConformance(t *testing.T) {
	skipUnlessOurServer(t, "the /v1 API is ours")
	c := newOAChecker(t)
	integrity := filepath.Join(t.TempDir(), "integrity-last.json")
	r := startRegistry(t, "INTEGRITY_RESULT_PATH="+integrity)
	importDir := filepath.Join(r.Dir, "import")

	const (
		gName   = "Tiny GGUF 3.8B (Q4_K_M)"
		sName   = "tiny safetensors"
		iName   = "implicitly acquired"
		multi   = "e2e/multi:v1"
		unknown = "no such model"
	)
	gguf, st := oaGGUF(), oaSafetensors(0)
	writeFile(t, importDir, "tiny.gguf", gguf)

	get := func(path string, want int, kv ...string) oaResult {
		t.Helper()
		return c.do(r, oaCall{Method: "GET", Path: oaQuery(path, kv...), Auth: "token", Want: want})
	}
	post := func(path string, want int, kv ...string) oaResult {
		t.Helper()
		return c.do(r, oaCall{Method: "POST", Path: oaQuery(path, kv...), Auth: "token", Want: want})
	}
	postJSON := func(path string, body any, want int, bad bool) oaResult {
		t.Helper()
		b, ok := body.([]byte)
		if !ok {
			b = oaJSON(t, body)
		}
		return c.do(r, oaCall{Method: "POST", Path: path, Body: b, ContentType: "application/json", Auth: "token", Want: want, BadRequest: bad})
	}
	upload := func(data []byte, want int, kv ...string) oaResult {
		t.Helper()
		return c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/acquire", kv...), Body: data, ContentType: "application/octet-stream", Auth: "token", Want: want})
	}
	state := func(name string) string {
		t.Helper()
		var a struct{ State string }
		get("/v1/model", 200, "name", name).JSON(t, &a)
		return a.State
	}
	// integrityStatus reads the integrity status. The document lets any
	// JSON object through (another checker's file may be served), so the
	// registry's own shapes are held to their schemas here.
	integrityStatus := func() oaReport {
		t.Helper()
		res := get("/v1/integrity/status", 200)
		var rep oaReport
		var v map[string]any
		res.JSON(t, &rep)
		res.JSON(t, &v)
		schema := ""
		switch {
		case rep.Status == "unknown":
			schema = "IntegrityUnknown"
		case rep.Writer == "ai-model-registry":
			schema = "IntegrityReport"
			delete(v, "stale")
		}
		if schema != "" {
			if err := c.doc.Components.Schemas[schema].Value.VisitJSON(v); err != nil {
				t.Errorf("integrity status is not an %s (plus stale): %v\n%s", schema, err, res.Body)
			}
		}
		return rep
	}
	manifestCheck := func(name string, want int) oaManifestCheck {
		t.Helper()
		var mc oaManifestCheck
		post("/v1/model/verify-manifest", want, "name", name).JSON(t, &mc)
		return mc
	}
	// manifestOf waits for the background worker to store the per-tensor
	// manifest of an artifact, and returns its fingerprint.
	manifestOf := func(name string) any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var a struct {
				Fingerprint any    `json:"gguf_guard_fingerprint"`
				Manifest    string `json:"gguf_guard_manifest"`
			}
			get("/v1/model", 200, "name", name).JSON(t, &a)
			if a.Manifest != "" {
				return a.Fingerprint
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no per-tensor manifest after 30s", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// waitJob polls a job until done says so.
	waitJob := func(reg *registry, id string, done func(oaJob) bool) oaJob {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var j oaJob
			c.do(reg, oaCall{Method: "GET", Path: "/v1/jobs/" + id, Auth: "token", Want: 200}).JSON(t, &j)
			if done(j) {
				return j
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s: still %+v after a minute", id, j)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Health, and an empty registry.
	c.do(r, oaCall{Method: "GET", Path: "/health", Want: 200})
	get("/v1/models", 200)
	if rep := integrityStatus(); rep.Status != "unknown" || rep.Stale == nil || *rep.Stale {
		t.Errorf("integrity status before any check: %+v", rep)
	}
	if body := get("/v1/lock", 200).Body; !bytes.Contains(body, []byte("\nmodels: []\n")) {
		t.Errorf("lock of an empty registry:\n%s", body)
	}

	// Acquire: from the import directory (JSON) and streamed (octet-stream).
	res := postJSON("/v1/model/acquire", map[string]any{
		"name": gName, "filename": "tiny.gguf", "sha256": oaSHA(gguf), "size_bytes": len(gguf),
		"source": "https://example.invalid/tiny", "source_revision": "0123abcd", "reason": "conformance test",
	}, 201, false)
	var a struct {
		State        string `json:"state"`
		Format       string `json:"format"`
		OCIReference string `json:"oci_reference"`
	}
	res.JSON(t, &a)
	if a.State != "acquired" || a.Format != "gguf" || a.OCIReference != "models/tiny-gguf-3-8b-q4-k-m:latest" {
		t.Errorf("acquired artifact: %+v", a)
	}
	upload(st, 201, "name", sName, "filename", "tiny.safetensors", "sha256", oaSHA(st), "size_bytes", strconv.Itoa(len(st)),
		"source", "https://example.invalid/st", "source_revision", "feedface", "reason", "streamed")
	upload(st, 409, "name", sName, "filename", "again.safetensors", "sha256", oaSHA(st))                                       // name taken
	upload(st, 409, "name", "wrong digest", "filename", "w.safetensors", "sha256", oaSHA(gguf))                                // hash mismatch
	upload(st, 409, "name", "wrong size", "filename", "s.safetensors", "sha256", oaSHA(st), "size_bytes", "7")                 // size mismatch
	upload([]byte("hello world"), 403, "name", "not a model", "filename", "notes.bin", "sha256", oaSHA([]byte("hello world"))) // format
	upload(st, 400, "name", "extra", "filename", "e.safetensors", "sha256", oaSHA(st), "colour", "red")                        // unknown parameter
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/acquire", "name", "x", "sha256", oaSHA(st)), Body: st,
		ContentType: "application/octet-stream", Auth: "token", Want: 400}) // no filename
	postJSON("/v1/model/acquire", map[string]any{"name": "gone", "filename": "absent.gguf", "sha256": oaSHA(gguf)}, 404, false)
	postJSON("/v1/model/acquire", map[string]any{"name": "x", "filename": "tiny.gguf", "sha256": oaSHA(gguf), "bogus": 1}, 400, true)
	postJSON("/v1/model/acquire", map[string]any{"name": "x", "filename": "../escape.gguf", "sha256": oaSHA(gguf)}, 400, true)
	postJSON("/v1/model/acquire", map[string]any{"name": "bad\x01name", "filename": "tiny.gguf", "sha256": oaSHA(gguf)}, 400, true)
	postJSON("/v1/model/acquire", map[string]any{"name": "x", "filename": "tiny.gguf", "sha256": "ABC"}, 400, true)
	postJSON("/v1/model/acquire", map[string]any{"name": "x", "filename": "tiny.gguf", "sha256": oaSHA(gguf),
		"source": strings.Repeat("s", 1<<20+1)}, 413, true)
	postJSON("/v1/model/acquire", []byte(`{"name":`), 400, true)

	// Reads.
	get("/v1/models", 200)
	get("/v1/model", 200, "name", gName)
	get("/v1/model", 404, "name", unknown)
	c.do(r, oaCall{Method: "GET", Path: "/v1/model", Auth: "token", Want: 400, BadRequest: true})
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model", "name", strings.Repeat("n", 257)), Auth: "token", Want: 400, BadRequest: true})
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model", "name", " padded"), Auth: "token", Want: 400, BadRequest: true})
	get("/v1/model/history", 200, "name", gName)
	get("/v1/model/history", 404, "name", unknown)
	c.do(r, oaCall{Method: "GET", Path: "/v1/model/history", Auth: "token", Want: 400, BadRequest: true})
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Want: 403}) // acquired: not loadable
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", unknown), Want: 404})
	c.do(r, oaCall{Method: "GET", Path: "/v1/model/path", Want: 400, BadRequest: true})
	post("/v1/model/verify", 200, "name", gName)
	post("/v1/model/verify", 404, "name", unknown)
	c.do(r, oaCall{Method: "POST", Path: "/v1/model/verify", Auth: "token", Want: 400, BadRequest: true})
	post("/v1/model/verify-manifest", 200, "name", gName)
	post("/v1/model/verify-manifest", 404, "name", unknown)
	c.do(r, oaCall{Method: "POST", Path: "/v1/model/verify-manifest", Auth: "token", Want: 400, BadRequest: true})

	// Quarantine.
	post("/v1/model/quarantine", 200, "name", gName, "reason", "scanning")
	post("/v1/model/quarantine", 200, "name", gName)
	post("/v1/model/quarantine", 404, "name", unknown)
	c.do(r, oaCall{Method: "POST", Path: "/v1/model/quarantine", Auth: "token", Want: 400, BadRequest: true})
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/quarantine", "name", gName, "reason", "two\nlines"), Auth: "token", Want: 400, BadRequest: true})

	// Promote: the filename shape with all evidence, the path shape, and a
	// file never acquired.
	postJSON("/v1/model/promote", map[string]any{
		"name": gName, "filename": "tiny.gguf", "sha256": oaSHA(gguf), "size_bytes": len(gguf), "source": "https://example.invalid/tiny",
		"scan_results": map[string]string{"modelscan": "pass"}, "scanner_versions": map[string]string{"modelscan": "0.8.8"},
		"policy_version": "local-v1", "source_revision": "0123abcd", "gguf_guard_fingerprint": map[string]any{"tensors": 0, "layers": []int{}},
		"gguf_guard_manifest": "manifests/tiny.tensors.json", "reason": "scans passed",
	}, 201, false)
	if s := state(gName); s != "trusted" {
		t.Errorf("%s is %s after promote, want trusted", gName, s)
	}
	postJSON("/v1/model/promote", map[string]any{"name": sName, "path": "/models/tiny.safetensors", "sha256": oaSHA(st),
		"format": "safetensors", "source": "https://example.invalid/st"}, 201, false)
	implicit := oaGGUF()
	writeFile(t, importDir, "sub/implicit.gguf", implicit)
	postJSON("/v1/model/promote", map[string]any{"name": iName, "filename": "sub/implicit.gguf", "sha256": oaSHA(implicit)}, 201, false)
	writeFile(t, importDir, "weights.bin", []byte("not a model"))
	postJSON("/v1/model/promote", map[string]any{"name": "bad format", "filename": "weights.bin", "sha256": oaSHA([]byte("not a model"))}, 403, false)
	postJSON("/v1/model/promote", map[string]any{"name": gName, "filename": "tiny.gguf", "sha256": oaSHA(st)}, 409, false)
	postJSON("/v1/model/promote", map[string]any{"name": unknown, "sha256": oaSHA(st)}, 404, false)
	postJSON("/v1/model/promote", map[string]any{"name": gName, "filename": "tiny.gguf"}, 400, true)
	postJSON("/v1/model/promote", map[string]any{"name": gName, "sha256": oaSHA(gguf), "trusted": true}, 400, true)
	postJSON("/v1/model/promote", map[string]any{"name": gName, "sha256": oaSHA(gguf), "reason": strings.Repeat("r", 1<<20+1)}, 413, true)
	post("/v1/model/quarantine", 409, "name", gName) // trusted cannot be quarantined by hand

	// Runtime resolution, with and without the token.
	var p struct {
		Path      string
		SHA256    string
		Directory string
		Files     []struct{ Filename, Path string }
	}
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Want: 200}).JSON(t, &p)
	sameFile(t, p.Path, gguf)
	get("/v1/model/path", 200, "name", gName)
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Auth: "wrong", Want: 401})
	post("/v1/model/verify", 200, "name", gName)
	// An anonymous runtime may verify a trusted artifact.
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName), Want: 200})

	// Artifacts pushed through /v2: one of two named files, and a bare
	// untagged one whose name is its repository@digest.
	cfg := r.pushBlob(t, "e2e/multi", []byte("{}"))
	w := oaSafetensors(1)
	wd := r.pushBlob(t, "e2e/multi", w)
	jd := r.pushBlob(t, "e2e/multi", []byte(`{"arch":"test"}`))
	man := oaJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": "application/vnd.example.model",
		"config":       map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2},
		"layers": []any{
			map[string]any{"mediaType": "application/octet-stream", "digest": wd, "size": len(w), "annotations": map[string]string{"org.opencontainers.image.title": "model.safetensors"}},
			map[string]any{"mediaType": "application/json", "digest": jd, "size": 15, "annotations": map[string]string{"org.opencontainers.image.title": "config.json"}},
		},
	})
	r.pushManifest(t, "e2e/multi", "v1", "application/vnd.oci.image.manifest.v1+json", man)
	bcfg := r.pushBlob(t, "e2e/bare", []byte("{}"))
	bl := r.pushBlob(t, "e2e/bare", []byte("opaque layer"))
	bman := oaJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": bcfg, "size": 2},
		"layers": []any{map[string]any{"mediaType": "application/octet-stream", "digest": bl, "size": 12}},
	})
	bare := "e2e/bare@" + digest.FromBytes(bman).String()
	r.pushManifest(t, "e2e/bare", digest.FromBytes(bman).String(), "application/vnd.oci.image.manifest.v1+json", bman)
	get("/v1/model", 200, "name", multi)
	get("/v1/model", 200, "name", bare)
	postJSON("/v1/model/promote", map[string]any{"name": multi, "filename": "model.safetensors", "sha256": wd.Encoded()}, 201, false)
	p.Files = nil
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", multi), Want: 200}).JSON(t, &p)
	if len(p.Files) != 2 || p.Directory == "" {
		t.Errorf("path of a two-file artifact: %+v", p)
	}
	get("/v1/models", 200)
	post("/v1/models/verify-all", 200)

	// The integrity result: none yet, a checker's report, an unreadable file.
	get("/v1/integrity/status", 200)
	if err := os.WriteFile(integrity, []byte(`{"status":"ok","models_checked":2,"failures":0,"checked_at":"2026-08-03T12:00:00+00:00"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := integrityStatus(); rep.Status != "ok" || rep.Stale == nil || !*rep.Stale {
		t.Errorf("integrity status from another checker's old file: %+v, want it served with stale: true", rep)
	}
	if err := os.WriteFile(integrity, []byte(`{"status":`), 0o600); err != nil {
		t.Fatal(err)
	}
	get("/v1/integrity/status", 503)

	// Per-tensor manifests: the background worker computes one after the
	// artifact arrives; verify-manifest checks the bytes against it.
	const tName = "tensor check"
	tg := oaTensorGGUF("{{ messages }}")
	upload(tg, 201, "name", tName, "filename", "tensor.gguf", "sha256", oaSHA(tg))
	fp := manifestOf(tName)
	if err := c.doc.Components.Schemas["TensorFingerprint"].Value.VisitJSON(fp); err != nil {
		t.Errorf("gguf_guard_fingerprint of %s is not a TensorFingerprint: %v", tName, err)
	}
	if m, _ := fp.(map[string]any); m["file_hash"] != oaSHA(tg) || m["tensor_count"] != 1.0 {
		t.Errorf("gguf_guard_fingerprint of %s: %v", tName, fp)
	}
	if mc := manifestCheck(tName, 200); mc.Status != "verified" || len(mc.Files) != 1 || mc.Files[0].Status != "verified" {
		t.Errorf("verify-manifest of %s: %+v", tName, mc)
	}
	if mc := manifestCheck(bare, 200); mc.Status != "skipped" {
		t.Errorf("verify-manifest of %s (no model file): %+v, want skipped", bare, mc)
	}
	postJSON("/v1/model/promote", map[string]any{"name": tName, "sha256": oaSHA(tg)}, 201, false)

	// The lock export: the trusted single-file artifacts (not the two-file
	// one), sorted by name, the same bytes every time.
	lockText := get("/v1/lock", 200).Body
	var lock struct {
		Version int `yaml:"version"`
		Models  []struct {
			Name  string `yaml:"name"`
			State string `yaml:"state"`
		} `yaml:"models"`
	}
	if err := yaml.Unmarshal(lockText, &lock); err != nil {
		t.Fatalf("lock export: %v\n%s", err, lockText)
	}
	var locked []string
	for _, m := range lock.Models {
		if m.State != "trusted" {
			t.Errorf("lock entry %q: state %q", m.Name, m.State)
		}
		locked = append(locked, m.Name)
	}
	if want := slices.Sorted(slices.Values([]string{gName, sName, iName, tName})); lock.Version != 1 || !slices.Equal(locked, want) {
		t.Errorf("lock export: version %d, models %q, want 1 and %q", lock.Version, locked, want)
	}
	if again := get("/v1/lock", 200).Body; !bytes.Equal(again, lockText) {
		t.Errorf("two lock exports of the same content differ:\n%s\n---\n%s", lockText, again)
	}

	// The integrity check, run now: it writes the result the status serves.
	var rep oaReport
	post("/v1/integrity/run", 200).JSON(t, &rep)
	if rep.Status != "ok" || rep.Failures != 0 || rep.ModelsChecked != len(rep.Results) || rep.ModelsChecked < 5 {
		t.Errorf("integrity run: %+v", rep)
	}
	if st := integrityStatus(); st.Status != "ok" || st.Writer != "ai-model-registry" || st.Stale == nil || *st.Stale {
		t.Errorf("integrity status after a run: %+v", st)
	}

	// The check as a job. While it runs, a synchronous check is refused
	// (503 + Retry-After: load, not failure) and asking for a job returns
	// the running one. A sparse 1 GiB file keeps it hashing for a while
	// without using the disk.
	const bigName = "big sparse"
	bigSHA := oaSparseGGUF(t, filepath.Join(importDir, "big.gguf"), 1<<30)
	postJSON("/v1/model/acquire", map[string]any{"name": bigName, "filename": "big.gguf", "sha256": bigSHA}, 201, false)
	res = post("/v1/integrity/run", 202, "async", "1")
	var job oaJob
	res.JSON(t, &job)
	if loc := res.Header.Get("Location"); job.Status != "running" || loc != "/v1/jobs/"+job.ID {
		t.Errorf("job %+v at %q", job, loc)
	}
	// Once it has counted the blobs, it holds the one-check-at-a-time lock.
	job = waitJob(r, job.ID, func(j oaJob) bool { return j.Status != "running" || j.Progress.BlobsTotal > 0 })
	if job.Status != "running" {
		t.Fatalf("the job finished before the checks that need it running: %+v", job)
	}
	for _, path := range []string{"/v1/integrity/run", "/v1/models/verify-all"} {
		if ra := post(path, 503).Header.Get("Retry-After"); ra != "30" {
			t.Errorf("POST %s while a check runs: Retry-After %q, want 30", path, ra)
		}
	}
	var running oaJob
	post("/v1/models/verify-all", 202, "async", "1").JSON(t, &running)
	if running.ID != job.ID {
		t.Errorf("verify-all?async=1 while job %s runs started %s", job.ID, running.ID)
	}
	job = waitJob(r, job.ID, func(j oaJob) bool { return j.Status != "running" })
	if job.Status != "done" || job.Result == nil || job.Result.Status != "ok" || job.Result.ModelsChecked != rep.ModelsChecked+1 {
		t.Errorf("finished job: %+v (result %+v)", job, job.Result)
	}
	get("/v1/jobs/"+strings.Repeat("0", 24), 404)
	c.do(r, oaCall{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", bigName), Auth: "token", Want: 200})

	// Tamper with a trusted blob: verify fails (409) and the registry
	// quarantines the artifact; verify-all fails too.
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", sName), Want: 200}).JSON(t, &p)
	if err := os.Chmod(p.Path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Path, oaSafetensors(9), 0o600); err != nil {
		t.Fatal(err)
	}
	post("/v1/model/verify", 409, "name", sName)
	if s := state(sName); s != "quarantined" {
		t.Errorf("%s is %s after failing verification, want quarantined", sName, s)
	}
	post("/v1/models/verify-all", 409)
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", sName), Want: 403})

	// Edit a trusted GGUF's chat template in place (same length):
	// verify-manifest names the key (409) and the registry quarantines it.
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", tName), Want: 200}).JSON(t, &p)
	evil := oaTensorGGUF("{{ exfiltr }}")
	if len(evil) != len(tg) {
		t.Fatal("the tampered GGUF differs in size")
	}
	if err := os.Chmod(p.Path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Path, evil, 0o600); err != nil {
		t.Fatal(err)
	}
	if mc := manifestCheck(tName, 409); len(mc.Changes) != 1 || mc.Changes[0].Kind != "metadata_changed" || mc.Changes[0].Name != "tokenizer.chat_template" ||
		len(mc.Files) != 1 || mc.Files[0].Status != "failed" {
		t.Errorf("verify-manifest after editing the chat template: %+v", mc)
	}
	if s := state(tName); s != "quarantined" {
		t.Errorf("%s is %s after failing its manifest check, want quarantined", tName, s)
	}
	// The integrity check fails now (409), and the status serves its report.
	rep = oaReport{}
	post("/v1/integrity/run", 409).JSON(t, &rep)
	if rep.Status != "failed" || rep.Failures != 2 {
		t.Errorf("integrity run after tampering with %s and %s: %+v", sName, tName, rep)
	}
	if st := integrityStatus(); st.Status != "failed" || st.Failures != 2 || st.Stale == nil || *st.Stale {
		t.Errorf("integrity status after a failed run: %+v", st)
	}
	// Deleted, its bytes are gone and checks skip it.
	c.do(r, oaCall{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", tName, "reason", "tampered"), Auth: "token", Want: 200})

	// Revoke and delete, with their no-ops and refusals.
	post("/v1/model/revoke", 200, "name", sName, "reason", "tampered")
	post("/v1/model/revoke", 200, "name", sName)
	post("/v1/model/revoke", 404, "name", unknown)
	c.do(r, oaCall{Method: "POST", Path: "/v1/model/revoke", Auth: "token", Want: 400, BadRequest: true})
	post("/v1/model/quarantine", 409, "name", sName)
	c.do(r, oaCall{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", sName, "reason", "tampered"), Auth: "token", Want: 200})
	c.do(r, oaCall{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", sName), Auth: "token", Want: 200})
	c.do(r, oaCall{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", unknown), Auth: "token", Want: 404})
	c.do(r, oaCall{Method: "DELETE", Path: "/v1/model/delete", Auth: "token", Want: 400, BadRequest: true})
	c.do(r, oaCall{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", sName, "reason", strings.Repeat("r", 1025)), Auth: "token", Want: 400, BadRequest: true})
	post("/v1/model/revoke", 409, "name", sName)
	postJSON("/v1/model/promote", map[string]any{"name": sName, "sha256": oaSHA(st)}, 409, false)
	post("/v1/model/verify", 200, "name", sName) // skipped: deleted
	if mc := manifestCheck(sName, 200); mc.Status != "skipped" {
		t.Errorf("verify-manifest of deleted %s: %+v, want skipped", sName, mc)
	}
	post("/v1/models/verify-all", 200)
	var h struct {
		Chain   string
		Records []struct{ Action string }
	}
	get("/v1/model/history", 200, "name", sName).JSON(t, &h)
	var actions []string
	for _, rec := range h.Records {
		actions = append(actions, rec.Action)
	}
	if want := []string{"acquire", "promote", "integrity_failure", "revoke", "delete"}; h.Chain != "verified" || !slices.Equal(actions, want) {
		t.Errorf("history of %s: chain %s, actions %v, want verified and %v", sName, h.Chain, actions, want)
	}
	get("/v1/model/history", 200, "name", iName)
	post("/v1/model/revoke", 200, "name", gName)
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Want: 403})
	get("/v1/models", 200)
	c.do(r, oaCall{Method: "GET", Path: "/health", Want: 200})
	c.do(r, oaCall{Method: "GET", Path: "/v1/models", Auth: "basic", Want: 200})

	// Policy, keys and the audit log.
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/policy-check", "name", gName), Auth: "token", Want: 200})
	c.do(r, oaCall{Method: "POST", Path: "/v1/model/policy-check", Auth: "token", Want: 200, ContentType: "application/json",
		Body: oaJSON(t, map[string]any{"name": iName, "scan_results": map[string]string{"modelscan": "pass"}})})
	c.do(r, oaCall{Method: "POST", Path: "/v1/model/policy-check", Auth: "token", Want: 400, BadRequest: true, ContentType: "application/json",
		Body: oaJSON(t, map[string]any{"name": iName, "trusted": true})})
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/policy-check", "name", unknown), Auth: "token", Want: 404})
	c.do(r, oaCall{Method: "GET", Path: "/v1/policy", Auth: "token", Want: 200})
	c.do(r, oaCall{Method: "GET", Path: "/v1/keys", Want: 200})
	c.do(r, oaCall{Method: "POST", Path: "/v1/keys/rotate", Auth: "token", Want: 200})
	var page struct {
		Entries []struct{ Seq uint64 }
		Next    uint64
	}
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/audit", "limit", "5"), Auth: "token", Want: 200}).JSON(t, &page)
	if len(page.Entries) != 5 || page.Entries[0].Seq != 1 || page.Next != 6 {
		t.Errorf("first audit page: %+v", page)
	}
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/audit", "from", "6"), Auth: "token", Want: 200})
	c.do(r, oaCall{Method: "GET", Path: oaQuery("/v1/audit", "limit", "0"), Auth: "token", Want: 400, BadRequest: true})

	// The default policy refuses a promotion without quarantine and
	// scanner evidence: 422 with every unmet rule.
	rp := startRegistry(t, "POLICY_PATH=")
	v1PutImport(t, rp, "strict.gguf", gguf)
	c.do(rp, oaCall{Method: "POST", Path: "/v1/model/acquire", Auth: "token", Want: 201, ContentType: "application/json",
		Body: oaJSON(t, map[string]any{"name": "strict", "filename": "strict.gguf", "sha256": oaSHA(gguf)})})
	var refusal struct {
		Unmet []struct{ Rule string }
	}
	c.do(rp, oaCall{Method: "POST", Path: "/v1/model/promote", Auth: "token", Want: 422, ContentType: "application/json",
		Body: oaJSON(t, map[string]any{"name": "strict", "sha256": oaSHA(gguf)})}).JSON(t, &refusal)
	if len(refusal.Unmet) != 2 || refusal.Unmet[0].Rule != "require_quarantine" || refusal.Unmet[1].Rule != "min_passing_scanners" {
		t.Errorf("policy refusal: %+v", refusal)
	}

	// Every route that needs the token: without one, and with a wrong one
	// (Bearer and Basic).
	// half selects every other route (0 or 1), so that wrong tokens can be
	// spread over registries below the failure limiter's threshold; -1
	// sends them all.
	securedHalf := func(reg *registry, auth string, want int, bad bool, half int) {
		t.Helper()
		body := oaJSON(t, map[string]any{"name": gName, "filename": "tiny.gguf", "sha256": oaSHA(gguf)})
		for n, call := range []oaCall{
			{Method: "GET", Path: "/v1/models"},
			{Method: "GET", Path: oaQuery("/v1/model", "name", gName)},
			{Method: "GET", Path: oaQuery("/v1/model/history", "name", gName)},
			{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName)},
			{Method: "POST", Path: "/v1/models/verify-all"},
			{Method: "POST", Path: oaQuery("/v1/models/verify-all", "async", "1")},
			{Method: "POST", Path: "/v1/integrity/run"},
			{Method: "POST", Path: oaQuery("/v1/integrity/run", "async", "1")},
			{Method: "GET", Path: "/v1/jobs/" + strings.Repeat("0", 24)},
			{Method: "GET", Path: "/v1/integrity/status"},
			{Method: "POST", Path: oaQuery("/v1/model/verify-manifest", "name", gName)},
			{Method: "GET", Path: "/v1/lock"},
			{Method: "POST", Path: "/v1/model/acquire", Body: body, ContentType: "application/json"},
			{Method: "POST", Path: oaQuery("/v1/model/acquire", "name", gName, "filename", "x.gguf", "sha256", oaSHA(gguf)), Body: gguf, ContentType: "application/octet-stream"},
			{Method: "POST", Path: oaQuery("/v1/model/quarantine", "name", gName)},
			{Method: "POST", Path: "/v1/model/promote", Body: body, ContentType: "application/json"},
			{Method: "POST", Path: oaQuery("/v1/model/revoke", "name", gName)},
			{Method: "DELETE", Path: oaQuery("/v1/model/delete", "name", gName)},
			{Method: "POST", Path: oaQuery("/v1/model/policy-check", "name", gName)},
			{Method: "GET", Path: "/v1/policy"},
			{Method: "GET", Path: "/v1/keys"},
			{Method: "POST", Path: "/v1/keys/rotate"},
			{Method: "GET", Path: "/v1/audit"},
		} {
			if half >= 0 && n%2 != half {
				continue
			}
			// The verification routes are open to anonymous callers (trusted
			// artifacts only) and check a token only when one is sent; they
			// are exercised on their own below.
			open := call.Method == "POST" && (strings.HasPrefix(call.Path, "/v1/model/verify?") || strings.HasPrefix(call.Path, "/v1/models/verify-all")) ||
				call.Path == "/v1/keys"
			if open && (auth == "" || want == 403) {
				continue
			}
			call.Auth, call.Want, call.BadRequest = auth, want, bad
			res := c.do(reg, call)
			if want == 401 && res.Header.Get("WWW-Authenticate") != `Bearer realm="ai-model-registry"` {
				t.Errorf("%s %s: WWW-Authenticate %q", call.Method, call.Path, res.Header.Get("WWW-Authenticate"))
			}
		}
	}
	secured := func(reg *registry, auth string, want int, bad bool) { securedHalf(reg, auth, want, bad, -1) }
	secured(r, "", 401, true)
	if s := state(gName); s != "revoked" {
		t.Errorf("%s is %s after refused requests, want revoked (unchanged)", gName, s)
	}
	// Anonymous verification: a trusted artifact verifies, anything else is
	// challenged; verify-all answers the last completed check.
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", iName), Want: 200})
	if res := c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName), Want: 401}); res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous verify of a revoked artifact: no WWW-Authenticate")
	}
	c.do(r, oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", unknown), Want: 401})
	c.do(r, oaCall{Method: "POST", Path: "/v1/models/verify-all", Want: 200})

	// Wrong credentials (Bearer and Basic) are refused everywhere, on a
	// registry of their own: after 20 failures in a minute from one address
	// each further one is answered late, with 429 and Retry-After.
	for _, auth := range []string{"wrong", "wrong-basic"} {
		for half := range 2 {
			securedHalf(startRegistry(t), auth, 401, false, half)
		}
	}
	rw := startRegistry(t)
	for range 10 {
		c.do(rw, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Auth: "wrong", Want: 401})
		c.do(rw, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Auth: "wrong-basic", Want: 401})
	}
	secured(rw, "wrong-basic", 429, false)
	for _, call := range []oaCall{
		{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName)},
		{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName)},
		{Method: "POST", Path: "/v1/models/verify-all"},
	} {
		call.Auth, call.Want = "wrong", 429
		if res := c.do(rw, call); res.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 429 without Retry-After", call.Method, call.Path)
		}
	}
	c.do(rw, oaCall{Method: "GET", Path: "/v1/models", Auth: "token", Want: 200}) // a valid token is never slowed down

	// A registry without a usable token refuses them all (403), and still
	// resolves paths for runtimes.
	r2 := startRegistry(t, "SERVICE_TOKEN_PATH="+filepath.Join(t.TempDir(), "absent-token"))
	c.do(r2, oaCall{Method: "GET", Path: "/health", Want: 200})
	secured(r2, "token", 403, false)
	secured(r2, "", 403, true)
	c.do(r2, oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName), Auth: "token", Want: 401})
	c.do(r2, oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName), Want: 401})
	c.do(r2, oaCall{Method: "POST", Path: "/v1/models/verify-all", Want: 503})
	c.do(r2, oaCall{Method: "POST", Path: oaQuery("/v1/models/verify-all", "async", "1"), Want: 401})
	c.do(r2, oaCall{Method: "GET", Path: oaQuery("/v1/model/path", "name", gName), Want: 404})

	// A registry that cannot write its integrity result (its directory is a
	// file): the check runs but the run fails (500, a job in error), and
	// the status cannot read the result (503).
	blocker := writeFile(t, t.TempDir(), "not-a-directory", nil)
	r3 := startRegistry(t, "INTEGRITY_RESULT_PATH="+filepath.Join(blocker, "integrity-last.json"))
	c.do(r3, oaCall{Method: "GET", Path: "/v1/integrity/status", Auth: "token", Want: 503})
	c.do(r3, oaCall{Method: "POST", Path: "/v1/integrity/run", Auth: "token", Want: 500})
	c.do(r3, oaCall{Method: "POST", Path: oaQuery("/v1/integrity/run", "async", "1"), Auth: "token", Want: 202}).JSON(t, &job)
	if job = waitJob(r3, job.ID, func(j oaJob) bool { return j.Status != "running" }); job.Status != "error" || job.Error == "" || job.Result != nil {
		t.Errorf("job that cannot write its result: %+v", job)
	}

	// The validator is strict: a doctored response fails it.
	getModel := oaCall{Method: "GET", Path: oaQuery("/v1/model", "name", gName), Auth: "token"}
	real := get("/v1/model", 200, "name", gName).Body
	var m map[string]any
	if err := json.Unmarshal(real, &m); err != nil {
		t.Fatal(err)
	}
	doctor := func(f func(map[string]any)) []byte {
		cp := map[string]any{}
		for k, v := range m {
			cp[k] = v
		}
		f(cp)
		return oaJSON(t, cp)
	}
	c.mustReject(r, getModel, "an undocumented field", 200, doctor(func(x map[string]any) { x["registry_dir"] = "/registry" }))
	c.mustReject(r, getModel, "a missing required field", 200, doctor(func(x map[string]any) { delete(x, "digest") }))
	c.mustReject(r, getModel, "an unknown state", 200, doctor(func(x map[string]any) { x["state"] = "approved" }))
	c.mustReject(r, getModel, "an undocumented status", http.StatusTeapot, real)
	c.mustReject(r, getModel, "an error without the error field", 404, []byte(`{"message":"model not found"}`))
	c.mustReject(r, getModel, "an error with an extra field", 404, []byte(`{"error":"model not found","path":"/registry/x"}`))
	verify := oaCall{Method: "POST", Path: oaQuery("/v1/model/verify", "name", gName), Auth: "token"}
	c.mustReject(r, verify, "a boolean safe_to_use", 200, []byte(`{"status":"verified","name":"x","state":"trusted","safe_to_use":true}`))
	c.mustReject(r, verify, "a failure answered 200", 200, []byte(`{"status":"failed","name":"x","expected":"ab","actual":"","error":"e","safe_to_use":"false"}`))
	manifest := oaCall{Method: "POST", Path: oaQuery("/v1/model/verify-manifest", "name", gName), Auth: "token"}
	files := `"files":[{"filename":"x.gguf","layer":"sha256:ab","manifest":"sha256:cd","status":"failed","changes":[{"kind":"file","name":"size","was":"1","now":"2"}]}]`
	c.mustReject(r, manifest, "a failure answered 200", 200, []byte(`{"status":"failed","name":"x","error":"e","changes":[{"kind":"file","name":"size"}],`+files+`}`))
	c.mustReject(r, manifest, "an unknown change kind", 409, []byte(`{"status":"failed","name":"x","error":"e","changes":[{"kind":"vibes","name":"size"}],`+files+`}`))
	c.mustReject(r, manifest, "a failure without changes", 409, []byte(`{"status":"failed","name":"x","error":"e","changes":[],`+files+`}`))
	jobCall := oaCall{Method: "GET", Path: "/v1/jobs/" + job.ID, Auth: "token"}
	c.mustReject(r, jobCall, "a finished job without its report", 200, []byte(`{"id":"`+job.ID+`","kind":"integrity-check","status":"done",`+
		`"started_at":"2026-11-25T15:00:00Z","finished_at":"2026-11-25T15:00:01Z","progress":{"blobs_total":0,"blobs_done":0,"bytes_total":0,"bytes_done":0}}`))
	c.mustReject(r, oaCall{Method: "GET", Path: "/v1/integrity/status", Auth: "token"}, "a result without stale", 200, []byte(`{"status":"ok"}`))
	c.mustReject(r, oaCall{Method: "POST", Path: "/v1/integrity/run", Auth: "token"}, "a report with an unknown status", 200,
		[]byte(`{"status":"error","checked_at":"2026-11-25T15:00:00Z","models_checked":0,"failures":0,"skipped":0,"duration_ms":0,`+
			`"bytes_hashed":0,"interval_seconds":900,"writer":"ai-model-registry","results":[]}`))

	c.coverage()
	if t.Failed() {
		return
	}
	// A sanity check on the checker itself: it has seen every operation.
	for _, route := range openAPIRoutes {
		method, path, _ := strings.Cut(route, " ")
		op := c.doc.Paths.Value(path).GetOperation(method)
		if len(c.seen[op.OperationID]) == 0 {
			t.Errorf("%s was never exercised", route)
		}
	}
}
