package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file holds TestStateActionTable and the /v1 helpers it shares with
// v1_hostile_test.go and authmatrix_test.go.

// TestStateActionTable walks every lifecycle state (and a name that was
// never acquired) × every action through the real /v1 API of the real
// binary, one fresh artifact per cell, and checks each cell against the
// predecessor's state table (seed README "Can promote / Can revoke / Can
// delete / Path access", reference §4.10–4.13 for the bodies) and the issue
// (quarantine only from acquired; a name is never acquired twice): the
// status code, the exact JSON body, the resulting state, /v1/model/path
// access, and the artifact's history — a verified hash chain with one record
// per real transition and none for a no-op or a refusal.
func TestStateActionTable(t *testing.T) {
	skipUnlessOurServer(t, "the /v1 API is ours")
	r := startRegistry(t)
	p := v1probe{r}

	// How a fresh artifact is brought into each state: the pipeline of the
	// seed README, one real transition per step.
	reach := map[string][]string{
		"never acquired": nil,
		"acquired":       {"acquire"},
		"quarantined":    {"acquire", "quarantine"},
		"trusted":        {"acquire", "quarantine", "promote"},
		"revoked":        {"acquire", "quarantine", "promote", "revoke"},
		"deleted":        {"acquire", "quarantine", "promote", "revoke", "delete"},
	}

	// The table, cell by cell. A "moved" cell answers the new state and adds
	// one record; "already" answers 200 already_<state> and records nothing;
	// "refused" answers 409 naming the current state and changes nothing.
	cells := []struct {
		from, action string
		want         cellWant
	}{
		// Never acquired: only acquire, and promote of a file in the import
		// directory (the seed README's quick start), know the name.
		{"never acquired", "acquire", cellWant{status: 201, artifact: "acquired", after: "acquired", records: []string{"acquire"}}},
		{"never acquired", "quarantine", cellUnknown()},
		{"never acquired", "promote", cellWant{status: 201, artifact: "trusted", after: "trusted", records: []string{"acquire", "promote"}}},
		{"never acquired", "revoke", cellUnknown()},
		{"never acquired", "delete", cellUnknown()},

		{"acquired", "acquire", cellNameTaken("acquired")},
		{"acquired", "quarantine", cellMoved("quarantined")},
		{"acquired", "promote", cellPromoted()},
		{"acquired", "revoke", cellMoved("revoked")},
		{"acquired", "delete", cellMoved("deleted")},

		{"quarantined", "acquire", cellNameTaken("quarantined")},
		{"quarantined", "quarantine", cellAlready("quarantined")},
		{"quarantined", "promote", cellPromoted()},
		{"quarantined", "revoke", cellMoved("revoked")},
		{"quarantined", "delete", cellMoved("deleted")},

		{"trusted", "acquire", cellNameTaken("trusted")},
		{"trusted", "quarantine", cellRefused("trusted", "cannot quarantine artifact %q: must be in acquired state, currently trusted")},
		{"trusted", "promote", cellPromoted()}, // "Yes (re-promote)": a new promotion, on record
		{"trusted", "revoke", cellMoved("revoked")},
		{"trusted", "delete", cellMoved("deleted")},

		{"revoked", "acquire", cellNameTaken("revoked")},
		{"revoked", "quarantine", cellRefused("revoked", "cannot quarantine artifact %q: must be in acquired state, currently revoked")},
		{"revoked", "promote", cellPromoted()}, // "Yes (re-promote)"
		{"revoked", "revoke", cellAlready("revoked")},
		{"revoked", "delete", cellMoved("deleted")},

		{"deleted", "acquire", cellNameTaken("deleted")},
		{"deleted", "quarantine", cellRefused("deleted", "cannot quarantine artifact %q: must be in acquired state, currently deleted")},
		{"deleted", "promote", cellRefused("deleted", "cannot promote artifact %q: currently in deleted state")},
		{"deleted", "revoke", cellRefused("deleted", "cannot revoke artifact %q: already in deleted state")},
		{"deleted", "delete", cellAlready("deleted")},
	}

	type outcome struct {
		name, state string
		records     []string
	}
	var outcomes []outcome
	for i, c := range cells {
		t.Run(c.from+"/"+c.action, func(t *testing.T) {
			name := fmt.Sprintf("table %s %s", strings.ReplaceAll(c.from, " ", "-"), c.action)
			filename := fmt.Sprintf("cell-%02d.gguf", i)
			data := oneTensorGGUF(float32(10 * i)) // different bytes in every cell
			sum := v1SHA256(data)

			for _, step := range reach[c.from] {
				p.step(t, step, name, filename, data)
			}
			before := p.get(t, name)
			if c.from == "never acquired" && before.Status != http.StatusNotFound {
				t.Fatalf("GET /v1/model of a fresh name: %d %s, want 404", before.Status, before.Body)
			}

			listed := len(p.list(t))

			// The action itself.
			var res httpResult
			var imported os.FileInfo // the import file a never-acquired cell hands over
			switch c.action {
			case "acquire":
				if c.from == "never acquired" {
					imported = v1StatImport(t, r, filename, data)
					res = p.acquireImport(t, name, filename, sum, int64(len(data)))
				} else {
					// Different bytes, streamed: refused before a byte is stored.
					other := oneTensorGGUF(float32(10*i + 5))
					poolBefore := v1Tree(t, r.Dir, "pool", "uploads")
					res = p.acquireStream(t, name, "other.gguf", v1SHA256(other), int64(len(other)), other)
					if after := v1Tree(t, r.Dir, "pool", "uploads"); !reflect.DeepEqual(poolBefore, after) {
						t.Errorf("a refused acquire changed the blob store: %s", v1TreeDiff(poolBefore, after))
					}
				}
			case "promote":
				if c.from == "never acquired" {
					imported = v1StatImport(t, r, filename, data)
				}
				res = p.promote(t, name, filename, sum, int64(len(data)))
			default:
				res = p.simple(t, c.action, name)
			}
			c.want.check(t, p, name, res, before)

			if imported != nil && c.want.status < 300 {
				// The import file was moved into the content-addressed pool
				// (the same inode), not copied, and is gone from the import
				// directory.
				if _, err := os.Lstat(filepath.Join(r.Dir, "import", filename)); !os.IsNotExist(err) {
					t.Errorf("import/%s still exists after it was acquired (stat: %v)", filename, err)
				}
				if fi, err := os.Stat(filepath.Join(r.Dir, "pool", "sha256", sum)); err != nil || !os.SameFile(fi, imported) {
					t.Errorf("pool/sha256/%s is not the imported file's inode (stat: %v)", sum, err)
				}
			}
			// Only a cell that created its name adds an artifact; a refused
			// acquire never adds a second one.
			if c.from == "never acquired" && c.want.after != "" {
				listed++
			}
			if got := len(p.list(t)); got != listed {
				t.Errorf("GET /v1/models lists %d artifacts, want %d", got, listed)
			}
			p.checkPath(t, name, c.want.after, data)
			want := append(append([]string(nil), reach[c.from]...), c.want.records...)
			p.checkHistory(t, name, c.want.after, want)
			outcomes = append(outcomes, outcome{name, c.want.after, want})
		})
	}

	// The records are the source of truth: after a restart every cell is
	// still in its state, with the same history.
	r.Restart()
	for _, o := range outcomes {
		p.checkHistory(t, o.name, o.state, o.records)
		if o.state == "" {
			continue
		}
		var a v1Artifact
		if res := p.get(t, o.name); res.Status != http.StatusOK || json.Unmarshal(res.Body, &a) != nil || a.State != o.state {
			t.Errorf("after a restart, GET /v1/model?name=%q: %d %s, want state %s", o.name, res.Status, res.Body, o.state)
		}
	}
}

