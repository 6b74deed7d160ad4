package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors, checked with errors.Is. Messages that wrap them name the
// file and entry at fault, never an absolute path or a secret.
var (
	// ErrInvalid: an entry or argument the log will not record (unknown
	// result, malformed action, empty who, non-positive limit).
	ErrInvalid = errors.New("audit: invalid")
	// ErrCorrupt: the log on disk is not what this package wrote. Open
	// refuses to start on it; Read stops at it. Verify locates it.
	ErrCorrupt = errors.New("audit: log corrupt")
	// ErrLocked: another Log (in this or another process) has the
	// directory open.
	ErrLocked = errors.New("audit: log in use")
	// ErrClosed: Append or Checkpoint after Close.
	ErrClosed = errors.New("audit: log closed")
	// ErrFailed: an earlier write or fsync failed, so what is on disk is
	// unknown; the Log refuses every further append until it is reopened
	// (Open repairs and checks the tail).
	ErrFailed = errors.New("audit: log failed")
)

// CorruptError is Verify's answer for a damaged log: where the chain
// breaks. Every entry before Seq is intact and linked; what is at File
// line Line is not entry Seq as it was written. It wraps ErrCorrupt.
type CorruptError struct {
	File   string // base name of the file where the break shows (a log file or checkpoints.jsonl)
	Line   int    // 1-based line in File
	Seq    uint64 // the first seq that could not be verified
	Reason string // what was found there
}

// Error names the file, line and seq, and what was found there.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("audit: log corrupt at %s line %d (seq %d): %s", e.File, e.Line, e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }
