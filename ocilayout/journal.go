package ocilayout

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
)

// A journal line is one transaction: "<crc32c hex> <json>\n". A line is
// written with a single write(2) and fdatasync'd before the change is
// acknowledged; a crash can only tear the last line, which replay drops.

type opKind string

const (
	opPut   opKind = "put"   // a manifest became known
	opTag   opKind = "tag"   // tag now points at digest
	opUntag opKind = "untag" // tag removed
	opDel   opKind = "del"   // manifest (and its tags) removed
	opMeta  opKind = "meta"  // index annotations of a manifest replaced
)

type op struct {
	Op        opKind            `json:"op"`
	Digest    digest.Digest     `json:"digest,omitempty"`
	MediaType string            `json:"mediaType,omitempty"`
	Size      int64             `json:"size,omitempty"`
	Tag       string            `json:"tag,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
}

type txn struct {
	Seq uint64 `json:"seq"`
	Ops []op   `json:"ops"`
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encodeTxn(t txn) ([]byte, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(body)+10)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(body, crcTable))
	line = append(line, body...)
	return append(line, '\n'), nil
}

// readJournal returns every complete, intact transaction and the byte offset
// where the valid prefix ends. A damaged line that is not the last one is
// corruption, not a torn write, and is reported as an error.
func readJournal(f *os.File) ([]txn, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var txns []txn
	var good int64
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// No newline: an unfinished (torn) write, or nothing at all.
			return txns, good, nil
		}
		if err != nil {
			return nil, 0, err
		}
		t, perr := decodeLine(line)
		if perr != nil {
			if _, err := br.Peek(1); errors.Is(err, io.EOF) {
				return txns, good, nil // damaged last line: torn write
			}
			return nil, 0, fmt.Errorf("journal line %d is corrupt: %w", lineNo, perr)
		}
		txns = append(txns, t)
		good += int64(len(line))
	}
}

func decodeLine(line []byte) (txn, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	sum, body, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(sum) != 8 {
		return txn{}, errors.New("missing checksum")
	}
	var want [4]byte
	if _, err := hex.Decode(want[:], sum); err != nil {
		return txn{}, errors.New("bad checksum field")
	}
	got := crc32.Checksum(body, crcTable)
	if uint32(want[0])<<24|uint32(want[1])<<16|uint32(want[2])<<8|uint32(want[3]) != got {
		return txn{}, errors.New("checksum mismatch")
	}
	var t txn
	if err := json.Unmarshal(body, &t); err != nil {
		return txn{}, err
	}
	return t, nil
}
