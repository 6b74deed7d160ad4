//go:build linux

package ocilayout

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// datasync flushes file data (and the metadata needed to read it back)
// without forcing unrelated metadata such as mtime.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// startWriteback asks the kernel to begin writing [off, off+n) to disk now,
// without waiting.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// waitWriteback waits until [off, off+n) is on disk, so dirty pages stay
// bounded while a large upload streams in and the final fdatasync is short.
func waitWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

// lockDir takes an exclusive, non-blocking flock on f: a second registry on
// the same directory would corrupt it.
func lockDir(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }

// linkCount returns the number of hard links of fi (pool refcount).
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}

// changeTime is the inode change time: it moves when a link is added or
// removed, so it dates when a blob lost its last repository.
func changeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return fi.ModTime()
}

func isNoSpace(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

// openDirect opens path for O_DIRECT writes, or returns nil where the
// filesystem refuses (tmpfs, some FUSE and network filesystems).
func openDirect(path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}
