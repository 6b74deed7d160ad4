package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// testEntry is a typical promotion record, told apart by i.
func testEntry(i int) Entry {
	return Entry{
		Who: "token:ci", Action: ActionPromote, Name: fmt.Sprintf("model-%d", i), Repository: "models/phi-3",
		Digest: "sha256:8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef",
		From:   "quarantined", To: "trusted", Result: ResultOK, Detail: "scans passed",
	}
}

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// appendN appends n entries and returns them as written.
func appendN(t testing.TB, l *Log, n int) []Entry {
	t.Helper()
	out := make([]Entry, 0, n)
	for i := range n {
		e, err := l.Append(context.Background(), testEntry(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func mustVerify(t testing.TB, dir string) Report {
	t.Helper()
	rep, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func segmentNames(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range segs {
		names = append(names, s.name)
	}
	return names
}

func TestAppendChain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	clock := time.Date(2025, 3, 1, 12, 0, 0, 123, time.FixedZone("CET", 3600))
	l := openLog(t, dir, Options{Now: func() time.Time { return clock }})
	if seq, hash := l.Head(); seq != 0 || hash != ZeroHash {
		t.Fatalf("empty log head = %d %s", seq, hash)
	}
	in := testEntry(0)
	in.Seq, in.Prev, in.Hash, in.Time = 99, "x", "y", time.Unix(1, 0) // Append's to set
	got := appendN(t, l, 3)
	first, err := l.Append(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, first)
	prev := ZeroHash
	for i, e := range got {
		if e.Seq != uint64(i+1) || e.Prev != prev || !e.Time.Equal(clock) || e.Time.Location() != time.UTC {
			t.Fatalf("entry %d: seq %d prev %s time %v", i, e.Seq, e.Prev, e.Time)
		}
		line := appendEntry(nil, &Entry{Seq: e.Seq, Time: e.Time, Who: e.Who, Action: e.Action, Name: e.Name,
			Repository: e.Repository, Digest: e.Digest, From: e.From, To: e.To, Result: e.Result, Detail: e.Detail, Prev: e.Prev})
		if !bytes.Contains(line, []byte(e.Hash)) {
			t.Fatalf("entry %d: returned hash is not the hash of its encoding", i)
		}
		prev = e.Hash
	}
	if seq, hash := l.Head(); seq != 4 || hash != prev {
		t.Fatalf("head = %d %s, want 4 %s", seq, hash, prev)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, segmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines on disk, want 4", len(lines))
	}
	for i, line := range lines {
		e, err := parseLine([]byte(line))
		if err != nil || e != got[i] {
			t.Fatalf("line %d reads back as %+v, %v; want %+v", i+1, e, err, got[i])
		}
	}
	if want := `{"seq":1,"time":"2025-03-01T11:00:00.000000123Z","who":"token:ci","action":"promote","name":"model-0",`; !strings.HasPrefix(lines[0], want) {
		t.Fatalf("line 1 = %s\nwant prefix %s", lines[0], want)
	}

	// Reopened, the chain goes on from the last entry.
	l = openLog(t, dir, Options{})
	defer l.Close()
	e, err := l.Append(context.Background(), testEntry(9))
	if err != nil || e.Seq != 5 || e.Prev != prev {
		t.Fatalf("append after reopen: seq %d prev %s, %v", e.Seq, e.Prev, err)
	}
	if rep := mustVerify(t, dir); rep.Entries != 5 || rep.Head != e.Hash || rep.Files != 1 {
		t.Fatalf("Verify = %+v", rep)
	}
}

func TestAppendValidation(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	for _, tc := range []struct {
		name string
		edit func(*Entry)
	}{
		{"empty action", func(e *Entry) { e.Action = "" }},
		{"upper-case action", func(e *Entry) { e.Action = "Promote" }},
		{"action with a space", func(e *Entry) { e.Action = "promote now" }},
		{"action too long", func(e *Entry) { e.Action = strings.Repeat("a", MaxAction+1) }},
		{"unknown result", func(e *Entry) { e.Result = "maybe" }},
		{"empty result", func(e *Entry) { e.Result = "" }},
		{"empty who", func(e *Entry) { e.Who = "" }},
	} {
		e := testEntry(0)
		tc.edit(&e)
		if _, err := l.Append(context.Background(), e); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, testEntry(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
	if seq, _ := l.Head(); seq != 0 {
		t.Fatalf("refused appends wrote %d entries", seq)
	}
}

// TestClip: long fields are cut at a rune boundary and marked, invalid
// UTF-8 is replaced, and control and non-ASCII characters are escaped so
// a line stays printable ASCII.
func TestClip(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	e := testEntry(0)
	e.Detail = strings.Repeat("é", MaxDetail) // 2 bytes each
	e.Name = "a\nb\x00c\xffd\u202e🦙\"\\"
	got, err := l.Append(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Detail) > MaxDetail || !strings.HasSuffix(got.Detail, "...") || !strings.HasPrefix(got.Detail, "éé") {
		t.Fatalf("detail of %d bytes: %q...", len(got.Detail), got.Detail[:10])
	}
	if got.Name != "a\nb\x00c\uFFFDd\u202e🦙\"\\" {
		t.Fatalf("name = %q", got.Name)
	}
	line := appendEntry(nil, &got)
	for _, c := range line[:len(line)-1] {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("byte 0x%02x in line %s", c, line)
		}
	}
	if !bytes.Contains(line, []byte(`"name":"a\u000ab\u0000c\ufffdd\u202e\ud83e\udd99\"\\"`)) {
		t.Fatalf("name spelled %s", line)
	}
}

// TestMaxLine: an entry with every field at its limit in the costliest
// spelling still fits in MaxLineBytes, so the writer never makes a line
// the reader refuses.
func TestMaxLine(t *testing.T) {
	worst := func(n int) string { return strings.Repeat("\x01", n) } // 6 bytes each as \u0001
	e := Entry{Seq: 1<<64 - 1, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		Who: worst(MaxWho), Action: strings.Repeat("a", MaxAction), Name: worst(MaxName), Repository: worst(MaxRepository),
		Digest: worst(MaxDigest), From: worst(MaxState), To: worst(MaxState), Result: ResultRefused, Detail: worst(MaxDetail), Prev: ZeroHash}
	line := appendEntry(nil, &e)
	if len(line) >= MaxLineBytes {
		t.Fatalf("worst-case line of %d bytes, limit %d", len(line), MaxLineBytes)
	}
	if got, err := parseLine(line[:len(line)-1]); err != nil || got != e {
		t.Fatalf("worst-case line does not read back: %v", err)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 2000})
	want := appendN(t, l, 30)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names := segmentNames(t, dir)
	if len(names) < 4 {
		t.Fatalf("%d files for 30 entries at 2000 bytes each: %v", len(names), names)
	}
	next := uint64(1)
	for _, name := range names {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 2000 {
			t.Errorf("%s: %d bytes, over MaxFileBytes", name, fi.Size())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
		if name != segmentName(next) {
			t.Fatalf("file %s, want %s", name, segmentName(next))
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		next += uint64(bytes.Count(data, []byte("\n")))
	}
	if next != 31 {
		t.Fatalf("files hold %d entries, want 30", next-1)
	}
	rep := mustVerify(t, dir)
	if rep.Entries != 30 || rep.Head != want[29].Hash || rep.Files != len(names) {
		t.Fatalf("Verify = %+v", rep)
	}

	// A file smaller than one entry still takes one entry per file.
	dir = t.TempDir()
	l = openLog(t, dir, Options{MaxFileBytes: 10})
	appendN(t, l, 3)
	l.Close()
	if names := segmentNames(t, dir); len(names) != 3 {
		t.Fatalf("files %v, want one per entry", names)
	}
	mustVerify(t, dir)
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	if _, err := Open(context.Background(), dir, Options{Logger: quiet}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{}) // released by Close
	l.Close()
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendN(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Append(context.Background(), testEntry(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Read(context.Background(), 1, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Checkpoint(context.Background(), signWith(nil), "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Checkpoint after Close: %v, want ErrClosed", err)
	}
	if rep := mustVerify(t, dir); rep.Entries != 2 {
		t.Fatalf("Verify = %+v", rep)
	}
}

// TestCloseDrains: appends queued when Close is called are written, and
// each caller gets either its entry or ErrClosed, never a lost entry.
func TestCloseDrains(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for i := range 16 {
		wg.Go(func() {
			for j := 0; ; j++ {
				_, err := l.Append(context.Background(), testEntry(i*1000+j))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if rep := mustVerify(t, dir); rep.Entries != uint64(acked) {
		t.Fatalf("log holds %d entries, %d were acknowledged", rep.Entries, acked)
	}
}

// TestConcurrentAppend: appends from many goroutines get every seq once,
// in the order each goroutine made them, share fsyncs, and leave a chain
// that verifies, across many files.
func TestConcurrentAppend(t *testing.T) {
	const workers, each = 8, 500
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 64 << 10})
	seqs := make([][]Entry, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e, err := l.Append(context.Background(), testEntry(w*each+i))
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				seqs[w] = append(seqs[w], e)
			}
		})
	}
	wg.Wait()
	syncs := l.syncs.Load()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint64]bool, workers*each)
	for w, es := range seqs {
		for i, e := range es {
			if seen[e.Seq] {
				t.Fatalf("seq %d given twice", e.Seq)
			}
			seen[e.Seq] = true
			if e.Name != fmt.Sprintf("model-%d", w*each+i) {
				t.Fatalf("worker %d got back entry %q", w, e.Name)
			}
			if i > 0 && e.Seq <= es[i-1].Seq {
				t.Fatalf("worker %d: seq %d after %d", w, e.Seq, es[i-1].Seq)
			}
		}
	}
	for s := uint64(1); s <= workers*each; s++ {
		if !seen[s] {
			t.Fatalf("seq %d missing", s)
		}
	}
	rep := mustVerify(t, dir)
	if rep.Entries != workers*each || rep.Files < 2 {
		t.Fatalf("Verify = %+v", rep)
	}
	if syncs >= workers*each {
		t.Fatalf("%d fsyncs for %d appends: no group commit", syncs, workers*each)
	}
	t.Logf("%d appends in %d fsyncs over %d files", workers*each, syncs, rep.Files)
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l := openLog(t, dir, Options{})
	l.Close()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v %v", fi, err)
	}
	if names := segmentNames(t, dir); len(names) != 1 || names[0] != segmentName(1) {
		t.Fatalf("files %v", names)
	}
}

func TestClockOutOfRange(t *testing.T) {
	now := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	l := openLog(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	defer l.Close()
	if _, err := l.Append(context.Background(), testEntry(0)); err == nil {
		t.Fatal("appended with the clock in year 10000")
	}
	now = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if e, err := l.Append(context.Background(), testEntry(0)); err != nil || e.Seq != 1 {
		t.Fatalf("after the clock came back: %d, %v", e.Seq, err)
	}
	now = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)
	if _, err := l.Checkpoint(context.Background(), signWith(nil), "k"); err == nil {
		t.Fatal("checkpoint with the clock in year 0")
	}
}
