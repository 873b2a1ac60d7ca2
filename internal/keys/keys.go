// Package keys holds ezheng's signing keys (Ed25519 and P-256) and seals them at rest with
// AES-256-GCM under a master key. A Key never prints its private part: it formats, logs and
// marshals as a redacted placeholder.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/go-jose/go-jose/v4"
)

// Alg names a signature algorithm with its JOSE name.
type Alg string

// The algorithms ezheng signs with.
const (
	EdDSA Alg = "EdDSA" // Ed25519 (RFC 8037)
	ES256 Alg = "ES256" // ECDSA P-256 with SHA-256
)

// ErrAlg is returned for an algorithm or key type ezheng does not sign with.
var ErrAlg = errors.New("keys: unsupported algorithm")

// Key is a private signing key. It is safe for concurrent use.
type Key struct {
	alg  Alg
	priv crypto.Signer
}

// Generate makes a new key for alg from rnd (crypto/rand.Reader when nil).
func Generate(alg Alg, rnd io.Reader) (*Key, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	switch alg {
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rnd)
		if err != nil {
			return nil, err
		}
		return &Key{alg: alg, priv: priv}, nil
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
		if err != nil {
			return nil, err
		}
		return &Key{alg: alg, priv: priv}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrAlg, alg)
}

// FromSigner wraps an existing Ed25519 or P-256 private key.
func FromSigner(s crypto.Signer) (*Key, error) {
	switch p := s.(type) {
	case ed25519.PrivateKey:
		return &Key{alg: EdDSA, priv: p}, nil
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: curve %s", ErrAlg, p.Curve.Params().Name)
		}
		return &Key{alg: ES256, priv: p}, nil
	}
	return nil, fmt.Errorf("%w: key type %T", ErrAlg, s)
}

// Alg returns the key's JOSE algorithm.
func (k *Key) Alg() Alg { return k.alg }

// Signer returns the private key as a crypto.Signer, for go-jose. Callers must not log it.
func (k *Key) Signer() crypto.Signer { return k.priv }

// Public returns the public key (ed25519.PublicKey or *ecdsa.PublicKey).
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

// PublicJWK returns the public key as a JWK with alg set and no kid.
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public(), Algorithm: string(k.alg)}
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key.
func (k *Key) Thumbprint() []byte {
	jwk := k.PublicJWK()
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil { // only for key types we never construct
		panic("keys: thumbprint: " + err.Error())
	}
	return tp
}

// String redacts the key.
func (k *Key) String() string { return "keys.Key{" + string(k.alg) + ", private:REDACTED}" }

// GoString redacts the key.
func (k *Key) GoString() string { return k.String() }

// Format redacts the key for every fmt verb.
func (k *Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue redacts the key for log/slog.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("alg", string(k.alg)), slog.String("private", "REDACTED"))
}

// MarshalJSON refuses to put a private key into JSON by accident.
func (k *Key) MarshalJSON() ([]byte, error) {
	return nil, errors.New("keys: refusing to marshal a private key")
}

// marshal encodes the private key as PKCS #8 DER.
func (k *Key) marshal() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k.priv) }

func unmarshal(der []byte) (*Key, error) {
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	s, ok := p.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key type %T", ErrAlg, p)
	}
	return FromSigner(s)
}

// Digest is a convenience: the SHA-256 of b.
func Digest(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}
