package audit

import (
	"context"
	"testing"
)

// BenchmarkAppend is one caller appending: every entry pays its own
// fdatasync, so this is the disk's sync rate.
func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), Options{})
	defer l.Close()
	e := testEntry(0)
	for b.Loop() {
		if _, err := l.Append(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, l)
}

// BenchmarkAppendParallel is many callers appending at once (16 per
// GOMAXPROCS), as the registry's handlers do: group commit shares each
// write and fdatasync among the appends waiting for it.
func BenchmarkAppendParallel(b *testing.B) {
	l := openLog(b, b.TempDir(), Options{})
	defer l.Close()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		e := testEntry(0)
		for pb.Next() {
			if _, err := l.Append(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, l)
}

func reportRate(b *testing.B, l *Log) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	if n := l.syncs.Load(); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "appends/fsync")
	}
}
