package main

import (
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// chunk is the I/O size used everywhere: the write test, hashing, draining.
const chunk = 1 << 20

// blobFile is the large test blob on disk; it is only ever streamed.
type blobFile struct {
	path   string
	size   int64
	digest string // "sha256:<hex>"
}

// limits are the machine's own ceilings, measured on the blob's bytes.
type limits struct {
	SHA256MBps     float64   `json:"sha256_mbps"`
	WriteFsyncMBps float64   `json:"write_fsync_mbps"` // fastest of WriteFsyncRuns
	WriteFsyncRuns []float64 `json:"write_fsync_runs_mbps"`
	// DirectMBps is the same copy through O_DIRECT plus fdatasync, for
	// information (0 if the filesystem or the size does not allow it).
	DirectMBps    float64   `json:"write_direct_mbps"`
	DirectCPU     float64   `json:"write_direct_cpu_s_per_gib"`
	ServeFileMBps float64   `json:"servefile_mbps"` // median of ServeFileRuns
	ServeFileRuns []float64 `json:"servefile_runs_mbps"`
	// CommitMs is one durable small-file commit (create, write 4 KiB,
	// fdatasync, rename, fsync the directory): the unit a small push pays.
	CommitMs float64 `json:"small_commit_ms"`

	// CPU this process spent per GiB in the measurement (user + system, and
	// system alone): hashing plus write+fsync is the floor for the server's
	// CPU per GiB pushed.
	SHA256CPU     float64 `json:"sha256_cpu_s_per_gib"`
	WriteFsyncCPU float64 `json:"write_fsync_cpu_s_per_gib"`
	WriteFsyncSys float64 `json:"write_fsync_sys_s_per_gib"`
}

// diskLimit is what bounds a durable push: the server must both hash and
// write+fsync every byte, so the slower of the two is the ceiling.
func (l limits) diskLimit() float64 { return min(l.SHA256MBps, l.WriteFsyncMBps) }

// generateBlob writes size bytes of ChaCha8 output to path, fsyncs it so its
// writeback cannot disturb later phases, and returns it with its digest.
func generateBlob(path string, size int64) (blobFile, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return blobFile{}, err
	}
	rng := rand.NewChaCha8(seed)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return blobFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, chunk)
	for left := size; left > 0; {
		p := buf[:min(int64(len(buf)), left)]
		rng.Read(p)
		h.Write(p)
		if _, err := f.Write(p); err != nil {
			return blobFile{}, err
		}
		left -= int64(len(p))
	}
	if err := f.Sync(); err != nil {
		return blobFile{}, err
	}
	return blobFile{path: path, size: size, digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}, f.Close()
}

