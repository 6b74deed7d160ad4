package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// appendBytes appends data to dir/name as a crash or an intruder would.
func appendBytes(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestTornTail: whatever prefix of a line a crash leaves at the end of
// the newest file, Open cuts it off, logs it, and the chain goes on from
// the last whole entry; also when the torn line is alone in a file just
// started by rotation, and when rotation left an empty file.
func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rotate bool // the torn write is the first line of a new file
		cut    func(line []byte) []byte
	}{
		{"one byte", false, func(l []byte) []byte { return l[:1] }},
		{"half a line", false, func(l []byte) []byte { return l[:len(l)/2] }},
		{"all but the newline", false, func(l []byte) []byte { return l[:len(l)-1] }},
		{"whole line and half of the next", false, func(l []byte) []byte { return append(append([]byte(nil), l...), l[:40]...) }},
		{"zeros", false, func(l []byte) []byte { return make([]byte, 300) }},
		{"first line of a new file", true, func(l []byte) []byte { return l[:len(l)-7] }},
		{"empty new file", true, func(l []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			written := appendN(t, l, 5)
			l.Close()
			last := written[4]
			// The line the crash interrupted: entry 6, as Append would write it.
			next := Entry{Seq: 6, Time: last.Time, Who: "w", Action: ActionDelete, Result: ResultOK, Prev: last.Hash}
			line := appendEntry(nil, &next)
			file := segmentName(1)
			if tc.rotate {
				file = segmentName(6)
			}
			sizeBefore := fileSize(t, filepath.Join(dir, segmentName(1)))
			appendBytes(t, dir, file, tc.cut(line))
			wholeLines := map[bool]int{false: 5, true: 0}[tc.rotate]
			if strings.Contains(tc.name, "whole line") {
				wholeLines = 6
			}

			var logged bytes.Buffer
			l = openLog(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			torn := len(tc.cut(line)) > 0
			if torn != strings.Contains(logged.String(), "incomplete final line") {
				t.Fatalf("log output %q (torn %v)", logged.String(), torn)
			}
			seq, hash := l.Head()
			wantSeq := uint64(5)
			if wholeLines == 6 {
				wantSeq, last = 6, next // a whole line is kept: it was written, if never acknowledged
			}
			if seq != wantSeq || hash != last.Hash {
				t.Fatalf("head %d %s, want %d %s", seq, hash, wantSeq, last.Hash)
			}
			if !tc.rotate && wholeLines == 5 {
				if got := fileSize(t, filepath.Join(dir, file)); got != sizeBefore {
					t.Fatalf("%s: %d bytes after recovery, want %d", file, got, sizeBefore)
				}
			}
			e, err := l.Append(context.Background(), testEntry(9))
			if err != nil || e.Seq != wantSeq+1 || e.Prev != last.Hash {
				t.Fatalf("append after recovery: seq %d prev %s: %v", e.Seq, e.Prev, err)
			}
			l.Close()
			rep := mustVerify(t, dir)
			if rep.Entries != wantSeq+1 || rep.TornBytes != 0 {
				t.Fatalf("Verify = %+v", rep)
			}
		})
	}
}

// TestVerifyTornTail: before Open repairs it, a torn final line is
// reported, not treated as damage: a writer may be in the middle of it.
func TestVerifyTornTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendN(t, l, 3)
	l.Close()
	appendBytes(t, dir, segmentName(1), []byte(`{"seq":4,"ti`))
	rep := mustVerify(t, dir)
	if rep.Entries != 3 || rep.TornBytes != 12 {
		t.Fatalf("Verify = %+v", rep)
	}
}

// TestOpenRefuses: a tail this package did not leave stops Open with
// ErrCorrupt, and the files are left as they are, as evidence.
func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"last entry edited", func(t *testing.T, dir string) {
			path := filepath.Join(dir, segmentName(1))
			data, _ := os.ReadFile(path)
			data = bytes.Replace(data, []byte(`"name":"model-2"`), []byte(`"name":"model-X"`), 1)
			os.WriteFile(path, data, 0o600)
		}},
		{"last entry edited, then a torn line", func(t *testing.T, dir string) {
			path := filepath.Join(dir, segmentName(1))
			data, _ := os.ReadFile(path)
			data = bytes.Replace(data, []byte(`"name":"model-2"`), []byte(`"name":"model-X"`), 1)
			os.WriteFile(path, append(data, `{"seq":4,"time"`...), 0o600)
		}},
		{"checkpoint past the end, with torn lines", func(t *testing.T, dir string) {
			c := Checkpoint{Count: 4, Head: ZeroHash, KeyID: "k", Signature: []byte("s")}
			appendBytes(t, dir, checkpointFile, append(c.appendLine(nil), `{"type":`...))
			appendBytes(t, dir, segmentName(1), []byte(`{"seq":4,"time"`))
		}},
		{"checkpoint without a log", func(t *testing.T, dir string) {
			c := Checkpoint{Count: 3, Head: ZeroHash, KeyID: "k", Signature: []byte("s")}
			appendBytes(t, dir, checkpointFile, c.appendLine(nil))
			os.Remove(filepath.Join(dir, segmentName(1)))
		}},
		{"garbage line at the end", func(t *testing.T, dir string) {
			appendBytes(t, dir, segmentName(1), []byte("{\"seq\":4}\n"))
		}},
		{"no newline in the last 32 KiB", func(t *testing.T, dir string) {
			appendBytes(t, dir, segmentName(1), bytes.Repeat([]byte("x"), 2*MaxLineBytes))
		}},
		{"newest file named for the wrong seq", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, segmentName(1)), filepath.Join(dir, segmentName(2)))
		}},
		{"newest file empty after a gap", func(t *testing.T, dir string) {
			appendBytes(t, dir, segmentName(9), nil)
		}},
		{"older file ends in a torn line", func(t *testing.T, dir string) {
			appendBytes(t, dir, segmentName(1), []byte(`{"seq":4`))
			appendBytes(t, dir, segmentName(4), nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			appendN(t, l, 3)
			l.Close()
			tc.damage(t, dir)
			before := snapshot(t, dir)
			_, err := Open(context.Background(), dir, Options{Logger: quiet})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("error names the absolute path: %v", err)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatal("Open changed a log it refused")
			}
			if _, err := Verify(context.Background(), dir, VerifyOptions{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Verify: %v, want ErrCorrupt", err)
			}
		})
	}
}

// snapshot is every file of dir, names and contents, as one string.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, de := range ents {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(de.Name() + "\n" + string(data) + "\x00")
	}
	return b.String()
}
