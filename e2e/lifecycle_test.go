package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The lifecycle of issue 3, through the real binary: /v2 pushes and /v1
// acquisitions start acquired, transitions are hash-chained OCI referrers,
// and without the token /v2 serves only what a runtime may load.

const (
	// lcRecordType is the artifactType of the registry's transition records.
	lcRecordType = "application/vnd.aimr.lifecycle.transition.v1+json"
	// lcModelPackType is the artifactType of artifacts created through /v1.
	lcModelPackType = "application/vnd.cncf.model.manifest.v1+json"
	// lcStatePrefix is the prefix of the index annotations caching state.
	lcStatePrefix = "dev.aimr.lifecycle."
	// lcTinyGGUFSHA256 is the sha256 of the 160-byte GGUF file of
	// /work/shared/reference/seed-and-formats.md §12 (lcGGUF(1, 2, 3, 4)).
	lcTinyGGUFSHA256 = "b65987353fd36e34641f22bb4a28addd954948d48cb5c0ee0f72e8acdd47a700"
	// lcTinySafetensorsSHA256 is the sha256 of the 84-byte safetensors file
	// of §13 (lcSafetensors()).
	lcTinySafetensorsSHA256 = "5860a1db541437c971bd2dde08494ecd24c70a0a6d5c2a81076cddbde9e4c503"
)

// lcStateAfter is the state each action leads to.
var lcStateAfter = map[string]string{
	"acquire":    "acquired",
	"quarantine": "quarantined",
	"promote":    "trusted",
	"revoke":     "revoked",
	"delete":     "deleted",
}

// lcArtifact is the /v1 artifact JSON (the fields these tests check).
type lcArtifact struct {
	Name         string `json:"name"`
	Format       string `json:"format"`
	Filename     string `json:"filename"`
	SHA256       string `json:"sha256"`
	SizeBytes    int64  `json:"size_bytes"`
	PromotedAt   string `json:"promoted_at"`
	State        string `json:"state"`
	Digest       string `json:"digest"`
	OCIReference string `json:"oci_reference"`
}

