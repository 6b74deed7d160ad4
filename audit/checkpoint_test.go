package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// signWith signs checkpoints with key (any signature when key is nil).
func signWith(key ed25519.PrivateKey) func(context.Context, []byte) ([]byte, error) {
	return func(_ context.Context, msg []byte) ([]byte, error) {
		if key == nil {
			return []byte("sig"), nil
		}
		return ed25519.Sign(key, msg), nil
	}
}

func checkWith(pub ed25519.PublicKey) VerifyOptions {
	return VerifyOptions{CheckSignature: func(c Checkpoint) error {
		if c.KeyID != "audit-key-1" || !ed25519.Verify(pub, c.Message(), c.Signature) {
			return errors.New("bad signature")
		}
		return nil
	}}
}

func TestCheckpoint(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 4500})
	if _, err := l.Checkpoint(ctx, signWith(key), "audit-key-1"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("checkpoint of an empty log: %v, want ErrInvalid", err)
	}
	if _, err := l.Checkpoint(ctx, signWith(key), ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty key id: %v, want ErrInvalid", err)
	}
	es := appendN(t, l, 15)
	c1, err := l.Checkpoint(ctx, signWith(key), "audit-key-1")
	if err != nil {
		t.Fatal(err)
	}
	if c1.Count != 15 || c1.Head != es[14].Hash || !ed25519.Verify(pub, c1.Message(), c1.Signature) {
		t.Fatalf("checkpoint %+v", c1)
	}
	if !bytes.HasPrefix(c1.Message(), []byte(`{"type":"audit-checkpoint/v1","count":15,"head":"`+es[14].Hash+`"`)) {
		t.Fatalf("message %s", c1.Message())
	}
	es = append(es, appendN(t, l, 10)...)
	if _, err := l.Checkpoint(ctx, signWith(key), "audit-key-1"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep, err := Verify(ctx, dir, checkWith(pub))
	if err != nil || rep.Checkpoints != 2 || rep.Entries != 25 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := parseCheckpoint(bytes.SplitN(data, []byte("\n"), 2)[0]); err != nil || !bytes.Equal(back.Message(), c1.Message()) || !bytes.Equal(back.Signature, c1.Signature) {
		t.Fatalf("checkpoint reads back as %+v, %v", back, err)
	}

	// The tail cut off, down to before the last checkpoint: Open refuses
	// and Verify says which checkpoint counts the missing entries.
	cut := copyDir(t, dir)
	if err := os.Remove(filepath.Join(cut, segmentName(21))); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cut, Options{Logger: quiet}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open after the tail was cut: %v, want ErrCorrupt", err)
	}
	expectCorrupt(t, cut, checkWith(pub), checkpointFile, 2, 21)
	// Without the checkpoints, such a cut cannot be seen.
	os.Remove(filepath.Join(cut, checkpointFile))
	mustVerify(t, cut)

	// The whole chain after entry 9 rewritten and rehashed: every link
	// holds, but the checkpoints do not.
	forged := copyDir(t, dir)
	fs := readLogFiles(t, forged)
	prev := fs.entryAt(t, 9).Hash
	for seq := uint64(10); seq <= 25; seq++ {
		fs.edit(seq, func(b []byte) []byte {
			e, _ := parseLine(b)
			e.Detail, e.Prev = "rewritten", prev
			b = bytes.TrimSuffix(appendEntry(nil, &e), []byte("\n"))
			prev = e.Hash
			return b
		})
	}
	fs.write(t, forged)
	expectCorrupt(t, forged, checkWith(pub), checkpointFile, 1, 15)

	// A checkpoint whose signature was replaced.
	badSig := copyDir(t, dir)
	lines := bytes.SplitAfter(data, []byte("\n"))
	c2, _ := parseCheckpoint(bytes.TrimSuffix(lines[1], []byte("\n")))
	c2.Signature = ed25519.Sign(key, []byte("something else"))
	if err := os.WriteFile(filepath.Join(badSig, checkpointFile), append(lines[0], c2.appendLine(nil)...), 0o600); err != nil {
		t.Fatal(err)
	}
	expectCorrupt(t, badSig, checkWith(pub), checkpointFile, 2, 25)
	if _, err := Verify(ctx, badSig, VerifyOptions{}); err != nil {
		t.Fatalf("without a signature check: %v", err)
	}

	// A torn checkpoint line, a crash mid-write, is cut off by Open.
	torn := copyDir(t, dir)
	appendBytes(t, torn, checkpointFile, []byte(`{"type":"audit-checkpoint/v1","count":2`))
	if _, err := Verify(ctx, torn, checkWith(pub)); err != nil {
		t.Fatalf("Verify with a torn checkpoint: %v", err)
	}
	l = openLog(t, torn, Options{})
	l.Close()
	if got, _ := os.ReadFile(filepath.Join(torn, checkpointFile)); !bytes.Equal(got, data) {
		t.Fatal("the torn checkpoint line was not cut off")
	}
}

func TestParseCheckpoint(t *testing.T) {
	c := Checkpoint{Count: 3, Head: ZeroHash, KeyID: "k", Signature: []byte{1, 2, 3}}
	good := bytes.TrimSuffix(c.appendLine(nil), []byte("\n"))
	if _, err := parseCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	sig := func(s string) string {
		return string(bytes.Replace(good, []byte(`"signature":"AQID"`), []byte(`"signature":`+s), 1))
	}
	for _, bad := range []string{
		"",
		string(good) + " ",
		string(bytes.Replace(good, []byte(`"count":3`), []byte(`"count":0`), 1)),
		string(bytes.Replace(good, []byte(`"count":3`), []byte(`"count":03`), 1)),
		string(bytes.Replace(good, []byte(`"key_id":"k"`), []byte(`"key_id":""`), 1)),
		sig(`""`),
		sig(`"AR=="`), // padding bits set: not the one spelling
		sig(`"AQ@D"`),
		sig(`"AQID`),
		sig(`"` + strings.Repeat("AAAA", MaxSignature/3+1) + `"`),
	} {
		if _, err := parseCheckpoint([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func expectCorrupt(t *testing.T, dir string, opts VerifyOptions, file string, line int, seq uint64) {
	t.Helper()
	_, err := Verify(context.Background(), dir, opts)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != file || ce.Line != line || ce.Seq != seq {
		t.Fatalf("Verify: %v; want %s line %d seq %d", err, file, line, seq)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}
