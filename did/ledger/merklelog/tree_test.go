package merklelog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
)

func TestLeafHashAndEmptyRoot(t *testing.T) {
	t.Parallel()
	for _, data := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte{7}, 1000)} {
		if got, want := LeafHash(data), refLeaf(data); !bytes.Equal(got, want) {
			t.Errorf("LeafHash(%q) = %x, want %x", data, got, want)
		}
	}
	empty := sha256.Sum256(nil)
	if got := EmptyRoot(); !bytes.Equal(got, empty[:]) {
		t.Errorf("EmptyRoot() = %x, want %x", got, empty)
	}
	if got := NewTree().Root(); !bytes.Equal(got, empty[:]) {
		t.Errorf("NewTree().Root() = %x, want the empty root", got)
	}
}

func TestTreeRoot(t *testing.T) {
	t.Parallel()
	big := []int{1000, 1024, 1025, 4095, 65536, 100_003}
	leaves := testLeaves(big[len(big)-1])
	check := func(tree *Tree, n int) {
		t.Helper()
		if got := tree.Size(); got != uint64(n) {
			t.Fatalf("Size() = %d, want %d", got, n)
		}
		if got, want := tree.Root(), refRoot(leaves[:n]); !bytes.Equal(got, want) {
			t.Fatalf("size %d: Root() = %x, want %x", n, got, want)
		}
	}
	t.Run("one at a time to 300", func(t *testing.T) {
		tree := NewTree()
		check(tree, 0)
		for n := 1; n <= 300; n++ {
			if _, err := tree.Append(leaves[n-1]); err != nil {
				t.Fatal(err)
			}
			check(tree, n)
		}
	})
	t.Run("big sizes in chunks", func(t *testing.T) {
		tree, prev := NewTree(), 0
		for _, n := range big {
			if _, err := tree.Append(leaves[prev:n]...); err != nil {
				t.Fatal(err)
			}
			check(tree, n)
			prev = n
		}
	})
}

func TestAppendNodes(t *testing.T) {
	t.Parallel()
	leaves := testLeaves(300)
	tree := NewTree()
	var got []Node
	for _, l := range leaves {
		nodes, err := tree.Append(l)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, nodes...)
	}
	// Every complete node of a 300-leaf tree, each once, with its reference hash.
	var want int
	for level, width := 0, 300; width > 0; level, width = level+1, width/2 {
		want += width
	}
	if len(got) != want {
		t.Fatalf("Append returned %d nodes, want %d", len(got), want)
	}
	seen := map[NodeID]bool{}
	for _, n := range got {
		if seen[n.ID] {
			t.Fatalf("node %+v returned twice", n.ID)
		}
		seen[n.ID] = true
		begin, end := n.ID.Coverage()
		if !bytes.Equal(n.Hash, refRoot(leaves[begin:end])) {
			t.Fatalf("node %+v has hash %x, want %x", n.ID, n.Hash, refRoot(leaves[begin:end]))
		}
	}
	// Appending in one call returns the same nodes in the same order.
	all, err := NewTree().Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(all, got, nodeEqual) {
		t.Error("Append of all leaves at once differs from one at a time")
	}
}

func nodeEqual(a, b Node) bool { return a.ID == b.ID && bytes.Equal(a.Hash, b.Hash) }

func TestRestore(t *testing.T) {
	t.Parallel()
	const max = 300
	leaves := testLeaves(max)
	// The nodes each leaf's Append returned, to compare the restored trees' appends with.
	orig, store := NewTree(), NewMemStore()
	perLeaf := make([][]Node, max)
	for i, l := range leaves {
		nodes, err := orig.Append(l)
		if err != nil {
			t.Fatal(err)
		}
		perLeaf[i] = nodes
		store.Put(nodes)
	}
	ctx := context.Background()
	for size := 0; size <= max; size++ {
		tree, err := Restore(ctx, store, uint64(size))
		if err != nil {
			t.Fatalf("Restore(%d): %v", size, err)
		}
		if got, want := tree.Root(), refRoot(leaves[:size]); !bytes.Equal(got, want) {
			t.Fatalf("Restore(%d).Root() = %x, want %x", size, got, want)
		}
		for i := size; i < max; i++ {
			nodes, err := tree.Append(leaves[i])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(nodes, perLeaf[i], nodeEqual) {
				t.Fatalf("restored at %d: Append of leaf %d returned other nodes", size, i)
			}
		}
		if !bytes.Equal(tree.Root(), orig.Root()) {
			t.Fatalf("restored at %d: final root differs", size)
		}
	}
}

func TestRestoreMissingNode(t *testing.T) {
	t.Parallel()
	_, store := buildStore(t, testLeaves(4))
	if _, err := Restore(context.Background(), store, 5); !errors.Is(err, ErrMissingNode) {
		t.Errorf("Restore beyond the stored leaves: err = %v, want ErrMissingNode", err)
	}
	if _, err := Restore(context.Background(), NewMemStore(), 0); err != nil {
		t.Errorf("Restore(0) from an empty store: %v", err)
	}
}

func TestAppendRejectsBadLeaf(t *testing.T) {
	t.Parallel()
	tree, _ := buildStore(t, testLeaves(3))
	root := tree.Root()
	if _, err := tree.Append(testLeaves(1)[0], make([]byte, 31)); err == nil {
		t.Fatal("Append accepted a 31-byte leaf hash")
	}
	if tree.Size() != 3 || !bytes.Equal(tree.Root(), root) {
		t.Error("a rejected Append changed the tree")
	}
}

func TestClone(t *testing.T) {
	t.Parallel()
	leaves := testLeaves(10)
	a, _ := buildStore(t, leaves[:7])
	b := a.Clone()
	if _, err := a.Append(leaves[7]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(leaves[8], leaves[9]); err != nil {
		t.Fatal(err)
	}
	if got, want := a.Root(), refRoot(leaves[:8]); !bytes.Equal(got, want) {
		t.Errorf("original root after clone = %x, want %x", got, want)
	}
	want := refRoot(append(slices.Clone(leaves[:7]), leaves[8], leaves[9]))
	if got := b.Root(); !bytes.Equal(got, want) {
		t.Errorf("clone root = %x, want %x", got, want)
	}
}

func TestAppendDoesNotAlias(t *testing.T) {
	t.Parallel()
	leaf := testLeaves(1)[0]
	tree := NewTree()
	nodes, err := tree.Append(leaf)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(leaf)
	leaf[0] ^= 1
	if !bytes.Equal(nodes[0].Hash, want) || !bytes.Equal(tree.Root(), want) {
		t.Error("tree or returned node aliases the caller's leaf hash")
	}
	root := tree.Root()
	root[0] ^= 1
	if !bytes.Equal(tree.Root(), want) {
		t.Error("Root aliases the tree's state")
	}
}
