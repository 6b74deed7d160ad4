package ocilayout

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage/storagetest"
)

// Parallel pushes of the same and of different blobs, manifests and tags to
// one repository all land, and the index stays consistent across a crash.
func TestParallelPushes(t *testing.T) {
	ctx := context.Background()
	dir := tempDir(t)
	s := openStore(t, dir)
	shared := storagetest.RandomBytes(300<<10, 7)
	const workers = 8
	var wg sync.WaitGroup
	mans := make([]*oci.Manifest, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			storagetest.PushBlob(t, s, "r", shared)
			mans[i] = storagetest.PushImage(t, s, "r", nil, []string{fmt.Sprintf("w%d", i), "contended"}, storagetest.RandomBytes(64<<10, uint64(i)), shared)
			if i%2 == 0 {
				if r, err := s.repo("r", false); err == nil {
					_ = r.flush()
				}
			}
		}()
	}
	wg.Wait()
	check := func(s *Store) {
		t.Helper()
		tags, _ := s.Tags(ctx, "r", "", -1)
		if len(tags) != workers+1 {
			t.Fatalf("tags = %v", tags)
		}
		for i, m := range mans {
			desc, err := s.ResolveManifest(ctx, "r", oci.Reference{Tag: fmt.Sprintf("w%d", i)})
			if err != nil || desc.Digest != m.Digest {
				t.Fatalf("w%d -> %v %v", i, desc.Digest, err)
			}
		}
		c, err := s.ResolveManifest(ctx, "r", oci.Reference{Tag: "contended"})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range mans {
			found = found || m.Digest == c.Digest
		}
		if !found {
			t.Fatal("contended tag points at no pushed manifest")
		}
	}
	check(s)
	crash(s)
	s = openStore(t, dir)
	defer s.Close()
	check(s)
}
