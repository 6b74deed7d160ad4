package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func verifyWith(t *testing.T, bundle []byte, keys KeySet) (*Verified, error) {
	t.Helper()
	return VerifyBundle(context.Background(), bundle, keys, testSubject, PredicateVSA)
}

func TestOpenKeyring(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ring")
	r, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	cur := r.Current()
	sum := sha256.Sum256(cur.PublicKey().der)
	pub := filepath.Join(dir, hex.EncodeToString(sum[:])+".pub")
	for path, mode := range map[string]os.FileMode{
		dir:                             0o700,
		filepath.Join(dir, KeyFileName): 0o600,
		pub:                             0o644,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", path, st.Mode().Perm(), mode)
		}
	}
	if data, err := os.ReadFile(pub); err != nil || string(data) != string(cur.PublicKeyPEM()) {
		t.Errorf("%s holds %q, %v", pub, data, err)
	}

	again, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Current().ID() != cur.ID() || len(again.PublicKeys()) != 1 {
		t.Errorf("reopened ring: current %s, %d keys", again.Current().ID(), len(again.PublicKeys()))
	}
	if again.Lookup(cur.ID()) == nil || again.Lookup("nope") != nil {
		t.Error("Lookup")
	}
}

func TestKeyringRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ring")
	r, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := r.Current()
	st := mustStatement(t, testPromotion())
	oldBundle := mustSign(t, old, st)

	k, err := r.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if k == old || r.Current() != k {
		t.Fatal("Rotate did not make a new key current")
	}
	newBundle := mustSign(t, r.Current(), st)

	reopened, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.Current().ID() != k.ID() {
		t.Errorf("reopened current = %s, want the rotated key %s", reopened.Current().ID(), k.ID())
	}
	for _, ring := range []*Keyring{r, reopened} {
		keys := ring.PublicKeys()
		if len(keys) != 2 || keys[0].ID() != k.ID() {
			t.Fatalf("keys after rotation = %v, want the new key first, then the old", keys)
		}
		for name, b := range map[string][]byte{"old": oldBundle, "new": newBundle} {
			v, err := verifyWith(t, b, ring)
			if err != nil {
				t.Fatalf("%s bundle after rotation: %v", name, err)
			}
			if want := map[string]string{"old": old.ID(), "new": k.ID()}[name]; v.KeyID != want {
				t.Errorf("%s bundle verified by %s, want %s", name, v.KeyID, want)
			}
		}
		parsed, err := ParsePublicKeysPEM(ring.PublicKeysPEM())
		if err != nil {
			t.Fatal(err)
		}
		if len(parsed) != 2 || parsed[0].ID() != k.ID() || parsed[1].ID() != old.ID() {
			t.Errorf("PublicKeysPEM = %v", parsed)
		}
	}

	// Deleting the old key's .pub file revokes it at the next open.
	if err := os.Remove(filepath.Join(dir, old.PublicKey().fileName())); err != nil {
		t.Fatal(err)
	}
	revoked, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyWith(t, oldBundle, revoked); !errors.Is(err, ErrUntrusted) {
		t.Errorf("old bundle after its key was removed: %v, want ErrUntrusted", err)
	}
	if _, err := verifyWith(t, newBundle, revoked); err != nil {
		t.Errorf("new bundle: %v", err)
	}
}

func TestKeyringOperatorKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ring")
	if _, err := OpenKeyring(dir); err != nil {
		t.Fatal(err)
	}
	pipeline, other := mustKey(t), mustEd25519Key(t)
	file := filepath.Join(dir, "pipelines.pub")
	if err := os.WriteFile(file, append(pipeline.PublicKeyPEM(), other.PublicKeyPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.PublicKeys()) != 3 {
		t.Errorf("%d keys, want the ring's own and both of pipelines.pub", len(r.PublicKeys()))
	}
	if _, err := verifyWith(t, mustSign(t, other, mustStatement(t, testPromotion())), r); err != nil {
		t.Errorf("bundle by an operator-added key: %v", err)
	}

	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err = OpenKeyring(dir)
	if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "chmod go-w") {
		t.Errorf("OpenKeyring with a world-writable .pub = %v", err)
	}

	if err := os.WriteFile(file, []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenKeyring(dir)
	if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), file) {
		t.Errorf("OpenKeyring with a corrupt .pub = %v", err)
	}
}

func TestNewKeyringRotate(t *testing.T) {
	older := mustKey(t)
	r := NewKeyring(mustKey(t), older.PublicKey(), older.PublicKey())
	if n := len(r.PublicKeys()); n != 2 {
		t.Fatalf("%d keys, want 2 (duplicates dropped)", n)
	}
	first := r.Current()
	b := mustSign(t, first, mustStatement(t, testPromotion()))
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.PublicKeys()); n != 3 {
		t.Errorf("%d keys after rotation, want 3", n)
	}
	if v, err := verifyWith(t, b, r); err != nil || v.KeyID != first.ID() {
		t.Errorf("bundle from before the rotation: %v", err)
	}
}

// TestKeyringConcurrent is for the race detector: signing and verifying
// while another goroutine rotates.
func TestKeyringConcurrent(t *testing.T) {
	r, err := OpenKeyring(filepath.Join(t.TempDir(), "ring"))
	if err != nil {
		t.Fatal(err)
	}
	st := mustStatement(t, testPromotion())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				b, err := SignBundle(context.Background(), st, r.Current())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := verifyWith(t, b, r); err != nil {
					t.Error(err)
				}
				_ = r.PublicKeysPEM()
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if _, err := r.Rotate(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if n := len(r.PublicKeys()); n != 4 {
		t.Errorf("%d keys after 3 rotations, want 4", n)
	}
}
