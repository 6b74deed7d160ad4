package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// Phases of AcquireFile, as told to a Progress.
const (
	PhaseHashing   = "hashing"
	PhaseUploading = "uploading"
)

// Progress is told how far a long transfer has come: done of total bytes
// in phase. It is called often (every buffer) from the goroutine doing the
// transfer; it should be cheap.
type Progress func(phase string, done, total int64)

// AcquireUpload streams body as a new artifact: req names it and gives
// the file name, the sha256 and the exact size of body (sent as
// Content-Length). The registry hashes the bytes as they arrive and keeps
// nothing on a mismatch. An upload that stops moving for two minutes is
// cancelled; otherwise there is no time limit.
func (c *Client) AcquireUpload(ctx context.Context, req lifecycle.AcquireRequest, body io.Reader) (lifecycle.Artifact, json.RawMessage, error) {
	if req.SizeBytes < 0 {
		return lifecycle.Artifact{}, nil, errNegativeSize
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := &idleReader{r: body, left: req.SizeBytes, d: c.uploadIdle}
	idle.t = time.AfterFunc(c.uploadIdle, func() {
		cancel(fmt.Errorf("the upload made no progress for %s", c.uploadIdle))
	})
	defer idle.stop()
	return do[lifecycle.Artifact](ctx, c, call{method: http.MethodPost, path: "/v1/model/acquire", query: uploadQuery(req),
		auth: true, long: true, body: idle, size: req.SizeBytes, contentType: "application/octet-stream"})
}

// idleReader passes on the first left bytes of r. It restarts a watchdog
// timer on every read, and stops it once the body is sent: after that the
// registry only finishes its work, which no idle bound applies to.
type idleReader struct {
	r    io.Reader
	left int64
	d    time.Duration
	mu   sync.Mutex
	t    *time.Timer
	done bool
}

func (i *idleReader) Read(p []byte) (int, error) {
	if i.left <= 0 {
		i.stop()
		return 0, io.EOF
	}
	if int64(len(p)) > i.left {
		p = p[:i.left]
	}
	n, err := i.r.Read(p)
	i.left -= int64(n)
	if err != nil || i.left <= 0 {
		i.stop()
	} else {
		i.mu.Lock()
		if !i.done {
			i.t.Reset(i.d)
		}
		i.mu.Unlock()
	}
	if err == io.EOF && i.left > 0 {
		err = io.ErrUnexpectedEOF // the file shrank: never send a short body
	}
	return n, err
}

func (i *idleReader) stop() {
	i.mu.Lock()
	i.done = true
	i.t.Stop()
	i.mu.Unlock()
}

// AcquireFile acquires the local file at path as a new artifact. It hashes
// the file first, then streams it from disk (never holding it in memory)
// under its base name, unless req.Filename is set. req.SHA256 and
// req.SizeBytes are filled in from the file; if already set, the file must
// match them (nothing is uploaded otherwise). progress, if not nil, is told
// how hashing and uploading advance.
func (c *Client) AcquireFile(ctx context.Context, req lifecycle.AcquireRequest, path string, progress Progress) (lifecycle.Artifact, json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return lifecycle.Artifact{}, nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return lifecycle.Artifact{}, nil, err
	}
	if !before.Mode().IsRegular() {
		return lifecycle.Artifact{}, nil, fmt.Errorf("%s is not a regular file", path)
	}
	if req.Filename == "" {
		req.Filename = filepath.Base(path)
	}
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	sum, n, err := HashReader(ctx, f, before.Size(), progress)
	if err != nil {
		return lifecycle.Artifact{}, nil, fmt.Errorf("hashing %s: %w", path, err)
	}
	after, err := f.Stat()
	if err != nil {
		return lifecycle.Artifact{}, nil, err
	}
	if n != before.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return lifecycle.Artifact{}, nil, fmt.Errorf("%s changed while it was being hashed; make sure nothing writes it and retry", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return lifecycle.Artifact{}, nil, err
	}
	if req.SHA256 != "" && req.SHA256 != sum {
		return lifecycle.Artifact{}, nil, fmt.Errorf("%s hashes to %s, not the expected %s; nothing was uploaded", path, sum, req.SHA256)
	}
	if req.SizeBytes > 0 && req.SizeBytes != n {
		return lifecycle.Artifact{}, nil, fmt.Errorf("%s is %d bytes, not the expected %d; nothing was uploaded", path, n, req.SizeBytes)
	}
	req.SHA256, req.SizeBytes = sum, n
	body := &progressReader{ctx: ctx, r: f, phase: PhaseUploading, total: n, report: progress}
	return c.AcquireUpload(ctx, req, body)
}

// HashReader returns the hex SHA-256 and the length of what r holds,
// telling progress (total is the expected length) as it reads. It stops
// when ctx is done.
func HashReader(ctx context.Context, r io.Reader, total int64, progress Progress) (string, int64, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(h, &progressReader{ctx: ctx, r: r, phase: PhaseHashing, total: total, report: progress}, buf)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// progressReader reports every read to a Progress and stops when its
// context is done.
type progressReader struct {
	ctx    context.Context
	r      io.Reader
	phase  string
	done   int64
	total  int64
	report Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.done += int64(n)
	if n > 0 || errors.Is(err, io.EOF) {
		p.report(p.phase, p.done, p.total)
	}
	return n, err
}
