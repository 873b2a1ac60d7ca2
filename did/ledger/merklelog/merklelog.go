// Package merklelog is the hashing layer of the DID ledger: the append-only RFC 6962/9162 Merkle
// log of accepted operations, its inclusion and consistency proofs, the C2SP tlog-checkpoint
// signed notes the ledger publishes after each block, the issuers' batch trees over credential
// digests, and the anchor receipts that tie a credential to a checkpoint (see
// docs/design/0002-ledger.md).
//
// The tree arithmetic comes from github.com/transparency-dev/merkle (rfc6962 hashing, compact
// ranges for appends, proof node selection) and the signed notes from
// golang.org/x/mod/sumdb/note; this package adds storage boundaries, strict parsing and the
// receipt format. Node hashes are addressed by compact.NodeID (level, index): level 0 holds the
// leaf hashes, and only complete (perfect subtree) nodes are ever stored, so a stored node never
// changes once written.
//
// Everything here is pure computation except the NodeReader calls, which take a context.
// Functions are safe for concurrent use unless their type says otherwise (Tree is not).
package merklelog

import (
	"context"
	"errors"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size in bytes of every hash in the log: leaf hashes, node hashes, roots,
// proof elements and credential digests (SHA-256).
const HashSize = 32

// MaxProofLen is the longest inclusion or consistency proof accepted in a receipt. A tree of
// 2^63 leaves needs at most 63 hashes for an inclusion proof; 64 leaves room for the
// consistency proof's extra seed.
const MaxProofLen = 64

// Errors. Each is wrapped with the precise reason; test for them with errors.Is.
var (
	// ErrMissingNode means a NodeReader does not hold a node that was asked for.
	ErrMissingNode = errors.New("merklelog: node not stored")
	// ErrProof means a proof could not be built for the given sizes, or did not verify.
	ErrProof = errors.New("merklelog: invalid proof")
	// ErrCheckpoint means a checkpoint is malformed, badly signed or signed by no known key.
	ErrCheckpoint = errors.New("merklelog: invalid checkpoint")
	// ErrReceipt means an anchor receipt is malformed or one of its checks failed; the
	// *ReceiptError carrying it says which.
	ErrReceipt = errors.New("merklelog: invalid receipt")
)

// NodeID is a node of the log's tree: compact.NodeID{Level, Index}, level 0 being the leaves.
type NodeID = compact.NodeID

// Node is a complete node of the tree with its hash, as returned by Tree.Append for storing.
type Node struct {
	ID   NodeID
	Hash []byte
}

// NodeReader fetches stored node hashes. The ledger's SQLite store implements it; MemStore is
// the in-memory implementation.
type NodeReader interface {
	// Nodes returns the hashes of ids, in the order of ids, each HashSize bytes. If one of them
	// is not stored it returns an error wrapping ErrMissingNode. The caller may keep the
	// returned slices; the implementation must not modify them afterwards.
	Nodes(ctx context.Context, ids []NodeID) ([][]byte, error)
}

// hasher is the RFC 6962 SHA-256 tree hasher used for every tree in this package.
var hasher = rfc6962.DefaultHasher

// factory builds the compact ranges of every Tree; one shared value, because compact ranges
// only merge with ranges from the same factory.
var factory = &compact.RangeFactory{Hash: hasher.HashChildren}

// LeafHash returns the RFC 6962 leaf hash of data: SHA-256(0x00 || data). The log's leaves are
// the operation JWS bytes; a batch tree's leaves are the 32-byte credential digests.
func LeafHash(data []byte) []byte {
	return hasher.HashLeaf(data)
}

// EmptyRoot returns the root hash of a tree with no leaves: SHA-256 of the empty string.
func EmptyRoot() []byte {
	return hasher.EmptyRoot()
}