// cellWant is what one cell of the state table must answer.
type cellWant struct {
	status int
	// body is the exact JSON object expected (nil when artifact is set).
	body func(name string) map[string]string
	// errHas, if set, lists substrings of the error message instead of an
	// exact body (for messages the seed does not fix).
	errHas func(name string) []string
	// artifact is the state of the artifact JSON answered by a 201.
	artifact string
	// after is the state afterwards; "" means the name stays unknown.
	after string
	// records are the actions recorded by this cell, appended to the
	// records of the steps that reached the state.
	records []string
	// unchanged: the artifact's JSON must be byte-identical afterwards.
	unchanged bool
}

func cellMoved(to string) cellWant {
	return cellWant{status: 200, after: to, records: []string{cellActionTo[to]},
		body: func(name string) map[string]string { return map[string]string{"status": to, "name": name} }}
}

// cellActionTo names the action that leads to a state.
var cellActionTo = map[string]string{"quarantined": "quarantine", "revoked": "revoke", "deleted": "delete", "trusted": "promote"}

func cellAlready(state string) cellWant {
	return cellWant{status: 200, after: state, unchanged: true,
		body: func(name string) map[string]string {
			return map[string]string{"status": "already_" + state, "name": name}
		}}
}

func cellRefused(state, format string) cellWant {
	return cellWant{status: 409, after: state, unchanged: true,
		body: func(name string) map[string]string { return map[string]string{"error": fmt.Sprintf(format, name)} }}
}

