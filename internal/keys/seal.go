package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the size of the master key in bytes.
const MasterKeySize = 32

// ErrDecrypt is returned when sealed data does not open: wrong master key, wrong associated
// data, or tampered bytes.
var ErrDecrypt = errors.New("keys: sealed data does not open")

// ErrMasterKey is returned for a master key that is not 32 bytes of base64.
var ErrMasterKey = errors.New("keys: master key must be 32 bytes, base64-encoded")

// LoadMaster returns the master key: decoded from value when it is not empty (standard or URL
// base64 of 32 bytes), else read from file, else generated and written to file with mode 0600.
// The caller reads value from EZHENG_MASTER_KEY; this package reads no environment.
func LoadMaster(value, file string) ([]byte, error) {
	if value != "" {
		return decodeMaster(value)
	}
	b, err := os.ReadFile(file)
	if err == nil {
		return decodeMaster(string(b))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	return key, nil
}

func decodeMaster(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == MasterKeySize {
			return b, nil
		}
	}
	return nil, ErrMasterKey
}

// Sealer encrypts small secrets (private keys, credentials) with AES-256-GCM. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives a sealing key for purpose (e.g. "issuer", "wallet") from the master key
// with HKDF-SHA256, so each component's data is sealed under its own key.
func NewSealer(master []byte, purpose string) (*Sealer, error) {
	if len(master) != MasterKeySize {
		return nil, ErrMasterKey
	}
	k, err := hkdf.Key(sha256.New, master, nil, "ezheng/seal/v1/"+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad (e.g. the row's id, so a sealed value cannot be moved
// to another row). The result is nonce || ciphertext.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("keys: no randomness: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal made with the same aad, or returns ErrDecrypt.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// SealKey encrypts k (as PKCS #8) bound to aad.
func (s *Sealer) SealKey(k *Key, aad []byte) ([]byte, error) {
	der, err := k.marshal()
	if err != nil {
		return nil, err
	}
	return s.Seal(der, aad), nil
}

// OpenKey decrypts a key sealed by SealKey with the same aad. Errors: ErrDecrypt, ErrAlg.
func (s *Sealer) OpenKey(sealed, aad []byte) (*Key, error) {
	der, err := s.Open(sealed, aad)
	if err != nil {
		return nil, err
	}
	return unmarshal(der)
}
