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
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// hostileReq is one request of TestV1HostileInput and what it must get: a
// 4xx /v1 error whose message contains errHas, and no change at all.
type hostileReq struct {
	name   string
	method string
	path   string
	body   []byte
	ctype  string
	status int
	errHas string
	// echo is client input the message may repeat (an absolute filename
	// the client sent is not a leak); it is removed before the leak check.
	echo string
}

// TestV1HostileInput sends malformed, oversized and malicious requests to
// every /v1 route that takes input and checks that each gets a clear 4xx
// JSON error (Content-Type application/json, exactly {"error": "..."}) that
// leaks no server path and no secret, and that nothing changed: the same
// GET /v1/models, the same files under repos/, pool/ and uploads/ of the
// data directory, every file of the import directory (and every symlink
// target outside it) still in place and unchanged.
func TestV1HostileInput(t *testing.T) {
	skipUnlessOurServer(t, "the /v1 API is ours")
	r := startRegistry(t)
	p := v1probe{r}
	importDir := filepath.Join(r.Dir, "import")

	// Something to protect: a trusted and an acquired artifact, and a
	// pickle pushed through /v2 whose bytes a refused upload must not take
	// away from it.
	for i, name := range []string{"hostile trusted", "hostile acquired"} {
		data := oneTensorGGUF(float32(100 * (i + 1)))
		filename := "baseline-" + strconv.Itoa(i) + ".gguf"
		p.step(t, "acquire", name, filename, data)
		if i == 0 {
			p.step(t, "promote", name, filename, data)
		}
	}
	pickle := []byte("\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.") // pickle.dumps({'a': 1}, protocol=4)
	v1PushV2Artifact(t, r, "hostile/pickle", "v1", "model.pt", pickle)

	// The import directory: good files, files in refused formats, and every
	// kind of entry that is not a regular file inside it.
	valid := oneTensorGGUF(1000)
	validSum, validSize := v1SHA256(valid), int64(len(valid))
	ggufAsBin := oneTensorGGUF(2000)
	importFiles := map[string][]byte{"valid.gguf": valid, "sub/valid.gguf": valid, "pickle.gguf": pickle, "gguf.bin": ggufAsBin}
	restoreImports := func() { // after a failed case, so the next one still finds its file
		for name, data := range importFiles {
			if b, err := os.ReadFile(filepath.Join(importDir, name)); err != nil || !bytes.Equal(b, data) {
				v1PutImport(t, r, name, data)
			}
		}
	}
	restoreImports()
	outside := t.TempDir()
	outsideFile := writeFile(t, outside, "outside.gguf", oneTensorGGUF(3000))
	outsideSum := v1SHA256(oneTensorGGUF(3000))
	for _, link := range []struct{ target, name string }{
		{outsideFile, "link-out.gguf"},      // absolute, out of the import dir
		{"valid.gguf", "link-in.gguf"},      // relative, to a good file inside it
		{outside, "linkdir"},                // a directory component that is a symlink
		{"../registry.json", "escape.json"}, // relative, out of the import dir
	} {
		if err := os.Symlink(link.target, filepath.Join(importDir, link.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(importDir, "fifo.gguf"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(importDir, "dir.gguf"), 0o700); err != nil {
		t.Fatal(err)
	}

	// Request builders.
	jsonReq := func(path string, fields map[string]any) hostileReq {
		return hostileReq{method: "POST", path: path, body: v1JSON(t, fields), ctype: "application/json"}
	}
	acquire := func(name, filename, sum string, size int64) hostileReq {
		return jsonReq("/v1/model/acquire", map[string]any{"name": name, "filename": filename, "sha256": sum, "size_bytes": size})
	}
	promote := func(name, filename, sum string, size int64) hostileReq {
		return jsonReq("/v1/model/promote", map[string]any{"name": name, "filename": filename, "sha256": sum, "size_bytes": size})
	}
	stream := func(q url.Values, data []byte) hostileReq {
		return hostileReq{method: "POST", path: "/v1/model/acquire?" + q.Encode(), body: data, ctype: "application/octet-stream"}
	}
	streamQ := func(name, filename, sum, size string) url.Values {
		return url.Values{"name": {name}, "filename": {filename}, "sha256": {sum}, "size_bytes": {size}}
	}
	query := func(method, route, name string) hostileReq {
		return hostileReq{method: method, path: route + "?name=" + url.QueryEscape(name)}
	}
	raw := func(path, body string) hostileReq {
		return hostileReq{method: "POST", path: path, body: []byte(body), ctype: "application/json"}
	}
	want := func(req hostileReq, name string, status int, errHas string) hostileReq {
		req.name, req.status, req.errHas = name, status, errHas
		return req
	}
	echo := func(req hostileReq, s string) hostileReq { req.echo = s; return req }

	var cases []hostileReq

	// Names: control characters, too long, empty, surrounding spaces, not
	// UTF-8 — on every route that takes a name.
	badNames := []struct{ label, name, errHas string }{
		{"NUL", "bad\x00name", "control character"},
		{"newline", "bad\nname", "control character"},
		{"DEL", "bad\x7fname", "control character"},
		{"tab", "bad\tname", "control character"},
		{"257 bytes", strings.Repeat("n", 257), "256"},
		{"empty", "", "name"},
		{"leading space", " name", "spaces"},
		{"trailing space", "name ", "spaces"},
	}
	for _, b := range badNames {
		n := "name " + b.label + ": "
		cases = append(cases,
			want(acquire(b.name, "valid.gguf", validSum, validSize), n+"acquire", 400, b.errHas),
			want(stream(streamQ(b.name, "m.gguf", validSum, ""), valid), n+"streamed acquire", 400, b.errHas),
			want(promote(b.name, "valid.gguf", validSum, validSize), n+"promote", 400, b.errHas),
			want(query("POST", "/v1/model/quarantine", b.name), n+"quarantine", 400, b.errHas),
			want(query("POST", "/v1/model/revoke", b.name), n+"revoke", 400, b.errHas),
			want(query("DELETE", "/v1/model/delete", b.name), n+"delete", 400, b.errHas),
			want(query("POST", "/v1/model/verify", b.name), n+"verify", 400, b.errHas),
			want(query("POST", "/v1/model/verify-manifest", b.name), n+"verify-manifest", 400, b.errHas),
			want(query("GET", "/v1/model/path", b.name), n+"path", 400, b.errHas),
			want(query("GET", "/v1/model", b.name), n+"get", 400, b.errHas),
			want(query("GET", "/v1/model/history", b.name), n+"history", 400, b.errHas),
		)
	}
	cases = append(cases,
		want(hostileReq{method: "POST", path: "/v1/model/quarantine?name=bad%FFname"}, "name not UTF-8: quarantine", 400, "UTF-8"),
		want(hostileReq{method: "GET", path: "/v1/model?name=bad%FFname"}, "name not UTF-8: get", 400, "UTF-8"),
	)

	// Filenames: escapes, absolute paths, backslashes, symlinks, special
	// files — through acquire and through promote of a name never acquired.
	absInside := filepath.Join(importDir, "valid.gguf")
	badFiles := []struct {
		label, filename, sum string
		status               int
		errHas               string
	}{
		{"dot-dot", "../outside.gguf", validSum, 400, "invalid filename"},
		{"dot-dot inside a path", "sub/../../outside.gguf", validSum, 400, "invalid filename"},
		{"dot-dot to the data dir", "../registry.json", validSum, 400, "invalid filename"},
		{"absolute path inside the import dir", absInside, validSum, 400, "invalid filename"},
		{"absolute path outside", outsideFile, outsideSum, 400, "invalid filename"},
		{"absolute /etc/passwd", "/etc/passwd", validSum, 400, "invalid filename"},
		{"backslash", `sub\valid.gguf`, validSum, 400, "invalid filename"},
		{"backslash dot-dot", `..\outside.gguf`, validSum, 400, "invalid filename"},
		{"NUL", "valid.gguf\x00.gguf", validSum, 400, "invalid filename"},
		{"newline", "valid\n.gguf", validSum, 400, "invalid filename"},
		{"1025 bytes", strings.Repeat("f", 1020) + ".gguf", validSum, 400, "invalid filename"},
		{"empty", "", validSum, 400, "filename"},
		{"symlink out of the import dir", "link-out.gguf", outsideSum, 400, "symlink"},
		{"symlink inside the import dir", "link-in.gguf", validSum, 400, "symlink"},
		{"symlinked directory component", "linkdir/outside.gguf", outsideSum, 400, "symlink"},
		{"relative symlink out of the import dir", "escape.json", validSum, 400, "symlink"},
		{"FIFO", "fifo.gguf", validSum, 400, "special file"},
		{"directory", "dir.gguf", validSum, 400, "special file"},
		{"missing file", "missing.gguf", validSum, 404, "not found"},
	}
	for i, b := range badFiles {
		name := "fresh file " + strconv.Itoa(i)
		echoed := ""
		if filepath.IsAbs(b.filename) {
			echoed = b.filename
		}
		cases = append(cases, echo(want(acquire(name, b.filename, b.sum, 0), "filename "+b.label+": acquire", b.status, b.errHas), echoed))
		if b.filename != "" {
			cases = append(cases, echo(want(promote(name, b.filename, b.sum, 0), "filename "+b.label+": promote", b.status, b.errHas), echoed))
		}
	}
	// Without a filename, a promotion of a name never acquired has nothing
	// to acquire: the predecessor's 404.
	cases = append(cases, want(promote("fresh file", "", validSum, 0), "filename empty: promote", 404, "model not found"))
	cases = append(cases,
		want(stream(streamQ("fresh stream", "../m.gguf", validSum, ""), valid), "filename dot-dot: streamed acquire", 400, "invalid filename"),
		echo(want(stream(streamQ("fresh stream", "/tmp/m.gguf", validSum, ""), valid), "filename absolute: streamed acquire", 400, "invalid filename"), "/tmp/m.gguf"),
		// The service doc's promote shape: only the base name of path is
		// looked up, in the import directory.
		want(jsonReq("/v1/model/promote", map[string]any{"name": "fresh path", "path": outsideFile, "sha256": outsideSum, "format": "gguf"}),
			"promote path outside the import dir", 404, "not found"),
	)

	// Digests and sizes.
	upper := strings.ToUpper(validSum)
	for _, b := range []struct {
		label, sum string
		size       int64
		status     int
		errHas     string
	}{
		{"sha256 not hex", strings.Repeat("zz", 32), 0, 400, "sha256"},
		{"sha256 63 chars", validSum[:63], 0, 400, "sha256"},
		{"sha256 65 chars", validSum + "0", 0, 400, "sha256"},
		{"sha256 upper case", upper, 0, 400, "sha256"},
		{"sha256 with algorithm prefix", "sha256:" + validSum, 0, 400, "sha256"},
		{"sha256 empty", "", 0, 400, "sha256"},
		{"sha256 of other bytes", v1SHA256([]byte("other")), 0, 409, "hash mismatch"},
		{"size_bytes mismatched", validSum, validSize + 1, 409, "size"},
		{"size_bytes negative", validSum, -1, 400, "size_bytes"},
	} {
		cases = append(cases,
			want(acquire("fresh digest", "valid.gguf", b.sum, b.size), b.label+": acquire", b.status, b.errHas),
			want(promote("fresh digest", "valid.gguf", b.sum, b.size), b.label+": promote", b.status, b.errHas),
		)
	}
	cases = append(cases,
		want(stream(streamQ("fresh stream", "m.gguf", v1SHA256([]byte("other")), ""), valid), "streamed body not matching sha256", 409, "hash mismatch"),
		want(stream(streamQ("fresh stream", "m.gguf", validSum, strconv.FormatInt(validSize+1, 10)), valid), "streamed size_bytes mismatched", 409, "size"),
		want(stream(streamQ("fresh stream", "m.gguf", validSum, "-1"), valid), "streamed size_bytes negative", 400, "size_bytes"),
		want(stream(streamQ("fresh stream", "m.gguf", validSum, "12abc"), valid), "streamed size_bytes not a number", 400, "size_bytes"),
		want(stream(streamQ("fresh stream", "m.gguf", "xyz", ""), valid), "streamed sha256 not hex", 400, "sha256"),
		want(stream(url.Values{"name": {"fresh stream"}, "filename": {"m.gguf"}, "sha256": {validSum}, "state": {"trusted"}}, valid), "streamed unknown query parameter", 400, "state"),
		// A promotion that names the trusted artifact's file with the
		// wrong digest is refused; the artifact stays trusted.
		want(promote("hostile trusted", "baseline-0.gguf", validSum, 0), "promote of a trusted artifact with another digest", 409, "hash"),
		want(promote("hostile acquired", "valid.gguf", validSum, 0), "promote naming a file the artifact does not have", 409, "valid.gguf"),
	)

	// Formats decided by the bytes, not the name.
	cases = append(cases,
		want(acquire("fresh format", "pickle.gguf", v1SHA256(pickle), 0), "pickle named .gguf: acquire", 403, "not allowed"),
		want(promote("fresh format", "pickle.gguf", v1SHA256(pickle), 0), "pickle named .gguf: promote", 403, "not allowed"),
		want(stream(streamQ("fresh format", "m.gguf", v1SHA256(pickle), ""), pickle), "pickle named .gguf: streamed acquire (bytes shared with a /v2 artifact)", 403, "not allowed"),
		want(acquire("fresh format", "gguf.bin", v1SHA256(ggufAsBin), 0), "GGUF named .bin: acquire", 403, "gguf"),
		want(stream(streamQ("fresh format", "m.bin", v1SHA256(ggufAsBin), ""), ggufAsBin), "GGUF named .bin: streamed acquire", 403, "gguf"),
	)

	// JSON bodies: strict, bounded, nothing after the object. Each case
	// names a different fresh artifact, so one that is wrongly accepted
	// does not change what the next one meets.
	huge := strings.Repeat("a", 1<<20)
	for _, b := range []struct {
		label  string
		body   string // %[1]s: an object that is valid but for its missing "}"
		status int
		errHas string
	}{
		{"unknown field", `%[1]s,"state":"trusted"}`, 400, "state"},
		// Go's encoding/json matches keys case-insensitively and keeps the
		// last duplicate; a proxy or policy check reading the body another
		// way would see a different name than the registry.
		{"field differing only in case", `%[1]s,"Name":"other name %[2]s"}`, 400, "Name"},
		{"duplicate field", `%[1]s,"name":"other name %[2]s"}`, 400, "name"},
		{"a second JSON object", `%[1]s} {"name":"second"}`, 400, "after the JSON"},
		{"trailing garbage", `%[1]s} trailing`, 400, "after the JSON"},
		{"trailing brace", `%[1]s}}`, 400, "after the JSON"},
		{"trailing bracket", `%[1]s}]`, 400, "after the JSON"},
		{"truncated JSON", `%[1]s`, 400, "invalid request body"},
		{"JSON array", `[%[1]s}]`, 400, "invalid request body"},
		{"empty body", ``, 400, "invalid request body"},
		{"size_bytes as a string", `%[1]s,"size_bytes":"160"}`, 400, "size_bytes"},
		{"body over 1 MiB", `%[1]s,"source":"` + huge + `"}`, 413, "request too large"},
		{"whitespace after the JSON past 1 MiB", `%[1]s}` + strings.Repeat(" ", 1<<20), 413, "request too large"},
	} {
		for _, route := range []string{"/v1/model/acquire", "/v1/model/promote"} {
			obj := fmt.Sprintf(`{"name":"fresh json %d","filename":"valid.gguf","sha256":"%s"`, len(cases), validSum)
			body := strings.NewReplacer("%[1]s", obj, "%[2]s", strconv.Itoa(len(cases))).Replace(b.body)
			cases = append(cases, want(raw(route, body), route+" "+b.label, b.status, b.errHas))
		}
	}

	// Reasons on the simple transitions.
	for _, route := range []string{"/v1/model/quarantine", "/v1/model/revoke"} {
		cases = append(cases,
			want(hostileReq{method: "POST", path: route + "?name=hostile+acquired&reason=a%0Ab"}, route+" reason with a newline", 400, "reason"),
			want(hostileReq{method: "POST", path: route + "?name=hostile+acquired&reason=" + strings.Repeat("r", 1025)}, route+" reason over 1024 bytes", 400, "reason"),
		)
	}
	cases = append(cases, want(hostileReq{method: "DELETE", path: "/v1/model/delete?name=hostile+trusted&reason=a%00b"}, "/v1/model/delete reason with NUL", 400, "reason"))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer restoreImports()
			models := r.do(t, "GET", "/v1/models", nil, true, nil)
			catalog := r.do(t, "GET", "/v2/_catalog", nil, true, nil)
			store := v1Tree(t, r.Dir, "repos", "pool", "uploads", "import")
			outsideBefore := v1Tree(t, outside, ".")

			hdr := map[string]string{}
			if c.ctype != "" {
				hdr["Content-Type"] = c.ctype
			}
			res := r.do(t, c.method, c.path, c.body, true, hdr)
			if res.Status != c.status {
				t.Errorf("%s %s: status %d, want %d; body %.300s", c.method, v1Trunc(c.path), res.Status, c.status, res.Body)
			}
			msg := v1ErrorMessage(t, res)
			if !strings.Contains(msg, c.errHas) {
				t.Errorf("error %q does not contain %q", msg, c.errHas)
			}
			if c.status == http.StatusRequestEntityTooLarge && msg != "request too large" {
				t.Errorf("413 error %q, want exactly \"request too large\"", msg)
			}
			v1CheckNoLeak(t, r, "", msg, c.echo)

			if after := r.do(t, "GET", "/v1/models", nil, true, nil); !bytes.Equal(models.Body, after.Body) {
				t.Errorf("GET /v1/models changed:\n before %s\n after  %s", models.Body, after.Body)
			}
			if after := r.do(t, "GET", "/v2/_catalog", nil, true, nil); !bytes.Equal(catalog.Body, after.Body) {
				t.Errorf("GET /v2/_catalog changed:\n before %s\n after  %s", catalog.Body, after.Body)
			}
			if after := v1Tree(t, r.Dir, "repos", "pool", "uploads", "import"); !reflect.DeepEqual(store, after) {
				t.Errorf("the data directory changed: %s", v1TreeDiff(store, after))
			}
			if after := v1Tree(t, outside, "."); !reflect.DeepEqual(outsideBefore, after) {
				t.Errorf("the directory outside the import dir changed: %s", v1TreeDiff(outsideBefore, after))
			}
		})
	}

	// The /v2 artifact whose bytes a refused upload shared is intact.
	if res := r.do(t, "GET", "/v2/hostile/pickle/blobs/"+"sha256:"+v1SHA256(pickle), nil, true, nil); res.Status != http.StatusOK || !bytes.Equal(res.Body, pickle) {
		t.Errorf("GET the /v2 pickle blob after the refused uploads: %d, %d bytes", res.Status, len(res.Body))
	}
}

