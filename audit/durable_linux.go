//go:build linux

package audit

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes a file's data and the metadata needed to read it back
// (its length), without forcing mtime.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// lockDir takes an exclusive, non-blocking flock on the directory: two
// writers would fork the chain.
func lockDir(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }
