package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// reader reads the header from r exactly: never a byte more than asked,
// so the caller's stream is left at the end of what Parse consumed. It
// counts what it consumed and refuses to read past the header budget.
type reader struct {
	r   io.Reader
	off int64 // bytes consumed so far
	max int64 // MaxHeaderBytes
	buf [8]byte
}

// chunk bounds each read into a growing buffer, so memory follows the
// bytes that actually arrive rather than a length the file claims.
const chunk = 64 << 10

// need refuses a read of n more bytes past the header budget.
func (r *reader) need(n uint64) error {
	if left := uint64(r.max - r.off); n > left {
		return fmt.Errorf("header would exceed %d bytes at offset %d (%d more bytes needed): %w", r.max, r.off, n, ErrLimit)
	}
	return nil
}

// fill reads exactly len(p) bytes.
func (r *reader) fill(p []byte) error {
	if err := r.need(uint64(len(p))); err != nil {
		return err
	}
	n, err := io.ReadFull(r.r, p)
	r.off += int64(n)
	if err != nil {
		return r.short(err, uint64(len(p)-n))
	}
	return nil
}

// short turns an end of input into a message saying where and by how much.
func (r *reader) short(err error, missing uint64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file ends at byte %d, %d bytes short: %w", r.off, missing, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read at byte %d: %w", r.off, err)
}

func (r *reader) u32() (uint32, error) {
	if err := r.fill(r.buf[:4]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(r.buf[:4]), nil
}

func (r *reader) u64() (uint64, error) {
	if err := r.fill(r.buf[:8]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(r.buf[:8]), nil
}

// appendN appends the next n bytes to dst. n has been checked against a
// limit by the caller; the budget check here also bounds it by what the
// header may still hold, and the buffer grows one chunk at a time so a
// claimed length the input does not back costs at most one chunk.
func (r *reader) appendN(dst []byte, n uint64) ([]byte, error) {
	if err := r.need(n); err != nil {
		return dst, err
	}
	for n > 0 {
		c := int(min(n, chunk))
		dst = grow(dst, c)
		k, err := io.ReadFull(r.r, dst[len(dst):len(dst)+c])
		dst = dst[:len(dst)+k]
		r.off += int64(k)
		n -= uint64(k)
		if err != nil {
			return dst, r.short(err, n)
		}
	}
	return dst, nil
}

// appendU32 and appendU64 read an integer and also append its encoding to
// dst, for building a KV's Raw bytes as they are read.
func (r *reader) appendU32(dst []byte) ([]byte, uint32, error) {
	v, err := r.u32()
	return binary.LittleEndian.AppendUint32(grow(dst, 4), v), v, err
}

func (r *reader) appendU64(dst []byte) ([]byte, uint64, error) {
	v, err := r.u64()
	return binary.LittleEndian.AppendUint64(grow(dst, 8), v), v, err
}

// grow makes room for n more bytes, doubling the capacity when it must
// grow: a 150k-string array then costs about 2x its size in allocations,
// where append's 1.25x growth for large slices would cost about 5x.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), max(2*cap(dst), len(dst)+n))
	copy(grown, dst)
	return grown
}
