package lifecycle

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// hashBuf is the read size while hashing: large reads keep the syscall cost
// per byte negligible next to SHA-256.
const hashBuf = 1 << 20

// hasher bounds hashing: one slot per core (parallel verifications share
// them), and a cap on concurrent verification requests so load shows up
// as 503 + Retry-After, never as a failed check.
type hasher struct {
	slots chan struct{}
	admit chan struct{}
	bufs  sync.Pool
}

func newHasher(workers int) *hasher {
	h := &hasher{slots: make(chan struct{}, workers), admit: make(chan struct{}, 2*workers)}
	h.bufs.New = func() any { b := make([]byte, hashBuf); return &b }
	return h
}

// tryAdmit takes a request slot without waiting.
func (h *hasher) tryAdmit() (release func(), ok bool) {
	select {
	case h.admit <- struct{}{}:
		return func() { <-h.admit }, true
	default:
		return nil, false
	}
}

// hashBlob hashes one blob under a hashing slot and returns its fault, or
// nil. err is set only when the work could not be done (cancelled), which
// is never reported as a fault.
func (s *Service) hashBlob(ctx context.Context, repo string, d digest.Digest) (*blobFault, int64, error) {
	select {
	case s.hash.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	defer func() { <-s.hash.slots }()
	rc, _, err := s.store.OpenBlob(ctx, repo, d)
	if errors.Is(err, oci.ErrBlobUnknown) {
		return &blobFault{digest: d}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	h := d.Algorithm().Hash()
	bp := s.hash.bufs.Get().(*[]byte)
	defer s.hash.bufs.Put(bp)
	n, err := io.CopyBuffer(h, contextReader{ctx, rc}, *bp)
	if err != nil {
		if ctx.Err() != nil {
			return nil, n, ctx.Err()
		}
		return &blobFault{digest: d, actual: "unreadable"}, n, nil
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return &blobFault{digest: d, actual: got}, n, nil
	}
	return nil, n, nil
}
