package main

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

const (
	bigRepo   = "bench/big"
	smallRepo = "bench/small"
)

// benchEnv is one benchmark run: its temp dir, blob, measured limits and the
// server under test. Both main and the Go benchmarks drive it.
type benchEnv struct {
	cfg       config
	log       io.Writer // progress lines
	repoRoot  string
	base      string // temp dir holding everything
	fs        string // description of the filesystem under base
	loadStart float64
	blob      blobFile
	pushed    map[string]bool // digests already in the server
	limits    limits
	srv       *server
	cl        *client
}

// newBenchEnv generates the blob, measures the limits and starts the server.
// On error the returned env (if any) must still be closed.
func newBenchEnv(ctx context.Context, cfg config, log io.Writer) (*benchEnv, error) {
	e := &benchEnv{cfg: cfg, log: log, pushed: map[string]bool{}, loadStart: loadAvg()}
	var err error
	if e.repoRoot, err = findRepoRoot(); err != nil {
		return nil, err
	}
	dir, err := pickDir(cfg.dir, e.repoRoot)
	if err != nil {
		return nil, err
	}
	if e.base, err = os.MkdirTemp(dir, "amr-bench-"); err != nil {
		return nil, err
	}
	e.fs = describeFS(e.base)
	if !sameDevice(e.base, e.repoRoot) {
		e.logf("warning: %s is not on the same filesystem as %s", e.base, e.repoRoot)
	}
	e.logf("temp dir %s (%s)", e.base, e.fs)

	bin := cfg.bin
	if bin == "" { // build first: a broken build should fail fast
		err = e.step("build "+cfg.target, func() (err error) {
			bin, err = buildServer(ctx, cfg.target, e.repoRoot, e.base)
			return
		})
	} else {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return e, err
	}
	err = e.step(fmt.Sprintf("generate %s blob", humanBytes(cfg.size)), func() (err error) {
		e.blob, err = generateBlob(filepath.Join(e.base, "blob.bin"), cfg.size)
		return
	})
	if err != nil {
		return e, err
	}
	hc := newHTTPClient()
	err = e.step("measure limits", func() (err error) {
		e.limits, err = measureLimits(e.blob, e.base, hc)
		return
	})
	if err != nil {
		return e, err
	}
	e.logf("  sha256 %.0f MB/s, write+fsync %.0f MB/s, ServeFile %.0f MB/s",
		e.limits.SHA256MBps, e.limits.WriteFsyncMBps, e.limits.ServeFileMBps)

	err = e.step("start "+bin, func() (err error) {
		e.srv, err = startServer(ctx, cfg.target, bin, e.base)
		return
	})
	if err != nil {
		return e, err
	}
	e.cl = &client{base: e.srv.url, token: e.srv.token, hc: hc}
	return e, nil
}

// Close stops the server and removes the temp dir unless -keep.
func (e *benchEnv) Close() {
	if err := e.srv.Stop(); err != nil {
		e.logf("%v", err)
	}
	if e.base == "" {
		return
	}
	if e.cfg.keep {
		e.logf("kept %s", e.base)
		return
	}
	os.RemoveAll(e.base)
}

func (e *benchEnv) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "# "+format+"\n", args...)
}

func (e *benchEnv) step(name string, f func() error) error {
	start := time.Now()
	err := f()
	e.logf("%s: %.1fs", name, time.Since(start).Seconds())
	return err
}

// phase is one timed transfer and what it cost the server.
type phase struct {
	Seconds   float64 `json:"s"`
	MBps      float64 `json:"mbps"`
	Ratio     float64 `json:"ratio_to_limit"`
	CPUPerGiB float64 `json:"cpu_s_per_gib"`
	usage
	// Every run, when this is a median, and the machine's disk reads in it.
	RunsMBps    []float64 `json:"runs_mbps,omitempty"`
	RunsReadMiB []float64 `json:"runs_disk_read_mib,omitempty"`
}

// measure times f while sampling the server, and relates n bytes (if any)
// to limit MB/s.
func (e *benchEnv) measure(n int64, limit float64, f func() error) (phase, error) {
	s, err := startSampler(e.srv.pid())
	if err != nil {
		return phase{}, err
	}
	start := time.Now()
	err = f()
	elapsed := time.Since(start)
	u, uerr := s.finish()
	if err = errors.Join(err, uerr); err != nil {
		return phase{}, err
	}
	p := phase{Seconds: elapsed.Seconds(), usage: u}
	if n > 0 {
		p.MBps = mbps(n, elapsed)
		p.Ratio = p.MBps / limit
		p.CPUPerGiB = u.CPUSeconds / (float64(n) / (1 << 30))
	}
	return p, nil
}

// push pushes the blob durably, monolithic or streamed, after giving it a
// digest the server has not seen yet.
func (e *benchEnv) push(ctx context.Context, streamed bool) (phase, error) {
	if err := e.freshBlob(); err != nil {
		return phase{}, err
	}
	b := e.blob
	p, err := e.measure(b.size, e.limits.diskLimit(), func() error {
		if streamed {
			return e.cl.pushStreamed(ctx, bigRepo, b)
		}
		return e.cl.pushMonolithic(ctx, bigRepo, b)
	})
	if err == nil {
		e.pushed[b.digest] = true
	}
	return p, err
}

// freshBlob gives the blob a new digest if the server already has it.
func (e *benchEnv) freshBlob() error {
	if !e.pushed[e.blob.digest] {
		return nil
	}
	return e.step("refresh blob digest", e.blob.refresh)
}

