package merklelog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// cloneProof deep-copies a proof so a tamper case cannot affect the others.
func cloneProof(p [][]byte) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = slices.Clone(h)
	}
	return out
}

// inclusionCase is one inclusion check.
type inclusionCase struct {
	leaf        []byte
	index, size uint64
	proof       [][]byte
	root        []byte
}

// inclusionTampers returns named changes to a valid inclusion check, each of which must fail.
func inclusionTampers(c inclusionCase) map[string]inclusionCase {
	out := map[string]inclusionCase{}
	for i := range c.proof {
		d := c
		d.proof = cloneProof(c.proof)
		d.proof[i][i%HashSize] ^= 0x80
		out[fmt.Sprintf("flipped hash %d", i)] = d
	}
	d := c
	d.proof = append(cloneProof(c.proof), c.root)
	out["extra hash"] = d
	if len(c.proof) > 0 {
		d = c
		d.proof = c.proof[:len(c.proof)-1]
		out["missing hash"] = d
		d = c
		d.proof = slices.Clone(c.proof)
		d.proof[0] = d.proof[0][:HashSize-1]
		out["short hash"] = d
	}
	if c.size > 1 {
		d = c
		d.index = (c.index + 1) % c.size
		out["other index"] = d
	}
	d = c
	d.index = c.size
	out["index out of range"] = d
	d = c
	d.root = slices.Clone(c.root)
	d.root[5] ^= 1
	out["other root"] = d
	d = c
	d.leaf = refLeaf([]byte("not a leaf"))
	out["other leaf"] = d
	return out
}

func checkInclusion(t *testing.T, c inclusionCase) {
	t.Helper()
	if err := VerifyInclusion(c.leaf, c.index, c.size, c.proof, c.root); err != nil {
		t.Fatalf("VerifyInclusion(%d, %d): %v", c.index, c.size, err)
	}
	for name, d := range inclusionTampers(c) {
		if err := VerifyInclusion(d.leaf, d.index, d.size, d.proof, d.root); !errors.Is(err, ErrProof) {
			t.Fatalf("inclusion (%d, %d) %s: err = %v, want ErrProof", c.index, c.size, name, err)
		}
	}
}

// consistencyCase is one consistency check.
type consistencyCase struct {
	size1, size2 uint64
	proof        [][]byte
	root1, root2 []byte
}

// consistencyTampers returns named changes to a valid consistency check, each of which must
// fail.
func consistencyTampers(c consistencyCase) map[string]consistencyCase {
	out := map[string]consistencyCase{}
	for i := range c.proof {
		d := c
		d.proof = cloneProof(c.proof)
		d.proof[i][0] ^= 1
		out[fmt.Sprintf("flipped hash %d", i)] = d
	}
	d := c
	d.proof = append(cloneProof(c.proof), c.root1)
	out["extra hash"] = d
	if len(c.proof) > 0 {
		d = c
		d.proof = c.proof[1:]
		out["missing hash"] = d
	}
	if c.size1 > 0 { // Any tree is consistent with the empty one.
		d = c
		d.root2 = slices.Clone(c.root2)
		d.root2[0] ^= 1
		out["other root2"] = d
	}
	d = c
	d.root1 = slices.Clone(c.root1)
	d.root1[0] ^= 1
	out["other root1"] = d
	if c.size1 < c.size2 {
		d = c
		d.size1, d.size2 = c.size2, c.size1
		d.root1, d.root2 = c.root2, c.root1
		out["sizes swapped"] = d
	}
	return out
}

func checkConsistency(t *testing.T, c consistencyCase) {
	t.Helper()
	if err := VerifyConsistency(c.size1, c.size2, c.proof, c.root1, c.root2); err != nil {
		t.Fatalf("VerifyConsistency(%d, %d): %v", c.size1, c.size2, err)
	}
	for name, d := range consistencyTampers(c) {
		if err := VerifyConsistency(d.size1, d.size2, d.proof, d.root1, d.root2); !errors.Is(err, ErrProof) {
			t.Fatalf("consistency (%d, %d) %s: err = %v, want ErrProof", c.size1, c.size2, name, err)
		}
	}
}

