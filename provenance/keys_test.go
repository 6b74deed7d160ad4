package provenance

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	path := filepath.Join(dir, "promotion.key")

	k, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", m)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("key directory: %v, mode %04o, want 0700", err, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not a PKCS#8 PEM:\n%s", data)
	}
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ec, ok := priv.(*ecdsa.PrivateKey); !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", priv)
	}

	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != k.ID() {
		t.Errorf("reloaded key id %q, want %q", again.ID(), k.ID())
	}
	// A bundle signed before the reload verifies with the reloaded key.
	b := mustSign(t, k, mustStatement(t, testPromotion()))
	if _, err := VerifyBundle(context.Background(), b, PublicKeys{again.PublicKey()}, testSubject, PredicateVSA); err != nil {
		t.Errorf("bundle from before the reload: %v", err)
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	ecPEM := func(t *testing.T, curve elliptic.Curve) []byte {
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	valid := func(t *testing.T) []byte { return ecPEM(t, elliptic.P256()) }

	tests := []struct {
		name    string
		content func(t *testing.T) []byte
		mode    os.FileMode
		dirMode os.FileMode // 0700 when zero
		want    []string    // parts of the message; the path is always checked
	}{
		{name: "world-readable", content: valid, mode: 0o644, want: []string{"accessible by group or others", "mode 0644", "chmod 600"}},
		{name: "group-readable", content: valid, mode: 0o640, want: []string{"mode 0640", "chmod 600"}},
		{name: "group-writable directory", content: valid, mode: 0o600, dirMode: 0o770, want: []string{"writable by group or others", "chmod go-w"}},
		{name: "not PEM", content: func(*testing.T) []byte { return []byte("garbage\n") }, mode: 0o600, want: []string{"no PEM block"}},
		{name: "truncated PEM", content: func(t *testing.T) []byte { v := valid(t); return v[:len(v)/2] }, mode: 0o600, want: []string{"no PEM block"}},
		{name: "corrupt DER", content: func(*testing.T) []byte {
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not DER")})
		}, mode: 0o600, want: []string{"PKCS#8"}},
		{name: "SEC1 EC key", content: func(t *testing.T) []byte {
			priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, err := x509.MarshalECPrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		}, mode: 0o600, want: []string{`"EC PRIVATE KEY"`, "openssl pkcs8 -topk8 -nocrypt"}},
		{name: "two keys", content: func(t *testing.T) []byte { return append(valid(t), valid(t)...) }, mode: 0o600, want: []string{"more than one PEM block"}},
		{name: "P-384", content: func(t *testing.T) []byte { return ecPEM(t, elliptic.P384()) }, mode: 0o600, want: []string{"P-384", "use P-256"}},
		{name: "RSA", content: func(t *testing.T) []byte {
			priv, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a test key that must be refused
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKCS8PrivateKey(priv)
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}, mode: 0o600, want: []string{"*rsa.PrivateKey", "not supported"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "promotion.key")
			content := tc.content(t)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			// Explicit chmods: WriteFile and Mkdir are subject to the umask.
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.dirMode != 0 {
				if err := os.Chmod(dir, tc.dirMode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadOrCreateKey(path)
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("LoadOrCreateKey = %v, want ErrKeyFile", err)
			}
			t.Log(err)
			named := path
			if tc.dirMode != 0 {
				named = dir
			}
			for _, w := range append(tc.want, named) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// A refused key is never replaced by a new one.
			if got, _ := os.ReadFile(path); string(got) != string(content) {
				t.Error("LoadOrCreateKey changed the refused key file")
			}
		})
	}
}

func TestLoadOrCreateKeyNotAFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "promotion.key")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadOrCreateKey on a directory = %v", err)
	}
}

// TestKeyID pins the hint convention: base64 (standard, padded) of SHA-256
// over the PKIX DER public key, as sigstore-go's EphemeralKeypair writes it.
func TestKeyID(t *testing.T) {
	for _, k := range []*Key{mustKey(t), mustEd25519Key(t)} {
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		want := base64.StdEncoding.EncodeToString(sum[:])
		if k.ID() != want {
			t.Errorf("ID = %q, want %q", k.ID(), want)
		}
		for _, id := range []func() (string, error){k.KeyID, k.PublicKey().KeyID} {
			if got, err := id(); err != nil || got != want {
				t.Errorf("KeyID() = %q, %v", got, err)
			}
		}
	}
}

// TestKeyDSSE uses Key through securesystemslib's DSSE signer and verifier
// only, as any dsse.SignerVerifier would be used.
func TestKeyDSSE(t *testing.T) {
	ctx := context.Background()
	for _, k := range []*Key{mustKey(t), mustEd25519Key(t)} {
		signer, err := dsse.NewEnvelopeSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		env, err := signer.SignPayload(ctx, PayloadType, []byte(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		verifier, err := dsse.NewEnvelopeVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.Verify(ctx, env); err != nil {
			t.Errorf("%T: %v", k.Public(), err)
		}
		env.Payload = base64.StdEncoding.EncodeToString([]byte(`{"a":2}`))
		if _, err := verifier.Verify(ctx, env); err == nil {
			t.Errorf("%T: a changed payload verifies", k.Public())
		}
	}
}

func TestParsePrivateKeyPEMEd25519(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Public().(ed25519.PublicKey); !ok {
		t.Errorf("Public() = %T", k.Public())
	}
}

func TestParsePublicKeysPEM(t *testing.T) {
	a, b := mustKey(t), mustEd25519Key(t)
	both := append(a.PublicKeyPEM(), b.PublicKeyPEM()...)

	keys, err := ParsePublicKeysPEM(both)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID() != a.ID() || keys[1].ID() != b.ID() {
		t.Fatalf("keys = %v", keys)
	}

	bad := []struct {
		name, in, want string
	}{
		{"empty", "", "no \"PUBLIC KEY\" PEM block"},
		{"text after the keys", string(both) + "trailing\n", "not a PEM block"},
		{"private key", string(mustPrivatePEM(t, a)), `"PRIVATE KEY" where a "PUBLIC KEY"`},
		{"corrupt DER", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}})), "public key:"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKeysPEM([]byte(tc.in))
			if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePublicKeysPEM = %v, want ErrKeyFile saying %q", err, tc.want)
			}
		})
	}
}

func mustPrivatePEM(t *testing.T, k *Key) []byte {
	t.Helper()
	p, err := k.privatePEM()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