// lcRecord is one transition record as /v1/model/history shows it.
type lcRecord struct {
	Digest string    `json:"digest"`
	Seq    int       `json:"seq"`
	Action string    `json:"action"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Who    string    `json:"who"`
	Prev   string    `json:"prev"`
}

// lcHistory is the /v1/model/history answer.
type lcHistory struct {
	Name         string     `json:"name"`
	Digest       string     `json:"digest"`
	OCIReference string     `json:"oci_reference"`
	State        string     `json:"state"`
	Chain        string     `json:"chain"`
	Error        string     `json:"error"`
	Records      []lcRecord `json:"records"`
}

// lcPathInfo is the /v1/model/path answer.
type lcPathInfo struct {
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	SizeBytes int64  `json:"size_bytes"`
	Digest    string `json:"digest"`
	Directory string `json:"directory"`
}

func TestLifecycleOrasScenario(t *testing.T) {
	skipUnlessOurServer(t, "the lifecycle is ours")
	r := startRegistry(t)
	c := newCLI(t)
	gguf := lcGGUF(1, 2, 3, 4)
	sum := lcSHA256(gguf)
	if sum != lcTinyGGUFSHA256 || len(gguf) != 160 {
		t.Fatalf("test GGUF: %d bytes, sha256 %s; want the 160-byte reference file %s", len(gguf), sum, lcTinyGGUFSHA256)
	}
	writeFile(t, c.Dir, "tiny.gguf", gguf)
	const name, repo, tag = "demo/tiny:v1", "demo/tiny", "v1"
	ref := r.Ref(name)
	withToken := []string{"--plain-http", "-u", "any", "-p", r.Token}

	// oras push with the token: acquired, listed under its OCI reference.
	var pushed orasOutput
	decodeJSON(t, c.must("oras", append([]string{"push", "--format", "json", "--artifact-type", modelType, ref,
		"tiny.gguf:application/vnd.example.gguf.v3"}, withToken...)...), &pushed)
	a := lcFind(t, lcModels(t, r), name)
	if a.State != "acquired" || a.Digest != pushed.Digest || a.OCIReference != name || a.Filename != "tiny.gguf" ||
		a.SHA256 != sum || a.SizeBytes != int64(len(gguf)) || a.Format != "gguf" {
		t.Errorf("GET /v1/models after oras push: %+v; want %s acquired, digest %s, tiny.gguf, gguf, sha256 %s, 160 bytes", a, name, pushed.Digest, sum)
	}
	lcCheckChain(t, lcHistoryOf(t, r, name), "acquire")

	// Anonymous callers get nothing of it; neither after quarantine.
	lcRefusedAnonymously(t, r, c, "acquired", repo, tag, pushed.Digest)
	lcTransition(t, r, "quarantine", name, http.StatusOK, "quarantined")
	lcRefusedAnonymously(t, r, c, "quarantined", repo, tag, pushed.Digest)

	// The scanning pipeline pulls it with the token.
	scan := t.TempDir()
	c.must("oras", append([]string{"pull", "-o", scan, ref}, withToken...)...)
	sameFile(t, filepath.Join(scan, "tiny.gguf"), gguf)

	// Promote: an anonymous oras pull and /v1/model/path work.
	p := lcPromote(t, r, map[string]any{"name": name, "sha256": sum, "filename": "tiny.gguf",
		"scan_results": map[string]string{"modelscan": "clean"}}, http.StatusCreated)
	if p.State != "trusted" || p.Digest != pushed.Digest {
		t.Fatalf("promote answered %+v, want trusted %s", p, pushed.Digest)
	}
	anon := t.TempDir()
	c.must("oras", "pull", "--plain-http", "-o", anon, ref)
	sameFile(t, filepath.Join(anon, "tiny.gguf"), gguf)
	path := lcRuntimePath(t, r, name, gguf)
	if path.Digest != pushed.Digest {
		t.Errorf("/v1/model/path digest %s, want %s", path.Digest, pushed.Digest)
	}

	// Revoke: refused at once, on the very next requests.
	lcTransition(t, r, "revoke", name, http.StatusOK, "revoked")
	if res := r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil); res.Status != http.StatusForbidden {
		t.Errorf("GET /v1/model/path right after the revoke: %d %s, want 403", res.Status, res.Body)
	}
	lcRefusedAnonymously(t, r, c, "revoked", repo, tag, pushed.Digest)
	if path.Directory != "" {
		if _, err := os.Lstat(path.Directory); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("runtime directory %s still there after the revoke (%v)", path.Directory, err)
		}
	}

	// Delete: the bytes are gone, metadata and the whole history stay.
	lcTransition(t, r, "delete", name, http.StatusOK, "deleted")
	if _, err := os.Lstat(path.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("blob %s still on disk after the delete (%v)", path.Path, err)
	}
	if _, err := os.Lstat(lcLayoutBlob(r, repo, sum)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("repository blob %s still on disk after the delete (%v)", lcLayoutBlob(r, repo, sum), err)
	}
	if res := r.do(t, "GET", "/v2/"+repo+"/blobs/sha256:"+sum, nil, true, nil); res.Status != http.StatusNotFound {
		t.Errorf("GET the deleted layer with the token: %d, want 404", res.Status)
	}
	if m := lcModel(t, r, name); m.State != "deleted" || m.SHA256 != sum || m.Digest != pushed.Digest || m.Filename != "tiny.gguf" {
		t.Errorf("GET /v1/model after the delete: %+v; want deleted with its metadata kept", m)
	}
	h := lcHistoryOf(t, r, name)
	lcCheckChain(t, h, "acquire", "quarantine", "promote", "revoke", "delete")
	for _, rec := range h.Records {
		if !strings.HasPrefix(rec.Who, "token:") {
			t.Errorf("record %d: who %q, want the token's fingerprint (token:...)", rec.Seq, rec.Who)
		}
	}

	// oras discover (with the token) shows the same records.
	var d orasDiscover
	decodeJSON(t, c.must("oras", append([]string{"discover", "--format", "json", "--distribution-spec", "v1.1-referrers-api", ref}, withToken...)...), &d)
	var discovered, recorded []string
	for _, ref := range d.Referrers {
		if ref.ArtifactType == lcRecordType {
			discovered = append(discovered, ref.Digest)
		}
	}
	for _, rec := range h.Records {
		recorded = append(recorded, rec.Digest)
	}
	slices.Sort(discovered)
	slices.Sort(recorded)
	if !slices.Equal(discovered, recorded) {
		t.Errorf("oras discover lists records %v; the history has %v", discovered, recorded)
	}
}

func TestAcquireImportAndStream(t *testing.T) {
	skipUnlessOurServer(t, "the lifecycle is ours")
	r := startRegistry(t)
	c := newCLI(t)
	withToken := []string{"--plain-http", "-u", "any", "-p", r.Token}

	// (a) A file placed in the import directory is moved, not copied.
	gguf := lcGGUF(1, 2, 3, 4)
	sum := lcSHA256(gguf)
	importPath := writeFile(t, filepath.Join(r.Dir, "import"), "x.gguf", gguf)
	before, err := os.Stat(importPath)
	if err != nil {
		t.Fatal(err)
	}
	const phi = "Phi-3 Mini 3.8B (Q4_K_M)"
	res := lcJSON(t, r, "POST", "/v1/model/acquire", map[string]any{"name": phi, "filename": "x.gguf", "sha256": sum, "size_bytes": len(gguf)}, true)
	a := lcDecode[lcArtifact](t, res, http.StatusCreated)
	if a.Name != phi || a.State != "acquired" || a.OCIReference != "models/phi-3-mini-3-8b-q4-k-m:latest" ||
		a.Filename != "x.gguf" || a.SHA256 != sum || a.SizeBytes != int64(len(gguf)) || a.Format != "gguf" {
		t.Errorf("acquire from the import directory: %+v; want %q acquired as models/phi-3-mini-3-8b-q4-k-m:latest", a, phi)
	}
	if _, err := os.Lstat(importPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("import file %s still there after the acquire (%v)", importPath, err)
	}
	if stored, err := os.Stat(lcLayoutBlob(r, "models/phi-3-mini-3-8b-q4-k-m", sum)); err != nil || !os.SameFile(before, stored) {
		t.Errorf("stored blob is not the imported file's inode (moved without copying): %v", err)
	}
	lcCheckChain(t, lcHistoryOf(t, r, phi), "acquire")
	out := t.TempDir()
	c.must("oras", append([]string{"pull", "-o", out, r.Ref(a.OCIReference)}, withToken...)...)
	sameFile(t, filepath.Join(out, "x.gguf"), gguf)
	var m ocispec.Manifest
	decodeJSON(t, c.must("oras", append([]string{"manifest", "fetch", r.Ref(a.OCIReference)}, withToken...)...), &m)
	if m.ArtifactType != lcModelPackType || len(m.Layers) != 1 || m.Layers[0].Digest.Encoded() != sum ||
		m.Layers[0].Annotations["org.cncf.model.filepath"] != "x.gguf" || m.Layers[0].Annotations[ocispec.AnnotationTitle] != "x.gguf" {
		t.Errorf("manifest of %s: %+v; want a ModelPack artifact with one layer x.gguf (%s)", a.OCIReference, m, sum)
	}

	// (b) A file streamed in the request body.
	st := lcSafetensors()
	stSum := lcSHA256(st)
	if stSum != lcTinySafetensorsSHA256 {
		t.Fatalf("test safetensors file hashes to %s, want the reference %s", stSum, lcTinySafetensorsSHA256)
	}
	const streamed = "Tiny Safetensors"
	b := lcAcquireStream(t, r, streamed, "y.safetensors", st)
	if b.State != "acquired" || b.OCIReference != "models/tiny-safetensors:latest" || b.Format != "safetensors" ||
		b.Filename != "y.safetensors" || b.SHA256 != stSum || b.SizeBytes != int64(len(st)) {
		t.Errorf("streamed acquire: %+v; want acquired models/tiny-safetensors:latest, safetensors, y.safetensors, %s", b, stSum)
	}
	out = t.TempDir()
	c.must("oras", append([]string{"pull", "-o", out, r.Ref(b.OCIReference)}, withToken...)...)
	sameFile(t, filepath.Join(out, "y.safetensors"), st)

	// A name that exists is never acquired again, whatever its state.
	writeFile(t, filepath.Join(r.Dir, "import"), "again.gguf", lcGGUF(5, 6, 7, 8))
	again := map[string]any{"name": phi, "filename": "again.gguf", "sha256": lcSHA256(lcGGUF(5, 6, 7, 8))}
	lcRefusedAcquire(t, r, again, "acquired")
	lcTransition(t, r, "delete", streamed, http.StatusOK, "deleted")
	lcRefusedAcquire(t, r, map[string]any{"name": streamed, "filename": "again.gguf", "sha256": lcSHA256(lcGGUF(5, 6, 7, 8))}, "deleted")
	if m := lcModel(t, r, phi); m.Digest != a.Digest || m.State != "acquired" {
		t.Errorf("refused re-acquire changed %q: %+v", phi, m)
	}

	// (c) The seed's quick start: promoting a file that was never acquired
	// acquires and promotes it in one step.
	quick := lcGGUF(9, 10, 11, 12)
	writeFile(t, filepath.Join(r.Dir, "import"), "z.gguf", quick)
	q := lcPromote(t, r, map[string]any{"name": "Quick Start", "filename": "z.gguf", "sha256": lcSHA256(quick), "size_bytes": len(quick)}, http.StatusCreated)
	if q.State != "trusted" || q.SHA256 != lcSHA256(quick) || q.OCIReference != "models/quick-start:latest" {
		t.Errorf("one-step promote: %+v; want trusted models/quick-start:latest", q)
	}
	lcCheckChain(t, lcHistoryOf(t, r, "Quick Start"), "acquire", "promote")
	lcRuntimePath(t, r, "Quick Start", quick)
}

// TestDeleteRemovesBytes deletes an artifact from each state that allows
// it and checks that its bytes are gone from disk — the repository's blob,
// the pool copy whose path /v1/model/path handed to runtimes, and the
// runtime directory — while its metadata and history stay.
func TestDeleteRemovesBytes(t *testing.T) {
	skipUnlessOurServer(t, "the lifecycle is ours")
	r := startRegistry(t)
	for i, from := range []string{"acquired", "quarantined", "trusted", "revoked"} {
		name := "Delete From " + from
		data := lcGGUF(float32(i), 42, 43, 44)
		sum := lcSHA256(data)
		a := lcAcquireStream(t, r, name, "m.gguf", data)
		repo, _, _ := strings.Cut(a.OCIReference, ":")
		var runtimeDir string
		switch from {
		case "quarantined":
			lcTransition(t, r, "quarantine", name, http.StatusOK, "quarantined")
		case "trusted", "revoked":
			lcPromote(t, r, map[string]any{"name": name, "sha256": sum}, http.StatusCreated)
			runtimeDir = lcRuntimePath(t, r, name, data).Directory
			if from == "revoked" {
				lcTransition(t, r, "revoke", name, http.StatusOK, "revoked")
			}
		}
		lcTransition(t, r, "delete", name, http.StatusOK, "deleted")
		for _, p := range []string{lcLayoutBlob(r, repo, sum), filepath.Join(r.Dir, "pool", "sha256", sum), runtimeDir} {
			if _, err := os.Lstat(p); p != "" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("deleted from %s: %s is still on disk (%v)", from, p, err)
			}
		}
		if m := lcModel(t, r, name); m.State != "deleted" || m.SHA256 != sum || m.Digest != a.Digest {
			t.Errorf("deleted from %s: /v1/model shows %+v, want deleted with its metadata", from, m)
		}
		actions := map[string][]string{"acquired": {"acquire", "delete"}, "quarantined": {"acquire", "quarantine", "delete"},
			"trusted": {"acquire", "promote", "delete"}, "revoked": {"acquire", "promote", "revoke", "delete"}}[from]
		lcCheckChain(t, lcHistoryOf(t, r, name), actions...)
	}
}

// TestStateRebuiltFromRecords removes (then falsifies) the cached state in
// every index.json and checks that the registry rebuilds it from the
// transition records: /v1 shows the same artifacts, and the runtime gate
// (which reads the cache) lets anonymous callers read only the trusted one.
func TestStateRebuiltFromRecords(t *testing.T) {
	skipUnlessOurServer(t, "the lifecycle is ours")
	r := startRegistry(t)

	// One artifact per state, through /v2 and through /v1.
	files := map[string][]byte{}
	for i, name := range []string{"rb/acquired:v1", "rb/trusted:v1", "rb/deleted:v1", "Rebuild Quarantined", "Rebuild Revoked"} {
		data := lcGGUF(float32(i), 1, 2, 3)
		files[name] = data
		if strings.Contains(name, ":") {
			repo, tag, _ := strings.Cut(name, ":")
			lcPushGGUF(t, r, repo, tag, "model.gguf", data)
		} else {
			lcAcquireStream(t, r, name, "model.gguf", data)
		}
	}
	lcTransition(t, r, "quarantine", "rb/trusted:v1", http.StatusOK, "quarantined")
	lcPromote(t, r, map[string]any{"name": "rb/trusted:v1", "sha256": lcSHA256(files["rb/trusted:v1"])}, http.StatusCreated)
	lcTransition(t, r, "delete", "rb/deleted:v1", http.StatusOK, "deleted")
	lcTransition(t, r, "quarantine", "Rebuild Quarantined", http.StatusOK, "quarantined")
	lcPromote(t, r, map[string]any{"name": "Rebuild Revoked", "sha256": lcSHA256(files["Rebuild Revoked"])}, http.StatusCreated)
	lcTransition(t, r, "revoke", "Rebuild Revoked", http.StatusOK, "revoked")

	want := lcModels(t, r)
	states := map[string]string{}
	histories := map[string]lcHistory{}
	for _, a := range want {
		states[a.Name] = a.State
		histories[a.Name] = lcHistoryOf(t, r, a.Name)
	}
	if !reflect.DeepEqual(states, map[string]string{"rb/acquired:v1": "acquired", "rb/trusted:v1": "trusted", "rb/deleted:v1": "deleted",
		"Rebuild Quarantined": "quarantined", "Rebuild Revoked": "revoked"}) {
		t.Fatalf("setup: states %v, want one artifact in each of the five states", states)
	}

	check := func(when string) {
		t.Helper()
		if got := lcModels(t, r); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: GET /v1/models\n got %+v\nwant %+v", when, got, want)
		}
		for _, a := range want {
			h := lcHistoryOf(t, r, a.Name)
			if h.Chain != "verified" || !reflect.DeepEqual(h, histories[a.Name]) {
				t.Errorf("%s: history of %q changed or does not verify:\n got %+v\nwant %+v", when, a.Name, h, histories[a.Name])
			}
			repo, _, _ := strings.Cut(a.OCIReference, ":")
			res := r.do(t, "GET", "/v2/"+repo+"/manifests/"+a.Digest, nil, false, map[string]string{"Accept": ocispec.MediaTypeImageManifest})
			path := r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(a.Name), nil, false, nil)
			if a.State == "trusted" {
				if res.Status != http.StatusOK || digest.FromBytes(res.Body).String() != a.Digest || path.Status != http.StatusOK {
					t.Errorf("%s: trusted %q: anonymous GET manifest %d, /v1/model/path %d; want 200 and 200", when, a.Name, res.Status, path.Status)
				}
			} else if res.Status != http.StatusUnauthorized || path.Status != http.StatusForbidden {
				t.Errorf("%s: %s %q: anonymous GET manifest %d, /v1/model/path %d; want 401 and 403", when, a.State, a.Name, res.Status, path.Status)
			}
		}
		var health struct {
			Models int            `json:"model_count"`
			States map[string]int `json:"state_counts"`
		}
		decodeJSON(t, string(r.do(t, "GET", "/health", nil, false, nil).Body), &health)
		wantCounts := map[string]int{"acquired": 1, "quarantined": 1, "trusted": 1, "revoked": 1, "deleted": 1}
		if health.Models != 5 || !reflect.DeepEqual(health.States, wantCounts) {
			t.Errorf("%s: /health counts %d %v, want 5 %v", when, health.Models, health.States, wantCounts)
		}
	}

	// 1. The cache removed: every state comes back from the records.
	r.Stop()
	removed := lcRewriteIndexes(t, r, func(_ string, ann map[string]string) {
		for k := range ann {
			if strings.HasPrefix(k, lcStatePrefix) {
				delete(ann, k)
			}
		}
	})
	if removed == 0 {
		t.Fatal("found no lifecycle annotations to remove: the test proves nothing")
	}
	r.start()
	check("after removing the cached state")
	r.Stop()
	lcCheckCachedState(t, r, want, histories)

	// 2. The cache falsified (everything "trusted", heads pointing
	// nowhere): the records still win.
	lcRewriteIndexes(t, r, func(_ string, ann map[string]string) {
		ann[lcStatePrefix+"state"] = "trusted"
		ann[lcStatePrefix+"head"] = digest.FromString("forged").String()
	})
	r.start()
	check("after falsifying the cached state")
	r.Stop()
	lcCheckCachedState(t, r, want, histories)
}

// lcRewriteIndexes applies edit to the annotations of every descriptor in
// every repository's index.json (the registry must be stopped) and returns
// how many lifecycle annotations there were before.
func lcRewriteIndexes(t *testing.T, r *registry, edit func(d string, ann map[string]string)) int {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(filepath.Join(r.Dir, "repos"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Name() == "index.json" && filepath.Base(filepath.Dir(p)) == "_layout" {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil || len(paths) == 0 {
		t.Fatalf("no index.json under %s/repos (%v)", r.Dir, err)
	}
	count := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var index map[string]any
		if err := json.Unmarshal(b, &index); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		descs, _ := index["manifests"].([]any)
		for _, d := range descs {
			desc := d.(map[string]any)
			ann := map[string]string{}
			if raw, ok := desc["annotations"].(map[string]any); ok {
				for k, v := range raw {
					ann[k] = v.(string)
					if strings.HasPrefix(k, lcStatePrefix) {
						count++
					}
				}
			}
			edit(desc["digest"].(string), ann)
			if len(ann) == 0 {
				delete(desc, "annotations")
			} else {
				desc["annotations"] = ann
			}
		}
		out, err := json.Marshal(index)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, out, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return count
}

// lcCheckCachedState checks, with the registry stopped, that index.json
// caches each artifact's state and newest record again.
func lcCheckCachedState(t *testing.T, r *registry, arts []lcArtifact, histories map[string]lcHistory) {
	t.Helper()
	for _, a := range arts {
		repo, _, _ := strings.Cut(a.OCIReference, ":")
		b, err := os.ReadFile(filepath.Join(r.Dir, "repos", filepath.FromSlash(repo), "_layout", "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		var index ocispec.Index
		decodeJSON(t, string(b), &index)
		i := slices.IndexFunc(index.Manifests, func(d ocispec.Descriptor) bool { return d.Digest.String() == a.Digest })
		if i < 0 {
			t.Errorf("%s: %s not in index.json", a.Name, a.Digest)
			continue
		}
		recs := histories[a.Name].Records
		ann := index.Manifests[i].Annotations
		if ann[lcStatePrefix+"state"] != a.State || ann[lcStatePrefix+"head"] != recs[len(recs)-1].Digest {
			t.Errorf("%s: cached state %q head %q, want %q and %q", a.Name, ann[lcStatePrefix+"state"], ann[lcStatePrefix+"head"], a.State, recs[len(recs)-1].Digest)
		}
	}
}

// lcRefusedAnonymously checks that an anonymous runtime can read nothing
// of repo:tag (manifest digest d): raw /v2 reads answer 401 with the Basic
// challenge, oras pull fails and writes no file, /v1/model/path is 403.
func lcRefusedAnonymously(t *testing.T, r *registry, c *cli, state, repo, tag, d string) {
	t.Helper()
	for _, path := range []string{"/v2/" + repo + "/manifests/" + tag, "/v2/" + repo + "/manifests/" + d} {
		res := r.do(t, "GET", path, nil, false, map[string]string{"Accept": ocispec.MediaTypeImageManifest})
		if res.Status != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Basic realm="ai-model-registry"`) {
			t.Errorf("%s: anonymous GET %s: %d, WWW-Authenticate %q; want 401 with the Basic challenge", state, path, res.Status, res.Header.Get("WWW-Authenticate"))
		}
	}
	out := t.TempDir()
	if res := c.run("oras", "pull", "--plain-http", "-o", out, r.Ref(repo+":"+tag)); res.Code == 0 {
		t.Errorf("%s: anonymous oras pull succeeded, want it refused: %s", state, res)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("%s: refused anonymous oras pull wrote %d files", state, len(entries))
	}
	if res := r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(repo+":"+tag), nil, false, nil); res.Status != http.StatusForbidden {
		t.Errorf("%s: anonymous GET /v1/model/path: %d %s, want 403", state, res.Status, res.Body)
	}
}

