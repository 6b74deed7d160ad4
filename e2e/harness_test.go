// Package e2e drives the real registry binary over real HTTP with real,
// pinned clients (oras, crane, skopeo, the OCI conformance suite).
//
// Environment:
//   - E2E_REGISTRY_BIN: use this registry binary instead of building ../cmd/registry.
//   - E2E_TARGET=crane: test against `crane registry serve` instead (a development
//     aid; auth, referrers and restart checks do not hold there).
//   - E2E_CONFORMANCE_RESULTS: keep the conformance reports in this directory.
//   - E2E_SECCOMP: run every registry under this seccomp profile (OCI JSON,
//     e.g. ../deploy/seccomp/ai-model-registry.json) through cmd/seccomp-exec.
package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

const (
	buildTimeout  = 10 * time.Minute
	toolTimeout   = 5 * time.Minute
	healthTimeout = 30 * time.Second
	stopTimeout   = 15 * time.Second
	httpTimeout   = 2 * time.Minute
)

// bins maps a program name (registry, oras, crane, conformance) to the binary
// built by TestMain. Programs not in it (skopeo) are looked up on PATH.
var bins = map[string]string{}

// target selects the server under test: "registry" (ours, the default) or
// "crane", go-containerregistry's in-memory registry, a development aid for
// working on these tests without our server (no auth, no /health, no data
// kept across restarts).
var target = os.Getenv("E2E_TARGET")

// seccompProfile, when set, is the seccomp profile every registry started
// from now on runs under (E2E_SECCOMP, or TestSeccomp for its subtests).
var seccompProfile = os.Getenv("E2E_SECCOMP")

