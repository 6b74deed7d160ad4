package ocilayout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

func blobUnknown(repo string, d digest.Digest) error {
	return oci.Errorf(oci.CodeBlobUnknown, "blob %s is not in repository %q", d, repo)
}

// checkBlobArgs validates what a caller passes before any path is built.
func checkBlobArgs(repo string, d digest.Digest) error {
	if err := oci.ValidateName(repo); err != nil {
		return err
	}
	_, err := oci.ParseDigest(string(d))
	return err
}

// StatBlob returns the size of a blob in a repository.
func (s *Store) StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	if err := checkBlobArgs(repo, d); err != nil {
		return 0, err
	}
	fi, err := os.Lstat(newRepo(s, repo, false).blobPath(d))
	if err != nil || !fi.Mode().IsRegular() {
		return 0, blobUnknown(repo, d)
	}
	return fi.Size(), nil
}

// OpenBlob opens a blob for reading. The returned file supports Seek and
// ReadAt, so HTTP can serve ranges and use sendfile(2).
func (s *Store) OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, int64, error) {
	if err := checkBlobArgs(repo, d); err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(newRepo(s, repo, false).blobPath(d), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, blobUnknown(repo, d)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, 0, blobUnknown(repo, d)
	}
	return f, fi.Size(), nil
}

// DeleteBlob removes a blob from a repository. A blob that a manifest of the
// repository still references is refused: deleting it would break the
// manifest (and the layout) while the manifest stays listed.
func (s *Store) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkBlobArgs(repo, d); err != nil {
		return err
	}
	r, err := s.lookup(repo, func() error { return blobUnknown(repo, d) })
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.manifests[d]; ok {
		return oci.Errorf(oci.CodeDenied, "%s is a manifest in %q; delete it with DELETE /v2/%s/manifests/%s", d, repo, repo, d)
	}
	if n := len(r.users[d]); n > 0 {
		return oci.Errorf(oci.CodeDenied, "blob %s is referenced by %d manifest(s) in %q; delete those manifests first", d, n, repo)
	}
	if err := s.unlinkBlob(r, d); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return blobUnknown(repo, d)
		}
		return err
	}
	return nil
}

// unlinkBlob removes the repository's link and, if no repository links the
// pool copy any more, the pool copy too.
func (s *Store) unlinkBlob(r *repo, d digest.Digest) error {
	l := s.digestLock(d)
	l.Lock()
	err := os.Remove(r.blobPath(d))
	if err == nil {
		s.releasePool(d)
	}
	l.Unlock()
	if err != nil {
		return err
	}
	return syncDirs(r.blobDir(d), filepath.Dir(s.poolPath(d)))
}

// releasePool removes a pool blob that no repository links to any more.
// Called with the digest lock held.
func (s *Store) releasePool(d digest.Digest) {
	p := s.poolPath(d)
	fi, err := os.Lstat(p)
	if err != nil || linkCount(fi) != 1 {
		return
	}
	if err := os.Remove(p); err != nil {
		s.log.Warn("could not remove unreferenced blob", "digest", d, "error", err)
	}
}

// MountBlob links a blob that already exists into repo, from repository from
// or, when from is empty, from any repository. It reports false when the
// blob is not there to mount, so the caller can fall back to an upload.
func (s *Store) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error) {
	if err := checkBlobArgs(repo, d); err != nil {
		return false, err
	}
	src := s.poolPath(d)
	if from != "" {
		if err := oci.ValidateName(from); err != nil {
			return false, err
		}
		src = newRepo(s, from, false).blobPath(d)
	}
	if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	r, err := s.repo(repo, true)
	if err != nil {
		return false, err
	}
	l := s.digestLock(d)
	l.Lock()
	err = os.Link(src, r.blobPath(d))
	if err == nil && from != "" {
		// Keep the pool link in place even if an older crash lost it.
		if lerr := os.Link(src, s.poolPath(d)); lerr != nil && !errors.Is(lerr, fs.ErrExist) {
			err = lerr
		}
	}
	l.Unlock()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // source vanished meanwhile
	case err != nil && !errors.Is(err, fs.ErrExist):
		return false, fmt.Errorf("mount %s into %s: %w", d, repo, err)
	}
	return true, syncDirs(r.blobDir(d), filepath.Dir(s.poolPath(d)))
}

// ingestFile publishes a fully written, fdatasync'd and verified file as blob
// d of repository r: link into the pool (never replacing), link the pool copy
// into the repository, fsync both directories. The source path is removed.
func (s *Store) ingestFile(r *repo, src string, d digest.Digest, size int64) error {
	wait, err := s.linkBlob(r, src, d, size)
	if err != nil {
		return err
	}
	return wait()
}

// linkBlob does the linking of ingestFile and returns a function that waits
// for the directory fsyncs, so a caller can overlap other durable work (the
// journal append of a manifest) with them. The blob's data is already on
// disk, so nothing can become visible before its bytes.
func (s *Store) linkBlob(r *repo, src string, d digest.Digest, size int64) (func() error, error) {
	if err := os.Chmod(src, blobPerm); err != nil {
		return nil, err
	}
	pool := s.poolPath(d)
	l := s.digestLock(d)
	l.Lock()
	err := os.Link(src, pool)
	if errors.Is(err, fs.ErrExist) {
		err = nil
		if fi, serr := os.Lstat(pool); serr != nil || fi.Size() != size || !fi.Mode().IsRegular() {
			// The stored copy cannot be this content: it was damaged
			// on disk. Replace it with the verified bytes.
			s.log.Error("stored blob has the wrong size; replacing it with the verified upload", "digest", d)
			err = os.Rename(src, pool)
		}
	}
	if err == nil {
		err = os.Link(pool, r.blobPath(d))
		if errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	l.Unlock()
	_ = os.Remove(src)
	if err != nil {
		return nil, fmt.Errorf("store blob %s: %w", d, err)
	}
	done := make(chan error, 1)
	go func() { done <- syncDirs(filepath.Dir(pool), r.blobDir(d)) }()
	return func() error { return <-done }, nil
}

// writeBlob stores small content (manifests) as blob d of r; like linkBlob it
// returns a function that waits for the directory fsyncs.
func (s *Store) writeBlob(r *repo, data []byte, d digest.Digest) (func() error, error) {
	if fi, err := os.Lstat(r.blobPath(d)); err == nil && fi.Size() == int64(len(data)) {
		return func() error { return nil }, nil // already there; content-addressed, so identical
	}
	f, err := s.newTempFile("blob-")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("write blob %s: %w", d, err)
	}
	return s.linkBlob(r, tmp, d, int64(len(data)))
}

// sweepOrphans removes pool blobs no repository links to, once they have
// been unreferenced for the grace period. They appear when a crash falls
// between unlinking a repository's copy and the pool copy.
func (s *Store) sweepOrphans(now time.Time) {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		dir := filepath.Join(s.dir, "pool", alg.String())
		entries, err := os.ReadDir(dir)
		if err != nil {
			s.log.Warn("orphan sweep failed", "dir", dir, "error", err)
			continue
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(alg, e.Name())
			if d.Validate() != nil {
				continue
			}
			l := s.digestLock(d)
			l.Lock()
			if fi, err := os.Lstat(filepath.Join(dir, e.Name())); err == nil && linkCount(fi) == 1 && now.Sub(changeTime(fi)) > s.cfg.OrphanGrace {
				s.releasePool(d)
			}
			l.Unlock()
		}
	}
}