// lcRuntimePath asks /v1/model/path (anonymously, as a runtime) for a
// trusted artifact whose primary file is want, and checks that the path is
// absolute, read-only and holds exactly those bytes.
func lcRuntimePath(t *testing.T, r *registry, name string, want []byte) lcPathInfo {
	t.Helper()
	res := r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil)
	p := lcDecode[lcPathInfo](t, res, http.StatusOK)
	if !filepath.IsAbs(p.Path) || p.SHA256 != lcSHA256(want) || p.SizeBytes != int64(len(want)) {
		t.Errorf("/v1/model/path of %q: %+v; want an absolute path, sha256 %s, %d bytes", name, p, lcSHA256(want), len(want))
	}
	for _, path := range []string{p.Path, p.Directory} {
		if path == "" {
			continue
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Errorf("/v1/model/path of %q: %v", name, err)
			continue
		}
		if fi.Mode().Perm()&0o222 != 0 {
			t.Errorf("/v1/model/path of %q: %s has mode %s, want no write bits", name, path, fi.Mode())
		}
	}
	if got, err := lcFileSHA256(p.Path); err != nil || got != lcSHA256(want) {
		t.Errorf("/v1/model/path of %q: %s hashes to %s (%v), want %s", name, p.Path, got, err, lcSHA256(want))
	}
	return p
}

