package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

const (
	// progressMin is the smallest file that gets a progress bar.
	progressMin = 8 << 20
	// redrawEvery limits how often the bar is redrawn.
	redrawEvery = 100 * time.Millisecond
	barWidth    = 24
)

// bar is a one-line progress bar redrawn in place with "\r": phase, file,
// bytes done of total, and the average rate. A new phase starts a new line.
// Updates may come from the HTTP transport's goroutine, so it locks.
type bar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	now   func() time.Time
	phase string
	start time.Time
	last  time.Time
	shown int64 // bytes done at the last redraw; -1 before the first
	width int   // of the last line drawn, to blank what a shorter one leaves
}

func newBar(w io.Writer, label string) *bar {
	return &bar{w: w, label: label, now: time.Now}
}

func (b *bar) update(phase string, done, total int64) {
	if total < progressMin {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if phase != b.phase {
		if b.phase != "" {
			io.WriteString(b.w, "\n")
		}
		b.phase, b.start, b.last, b.shown, b.width = phase, now, time.Time{}, -1, 0
	}
	if done == b.shown || (done < total && now.Sub(b.last) < redrawEvery) {
		return
	}
	b.last, b.shown = now, done
	frac := min(float64(done)/float64(total), 1)
	fill := int(frac * barWidth)
	line := fmt.Sprintf("%-9s %s [%s%s] %3d%% %s / %s", phase, b.label,
		strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), int(frac*100), humanBytes(done), humanBytes(total))
	if secs := now.Sub(b.start).Seconds(); secs > 0.05 {
		line += fmt.Sprintf("  %.1f MB/s", float64(done)/secs/1e6)
	}
	pad := max(b.width-len(line), 0)
	fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
	b.width = len(line)
}

// finish ends the bar's line, if one was drawn. A nil bar does nothing.
func (b *bar) finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.phase != "" {
		io.WriteString(b.w, "\n")
		b.phase = ""
	}
}