func cellPromoted() cellWant {
	return cellWant{status: 201, artifact: "trusted", after: "trusted", records: []string{"promote"}}
}

// nameTaken: acquiring an existing name is refused whatever its state, and
// the message names that state.
func cellNameTaken(state string) cellWant {
	return cellWant{status: 409, after: state, unchanged: true,
		errHas: func(name string) []string { return []string{strconv.Quote(name), "already", state} }}
}

func cellUnknown() cellWant {
	return cellWant{status: 404, body: func(string) map[string]string { return map[string]string{"error": "model not found"} }}
}

// check compares one answer with the cell and the artifact afterwards with
// the state it must be in. before is GET /v1/model from before the action.
func (w cellWant) check(t *testing.T, p v1probe, name string, res httpResult, before httpResult) {
	t.Helper()
	if res.Status != w.status {
		t.Fatalf("status %d, want %d; body %s", res.Status, w.status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	switch {
	case w.artifact != "":
		var a v1Artifact
		if err := json.Unmarshal(res.Body, &a); err != nil {
			t.Fatalf("body is not an artifact: %v: %s", err, res.Body)
		}
		if a.Name != name || a.State != w.artifact {
			t.Errorf("artifact name %q state %q, want %q %q: %s", a.Name, a.State, name, w.artifact, res.Body)
		}
		if got := p.get(t, name); got.Status == http.StatusOK && !sameArtifact(res.Body, got.Body) {
			t.Errorf("answered artifact differs from GET /v1/model:\n answered %s\n GET      %s", res.Body, got.Body)
		}
	case w.errHas != nil:
		msg := v1ErrorMessage(t, res)
		for _, s := range w.errHas(name) {
			if !strings.Contains(msg, s) {
				t.Errorf("error %q does not contain %q", msg, s)
			}
		}
	default:
		var got map[string]string
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatalf("body is not a JSON object of strings: %v: %s", err, res.Body)
		}
		if want := w.body(name); !reflect.DeepEqual(got, want) {
			t.Errorf("body %s, want %s", res.Body, v1JSON(t, want))
		}
	}

	after := p.get(t, name)
	if w.after == "" {
		if after.Status != http.StatusNotFound {
			t.Errorf("GET /v1/model afterwards: %d %s, want 404 (the name stays unknown)", after.Status, after.Body)
		}
		return
	}
	if after.Status != http.StatusOK {
		t.Fatalf("GET /v1/model afterwards: %d %s", after.Status, after.Body)
	}
	var a v1Artifact
	if err := json.Unmarshal(after.Body, &a); err != nil {
		t.Fatal(err)
	}
	if a.State != w.after {
		t.Errorf("state afterwards %q, want %q", a.State, w.after)
	}
	if w.unchanged && !bytes.Equal(before.Body, after.Body) {
		t.Errorf("a no-op or refusal changed the artifact:\n before %s\n after  %s", before.Body, after.Body)
	}
}

// v1probe drives the /v1 model API of one registry with the service token.
type v1probe struct{ r *registry }

// step performs one setup transition and fails the test unless it succeeds.
func (p v1probe) step(t *testing.T, action, name, filename string, data []byte) {
	t.Helper()
	var res httpResult
	want := http.StatusOK
	switch action {
	case "acquire":
		v1PutImport(t, p.r, filename, data)
		res, want = p.acquireImport(t, name, filename, v1SHA256(data), int64(len(data))), http.StatusCreated
	case "promote":
		res, want = p.promote(t, name, filename, v1SHA256(data), int64(len(data))), http.StatusCreated
	default:
		res = p.simple(t, action, name)
	}
	if res.Status != want {
		t.Fatalf("setup %s of %q: %d %s, want %d", action, name, res.Status, res.Body, want)
	}
	if action == "acquire" {
		// The per-tensor manifest is computed in the background; let it
		// land so it is not mistaken for a change made by the action
		// under test.
		deadline := time.Now().Add(30 * time.Second)
		for !bytes.Contains(p.get(t, name).Body, []byte(`"gguf_guard_manifest"`)) {
			if time.Now().After(deadline) {
				t.Fatalf("no per-tensor manifest for %q after 30s", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// acquireImport acquires a file of the import directory (JSON body).
func (p v1probe) acquireImport(t *testing.T, name, filename, sum string, size int64) httpResult {
	t.Helper()
	body := v1JSON(t, map[string]any{"name": name, "filename": filename, "sha256": sum, "size_bytes": size})
	return p.r.do(t, "POST", "/v1/model/acquire", body, true, map[string]string{"Content-Type": "application/json"})
}

// acquireStream acquires data sent as the request body.
func (p v1probe) acquireStream(t *testing.T, name, filename, sum string, size int64, data []byte) httpResult {
	t.Helper()
	q := url.Values{"name": {name}, "filename": {filename}, "sha256": {sum}, "size_bytes": {strconv.FormatInt(size, 10)}}
	return p.r.do(t, "POST", "/v1/model/acquire?"+q.Encode(), data, true, map[string]string{"Content-Type": "application/octet-stream"})
}

func (p v1probe) promote(t *testing.T, name, filename, sum string, size int64) httpResult {
	t.Helper()
	body := v1JSON(t, map[string]any{"name": name, "filename": filename, "sha256": sum, "size_bytes": size})
	return p.r.do(t, "POST", "/v1/model/promote", body, true, map[string]string{"Content-Type": "application/json"})
}

// simple sends quarantine, revoke or delete for name.
func (p v1probe) simple(t *testing.T, action, name string) httpResult {
	t.Helper()
	method := "POST"
	if action == "delete" {
		method = "DELETE"
	}
	return p.r.do(t, method, "/v1/model/"+action+"?name="+url.QueryEscape(name), nil, true, nil)
}

func (p v1probe) get(t *testing.T, name string) httpResult {
	t.Helper()
	return p.r.do(t, "GET", "/v1/model?name="+url.QueryEscape(name), nil, true, nil)
}

// list returns GET /v1/models, decoded.
func (p v1probe) list(t *testing.T) []v1Artifact {
	t.Helper()
	res := p.r.do(t, "GET", "/v1/models", nil, true, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v1/models: %d %s", res.Status, res.Body)
	}
	var out []v1Artifact
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("GET /v1/models: %v: %s", err, res.Body)
	}
	return out
}

// checkPath checks /v1/model/path (no token, as a runtime asks) against the
// seed table's "Path access" column: allowed only while trusted, and then
// the path's bytes are the artifact's.
func (p v1probe) checkPath(t *testing.T, name, state string, data []byte) {
	t.Helper()
	res := p.r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil)
	switch state {
	case "":
		if res.Status != http.StatusNotFound {
			t.Errorf("GET /v1/model/path of an unknown name: %d %s, want 404", res.Status, res.Body)
		}
	case "trusted":
		var info struct {
			Path      string `json:"path"`
			SHA256    string `json:"sha256"`
			SizeBytes int64  `json:"size_bytes"`
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &info) != nil {
			t.Fatalf("GET /v1/model/path of a trusted artifact: %d %s, want 200", res.Status, res.Body)
		}
		if info.SHA256 != v1SHA256(data) || info.SizeBytes != int64(len(data)) || !filepath.IsAbs(info.Path) {
			t.Errorf("GET /v1/model/path: %s, want an absolute path, sha256 %s, size %d", res.Body, v1SHA256(data), len(data))
		}
		sameFile(t, info.Path, data)
	default:
		if res.Status != http.StatusForbidden {
			t.Errorf("GET /v1/model/path of a %s artifact: %d %s, want 403", state, res.Status, res.Body)
			return
		}
		if msg := v1ErrorMessage(t, res); !strings.Contains(msg, state) {
			t.Errorf("GET /v1/model/path 403 message %q does not name the state %s", msg, state)
		}
	}
}

// checkHistory checks GET /v1/model/history: a verified chain whose records
// are exactly the actions in want, each linked to the one before, ending in
// state.
func (p v1probe) checkHistory(t *testing.T, name, state string, want []string) {
	t.Helper()
	res := p.r.do(t, "GET", "/v1/model/history?name="+url.QueryEscape(name), nil, true, nil)
	if state == "" {
		if res.Status != http.StatusNotFound {
			t.Errorf("GET /v1/model/history of an unknown name: %d %s, want 404", res.Status, res.Body)
		}
		return
	}
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v1/model/history: %d %s", res.Status, res.Body)
	}
	var h v1History
	if err := json.Unmarshal(res.Body, &h); err != nil {
		t.Fatalf("history: %v: %s", err, res.Body)
	}
	if h.Chain != "verified" || h.State != state || h.Name != name {
		t.Errorf("history name %q state %q chain %q (%s), want %q %q verified", h.Name, h.State, h.Chain, h.Error, name, state)
	}
	var got []string
	for _, rec := range h.Records {
		got = append(got, rec.Action)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history records %v, want %v (one per real transition)", got, want)
	}
	prev := v1Record{}
	for i, rec := range h.Records {
		if rec.Seq != i+1 || rec.Prev != prev.Digest || rec.From != prev.To || rec.Digest == "" || rec.Who == "" {
			t.Errorf("record %d (%s %s→%s seq %d prev %s) does not follow record %d (%s, to %s)", i+1, rec.Action, rec.From, rec.To, rec.Seq, rec.Prev, i, prev.Digest, prev.To)
		}
		prev = rec
	}
	if prev.To != state {
		t.Errorf("last record ends in %q, want %q", prev.To, state)
	}
}

// v1Artifact is the part of the artifact JSON these tests read.
type v1Artifact struct {
	Name         string `json:"name"`
	Format       string `json:"format"`
	Filename     string `json:"filename"`
	SHA256       string `json:"sha256"`
	SizeBytes    int64  `json:"size_bytes"`
	State        string `json:"state"`
	Digest       string `json:"digest"`
	OCIReference string `json:"oci_reference"`
}

type v1History struct {
	Name    string     `json:"name"`
	State   string     `json:"state"`
	Chain   string     `json:"chain"`
	Error   string     `json:"error"`
	Records []v1Record `json:"records"`
}

type v1Record struct {
	Digest string `json:"digest"`
	Seq    int    `json:"seq"`
	Action string `json:"action"`
	From   string `json:"from"`
	To     string `json:"to"`
	Who    string `json:"who"`
	Prev   string `json:"prev"`
}

// v1ErrorMessage checks that res is a /v1 error — Content-Type
// application/json and a body that is exactly {"error": "<non-empty>"} —
// and returns the message.
func v1ErrorMessage(t *testing.T, res httpResult) string {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want application/json (body %q)", ct, res.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Errorf("error body is not a JSON object: %v: %q", err, res.Body)
		return ""
	}
	msg, ok := body["error"].(string)
	if !ok || msg == "" || len(body) != 1 {
		t.Errorf("error body %s, want exactly {\"error\": \"<message>\"}", res.Body)
	}
	return msg
}

// oneTensorGGUF returns the reference's 160-byte GGUF (§12: one KV
// general.architecture=llama, one F32 tensor of 4 values) with the values
// first, first+1, first+2, first+3, so each caller can make distinct bytes.
func oneTensorGGUF(first float32) []byte {
	b := ggufF32Header(4)
	for i := range 4 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(first+float32(i)))
	}
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	return b
}

