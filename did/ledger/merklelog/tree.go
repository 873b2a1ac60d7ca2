package merklelog

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
)

// Tree is the right edge of the log (its compact range [0, size)): the few perfect-subtree
// roots needed to append leaves and compute the root without reading the store.
//
// A Tree is not safe for concurrent use; use Clone to hand a snapshot to another goroutine.
// The zero value is not usable: call NewTree or Restore.
type Tree struct {
	r *compact.Range
}

// NewTree returns the Tree of an empty log.
func NewTree() *Tree {
	return &Tree{r: factory.NewEmptyRange(0)}
}

// Restore rebuilds the Tree of a log of size leaves from the stored nodes of its compact range
// (compact.RangeNodes(0, size)); it reads at most 64 nodes. It returns an error wrapping
// ErrMissingNode if one is not stored, or an error if the reader returns hashes of the wrong
// number or size.
func Restore(ctx context.Context, r NodeReader, size uint64) (*Tree, error) {
	ids := compact.RangeNodes(0, size, nil)
	var hashes [][]byte
	if len(ids) > 0 {
		var err error
		if hashes, err = readNodes(ctx, r, ids); err != nil {
			return nil, fmt.Errorf("restore tree of size %d: %w", size, err)
		}
	}
	rng, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("restore tree of size %d: %w", size, err)
	}
	return &Tree{r: rng}, nil
}

// readNodes calls r.Nodes and checks the answer's shape. The returned outer slice is the
// caller's to modify.
func readNodes(ctx context.Context, r NodeReader, ids []NodeID) ([][]byte, error) {
	hashes, err := r.Nodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(hashes) != len(ids) {
		return nil, fmt.Errorf("node reader returned %d hashes for %d ids", len(hashes), len(ids))
	}
	for i, h := range hashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("node reader returned a %d-byte hash for node (%d, %d)",
				len(h), ids[i].Level, ids[i].Index)
		}
	}
	return append([][]byte(nil), hashes...), nil
}

// Size returns the number of leaves in the tree.
func (t *Tree) Size() uint64 {
	return t.r.End()
}

// Root returns the root hash of the tree at its current size, EmptyRoot for an empty tree.
// The returned slice is the caller's.
func (t *Tree) Root() []byte {
	if t.r.End() == 0 {
		return EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil { // Cannot happen: the range always starts at 0.
		panic(fmt.Sprintf("merklelog: root of compact range: %v", err))
	}
	return append([]byte(nil), root...)
}

// Append adds the leaf hashes, in order, and returns every node that became complete: the
// leaves themselves at level 0 and each new internal node, all of which must be stored for
// later proofs. It never reads the store. It returns an error, appending nothing, if a leaf hash
// is not HashSize bytes long.
func (t *Tree) Append(leafHashes ...[]byte) ([]Node, error) {
	for i, h := range leafHashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("merklelog: append: leaf hash %d is %d bytes, want %d", i, len(h), HashSize)
		}
	}
	// Copy the leaves so neither the range nor the returned nodes alias the caller's memory.
	buf := make([]byte, 0, len(leafHashes)*HashSize)
	// Each leaf completes itself and on average one internal node.
	nodes := make([]Node, 0, 2*len(leafHashes)+1)
	visit := func(id NodeID, hash []byte) { nodes = append(nodes, Node{ID: id, Hash: hash}) }
	for _, h := range leafHashes {
		buf = append(buf, h...)
		leaf := buf[len(buf)-HashSize : len(buf) : len(buf)]
		if err := t.r.Append(leaf, visit); err != nil { // Cannot happen with a well-formed range.
			return nil, fmt.Errorf("merklelog: append: %w", err)
		}
	}
	return nodes, nil
}

// Clone returns an independent copy of the tree; appending to one does not affect the other.
func (t *Tree) Clone() *Tree {
	// The hash slices themselves are never modified, but the list holding them is appended to
	// in place, so it must not be shared.
	hashes := append([][]byte(nil), t.r.Hashes()...)
	rng, err := factory.NewRange(0, t.r.End(), hashes)
	if err != nil { // Cannot happen: same shape as t.
		panic(fmt.Sprintf("merklelog: clone compact range: %v", err))
	}
	return &Tree{r: rng}
}
