package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

const (
	// progressMin is the smallest total that gets a bar: anything smaller is
	// done before a bar would tell anything.
	progressMin = 8 << 20
	// redrawEvery limits how often a bar is redrawn.
	redrawEvery = 100 * time.Millisecond
	// spinnerDelay is how long an operation of unknown length runs before a
	// spinner appears, so quick answers do not flash one.
	spinnerDelay = 500 * time.Millisecond
	barWidth     = 24
)

// asciiTheme draws "[=====>    ]": a bar that shows in any locale.
var asciiTheme = progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}

// progress shows how far one long operation has come on a terminal. A
// byte count with a known total (hashing, uploading, a job's progress)
// gets a bar with rate and time left, one line per phase; a wait of unknown
// length (the registry answers when done) gets a spinner with the elapsed
// time, which is cleared when the wait ends. A nil *progress draws nothing,
// so callers need not ask whether stderr is a terminal. Updates may come
// from the HTTP transport's goroutine, so it locks.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	phase string // of the bar being drawn; "" for none or a spinner
	pb    *progressbar.ProgressBar
	// The bar is redrawn at most every redrawEvery (drawn, at), but ends
	// showing the last count it was told (done).
	done, drawn int64
	at          time.Time
	delay       *time.Timer // a spinner that is not drawn yet
	waits       int         // counts wait calls, so a stale timer draws nothing
	ended       bool
	// spinAfter is spinnerDelay, shorter in tests.
	spinAfter time.Duration
}

// newProgress returns a progress for label (a file name, an operation).
func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, spinAfter: spinnerDelay}
}

// wait shows a spinner described by what after spinAfter, until update
// draws a bar or finish ends it.
func (p *progress) wait(what string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked()
	p.ended = false
	p.waits++
	this := p.waits
	p.delay = time.AfterFunc(p.spinAfter, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.ended || p.pb != nil || p.waits != this {
			return
		}
		p.pb = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionSpinnerType(9), // |/-\
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionClearOnFinish(),
			// Drawn here, before the library's redraw goroutine starts.
			progressbar.OptionSetRenderBlankState(true),
		)
	})
}

// update is a client.Progress: done of total bytes in phase. A new phase
// ends the previous bar's line and starts a new bar.
func (p *progress) update(phase string, done, total int64) {
	if p == nil || total < progressMin {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	if phase != p.phase {
		p.endLocked()
		p.ended = false
		p.phase, p.done, p.drawn, p.at = phase, 0, 0, time.Now()
		p.pb = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-9s %s ", phase, p.label)),
			progressbar.OptionSetTheme(asciiTheme),
			progressbar.OptionSetWidth(barWidth),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { io.WriteString(p.w, "\n") }),
		)
	}
	if total != p.pb.GetMax64() {
		p.pb.ChangeMax64(total) // a job learns its total as it goes
	}
	p.done = min(done, total)
	if p.done != p.drawn && (p.done == total || time.Since(p.at) >= redrawEvery) {
		p.redrawLocked()
	}
}

func (p *progress) redrawLocked() {
	_ = p.pb.Set64(p.done)
	p.drawn, p.at = p.done, time.Now()
}

// finish ends what is drawn: a bar's line is ended where it stands, a
// spinner is cleared. It may be called more than once.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked()
}

func (p *progress) endLocked() {
	p.ended = true
	if p.delay != nil {
		p.delay.Stop()
		p.delay = nil
	}
	if p.pb == nil {
		return
	}
	if p.phase == "" {
		_ = p.pb.Finish() // a spinner: clears its line, stops its redraws
	} else {
		if p.done != p.drawn {
			p.redrawLocked()
		}
		if !p.pb.IsFinished() {
			_ = p.pb.Exit() // keeps the bar where it stopped and ends the line
		}
	}
	p.pb, p.phase = nil, ""
}
