// Package secret makes the random identifiers and bearer tokens of ezheng's components and
// hashes tokens for storage, so a stolen database does not hold usable tokens.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// MaxTokenLen bounds the bearer tokens Hash accepts; longer input is never a token of ours.
const MaxTokenLen = 256

// String returns n random bytes, base64url-encoded without padding.
func String(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand.Read panics on failure since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ID returns a random identifier with a readable prefix, e.g. "cred_…" (128 bits).
func ID(prefix string) string { return prefix + "_" + String(16) }

// Token returns a new bearer token with prefix (256 bits) and the hash to store for it.
func Token(prefix string) (token string, hash []byte) {
	token = prefix + "_" + String(32)
	return token, Hash(token)
}

// Hash returns the SHA-256 of a bearer token — what stores keep — or nil for input that
// cannot be a token (empty or longer than MaxTokenLen), which callers treat as unknown.
func Hash(token string) []byte {
	if token == "" || len(token) > MaxTokenLen {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