// socketActivation, when true, makes every registry started from now on get
// its listening socket from systemd-socket-activate (LISTEN_FDS), as
// deploy/systemd's socket unit passes it.
var socketActivation bool

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if target == "" {
		target = "registry"
	}
	if target != "registry" && target != "crane" {
		fmt.Fprintf(os.Stderr, "E2E_TARGET must be \"registry\" or \"crane\", not %q\n", target)
		return 2
	}
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)

	// Built inside this module, so its go.mod pins the client versions.
	if err := goBuild(".", dir,
		"oras.land/oras/cmd/oras",
		"github.com/google/go-containerregistry/cmd/crane",
		"github.com/opencontainers/distribution-spec/conformance",
		"./cmd/seccomp-exec"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, name := range []string{"oras", "crane", "conformance", "seccomp-exec"} {
		bins[name] = filepath.Join(dir, name)
	}
	if seccompProfile != "" {
		if seccompProfile, err = filepath.Abs(seccompProfile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	switch bin := os.Getenv("E2E_REGISTRY_BIN"); {
	case target == "crane":
	case bin != "":
		if bins["registry"], err = filepath.Abs(bin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	default:
		if err := goBuild("..", dir, "./cmd/registry"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		bins["registry"] = filepath.Join(dir, "registry")
	}
	return m.Run()
}

func goBuild(moduleDir, outDir string, pkgs ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := append([]string{"build", "-o", outDir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	// Static, as deploy/Containerfile builds the registry: the seccomp
	// profile allows what the pure-Go binary needs, not a libc's start-up.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s (in %s): %v\n%s", strings.Join(args, " "), moduleDir, err, out)
	}
	return nil
}

// registry is one server process under test, with its own data dir, port,
// token and log file, kept across Kill/Restart.
type registry struct {
	t       *testing.T
	Addr    string // 127.0.0.1:PORT, the host part of references
	Token   string // the service token (64 hex chars)
	Dir     string // REGISTRY_DIR
	LogPath string // stdout and stderr of every run, appended
	env     []string
	seccomp string // the seccomp profile it runs under, if any
	sockets bool   // socket-activated
	proc    *proc
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// startRegistry starts a fresh registry (new data dir, token and port), waits
// until it is healthy and stops it when the test ends. extraEnv (KEY=VALUE)
// is added to the contract's environment.
func startRegistry(t *testing.T, extraEnv ...string) *registry {
	t.Helper()
	tmp := t.TempDir()
	r := &registry{
		t:       t,
		Addr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		Token:   randomHex(t, 32),
		Dir:     filepath.Join(tmp, "data"),
		LogPath: filepath.Join(tmp, "registry.log"),
		seccomp: seccompProfile,
		sockets: socketActivation,
	}
	tokenPath := filepath.Join(tmp, "service-token")
	if err := os.WriteFile(tokenPath, []byte(r.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Most tests are about something other than the promotion policy: they
	// get one that allows what the predecessor allowed (a one-step promote
	// without scanner evidence). Policy tests pass their own POLICY_PATH
	// (an empty one means the strict default).
	policyPath := filepath.Join(tmp, "policy.yaml")
	if err := os.WriteFile(policyPath, []byte("version: e2e-permissive\nallow_one_step_promote: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), "BIND_ADDR="+r.Addr, "REGISTRY_DIR="+r.Dir, "SERVICE_TOKEN_PATH="+tokenPath, "POLICY_PATH="+policyPath,
		// Its own integrity result: the default path is shared by every registry on the host.
		"INTEGRITY_RESULT_PATH="+filepath.Join(tmp, "integrity-last.json"))
	r.env = append(r.env, extraEnv...)
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("registry log tail (%s):\n%s", r.LogPath, r.LogTail(40))
		}
		// Runtime directories of trusted artifacts are read-only; make
		// them removable so t.TempDir's cleanup works for non-root users.
		_ = filepath.WalkDir(filepath.Join(r.Dir, "runtime"), func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				_ = os.Chmod(p, 0o750)
			}
			return nil
		})
	})
	r.start()
	return r
}

func (r *registry) start() {
	r.t.Helper()
	logFile, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	var cmd *exec.Cmd
	if target == "crane" {
		cmd = exec.Command(bins["crane"], "registry", "serve", "--address", r.Addr)
	} else {
		argv := []string{bins["registry"]}
		if r.seccomp != "" {
			argv = append([]string{bins["seccomp-exec"], r.seccomp}, argv...)
		}
		if r.sockets {
			// It listens on Addr and execs the rest, in its own place, at
			// the first connection (waitHealthy's), with only --setenv's variables.
			activate := []string{"systemd-socket-activate", "--listen=" + r.Addr}
			for _, kv := range r.env {
				activate = append(activate, "--setenv="+kv)
			}
			argv = append(activate, argv...)
		}
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start registry: %v", err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	r.proc = p
	r.waitHealthy(p)
}

// waitHealthy waits for /ready: the server listens before boot recovery,
// when /health (liveness) already answers 200.
func (r *registry) waitHealthy(p *proc) {
	r.t.Helper()
	path := "/ready"
	if target == "crane" {
		path = "/v2/"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(healthTimeout)
	for {
		last := ""
		resp, err := client.Get(r.URL(path))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			r.proc = nil
			r.t.Fatalf("registry exited before GET %s answered 200: %v (log tail below)", path, p.err)
		case <-deadline:
			r.t.Fatalf("registry not healthy after %s: GET %s: %s (log tail below)", healthTimeout, r.URL(path), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for a clean exit (SIGKILL and an error after
// stopTimeout). It does nothing if the registry is not running.
func (r *registry) Stop() {
	p := r.proc
	if p == nil {
		return
	}
	r.proc = nil
	select {
	case <-p.done:
		r.t.Errorf("registry exited on its own during the test: %v", p.err)
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil && target != "crane" {
			r.t.Errorf("registry exited with %v after SIGTERM, want a clean exit", p.err)
		}
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		r.t.Errorf("registry did not exit within %s of SIGTERM; killed it", stopTimeout)
	}
}

// Kill ends the registry with SIGKILL (a crash) and waits for it.
func (r *registry) Kill() {
	r.t.Helper()
	p := r.proc
	if p == nil {
		r.t.Fatal("Kill: registry is not running")
	}
	r.proc = nil
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Restart stops the registry if it runs, then starts it again with the same
// data dir, port and token, and waits until it is healthy.
func (r *registry) Restart() {
	r.t.Helper()
	r.Stop()
	r.start()
}

// LogTail returns the last n lines the registry wrote.
func (r *registry) LogTail(n int) string {
	b, err := os.ReadFile(r.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(b), n)
}

// URL returns the absolute URL of path on the registry.
func (r *registry) URL(path string) string { return "http://" + r.Addr + path }

// Ref returns a reference such as 127.0.0.1:PORT/repo:tag.
func (r *registry) Ref(repoAndRef string) string { return r.Addr + "/" + repoAndRef }

type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request. path is relative to the registry or an absolute URL
// (an upload Location); auth adds "Authorization: Bearer <token>"; header
// holds extra headers.
func (r *registry) do(t *testing.T, method, path string, body []byte, auth bool, header map[string]string) httpResult {
	t.Helper()
	u, err := url.Parse(r.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	if u, err = u.Parse(path); err != nil {
		t.Fatalf("bad path %q: %v", path, err)
	}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: httpTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// pushBlob uploads data to repo (POST then monolithic PUT) and returns its digest.
func (r *registry) pushBlob(t *testing.T, repo string, data []byte) digest.Digest {
	t.Helper()
	dgst := digest.FromBytes(data)
	res := r.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, true, nil)
	loc := res.Header.Get("Location")
	if res.Status != http.StatusAccepted || loc == "" {
		t.Fatalf("POST /v2/%s/blobs/uploads/: want 202 with Location, got %d %q: %s", repo, res.Status, loc, res.Body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("upload Location %q: %v", loc, err)
	}
	q := u.Query()
	q.Set("digest", dgst.String())
	u.RawQuery = q.Encode()
	res = r.do(t, "PUT", u.String(), data, true, map[string]string{"Content-Type": "application/octet-stream"})
	if res.Status != http.StatusCreated {
		t.Fatalf("PUT blob %s to %s: want 201, got %d: %s", dgst, repo, res.Status, res.Body)
	}
	return dgst
}

// pushManifest PUTs body as repo:ref with the given Content-Type, checks the
// 201 and its Docker-Content-Digest, and returns the digest.
func (r *registry) pushManifest(t *testing.T, repo, ref, contentType string, body []byte) digest.Digest {
	t.Helper()
	dgst := digest.FromBytes(body)
	res := r.do(t, "PUT", "/v2/"+repo+"/manifests/"+ref, body, true, map[string]string{"Content-Type": contentType})
	if res.Status != http.StatusCreated {
		t.Fatalf("PUT /v2/%s/manifests/%s (%s): want 201, got %d: %s", repo, ref, contentType, res.Status, res.Body)
	}
	if got := res.Header.Get("Docker-Content-Digest"); got != dgst.String() {
		t.Errorf("PUT /v2/%s/manifests/%s: Docker-Content-Digest %q, want %q", repo, ref, got, dgst)
	}
	return dgst
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t *testing.T, n int) string { return hex.EncodeToString(randomBytes(t, n)) }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

type cmdResult struct {
	Stdout, Stderr string
	Code           int
}

func (c cmdResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", c.Code, c.Stdout, c.Stderr)
}

type runOpts struct {
	Dir     string
	Env     []string // full environment; nil inherits this process's
	Timeout time.Duration
}

// runCmd runs a program from bins (else from PATH) and fails the test if it
// cannot start or outlives its timeout. A non-zero exit is only reported.
func runCmd(t *testing.T, o runOpts, name string, args ...string) cmdResult {
	t.Helper()
	path, ok := bins[name]
	if !ok {
		var err error
		if path, err = exec.LookPath(name); err != nil {
			t.Fatalf("%s not found: %v", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir, cmd.Env = o.Dir, o.Env
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cmdResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %s: timed out after %s\n%s", name, strings.Join(args, " "), o.Timeout, res)
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return res
}

// cli runs client tools with a private HOME and DOCKER_CONFIG, in its own dir.
type cli struct {
	t   *testing.T
	Dir string // working directory and HOME
}

func newCLI(t *testing.T) *cli { return &cli{t: t, Dir: t.TempDir()} }

func (c *cli) run(name string, args ...string) cmdResult {
	c.t.Helper()
	env := append(os.Environ(),
		"HOME="+c.Dir,
		"DOCKER_CONFIG="+filepath.Join(c.Dir, ".docker"),
		"REGISTRY_AUTH_FILE="+filepath.Join(c.Dir, "auth.json"))
	return runCmd(c.t, runOpts{Dir: c.Dir, Env: env, Timeout: toolTimeout}, name, args...)
}

// must runs the tool, fails the test unless it exits 0, and returns stdout.
func (c *cli) must(name string, args ...string) string {
	c.t.Helper()
	res := c.run(name, args...)
	if res.Code != 0 {
		c.t.Fatalf("%s %s: %s", name, strings.Join(args, " "), res)
	}
	return res.Stdout
}

// writeFile writes data to name under dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sameFile fails the test unless the file at path holds exactly want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes (%s), want %d bytes (%s)", path, len(got), digest.FromBytes(got), len(want), digest.FromBytes(want))
	}
}

// skipUnlessOurServer skips checks that the crane development target cannot pass.
func skipUnlessOurServer(t *testing.T, why string) {
	t.Helper()
	if target == "crane" {
		t.Skip("E2E_TARGET=crane: " + why)
	}
}

// tarFiles returns an uncompressed tar of files (sorted, fixed metadata).
func tarFiles(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
