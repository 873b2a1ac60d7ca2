package ledgerstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// benchLeaves is the log size of the proof benchmarks; EZHENG_BENCH_LEAVES overrides it.
func benchLeaves(b *testing.B) uint64 {
	if s := os.Getenv("EZHENG_BENCH_LEAVES"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			b.Fatalf("EZHENG_BENCH_LEAVES=%q", s)
		}
		return n
	}
	return 10_000_000
}

// bigLog returns a store holding the Merkle log nodes of n synthetic leaves (leaf i's hash is
// SHA-256 of i) and its root. The file is built once in the temporary directory and reused by
// later runs (a marker file says it is complete): building 10,000,000 leaves — 20 million
// node rows, 870 MB — took 47 s on the 2-core development VM, appending 100,000 leaves per
// transaction of multi-row INSERTs with synchronous=OFF.
func bigLog(b *testing.B, n uint64) (*Store, []byte) {
	ctx := context.Background()
	path := filepath.Join(os.TempDir(), "ezheng-ledgerstore-bench-"+strconv.FormatUint(n, 10)+".sqlite")
	marker := path + ".complete"
	tree := merklelog.NewTree()
	leaf := func(i uint64) []byte { // the synthetic leaf hash of leaf i
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
		return h[:]
	}
	if root, err := os.ReadFile(marker); err == nil {
		s, err := OpenScratch(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		return s, root
	}
	os.Remove(path)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	s, err := OpenScratch(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const chunk = 100_000
	leaves := make([][]byte, 0, chunk)
	for i := uint64(0); i < n; {
		leaves = leaves[:0]
		for ; i < n && len(leaves) < chunk; i++ {
			leaves = append(leaves, leaf(i))
		}
		nodes, err := tree.Append(leaves...)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.PutNodes(ctx, nodes); err != nil {
			b.Fatal(err)
		}
	}
	size, _ := s.Size(ctx)
	b.Logf("built a log of %d leaves in %s (%d MB of nodes); cached at %s", n, time.Since(start).Round(time.Second), size>>20, path)
	root := tree.Root()
	if err := os.WriteFile(marker, root, 0o644); err != nil {
		b.Fatal(err)
	}
	return s, root
}

// BenchmarkInclusionProof reads and folds an inclusion proof of a random leaf in a log of
// 10,000,000 leaves from SQLite (set EZHENG_BENCH_LEAVES for another size).
func BenchmarkInclusionProof(b *testing.B) {
	n := benchLeaves(b)
	s, root := bigLog(b, n)
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	// Check one proof against the root before timing.
	i := rng.Uint64N(n)
	p, err := merklelog.InclusionProof(ctx, s, i, n)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
	if err := merklelog.VerifyInclusion(h[:], i, n, p, root); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := merklelog.InclusionProof(ctx, s, rng.Uint64N(n), n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsistencyProof reads a consistency proof from a random size to the full log of
// 10,000,000 leaves.
func BenchmarkConsistencyProof(b *testing.B) {
	n := benchLeaves(b)
	s, _ := bigLog(b, n)
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	for b.Loop() {
		if _, err := merklelog.ConsistencyProof(ctx, s, 1+rng.Uint64N(n-1), n); err != nil {
			b.Fatal(err)
		}
	}
}
