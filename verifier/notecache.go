package verifier

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// Every anchor receipt carries the ledger checkpoint it was proved against, and a busy counter
// sees the same few checkpoints over and over: cachedVerifiers remembers which (key, note,
// signature) triples verified, so each checkpoint's signature is checked once, not once per
// credential. Only successes are remembered, and a triple is remembered exactly.
type cachedVerifiers struct {
	inner note.Verifiers
	mu    sync.Mutex
	ok    map[[sha256.Size]byte]bool
}

// cacheNoteVerifiers wraps vs, or returns nil for nil.
func cacheNoteVerifiers(vs note.Verifiers) note.Verifiers {
	if vs == nil {
		return nil
	}
	return &cachedVerifiers{inner: vs, ok: map[[sha256.Size]byte]bool{}}
}

func (c *cachedVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	v, err := c.inner.Verifier(name, hash)
	if err != nil {
		return nil, err
	}
	return cachedVerifier{Verifier: v, c: c}, nil
}

type cachedVerifier struct {
	note.Verifier
	c *cachedVerifiers
}

func (v cachedVerifier) Verify(msg, sig []byte) bool {
	// Each part length-prefixed, so no two triples share a key.
	h := sha256.New()
	for _, part := range [][]byte{[]byte(v.Name()), binary.BigEndian.AppendUint32(nil, v.KeyHash()), msg, sig} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(part))))
		h.Write(part)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	v.c.mu.Lock()
	hit := v.c.ok[k]
	v.c.mu.Unlock()
	if hit {
		return true
	}
	if !v.Verifier.Verify(msg, sig) {
		return false
	}
	v.c.mu.Lock()
	if len(v.c.ok) >= 1024 {
		clear(v.c.ok)
	}
	v.c.ok[k] = true
	v.c.mu.Unlock()
	return true
}
