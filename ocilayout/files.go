package ocilayout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// BlobPath returns the absolute path of the content-addressed copy of a blob
// that repo holds. The file is mode 0440 and never rewritten in place, so a
// runtime that opened it reads exactly the bytes that were verified.
func (s *Store) BlobPath(repo string, d digest.Digest) (string, error) {
	if err := checkBlobArgs(repo, d); err != nil {
		return "", err
	}
	if _, err := os.Lstat(newRepo(s, repo, false).blobPath(d)); err != nil {
		return "", blobUnknown(repo, d)
	}
	return s.poolPath(d), nil
}

// ImportFile publishes the open file f, already hashed to d by the caller,
// as a blob of repo by linking its inode (through /proc/self/fd, so the
// inode that was hashed is the one published, whatever happens to its path
// meanwhile). It returns storage.ErrCrossDevice when f lives on another
// filesystem.
func (s *Store) ImportFile(ctx context.Context, repo string, f *os.File, d digest.Digest, size int64) error {
	if err := checkBlobArgs(repo, d); err != nil {
		return err
	}
	r, err := s.repo(repo, true)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync imported file: %w", err)
	}
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	tmp := filepath.Join(s.tmpDir(), "import-"+hex.EncodeToString(raw[:]))
	err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW)
	if errors.Is(err, unix.EXDEV) {
		return storage.ErrCrossDevice
	}
	if err != nil {
		return fmt.Errorf("link imported file: %w", err)
	}
	return s.ingestFile(r, tmp, d, size)
}

func (s *Store) runtimeDir(repo string, d digest.Digest) string {
	return filepath.Join(s.dir, "runtime", filepath.FromSlash(repo), d.Encoded())
}

// PublishRuntime makes runtime/<repo>/<manifest hex>/ holding each file of
// an artifact under its own name (hard links to the blobs, mode 0440, the
// directories read-only). It is idempotent and appears atomically (built
// aside, then renamed).
func (s *Store) PublishRuntime(repo string, d digest.Digest, files map[string]digest.Digest) (string, error) {
	if err := checkBlobArgs(repo, d); err != nil {
		return "", err
	}
	dir := s.runtimeDir(repo, d)
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	r := newRepo(s, repo, false)
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	build := filepath.Join(s.tmpDir(), "runtime-"+hex.EncodeToString(raw[:]))
	if err := os.Mkdir(build, dirPerm); err != nil {
		return "", err
	}
	defer removeTree(build)
	var dirs []string
	for name, bd := range files {
		if _, err := oci.ParseDigest(string(bd)); err != nil {
			return "", err
		}
		if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
			return "", fmt.Errorf("file name %q cannot be published", name)
		}
		dst := filepath.Join(build, filepath.FromSlash(name))
		if sub := filepath.Dir(dst); sub != build {
			if err := os.MkdirAll(sub, dirPerm); err != nil {
				return "", err
			}
			dirs = append(dirs, sub)
		}
		if err := os.Link(r.blobPath(bd), dst); err != nil {
			return "", fmt.Errorf("link %s into the runtime directory: %w", name, err)
		}
	}
	for _, sub := range dirs {
		_ = os.Chmod(sub, 0o550)
	}
	if err := os.Chmod(build, 0o550); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), dirPerm); err != nil {
		return "", err
	}
	if err := os.Rename(build, dir); err != nil {
		if fi, serr := os.Lstat(dir); serr == nil && fi.IsDir() {
			return dir, nil // published concurrently
		}
		return "", err
	}
	return dir, syncDir(filepath.Dir(dir))
}

// UnpublishRuntime removes an artifact's runtime directory.
func (s *Store) UnpublishRuntime(repo string, d digest.Digest) error {
	if err := checkBlobArgs(repo, d); err != nil {
		return err
	}
	dir := s.runtimeDir(repo, d)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := removeTree(dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// removeTree removes a runtime tree, whose directories are read-only.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			_ = os.Chmod(p, dirPerm)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
