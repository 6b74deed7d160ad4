package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

// Progress counts what a long verification has hashed, for polling.
type Progress struct {
	blobsTotal, blobsDone atomic.Int64
	bytesTotal, bytesDone atomic.Int64
}

// ProgressSnapshot is Progress at one moment.
type ProgressSnapshot struct {
	BlobsTotal int64 `json:"blobs_total"`
	BlobsDone  int64 `json:"blobs_done"`
	BytesTotal int64 `json:"bytes_total"`
	BytesDone  int64 `json:"bytes_done"`
}

func (p *Progress) start(blobs int, bytes int64) {
	p.blobsTotal.Store(int64(blobs))
	p.bytesTotal.Store(bytes)
}

func (p *Progress) add(n int64) {
	p.blobsDone.Add(1)
	p.bytesDone.Add(n)
}

// Snapshot reads the counters.
func (p *Progress) Snapshot() ProgressSnapshot {
	return ProgressSnapshot{BlobsTotal: p.blobsTotal.Load(), BlobsDone: p.blobsDone.Load(), BytesTotal: p.bytesTotal.Load(), BytesDone: p.bytesDone.Load()}
}

// Job is a verification running in the background, so a check of a large
// registry is never cut off by a client or a write timeout.
type Job struct {
	ID         string           `json:"id"`
	Kind       string           `json:"kind"`   // integrity-check
	Status     string           `json:"status"` // running, done or error
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	Progress   ProgressSnapshot `json:"progress"`
	Result     *IntegrityReport `json:"result,omitempty"`
	Error      string           `json:"error,omitempty"`
}

// jobs keeps the running job and the last few finished ones.
type jobs struct {
	mu      sync.Mutex
	byID    map[string]*jobState
	order   []string
	running *jobState
}

type jobState struct {
	job      Job
	progress *Progress
}

const keepJobs = 16

// StartIntegrityCheck starts a check of every artifact in the background
// and returns its job; if one is running, that one is returned.
func (s *Service) StartIntegrityCheck() Job {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	if s.jobs.byID == nil {
		s.jobs.byID = map[string]*jobState{}
	}
	if js := s.jobs.running; js != nil {
		return s.snapshot(js)
	}
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	js := &jobState{job: Job{ID: hex.EncodeToString(raw[:]), Kind: "integrity-check", Status: "running", StartedAt: s.now().UTC()}, progress: &Progress{}}
	s.jobs.byID[js.job.ID] = js
	s.jobs.order = append(s.jobs.order, js.job.ID)
	if len(s.jobs.order) > keepJobs {
		delete(s.jobs.byID, s.jobs.order[0])
		s.jobs.order = s.jobs.order[1:]
	}
	s.jobs.running = js
	go func() {
		rep, err := s.RunIntegrityCheck(context.Background(), js.progress)
		s.jobs.mu.Lock()
		defer s.jobs.mu.Unlock()
		now := s.now().UTC()
		js.job.FinishedAt = &now
		if err != nil {
			js.job.Status, js.job.Error = "error", err.Error()
		} else {
			js.job.Status, js.job.Result = "done", &rep
		}
		s.jobs.running = nil
	}()
	return s.snapshot(js)
}

// JobStatus returns a job by id.
func (s *Service) JobStatus(id string) (Job, error) {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	js := s.jobs.byID[id]
	if js == nil {
		return Job{}, errorf(KindNotFound, "no such job (jobs are kept in memory: the last %d, until a restart)", keepJobs)
	}
	return s.snapshot(js), nil
}

// snapshot copies a job with its live progress. Called with s.jobs.mu held.
func (s *Service) snapshot(js *jobState) Job {
	j := js.job
	j.Progress = js.progress.Snapshot()
	return j
}