// lcRefusedAcquire checks that acquiring an existing name is refused with
// 409 and a JSON error naming the current state.
func lcRefusedAcquire(t *testing.T, r *registry, req map[string]any, state string) {
	t.Helper()
	res := lcJSON(t, r, "POST", "/v1/model/acquire", req, true)
	var e struct {
		Error string `json:"error"`
	}
	if res.Status != http.StatusConflict || json.Unmarshal(res.Body, &e) != nil || !strings.Contains(e.Error, state) {
		t.Errorf("acquiring the existing name %q (%s): %d %s; want 409 with a JSON error naming %q", req["name"], state, res.Status, res.Body, state)
	}
}

// lcJSON sends a /v1 request with a JSON body (nil for none).
func lcJSON(t *testing.T, r *registry, method, path string, body any, auth bool) httpResult {
	t.Helper()
	var b []byte
	hdr := map[string]string{}
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		hdr["Content-Type"] = "application/json"
	}
	return r.do(t, method, path, b, auth, hdr)
}

// lcDecode checks the status of a /v1 answer and decodes its body.
func lcDecode[T any](t *testing.T, res httpResult, status int) T {
	t.Helper()
	var v T
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("decoding %T from %s: %v", v, res.Body, err)
	}
	return v
}

func lcModels(t *testing.T, r *registry) []lcArtifact {
	t.Helper()
	return lcDecode[[]lcArtifact](t, r.do(t, "GET", "/v1/models", nil, true, nil), http.StatusOK)
}

