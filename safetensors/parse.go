package safetensors

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// File is a parsed safetensors header.
type File struct {
	HeaderLen uint64 // N, the JSON header's length including padding
	// DataOffset is 8+N: where the data section starts, and how many bytes
	// Parse consumed. Tensor offsets are relative to it.
	DataOffset int64
	Metadata   map[string]string // __metadata__; nil when absent or null
	Tensors    []Tensor          // sorted by Begin (then End, then Name)
}

// Tensor is one tensor entry of the header. Its bytes are
// [DataOffset+Begin, DataOffset+End) in the file.
type Tensor struct {
	Name       string
	DType      string
	Shape      []uint64
	Begin, End uint64 // data_offsets, relative to DataOffset; End exclusive
}

// Size is the tensor's length in bytes.
func (t Tensor) Size() uint64 { return t.End - t.Begin }

// Range returns the absolute byte range [start, end) of t in the file. It
// is meaningful for a tensor of f once Parse or Validate accepted f.
func (f *File) Range(t Tensor) (start, end int64) {
	return f.DataOffset + int64(t.Begin), f.DataOffset + int64(t.End)
}

// Limits bound what a header may make Parse read and keep.
// A field that is zero or negative takes its value from DefaultLimits.
type Limits struct {
	// MaxHeaderBytes caps N. The format's own cap (the reference reader's
	// MAX_HEADER_SIZE, 100,000,000) applies whatever this says.
	MaxHeaderBytes int64
	MaxTensors     int // entries besides __metadata__
	MaxDims        int // rank of one tensor
}

// DefaultLimits:
//
//   - MaxHeaderBytes 100,000,000: the reference reader's cap. Real headers
//     are far smaller (a shard of a 70B model: under 100 KB); decoding
//     costs a few times N in memory.
//   - MaxTensors 1,000,000: the largest single files we know of (MoE shards
//     with unfused experts) hold thousands; a 100 MB header of minimal
//     entries holds about 1.2 million.
//   - MaxDims 64: numpy's NPY_MAXDIMS; real weights have at most 5.
var DefaultLimits = Limits{
	MaxHeaderBytes: maxHeader,
	MaxTensors:     1_000_000,
	MaxDims:        64,
}

// maxHeader is MAX_HEADER_SIZE of safetensors/src/tensor.rs.
const maxHeader = 100_000_000

// ErrLimit is wrapped by every error that reports a Limits bound exceeded.
var ErrLimit = errors.New("limit exceeded")

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = min(l.MaxHeaderBytes, maxHeader)
	}
	if l.MaxTensors > 0 {
		d.MaxTensors = l.MaxTensors
	}
	if l.MaxDims > 0 {
		d.MaxDims = l.MaxDims
	}
	return d
}

// Parse reads a safetensors header from r, which must be positioned at the
// start of the file, and stops at the start of the data section: exactly
// DataOffset bytes are consumed, never more, so the caller can keep
// reading r for the tensor data in the same pass.
//
// fileSize is the size of the whole file, or -1 when unknown (a stream).
// When it is known, the header length is checked against it before the
// header is read, and Parse ends with Validate(fileSize): the tensors must
// cover the data section exactly. When it is unknown, call Validate once
// the size is.
func Parse(r io.Reader, fileSize int64, lim Limits) (*File, error) {
	f, err := parse(r, fileSize, lim.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

func parse(r io.Reader, fileSize int64, lim Limits) (*File, error) {
	if fileSize >= 0 && fileSize < 8 {
		return nil, fmt.Errorf("file of %d bytes is shorter than the 8-byte header length", fileSize)
	}
	var nb [8]byte
	if k, err := io.ReadFull(r, nb[:]); err != nil {
		return nil, readErr(err, 0, k, "the 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(nb[:])
	switch {
	case n > maxHeader:
		return nil, fmt.Errorf("header length %d exceeds the format's maximum of %d", n, maxHeader)
	case n > uint64(lim.MaxHeaderBytes):
		return nil, fmt.Errorf("header length %d exceeds the limit of %d: %w", n, lim.MaxHeaderBytes, ErrLimit)
	case n < 2:
		return nil, fmt.Errorf("header length %d is too short for a JSON object", n)
	case fileSize >= 0 && n > uint64(fileSize-8):
		return nil, fmt.Errorf("header length %d exceeds the %d bytes of the file after it", n, fileSize-8)
	}
	h, err := readHeader(r, n, fileSize >= 0)
	if err != nil {
		return nil, err
	}
	f := &File{HeaderLen: n, DataOffset: 8 + int64(n)}
	if f.Metadata, f.Tensors, err = decodeHeader(h, lim); err != nil {
		return nil, err
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), strings.Compare(a.Name, b.Name))
	})
	if err := f.checkTensors(); err != nil {
		return nil, err
	}
	if fileSize >= 0 {
		if err := f.validate(fileSize); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// readHeader reads the n header bytes. When the file size vouched for n,
// the buffer is allocated at once; otherwise it grows a chunk at a time, so
// a stream that ends early costs only what it delivered.
func readHeader(r io.Reader, n uint64, sized bool) ([]byte, error) {
	const chunk = 1 << 20
	var h []byte
	if sized {
		h = make([]byte, 0, n)
	}
	for uint64(len(h)) < n {
		c := int(min(n-uint64(len(h)), chunk))
		if cap(h)-len(h) < c {
			h = append(make([]byte, 0, max(2*cap(h), len(h)+c)), h...)
		}
		k, err := io.ReadFull(r, h[len(h):len(h)+c])
		h = h[:len(h)+k]
		if err != nil {
			return nil, readErr(err, 8, len(h), fmt.Sprintf("the %d-byte JSON header", n))
		}
	}
	return h, nil
}

func readErr(err error, base, got int, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file ends at byte %d, %d bytes into %s: %w", base+got, got, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("reading %s at byte %d: %w", what, base+got, err)
}
