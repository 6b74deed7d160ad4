package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
)

// Checkpoint limits.
const (
	MaxKeyID     = 128
	MaxSignature = 4096
)

// checkpointType opens every signed checkpoint message, so a signature
// over one can never be taken for a signature over anything else.
const checkpointType = `{"type":"audit-checkpoint/v1","count":`

// Checkpoint is a signed statement that the log held Count entries, the
// last with hash Head. Kept outside the log (or merely signed), it makes
// cutting entries off the end of the log detectable: Verify checks the log
// still holds entry Count with that hash.
type Checkpoint struct {
	Count     uint64    `json:"count"`
	Head      string    `json:"head"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// Message returns the bytes the signature covers.
func (c *Checkpoint) Message() []byte {
	return append(c.appendBody(nil), '}')
}

func (c *Checkpoint) appendBody(b []byte) []byte {
	b = append(b, checkpointType...)
	b = strconv.AppendUint(b, c.Count, 10)
	b = append(b, `,"head":"`...)
	b = append(b, c.Head...)
	b = append(b, `","time":"`...)
	b = c.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","key_id":`...)
	return appendString(b, c.KeyID)
}

func (c *Checkpoint) appendLine(b []byte) []byte {
	b = c.appendBody(b)
	b = append(b, `,"signature":"`...)
	b = base64.StdEncoding.AppendEncode(b, c.Signature)
	return append(b, "\"}\n"...)
}

// parseCheckpoint reads one checkpoints.jsonl line without its newline.
func parseCheckpoint(line []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(line) >= MaxLineBytes {
		return c, fmt.Errorf("line of %d bytes, over the limit of %d", len(line)+1, MaxLineBytes)
	}
	s := scanner{b: line}
	s.lit(checkpointType)
	c.Count = s.uint("count")
	s.lit(`,"head":`)
	c.Head = s.hex("head")
	s.lit(`,"time":`)
	c.Time = s.time("time")
	s.lit(`,"key_id":`)
	c.KeyID = s.str("key_id", MaxKeyID)
	s.lit(`,"signature":"`)
	start := s.i
	for s.err == nil && s.i < len(s.b) && s.b[s.i] != '"' {
		s.i++
	}
	sig := s.b[start:s.i]
	s.lit(`"}`)
	if s.err == nil && s.i != len(s.b) {
		s.fail("bytes after the closing brace")
	}
	if s.err != nil {
		return Checkpoint{}, s.err
	}
	var err error
	c.Signature, err = base64.StdEncoding.DecodeString(string(sig))
	switch {
	case err != nil || base64.StdEncoding.EncodeToString(c.Signature) != string(sig):
		return Checkpoint{}, errors.New(`"signature" is not canonical standard base64`)
	case len(c.Signature) == 0 || len(c.Signature) > MaxSignature:
		return Checkpoint{}, fmt.Errorf("signature of %d bytes: want 1 to %d", len(c.Signature), MaxSignature)
	case c.Count == 0:
		return Checkpoint{}, errors.New("count 0")
	case c.KeyID == "":
		return Checkpoint{}, errors.New(`empty "key_id"`)
	}
	return c, nil
}

// Checkpoint signs the current head with sign and appends the checkpoint
// to checkpoints.jsonl (synced before it returns). sign receives
// Checkpoint.Message(); keyID names the key for the verifier. Appends go
// on while sign runs; the checkpoint covers the head taken before it.
func (l *Log) Checkpoint(ctx context.Context, sign func(ctx context.Context, msg []byte) ([]byte, error), keyID string) (Checkpoint, error) {
	if keyID == "" || len(keyID) > MaxKeyID {
		return Checkpoint{}, fmt.Errorf("%w: key id of %d bytes: want 1 to %d", ErrInvalid, len(keyID), MaxKeyID)
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	l.mu.Lock()
	h, closing := l.head, l.closing
	l.mu.Unlock()
	switch {
	case closing:
		return Checkpoint{}, ErrClosed
	case h.seq == 0:
		return Checkpoint{}, fmt.Errorf("%w: the log is empty: nothing to checkpoint", ErrInvalid)
	}
	now, err := l.clock()
	if err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{Count: h.seq, Head: h.hash, Time: now, KeyID: clip(keyID, MaxKeyID)}
	sig, err := sign(ctx, c.Message())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	if len(sig) == 0 || len(sig) > MaxSignature {
		return Checkpoint{}, fmt.Errorf("%w: signature of %d bytes: want 1 to %d", ErrInvalid, len(sig), MaxSignature)
	}
	c.Signature = sig
	if err := appendSynced(l.dir, checkpointFile, c.appendLine(nil)); err != nil {
		return Checkpoint{}, err
	}
	return c, nil
}

// appendSynced appends line to dir/name and syncs it (and dir, when the
// file is new). A failed write is cut back off.
func appendSynced(dir, name string, line []byte) error {
	path := filepath.Join(dir, name)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %s: %w", name, err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Truncate(fi.Size())
		return fmt.Errorf("audit: write %s: %w", name, err)
	}
	if err := datasync(f); err != nil {
		return fmt.Errorf("audit: fdatasync %s: %w", name, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return atomicfile.SyncDir(dir)
	}
	return nil
}

// checkCheckpointTail is Open's cheap guard against a log cut short: the
// last checkpoint must not count more entries than the log holds, nor
// disagree with its head when it counts exactly as many. A torn final
// checkpoint line (a crash mid-write) is cut off.
func (l *Log) checkCheckpointTail(h head) error {
	f, err := os.OpenFile(filepath.Join(l.dir, checkpointFile), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", checkpointFile, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %s: %w", checkpointFile, err)
	}
	t, err := readTail(f, fi.Size())
	if err != nil {
		return refuse(checkpointFile, fi.Size(), err)
	}
	if t.last != nil {
		c, err := parseCheckpoint(t.last)
		switch {
		case err != nil:
			return refuse(checkpointFile, t.lastOff, err)
		case c.Count > h.seq:
			return refuse(checkpointFile, t.lastOff, fmt.Errorf("the last checkpoint counts %d entries but the log ends at seq %d: entries were removed from the end", c.Count, h.seq))
		case c.Count == h.seq && c.Head != h.hash:
			return refuse(checkpointFile, t.lastOff, fmt.Errorf("the last checkpoint's head differs from entry %d: the log was rewritten", c.Count))
		}
	}
	return l.cutTorn(f, checkpointFile, t)
}