func lcModel(t *testing.T, r *registry, name string) lcArtifact {
	t.Helper()
	return lcDecode[lcArtifact](t, r.do(t, "GET", "/v1/model?name="+url.QueryEscape(name), nil, true, nil), http.StatusOK)
}

func lcHistoryOf(t *testing.T, r *registry, name string) lcHistory {
	t.Helper()
	res := r.do(t, "GET", "/v1/model/history?name="+url.QueryEscape(name), nil, true, nil)
	if bytes.Contains(res.Body, []byte(r.Token)) {
		t.Errorf("history of %q contains the service token", name)
	}
	return lcDecode[lcHistory](t, res, http.StatusOK)
}

func lcFind(t *testing.T, list []lcArtifact, name string) lcArtifact {
	t.Helper()
	i := slices.IndexFunc(list, func(a lcArtifact) bool { return a.Name == name })
	if i < 0 {
		t.Fatalf("GET /v1/models does not list %q: %+v", name, list)
	}
	return list[i]
}

// lcTransition runs quarantine, revoke or delete and checks the answer.
func lcTransition(t *testing.T, r *registry, action, name string, status int, wantStatus string) {
	t.Helper()
	method := "POST"
	if action == "delete" {
		method = "DELETE"
	}
	res := r.do(t, method, "/v1/model/"+action+"?name="+url.QueryEscape(name), nil, true, nil)
	var got struct {
		Status string `json:"status"`
		Name   string `json:"name"`
	}
	if res.Status != status || json.Unmarshal(res.Body, &got) != nil || got.Status != wantStatus || got.Name != name {
		t.Fatalf("%s %q: %d %s; want %d with status %q", action, name, res.Status, res.Body, status, wantStatus)
	}
}

