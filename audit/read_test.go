package audit

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadPages(t *testing.T) {
	const total = 57
	l := openLog(t, t.TempDir(), Options{MaxFileBytes: 2000})
	defer l.Close()
	want := appendN(t, l, total)
	for from := uint64(0); from <= total+3; from++ {
		for _, limit := range []int{1, 4, 5, 13, 100, MaxReadLimit + 5} {
			got, err := l.Read(context.Background(), from, limit)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", from, limit, err)
			}
			start := max(from, 1)
			n := 0
			if start <= total {
				n = min(limit, int(total-start+1))
			}
			if len(got) != n || got == nil {
				t.Fatalf("Read(%d, %d): %d entries (nil %v), want %d", from, limit, len(got), got == nil, n)
			}
			for i, e := range got {
				if e != want[int(start)-1+i] {
					t.Fatalf("Read(%d, %d)[%d] = %+v, want %+v", from, limit, i, e, want[int(start)-1+i])
				}
			}
		}
	}
	// Paging from the start gives every entry once.
	var all []Entry
	for next := uint64(1); ; {
		page, err := l.Read(context.Background(), next, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		next = page[len(page)-1].Seq + 1
	}
	if len(all) != total || all[total-1] != want[total-1] {
		t.Fatalf("paged %d entries", len(all))
	}
	for _, limit := range []int{0, -1} {
		if _, err := l.Read(context.Background(), 1, limit); !errors.Is(err, ErrInvalid) {
			t.Fatalf("limit %d: %v, want ErrInvalid", limit, err)
		}
	}
	if got, _ := l.Read(context.Background(), 1, MaxReadLimit+1); len(got) != total {
		t.Fatalf("%d entries", len(got))
	}
}

// TestReadLargeFile: the binary search finds every entry of one large
// file, with lines of very different lengths. The file is written as
// Append would, without an fsync per entry.
func TestReadLargeFile(t *testing.T) {
	const total = 3000
	dir := t.TempDir()
	var data []byte
	prev := ZeroHash
	for i := range total {
		e := testEntry(i)
		e.Seq, e.Time, e.Prev = uint64(i+1), time.Now().UTC(), prev
		e.Detail = strings.Repeat("\x01", i*37%MaxDetail)
		data = appendEntry(data, &e)
		prev = e.Hash
	}
	if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, dir, Options{})
	defer l.Close()
	if seq, hash := l.Head(); seq != total || hash != prev {
		t.Fatalf("head %d", seq)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		from := 1 + rng.Uint64N(total+10)
		got, err := l.Read(context.Background(), from, 3)
		want := int(min(3, max(total+1, from)-from))
		if err != nil || len(got) != want || want > 0 && got[0].Seq != from {
			t.Fatalf("Read(%d, 3) = %d entries, %v", from, len(got), err)
		}
	}
	mustVerify(t, dir)
}

// TestSeekSeq checks the search against every seq of an in-memory file,
// with a partial line at the end as a writer mid-write leaves it.
func TestSeekSeq(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var data []byte
	var offs []int64
	prev := ZeroHash
	for seq := uint64(100); seq < 1100; seq++ {
		e := Entry{Seq: seq, Time: time.Unix(0, 0), Who: "w", Action: "a", Result: ResultOK, Prev: prev,
			Detail: strings.Repeat("é", rng.IntN(MaxDetail/2))}
		offs = append(offs, int64(len(data)))
		data = appendEntry(data, &e)
		prev = e.Hash
	}
	end := int64(len(data))
	data = append(data, `{"seq":1100,"time":"19`...)
	r := bytes.NewReader(data)
	for i, want := range offs {
		got, err := seekSeq(r, int64(len(data)), uint64(100+i))
		if err != nil || got != want {
			t.Fatalf("seq %d: offset %d, %v; want %d", 100+i, got, err, want)
		}
	}
	for _, from := range []uint64{0, 1, 99} {
		if got, err := seekSeq(r, int64(len(data)), from); err != nil || got != 0 {
			t.Fatalf("seq %d before the file: %d, %v", from, got, err)
		}
	}
	if got, err := seekSeq(r, int64(len(data)), 1100); err != nil || got != end {
		t.Fatalf("seq 1100 (partial): %d, %v; want %d", got, err, end)
	}
	// Damage makes it start early, never fail to return.
	junk := bytes.Repeat([]byte("z"), 3*MaxLineBytes)
	if got, err := seekSeq(bytes.NewReader(junk), int64(len(junk)), 5); err != nil || got > int64(len(junk)) {
		t.Fatalf("junk: %d, %v", got, err)
	}
}

func TestReadCorrupt(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 4500})
	defer l.Close()
	appendN(t, l, 30)
	fs := readLogFiles(t, dir)
	fs.edit(20, func(b []byte) []byte { return bytes.Replace(b, []byte("scans passed"), []byte("scans failed"), 1) })
	fs.write(t, dir)
	if _, err := l.Read(context.Background(), 1, 10); err != nil {
		t.Fatalf("Read before the damage: %v", err)
	}
	for _, from := range []uint64{15, 20} {
		if _, err := l.Read(context.Background(), from, 10); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Read(%d) over an edited entry: %v, want ErrCorrupt", from, err)
		}
	}
	os.Remove(filepath.Join(dir, segmentName(11)))
	if _, err := l.Read(context.Background(), 5, 10); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read over a removed file: %v, want ErrCorrupt", err)
	}
}

// TestReadWhileAppending: pages read during appends hold only whole,
// linked entries, never one past the head.
func TestReadWhileAppending(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{MaxFileBytes: 3000})
	defer l.Close()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := l.Append(context.Background(), testEntry(w*10000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	reads := 0
	for time.Now().Before(deadline) {
		seq, _ := l.Head()
		from := max(seq, 5) - 4
		page, err := l.Read(context.Background(), from, 50)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		for i, e := range page {
			if e.Seq != from+uint64(i) || i > 0 && e.Prev != page[i-1].Hash {
				t.Fatalf("page from %d: entry %d is seq %d", from, i, e.Seq)
			}
		}
		reads++
	}
	close(done)
	wg.Wait()
	t.Logf("%d reads during appends", reads)
}
