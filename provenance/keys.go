package provenance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
)

// PEM block types. Only unencrypted PKCS#8 private keys and PKIX public keys
// are read: one format each, what `openssl genpkey` and Go write.
const (
	pemPrivateKey = "PRIVATE KEY"
	pemPublicKey  = "PUBLIC KEY"
)

// maxKeyFile bounds what is read from a key or public-key file.
const maxKeyFile = 64 << 10

// PublicKey is a verify-only key: ECDSA P-256 (ASN.1 DER signatures over
// SHA-256 of the message) or Ed25519 (pure). It implements dsse.Verifier.
type PublicKey struct {
	key crypto.PublicKey
	der []byte // PKIX
	id  string
}

var _ dsse.Verifier = (*PublicKey)(nil)

func newPublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA curve %s is not supported; use P-256", ErrKeyFile, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: key type %T is not supported; use ECDSA P-256 or Ed25519", ErrKeyFile, pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{key: pub, der: der, id: base64.StdEncoding.EncodeToString(sum[:])}, nil
}

// ID is the key id, the value written as the bundle's publicKey.hint:
// base64 (standard, padded) of SHA-256 over the PKIX DER public key. This is
// what sigstore-go (EphemeralKeypair) and cosign (`sign --key`, bundle
// format) write, so the same key gets the same hint from every tool.
// model_signing uses hex(SHA-256(PEM)) instead; verification does not rely
// on the hint, so its bundles still verify.
func (p *PublicKey) ID() string { return p.id }

// KeyID implements dsse.Verifier; it returns ID and never fails.
func (p *PublicKey) KeyID() (string, error) { return p.id, nil }

// Public implements dsse.Verifier.
func (p *PublicKey) Public() crypto.PublicKey { return p.key }

// PEM returns the key as a PKIX "PUBLIC KEY" PEM block.
func (p *PublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: p.der})
}

// Verify implements dsse.Verifier: sig must be a signature over data (for
// DSSE, the pre-authentication encoding).
func (p *PublicKey) Verify(_ context.Context, data, sig []byte) error {
	switch k := p.key.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(data)
		if ecdsa.VerifyASN1(k, h[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, data, sig) {
			return nil
		}
	}
	return errors.New("signature does not verify")
}

// fileName is the name the keyring gives this key's public-key file.
func (p *PublicKey) fileName() string {
	sum := sha256.Sum256(p.der)
	return hex.EncodeToString(sum[:]) + ".pub"
}

// ParsePublicKeysPEM reads one or more PKIX "PUBLIC KEY" PEM blocks, as a
// pipeline's key list or the registry's well-known key bundle is written.
// Anything else in the input (other block types, text between blocks that is
// not whitespace) is an error, so a truncated or mixed file is never half
// read.
func ParsePublicKeysPEM(data []byte) ([]*PublicKey, error) {
	var keys []*PublicKey
	rest := data
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != pemPublicKey {
			return nil, fmt.Errorf("%w: PEM block %q where a %q block was expected", ErrKeyFile, blk.Type, pemPublicKey)
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: public key: %v", ErrKeyFile, err)
		}
		k, err := newPublicKey(pub)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data that is not a PEM block", ErrKeyFile)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no %q PEM block", ErrKeyFile, pemPublicKey)
	}
	return keys, nil
}

// Key is a signing key held by the registry. It implements
// dsse.SignerVerifier: ECDSA P-256 signs SHA-256 of the message and returns
// an ASN.1 DER signature (what cosign and sigstore-go expect for P-256);
// Ed25519 signs the message itself.
type Key struct {
	priv crypto.Signer // *ecdsa.PrivateKey or ed25519.PrivateKey
	pub  *PublicKey
}

var _ dsse.SignerVerifier = (*Key)(nil)

// GenerateKey returns a new ECDSA P-256 key that lives only in memory.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewKey(priv)
}

// NewKey wraps an ECDSA P-256 or Ed25519 private key.
func NewKey(priv crypto.Signer) (*Key, error) {
	switch priv.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("%w: key type %T is not supported; use ECDSA P-256 or Ed25519", ErrKeyFile, priv)
	}
	pub, err := newPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, pub: pub}, nil
}

