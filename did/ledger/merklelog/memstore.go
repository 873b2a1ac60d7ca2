package merklelog

import (
	"context"
	"fmt"
	"sync"
)

// MemStore is an in-memory NodeReader for tests, benchmarks and the issuer's batch trees.
// Each level is one dense array of hashes, so memory is HashSize bytes (plus one bit) for every
// index up to the highest one stored at that level: about 64 bytes per leaf for a whole log
// (640 MB for 10 million leaves). It is safe for concurrent use.
type MemStore struct {
	mu sync.RWMutex
	d  dense
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{}
}

// Put stores the nodes, replacing any stored under the same IDs. It panics if a hash is not
// HashSize bytes long or an index is beyond 2^48 (a MemStore is dense): Tree.Append never
// returns such a node, so either is a programming error.
func (m *MemStore) Put(nodes []Node) {
	for _, n := range nodes {
		if len(n.Hash) != HashSize || n.ID.Index >= 1<<48 {
			panic(fmt.Sprintf("merklelog: MemStore.Put: node (%d, %d) has a %d-byte hash or is out of range",
				n.ID.Level, n.ID.Index, len(n.Hash)))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range nodes {
		m.d.put(n.ID, n.Hash)
	}
}

// Nodes implements NodeReader. The returned hashes are copies.
func (m *MemStore) Nodes(_ context.Context, ids []NodeID) ([][]byte, error) {
	buf := make([]byte, len(ids)*HashSize)
	out := make([][]byte, len(ids))
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, id := range ids {
		h, ok := m.d.get(id)
		if !ok {
			return nil, fmt.Errorf("%w: (%d, %d)", ErrMissingNode, id.Level, id.Index)
		}
		out[i] = buf[i*HashSize : (i+1)*HashSize : (i+1)*HashSize]
		copy(out[i], h)
	}
	return out, nil
}

// dense holds node hashes level by level in contiguous arrays, with a presence bit per index.
type dense struct {
	levels []level
}

type level struct {
	hashes []byte   // HashSize bytes per index
	have   []uint64 // presence bitmap
}

func (d *dense) put(id NodeID, hash []byte) {
	for uint(len(d.levels)) <= id.Level {
		d.levels = append(d.levels, level{})
	}
	l := &d.levels[id.Level]
	end := (id.Index + 1) * HashSize
	if uint64(len(l.hashes)) < end {
		l.hashes = append(l.hashes, make([]byte, end-uint64(len(l.hashes)))...)
	}
	if words := id.Index/64 + 1; uint64(len(l.have)) < words {
		l.have = append(l.have, make([]uint64, words-uint64(len(l.have)))...)
	}
	copy(l.hashes[end-HashSize:end], hash)
	l.have[id.Index/64] |= 1 << (id.Index % 64)
}

// get returns the stored hash, aliasing the array.
func (d *dense) get(id NodeID) ([]byte, bool) {
	if uint(len(d.levels)) <= id.Level {
		return nil, false
	}
	l := &d.levels[id.Level]
	if id.Index/64 >= uint64(len(l.have)) || l.have[id.Index/64]&(1<<(id.Index%64)) == 0 {
		return nil, false
	}
	off := id.Index * HashSize
	return l.hashes[off : off+HashSize : off+HashSize], true
}
