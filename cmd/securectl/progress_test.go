package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/client"
)

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "model.gguf")
	total := int64(100e6)
	p.update("hashing", 0, total)    // drawn at once
	p.update("hashing", 10e6, total) // too soon after: not drawn
	time.Sleep(redrawEvery + 20*time.Millisecond)
	p.update("hashing", 50e6, total)
	p.update("hashing", total, total) // the end is always drawn, and ends the line
	p.update("hashing", total, total) // the end is reported twice (last bytes, then EOF): drawn once
	p.update("uploading", total/4, total)
	p.finish()
	p.finish()
	got := out.String()
	for _, w := range []string{
		"hashing   model.gguf    0% [                        ] ( 0 B/100 MB)",
		"hashing   model.gguf   50% [===========>            ] (50/100 MB",
		"hashing   model.gguf  100% [========================] (100/100 MB",
		"uploading model.gguf   25% [=====>                  ] (25/100 MB",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("bar output lacks %q:\n%q", w, got)
		}
	}
	if strings.Contains(got, " 10% ") || strings.Count(got, "100%") != 1 {
		t.Errorf("redraws not limited: %q", got)
	}
	// Each phase's line is ended once: the first when full, the second
	// where it stopped.
	if !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("lines not ended once each: %q", got)
	}

	out.Reset()
	small := newProgress(&out, "tiny")
	small.update("hashing", 10, 100)
	small.finish()
	if out.Len() != 0 {
		t.Errorf("a small file drew a bar: %q", out.String())
	}
	var none *progress // no terminal: every method is a no-op
	none.wait("x")
	none.update("hashing", 0, total)
	none.finish()
}

func TestProgressSpinner(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "")
	p.spinAfter = 10 * time.Millisecond
	p.wait("verifying every model")
	time.Sleep(250 * time.Millisecond) // drawn, and redrawn by the library
	p.finish()
	got := out.String()
	if !strings.Contains(got, "verifying every model") || !strings.Contains(got, "[0s]") {
		t.Fatalf("no spinner: %q", got)
	}
	if !strings.HasSuffix(got, strings.Repeat(" ", 20)+"\r") || strings.Contains(got, "\n") {
		t.Fatalf("the spinner's line is not cleared: %q", got)
	}
	time.Sleep(150 * time.Millisecond)
	if out.String() != got {
		t.Fatalf("drawn after finish: %q", out.String()[len(got):])
	}

	// A quick answer shows nothing.
	out.Reset()
	q := newProgress(&out, "")
	q.wait("exporting")
	q.finish()
	time.Sleep(20 * time.Millisecond)
	if out.Len() != 0 {
		t.Fatalf("a quick wait drew: %q", out.String())
	}

	// A job that learns its size: the spinner gives way to a bar.
	out.Reset()
	j := newProgress(&out, "integrity check")
	j.spinAfter = time.Millisecond
	j.wait("integrity check running")
	time.Sleep(50 * time.Millisecond)
	j.update("hashing", 0, 100e6)
	j.update("hashing", 100e6, 100e6)
	j.finish()
	got = out.String()
	spin, bar := strings.Index(got, "integrity check running"), strings.Index(got, "hashing   integrity check")
	if spin < 0 || bar < spin || !strings.HasSuffix(got, "\n") {
		t.Fatalf("spinner then bar: %q", got)
	}
}

// TestProgressOnlyOnTerminal: bars go to stderr when it is a terminal,
// never with --json.
func TestProgressOnlyOnTerminal(t *testing.T) {
	reg := newRegistry(t)
	c, err := client.New(reg.url, reg.tokenPath, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		tty     bool
		args    []string
		wantBar bool
	}{
		{tty: true, wantBar: true},
		{tty: true, args: []string{"--json"}},
		{tty: false},
	} {
		file, _ := ggufFile(t, t.TempDir(), "big.gguf", progressMin+1+i)
		var out, errb bytes.Buffer
		cl := &cli{c: c, stdout: &out, stderr: &errb, tty: tc.tty}
		if err := cl.exec(context.Background(), lookup("acquire"), append([]string{fmt.Sprint("Big ", i), file}, tc.args...)); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		drew := strings.Contains(errb.String(), "hashing   big.gguf") && strings.Contains(errb.String(), "uploading big.gguf  100% [")
		if drew != tc.wantBar || !tc.wantBar && errb.Len() != 0 {
			t.Errorf("case %d (tty %v, %q): stderr %q", i, tc.tty, tc.args, errb.String())
		}
	}
}
