package safetensors

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Validate checks the header against the size of the whole file: the
// tensors, contiguous from offset 0, must cover the data section exactly,
// with no byte before, between or after them that no tensor accounts for.
// It re-checks every rule Parse applied to the tensors, so a File built or
// edited by hand is held to the same rules.
func (f *File) Validate(fileSize int64) error {
	if err := f.checkTensors(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := f.validate(fileSize); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// validate is the file-size part of Validate; checkTensors has passed.
func (f *File) validate(fileSize int64) error {
	if fileSize < 0 {
		return fmt.Errorf("file size %d is negative", fileSize)
	}
	if fileSize < f.DataOffset {
		return fmt.Errorf("the header ends at byte %d, beyond the end of the file (%d bytes)", f.DataOffset, fileSize)
	}
	var end uint64 // checkTensors: contiguous, ending below 2^63 - DataOffset
	if n := len(f.Tensors); n > 0 {
		end = f.Tensors[n-1].End
	}
	data := uint64(fileSize - f.DataOffset)
	switch {
	case end > data:
		last := f.Tensors[len(f.Tensors)-1]
		return fmt.Errorf("tensor %q: data_offsets [%d, %d) extend past the end of the data section (%d bytes)", last.Name, last.Begin, last.End, data)
	case end < data:
		return fmt.Errorf("%d bytes follow the last tensor: the tensors cover %d of the %d bytes of the data section", data-end, end, data)
	}
	return nil
}

// checkTensors applies the reference reader's rules (Metadata::validate)
// to f.Tensors, which must be sorted by offsets: contiguous from 0 with no
// gaps or overlaps, and End-Begin == product(shape) * bits(dtype) / 8,
// computed without overflow and in whole bytes.
func (f *File) checkTensors() error {
	if f.DataOffset < 10 || uint64(f.DataOffset) != 8+f.HeaderLen {
		return fmt.Errorf("inconsistent header: header length %d, data offset %d", f.HeaderLen, f.DataOffset)
	}
	room := uint64(math.MaxInt64 - f.DataOffset)
	var next uint64
	for i, t := range f.Tensors {
		if t.End < t.Begin {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d) end before they begin", t.Name, t.Begin, t.End)
		}
		if t.Begin != next {
			return offsetErr(f.Tensors, i, next)
		}
		if t.End > room {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d) lie beyond 2^63 bytes", t.Name, t.Begin, t.End)
		}
		size, err := t.byteSize()
		if err != nil {
			return err
		}
		if t.Size() != size {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d) hold %d bytes, but shape %s of %s needs %d",
				t.Name, t.Begin, t.End, t.Size(), shape(t.Shape), t.DType, size)
		}
		next = t.End
	}
	return nil
}

func offsetErr(ts []Tensor, i int, want uint64) error {
	t := ts[i]
	if t.Begin > want {
		after := "the start of the data section"
		if i > 0 {
			after = fmt.Sprintf("tensor %q", ts[i-1].Name)
		}
		return fmt.Errorf("tensor %q: data_offsets begin at %d, leaving %d unused bytes after %s", t.Name, t.Begin, t.Begin-want, after)
	}
	p := ts[i-1] // Begin < want is only possible after a tensor ending at want
	return fmt.Errorf("tensor %q: data_offsets [%d, %d) overlap tensor %q at [%d, %d)", t.Name, t.Begin, t.End, p.Name, p.Begin, p.End)
}

// byteSize is the number of bytes t's dtype and shape need.
func (t Tensor) byteSize() (uint64, error) {
	b, ok := dtypeBits[t.DType]
	if !ok {
		return 0, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n := uint64(1)
	for _, d := range t.Shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return 0, fmt.Errorf("tensor %q: shape %s has more than 2^64 elements", t.Name, shape(t.Shape))
		}
		n = lo
	}
	hi, nbits := bits.Mul64(n, b)
	if hi != 0 {
		return 0, fmt.Errorf("tensor %q: shape %s of %s is larger than 2^64 bits", t.Name, shape(t.Shape), t.DType)
	}
	if nbits%8 != 0 {
		return 0, fmt.Errorf("tensor %q: %d elements of %s take %d bits, not a whole number of bytes", t.Name, n, t.DType, nbits)
	}
	return nbits / 8, nil
}

func shape(s []uint64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, v)
	}
	b.WriteByte(']')
	return b.String()
}
