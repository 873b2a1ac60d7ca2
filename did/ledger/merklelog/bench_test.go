package merklelog

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
)

// BenchmarkAppend measures appending one leaf to a growing log (ns/op is per leaf), including
// the nodes it returns for storing.
func BenchmarkAppend(b *testing.B) {
	leaf := LeafHash([]byte("operation"))
	tree := NewTree()
	for b.Loop() {
		if _, err := tree.Append(leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// bigLog is a 10-million-leaf log in a MemStore, built once per test binary.
var bigLog = sync.OnceValues(func() (*MemStore, uint64) {
	const size = 10_000_000
	tree, store := NewTree(), NewMemStore()
	const chunk = 1 << 14
	leaves := make([][]byte, chunk)
	var buf [8]byte
	for done := uint64(0); done < size; done += chunk {
		for i := range leaves {
			binary.BigEndian.PutUint64(buf[:], done+uint64(i))
			leaves[i] = LeafHash(buf[:])
		}
		nodes, err := tree.Append(leaves...)
		if err != nil {
			panic(err)
		}
		store.Put(nodes)
	}
	return store, tree.Size()
})

// BenchmarkInclusionProof measures building an inclusion proof in a 10,000,000-leaf log held
// in a MemStore (about 640 MB of node hashes, reported as heap-MiB; building it takes about
// ten seconds and is not timed). Skipped with -short.
func BenchmarkInclusionProof(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 10M-leaf log")
	}
	store, size := bigLog()
	ctx := context.Background()
	var i uint64
	for b.Loop() {
		i = (i + 7_919_993) % size // leaves spread over the log
		if _, err := InclusionProof(ctx, store, i, size); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}

// BenchmarkVerifyReceipt measures verifying the golden receipt: SHA-256 of the credential, two
// inclusion proofs, parsing the anchor JWS and opening the checkpoint (one Ed25519 verify).
func BenchmarkVerifyReceipt(b *testing.B) {
	r, f := testReceipt(b)
	cred := f.credentials[fixtureCred]
	for b.Loop() {
		if _, err := VerifyReceipt(r, cred, f.verifiers); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchProofs measures the batch root and every inclusion proof of a
// 100,000-digest batch.
func BenchmarkBatchProofs(b *testing.B) {
	digests := testDigests(100_000)
	for b.Loop() {
		BatchProofs(digests)
	}
	b.ReportMetric(float64(len(digests))*float64(b.N)/b.Elapsed().Seconds(), "digests/s")
}

// BenchmarkSHA256 is the bare cost of one SHA-256 of 32 bytes, for comparison.
func BenchmarkSHA256(b *testing.B) {
	var in [32]byte
	for b.Loop() {
		in = sha256.Sum256(in[:])
	}
}

// BenchmarkEd25519Verify is the bare cost of one Ed25519 verification, for comparison.
func BenchmarkEd25519Verify(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(seed("bench"))
	msg := goldenCheckpoint().Text()
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}
