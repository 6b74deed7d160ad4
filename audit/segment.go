package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// File names. A log file is named for the seq of its first entry, zero
// padded to 20 digits, so names sort as the log runs and a reader can find
// the file holding a seq from the directory listing alone.
const (
	filePrefix     = "audit-"
	fileSuffix     = ".jsonl"
	fileNameLen    = len(filePrefix) + 20 + len(fileSuffix)
	checkpointFile = "checkpoints.jsonl"
)

func segmentName(first uint64) string { return fmt.Sprintf("%s%020d%s", filePrefix, first, fileSuffix) }

// segment is one log file.
type segment struct {
	name  string
	first uint64 // seq of its first entry, from the name
}

func parseSegmentName(name string) (uint64, bool) {
	if len(name) != fileNameLen || !strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
		return 0, false
	}
	digits := name[len(filePrefix) : len(filePrefix)+20]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n > 0
}

// listSegments returns the log files of dir in log order; other files
// (checkpoints.jsonl, anything an operator left) are not part of it.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: list log files: %w", err)
	}
	var segs []segment
	for _, de := range ents {
		if first, ok := parseSegmentName(de.Name()); ok && de.Type().IsRegular() {
			segs = append(segs, segment{name: de.Name(), first: first})
		}
	}
	return segs, nil // ReadDir sorts by name, which is by first seq
}

// fileTail is what the end of a JSONL file holds.
type fileTail struct {
	end     int64  // just past the last newline: the length without a torn line
	torn    int64  // bytes after end, an incomplete final line
	last    []byte // the last complete line without its newline; nil if none
	lastOff int64  // where it starts
}

// readTail reads at most 2*MaxLineBytes from the end of a file of size
// bytes: enough for a torn line (shorter than MaxLineBytes), the last
// complete line (at most MaxLineBytes) and the newline before it. It costs
// the same whatever the file's length.
func readTail(f io.ReaderAt, size int64) (fileTail, error) {
	w := min(size, 2*MaxLineBytes)
	buf := make([]byte, w)
	base := size - w
	if _, err := f.ReadAt(buf, base); err != nil && err != io.EOF {
		return fileTail{}, err
	}
	nl := bytes.LastIndexByte(buf, '\n')
	if nl < 0 {
		if base > 0 || w >= MaxLineBytes {
			return fileTail{}, fmt.Errorf("%w: no line ends in the last %d bytes", ErrCorrupt, w)
		}
		return fileTail{torn: size}, nil
	}
	t := fileTail{end: base + int64(nl) + 1}
	t.torn = size - t.end
	if t.torn >= MaxLineBytes {
		return fileTail{}, fmt.Errorf("%w: the last %d bytes are not a line", ErrCorrupt, t.torn)
	}
	start := bytes.LastIndexByte(buf[:nl], '\n') + 1
	if start == 0 && base > 0 {
		return fileTail{}, fmt.Errorf("%w: the last line is longer than %d bytes", ErrCorrupt, MaxLineBytes)
	}
	t.last, t.lastOff = buf[start:nl], base+int64(start)
	return t, nil
}

// lineReader reads a JSONL file line by line, bounding each line to
// MaxLineBytes (newline included) so hostile bytes cannot make it buffer
// without limit.
type lineReader struct {
	r    *bufio.Reader
	n    int   // lines returned so far
	torn int64 // bytes after the last newline, once next returned io.EOF
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, MaxLineBytes)}
}

// errLongLine: no newline within MaxLineBytes. This package never writes
// such a line.
var errLongLine = fmt.Errorf("a line longer than %d bytes", MaxLineBytes)

// next returns the next line without its newline, valid until the next
// call. At the end of the file it returns io.EOF, with torn set to the
// length of an incomplete final line; a longer line is errLongLine.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.r.ReadSlice('\n')
	switch {
	case err == nil:
		lr.n++
		return line[:len(line)-1], nil
	case err == io.EOF:
		lr.torn = int64(len(line))
		return nil, io.EOF
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, errLongLine
	}
	return nil, err
}
