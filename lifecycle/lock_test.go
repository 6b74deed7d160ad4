package lifecycle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/lockfile"
)

func outcomes(out []lifecycle.LockOutcome) map[string]string {
	m := map[string]string{}
	for _, o := range out {
		m[o.Name] = o.Action
	}
	return m
}

func (e *env) importFile(name string, data []byte) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "import", name), data, 0o640); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) promote(name string, data []byte) {
	e.t.Helper()
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: name, SHA256: hexsum(data)}); err != nil {
		e.t.Fatalf("promote %q: %v", name, err)
	}
}

func entry(name, file string, data []byte, state string) lockfile.Entry {
	return lockfile.Entry{Name: name, Format: "gguf", Filename: file, SHA256: hexsum(data), SizeBytes: int64(len(data)), State: state}
}

// TestApplyLock covers every kind of entry, applied at two boots.
func TestApplyLock(t *testing.T) {
	e := newEnv(t)
	fresh, unstated, wrong, present, revokeMe, blockMe, sameBytes := gguf(1), gguf(2), gguf(3), gguf(4), gguf(5), gguf(6), gguf(7)
	e.importFile("fresh.gguf", fresh)
	e.importFile("unstated.gguf", unstated)
	e.importFile("wrong.gguf", wrong)
	e.acquire("present", present)
	e.acquire("revoke-me", revokeMe)
	e.promote("revoke-me", revokeMe)
	e.acquire("block-me", blockMe)
	e.promote("block-me", blockMe)
	e.acquire("same bytes", sameBytes)

	blocked := entry("block-me", "block-me.gguf", blockMe, "")
	blocked.Blocked, blocked.BlockedReason = true, "CVE-2099-0001"
	blockedBytes := entry("blocked bytes", "bb.gguf", sameBytes, "")
	blockedBytes.Blocked, blockedBytes.BlockedReason = true, "poisoned upload"
	lock := &lockfile.Lock{Version: 1, Models: []lockfile.Entry{
		entry("fresh", "fresh.gguf", fresh, "trusted"),
		entry("unstated", "unstated.gguf", unstated, ""),
		entry("wrong", "wrong.gguf", gguf(99), "trusted"), // the file hashes differently
		entry("missing", "missing.gguf", gguf(98), "trusted"),
		entry("present", "present.gguf", present, "trusted"),
		entry("revoke-me", "revoke-me.gguf", revokeMe, "revoked"),
		blocked, blockedBytes,
	}}
	want := map[string]string{
		"fresh": "trusted", "unstated": "trusted", "wrong": "mismatch", "missing": "missing", "present": "trusted",
		"revoke-me": "revoked", "block-me": "blocked", "blocked bytes": "blocked",
	}
	got := outcomes(e.svc.ApplyLock(e.ctx, lock, "models.lock.yaml"))
	for name, action := range want {
		if got[name] != action {
			t.Errorf("%s: %s, want %s", name, got[name], action)
		}
	}
	states := map[string]lifecycle.State{"fresh": lifecycle.Trusted, "unstated": lifecycle.Trusted, "present": lifecycle.Trusted,
		"revoke-me": lifecycle.Revoked, "block-me": lifecycle.Revoked, "same bytes": lifecycle.Acquired}
	for name, st := range states {
		if s := e.state(name); s != st {
			t.Errorf("%s is %s, want %s", name, s, st)
		}
	}
	for _, name := range []string{"wrong", "missing"} {
		if _, err := e.svc.Path(e.ctx, name); err == nil {
			t.Errorf("%s is servable", name)
		}
	}
	// The lock's reason is in the history.
	h, _ := e.svc.History(e.ctx, "block-me")
	if last := h.Records[len(h.Records)-1]; last.Action != lifecycle.Revoke || last.Who != "system" || !bytes.Contains([]byte(last.Reason), []byte("CVE-2099-0001")) {
		t.Errorf("block-me's last record: %+v", last)
	}
	// Blocked by name and by bytes: never trusted again.
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "block-me", SHA256: hexsum(blockMe)}); lifecycle.KindOf(err) != lifecycle.KindConflict {
		t.Errorf("promote of a blocked name: %v", err)
	}
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "same bytes", SHA256: hexsum(sameBytes)}); lifecycle.KindOf(err) != lifecycle.KindConflict {
		t.Errorf("promote of blocked bytes under another name: %v", err)
	}

	// Export: the trusted set, deterministic.
	out1, err := e.svc.ExportLock(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockfile.Parse(out1)
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, out1)
	}
	var names []string
	for _, m := range l.Models {
		names = append(names, m.Name)
	}
	if len(names) != 3 || names[0] != "fresh" || names[1] != "present" || names[2] != "unstated" {
		t.Errorf("exported %v, want fresh, present, unstated", names)
	}

	// A second boot applies the lock again: nothing changes, the blocked
	// entry is blocked again, and the export is the same bytes.
	e.restart()
	got = outcomes(e.svc.ApplyLock(e.ctx, lock, "models.lock.yaml"))
	for _, name := range []string{"fresh", "unstated", "present"} {
		if got[name] != "unchanged" {
			t.Errorf("second boot: %s %s, want unchanged", name, got[name])
		}
	}
	if got["block-me"] != "blocked" {
		t.Errorf("second boot: block-me %s", got["block-me"])
	}
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: "block-me", SHA256: hexsum(blockMe)}); err == nil {
		t.Error("blocked artifact promoted after a restart")
	}
	out2, err := e.svc.ExportLock(e.ctx)
	if err != nil || !bytes.Equal(out1, out2) {
		t.Errorf("export after restart differs (%v):\n%s\n---\n%s", err, out1, out2)
	}
}

// Artifacts that share a file name, or whose file lacks the format's
// extension, still export as a lock that parses and boots.
func TestExportLockNames(t *testing.T) {
	e := newEnv(t)
	for i, name := range []string{"one", "two", "three"} {
		data := gguf(10 + i)
		e.acquire(name, data) // all named m.gguf
		e.promote(name, data)
	}
	data := gguf(20)
	if _, err := e.svc.Acquire(e.ctx, lifecycle.AcquireRequest{Name: "four", Filename: "weights", SHA256: hexsum(data)}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	e.promote("four", data)
	out, err := e.svc.ExportLock(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockfile.Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files := map[string]string{}
	for _, m := range l.Models {
		files[m.Name] = m.Filename
	}
	want := map[string]string{"four": "weights.gguf", "one": "m.gguf", "three": hexsum(gguf(12))[:16] + "-m.gguf", "two": hexsum(gguf(11))[:16] + "-m.gguf"}
	for name, f := range want {
		if files[name] != f {
			t.Errorf("%s exported as %q, want %q", name, files[name], f)
		}
	}
}
