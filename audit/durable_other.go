//go:build unix && !linux

package audit

import (
	"os"
	"syscall"
)

func datasync(f *os.File) error { return f.Sync() }

func lockDir(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
