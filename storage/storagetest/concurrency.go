package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

var concurrencyTests = []test{
	{"TagCompareAndSwap", testConcurrentCAS},
	{"SameBlob", testConcurrentSameBlob},
	{"ParallelPushes", testConcurrentPushes},
	{"AtomicVisibility", testConcurrentVisibility},
	{"DeleteBlobRacesPut", testConcurrentDeleteBlob},
}

// workers is how many goroutines race in each concurrency test.
const workers = 8

// race runs fn(i) for i < n in goroutines released at once and reports the
// errors fn returns on t.
func race(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// Goroutines that all move the same tag with a Check that it has not moved
// (compare-and-swap): exactly one wins each round. The manifest the tag
// is on sits a round out, as its move would change nothing.
func testConcurrentCAS(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	recs := make([]*oci.Manifest, workers)
	tx := storage.Txn{Blobs: [][]byte{emptyConfig.Data}, Create: true, Tag: map[string]digest.Digest{}}
	for i := range recs {
		recs[i] = record(t, strconv.Itoa(i))
		tx.Put = append(tx.Put, recs[i])
	}
	tx.Tag["latest"] = recs[0].Digest
	commit(t, b, "r", tx)
	errMoved := errors.New("the tag moved")
	base := recs[0].Digest
	for round := range 4 {
		var mu sync.Mutex
		var winners []int
		race(t, workers, func(i int) error {
			if recs[i].Digest == base {
				return nil
			}
			err := b.Commit(ctx, "r", storage.Txn{
				Tag:  map[string]digest.Digest{"latest": recs[i].Digest},
				Meta: map[digest.Digest]map[string]string{recs[i].Digest: {"round": strconv.Itoa(round)}},
				Check: func(v storage.View) error {
					if d, _ := v.Tag("latest"); d != base {
						return errMoved
					}
					return nil
				},
			})
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, i)
				mu.Unlock()
			case !errors.Is(err, errMoved):
				return fmt.Errorf("worker %d: %w", i, err)
			}
			return nil
		})
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners (%v), want exactly 1", round, len(winners), winners)
		}
		w := recs[winners[0]].Digest
		wantResolve(t, b, "r", "latest", w)
		read(t, b, "r", func(v storage.View) {
			for _, m := range recs {
				got, _ := v.Manifest(m.Digest)
				if won := m.Digest == w; won != (got.Meta["round"] == strconv.Itoa(round)) {
					t.Fatalf("round %d: meta of %s is %v (winner: %v)", round, m.Digest, got.Meta, won)
				}
			}
		})
		base = w
	}
}

// The same blob pushed by many at once, to one repository and to several:
// every push succeeds and every copy is whole.
func testConcurrentSameBlob(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	data := RandomBytes(256<<10, 41)
	d := digest.FromBytes(data)
	repos := []string{"r", "r", "r", "r", "s", "t", "u", "v"}
	race(t, len(repos), func(i int) error {
		if i%2 == 0 {
			_, err := pushBlob(ctx, b, repos[i], data, digest.SHA256)
			return err
		}
		st, err := b.StartUpload(ctx, repos[i], "")
		if err == nil {
			_, err = b.AppendUpload(ctx, repos[i], st.ID, 0, bytes.NewReader(data[:100<<10]))
		}
		if err == nil {
			_, err = b.CommitUpload(ctx, repos[i], st.ID, 100<<10, bytes.NewReader(data[100<<10:]), d)
		}
		return err
	})
	for _, repo := range repos {
		wantBlob(t, b, repo, d, data)
	}
	if err := b.DeleteBlob(ctx, "s", d); err != nil {
		t.Fatal(err)
	}
	wantNoBlob(t, b, "s", d)
	for _, repo := range []string{"r", "t", "u", "v"} {
		wantBlob(t, b, repo, d, data)
	}
}

