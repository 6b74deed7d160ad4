package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseLine feeds parseLine, the reader of untrusted file bytes, with
// anything: it must never panic, never accept a line over the limit, and
// whatever it accepts must be exactly what the writer would write for that
// entry (one spelling per entry), an entry the writer would record as it
// is. Seeds are in testdata/fuzz/FuzzParseLine.
func FuzzParseLine(f *testing.F) {
	prev := ZeroHash
	for _, e := range []Entry{
		testEntry(0),
		{Who: WhoAnonymous, Action: ActionAuthFailure, Result: ResultRefused, Detail: "bad token"},
		{Who: "a\"b\\c", Action: "x.y-z_1", Result: ResultFailed, Name: "\x00\x1f\x7f é 模型 🦙 \u2028\ufffd"},
	} {
		e.Seq, e.Time, e.Prev = 1<<64-1, time.Date(2025, 2, 28, 23, 59, 59, 999999999, time.UTC), prev
		line := appendEntry(nil, &e)
		f.Add(line[:len(line)-1])
		prev = e.Hash
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseLine(line)
		ok := checkHash(line, &e) // must not panic on any input
		if err != nil {
			if e != (Entry{}) {
				t.Fatalf("error %v with a non-zero entry", err)
			}
			return
		}
		if len(line) >= MaxLineBytes {
			t.Fatalf("accepted a line of %d bytes", len(line))
		}
		hash := e.Hash
		again := appendEntry(nil, &e)
		if !bytes.Equal(again[:len(again)-1-hashSuffixLen], line[:len(line)-hashSuffixLen]) {
			t.Fatalf("accepted a line the writer spells otherwise:\n got %q\nwant %q", line, again)
		}
		if ok != (hash == e.Hash) {
			t.Fatalf("checkHash says %v, the writer's hash is %s, the line's %s", ok, e.Hash, hash)
		}
		n, err := normalize(e)
		if err != nil {
			t.Fatalf("accepted an entry Append refuses: %v", err)
		}
		e.Seq, e.Time, e.Prev, e.Hash = 0, time.Time{}, "", ""
		if n != e {
			t.Fatalf("accepted an entry Append would change:\n%+v\n%+v", e, n)
		}
	})
}

// TestParseLineSeeds reads the seed corpus as a table: seeds named
// valid_* are accepted with a matching hash, stale_hash_* are accepted
// but fail the hash check, and every other seed is refused.
func TestParseLineSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseLine")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 20 {
		t.Fatalf("%d seeds", len(ents))
	}
	for _, de := range ents {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		quoted, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte(")
		quoted, ok2 := strings.CutSuffix(quoted, ")\n")
		line, err := strconv.Unquote(quoted)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s: not a []byte seed: %v", de.Name(), err)
		}
		e, err := parseLine([]byte(line))
		switch name := de.Name(); {
		case strings.HasPrefix(name, "valid_"):
			if err != nil || !checkHash([]byte(line), &e) {
				t.Errorf("%s: %v, hash ok %v", name, err, err == nil && checkHash([]byte(line), &e))
			}
		case strings.HasPrefix(name, "stale_hash_"):
			if err != nil || checkHash([]byte(line), &e) {
				t.Errorf("%s: %v, hash ok %v", name, err, err == nil && checkHash([]byte(line), &e))
			}
		case err == nil:
			t.Errorf("%s: accepted", name)
		}
	}
}