// ParsePrivateKeyPEM reads an unencrypted PKCS#8 "PRIVATE KEY" PEM block
// holding an ECDSA P-256 or Ed25519 key.
func ParsePrivateKeyPEM(data []byte) (*Key, error) {
	blk, rest := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKeyFile)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: more than one PEM block; a key file holds exactly one private key", ErrKeyFile)
	}
	if blk.Type != pemPrivateKey {
		return nil, fmt.Errorf("%w: PEM block %q; an unencrypted PKCS#8 %q block is required (convert with `openssl pkcs8 -topk8 -nocrypt`)", ErrKeyFile, blk.Type, pemPrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: PKCS#8: %v", ErrKeyFile, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key type %T is not supported; use ECDSA P-256 or Ed25519", ErrKeyFile, k)
	}
	return NewKey(s)
}

// ID returns the key id (see PublicKey.ID).
func (k *Key) ID() string { return k.pub.id }

// KeyID implements dsse.Signer; it returns ID and never fails.
func (k *Key) KeyID() (string, error) { return k.pub.id, nil }

// Public implements dsse.Verifier.
func (k *Key) Public() crypto.PublicKey { return k.pub.key }

// PublicKey returns the verify-only half of the key.
func (k *Key) PublicKey() *PublicKey { return k.pub }

// PublicKeyPEM returns the public key as a PKIX "PUBLIC KEY" PEM block, the
// form `cosign verify --key` reads.
func (k *Key) PublicKeyPEM() []byte { return k.pub.PEM() }

// Sign implements dsse.Signer.
func (k *Key) Sign(_ context.Context, data []byte) ([]byte, error) {
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(data)
		return ecdsa.SignASN1(rand.Reader, priv, h[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, data), nil
	}
	return nil, fmt.Errorf("key type %T cannot sign", k.priv)
}

// Verify implements dsse.Verifier.
func (k *Key) Verify(ctx context.Context, data, sig []byte) error {
	return k.pub.Verify(ctx, data, sig)
}

func (k *Key) privatePEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// LoadOrCreateKey returns the private key stored at path, creating a new
// ECDSA P-256 key there on first use. The file is an unencrypted PKCS#8 PEM
// (ECDSA P-256 or Ed25519) with mode 0600, written crash-safely. The
// directory is created 0700 if missing and must not be writable by group
// or others; an existing key file must not be accessible by group or others.
//
// Two processes creating the same key at the same moment each get a key of
// their own and the last rename wins: provision the key (or start one
// replica first) when several replicas share a directory.
func LoadOrCreateKey(path string) (*Key, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: create key directory: %v", ErrKeyFile, err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	data, err := readKeyFile(path, true)
	if err == nil {
		k, err := ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := writePrivateKey(path, k); err != nil {
		return nil, err
	}
	return k, nil
}

func writePrivateKey(path string, k *Key) error {
	p, err := k.privatePEM()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, p, 0o600); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	return nil
}

// checkDir refuses a key directory that others could write to: whoever can
// add or rename files there can replace the key or plant a trusted public
// key.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrKeyFile, dir)
	}
	if m := st.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%w: key directory %s is writable by group or others (mode %04o); run `chmod go-w %s`", ErrKeyFile, dir, m, dir)
	}
	return nil
}

// readKeyFile reads a regular file of bounded size. For a private key
// (secret) the file must not be accessible by group or others at all; for a
// public key it must only not be writable by them.
func readKeyFile(path string, secret bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, path)
	}
	m := st.Mode().Perm()
	switch {
	case secret && m&0o077 != 0:
		return nil, fmt.Errorf("%w: private key %s is accessible by group or others (mode %04o); run `chmod 600 %s` (and rotate the key if others may have read it)", ErrKeyFile, path, m, path)
	case !secret && m&0o022 != 0:
		return nil, fmt.Errorf("%w: public key %s is writable by group or others (mode %04o); run `chmod go-w %s`", ErrKeyFile, path, m, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrKeyFile, path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes, too large for a key file", ErrKeyFile, path, maxKeyFile)
	}
	return data, nil
}
