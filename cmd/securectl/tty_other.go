//go:build !linux

package main

import "os"

// isTerminal reports whether f is a character device, which on a terminal
// it is (so is /dev/null: a bar written there is harmless).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