// parallelPushes has workers push, at once, a shared blob and an image of
// it and their own layer, tagged w<i> and "contended", to one repository.
// It returns a check of the outcome.
func parallelPushes(t *testing.T, b storage.Backend) func(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	shared := RandomBytes(128<<10, 42)
	mans := make([]*oci.Manifest, workers)
	race(t, workers, func(i int) error {
		if _, err := pushBlob(ctx, b, "r", shared, digest.SHA256); err != nil {
			return err
		}
		m, err := pushImage(ctx, b, "r", nil, []string{fmt.Sprintf("w%d", i), "contended"}, RandomBytes(32<<10, uint64(i)), shared)
		mans[i] = m
		return err
	})
	return func(t *testing.T, b storage.Backend) {
		t.Helper()
		tags, err := b.Tags(t.Context(), "r", "", -1)
		if err != nil || len(tags) != workers+1 {
			t.Fatalf("tags = %q, %v", tags, err)
		}
		var all []digest.Digest
		for i, m := range mans {
			wantManifest(t, b, "r", fmt.Sprintf("w%d", i), m)
			wantBlob(t, b, "r", m.Layers[0].Digest, RandomBytes(32<<10, uint64(i)))
			all = append(all, m.Digest)
		}
		c, err := b.ResolveManifest(t.Context(), "r", oci.Reference{Tag: "contended"})
		if err != nil || !slices.Contains(all, c.Digest) {
			t.Fatalf("contended -> %s, %v: no pushed manifest", c.Digest, err)
		}
		wantBlob(t, b, "r", digest.FromBytes(shared), shared)
		read(t, b, "r", func(v storage.View) {
			if !sameSet(v.Users(digest.FromBytes(shared)), all) || !sameSet(v.Manifests(), all) {
				t.Fatalf("users of the shared layer = %v, manifests = %v", v.Users(digest.FromBytes(shared)), v.Manifests())
			}
		})
	}
}

// Parallel pushes of the same and of different blobs, manifests and tags
// to one repository all land, consistently.
func testConcurrentPushes(t *testing.T, b storage.Backend) {
	parallelPushes(t, b)(t, b)
}

// A view never shows half a transaction: two tags moved together, with
// the Meta of their target, are always seen together while a writer moves
// them.
func testConcurrentVisibility(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	recs := []*oci.Manifest{record(t, "0"), record(t, "1")}
	move := func(gen int) storage.Txn {
		d := recs[gen%2].Digest
		return storage.Txn{
			Tag:  map[string]digest.Digest{"x": d, "y": d},
			Meta: map[digest.Digest]map[string]string{d: {"gen": strconv.Itoa(gen)}},
		}
	}
	first := move(0)
	first.Put, first.Blobs, first.Create = recs, [][]byte{emptyConfig.Data}, true
	commit(t, b, "r", first)
	const gens = 30
	done := make(chan struct{})
	race(t, workers, func(i int) error {
		if i == 0 {
			defer close(done)
			for gen := 1; gen <= gens; gen++ {
				if err := b.Commit(ctx, "r", move(gen)); err != nil {
					return err
				}
			}
			return nil
		}
		for last := -1; ; {
			select {
			case <-done:
				return nil
			default:
			}
			err := b.Read(ctx, "r", func(v storage.View) error {
				x, _ := v.Tag("x")
				y, _ := v.Tag("y")
				m, _ := v.Manifest(x)
				gen, err := strconv.Atoi(m.Meta["gen"])
				switch {
				case x != y:
					return fmt.Errorf("view shows x=%s, y=%s", x, y)
				case err != nil || recs[gen%2].Digest != x:
					return fmt.Errorf("view shows x=%s with meta %v", x, m.Meta)
				case gen < last:
					return fmt.Errorf("view went back from generation %d to %d", last, gen)
				}
				last = gen
				return nil
			})
			if err != nil {
				return err
			}
		}
	})
	wantResolve(t, b, "r", "x", recs[gens%2].Digest)
}

// A blob deleted while a manifest using it is put: exactly one of the two
// wins, and a manifest that is there always has its blob.
func testConcurrentDeleteBlob(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	cfg := PushBlob(t, b, "r", []byte(`{"architecture":"amd64","os":"linux"}`))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	for i := range 12 {
		layer := PushBlob(t, b, "r", RandomBytes(1024, uint64(100+i)))
		layer.MediaType = ocispec.MediaTypeImageLayer
		m := image(t, cfg, []ocispec.Descriptor{layer}, nil)
		var putErr, delErr error
		race(t, 2, func(j int) error {
			if j == 0 {
				putErr = b.PutManifest(ctx, "r", m, []string{"t" + strconv.Itoa(i)})
			} else {
				delErr = b.DeleteBlob(ctx, "r", layer.Digest)
			}
			return nil
		})
		switch {
		case putErr == nil && delErr != nil:
			WantCode(t, delErr, oci.CodeDenied)
			wantManifest(t, b, "r", m.Digest.String(), m)
			wantBlob(t, b, "r", layer.Digest, RandomBytes(1024, uint64(100+i)))
		case putErr != nil && delErr == nil:
			WantCode(t, putErr, oci.CodeManifestBlobUnknown)
			wantUnknown(t, b, "r", m.Digest.String())
			wantNoBlob(t, b, "r", layer.Digest)
		default:
			t.Fatalf("round %d: put = %v, delete = %v; want exactly one to succeed", i, putErr, delErr)
		}
	}
}
