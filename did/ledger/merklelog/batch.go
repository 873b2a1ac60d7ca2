package merklelog

import (
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/proof"
)

// BatchRoot returns the RFC 6962 root of an issuer's batch: the tree whose leaves, in batch
// order, are the digests (each a 32-byte SHA-256 of a credential, hashed with LeafHash). An
// empty batch has EmptyRoot.
func BatchRoot(digests [][]byte) []byte {
	t := NewTree()
	if _, err := t.Append(leafHashes(digests)...); err != nil { // Leaf hashes always fit.
		panic(err)
	}
	return t.Root()
}

// BatchProofs returns the batch root (as BatchRoot) and the inclusion proof of every digest, in
// batch order, in one pass: n-1 node hashes to build the tree plus at most one per level for
// the ephemeral nodes, then O(log n) copying per proof. The proofs share backing memory with
// each other: treat them as read-only. An empty batch gives EmptyRoot and no proofs.
func BatchProofs(digests [][]byte) (root []byte, proofs [][][]byte) {
	n := uint64(len(digests))
	t := NewTree()
	nodes, err := t.Append(leafHashes(digests)...)
	if err != nil {
		panic(err)
	}
	root = t.Root()
	if n == 0 {
		return root, nil
	}
	var d dense
	for _, nd := range nodes {
		d.put(nd.ID, nd.Hash)
	}
	get := func(id NodeID) []byte {
		h, ok := d.get(id)
		if !ok { // Cannot happen: proof.Inclusion names only complete nodes.
			panic(fmt.Sprintf("merklelog: batch node (%d, %d) missing", id.Level, id.Index))
		}
		return h
	}

	// For a given tree size there is at most one ephemeral node per level (the one straddling
	// the right edge), so each is folded once and shared by every proof that needs it.
	var ephemeral [64][]byte
	all := make([][]byte, 0, n*uint64(bits.Len64(n-1)))
	proofs = make([][][]byte, n)
	for i := range n {
		pn, err := proof.Inclusion(i, n)
		if err != nil {
			panic(err) // Cannot happen: i < n.
		}
		eph, begin, end := pn.Ephem()
		start := len(all)
		for k := 0; k < len(pn.IDs); k++ {
			if k != begin || end-begin < 2 {
				all = append(all, get(pn.IDs[k]))
				continue
			}
			h := ephemeral[eph.Level]
			if h == nil {
				h = get(pn.IDs[begin])
				for j := begin + 1; j < end; j++ {
					h = hasher.HashChildren(get(pn.IDs[j]), h)
				}
				ephemeral[eph.Level] = h
			}
			all = append(all, h)
			k = end - 1
		}
		proofs[i] = all[start:len(all):len(all)]
	}
	return root, proofs
}

func leafHashes(digests [][]byte) [][]byte {
	out := make([][]byte, len(digests))
	for i, d := range digests {
		out[i] = LeafHash(d)
	}
	return out
}