// v1AbsPathRE finds something that looks like an absolute filesystem path.
var v1AbsPathRE = regexp.MustCompile(`(^|[^A-Za-z0-9._~/-])/[A-Za-z0-9._~-]+`)

// v1CheckNoLeak fails the test if msg contains a server path (the data
// directory, the temp directory, any absolute path) or the token; what
// prefixes the failure. echo is
// client input the message may repeat; it is removed first, whole or
// truncated.
func v1CheckNoLeak(t *testing.T, r *registry, what, msg, echo string) {
	t.Helper()
	if echo != "" {
		msg = strings.ReplaceAll(msg, echo, "<input>")
		if len(echo) > 80 {
			msg = strings.ReplaceAll(msg, echo[:80], "<input>")
		}
	}
	for _, secret := range []string{r.Token, r.Dir, filepath.Dir(r.Dir), os.TempDir()} {
		if strings.Contains(msg, secret) {
			t.Errorf("%serror message %q contains %q", what, msg, secret)
		}
	}
	for _, m := range v1AbsPathRE.FindAllString(msg, -1) {
		if p := strings.TrimLeft(m, " \"'(=:"); !strings.HasPrefix(p, "/v1") && !strings.HasPrefix(p, "/v2") {
			t.Errorf("%serror message %q contains an absolute path (%q)", what, msg, p)
		}
	}
}

// v1PushV2Artifact pushes a one-file oras-style artifact (title annotation
// on its layer) as repo:tag through /v2 with the token; the test fails if
// the registry refuses it.
func v1PushV2Artifact(t *testing.T, r *registry, repo, tag, title string, data []byte) {
	t.Helper()
	empty := []byte("{}")
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.e2e.test",
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: r.pushBlob(t, repo, empty), Size: int64(len(empty))},
		Layers: []ocispec.Descriptor{{MediaType: "application/octet-stream", Digest: r.pushBlob(t, repo, data), Size: int64(len(data)),
			Annotations: map[string]string{ocispec.AnnotationTitle: title}}},
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r.pushManifest(t, repo, tag, ocispec.MediaTypeImageManifest, body)
}

func v1Trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
