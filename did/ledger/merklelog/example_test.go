package merklelog_test

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"golang.org/x/mod/sumdb/note"
)

// A log appends leaves, stores the nodes Append returns, and serves proofs from the store.
func Example() {
	ctx := context.Background()
	tree, store := merklelog.NewTree(), merklelog.NewMemStore()
	for _, op := range []string{"op one", "op two", "op three"} {
		nodes, err := tree.Append(merklelog.LeafHash([]byte(op)))
		if err != nil {
			panic(err)
		}
		store.Put(nodes)
	}
	proof, err := merklelog.InclusionProof(ctx, store, 1, tree.Size())
	if err != nil {
		panic(err)
	}
	err = merklelog.VerifyInclusion(merklelog.LeafHash([]byte("op two")), 1, tree.Size(), proof, tree.Root())
	fmt.Println(len(proof), err)
	// Output: 2 <nil>
}

// The ledger signs a checkpoint after each block; anyone with its verifier key opens it.
func ExampleSignCheckpoint() {
	seed := sha256.Sum256([]byte("example only: derive from sealed key material"))
	skey, vkey, err := merklelog.KeyFromSeed("ezheng.example/ledger/city", seed[:])
	if err != nil {
		panic(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)

	block := sha256.Sum256([]byte("block 0"))
	signed, err := merklelog.SignCheckpoint(merklelog.Checkpoint{
		Origin: "ezheng.example/ledger/city",
		Size:   0,
		Root:   merklelog.EmptyRoot(),
		Height: 0,
		Block:  block[:],
	}, signer)
	if err != nil {
		panic(err)
	}
	c, err := merklelog.OpenCheckpoint(signed, note.VerifierList(verifier))
	fmt.Println(c.Origin, c.Size, c.Height, err)
	// Output: ezheng.example/ledger/city 0 0 <nil>
}
