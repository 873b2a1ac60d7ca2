package merklelog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
)

// InclusionProof returns the RFC 9162 inclusion proof (audit path, lowest level first) of the
// leaf at index in the tree of size leaves. It reads only complete nodes from r and recomputes
// the one ephemeral node a proof may need. It returns an error wrapping ErrProof if
// index >= size, or wrapping ErrMissingNode if r lacks a node.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: inclusion of leaf %d in tree of size %d: %w", ErrProof, index, size, err)
	}
	p, err := fetchProof(ctx, r, nodes)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of leaf %d in tree of size %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 9162 consistency proof between the trees of size1 and size2
// leaves. It is empty when size1 is 0 or equals size2. It returns an error wrapping ErrProof if
// size1 > size2, or wrapping ErrMissingNode if r lacks a node.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: consistency of sizes %d and %d: %w", ErrProof, size1, size2, err)
	}
	p, err := fetchProof(ctx, r, nodes)
	if err != nil {
		return nil, fmt.Errorf("consistency proof of sizes %d and %d: %w", size1, size2, err)
	}
	return p, nil
}

// fetchProof reads the nodes of a proof and folds its ephemeral node.
func fetchProof(ctx context.Context, r NodeReader, nodes proof.Nodes) ([][]byte, error) {
	if len(nodes.IDs) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := readNodes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// VerifyInclusion checks that proof proves the leaf with leafHash at index in the tree of size
// leaves whose root hash is root. It returns nil or an error wrapping ErrProof: index out of
// range, a hash of the wrong size, a proof of the wrong length, or a root mismatch.
func VerifyInclusion(leafHash []byte, index, size uint64, proofHashes [][]byte, root []byte) error {
	if err := checkHashes(proofHashes); err != nil {
		return err
	}
	if err := proof.VerifyInclusion(hasher, index, size, leafHash, proofHashes, root); err != nil {
		return fmt.Errorf("%w: inclusion of leaf %d in tree of size %d: %w", ErrProof, index, size, short(err))
	}
	return nil
}

// VerifyConsistency checks that proof proves the tree of size2 leaves with root2 extends the
// tree of size1 leaves with root1. It returns nil or an error wrapping ErrProof: size1 > size2,
// a hash of the wrong size, a proof of the wrong length, or a root mismatch. The only valid
// proof from size 0 is the empty one, and root1 must then be EmptyRoot.
func VerifyConsistency(size1, size2 uint64, proofHashes [][]byte, root1, root2 []byte) error {
	if err := checkHashes(proofHashes); err != nil {
		return err
	}
	if size1 == 0 && !bytes.Equal(root1, EmptyRoot()) {
		return fmt.Errorf("%w: root of the empty tree is not the empty root", ErrProof)
	}
	if err := proof.VerifyConsistency(hasher, size1, size2, proofHashes, root1, root2); err != nil {
		return fmt.Errorf("%w: consistency of sizes %d and %d: %w", ErrProof, size1, size2, short(err))
	}
	return nil
}

// checkHashes rejects proofs longer than any tree needs and elements that are not hashes.
func checkHashes(p [][]byte) error {
	if len(p) > MaxProofLen {
		return fmt.Errorf("%w: %d hashes, at most %d", ErrProof, len(p), MaxProofLen)
	}
	for i, h := range p {
		if len(h) != HashSize {
			return fmt.Errorf("%w: hash %d is %d bytes, want %d", ErrProof, i, len(h), HashSize)
		}
	}
	return nil
}

// errRootMismatch replaces the library's root mismatch error, whose text lists both roots as
// byte arrays.
var errRootMismatch = errors.New("root mismatch")

func short(err error) error {
	var mismatch proof.RootMismatchError
	if errors.As(err, &mismatch) {
		return errRootMismatch
	}
	return err
}
