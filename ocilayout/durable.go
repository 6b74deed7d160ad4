package ocilayout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
)

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// syncDirs fsyncs several directories concurrently: on journaling
// filesystems concurrent fsyncs share one journal commit, so this costs about
// one fsync instead of len(dirs).
func syncDirs(dirs ...string) error {
	switch len(dirs) {
	case 0:
		return nil
	case 1:
		return syncDir(dirs[0])
	}
	seen := make(map[string]bool, len(dirs))
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = syncDir(d)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeFileAtomic replaces path with data (see atomicfile.Write).
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return atomicfile.Write(path, data, perm)
}

// mkdirAllDurable creates dir and its missing parents, fsyncing the parent of
// every directory it creates so the new entries survive a crash.
func mkdirAllDurable(dir string, perm fs.FileMode) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllDurable(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return syncDir(parent)
}
