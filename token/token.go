// Package token reads and creates the registry's service token file. The
// server and securectl read it the same way, so a file one accepts the other
// accepts too. It never logs or returns the token inside an error.
package token

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MinLength is the shortest token accepted (32 characters, e.g. the output
// of `openssl rand -hex 16`).
const MinLength = 32

const maxFile = 4096

// Read returns the token in path. The file must be a regular file (symlinks
// to one are followed, as container and Kubernetes secret mounts use them),
// not writable by group or others, at most 4 KiB, and hold one token of at
// least MinLength characters without inner whitespace.
func Read(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s does not exist", path)
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("%s is writable by group or others (mode %v); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFile {
		return "", fmt.Errorf("%s is larger than %d bytes; it should hold one token", path, maxFile)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < MinLength {
		return "", fmt.Errorf("the token in %s is %d characters; use at least %d (e.g. `openssl rand -hex 32`)", path, len(tok), MinLength)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("the token in %s contains whitespace", path)
	}
	return tok, nil
}

// Generate creates path holding a fresh random 64-hex-character token, mode
// 0600, unless path already exists (whatever it holds is never overwritten).
// It reports whether it created the file.
func Generate(path string) (bool, error) {
	if _, err := os.Lstat(path); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	_, err = f.WriteString(hex.EncodeToString(raw[:]) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}
