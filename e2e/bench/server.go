package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a running registry process under test.
type server struct {
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT
	token  string // bearer token; empty for crane
	log    string // path of the combined stdout/stderr
	exited chan struct{}
}

// buildServer builds the binary for target into dir and returns its path.
func buildServer(ctx context.Context, target, repoRoot, dir string) (string, error) {
	// A neutral name, out of reach of name-based kills aimed at other
	// "registry" processes on a shared machine (one stopped a run midway).
	out := filepath.Join(dir, "bin", "server-under-test")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/registry")
	cmd.Dir = repoRoot
	if target == "crane" {
		// Pinned by the e2e module's tool directive.
		cmd = exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/google/go-containerregistry/cmd/crane")
		cmd.Dir = filepath.Join(repoRoot, "e2e")
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s (in %s): %w\n%s", strings.Join(cmd.Args, " "), cmd.Dir, err, msg)
	}
	return out, nil
}

// startServer starts bin with a minimal environment, data under base, and
// waits until it answers its health check.
func startServer(ctx context.Context, target, bin, base string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &server{url: "http://" + addr, log: filepath.Join(base, "server.log"), exited: make(chan struct{})}
	logf, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	// Inherit nothing that could change the server's behaviour (a stray
	// INSECURE_DEV_MODE, say): only what a process needs to run.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + base}
	var args []string
	switch target {
	case "crane":
		args = []string{"registry", "serve", "--address", addr}
	default:
		dataDir := filepath.Join(base, "data")
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			return nil, err
		}
		tokenPath := filepath.Join(base, "service-token")
		var raw [32]byte
		if _, err := crand.Read(raw[:]); err != nil {
			return nil, err
		}
		s.token = hex.EncodeToString(raw[:])
		if err := os.WriteFile(tokenPath, []byte(s.token), 0o600); err != nil {
			return nil, err
		}
		env = append(env, "BIND_ADDR="+addr, "REGISTRY_DIR="+dataDir, "SERVICE_TOKEN_PATH="+tokenPath)
	}

	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Dir = base
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()

	health := s.url + "/health"
	if target == "crane" {
		health = s.url + "/v2/"
	}
	if err := s.waitHealthy(ctx, health, time.Minute); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n--- %s (tail) ---\n%s", err, s.log, tail(s.log, 2048))
	}
	return s, nil
}

func (s *server) waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before becoming healthy: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := hc.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = "GET " + url + ": " + resp.Status
	}
	return fmt.Errorf("server not healthy after %s: %s", timeout, last)
}

// Stop asks the server to exit, then kills it after a grace period.
func (s *server) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return errors.New("server ignored SIGTERM for 10s; killed")
	}
	return nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// usage is what one phase cost the server process.
type usage struct {
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	CPUSeconds float64 `json:"cpu_s"` // user + system
	SysSeconds float64 `json:"cpu_sys_s"`
	// Block I/O of the whole machine during the phase (/proc/vmstat
	// pgpgin/pgpgout): shows whether a "warm" read really came from memory.
	DiskReadMiB  float64 `json:"disk_read_mib"`
	DiskWriteMiB float64 `json:"disk_write_mib"`
}

// procSample is one reading of /proc/<pid>/{status,stat}.
type procSample struct {
	rssKiB, hwmKiB int64
	cpuTicks       int64 // utime + stime
	sysTicks       int64 // stime
}

// sampler polls a process's RSS while a phase runs and measures its CPU time.
type sampler struct {
	pid      int
	hwmReset bool // VmHWM was reset at start, so it covers only this phase
	start    procSample
	vmIn     int64 // /proc/vmstat pgpgin, pgpgout (KiB) at start
	vmOut    int64
	peakKiB  int64
	stop     chan struct{}
	done     chan struct{}
}

// startSampler resets the process's peak RSS (writing 5 to clear_refs; we
// own the process) and samples it every 50 ms until finish.
func startSampler(pid int) (*sampler, error) {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/clear_refs", pid), os.O_WRONLY, 0); err == nil {
		_, err = f.Write([]byte("5"))
		s.hwmReset = err == nil
		f.Close()
	}
	var err error
	if s.start, err = readProc(pid); err != nil {
		return nil, err
	}
	s.peakKiB = s.start.rssKiB
	s.vmIn, s.vmOut = readVMStat()
	go s.loop()
	return s, nil
}

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if p, err := readProc(s.pid); err == nil {
				s.peakKiB = max(s.peakKiB, p.rssKiB)
			}
		}
	}
}

// finish stops sampling and returns the phase's peak RSS and CPU seconds.
func (s *sampler) finish() (usage, error) {
	close(s.stop)
	<-s.done
	end, err := readProc(s.pid)
	if err != nil {
		return usage{}, err
	}
	peak := max(s.peakKiB, end.rssKiB)
	if s.hwmReset {
		peak = max(peak, end.hwmKiB)
	}
	in, out := readVMStat()
	return usage{
		PeakRSSMiB:   float64(peak) / 1024,
		CPUSeconds:   float64(end.cpuTicks-s.start.cpuTicks) / float64(clockTicks),
		SysSeconds:   float64(end.sysTicks-s.start.sysTicks) / float64(clockTicks),
		DiskReadMiB:  float64(in-s.vmIn) / 1024,
		DiskWriteMiB: float64(out-s.vmOut) / 1024,
	}, nil
}

func readProc(pid int) (procSample, error) {
	var p procSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for line := range strings.Lines(string(status)) {
		key, val, _ := strings.Cut(line, ":")
		f := strings.Fields(val) // "1234 kB"
		if len(f) == 0 {
			continue
		}
		switch key {
		case "VmRSS":
			p.rssKiB, _ = strconv.ParseInt(f[0], 10, 64)
		case "VmHWM":
			p.hwmKiB, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	// The command name may contain spaces and parens; fields restart after
	// the last ')'. There the state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return p, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, stat)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return p, err
	}
	p.cpuTicks, p.sysTicks = utime+stime, stime
	return p, nil
}

// readVMStat returns the machine's KiB read from and written to block
// devices since boot.
func readVMStat() (in, out int64) {
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch key {
		case "pgpgin":
			in, _ = strconv.ParseInt(val, 10, 64)
		case "pgpgout":
			out, _ = strconv.ParseInt(val, 10, 64)
		}
	}
	return in, out
}

// clockTicks is sysconf(_SC_CLK_TCK), read from the auxiliary vector
// (AT_CLKTCK) since Go has no sysconf without cgo; Linux always uses 100.
var clockTicks = func() int64 {
	const atClkTck = 17
	aux, err := os.ReadFile("/proc/self/auxv")
	for i := 0; err == nil && i+16 <= len(aux); i += 16 {
		if binary.NativeEndian.Uint64(aux[i:]) == atClkTck {
			return int64(binary.NativeEndian.Uint64(aux[i+8:]))
		}
	}
	return 100
}()
