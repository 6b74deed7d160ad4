package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestCrashConsistency kills the registry with SIGKILL at random moments
// while a client pushes artifacts and streams a large upload, restarts it,
// and checks that everything acknowledged before the kill is served intact,
// that the interrupted upload never becomes visible and is cleaned up, and
// that the restarted registry still passes the conformance suite.
func TestCrashConsistency(t *testing.T) {
	skipUnlessOurServer(t, "crane's registry keeps data in memory")
	r := startRegistry(t, "UPLOAD_MAX_AGE=4s")
	firstManifest, firstLayerDigest, firstLayer := pushImage(t, r, "crash/first", "v1")
	firstBody := r.do(t, "GET", "/v2/crash/first/manifests/v1", nil, true, nil).Body

	acked := map[string]ackedArtifact{} // tag -> what the registry acknowledged
	var halfUploads []string
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 4 {
		p := &pusher{r: r, round: round}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); p.pushLoop() }()
		loc := make(chan string, 1)
		go func() { defer wg.Done(); p.streamHalfUpload(loc) }()
		halfUploads = append(halfUploads, <-loc)

		time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond)
		r.Kill()
		wg.Wait()
		for tag, a := range p.acked {
			acked[tag] = a
		}
		t.Logf("round %d: killed after %d acknowledged artifacts", round, len(p.acked))
		r.Restart()

		check := r.do(t, "GET", "/v2/crash/first/manifests/v1", nil, true, nil)
		if check.Status != http.StatusOK || !bytes.Equal(check.Body, firstBody) || check.Header.Get("Docker-Content-Digest") != firstManifest.String() {
			t.Fatalf("round %d: first artifact damaged: %d", round, check.Status)
		}
		if b := r.do(t, "GET", "/v2/crash/first/blobs/"+firstLayerDigest.String(), nil, true, nil); !bytes.Equal(b.Body, firstLayer) {
			t.Fatalf("round %d: first artifact's layer damaged", round)
		}
		for tag, a := range acked {
			res := r.do(t, "GET", "/v2/crash/loop/manifests/"+tag, nil, true, nil)
			if res.Status != http.StatusOK || digest.FromBytes(res.Body) != a.manifest {
				t.Fatalf("round %d: acknowledged %s lost: %d", round, tag, res.Status)
			}
			// It is acquired, with its record, so anonymous reads are refused.
			if anon := r.do(t, "GET", "/v2/crash/loop/manifests/"+tag, nil, false, nil); anon.Status != http.StatusUnauthorized {
				t.Fatalf("round %d: anonymous GET of acknowledged %s: %d, want 401", round, tag, anon.Status)
			}
			if b := r.do(t, "GET", "/v2/crash/loop/blobs/"+a.layer.String(), nil, true, nil); digest.FromBytes(b.Body) != a.layer {
				t.Fatalf("round %d: layer of acknowledged %s lost: %d", round, tag, b.Status)
			}
		}
		// Each is listed by /v1 as acquired: its record landed with it.
		listed := map[string]lcArtifact{}
		for _, a := range lcModels(t, r) {
			listed[a.Name] = a
		}
		for tag, a := range acked {
			if got := listed["crash/loop:"+tag]; got.State != "acquired" || got.Digest != a.manifest.String() {
				t.Fatalf("round %d: /v1/models shows acknowledged %s as %+v, want acquired %s", round, tag, got, a.manifest)
			}
		}
		if blobs, _ := os.ReadDir(filepath.Join(r.Dir, "repos/crash/big/_layout/blobs/sha256")); len(blobs) != 0 {
			t.Fatalf("round %d: interrupted upload visible as a blob: %v", round, blobs)
		}
		// The unacknowledged PATCH left no bytes behind in its session.
		if st := r.do(t, "GET", halfUploads[round], nil, true, nil); st.Status == http.StatusNoContent && st.Header.Get("Range") != "0-0" {
			t.Fatalf("round %d: interrupted upload kept unacknowledged bytes: Range %q", round, st.Header.Get("Range"))
		}
	}
	if len(acked) == 0 {
		t.Fatal("no artifact was acknowledged before any kill; the test proved nothing")
	}
	for tag := range acked {
		lcCheckChain(t, lcHistoryOf(t, r, "crash/loop:"+tag), "acquire")
	}

	// Interrupted sessions are removed once UPLOAD_MAX_AGE passes.
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(r.Dir, "uploads"))
		gone := len(entries) == 0
		for _, loc := range halfUploads {
			gone = gone && r.do(t, "GET", loc, nil, true, nil).Status == http.StatusNotFound
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("interrupted uploads not cleaned up: %d session dirs left", len(entries))
		}
		time.Sleep(250 * time.Millisecond)
	}
	runConformance(t, r)
}

type ackedArtifact struct{ manifest, layer digest.Digest }

// pusher is a client that keeps pushing until the registry dies. It never
// calls t.Fatal: connection errors are the expected end of its life.
type pusher struct {
	r     *registry
	round int
	acked map[string]ackedArtifact
}

func (p *pusher) request(method, path string, body io.Reader, size int64, ctype string) (*http.Response, error) {
	u, err := url.Parse(p.r.URL("/"))
	if err != nil {
		return nil, err
	}
	if u, err = u.Parse(path); err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+p.r.Token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func (p *pusher) blob(repo string, data []byte) (digest.Digest, bool) {
	d := digest.FromBytes(data)
	resp, err := p.request("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), bytes.NewReader(data), int64(len(data)), "application/octet-stream")
	return d, err == nil && resp.StatusCode == http.StatusCreated
}

func (p *pusher) pushLoop() {
	p.acked = map[string]ackedArtifact{}
	for i := 0; ; i++ {
		layer := []byte(fmt.Sprintf("round %d artifact %d %s", p.round, i, bytes.Repeat([]byte("w"), 4096)))
		ld, ok := p.blob("crash/loop", layer)
		if !ok {
			return
		}
		cfg := []byte(fmt.Sprintf(`{"round":%d,"i":%d}`, p.round, i))
		cd, ok := p.blob("crash/loop", cfg)
		if !ok {
			return
		}
		m, _ := json.Marshal(ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.example.model.v1",
			Config:       ocispec.Descriptor{MediaType: "application/vnd.example.config.v1+json", Digest: cd, Size: int64(len(cfg))},
			Layers:       []ocispec.Descriptor{{MediaType: "application/vnd.example.gguf", Digest: ld, Size: int64(len(layer))}},
		})
		tag := fmt.Sprintf("r%d-%d", p.round, i)
		resp, err := p.request("PUT", "/v2/crash/loop/manifests/"+tag, bytes.NewReader(m), int64(len(m)), ocispec.MediaTypeImageManifest)
		if err != nil || resp.StatusCode != http.StatusCreated {
			return
		}
		p.acked[tag] = ackedArtifact{manifest: digest.FromBytes(m), layer: ld}
	}
}

// streamHalfUpload starts a session and streams a 512 MiB PATCH slowly
// (1 MiB per 20 ms) so that the kill always lands in the middle of it.
func (p *pusher) streamHalfUpload(loc chan<- string) {
	chunk := bytes.Repeat([]byte(fmt.Sprintf("round %d ", p.round)), 1<<17)[:1<<20]
	resp, err := p.request("POST", "/v2/crash/big/blobs/uploads/", nil, 0, "")
	if err != nil || resp.StatusCode != http.StatusAccepted {
		loc <- "/v2/crash/big/blobs/uploads/none"
		return
	}
	location := resp.Header.Get("Location")
	loc <- location
	pr, pw := io.Pipe()
	go func() {
		for range 512 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		pw.Close()
	}()
	_, _ = p.request("PATCH", location, pr, -1, "application/octet-stream")
	pr.Close()
}
