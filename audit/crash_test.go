package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashDirEnv names the log directory of the child process TestCrash
// starts; set, it makes TestCrashChild the child.
const crashDirEnv = "AUDIT_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestCrash, not a test of its own: it
// appends from four goroutines until killed and prints "seq hash" for
// every append acknowledged.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestCrash")
	}
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(2)
	}
	l, err := Open(context.Background(), dir, Options{MaxFileBytes: 4096, Logger: quiet})
	if err != nil {
		fail("open: %v", err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(20 * time.Second) // if the parent never kills
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				e := testEntry(w*1_000_000 + i)
				e.Detail = strings.Repeat("d", i%300) // lines of many lengths, rotations at many places
				got, err := l.Append(context.Background(), e)
				if err != nil {
					fail("append: %v", err)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %s\n", got.Seq, got.Hash)
				out.Flush() // one write per line: what the parent reads was acknowledged
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

// TestCrash kills a process appending to the log with SIGKILL at random
// moments, round after round on the same directory, sometimes adding
// the partial line a write cut short would leave. After each kill Open
// must succeed, Verify must pass, and every entry the child saw
// acknowledged must be in the log with the hash it was given.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[uint64]string{}
	const rounds = 10
	for round := range rounds {
		began := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // should the test stop before its kill
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			r := bufio.NewReader(stdout)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return // a line without its newline was not fully reported
				}
				lines <- line
			}
		}()
		// Kill at a random moment: in half the rounds possibly before the
		// child has opened the log, in the others after it has appended.
		wait := time.Duration(rng.IntN(150)) * time.Millisecond
		var got []string
		if round%2 == 1 {
			select {
			case line := <-lines:
				got = append(got, line)
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: the child acknowledged nothing in 10 s: %s", round, stderr.String())
			}
		}
		time.Sleep(wait)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for line := range lines {
			got = append(got, line)
		}
		n := 0
		for _, line := range got {
			var seq uint64
			var hash string
			if _, err := fmt.Sscanf(line, "%d %64s\n", &seq, &hash); err != nil || len(hash) != 64 {
				continue // not an acknowledgement: the test binary's own output
			}
			acked[seq] = hash
			n++
		}
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("round %d: the child ended on its own (%v): %s", round, err, stderr.String())
		}
		if round%3 == 2 {
			tearTail(t, dir, rng)
		}

		l, err := Open(context.Background(), dir, Options{Logger: quiet})
		if err != nil {
			t.Fatalf("round %d: Open after the kill: %v", round, err)
		}
		rep, err := Verify(context.Background(), dir, VerifyOptions{})
		if err != nil {
			t.Fatalf("round %d: Verify after the kill: %v", round, err)
		}
		have := map[uint64]string{}
		for from := uint64(1); ; {
			page, err := l.Read(context.Background(), from, MaxReadLimit)
			if err != nil {
				t.Fatalf("round %d: Read: %v", round, err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				have[e.Seq] = e.Hash
			}
			from = page[len(page)-1].Seq + 1
		}
		for seq, hash := range acked {
			if have[seq] != hash {
				t.Fatalf("round %d: acknowledged seq %d lost (log ends at %d)", round, seq, rep.Entries)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d (%v): killed %v after the start or the first acknowledgement; %d acknowledged; log holds %d entries in %d files",
			round, time.Since(began).Round(time.Millisecond), wait, n, rep.Entries, rep.Files)
	}
	if len(acked) == 0 {
		t.Fatal("no append was acknowledged in any round")
	}
}

// tearTail appends what a write cut short leaves: the start of the next
// entry's line, without its newline.
func tearTail(t *testing.T, dir string, rng *rand.Rand) {
	t.Helper()
	names := segmentNames(t, dir)
	last := names[len(names)-1]
	f, err := os.Open(filepath.Join(dir, last))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	tail, err := readTail(f, fi.Size())
	f.Close()
	if err != nil || tail.last == nil || tail.torn > 0 {
		return // the kill left a torn line itself, or the file is new
	}
	prev, err := parseLine(tail.last)
	if err != nil {
		t.Fatal(err)
	}
	next := Entry{Seq: prev.Seq + 1, Time: prev.Time, Who: "w", Action: ActionPush, Result: ResultOK, Prev: prev.Hash}
	line := appendEntry(nil, &next)
	f, err = os.OpenFile(filepath.Join(dir, last), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, string(line[:1+rng.IntN(len(line)-1)])); err != nil {
		t.Fatal(err)
	}
}
