package ocilayout

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/storage/storagetest"
)

// copyHashed must produce the same file and hash on the O_DIRECT path and
// the page-cache path, for aligned and unaligned starts and lengths.
func TestCopyHashedPaths(t *testing.T) {
	for _, direct := range []bool{true, false} {
		for _, tc := range []struct{ prefix, size int }{
			{0, 0}, {0, 1}, {0, smallBody}, {0, smallBody + 1}, {0, streamBuf}, {0, 3*streamBuf + 5}, {17, 2*streamBuf + 4096}, {4096, 10000}, {0, smallBody + 2*streamBuf},
		} {
			path := filepath.Join(t.TempDir(), "data")
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			s := &sink{f: f}
			if direct {
				s.direct = openDirect(path)
			}
			prefix := storagetest.RandomBytes(tc.prefix, 9)
			if _, err := f.WriteAt(prefix, 0); err != nil {
				t.Fatal(err)
			}
			data := storagetest.RandomBytes(tc.size, uint64(tc.size))
			h := sha256.New()
			n, err := copyHashed(s, newBuffers(4), int64(tc.prefix), bytes.NewReader(data), h)
			if err != nil || n != int64(len(data)) {
				t.Fatalf("direct=%v %+v: n=%d err=%v", direct, tc, n, err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("direct=%v %+v: hash differs", direct, tc)
			}
			s.close()
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, append(prefix, data...)) {
				t.Fatalf("direct=%v %+v: file content differs", direct, tc)
			}
		}
	}
}
