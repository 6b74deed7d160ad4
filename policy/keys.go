package policy

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

// parsePublicKey reads exactly one PEM "PUBLIC KEY" block (PKIX, as
// `cosign generate-key-pair` and `openssl pkey -pubout` write it) holding
// an ECDSA, Ed25519 or RSA (≥ 2048 bits) key, with nothing but space
// around it. It returns the key re-encoded as canonical PEM, the parsed
// key and its DER bytes, or why it is refused.
func parsePublicKey(data []byte) (canonical []byte, pub crypto.PublicKey, der []byte, why string) {
	begin := bytes.Index(data, []byte("-----BEGIN "))
	if begin < 0 {
		return nil, nil, nil, "no PEM block (want one -----BEGIN PUBLIC KEY----- block)"
	}
	if len(bytes.TrimSpace(data[:begin])) > 0 {
		return nil, nil, nil, "text before the PEM block; give exactly one PUBLIC KEY block"
	}
	block, rest := pem.Decode(data[begin:])
	if block == nil {
		return nil, nil, nil, "not a valid PEM block (check the BEGIN/END lines and the base64 between them)"
	}
	if strings.Contains(block.Type, "PRIVATE") {
		return nil, nil, nil, fmt.Sprintf("this is a private key (%s); put only the public key in the policy and keep the private key secret", strictyaml.Show(block.Type))
	}
	if block.Type != "PUBLIC KEY" {
		return nil, nil, nil, fmt.Sprintf("PEM block of type %s; want PUBLIC KEY (PKIX)", strictyaml.Show(block.Type))
	}
	if len(block.Headers) > 0 {
		return nil, nil, nil, "PEM headers are not allowed in a public key"
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, nil, nil, "text after the PEM block; give exactly one PUBLIC KEY block"
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Sprintf("not a valid public key: %v", err)
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, nil, nil, fmt.Sprintf("RSA key of %d bits; want at least %d", k.N.BitLen(), minRSABits)
		}
	default:
		return nil, nil, nil, fmt.Sprintf("unsupported key type %T; want ECDSA, Ed25519 or RSA", key)
	}
	der = bytes.Clone(block.Bytes)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), key, der, ""
}
