package lifecycle_test

import (
	"testing"
	"time"
)

// A blob shared by several artifacts is hashed once by a check of every
// artifact, and its progress counts it once: the totals are what gets done.
func TestJobProgressCountsSharedBlobsOnce(t *testing.T) {
	e := newEnv(t)
	g := e.svc.Gate(e.store)
	data := gguf(17)
	pushOCI(t, e, g, "shared/a", "v1", data)
	pushOCI(t, e, g, "shared/b", "v1", data)
	job := e.svc.StartIntegrityCheck()
	deadline := time.Now().Add(30 * time.Second)
	for job.Status == "running" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		var err error
		if job, err = e.svc.JobStatus(job.ID); err != nil {
			t.Fatal(err)
		}
	}
	p := job.Progress
	if job.Status != "done" || p.BlobsTotal != p.BlobsDone || p.BytesTotal != p.BytesDone || p.BlobsTotal != 2 {
		t.Fatalf("job %s: progress %+v, want every counted blob (config and layer, once) done", job.Status, p)
	}
}