func lcPromote(t *testing.T, r *registry, req map[string]any, status int) lcArtifact {
	t.Helper()
	res := lcJSON(t, r, "POST", "/v1/model/promote", req, true)
	if res.Status != status {
		t.Fatalf("promote %v: %d %s, want %d", req, res.Status, res.Body, status)
	}
	var a lcArtifact
	_ = json.Unmarshal(res.Body, &a)
	return a
}

// lcAcquireStream acquires data by streaming it in the request body.
func lcAcquireStream(t *testing.T, r *registry, name, filename string, data []byte) lcArtifact {
	t.Helper()
	q := url.Values{"name": {name}, "filename": {filename}, "sha256": {lcSHA256(data)}, "size_bytes": {strconv.Itoa(len(data))}}
	res := r.do(t, "POST", "/v1/model/acquire?"+q.Encode(), data, true, map[string]string{"Content-Type": "application/octet-stream"})
	return lcDecode[lcArtifact](t, res, http.StatusCreated)
}

// lcPushGGUF pushes data as repo:tag over raw /v2, an artifact with one
// titled layer, and returns the manifest digest.
func lcPushGGUF(t *testing.T, r *registry, repo, tag, title string, data []byte) digest.Digest {
	t.Helper()
	m, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: modelType,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: r.pushBlob(t, repo, []byte("{}")), Size: 2},
		Layers: []ocispec.Descriptor{{MediaType: "application/vnd.example.gguf.v3", Digest: r.pushBlob(t, repo, data), Size: int64(len(data)),
			Annotations: map[string]string{ocispec.AnnotationTitle: title}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.pushManifest(t, repo, tag, ocispec.MediaTypeImageManifest, m)
}

// lcCheckChain checks a history: chain verified, exactly the given actions
// in order, sequence numbers 1..n, each record starting where the previous
// one ended and naming its digest as prev, and the state the last one's.
func lcCheckChain(t *testing.T, h lcHistory, actions ...string) {
	t.Helper()
	got := make([]string, len(h.Records))
	for i, rec := range h.Records {
		got[i] = rec.Action
	}
	if h.Chain != "verified" || h.Error != "" || !slices.Equal(got, actions) || len(actions) == 0 {
		t.Errorf("history of %q: chain %q (%s), actions %v; want verified %v", h.Name, h.Chain, h.Error, got, actions)
		return
	}
	seen := map[string]bool{}
	for i, rec := range h.Records {
		from, prev := "", ""
		if i > 0 {
			from, prev = h.Records[i-1].To, h.Records[i-1].Digest
		}
		if rec.Seq != i+1 || rec.To != lcStateAfter[rec.Action] || rec.From != from || rec.Prev != prev || rec.Digest == "" || seen[rec.Digest] || rec.At.IsZero() {
			t.Errorf("history of %q, record %d: %+v; want seq %d, %s from %q to %q, prev %q, a fresh digest and a time", h.Name, i+1, rec, i+1, rec.Action, from, lcStateAfter[rec.Action], prev)
		}
		if i > 0 && rec.At.Before(h.Records[i-1].At) {
			t.Errorf("history of %q: record %d is older than record %d", h.Name, i+1, i)
		}
		seen[rec.Digest] = true
	}
	if last := h.Records[len(h.Records)-1]; h.State != last.To {
		t.Errorf("history of %q: state %q, but the last record ends in %q", h.Name, h.State, last.To)
	}
}

// lcLayoutBlob is where repo keeps blob sha256:hex in its OCI layout.
func lcLayoutBlob(r *registry, repo, hex string) string {
	return filepath.Join(r.Dir, "repos", filepath.FromSlash(repo), "_layout", "blobs", "sha256", hex)
}

func lcSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func lcFileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lcGGUFHeader is a GGUF v3 header with general.architecture = "llama" and
// one F32 tensor token_embd.weight of n elements at offset 0, padded to the
// 32-byte alignment: the tensor data follows it directly.
func lcGGUFHeader(n uint64) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	put := func(v any) { _ = binary.Write(&b, le, v) }
	str := func(s string) { put(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	put(uint32(3)) // version
	put(uint64(1)) // tensor_count
	put(uint64(1)) // metadata_kv_count
	str("general.architecture")
	put(uint32(8)) // string
	str("llama")
	str("token_embd.weight")
	put(uint32(1)) // n_dims
	put(n)         // ne[0]
	put(uint32(0)) // GGML_TYPE_F32
	put(uint64(0)) // offset
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// lcGGUF is a small valid GGUF file holding values as its one tensor;
// lcGGUF(1, 2, 3, 4) is the 160-byte reference file.
func lcGGUF(values ...float32) []byte {
	var b bytes.Buffer
	b.Write(lcGGUFHeader(uint64(len(values))))
	_ = binary.Write(&b, binary.LittleEndian, values)
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// lcSafetensors is the 84-byte safetensors file of the crate's doc test.
func lcSafetensors() []byte {
	header := `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, 16)...)
}
