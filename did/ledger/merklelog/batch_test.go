package merklelog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
)

func testDigests(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		d := sha256.Sum256(fmt.Appendf(nil, "credential %d", i))
		out[i] = d[:]
	}
	return out
}

func TestBatchProofs(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 3, 5, 7, 8, 9, 100, 1000, 1025, 4099} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			digests := testDigests(n)
			leaves := make([][]byte, n)
			for i, d := range digests {
				leaves[i] = refLeaf(d)
			}
			want := refRoot(leaves)
			if got := BatchRoot(digests); !bytes.Equal(got, want) {
				t.Fatalf("BatchRoot = %x, want %x", got, want)
			}
			root, proofs := BatchProofs(digests)
			if !bytes.Equal(root, want) {
				t.Fatalf("BatchProofs root = %x, want %x", root, want)
			}
			if len(proofs) != n {
				t.Fatalf("%d proofs for %d digests", len(proofs), n)
			}
			_, store := buildStore(t, leaves)
			for i, p := range proofs {
				if err := VerifyInclusion(LeafHash(digests[i]), uint64(i), uint64(n), p, root); err != nil {
					t.Fatalf("proof %d: %v", i, err)
				}
				fromStore, err := InclusionProof(context.Background(), store, uint64(i), uint64(n))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(p, fromStore, bytes.Equal) {
					t.Fatalf("proof %d differs from InclusionProof over a MemStore", i)
				}
			}
		})
	}
}
