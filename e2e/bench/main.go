// Command bench is the end-to-end benchmark of the registry: it measures the
// machine's own limits (SHA-256, write+fsync, loopback HTTP) on the same bytes
// it then pushes through the real server binary, and reports each result as a
// ratio to the limit that bounds it, so figures compare across machines.
//
// Run it from the e2e module: go run ./bench [flags] (or ./bench.sh).
// It never fails on a missed target unless -strict is given; it exits 2 when
// a phase errors (the server answered something other than the spec's status).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// config is everything the flags (or the Go benchmark's environment) set.
type config struct {
	size   int64  // bytes of the large blob
	small  int    // number of small artifacts
	target string // "registry" (our binary) or "crane" (dev reference)
	bin    string // prebuilt server binary; empty builds it
	dir    string // base directory for temp data; empty picks one on the repo's disk
	keep   bool   // keep the temp directory
	strict bool   // exit 1 on a missed target
}

func defaultConfig() config {
	return config{size: 1 << 30, small: 2000, target: "registry"}
}

func main() {
	cfg := defaultConfig()
	size := flag.String("size", "1GiB", "size of the large blob (e.g. 1GiB, 256MiB, 100MB, or bytes)")
	flag.IntVar(&cfg.small, "small", cfg.small, "number of small artifacts (4 KiB layer + config + manifest each)")
	flag.StringVar(&cfg.target, "target", cfg.target, `server under test: "registry" (../cmd/registry) or "crane" (dev reference, in-memory, no auth)`)
	flag.StringVar(&cfg.bin, "bin", "", "prebuilt server binary (default: go build it)")
	flag.StringVar(&cfg.dir, "dir", "", "base dir for the blob, limits and the registry data (default: $TMPDIR if on the repo's disk, else <repo>/../tmp)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temp dir (data, server log)")
	flag.BoolVar(&cfg.strict, "strict", false, "exit 1 if any target is missed")
	flag.Parse()

	var err error
	if cfg.size, err = parseSize(*size); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -size:", err)
		os.Exit(2)
	}
	if cfg.target != "registry" && cfg.target != "crane" {
		fmt.Fprintf(os.Stderr, "bench: -target must be registry or crane, not %q\n", cfg.target)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg)
	stop()
	os.Exit(code)
}

// run executes every phase, prints the report and returns the exit code.
func run(ctx context.Context, cfg config) int {
	e, err := newBenchEnv(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if e != nil {
			e.Close()
		}
		return 2
	}
	defer e.Close()

	r := e.runAll(ctx)
	r.print(os.Stdout)
	switch {
	case len(r.Errors) > 0:
		return 2
	case cfg.strict && !r.Pass:
		return 1
	}
	return 0
}

// parseSize accepts plain bytes or a number with a KiB/MiB/GiB/KB/MB/GB suffix.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, err
	}
	if n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("size out of range")
	}
	return n * mult, nil
}