// ggufF32Header is the header of a GGUF v3 file with one KV
// (general.architecture=llama) and one F32 tensor of n values, padded to
// the 32-byte alignment where the tensor data starts.
func ggufF32Header(n uint64) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	u32 := func(v uint32) { b.Write(le.AppendUint32(nil, v)) }
	u64 := func(v uint64) { b.Write(le.AppendUint64(nil, v)) }
	str := func(s string) { u64(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	u32(3) // version
	u64(1) // tensor_count
	u64(1) // metadata_kv_count
	str("general.architecture")
	u32(8) // string
	str("llama")
	str("token_embd.weight")
	u32(1) // n_dims
	u64(n) // ne[0]
	u32(0) // GGML_TYPE_F32
	u64(0) // offset
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func v1SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func v1JSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v1PutImport writes data as name in the registry's import directory.
func v1PutImport(t *testing.T, r *registry, name string, data []byte) string {
	t.Helper()
	return writeFile(t, filepath.Join(r.Dir, "import"), name, data)
}

// v1StatImport writes data as name in the import directory and returns its
// file info, to recognise the inode later.
func v1StatImport(t *testing.T, r *registry, name string, data []byte) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(v1PutImport(t, r, name, data))
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// v1Tree describes every entry under the given subdirectories of dir:
// its type and, for regular files, a hash of the content; for symlinks, the
// target. Two equal snapshots mean nothing was added, removed or changed.
// The content of a repository's index.json and _index.log is left out: the
// store folds its journal into index.json in the background (through a
// temporary file), so their bytes change without any request; the logical
// content is compared through the API instead.
func v1Tree(t *testing.T, dir string, subdirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range subdirs {
		root := filepath.Join(dir, sub)
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if os.IsNotExist(err) && path == root {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			if strings.HasPrefix(d.Name(), ".index.json.tmp-") {
				return nil // the background fold, mid-rename
			}
			switch typ := d.Type(); {
			case typ.IsRegular() && (d.Name() == "index.json" || d.Name() == "_index.log"):
				out[rel] = "file (repository index)"
			case typ.IsRegular():
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				out[rel] = "file " + v1SHA256(b)
			case typ&os.ModeSymlink != 0:
				target, err := os.Readlink(path)
				if err != nil {
					return err
				}
				out[rel] = "symlink -> " + target
			case typ.IsDir():
				out[rel] = "dir"
			default:
				out[rel] = typ.String()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("snapshot of %s: %v", root, err)
		}
	}
	return out
}

// v1TreeDiff lists what differs between two tree snapshots.
func v1TreeDiff(before, after map[string]string) string {
	var d []string
	for k, v := range after {
		if w, ok := before[k]; !ok {
			d = append(d, "added "+k+" ("+v+")")
		} else if w != v {
			d = append(d, "changed "+k+" ("+w+" → "+v+")")
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			d = append(d, "removed "+k)
		}
	}
	return strings.Join(d, "; ")
}

// sameArtifact reports whether an answered artifact is the one GET
// /v1/model shows later. The per-tensor manifest is computed in the
// background after an artifact arrives, so the GET may carry it (and its
// fingerprint) when the answer, given earlier, did not; every other field
// must be identical.
func sameArtifact(answered, got []byte) bool {
	var a, g map[string]json.RawMessage
	if json.Unmarshal(answered, &a) != nil || json.Unmarshal(got, &g) != nil {
		return false
	}
	if _, ok := a["gguf_guard_manifest"]; !ok {
		delete(g, "gguf_guard_manifest")
		delete(g, "gguf_guard_fingerprint")
	}
	return reflect.DeepEqual(a, g)
}
