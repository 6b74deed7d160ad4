package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
)

// results is everything one run measured; it is printed as a table and as
// the single BENCH_JSON line.
type results struct {
	Target        string      `json:"target"`
	SizeBytes     int64       `json:"size_bytes"`
	Cache         string      `json:"cache"`
	FS            string      `json:"fs"`
	CPUs          int         `json:"cpus"`
	GoVersion     string      `json:"go"`
	LoadAvg       [2]float64  `json:"loadavg_1m_start_end"`
	Limits        limits      `json:"limits"`
	DiskLimitMBps float64     `json:"disk_limit_mbps"`
	PushMono      phase       `json:"push_monolithic"`
	PushStreamed  phase       `json:"push_streamed"`
	Pull          phase       `json:"pull"`
	PullRanged    phase       `json:"pull_ranged_8"`
	Small         smallResult `json:"small"`
	Targets       []target    `json:"targets"`
	Pass          bool        `json:"pass"`
	Errors        []string    `json:"errors,omitempty"`
}

// target is one pass/miss line.
type target struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Op        string  `json:"op"`
	Threshold float64 `json:"threshold"`
	Pass      bool    `json:"pass"`
}

func newResults(e *benchEnv) *results {
	return &results{
		Target:        e.cfg.target,
		SizeBytes:     e.cfg.size,
		Cache:         "warm", // the page cache is never dropped: that needs root
		FS:            e.fs,
		CPUs:          runtime.NumCPU(),
		GoVersion:     runtime.Version(),
		LoadAvg:       [2]float64{e.loadStart, -1}, // the end is set by runAll
		Limits:        e.limits,
		DiskLimitMBps: e.limits.diskLimit(),
	}
}

// joinRates lists rates, starring those whose run read over half of size
// bytes from disk (reads may be nil).
func joinRates(rates, readMiB []float64, size int64) string {
	if len(rates) == 0 {
		return "-"
	}
	s := make([]string, len(rates))
	for i, x := range rates {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
		if i < len(readMiB) && readMiB[i]*(1<<20) > float64(size)/2 {
			s[i] += "*"
		}
	}
	return strings.Join(s, " ")
}

// loadAvg is the 1-minute load average, or -1 if unreadable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// failed reports whether the named phase errored.
func (r *results) failed(name string) bool {
	for _, e := range r.Errors {
		if strings.HasPrefix(e, name+":") {
			return true
		}
	}
	return false
}

// evaluate fills Targets and Pass. A target whose phase errored is a miss.
func (r *results) evaluate() {
	add := func(name string, ok bool, value float64, op string, threshold float64) {
		pass := ok && (op == ">=" && value >= threshold || op == "<" && value < threshold)
		r.Targets = append(r.Targets, target{name, value, op, threshold, pass})
	}
	monoOK, streamOK := !r.failed("push_monolithic"), !r.failed("push_streamed")
	add("push_monolithic.ratio_to_limit", monoOK, r.PushMono.Ratio, ">=", 0.80)
	add("push_streamed.ratio_to_limit", streamOK, r.PushStreamed.Ratio, ">=", 0.80)
	add("pull.ratio_to_limit", !r.failed("pull"), r.Pull.Ratio, ">=", 0.90)
	if r.Small.N > 0 || r.failed("small") { // -small 0 skips the phase
		add("small.artifacts_per_s", !r.failed("small"), r.Small.PerSecond, ">=", 200)
	}

	// Server cost of a push: the worst of the pushes that succeeded.
	var rss, cpu float64
	for _, p := range []struct {
		ok bool
		ph phase
	}{{monoOK, r.PushMono}, {streamOK, r.PushStreamed}} {
		if p.ok {
			rss, cpu = max(rss, p.ph.PeakRSSMiB), max(cpu, p.ph.CPUPerGiB)
		}
	}
	add("push.peak_rss_mib", monoOK || streamOK, rss, "<", 100)
	add("push.cpu_s_per_gib", monoOK || streamOK, cpu, "<", 1.2)

	r.Pass = len(r.Errors) == 0
	for _, t := range r.Targets {
		r.Pass = r.Pass && t.Pass
	}
}

