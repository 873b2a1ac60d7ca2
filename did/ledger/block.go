package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Block is a block header: what the block hash and the checkpoint commit to.
type Block struct {
	Height      uint64
	Time        time.Time // millisecond precision, UTC; set by the engine, never read from a clock in Apply
	Prev        []byte    // hash of the previous block; 32 zero bytes for block 0
	OpsHash     []byte    // SHA-256 over the SHA-256 of each operation JWS in block order
	LogSize     uint64    // Merkle log size after the block
	LogRoot     []byte    // Merkle log root after the block
	ResultsHash []byte    // SHA-256 of the canonical JSON array of the result codes in block order
	StateRoot   []byte    // SHA-256(prev state_root ‖ height ‖ log_size ‖ log_root ‖ results_hash)
	Hash        []byte    // SHA-256 of Header()
}

// zeroHash is the prev block hash and prev state root of block 0.
var zeroHash = make([]byte, sha256.Size)

// Header returns the canonical JSON the block hash is computed over: {height, log_root,
// log_size, ops_hash, prev, state_root, time}, hashes in base64url, time in Unix milliseconds.
func (b Block) Header() []byte {
	return canonicalJSON(map[string]any{
		"height":     b.Height,
		"time":       b.Time.UnixMilli(),
		"prev":       b64.EncodeToString(b.Prev),
		"ops_hash":   b64.EncodeToString(b.OpsHash),
		"log_size":   b.LogSize,
		"log_root":   b64.EncodeToString(b.LogRoot),
		"state_root": b64.EncodeToString(b.StateRoot),
	})
}

// Checkpoint returns the checkpoint the node signs after b.
func (b Block) Checkpoint(origin string) merklelog.Checkpoint {
	return merklelog.Checkpoint{Origin: origin, Size: b.LogSize, Root: b.LogRoot, Height: b.Height, Block: b.Hash}
}

func opsHash(ops []string) []byte {
	h := sha256.New()
	for _, o := range ops {
		sum := sha256.Sum256([]byte(o))
		h.Write(sum[:])
	}
	return h.Sum(nil)
}

func resultsHash(codes []string) []byte {
	if codes == nil {
		codes = []string{}
	}
	sum := sha256.Sum256(canonicalJSON(codes))
	return sum[:]
}

func stateRoot(prev []byte, height, logSize uint64, logRoot, results []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(binary.BigEndian.AppendUint64(nil, height))
	h.Write(binary.BigEndian.AppendUint64(nil, logSize))
	h.Write(logRoot)
	h.Write(results)
	return h.Sum(nil)
}

func blockHash(b Block) []byte {
	sum := sha256.Sum256(b.Header())
	return sum[:]
}

func leafHash(jws string) []byte { return merklelog.LeafHash([]byte(jws)) }

func blockFromStore(s ledgerstore.Block) Block {
	return Block{Height: s.Height, Time: time.UnixMilli(s.Time).UTC(), Prev: s.Prev, OpsHash: s.OpsHash, LogSize: s.LogSize,
		LogRoot: s.LogRoot, ResultsHash: s.ResultsHash, StateRoot: s.StateRoot, Hash: s.Hash}
}

func (b Block) store() ledgerstore.Block {
	return ledgerstore.Block{Height: b.Height, Time: b.Time.UnixMilli(), Prev: b.Prev, OpsHash: b.OpsHash, LogSize: b.LogSize,
		LogRoot: b.LogRoot, ResultsHash: b.ResultsHash, StateRoot: b.StateRoot, Hash: b.Hash}
}
