package ocilayout

import (
	"hash"
	"io"
	"os"
	"sync"
)

const (
	// streamBuf is the unit of read/write/hash. Four are in flight per
	// upload, so memory stays at ~1 MiB per upload whatever the blob size.
	streamBuf     = 256 << 10
	streamBuffers = 4
	// Writeback is started every wbChunk bytes and waited for once it is
	// wbWindow behind, so the disk works while the body is still arriving
	// and the final fdatasync has at most wbWindow left to write.
	wbChunk  = 8 << 20
	wbWindow = 32 << 20
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, streamBuf); return &b }}

// copyHashed appends r to f (whose file offset is at off) while h hashes the
// same bytes on another goroutine, so reading, hashing and writing overlap.
// It returns the number of bytes written. On error the caller must roll the
// file and hash back; copyHashed leaves both at an unspecified position.
func copyHashed(f *os.File, off int64, r io.Reader, h hash.Hash) (int64, error) {
	free := make(chan *[]byte, streamBuffers)
	for range streamBuffers {
		free <- bufPool.Get().(*[]byte)
	}
	toHash := make(chan []byte, streamBuffers)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range toHash {
			h.Write(b)
			p := b[:cap(b)]
			free <- &p
		}
	}()
	defer func() {
		for range streamBuffers {
			bufPool.Put(<-free)
		}
	}()

	var n int64
	started, waited := off, off
	var err error
	for {
		bp := <-free
		m, rerr := fill(r, *bp)
		if m > 0 {
			if _, werr := f.Write((*bp)[:m]); werr != nil {
				free <- bp
				err = werr
				break
			}
			n += int64(m)
			toHash <- (*bp)[:m]
			if end := off + n; end-started >= wbChunk {
				startWriteback(f, started, end-started)
				started = end
				if started-waited > wbWindow {
					upto := started - wbWindow
					waitWriteback(f, waited, upto-waited)
					waited = upto
				}
			}
		} else {
			free <- bp
		}
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	close(toHash)
	<-hashed
	return n, err
}

// fill reads into b until it is full or r fails. Unlike io.ReadFull it
// passes a clean io.EOF through unchanged, so a truncated body (which
// net/http reports as io.ErrUnexpectedEOF) is never mistaken for the end.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