func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "\nregistry benchmark: target=%s size=%s cpus=%d %s\n", r.Target, humanBytes(r.SizeBytes), r.CPUs, r.GoVersion)
	fmt.Fprintf(w, "fs: %s; cache: %s (the page cache is never dropped, that needs root; the disk R/W column\n"+
		"  shows when a read came from disk anyway, e.g. a blob the server wrote with O_DIRECT)\n", r.FS, r.Cache)
	fmt.Fprintf(w, "1-min load average at start %.2f, at end %.2f", r.LoadAvg[0], r.LoadAvg[1])
	if r.LoadAvg[0] > 0.5 {
		fmt.Fprintf(w, " (other work was running: figures are noisy)")
	}
	fmt.Fprintf(w, "\nMB = 10^6 bytes\n\n")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	l := r.Limits
	fmt.Fprintln(tw, "machine limit (same bytes, same disk)\tMB/s\tCPU s/GiB (sys)\t")
	fmt.Fprintf(tw, "sha256 (page cache)\t%.0f\t%.2f\t\n", l.SHA256MBps, l.SHA256CPU)
	fmt.Fprintf(tw, "write 1 MiB chunks + fsync (best of %d)\t%.0f\t%.2f (%.2f)\t\n", writeRuns, l.WriteFsyncMBps, l.WriteFsyncCPU, l.WriteFsyncSys)
	fmt.Fprintf(tw, "= disk limit: min(sha256, write+fsync)\t%.0f\t%.2f\t\n", r.DiskLimitMBps, l.SHA256CPU+l.WriteFsyncCPU)
	if l.DirectMBps > 0 {
		fmt.Fprintf(tw, "(info) write O_DIRECT 1 MiB chunks + fdatasync\t%.0f\t%.2f\t\n", l.DirectMBps, l.DirectCPU)
	}
	fmt.Fprintf(tw, "loopback http.ServeFile (median of %d)\t%.0f\t\t\n", transferRuns, l.ServeFileMBps)
	tw.Flush()
	fmt.Fprintf(w, "durable 4 KiB file commit (write, fdatasync, rename, dir fsync): %.2f ms\n", l.CommitMs)
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tseconds\tMB/s\tratio\tof limit\tpeak RSS MiB\tserver CPU s (sys)\tCPU s/GiB\tdisk R/W MiB\t")
	for _, p := range []struct {
		name, err, limit string
		ph               phase
	}{
		{"push monolithic (POST ?digest=)", "push_monolithic", "disk", r.PushMono},
		{"push streamed (POST, PATCH, PUT)", "push_streamed", "disk", r.PushStreamed},
		{fmt.Sprintf("pull (GET, median of %d)", transferRuns), "pull", "ServeFile", r.Pull},
		{fmt.Sprintf("pull 8 parallel ranges (info, median of %d)", transferRuns), "pull_ranged", "ServeFile", r.PullRanged},
	} {
		if r.failed(p.err) {
			fmt.Fprintf(tw, "%s\tFAILED\t\t\t\t\t\t\t\t\n", p.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.2f\t%s\t%.1f\t%.2f (%.2f)\t%.2f\t%.0f/%.0f\t\n", p.name, p.ph.Seconds, p.ph.MBps,
			p.ph.Ratio, p.limit, p.ph.PeakRSSMiB, p.ph.CPUSeconds, p.ph.SysSeconds, p.ph.CPUPerGiB, p.ph.DiskReadMiB, p.ph.DiskWriteMiB)
	}
	tw.Flush()
	fmt.Fprintf(w, "runs, MB/s (* = over half the blob read from disk): write+fsync %s; ServeFile %s; pull %s; ranged pull %s\n",
		joinRates(r.Limits.WriteFsyncRuns, nil, 0), joinRates(r.Limits.ServeFileRuns, nil, 0),
		joinRates(r.Pull.RunsMBps, r.Pull.RunsReadMiB, r.SizeBytes), joinRates(r.PullRanged.RunsMBps, r.PullRanged.RunsReadMiB, r.SizeBytes))

	if s := r.Small; s.N > 0 && !r.failed("small") {
		fmt.Fprintf(w, "\nsmall artifacts (5 requests each, sequential, keep-alive): %d in %.2f s = %.0f/s\n", s.N, s.Seconds, s.PerSecond)
		fmt.Fprintf(w, "  per artifact: mean %.2f ms, p50 %.2f ms, p99 %.2f ms; server CPU %.2f ms (%.0f%% sys); peak RSS %.1f MiB\n",
			s.MeanMs, s.P50Ms, s.P99Ms, s.CPUMsPerItem, 100*s.SysSeconds/max(s.CPUSeconds, 1e-9), s.PeakRSSMiB)
	}

	fmt.Fprintln(w, "\ntargets")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		verdict := "pass"
		if !t.Pass {
			verdict = "MISS"
		}
		fmt.Fprintf(tw, "  %s\t%.2f\t%s %g\t%s\n", t.Name, t.Value, t.Op, t.Threshold, verdict)
	}
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nERROR %s\n", e)
	}

	var line strings.Builder
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false) // keep ">=" readable for grep
	if err := enc.Encode(r); err != nil {
		fmt.Fprintf(&line, "{\"error\":%q}\n", err.Error())
	}
	fmt.Fprintf(w, "\nBENCH_JSON %s", line.String())
}
