package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Load reads and parses the policy file at path: at most MaxFileBytes,
// and a regular file (not a directory, device or FIFO). A
// public_key_file is read the same way (at most MaxKeyFileBytes),
// relative to the policy file's directory unless absolute. URI is path as
// given; Digest covers the policy file's bytes only. A problem with the
// content is an *Error whose File is path; a file that cannot be read is
// an error wrapping the os error (errors.Is(err, fs.ErrNotExist) works).
func Load(path string) (*Policy, error) {
	data, err := readCapped(path, MaxFileBytes)
	var tooBig *sizeError
	switch {
	case errors.As(err, &tooBig):
		return nil, &Error{File: path, Msg: tooBig.Error()}
	case err != nil:
		return nil, fmt.Errorf("policy: %w", err)
	}
	dir := filepath.Dir(path)
	p, e := parse(data, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return readCapped(name, MaxKeyFileBytes)
	})
	if e != nil {
		e.File = path
		return nil, e
	}
	p.uri = path
	return p, nil
}

type sizeError struct{ size, limit int64 }

func (e *sizeError) Error() string {
	return fmt.Sprintf("%d bytes, more than the limit of %d", e.size, e.limit)
}

// readCapped reads a regular file of at most limit bytes. The type is
// checked before opening too, because opening a FIFO blocks.
func readCapped(name string, limit int64) ([]byte, error) {
	if fi, err := os.Stat(name); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, &sizeError{fi.Size(), limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &sizeError{int64(len(data)), limit}
	}
	return data, nil
}
