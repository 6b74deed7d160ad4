package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
)

// DefaultMaxFileBytes is Options.MaxFileBytes when unset.
const DefaultMaxFileBytes = 64 << 20

// maxBatch bounds the entries one write and one fsync carry, so that a
// flood of appends cannot make one batch (and its latency) unbounded.
const maxBatch = 1024

// Options configure Open.
type Options struct {
	// MaxFileBytes starts a new file before the current one would grow
	// past it (a single entry always fits in an empty file). Default 64 MiB.
	MaxFileBytes int64
	// Logger receives recovery, rotation and failure events. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Log is an open audit log: the only writer of its directory (Open takes
// an exclusive flock). Its methods are safe for concurrent use.
type Log struct {
	dir  string
	max  int64
	log  *slog.Logger
	now  func() time.Time
	lock *os.File // the directory, flocked

	mu      sync.Mutex
	wake    *sync.Cond // the writer waits on it for work or Close
	queue   []*pending
	closing bool
	failed  error // sticky: set when the disk state became unknown
	head    head  // the last durable entry
	done    chan struct{}

	// Owned by the writer goroutine (and by Open and Close around it).
	f     *os.File
	fname string
	size  int64
	buf   []byte

	cpMu sync.Mutex // one checkpoint at a time

	syncs atomic.Uint64 // batches made durable: tests see group commit work
}

// head is the last durable entry.
type head struct {
	seq  uint64
	hash string
	time time.Time
}

// pending is one Append waiting for its batch.
type pending struct {
	e    Entry
	err  error
	done chan struct{}
}

// Open opens the log in dir, creating dir (mode 0700) and the first file
// if needed. It reads only the directory listing and the first line and
// the end of the newest file (its cost does not grow with the log): an
// incomplete final line, which a crash mid-write leaves, is cut off, the
// cut made durable and logged; a last complete line that is unreadable or
// does not match its own hash, files not named for the seqs they hold,
// and a checkpoint that counts more entries than the log holds stop Open
// with an error wrapping ErrCorrupt, leaving the files as they are.
// Verify checks the rest.
func Open(ctx context.Context, dir string, opts Options) (*Log, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("audit: create log directory: %w", err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	lock, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: open log directory: %w", err)
	}
	if err := lockDir(lock); err != nil {
		_ = lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another process (or Log) has the audit log open", ErrLocked)
		}
		return nil, fmt.Errorf("audit: lock log directory: %w", err)
	}
	l := &Log{dir: dir, max: opts.MaxFileBytes, log: opts.Logger, now: opts.Now, lock: lock, done: make(chan struct{})}
	l.wake = sync.NewCond(&l.mu)
	if err := l.recover(); err != nil {
		if l.f != nil {
			_ = l.f.Close()
		}
		_ = lock.Close()
		return nil, err
	}
	go l.run()
	return l, nil
}

// recover finds the head of the log and opens the file appends go to.
// It changes nothing on disk before every check has passed, so that a log
// it refuses is left as it found it, as evidence.
func (l *Log) recover() error {
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		if err := l.checkCheckpointTail(head{hash: ZeroHash}); err != nil {
			return err
		}
		name := segmentName(1)
		f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("audit: create %s: %w", name, err)
		}
		l.f, l.fname, l.head = f, name, head{hash: ZeroHash}
		return atomicfile.SyncDir(l.dir)
	}
	t, err := l.findHead(segs)
	if err != nil {
		return err
	}
	if err := l.checkCheckpointTail(l.head); err != nil {
		return err
	}
	return l.cutTorn(l.f, l.fname, t)
}

