package provenance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
)

// KeyFileName is the current private key's file name in a keyring
// directory.
const KeyFileName = "promotion.key"

// KeySet is a set of trusted public keys to verify against. *Keyring and
// PublicKeys implement it.
type KeySet interface {
	// PublicKeys returns the trusted keys, the preferred one first.
	PublicKeys() []*PublicKey
}

// PublicKeys is an explicit KeySet, e.g. the keys of a pipeline whose
// signature a promotion policy requires.
type PublicKeys []*PublicKey

// PublicKeys implements KeySet.
func (ks PublicKeys) PublicKeys() []*PublicKey { return ks }

// Keyring is the registry's signing key plus every public key it has signed
// with before, so attestations made before a rotation still verify.
//
// On disk (OpenKeyring) it is one directory, mode 0700, not writable by
// group or others:
//
//	promotion.key    current private key, PKCS#8 PEM, 0600
//	<hex>.pub        one PKIX PEM public key per key ever current, 0644,
//	                 named by hex(SHA-256(DER)) — the key id in hex
//	*.pub            any other trusted public key an operator adds
//
// Every *.pub file is trusted, whatever its name; the id is computed from
// the content. Deleting a .pub file revokes that key at the next open. The
// current key is always trusted.
type Keyring struct {
	dir string // "" for a ring that lives only in memory

	mu      sync.RWMutex
	current *Key
	keys    []*PublicKey // current first
	byID    map[string]*PublicKey
}

var _ KeySet = (*Keyring)(nil)

// NewKeyring returns a keyring held only in memory (Rotate keeps the old
// key in memory too).
func NewKeyring(current *Key, older ...*PublicKey) *Keyring {
	r := &Keyring{}
	r.set(current, older)
	return r
}

// OpenKeyring loads the keyring in dir, creating the directory and a new
// ECDSA P-256 key on first use. It makes sure the current key's public half
// is on disk as a .pub file before anything is signed with it.
//
// A process sees keys added by others (another replica's Rotate, an
// operator's .pub file) only when it opens the keyring again.
func OpenKeyring(dir string) (*Keyring, error) {
	cur, err := LoadOrCreateKey(filepath.Join(dir, KeyFileName))
	if err != nil {
		return nil, err
	}
	if err := writePublicKey(dir, cur.pub); err != nil {
		return nil, err
	}
	older, err := loadPublicKeys(dir)
	if err != nil {
		return nil, err
	}
	r := &Keyring{dir: dir}
	r.set(cur, older)
	return r, nil
}

func (r *Keyring) set(current *Key, older []*PublicKey) {
	keys := []*PublicKey{current.pub}
	byID := map[string]*PublicKey{current.pub.id: current.pub}
	for _, k := range older {
		if _, dup := byID[k.id]; !dup {
			byID[k.id] = k
			keys = append(keys, k)
		}
	}
	r.current, r.keys, r.byID = current, keys, byID
}

// Current returns the key new attestations are signed with.
func (r *Keyring) Current() *Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

// Lookup returns the trusted key with the given id, or nil.
func (r *Keyring) Lookup(id string) *PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byID[id]
}

// PublicKeys implements KeySet: the current key first, then the older ones.
func (r *Keyring) PublicKeys() []*PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*PublicKey(nil), r.keys...)
}

// PublicKeysPEM returns every trusted public key as concatenated PKIX PEM
// blocks, the current key first, for serving at a well-known URL. Note that
// `cosign verify --key` reads only the first block of a file.
func (r *Keyring) PublicKeysPEM() []byte {
	var b bytes.Buffer
	for _, k := range r.PublicKeys() {
		b.Write(k.PEM())
	}
	return b.Bytes()
}

// Rotate makes a new ECDSA P-256 key current and keeps the old one's public
// half, so attestations it signed keep verifying. On disk the new key's .pub
// file is written before the private key is replaced, so no signature can
// exist whose public key is not on disk; a crash in between leaves the old
// key current and one extra trusted public key whose private half was never
// stored.
func (r *Keyring) Rotate() (*Key, error) {
	k, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir != "" {
		// Rewritten in case it went missing: the old key stays trusted
		// until an operator deletes its file on purpose.
		if err := writePublicKey(r.dir, r.current.pub); err != nil {
			return nil, err
		}
		if err := writePublicKey(r.dir, k.pub); err != nil {
			return nil, err
		}
		if err := writePrivateKey(filepath.Join(r.dir, KeyFileName), k); err != nil {
			return nil, err
		}
	}
	r.set(k, r.keys)
	return k, nil
}

// writePublicKey stores pub as <hex>.pub in dir unless that file already
// holds it.
func writePublicKey(dir string, pub *PublicKey) error {
	path := filepath.Join(dir, pub.fileName())
	want := pub.PEM()
	if have, err := readKeyFile(path, false); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := atomicfile.Write(path, want, 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	return nil
}

// loadPublicKeys reads every *.pub file in dir, in name order.
func loadPublicKeys(dir string) ([]*PublicKey, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	var keys []*PublicKey
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := readKeyFile(path, false)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while we listed
				continue
			}
			return nil, err
		}
		ks, err := ParsePublicKeysPEM(data)
		if err != nil {
			return nil, fmt.Errorf("public key file %s: %w", path, err)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}