func TestProofsAllPairsTo64(t *testing.T) {
	t.Parallel()
	const max = 64
	leaves := testLeaves(max)
	_, store := buildStore(t, leaves)
	ctx := context.Background()
	roots := make([][]byte, max+1)
	for n := range roots {
		roots[n] = refRoot(leaves[:n])
	}
	for size := uint64(1); size <= max; size++ {
		for index := range size {
			p, err := InclusionProof(ctx, store, index, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			if want := refPath(int(index), leaves[:size]); !slices.EqualFunc(p, want, bytes.Equal) {
				t.Fatalf("InclusionProof(%d, %d) differs from RFC 9162 PATH", index, size)
			}
			checkInclusion(t, inclusionCase{leaves[index], index, size, p, roots[size]})
		}
	}
	for size1 := uint64(0); size1 <= max; size1++ {
		for size2 := size1; size2 <= max; size2++ {
			p, err := ConsistencyProof(ctx, store, size1, size2)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", size1, size2, err)
			}
			if want := refConsistency(int(size1), leaves[:size2]); !slices.EqualFunc(p, want, bytes.Equal) {
				t.Fatalf("ConsistencyProof(%d, %d) differs from RFC 9162 PROOF", size1, size2)
			}
			checkConsistency(t, consistencyCase{size1, size2, p, roots[size1], roots[size2]})
		}
	}
}

func TestProofsRandomTo100k(t *testing.T) {
	t.Parallel()
	const max = 100_000
	leaves := testLeaves(max)
	tree, store := buildStore(t, leaves)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	rootAt := func(n uint64) []byte {
		tr, err := Restore(ctx, store, n)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Root()
	}
	for range 200 {
		size := 1 + rng.Uint64N(max)
		if rng.IntN(4) == 0 {
			size = max
		}
		index := rng.Uint64N(size)
		root := rootAt(size)
		p, err := InclusionProof(ctx, store, index, size)
		if err != nil {
			t.Fatal(err)
		}
		checkInclusion(t, inclusionCase{leaves[index], index, size, p, root})

		size1 := rng.Uint64N(size + 1)
		c, err := ConsistencyProof(ctx, store, size1, size)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistency(t, consistencyCase{size1, size, c, rootAt(size1), root})
	}
	if !bytes.Equal(rootAt(max), tree.Root()) {
		t.Error("restored root differs from the tree's")
	}
}

func TestProofErrors(t *testing.T) {
	t.Parallel()
	_, store := buildStore(t, testLeaves(10))
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"inclusion index = size", func() error { _, err := InclusionProof(ctx, store, 5, 5); return err }, ErrProof},
		{"inclusion in empty tree", func() error { _, err := InclusionProof(ctx, store, 0, 0); return err }, ErrProof},
		{"inclusion beyond store", func() error { _, err := InclusionProof(ctx, store, 3, 11); return err }, ErrMissingNode},
		{"consistency size1 > size2", func() error { _, err := ConsistencyProof(ctx, store, 6, 5); return err }, ErrProof},
		{"consistency beyond store", func() error { _, err := ConsistencyProof(ctx, store, 3, 12); return err }, ErrMissingNode},
		{"verify empty-tree root", func() error {
			return VerifyConsistency(0, 3, nil, make([]byte, HashSize), refRoot(testLeaves(3)))
		}, ErrProof},
		{"verify too long a proof", func() error {
			return VerifyInclusion(testLeaves(1)[0], 0, 2, make([][]byte, MaxProofLen+1), EmptyRoot())
		}, ErrProof},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Size 0 to anything is consistent with the empty proof, and a size to itself.
	if err := VerifyConsistency(0, 3, nil, EmptyRoot(), refRoot(testLeaves(3))); err != nil {
		t.Errorf("consistency from the empty tree: %v", err)
	}
}

func TestMemStore(t *testing.T) {
	t.Parallel()
	m := NewMemStore()
	a, b := testLeaves(2)[0], testLeaves(2)[1]
	m.Put([]Node{{ID: NodeID{Level: 3, Index: 130}, Hash: a}, {ID: NodeID{Level: 0, Index: 0}, Hash: b}})
	got, err := m.Nodes(context.Background(), []NodeID{{Level: 0, Index: 0}, {Level: 3, Index: 130}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0], b) || !bytes.Equal(got[1], a) {
		t.Error("Nodes returned other hashes than Put stored")
	}
	got[0][0] ^= 1
	if again, _ := m.Nodes(context.Background(), []NodeID{{Level: 0, Index: 0}}); !bytes.Equal(again[0], b) {
		t.Error("Nodes returned the stored array, not a copy")
	}
	for _, id := range []NodeID{{Level: 3, Index: 129}, {Level: 3, Index: 131}, {Level: 4, Index: 0}, {Level: 0, Index: 1 << 40}} {
		if _, err := m.Nodes(context.Background(), []NodeID{id}); !errors.Is(err, ErrMissingNode) {
			t.Errorf("Nodes(%+v) err = %v, want ErrMissingNode", id, err)
		}
	}
}
