package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// logFiles is a log directory in memory: file name -> lines (without
// newlines), for tests that damage a log as an intruder would.
type logFiles map[string][][]byte

func readLogFiles(t *testing.T, dir string) logFiles {
	t.Helper()
	files := logFiles{}
	for _, name := range segmentNames(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	}
	return files
}

func (fs logFiles) write(t *testing.T, dir string) {
	t.Helper()
	for name, lines := range fs {
		var data []byte
		for _, l := range lines {
			data = append(append(data, l...), '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// where finds the file and 1-based line holding seq.
func (fs logFiles) where(seq uint64) (string, int) {
	for name, lines := range fs {
		for i, l := range lines {
			if lineSeq(l) == seq {
				return name, i + 1
			}
		}
	}
	return "", 0
}

// entryAt parses the line holding seq.
func (fs logFiles) entryAt(t *testing.T, seq uint64) Entry {
	name, line := fs.where(seq)
	e, err := parseLine(fs[name][line-1])
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// edit replaces the line holding seq by what f makes of it.
func (fs logFiles) edit(seq uint64, f func([]byte) []byte) {
	name, line := fs.where(seq)
	fs[name][line-1] = f(bytes.Clone(fs[name][line-1]))
}

// insert puts line before the line holding seq.
func (fs logFiles) insert(seq uint64, line []byte) {
	name, at := fs.where(seq)
	fs[name] = append(fs[name][:at-1], append([][]byte{line}, fs[name][at-1:]...)...)
}

func (fs logFiles) remove(seq uint64) {
	name, at := fs.where(seq)
	fs[name] = append(fs[name][:at-1], fs[name][at:]...)
}

func rehash(t *testing.T, line []byte) []byte {
	e, err := parseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(appendEntry(nil, &e), []byte("\n"))
}

// TestVerifyTamper damages a 40-entry log of four files in every way an
// intruder or a broken disk could, and checks that Verify reports the
// first broken place: the file and line where the chain breaks and the
// first seq it cannot vouch for.
func TestVerifyTamper(t *testing.T) {
	pristine := t.TempDir()
	l := openLog(t, pristine, Options{MaxFileBytes: 4500})
	appendN(t, l, 40)
	l.Close()
	base := readLogFiles(t, pristine)
	names := segmentNames(t, pristine)
	if len(names) != 4 || len(base[names[0]]) != 10 {
		t.Fatalf("layout %v, first file %d lines: want four files of ten entries", names, len(base[names[0]]))
	}
	f1, f2, f3, f4 := names[0], names[1], names[2], names[3]

	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, dir string, fs logFiles)
		file     string
		line     int
		seq      uint64
		reasonIs string // a phrase the reason must hold
	}{
		{"edited field", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func(b []byte) []byte { return bytes.Replace(b, []byte("scans passed"), []byte("scans failed"), 1) })
		}, f1, 7, 7, "altered"},
		{"edited field, hash recomputed", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func(b []byte) []byte {
				return rehash(t, bytes.Replace(b, []byte(`"result":"ok"`), []byte(`"result":"refused"`), 1))
			})
		}, f1, 8, 8, "prev is not the hash"},
		{"edited seq", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func(b []byte) []byte { return bytes.Replace(b, []byte(`{"seq":7,`), []byte(`{"seq":8,`), 1) })
		}, f1, 7, 7, "altered"},
		{"edited hash", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func(b []byte) []byte {
				b[len(b)-3] = map[bool]byte{true: '1', false: '0'}[b[len(b)-3] == '0']
				return b
			})
		}, f1, 7, 7, "altered"},
		{"edited into invalid JSON", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func(b []byte) []byte { return b[:len(b)-1] })
		}, f1, 7, 7, "want }"},
		{"carriage return", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func(b []byte) []byte { return append(b, '\r') })
		}, f1, 7, 7, "after the closing brace"},
		{"over-long line", func(t *testing.T, dir string, fs logFiles) {
			fs.edit(7, func([]byte) []byte { return bytes.Repeat([]byte("x"), MaxLineBytes+10) })
		}, f1, 7, 7, "longer than"},
		{"deleted line", func(t *testing.T, dir string, fs logFiles) { fs.remove(7) }, f1, 7, 7, "holds seq 8 where seq 7 belongs"},
		{"deleted first line of a file", func(t *testing.T, dir string, fs logFiles) { fs.remove(11) }, f2, 1, 11, "holds seq 12"},
		{"deleted last line of a file", func(t *testing.T, dir string, fs logFiles) { fs.remove(10) }, f2, 1, 10, "entries 10 to 10 are missing"},
		{"deleted first entry", func(t *testing.T, dir string, fs logFiles) { fs.remove(1) }, f1, 1, 1, "holds seq 2"},
		{"reordered lines", func(t *testing.T, dir string, fs logFiles) {
			name, at := fs.where(7)
			fs[name][at-1], fs[name][at] = fs[name][at], fs[name][at-1]
		}, f1, 7, 7, "holds seq 8 where seq 7 belongs"},
		{"line moved to the end of its file", func(t *testing.T, dir string, fs logFiles) {
			name, at := fs.where(3)
			line := fs[name][at-1]
			fs.remove(3)
			fs[name] = append(fs[name], line)
		}, f1, 3, 3, "holds seq 4"},
		{"inserted copy", func(t *testing.T, dir string, fs logFiles) { fs.insert(8, fs[f1][2]) }, f1, 8, 8, "holds seq 3 where seq 8 belongs"},
		{"inserted blank line", func(t *testing.T, dir string, fs logFiles) { fs.insert(8, nil) }, f1, 8, 8, "want {"},
		{"inserted forged entry", func(t *testing.T, dir string, fs logFiles) {
			// A well-formed entry 8, linked to 7: only the real 8 after it shows.
			prev := fs.entryAt(t, 7)
			forged := Entry{Seq: 8, Time: prev.Time, Who: "intruder", Action: ActionDelete, Result: ResultOK, Prev: prev.Hash}
			fs.insert(8, bytes.TrimSuffix(appendEntry(nil, &forged), []byte("\n")))
		}, f1, 9, 9, "holds seq 8 where seq 9 belongs"},
		{"inserted before the first entry", func(t *testing.T, dir string, fs logFiles) { fs.insert(1, fs[f1][1]) }, f1, 1, 1, "holds seq 2 where seq 1 belongs"},
		{"garbage appended", func(t *testing.T, dir string, fs logFiles) { fs[f4] = append(fs[f4], []byte(`{"seq":41}`)) }, f4, 11, 41, "want ,\"time\""},
		{"middle file cut on a line", func(t *testing.T, dir string, fs logFiles) { fs[f2] = fs[f2][:5] }, f3, 1, 16, "entries 16 to 20 are missing"},
		{"middle file cut mid-line", func(t *testing.T, dir string, fs logFiles) {
			fs.write(t, dir)
			path := filepath.Join(dir, f2)
			os.Truncate(path, fileSize(t, path)-100)
			delete(fs, f2)
		}, f2, 10, 20, "incomplete line"},
		{"middle file removed", func(t *testing.T, dir string, fs logFiles) {
			os.Remove(filepath.Join(dir, f2))
			delete(fs, f2)
		}, f3, 1, 11, "entries 11 to 20 are missing"},
		{"first file removed", func(t *testing.T, dir string, fs logFiles) {
			os.Remove(filepath.Join(dir, f1))
			delete(fs, f1)
		}, f2, 1, 1, "files holding entries 1 to 10 are missing"},
		{"middle file emptied", func(t *testing.T, dir string, fs logFiles) { fs[f2] = nil }, f2, 1, 11, "is empty"},
		{"file renamed", func(t *testing.T, dir string, fs logFiles) {
			os.Remove(filepath.Join(dir, f3))
			fs[segmentName(22)] = fs[f3]
			delete(fs, f3)
		}, segmentName(22), 1, 21, "entries 21 to 21 are missing"},
		{"file copied to the end", func(t *testing.T, dir string, fs logFiles) { fs[segmentName(41)] = fs[f2] }, segmentName(41), 1, 41, "holds seq 11 where seq 41 belongs"},
		{"files overlap", func(t *testing.T, dir string, fs logFiles) { fs[f3] = append([][]byte{fs[f2][9]}, fs[f3]...) }, f3, 1, 21, "holds seq 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := logFiles{}
			for name, lines := range base {
				fs[name] = append([][]byte(nil), lines...)
			}
			fs.write(t, dir)
			tc.damage(t, dir, fs)
			fs.write(t, dir)
			_, err := Verify(context.Background(), dir, VerifyOptions{})
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Verify: %v, want a *CorruptError", err)
			}
			if ce.File != tc.file || ce.Line != tc.line || ce.Seq != tc.seq {
				t.Fatalf("reported %s line %d seq %d, want %s line %d seq %d\n%v", ce.File, ce.Line, ce.Seq, tc.file, tc.line, tc.seq, err)
			}
			if !bytes.Contains([]byte(ce.Reason), []byte(tc.reasonIs)) {
				t.Fatalf("reason %q does not say %q", ce.Reason, tc.reasonIs)
			}
			t.Log(err)
		})
	}
}

func TestVerifyIntact(t *testing.T) {
	dir := t.TempDir()
	if rep := mustVerify(t, dir); rep != (Report{Head: ZeroHash}) {
		t.Fatalf("empty directory: %+v", rep)
	}
	l := openLog(t, dir, Options{MaxFileBytes: 1000})
	defer l.Close()
	if rep := mustVerify(t, dir); rep.Entries != 0 || rep.Files != 1 {
		t.Fatalf("new log: %+v", rep)
	}
	es := appendN(t, l, 12)
	// Verify runs beside an open Log.
	if rep := mustVerify(t, dir); rep.Entries != 12 || rep.Head != es[11].Hash || rep.Files != 12/2 {
		t.Fatalf("Verify = %+v", rep)
	}
	// Files that are not the log's are not read.
	appendBytes(t, dir, "notes.txt", []byte("operator notes\n"))
	appendBytes(t, dir, "audit-1.jsonl", []byte("x\n"))
	mustVerify(t, dir)

	if _, err := Verify(context.Background(), filepath.Join(dir, "missing"), VerifyOptions{}); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing directory: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, dir, VerifyOptions{}); err != nil {
		t.Logf("cancelled: %v", err) // short logs may finish before the check
	}
}
