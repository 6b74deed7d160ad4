package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// VerifyOptions configure Verify. The zero value checks the chain and
// the checkpoints' counts and heads, not their signatures.
type VerifyOptions struct {
	// CheckSignature, if set, is called for every checkpoint; an error
	// makes Verify report that checkpoint as corrupt. It should check
	// c.Signature over c.Message() with the key c.KeyID names.
	CheckSignature func(c Checkpoint) error
}

// Report is what Verify found in an intact log.
type Report struct {
	Files       int    // log files read
	Entries     uint64 // seq of the last entry; 0 for an empty log
	Head        string // hash of the last entry; ZeroHash for an empty log
	Checkpoints int    // checkpoints that match the log
	// TornBytes is the length of an incomplete final line of the newest
	// file: a write in progress, or one a crash cut short that the next
	// Open removes. It was never acknowledged, so it is not damage.
	TornBytes int64
}

// Verify reads every file of the log in dir from the first entry to the
// last and checks that each entry is readable, matches its own hash, has
// the next seq and links to the entry before it, also across files; that
// no file is missing, empty or cut short in the middle; and that every
// checkpoint in checkpoints.jsonl names an entry the log holds with the
// hash it signed. The first damage found is returned as a *CorruptError
// (wrapping ErrCorrupt) saying where the chain breaks; any other error is
// one of I/O or ctx.
//
// Verify only reads: it takes no lock and may run while a Log has the
// directory open. A cut at the very end of the log is invisible to it
// unless a checkpoint (kept, or copied, out of reach of whoever cut) counts
// the missing entries.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (Report, error) {
	if _, err := os.Stat(dir); err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return Report{}, err
	}
	cps, err := readCheckpoints(dir, opts.CheckSignature)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Head: ZeroHash}
	seq := uint64(1) // the next entry expected
	for i, seg := range segs {
		if seg.first != seq {
			return Report{}, &CorruptError{File: seg.name, Line: 1, Seq: seq, Reason: gapReason(segs, i, seq)}
		}
		last := i == len(segs)-1
		if err := verifyFile(ctx, dir, seg.name, last, &rep, &seq, &cps); err != nil {
			return Report{}, err
		}
		rep.Files++
	}
	if len(cps) > 0 {
		c := cps[0]
		return Report{}, &CorruptError{File: checkpointFile, Line: c.line, Seq: seq,
			Reason: fmt.Sprintf("the checkpoint counts %d entries but the log ends at seq %d: entries were removed from the end", c.Count, rep.Entries)}
	}
	return rep, nil
}

// verifyFile checks one log file, the entries of which must start at
// *seq; it advances *seq, rep and the checkpoints still to match.
func verifyFile(ctx context.Context, dir, name string, newest bool, rep *Report, seq *uint64, cps *[]checkpointLine) error {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	lr := newLineReader(f)
	for {
		line, err := lr.next()
		switch {
		case err == io.EOF && lr.torn > 0 && !newest:
			return &CorruptError{File: name, Line: lr.n + 1, Seq: *seq, Reason: fmt.Sprintf("an incomplete line of %d bytes ends a file that is not the newest: it was cut short", lr.torn)}
		case err == io.EOF && lr.n == 0 && !newest:
			return &CorruptError{File: name, Line: 1, Seq: *seq, Reason: "a file that is not the newest is empty"}
		case err == io.EOF:
			rep.TornBytes = lr.torn
			return nil
		case errors.Is(err, errLongLine):
			return &CorruptError{File: name, Line: lr.n + 1, Seq: *seq, Reason: err.Error()}
		case err != nil:
			return fmt.Errorf("audit: read %s: %w", name, err)
		}
		if lr.n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		e, err := checkEntry(line, *seq, rep.Head)
		if err != nil {
			return &CorruptError{File: name, Line: lr.n, Seq: *seq, Reason: err.Error()}
		}
		for len(*cps) > 0 && (*cps)[0].Count == e.Seq {
			if c := (*cps)[0]; c.Head != e.Hash {
				return &CorruptError{File: checkpointFile, Line: c.line, Seq: e.Seq,
					Reason: fmt.Sprintf("the checkpoint's head is not the hash of entry %d (%s line %d): the log was rewritten", e.Seq, name, lr.n)}
			}
			*cps = (*cps)[1:]
			rep.Checkpoints++
		}
		rep.Entries, rep.Head, *seq = e.Seq, e.Hash, e.Seq+1
	}
}

// gapReason says why segs[i], named for a seq other than the expected
// one, breaks the chain.
func gapReason(segs []segment, i int, seq uint64) string {
	first := segs[i].first
	switch {
	case first < seq:
		return fmt.Sprintf("the file is named for seq %d, but the file before it already holds entries up to seq %d", first, seq-1)
	case i == 0:
		return fmt.Sprintf("the first file starts at seq %d: the files holding entries 1 to %d are missing", first, first-1)
	}
	return fmt.Sprintf("the file before it ends at seq %d, but this one starts at seq %d: entries %d to %d are missing (a file removed, or the file before cut short)", seq-1, first, seq, first-1)
}

// checkEntry parses line and checks that it is entry seq, intact, and
// linked to the entry whose hash is prev (unchecked when prev is "").
func checkEntry(line []byte, seq uint64, prev string) (Entry, error) {
	e, err := verifiedLine(line)
	switch {
	case err != nil:
		return Entry{}, err
	case e.Seq != seq:
		return Entry{}, fmt.Errorf("holds seq %d where seq %d belongs: entries were removed, inserted or reordered", e.Seq, seq)
	case prev != "" && e.Prev != prev:
		return Entry{}, fmt.Errorf("seq %d: its prev is not the hash of the entry before it: that entry was altered or replaced", e.Seq)
	}
	return e, nil
}

// checkpointLine is a checkpoint and its line in checkpoints.jsonl.
type checkpointLine struct {
	Checkpoint
	line int
}

// readCheckpoints reads checkpoints.jsonl, if there is one, checking each
// signature with check when it is set. An incomplete final line is a
// write a crash cut short (Open removes it), not a checkpoint.
func readCheckpoints(dir string, check func(Checkpoint) error) ([]checkpointLine, error) {
	f, err := os.Open(filepath.Join(dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	var cps []checkpointLine
	lr := newLineReader(f)
	for {
		line, err := lr.next()
		switch {
		case err == io.EOF:
			return cps, nil
		case errors.Is(err, errLongLine):
			return nil, &CorruptError{File: checkpointFile, Line: lr.n + 1, Reason: err.Error()}
		case err != nil:
			return nil, fmt.Errorf("audit: read %s: %w", checkpointFile, err)
		}
		c, err := parseCheckpoint(line)
		if err != nil {
			return nil, &CorruptError{File: checkpointFile, Line: lr.n, Reason: "unreadable checkpoint: " + err.Error()}
		}
		if n := len(cps); n > 0 && c.Count < cps[n-1].Count {
			return nil, &CorruptError{File: checkpointFile, Line: lr.n, Seq: c.Count,
				Reason: fmt.Sprintf("the checkpoint counts %d entries, fewer than the one before it (%d)", c.Count, cps[n-1].Count)}
		}
		if check != nil {
			if err := check(c); err != nil {
				return nil, &CorruptError{File: checkpointFile, Line: lr.n, Seq: c.Count, Reason: "signature refused: " + err.Error()}
			}
		}
		cps = append(cps, checkpointLine{c, lr.n})
	}
}
