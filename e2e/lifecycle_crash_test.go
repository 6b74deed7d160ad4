package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Crash tests of lifecycle transitions: the registry is killed with SIGKILL
// at several moments of a promote (which re-hashes a 256 MiB file first) and
// of a delete (which unlinks one), then restarted. Each time the artifact
// must be in exactly its old or its new state — the new one if the request
// was acknowledged — with a history chain that verifies and ends in that
// state, a runtime gate (which reads the cached state in index.json) that
// agrees with the records, and, for a delete, its bytes gone exactly when
// it is deleted.

const lcCrashSize = 256 << 20

// lcDeleteSize is the size of each artifact deleted under a kill: a delete
// does not hash, so its timing depends little on the size.
const lcDeleteSize = 64 << 20

// lcAfterResponse, as a kill delay, kills once the response has arrived.
const lcAfterResponse = time.Duration(-1)

func TestLifecycleCrashPromote(t *testing.T) {
	skipUnlessOurServer(t, "the lifecycle is ours")
	if testing.Short() {
		t.Skip("writes and hashes 256 MiB many times")
	}
	r := startRegistry(t)
	const name = "Crash Promote"
	sum := lcWriteBigGGUF(t, filepath.Join(r.Dir, "import", "big.gguf"), lcCrashSize, 1)
	lcDecode[lcArtifact](t, lcJSON(t, r, "POST", "/v1/model/acquire", map[string]any{"name": name, "filename": "big.gguf", "sha256": sum}, true), http.StatusCreated)
	lcTransition(t, r, "quarantine", name, http.StatusOK, "quarantined")
	promote := marshal(t, map[string]any{"name": name, "sha256": sum}, false)

	// How long a promote takes, to aim kills at its commit too.
	start := time.Now()
	lcPromote(t, r, map[string]any{"name": name, "sha256": sum}, http.StatusCreated)
	took := time.Since(start)
	t.Logf("a promote of %d MiB takes %s", lcCrashSize>>20, took)

	delays := []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond,
		took * 80 / 100, took * 95 / 100, took, took * 105 / 100, lcAfterResponse}
	outcomes := map[string]int{}
	for pass := range 2 {
		for _, delay := range delays {
			round := fmt.Sprintf("pass %d, kill %s", pass, lcDelayName(delay))
			// From trusted a promote would change nothing visible.
			if lcModel(t, r, name).State == "trusted" {
				lcTransition(t, r, "revoke", name, http.StatusOK, "revoked")
			}
			before := lcHistoryOf(t, r, name)
			res := lcKillDuring(t, r, delay, "POST", "/v1/model/promote", promote, "application/json")
			r.Restart()
			outcomes[lcCheckCrashOutcome(t, r, round, name, before, "promote", res, http.StatusCreated)]++
			if fi, err := os.Stat(lcLayoutBlob(r, "models/crash-promote", sum)); err != nil || fi.Size() != lcCrashSize {
				t.Fatalf("%s: the model's blob is damaged: %v", round, err)
			}
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["old"] == 0 || outcomes["new"] == 0 {
		t.Errorf("outcomes %v: want kills both before and after the commit, or the test proves little", outcomes)
	}

	// The bytes were never touched: promote once more and load them.
	if lcModel(t, r, name).State != "trusted" {
		lcPromote(t, r, map[string]any{"name": name, "sha256": sum}, http.StatusCreated)
	}
	p := lcRuntimePathSum(t, r, name, sum, lcCrashSize)
	t.Logf("%s loads from %s", name, p.Path)
}

func TestLifecycleCrashDelete(t *testing.T) {
	skipUnlessOurServer(t, "the lifecycle is ours")
	if testing.Short() {
		t.Skip("writes and deletes 64 MiB files many times")
	}
	r := startRegistry(t)
	delays := []time.Duration{lcAfterResponse, 0}
	for d := 500 * time.Microsecond; d <= 4*time.Millisecond; d += 500 * time.Microsecond {
		delays = append(delays, d) // around the journal commit
	}
	delays = append(delays, 5*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond, 50*time.Millisecond)
	var took time.Duration
	outcomes := map[string]int{}
	for i := 0; i < len(delays); i++ {
		delay := delays[i]
		name := fmt.Sprintf("Crash Delete %d", i)
		slug := fmt.Sprintf("models/crash-delete-%d", i)
		sum := lcWriteBigGGUF(t, filepath.Join(r.Dir, "import", "big.gguf"), lcDeleteSize, uint64(100+i))
		lcDecode[lcArtifact](t, lcJSON(t, r, "POST", "/v1/model/acquire", map[string]any{"name": name, "filename": "big.gguf", "sha256": sum}, true), http.StatusCreated)
		// Delete from every state that allows it, in turn.
		switch i % 4 {
		case 1:
			lcTransition(t, r, "quarantine", name, http.StatusOK, "quarantined")
		case 2:
			lcPromote(t, r, map[string]any{"name": name, "sha256": sum}, http.StatusCreated)
		case 3:
			lcPromote(t, r, map[string]any{"name": name, "sha256": sum}, http.StatusCreated)
			lcTransition(t, r, "revoke", name, http.StatusOK, "revoked")
		}
		before := lcHistoryOf(t, r, name)
		round := fmt.Sprintf("round %d (from %s), kill %s", i, before.State, lcDelayName(delay))
		res := lcKillDuring(t, r, delay, "DELETE", "/v1/model/delete?name="+url.QueryEscape(name), nil, "")
		if delay == lcAfterResponse && i == 0 {
			// Aim later kills at the commit and the unlink as well.
			took = res.took
			t.Logf("a delete of %d MiB takes %s", lcDeleteSize>>20, took)
			for _, f := range []int64{25, 50, 75, 90, 100} {
				delays = append(delays, time.Duration(int64(took)*f/100))
			}
		}
		r.Restart()
		outcome := lcCheckCrashOutcome(t, r, round, name, before, "delete", res, http.StatusOK)
		outcomes[outcome]++

		// Deleted: bytes gone, metadata kept. Not deleted: bytes intact.
		blob, pool := lcLayoutBlob(r, slug, sum), filepath.Join(r.Dir, "pool", "sha256", sum)
		m := lcModel(t, r, name)
		if m.SHA256 != sum || m.SizeBytes != lcDeleteSize || m.Filename != "big.gguf" || m.Digest != before.Digest {
			t.Errorf("%s: metadata after the crash: %+v; want big.gguf, %s, %d bytes, digest %s", round, m, sum, lcDeleteSize, before.Digest)
		}
		if outcome == "new" {
			for _, p := range []string{blob, pool} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: deleted, but its bytes are still on disk at %s (%v)", round, p, err)
				}
			}
		} else if got, err := lcFileSHA256(blob); err != nil || got != sum {
			t.Errorf("%s: not deleted, but its bytes are damaged: %s hashes to %s (%v)", round, blob, got, err)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["old"] == 0 || outcomes["new"] == 0 {
		t.Errorf("outcomes %v: want kills both before and after the commit, or the test proves little", outcomes)
	}
}

// lcKillResult is what the client saw of a request during which the
// registry was killed.
type lcKillResult struct {
	status int           // 0 when no response arrived
	err    error         // the client's error, if any
	took   time.Duration // until the response or the error
}

// lcKillDuring sends a request with the token and kills the registry with
// SIGKILL delay after sending it (lcAfterResponse: once it answered).
func lcKillDuring(t *testing.T, r *registry, delay time.Duration, method, path string, body []byte, ctype string) lcKillResult {
	t.Helper()
	req, err := http.NewRequest(method, r.URL(path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	done := make(chan lcKillResult, 1)
	start := time.Now()
	go func() {
		var res lcKillResult
		resp, err := (&http.Client{Timeout: httpTimeout}).Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			res.status = resp.StatusCode
		}
		res.err, res.took = err, time.Since(start)
		done <- res
	}()
	var res lcKillResult
	if delay == lcAfterResponse {
		res = <-done
		r.Kill()
		return res
	}
	time.Sleep(delay)
	r.Kill()
	return <-done
}

// lcCheckCrashOutcome checks an artifact after a kill during action and a
// restart, against its history before: "old" (nothing happened) or "new"
// (exactly one more record, for action, from the old state), nothing else;
// "new" when the request was acknowledged with okStatus, "old" when it was
// refused. The history verifies, /v1 shows its last state, and the runtime
// gate agrees.
func lcCheckCrashOutcome(t *testing.T, r *registry, round, name string, before lcHistory, action string, res lcKillResult, okStatus int) string {
	t.Helper()
	after := lcHistoryOf(t, r, name)
	actions := make([]string, 0, len(before.Records)+1)
	for _, rec := range before.Records {
		actions = append(actions, rec.Action)
	}
	outcome := "old"
	if len(after.Records) == len(before.Records)+1 {
		outcome = "new"
		actions = append(actions, action)
	}
	acked := res.err == nil && res.status == okStatus
	t.Logf("%s: client saw status %d, error %v after %s; outcome %s (%s)", round, res.status, res.err, res.took.Round(time.Millisecond), outcome, after.State)
	switch {
	case len(after.Records) < len(before.Records) || !slices.EqualFunc(after.Records[:len(before.Records)], before.Records, lcSameRecord):
		t.Errorf("%s: the history before the crash changed:\n got %+v\nwant %+v as its prefix", round, after.Records, before.Records)
	case len(after.Records) > len(before.Records)+1:
		t.Errorf("%s: %d records appeared, want at most one: %+v", round, len(after.Records)-len(before.Records), after.Records)
	case acked && outcome == "old":
		t.Errorf("%s: the %s was acknowledged (%d) but did not survive the crash", round, action, res.status)
	case res.err == nil && !acked && outcome == "new":
		t.Errorf("%s: the %s was refused (%d) but happened", round, action, res.status)
	}
	lcCheckChain(t, after, actions...)
	if m := lcModel(t, r, name); m.State != after.State || m.Digest != before.Digest {
		t.Errorf("%s: /v1/model shows %s %s; the history ends in %s (%s)", round, m.State, m.Digest, after.State, before.Digest)
	}
	path := r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil)
	repo, _, _ := strings.Cut(after.OCIReference, ":")
	manifest := r.do(t, "GET", "/v2/"+repo+"/manifests/"+before.Digest, nil, false, nil)
	if trusted := after.State == "trusted"; trusted != (path.Status == http.StatusOK) || trusted != (manifest.Status == http.StatusOK) {
		t.Errorf("%s: state %s, but anonymous /v1/model/path answers %d and /v2 manifest %d", round, after.State, path.Status, manifest.Status)
	}
	return outcome
}

// lcSameRecord compares records by their content-addressed digest and the
// fields shown next to it.
func lcSameRecord(a, b lcRecord) bool {
	return a.Digest == b.Digest && a.Seq == b.Seq && a.Action == b.Action && a.From == b.From && a.To == b.To && a.Prev == b.Prev && a.At.Equal(b.At)
}

// lcRuntimePathSum is lcRuntimePath for a large file known by its sha256.
func lcRuntimePathSum(t *testing.T, r *registry, name, sum string, size int64) lcPathInfo {
	t.Helper()
	p := lcDecode[lcPathInfo](t, r.do(t, "GET", "/v1/model/path?name="+url.QueryEscape(name), nil, false, nil), http.StatusOK)
	if p.SHA256 != sum || p.SizeBytes != size {
		t.Errorf("/v1/model/path of %q: %+v, want sha256 %s and %d bytes", name, p, sum, size)
	}
	if got, err := lcFileSHA256(p.Path); err != nil || got != sum {
		t.Errorf("/v1/model/path of %q: %s hashes to %s (%v), want %s", name, p.Path, got, err, sum)
	}
	if fi, err := os.Stat(p.Path); err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("/v1/model/path of %q: %s is writable or missing (%v)", name, p.Path, err)
	}
	return p
}

// lcWriteBigGGUF writes a valid GGUF file of size bytes (a multiple of 32)
// holding one F32 tensor of pseudo-random data, and returns its sha256.
func lcWriteBigGGUF(t *testing.T, path string, size int64, seed uint64) string {
	t.Helper()
	headerLen := int64(len(lcGGUFHeader(0)))
	if size%32 != 0 || size <= headerLen {
		t.Fatalf("GGUF size %d must be a multiple of 32 above %d", size, headerLen)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if _, err := w.Write(lcGGUFHeader(uint64(size-headerLen) / 4)); err != nil {
		t.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	buf := make([]byte, 1<<20)
	for left := size - headerLen; left > 0; left -= int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), left)]
		_, _ = src.Read(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func lcDelayName(d time.Duration) string {
	if d == lcAfterResponse {
		return "after the response"
	}
	return d.Round(100*time.Microsecond).String() + " after sending"
}
