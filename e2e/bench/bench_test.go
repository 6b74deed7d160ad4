package main

import (
	"context"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
)

// The Go benchmarks share one environment (blob, limits, server) per test
// binary. They read their settings from the environment:
//
//	BENCH_SIZE (default 1GiB), BENCH_TARGET (registry|crane), BENCH_BIN,
//	BENCH_DIR, BENCH_KEEP=1
//
// Run: cd e2e && go test -run '^$' -bench . -benchtime 1x ./bench
var shared struct {
	once sync.Once
	env  *benchEnv
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		shared.env.Close()
	}
	os.Exit(code)
}

func sharedEnv(b *testing.B) *benchEnv {
	b.Helper()
	shared.once.Do(func() {
		cfg := defaultConfig()
		if v := os.Getenv("BENCH_SIZE"); v != "" {
			if cfg.size, shared.err = parseSize(v); shared.err != nil {
				return
			}
		}
		if v := os.Getenv("BENCH_TARGET"); v != "" {
			cfg.target = v
		}
		cfg.bin, cfg.dir = os.Getenv("BENCH_BIN"), os.Getenv("BENCH_DIR")
		cfg.keep = os.Getenv("BENCH_KEEP") == "1"
		var log io.Writer = io.Discard
		if testing.Verbose() {
			log = os.Stderr
		}
		shared.env, shared.err = newBenchEnv(context.Background(), cfg, log)
	})
	if shared.err != nil {
		b.Fatal(shared.err)
	}
	return shared.env
}

// report adds the limit-relative metrics over all iterations; limit is the
// machine's MB/s for this kind of transfer.
func report(b *testing.B, size int64, limit float64, phases []phase) {
	var secs, cpu, rss float64
	for _, p := range phases {
		secs += p.Seconds
		cpu += p.CPUSeconds
		rss = max(rss, p.PeakRSSMiB)
	}
	total := float64(size) * float64(len(phases))
	b.ReportMetric(total/1e6/secs/limit, "ratio_to_limit")
	b.ReportMetric(rss, "rss_mib")
	b.ReportMetric(cpu/(total/(1<<30)), "cpu_s_per_gib")
}

func BenchmarkPush1GiB(b *testing.B) {
	e := sharedEnv(b)
	ctx := b.Context()
	b.SetBytes(e.blob.size)
	phases := make([]phase, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := e.freshBlob(); err != nil {
			b.Fatal(err)
		}
		syscall.Sync()
		b.StartTimer()
		p, err := e.push(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		phases = append(phases, p)
	}
	b.StopTimer()
	report(b, e.blob.size, e.limits.diskLimit(), phases)
}

func BenchmarkPull1GiB(b *testing.B) {
	e := sharedEnv(b)
	ctx := b.Context()
	if err := e.ensurePushed(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(e.blob.size)
	phases := make([]phase, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		syscall.Sync()
		b.StartTimer()
		p, err := e.pull(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		phases = append(phases, p)
	}
	b.StopTimer()
	report(b, e.blob.size, e.limits.ServeFileMBps, phases)
}
