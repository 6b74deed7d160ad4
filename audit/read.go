package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// MaxReadLimit bounds the entries one Read returns.
const MaxReadLimit = 1000

// Read returns up to limit entries (at most MaxReadLimit) from seq from on,
// in seq order: one page of the log for an API that lists it. The next
// page starts at the last Seq + 1; an empty page means from is past the
// head. from 0 reads as 1. Only durable entries are returned.
//
// Each entry is checked against its own hash, its seq and its link to the
// entry before it in the page; damage found stops Read with an error
// wrapping ErrCorrupt. Verify checks the whole chain.
//
// It does not read the log up to from: the file holding from is found by
// its name and the entry by a binary search over byte offsets in it.
func (l *Log) Read(ctx context.Context, from uint64, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d: want at least 1", ErrInvalid, limit)
	}
	from = max(from, 1)
	l.mu.Lock()
	headSeq, closing := l.head.seq, l.closing
	l.mu.Unlock()
	if closing {
		return nil, ErrClosed
	}
	if from > headSeq {
		return []Entry{}, nil
	}
	n := int(min(uint64(min(limit, MaxReadLimit)), headSeq-from+1))
	segs, err := listSegments(l.dir)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first > from }) - 1
	if i < 0 {
		return nil, fmt.Errorf("%w: no log file holds seq %d", ErrCorrupt, from)
	}
	out := make([]Entry, 0, n)
	for ; i < len(segs) && len(out) < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if out, err = readFile(filepath.Join(l.dir, segs[i].name), from, n, out); err != nil {
			return nil, err
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("%w: the log files end at seq %d, before the last durable entry %d", ErrCorrupt, from+uint64(len(out))-1, headSeq)
	}
	return out, nil
}

// readFile appends to out the entries of one log file that follow it,
// from seq from on if out is empty, until out holds n.
func readFile(path string, from uint64, n int, out []Entry) ([]Entry, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return out, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	var off int64
	prev, seq := "", from // the entry wanted next
	if len(out) == 0 {
		fi, err := f.Stat()
		if err != nil {
			return out, fmt.Errorf("audit: %w", err)
		}
		if off, err = seekSeq(f, fi.Size(), from); err != nil {
			return out, fmt.Errorf("audit: read %s: %w", name, err)
		}
	} else {
		prev, seq = out[len(out)-1].Hash, out[len(out)-1].Seq+1
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return out, fmt.Errorf("audit: read %s: %w", name, err)
	}
	lr := newLineReader(f)
	for len(out) < n {
		line, err := lr.next()
		switch {
		case err == io.EOF:
			return out, nil // the rest is in the next file
		case errors.Is(err, errLongLine):
			return out, fmt.Errorf("%w: %s: %w", ErrCorrupt, name, err)
		case err != nil:
			return out, fmt.Errorf("audit: read %s: %w", name, err)
		}
		if s := lineSeq(line); len(out) == 0 && s > 0 && s < from {
			continue // the search lands on or before from
		}
		e, err := checkEntry(line, seq, prev)
		if err != nil {
			return out, fmt.Errorf("%w: %s: %w", ErrCorrupt, name, err)
		}
		out = append(out, e)
		prev, seq = e.Hash, seq+1
	}
	return out, nil
}

// seekSeq returns the offset of the first line of f (size bytes) whose
// seq is at least from: a binary search over byte offsets, since lines
// hold no newline and seqs grow down a file. Lines it cannot read count
// as past from, so damage makes it start early, never late: the reader
// after it checks every line it returns.
func seekSeq(f io.ReaderAt, size int64, from uint64) (int64, error) {
	// atOrPast reports whether the first line starting at or after pos
	// has seq >= from (or there is none), and where that line starts.
	atOrPast := func(pos int64) (bool, int64, error) {
		start, err := lineStart(f, size, pos)
		if err != nil || start >= size {
			return true, start, err
		}
		var buf [32]byte
		k, err := f.ReadAt(buf[:], start)
		if err != nil && err != io.EOF {
			return true, start, err
		}
		s := lineSeq(buf[:k])
		return s == 0 || s >= from, start, nil
	}
	lo, hi := int64(0), size
	for lo < hi {
		mid := lo + (hi-lo)/2
		past, start, err := atOrPast(mid)
		switch {
		case err != nil:
			return 0, err
		case past:
			hi = mid
		default:
			lo = start + 1 // every pos in (mid, start] finds the same line
		}
	}
	start, err := lineStart(f, size, lo)
	return min(start, size), err
}

// lineStart returns the offset of the first line that starts at or after
// pos: pos itself if a newline precedes it, else just past the next
// newline; size if there is none within MaxLineBytes.
func lineStart(f io.ReaderAt, size, pos int64) (int64, error) {
	if pos == 0 {
		return 0, nil
	}
	buf := make([]byte, 4096)
	for at := pos - 1; at < size && at < pos-1+MaxLineBytes; at += int64(len(buf)) {
		k, err := f.ReadAt(buf, at)
		if i := bytes.IndexByte(buf[:k], '\n'); i >= 0 {
			return at + int64(i) + 1, nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return size, nil
}

// lineSeq reads the seq that opens a line; 0 if it does not open with one.
func lineSeq(b []byte) uint64 {
	s := scanner{b: b}
	s.lit(`{"seq":`)
	v := s.uint("seq")
	if s.err != nil {
		return 0
	}
	return v
}