// ensurePushed pushes the blob, untimed, unless the server has it.
func (e *benchEnv) ensurePushed(ctx context.Context) error {
	if e.pushed[e.blob.digest] {
		return nil
	}
	_, err := e.push(ctx, false)
	return err
}

// pull downloads the blob (pushing it first if needed), whole or as
// parallel ranges.
func (e *benchEnv) pull(ctx context.Context, parts int) (phase, error) {
	if err := e.ensurePushed(ctx); err != nil {
		return phase{}, err
	}
	b := e.blob
	return e.measure(b.size, e.limits.ServeFileMBps, func() error {
		if parts > 1 {
			return e.cl.pullRanged(ctx, bigRepo, b, parts)
		}
		return e.cl.pull(ctx, bigRepo, b)
	})
}

// pullMedian is the median of transferRuns pulls, like the ServeFile limit.
func (e *benchEnv) pullMedian(ctx context.Context, parts int) (phase, error) {
	var runs []phase
	var rates, reads []float64
	for range transferRuns {
		p, err := e.pull(ctx, parts)
		if err != nil {
			return phase{}, err
		}
		runs = append(runs, p)
		rates, reads = append(rates, p.MBps), append(reads, p.DiskReadMiB)
	}
	slices.SortFunc(runs, func(a, b phase) int { return cmp.Compare(a.MBps, b.MBps) })
	p := runs[len(runs)/2]
	p.RunsMBps, p.RunsReadMiB = rates, reads
	return p, nil
}

// smallResult is the many-small-artifacts phase.
type smallResult struct {
	N            int     `json:"n"`
	Seconds      float64 `json:"s"`
	PerSecond    float64 `json:"artifacts_per_s"`
	MeanMs       float64 `json:"mean_ms"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	CPUMsPerItem float64 `json:"cpu_ms_per_artifact"`
	usage
}

// small pushes n artifacts sequentially, five requests each.
func (e *benchEnv) small(ctx context.Context, n int) (smallResult, error) {
	var seed [32]byte
	crand.Read(seed[:])
	rng := rand.NewChaCha8(seed)
	arts := make([]artifact, n)
	for i := range arts {
		var err error
		if arts[i], err = makeArtifact(i, rng); err != nil {
			return smallResult{}, err
		}
	}
	lat := make([]time.Duration, 0, n)
	p, err := e.measure(0, 0, func() error {
		for _, a := range arts {
			start := time.Now()
			if err := e.cl.pushArtifact(ctx, smallRepo, a); err != nil {
				return fmt.Errorf("artifact %s: %w", a.tag, err)
			}
			lat = append(lat, time.Since(start))
		}
		return nil
	})
	if err != nil {
		return smallResult{}, err
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return smallResult{
		N:            n,
		Seconds:      p.Seconds,
		PerSecond:    float64(n) / p.Seconds,
		MeanMs:       ms(sum) / float64(n),
		P50Ms:        ms(percentile(lat, 0.50)),
		P99Ms:        ms(percentile(lat, 0.99)),
		CPUMsPerItem: p.CPUSeconds * 1000 / float64(n),
		usage:        p.usage,
	}, nil
}

// percentile is nearest-rank on sorted data.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// runAll runs every phase in order; a failed phase is recorded and the
// others still run.
func (e *benchEnv) runAll(ctx context.Context) *results {
	r := newResults(e)
	do := func(name, label string, f func() error) {
		syscall.Sync() // start every phase with no dirty pages from earlier ones
		if err := e.step(label, f); err != nil {
			r.Errors = append(r.Errors, name+": "+err.Error())
			e.logf("%s FAILED: %v", label, err)
		}
	}
	do("push_monolithic", "push monolithic", func() (err error) { r.PushMono, err = e.push(ctx, false); return })
	do("pull", "pull", func() (err error) { r.Pull, err = e.pullMedian(ctx, 1); return })
	do("pull_ranged", "pull 8 ranges", func() (err error) { r.PullRanged, err = e.pullMedian(ctx, 8); return })
	do("push_streamed", "push streamed", func() (err error) { r.PushStreamed, err = e.push(ctx, true); return })
	if n := e.cfg.small; n > 0 {
		do("small", fmt.Sprintf("%d small artifacts", n), func() (err error) { r.Small, err = e.small(ctx, n); return })
	}
	select {
	case <-e.srv.exited:
		r.Errors = append(r.Errors, fmt.Sprintf("server: exited during the run (%v); log tail:\n%s",
			e.srv.cmd.ProcessState, tail(e.srv.log, 2048)))
	default:
	}
	r.LoadAvg[1] = loadAvg()
	r.evaluate()
	return r
}

// findRepoRoot walks up from the working directory to the directory that
// holds e2e/go.mod.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "e2e", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the repository (no e2e/go.mod above the working directory)")
		}
		dir = parent
	}
}

// pickDir returns -dir, else $TMPDIR if it is on the repo's filesystem, else
// <repo>/../tmp, so the limits and the server use the same disk.
func pickDir(dir, repoRoot string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if tmp := os.TempDir(); sameDevice(tmp, repoRoot) {
		return tmp, nil
	}
	dir = filepath.Join(filepath.Dir(repoRoot), "tmp")
	return dir, os.MkdirAll(dir, 0o700)
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

// describeFS names the filesystem holding dir from /proc/self/mountinfo
// (the longest mount point that is a prefix of dir).
func describeFS(dir string) string {
	dir, _ = filepath.EvalSymlinks(dir)
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "unknown fs"
	}
	best, desc := -1, "unknown fs"
	for line := range strings.Lines(string(info)) {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		mnt := f[4]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) > best {
			best, desc = len(mnt), fmt.Sprintf("%s %s on %s", g[0], g[1], mnt)
		}
	}
	return desc
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}
