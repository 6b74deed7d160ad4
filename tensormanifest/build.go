package tensormanifest

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"

	"github.com/ai-model-registry/ai-model-registry/gguf"
	"github.com/ai-model-registry/ai-model-registry/modelformat"
	"github.com/ai-model-registry/ai-model-registry/safetensors"
)

// ErrNotModel is returned for content that is neither GGUF nor safetensors.
var ErrNotModel = errors.New("not a GGUF or safetensors file")

// chunk is the unit read from the source and handed to the whole-file
// hasher.
const chunk = 1 << 20

// Build reads a model file once and returns its manifest. size is the
// file's length, which the parsers check every offset against (a stored
// blob's size is always known); a file that does not parse, whose tensors
// do not fit it exactly, or whose padding is not zero, is an error naming
// what is wrong.
func Build(r io.Reader, size int64) (*Manifest, error) {
	if size < 0 {
		return nil, errors.New("the file's size is required")
	}
	fh := newAsyncHash()
	defer fh.stop()
	src := &tee{r: r, h: fh}
	br := bufio.NewReaderSize(src, chunk)
	head, _ := br.Peek(modelformat.HeaderSize)
	var m *Manifest
	var err error
	switch modelformat.Detect(head) {
	case modelformat.GGUF:
		m, err = buildGGUF(br, size)
	case modelformat.Safetensors:
		m, err = buildSafetensors(br, size)
	default:
		return nil, ErrNotModel
	}
	if err != nil {
		return nil, err
	}
	// What follows the last tensor is alignment padding (GGUF): zeros,
	// or a byte there could change without any tensor changing.
	if err := zeros(br, -1, "after the last tensor"); err != nil {
		return nil, err
	}
	if src.n != size {
		return nil, fmt.Errorf("read %d bytes, expected %d", src.n, size)
	}
	m.FileSize = src.n
	m.FileHash = fh.sum()
	m.finish()
	return m, nil
}

func buildGGUF(br *bufio.Reader, size int64) (*Manifest, error) {
	f, err := gguf.Parse(br, gguf.Limits{})
	if err != nil {
		return nil, err
	}
	if err := f.Validate(size); err != nil {
		return nil, err
	}
	m := &Manifest{Format: modelformat.GGUF, GGUFVersion: f.Version, Alignment: f.Alignment, DataOffset: f.DataOffset}
	for _, kv := range f.KVs {
		m.Metadata = append(m.Metadata, Metadata{Key: kv.Key, Type: kv.Type.String(), Hash: metadataHash(kv.Key, kv.Type.String(), kv.Raw), Size: len(kv.Raw)})
		if kv.Key == "general.architecture" {
			m.Architecture, _ = kv.String()
		}
	}
	spans := make([]span, len(f.Tensors))
	for i, t := range f.Tensors {
		start, end := f.Range(t)
		m.Tensors = append(m.Tensors, Tensor{Name: t.Name, Type: t.Type.String(), Shape: t.Dims, Offset: start, DataSize: t.Size, Elements: t.Elements})
		spans[i] = span{index: i, start: start, end: end}
	}
	if err := hashSpans(br, f.HeaderBytes, spans, m.Tensors); err != nil {
		return nil, err
	}
	return m, nil
}

func buildSafetensors(br *bufio.Reader, size int64) (*Manifest, error) {
	f, err := safetensors.Parse(br, size, safetensors.Limits{})
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: modelformat.Safetensors, DataOffset: f.DataOffset}
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys) // JSON objects have no order; sort for a stable manifest
	for _, k := range keys {
		v := []byte(f.Metadata[k])
		m.Metadata = append(m.Metadata, Metadata{Key: k, Type: "string", Hash: metadataHash(k, "string", v), Size: len(v)})
	}
	spans := make([]span, len(f.Tensors))
	for i, t := range f.Tensors {
		var elems uint64 = 1
		for _, d := range t.Shape {
			elems *= d // bounded: the parser checked the byte length
		}
		start := f.DataOffset + int64(t.Begin)
		m.Tensors = append(m.Tensors, Tensor{Name: t.Name, Type: t.DType, Shape: t.Shape, Offset: start, DataSize: t.End - t.Begin, Elements: elems})
		spans[i] = span{index: i, start: start, end: f.DataOffset + int64(t.End)}
	}
	if err := hashSpans(br, f.DataOffset, spans, m.Tensors); err != nil {
		return nil, err
	}
	return m, nil
}

type span struct {
	index      int
	start, end int64
}

// hashSpans hashes each tensor's bytes as the stream passes them; pos is
// the stream position after the header. The gaps between tensors are
// alignment padding and must be zero.
func hashSpans(r io.Reader, pos int64, spans []span, out []Tensor) error {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	h := sha256.New()
	for _, s := range spans {
		if s.start < pos {
			return fmt.Errorf("tensor %q overlaps the previous one", out[s.index].Name)
		}
		if err := zeros(r, s.start-pos, fmt.Sprintf("before tensor %q", out[s.index].Name)); err != nil {
			return err
		}
		h.Reset()
		if _, err := io.CopyN(h, r, s.end-s.start); err != nil {
			return fmt.Errorf("file ends inside tensor %q: %w", out[s.index].Name, err)
		}
		out[s.index].Hash = hex.EncodeToString(h.Sum(nil))
		pos = s.end
	}
	return nil
}

// zeros reads n bytes (all that is left when n < 0) and fails unless they
// are all zero.
func zeros(r io.Reader, n int64, where string) error {
	var buf [4096]byte
	for n != 0 {
		want := int64(len(buf))
		if n > 0 {
			want = min(want, n)
		}
		got, err := io.ReadFull(r, buf[:want])
		for _, b := range buf[:got] {
			if b != 0 {
				return fmt.Errorf("non-zero padding %s", where)
			}
		}
		if n > 0 {
			n -= int64(got)
		}
		switch {
		case n < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			return nil
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return fmt.Errorf("file ends %s", where)
		case err != nil:
			return err
		}
	}
	return nil
}

// tee passes every byte it reads to the whole-file hasher.
type tee struct {
	r io.Reader
	h *asyncHash
	n int64
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.h.write(p[:n])
		t.n += int64(n)
	}
	return n, err
}

// asyncHash computes SHA-256 on its own goroutine, so the whole-file hash
// and the per-tensor hashes use two cores over one read.
type asyncHash struct {
	ch   chan []byte
	done chan string
	pool sync.Pool
	h    hash.Hash
	once sync.Once
}

func newAsyncHash() *asyncHash {
	a := &asyncHash{ch: make(chan []byte, 4), done: make(chan string, 1), h: sha256.New()}
	a.pool.New = func() any { b := make([]byte, 0, chunk); return &b }
	go func() {
		for b := range a.ch {
			a.h.Write(b)
			b = b[:0]
			a.pool.Put(&b)
		}
		a.done <- hex.EncodeToString(a.h.Sum(nil))
	}()
	return a
}

func (a *asyncHash) write(p []byte) {
	for len(p) > 0 {
		bp := a.pool.Get().(*[]byte)
		n := min(len(p), cap(*bp))
		b := append((*bp)[:0], p[:n]...)
		a.ch <- b
		p = p[n:]
	}
}

func (a *asyncHash) sum() string {
	a.once.Do(func() { close(a.ch) })
	return <-a.done
}

// stop ends the goroutine if sum was never called.
func (a *asyncHash) stop() {
	a.once.Do(func() {
		close(a.ch)
		<-a.done
	})
}
