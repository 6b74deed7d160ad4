//go:build unix && !linux

package ocilayout

import (
	"errors"
	"os"
	"syscall"
	"time"
)

func datasync(f *os.File) error { return f.Sync() }

func startWriteback(*os.File, int64, int64) {}

func waitWriteback(*os.File, int64, int64) {}

func lockDir(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}

func changeTime(fi os.FileInfo) time.Time { return fi.ModTime() }

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

func openDirect(string) *os.File { return nil }
