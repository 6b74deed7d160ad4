package ocilayout

import (
	"testing"

	"github.com/ai-model-registry/ai-model-registry/storage"
	"github.com/ai-model-registry/ai-model-registry/storage/storagetest"
)

var _ storage.Backend = (*Store)(nil)

// TestBackendSuite runs the shared backend suite against a fresh store per
// subtest, checking durability across a kill -9 (the journal is replayed)
// and across a clean close (index.json is read).
func TestBackendSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openStore(t, tempDir(t)) },
		storagetest.Reopen("kill", func(t *testing.T, b storage.Backend) storage.Backend {
			s := b.(*Store)
			crash(s)
			return openStore(t, s.Dir())
		}),
		storagetest.Reopen("close", func(t *testing.T, b storage.Backend) storage.Backend {
			s := b.(*Store)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return openStore(t, s.Dir())
		}))
}