// refresh overwrites the blob's first bytes so that it gets a digest the
// server has never seen (a known digest could be deduplicated, skipping the
// write and fsync being measured), then rehashes it.
func (b *blobFile) refresh() error {
	head := make([]byte, 32)
	if _, err := crand.Read(head); err != nil {
		return err
	}
	f, err := os.OpenFile(b.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(head, 0); err != nil {
		return err
	}
	sum, err := hashFile(b.path)
	if err != nil {
		return err
	}
	b.digest = "sha256:" + sum
	return f.Close()
}

// hashFile returns the hex SHA-256 of a file, read in chunk-sized reads.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := copyChunks(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyChunks copies with plain chunk-sized Read/Write calls. io.Copy is
// avoided on purpose: between files it would use copy_file_range and measure
// the kernel's copy instead of a write path like the server's.
func copyChunks(dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, chunk)
	var n int64
	for {
		r, err := src.Read(buf)
		if r > 0 {
			w, werr := dst.Write(buf[:r])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// measureLimits runs the limit measurements on b, in dir.
func measureLimits(b blobFile, dir string, hc *http.Client) (limits, error) {
	var l limits
	var err error
	gib := float64(b.size) / (1 << 30)
	u0, _ := selfCPU()
	if l.SHA256MBps, err = measureSHA256(b); err != nil {
		return l, fmt.Errorf("sha256 limit: %w", err)
	}
	u1, _ := selfCPU()
	l.SHA256CPU = (u1 - u0) / gib // hashing is user time
	if l.WriteFsyncRuns, l.WriteFsyncCPU, l.WriteFsyncSys, err = measureWriteFsync(b, dir); err != nil {
		return l, fmt.Errorf("write+fsync limit: %w", err)
	}
	l.WriteFsyncMBps = slices.Max(l.WriteFsyncRuns)
	u2, s2 := selfCPU()
	if l.DirectMBps, err = writeDirect(b, filepath.Join(dir, "write-direct.bin")); err != nil {
		return l, fmt.Errorf("O_DIRECT write: %w", err)
	}
	u3, s3 := selfCPU()
	l.DirectCPU = (u3 - u2 + s3 - s2) / gib
	if l.ServeFileRuns, err = measureServeFile(b, hc); err != nil {
		return l, fmt.Errorf("ServeFile limit: %w", err)
	}
	l.ServeFileMBps = median(slices.Clone(l.ServeFileRuns))
	if l.CommitMs, err = measureCommit(dir, 200); err != nil {
		return l, fmt.Errorf("small commit limit: %w", err)
	}
	return l, nil
}

// selfCPU returns this process's user and system CPU seconds so far.
func selfCPU() (user, sys float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()
}

// measureSHA256 hashes the blob from the page cache.
func measureSHA256(b blobFile) (float64, error) {
	start := time.Now()
	sum, err := hashFile(b.path)
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if "sha256:"+sum != b.digest {
		return 0, fmt.Errorf("blob changed on disk: %s != %s", sum, b.digest)
	}
	return mbps(b.size, elapsed), nil
}

// writeRuns is how many write+fsync runs are made; the fastest is the limit.
const writeRuns = 2

// measureWriteFsync writes the blob's bytes to a new file in dir with
// chunk-sized writes and an fsync, writeRuns times, and returns each run's
// MB/s and the CPU seconds per GiB (total, system) of the fastest.
//
// On a VM the first touch of guest memory the host has not backed yet (here:
// the page cache the copy lands in) can cost seconds of system time per GiB.
// Deleting the previous run's file before the next hands its already-backed
// pages on, so the fastest run is the steady state of a machine in use.
// The last file stays until the run ends, so no phase runs behind its TRIM.
func measureWriteFsync(b blobFile, dir string) (runs []float64, cpu, sys float64, err error) {
	gib := float64(b.size) / (1 << 30)
	var prev string
	for i := range writeRuns {
		if prev != "" {
			if err := os.Remove(prev); err != nil {
				return nil, 0, 0, err
			}
		}
		prev = filepath.Join(dir, fmt.Sprintf("write-fsync-%d.bin", i))
		u0, s0 := selfCPU()
		rate, err := writeFsync(b, prev)
		if err != nil {
			return nil, 0, 0, err
		}
		u1, s1 := selfCPU()
		if rate > slices.Max(append(runs, 0)) {
			cpu, sys = (u1-u0+s1-s0)/gib, (s1-s0)/gib
		}
		runs = append(runs, rate)
	}
	return runs, cpu, sys, nil
}

// writeFsync copies the blob to a new file at path and fsyncs it.
func writeFsync(b blobFile, path string) (float64, error) {
	src, err := os.Open(b.path)
	if err != nil {
		return 0, err
	}
	defer src.Close()

	start := time.Now()
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := copyChunks(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if n != b.size {
		return 0, fmt.Errorf("wrote %d bytes, want %d", n, b.size)
	}
	return mbps(b.size, elapsed), nil
}

// writeDirect copies the blob to a new file at path opened with O_DIRECT,
// in chunk-sized aligned writes, then fdatasyncs it. It returns 0 when
// O_DIRECT cannot be used here (tmpfs, or a size that is not a multiple of
// the 4 KiB alignment).
func writeDirect(b blobFile, path string) (float64, error) {
	if b.size%4096 != 0 {
		return 0, nil
	}
	src, err := os.Open(b.path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	// Anonymous mappings are page-aligned, as O_DIRECT needs of user memory.
	buf, err := syscall.Mmap(-1, 0, chunk, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(buf)

	start := time.Now()
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_DIRECT, 0o600)
	if errors.Is(err, syscall.EINVAL) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	for left := b.size; left > 0; {
		p := buf[:min(int64(len(buf)), left)]
		if _, err := io.ReadFull(src, p); err != nil {
			return 0, err
		}
		if _, err := dst.Write(p); err != nil {
			return 0, err
		}
		left -= int64(len(p))
	}
	if err := syscall.Fdatasync(int(dst.Fd())); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	return mbps(b.size, elapsed), dst.Close()
}

// measureServeFile downloads the blob transferRuns times from an in-process
// http.ServeFile on loopback, with the same client and drain loop as the
// registry pull, and returns each run's MB/s.
func measureServeFile(b blobFile, hc *http.Client) ([]float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, b.path) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/blob"

	// Open the keep-alive connection first: the registry pull also runs on
	// an established connection.
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	copyChunks(io.Discard, resp.Body)
	resp.Body.Close()

	var runs []float64
	for range transferRuns {
		rate, err := download(hc, url, b.size)
		if err != nil {
			return nil, err
		}
		runs = append(runs, rate)
	}
	return runs, nil
}

// transferRuns is how many times loopback downloads are repeated; the median
// is reported, since single runs on a small shared VM vary by 2x or more.
const transferRuns = 5

// median of a non-empty slice (which it sorts).
func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func download(hc *http.Client, url string, size int64) (float64, error) {
	start := time.Now()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("ServeFile answered %s", resp.Status)
	}
	n, err := copyChunks(io.Discard, resp.Body)
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("got %d bytes, want %d", n, size)
	}
	return mbps(size, elapsed), nil
}

// measureCommit returns the mean milliseconds of n durable 4 KiB file
// commits in a fresh directory under dir.
func measureCommit(dir string, n int) (float64, error) {
	dir = filepath.Join(dir, "commits")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return 0, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	data := make([]byte, 4096)
	start := time.Now()
	for i := range n {
		tmp := filepath.Join(dir, fmt.Sprintf("%d.tmp", i))
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return 0, err
		}
		_, err = f.Write(data)
		err = errors.Join(err, syscall.Fdatasync(int(f.Fd())), f.Close(),
			os.Rename(tmp, filepath.Join(dir, fmt.Sprint(i))), d.Sync())
		if err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start)) / float64(time.Millisecond) / float64(n), nil
}

// mbps is decimal megabytes (10^6 bytes) per second.
func mbps(n int64, d time.Duration) float64 {
	return float64(n) / 1e6 / d.Seconds()
}
