// Package secret makes the random identifiers and bearer tokens of ezheng's components and
// hashes tokens for storage, so a stolen database does not hold usable tokens.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
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

// sortable is base64 with the URL-safe alphabet in ASCII order, so encoded strings sort as
// their bytes do.
var sortable = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// SortableID returns prefix + "_" + 22 URL-safe characters of which the first 8 encode now in
// milliseconds and the rest 80 random bits: ids made later sort later (to the millisecond), so
// a table keyed by them grows at one end of its B-tree instead of at random pages. Use it for
// rows made in bulk whose ids reveal nothing secret by their time (the time is in them).
func SortableID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:])
	return prefix + "_" + sortable.EncodeToString(b[:])
}

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