// findHead opens the newest of segs for appending, sets the head from the
// last whole entry (in the file before, if the newest is empty) and
// returns the newest file's tail, whose torn line the caller cuts off.
func (l *Log) findHead(segs []segment) (fileTail, error) {
	if segs[0].first != 1 {
		return fileTail{}, refuse(segs[0].name, 0, fmt.Errorf("the oldest file is named for seq %d: the files before it are missing", segs[0].first))
	}
	cur := segs[len(segs)-1]
	f, err := os.OpenFile(filepath.Join(l.dir, cur.name), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fileTail{}, fmt.Errorf("audit: open %s: %w", cur.name, err)
	}
	l.f, l.fname = f, cur.name
	fi, err := f.Stat()
	if err != nil {
		return fileTail{}, fmt.Errorf("audit: %s: %w", cur.name, err)
	}
	t, err := readTail(f, fi.Size())
	if err != nil {
		return fileTail{}, refuse(cur.name, fi.Size(), err)
	}
	l.size = t.end
	if t.last != nil {
		e, err := verifiedLine(t.last)
		if err != nil {
			return fileTail{}, refuse(cur.name, t.lastOff, err)
		}
		if e.Seq < cur.first || t.lastOff == 0 && e.Seq != cur.first {
			return fileTail{}, refuse(cur.name, t.lastOff, fmt.Errorf("seq %d does not belong in a file that starts at seq %d", e.Seq, cur.first))
		}
		if t.lastOff > 0 {
			var b [32]byte
			n, err := f.ReadAt(b[:], 0)
			if err != nil && err != io.EOF {
				return fileTail{}, fmt.Errorf("audit: read %s: %w", cur.name, err)
			}
			if s := lineSeq(b[:n]); s != cur.first {
				return fileTail{}, refuse(cur.name, 0, fmt.Errorf("the file is named for seq %d but its first line is not that entry", cur.first))
			}
		}
		l.head = head{seq: e.Seq, hash: e.Hash, time: e.Time}
		return t, nil
	}
	// The newest file is empty: a new log, or a rotation a crash cut short
	// after creating the file. The head is the end of the file before.
	if len(segs) == 1 {
		if cur.first != 1 {
			return fileTail{}, refuse(cur.name, 0, fmt.Errorf("the only file is empty and named for seq %d: the files before it are missing", cur.first))
		}
		l.head = head{hash: ZeroHash}
		return t, nil
	}
	prev := segs[len(segs)-2]
	pf, err := os.Open(filepath.Join(l.dir, prev.name))
	if err != nil {
		return fileTail{}, fmt.Errorf("audit: open %s: %w", prev.name, err)
	}
	defer pf.Close()
	pfi, err := pf.Stat()
	if err != nil {
		return fileTail{}, fmt.Errorf("audit: %s: %w", prev.name, err)
	}
	pt, err := readTail(pf, pfi.Size())
	switch {
	case err != nil:
		return fileTail{}, refuse(prev.name, pfi.Size(), err)
	case pt.torn > 0:
		return fileTail{}, refuse(prev.name, pt.end, errors.New("an older file ends in an incomplete line"))
	case pt.last == nil:
		return fileTail{}, refuse(prev.name, 0, errors.New("an older file is empty"))
	}
	e, err := verifiedLine(pt.last)
	if err != nil {
		return fileTail{}, refuse(prev.name, pt.lastOff, err)
	}
	if e.Seq+1 != cur.first {
		return fileTail{}, refuse(cur.name, 0, fmt.Errorf("named for seq %d, but the file before ends at seq %d", cur.first, e.Seq))
	}
	l.head = head{seq: e.Seq, hash: e.Hash, time: e.Time}
	return t, nil
}

// cutTorn removes the incomplete final line of f, which a crash in the
// middle of a write leaves (the write was never acknowledged), and makes
// the cut durable.
func (l *Log) cutTorn(f *os.File, name string, t fileTail) error {
	if t.torn == 0 {
		return nil
	}
	if err := f.Truncate(t.end); err != nil {
		return fmt.Errorf("audit: cut the incomplete final line of %s: %w", name, err)
	}
	if err := datasync(f); err != nil {
		return fmt.Errorf("audit: cut the incomplete final line of %s: %w", name, err)
	}
	l.log.Warn("audit: removed an incomplete final line, a write cut short by a crash (it was never acknowledged)",
		"file", name, "bytes", t.torn)
	return nil
}

// verifiedLine parses a line and checks its own hash.
func verifiedLine(line []byte) (Entry, error) {
	e, err := parseLine(line)
	if err != nil {
		return Entry{}, err
	}
	if !checkHash(line, &e) {
		return Entry{}, fmt.Errorf("seq %d: the hash does not match the entry: it was altered", e.Seq)
	}
	return e, nil
}

// refuse is Open's answer to a log it did not leave that way. An I/O
// error is passed on as one: it says nothing about tampering.
func refuse(file string, off int64, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("audit: %s: %w", file, err)
	}
	if !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return fmt.Errorf("%w (%s, byte %d); refusing to start: run the audit verification to locate the damage and keep the directory as evidence", err, file, off)
}

// Head returns the seq and hash of the last durable entry (0 and ZeroHash
// for an empty log).
func (l *Log) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head.seq, l.head.hash
}

// Append records e and returns it as written, with Seq, Time, Prev and
// Hash filled in (values given for them are ignored). It returns once the
// entry is on disk (fdatasync): an acknowledged entry survives kill -9 and
// power loss. Free-text fields are cut to their Max* limit; an invalid
// Action or Result or an empty Who is refused with ErrInvalid.
//
// Appends from concurrent callers are written together, one write and
// one fdatasync per batch (group commit): seq order is file order is the
// order the batch queue saw them. ctx is checked only before the entry is
// queued: once queued it is written, and the caller learns the outcome.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	e, err := normalize(e)
	if err != nil {
		return Entry{}, err
	}
	p := &pending{e: e, done: make(chan struct{})}
	l.mu.Lock()
	switch {
	case l.closing:
		l.mu.Unlock()
		return Entry{}, ErrClosed
	case l.failed != nil:
		err := l.failed
		l.mu.Unlock()
		return Entry{}, err
	}
	l.queue = append(l.queue, p)
	l.wake.Signal()
	l.mu.Unlock()
	<-p.done
	if p.err != nil {
		return Entry{}, p.err
	}
	return p.e, nil
}

// Close writes what is queued, closes the file and releases the
// directory. Appends after Close fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closing = true
	l.wake.Broadcast()
	l.mu.Unlock()
	<-l.done
	err := l.f.Close()
	if cerr := l.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit: close: %w", err)
	}
	return nil
}

