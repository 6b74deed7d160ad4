package gguf

import (
	"fmt"
	"math"
)

// Validate checks the header against the size of the whole file: every
// tensor's bytes [DataOffset+Offset, +Size) lie inside it, and nothing
// follows the data section but the last tensor's alignment padding (which
// may be cut short: a file may end anywhere inside it). It re-checks what
// Parse checked of the layout — types and sizes, alignment, offsets exactly
// contiguous in header order as ggml requires — so a File built or edited
// by hand is held to the same rules.
//
// Validate does not read the data section; the padding between tensors
// and after the last one is data-section content the caller streams past.
func (f *File) Validate(fileSize int64) error {
	if err := f.validate(fileSize); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

func (f *File) validate(fileSize int64) error {
	if fileSize < 0 {
		return fmt.Errorf("file size %d is negative", fileSize)
	}
	if f.DataOffset < 0 || f.HeaderBytes != f.DataOffset {
		return fmt.Errorf("inconsistent header: data offset %d, header bytes %d", f.DataOffset, f.HeaderBytes)
	}
	if f.DataOffset > fileSize {
		return fmt.Errorf("the header (%d bytes) is longer than the file (%d bytes)", f.DataOffset, fileSize)
	}
	for i := range f.Tensors {
		t := f.Tensors[i] // a copy: size() recomputes into it
		if err := t.size(); err != nil {
			return err
		}
		if t.Size != f.Tensors[i].Size || t.Elements != f.Tensors[i].Elements {
			return fmt.Errorf("tensor %q: size %d bytes and %d elements do not match its shape %s of %s",
				t.Name, f.Tensors[i].Size, f.Tensors[i].Elements, shape(t.Dims), t.Type)
		}
	}
	if err := f.checkLayout(f.DataOffset); err != nil {
		return err
	}
	// checkLayout proved every DataOffset+Offset+padded size fits in int64.
	base := uint64(f.DataOffset)
	end, paddedEnd := base, alignUp(base, f.Alignment)
	for _, t := range f.Tensors {
		start := base + t.Offset
		end = start + t.Size
		paddedEnd = start + alignUp(t.Size, f.Alignment)
		if end > uint64(fileSize) {
			return fmt.Errorf("tensor %q: bytes [%d, %d) extend past the end of the file (%d bytes)", t.Name, start, end, fileSize)
		}
	}
	if uint64(fileSize) > paddedEnd {
		return fmt.Errorf("%d bytes follow the end of the data at offset %d (only alignment padding up to %d may)",
			uint64(fileSize)-end, end, paddedEnd)
	}
	return nil
}

// checkLayout enforces gguf.cpp's rule: tensor i's offset is exactly the
// sum of the sizes of tensors 0..i-1, each padded to the alignment. Apart
// from overlaps this also refuses gaps (unhashed bytes between tensors) and
// data stored in another order than the header lists it. base is the data
// offset the layout starts at; the whole layout must end below 2^63.
func (f *File) checkLayout(base int64) error {
	a := f.Alignment
	if a == 0 || a&(a-1) != 0 || a > maxAlignment {
		return fmt.Errorf("alignment %d is not a power of two up to %d", a, maxAlignment)
	}
	room := uint64(math.MaxInt64 - base)
	var next uint64 // where the next tensor must start
	for i, t := range f.Tensors {
		if t.Offset%a != 0 {
			return fmt.Errorf("tensor %q: offset %d is not aligned to %d", t.Name, t.Offset, a)
		}
		if t.Offset != next {
			return f.offsetErr(i, next)
		}
		// Size < 2^63 (Tensor.size) and a <= 1 MiB, so this cannot wrap.
		padded := alignUp(t.Size, a)
		if padded > room-next {
			return fmt.Errorf("tensor %q: the data section would end beyond 2^63 bytes", t.Name)
		}
		next += padded
	}
	return nil
}

func (f *File) offsetErr(i int, want uint64) error {
	t := f.Tensors[i]
	for _, u := range f.Tensors[i+1:] {
		if t.Offset > want && u.Offset == want {
			return fmt.Errorf("tensor %q: offset %d, expected %d: tensor %q is stored there instead, but tensor data must be stored in header order",
				t.Name, t.Offset, want, u.Name)
		}
	}
	if i == 0 {
		return fmt.Errorf("tensor %q: offset %d, expected 0: the first tensor must start the data section", t.Name, t.Offset)
	}
	prev := f.Tensors[i-1]
	switch {
	case t.Offset > want:
		return fmt.Errorf("tensor %q: offset %d, expected %d: %d unused bytes after tensor %q (tensors must be contiguous, each padded to %d)",
			t.Name, t.Offset, want, t.Offset-want, prev.Name, f.Alignment)
	case t.Offset < prev.Offset:
		return fmt.Errorf("tensor %q: offset %d, expected %d: it lies before tensor %q at offset %d, but tensor data must be stored in header order",
			t.Name, t.Offset, want, prev.Name, prev.Offset)
	default:
		return fmt.Errorf("tensor %q: offset %d, expected %d: it overlaps tensor %q at [%d, %d)",
			t.Name, t.Offset, want, prev.Name, prev.Offset, prev.Offset+prev.Size)
	}
}

// Range returns the absolute byte range [start, end) of t in the file.
// It is meaningful for a tensor of f after Validate succeeded.
func (f *File) Range(t Tensor) (start, end int64) {
	start = f.DataOffset + int64(t.Offset)
	return start, start + int64(t.Size)
}