// run is the writer: it takes everything queued, writes it with one write
// and one fdatasync, acknowledges, and repeats. While one batch is being
// synced the next one queues up, so under concurrency the cost of an
// fdatasync is shared by every entry in the batch.
func (l *Log) run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closing {
			l.wake.Wait()
		}
		if len(l.queue) == 0 {
			l.mu.Unlock()
			return
		}
		batch := l.queue
		if len(batch) > maxBatch {
			batch = batch[:maxBatch:maxBatch]
			l.queue = append([]*pending(nil), l.queue[maxBatch:]...)
		} else {
			l.queue = nil
		}
		h, failed := l.head, l.failed
		l.mu.Unlock()
		if failed != nil {
			finish(batch, failed)
			continue
		}
		l.commit(batch, h)
	}
}

func finish(ps []*pending, err error) {
	for _, p := range ps {
		p.err = err
		close(p.done)
	}
}

// commit writes batch after h, starting a new file where the current one
// would grow past the limit. Each entry is acknowledged once the file it
// went to is synced.
func (l *Log) commit(batch []*pending, h head) {
	now, err := l.clock()
	if err != nil {
		finish(batch, err)
		return
	}
	if now.Before(h.time) {
		l.log.Warn("audit: the clock went backwards; entries are recorded with the time it reads",
			"last", h.time.Format(time.RFC3339Nano), "now", now.Format(time.RFC3339Nano))
	}
	buf := l.buf[:0]
	first := 0 // batch[first:] is what buf holds
	seq, prev := h.seq, h.hash
	for i, p := range batch {
		p.e.Seq, p.e.Time, p.e.Prev = seq+1, now, prev
		off := len(buf)
		buf = appendEntry(buf, &p.e)
		if l.size+int64(len(buf)) > l.max && l.size+int64(off) > 0 {
			if off > 0 {
				if err := l.flush(batch[first:i], buf[:off]); err != nil {
					finish(batch[i:], err)
					return
				}
			}
			if err := l.rotate(p.e.Seq); err != nil {
				finish(batch[i:], err)
				return
			}
			buf = append(buf[:0], buf[off:]...)
			first = i
		}
		seq, prev = p.e.Seq, p.e.Hash
	}
	_ = l.flush(batch[first:], buf)
	if cap(buf) <= 1<<20 {
		l.buf = buf
	}
}

// flush writes the lines of ps to the current file, syncs it, advances
// the head and acknowledges ps. A failed write is cut back off the file;
// when that or an fdatasync fails, what is on disk is unknown and the Log
// fails every later append (fsync errors are not retried: the kernel may
// already have dropped the dirty pages).
func (l *Log) flush(ps []*pending, data []byte) error {
	if _, err := l.f.Write(data); err != nil {
		err = fmt.Errorf("audit: write %s: %w", l.fname, err)
		if terr := l.f.Truncate(l.size); terr != nil {
			l.fail(fmt.Errorf("%w; removing the partial write: %w", err, terr))
		} else if serr := datasync(l.f); serr != nil {
			l.fail(fmt.Errorf("%w; removing the partial write: %w", err, serr))
		}
		finish(ps, err)
		return err
	}
	if err := datasync(l.f); err != nil {
		err = l.fail(fmt.Errorf("audit: fdatasync %s: %w", l.fname, err))
		finish(ps, err)
		return err
	}
	l.size += int64(len(data))
	l.syncs.Add(1)
	last := ps[len(ps)-1].e
	l.mu.Lock()
	l.head = head{seq: last.Seq, hash: last.Hash, time: last.Time}
	l.mu.Unlock()
	finish(ps, nil)
	return nil
}

// rotate makes the file for seq first the current one. Every line of the
// old file is already synced. The new file is created and the directory
// synced before anything is written to it, so a crash leaves either no
// new file or an empty one, and Open continues from either.
func (l *Log) rotate(first uint64) error {
	name := segmentName(first)
	f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit: create %s: %w", name, err)
	}
	if err := atomicfile.SyncDir(l.dir); err != nil {
		_ = f.Close()
		return l.fail(fmt.Errorf("audit: create %s: %w", name, err))
	}
	if err := l.f.Close(); err != nil {
		l.log.Warn("audit: close the previous file", "file", l.fname, "err", err)
	}
	l.log.Info("audit: new log file", "file", name, "previous", l.fname, "previous_bytes", l.size)
	l.f, l.fname, l.size = f, name, 0
	return nil
}

// clock reads Options.Now in UTC, refusing a time the fixed-width
// encoding cannot spell.
func (l *Log) clock() (time.Time, error) {
	now := l.now().UTC()
	if y := now.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("audit: the clock reads %v, outside years 1 to 9999", now)
	}
	return now, nil
}

// fail makes err sticky and returns it wrapped in ErrFailed.
func (l *Log) fail(err error) error {
	err = fmt.Errorf("%w: %w; reopen the log", ErrFailed, err)
	l.log.Error("audit: log failed; appends are refused until it is reopened", "err", err)
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	l.mu.Unlock()
	return err
}
