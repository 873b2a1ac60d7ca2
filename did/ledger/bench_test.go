package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did/ledger/ledgerstore"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Run with:
//
//	go test -run '^$' -bench 'Submit|Machine' -benchtime 20000x ./did/ledger/
//	go test -run '^$' -bench 'Resolve|DBGrowth|SHA|Ed25519|ParseOp' ./did/ledger/
//
// Operations are signed before the timer starts; the timed part is submission, validation
// (including signature verification), application, the block's SQLite transaction with
// synchronous=FULL, and the signed checkpoint. The proof benchmarks over a 10,000,000-leaf
// log are in ledgerstore.

func randomCreates(b *testing.B, n int) []string {
	out := make([]string, n)
	for i := range out {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		upd, updPriv, _ := ed25519.GenerateKey(rand.Reader)
		rec, _, _ := ed25519.GenerateKey(rand.Reader)
		op, err := NewCreate(NewDocument(pub), upd, rec)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = mustSign(b, op, updPriv, "")
	}
	return out
}

// submitParallel submits ops from workers goroutines in batches of batch, and fails on any
// rejection.
func submitParallel(b *testing.B, l *Ledger, ops []string, workers, batch int) {
	var wg sync.WaitGroup
	next := make(chan []string)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range next {
				rs, err := l.SubmitBatch(context.Background(), chunk)
				if err != nil {
					b.Error(err)
					return
				}
				for _, r := range rs {
					if !r.OK() {
						b.Errorf("rejected: %s %s", r.Code, r.Reason)
						return
					}
				}
			}
		}()
	}
	for len(ops) > 0 {
		n := min(batch, len(ops))
		next <- ops[:n]
		ops = ops[n:]
	}
	close(next)
	wg.Wait()
}

func benchFixture(b *testing.B) *fixture {
	return newFixture(b, func(c *Config) {
		c.Now = time.Now
		c.BlockInterval = DefaultBlockInterval
	})
}

// BenchmarkSubmitCreate measures create operations committed per second, submitted by 32
// goroutines in batches of 50 so that blocks fill up to MaxBlockOps.
func BenchmarkSubmitCreate(b *testing.B) {
	f := benchFixture(b)
	ops := randomCreates(b, b.N)
	b.ResetTimer()
	submitParallel(b, f.l, ops, 32, 50)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkSubmitAnchor measures anchor operations (one accredited issuer, distinct batches)
// committed per second.
func BenchmarkSubmitAnchor(b *testing.B) {
	f := benchFixture(b)
	iss := f.issuer("agency")
	ops := make([]string, b.N)
	for i := range ops {
		root := sha256.Sum256(fmt.Append(nil, i))
		ops[i] = mustSign(b, NewAnchor(iss.did, root[:], 1000, fmt.Sprint("batch-", i)), iss.key, iss.kid())
	}
	b.ResetTimer()
	submitParallel(b, f.l, ops, 32, 50)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkMachineBlock measures the state machine alone: blocks of 1000 create operations
// applied, finished and committed (no engine, no checkpoint signature).
func BenchmarkMachineBlock(b *testing.B) {
	ctx := context.Background()
	store, err := ledgerstore.Open(ctx, filepath.Join(b.TempDir(), "m.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	m, err := NewMachine(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	g, _ := testGenesis(b)
	p, err := m.Genesis(ctx, g)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Finish(); err != nil {
		b.Fatal(err)
	}
	if err := m.Commit(ctx, p, nil); err != nil {
		b.Fatal(err)
	}
	const perBlock = 1000
	ops := randomCreates(b, b.N)
	parsed := make([]*SignedOp, len(ops))
	for i, o := range ops {
		if parsed[i], err = ParseOp(o); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for start := 0; start < len(ops); start += perBlock {
		head, _ := m.Head()
		p, err := m.Begin(head.Height+1, t0.Add(time.Duration(head.Height+1)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		for i := start; i < min(start+perBlock, len(ops)); i++ {
			if r, err := p.Apply(ctx, ops[i], parsed[i]); err != nil || !r.OK() {
				b.Fatal(r, err)
			}
		}
		if _, err := p.Finish(); err != nil {
			b.Fatal(err)
		}
		if err := m.Commit(ctx, p, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkResolve measures resolving the current document of one of 1000 DIDs.
func BenchmarkResolve(b *testing.B) {
	f := benchFixture(b)
	ops := randomCreates(b, 1000)
	submitParallel(b, f.l, ops, 8, 100)
	ids := make([]string, len(ops))
	for i, o := range ops {
		p, _ := ParseOp(o)
		ids[i] = DIDOf(p.Op)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.l.Resolve(f.ctx, ids[i%len(ids)], ResolveQuery{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveVersionTime measures resolving a DID with 21 versions as of a time before
// the last 20.
func BenchmarkResolveVersionTime(b *testing.B) {
	f := benchFixture(b)
	a := f.create("holder")
	at := time.Now()
	for i := range 20 {
		p := Patch{Action: ActionAddServices, Services: []Service{{ID: "#s", Type: "T", Endpoint: "https://x.example"}}}
		if i%2 == 1 {
			p = Patch{Action: ActionRemoveServices, IDs: []string{"#s"}}
		}
		op := NewUpdate(a.did, a.version, p)
		jws := mustSign(b, op, a.update, "")
		f.mustOK(jws)
		a.version = VersionID(jws)
	}
	for b.Loop() {
		if _, err := f.l.Resolve(f.ctx, a.did, ResolveQuery{VersionTime: at}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDBGrowth anchors one million credentials per iteration (100 anchor operations for
// batches of 10,000 digests) and reports the database growth per million credentials.
func BenchmarkDBGrowth(b *testing.B) {
	f := benchFixture(b)
	iss := f.issuer("agency")
	before, err := f.l.store.Size(f.ctx)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		ops := make([]string, 100)
		for i := range ops {
			root := sha256.Sum256(fmt.Append(nil, n))
			ops[i] = mustSign(b, NewAnchor(iss.did, root[:], 10000, fmt.Sprintf("2025-01-01/batch-%06d", n)), iss.key, iss.kid())
			n++
		}
		rs, err := f.l.SubmitBatch(f.ctx, ops)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if !r.OK() {
				b.Fatal(r)
			}
		}
	}
	after, err := f.l.store.Size(f.ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/1M-credentials")
}

// BenchmarkSHA256Leaf and BenchmarkEd25519Verify are the primitives, for comparison.
func BenchmarkSHA256Leaf(b *testing.B) {
	data := make([]byte, 700) // about an anchor operation's JWS
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		leafHash(string(data))
	}
}

func BenchmarkSHA256Digest(b *testing.B) {
	data := make([]byte, 32)
	for b.Loop() {
		sha256.Sum256(data)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 700)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("no")
		}
	}
}

// BenchmarkParseOp measures the stateless checks of an anchor operation (no signature).
func BenchmarkParseOp(b *testing.B) {
	iss := newActor("agency")
	iss.createOp(b)
	root := sha256.Sum256(nil)
	jws := mustSign(b, NewAnchor(iss.did, root[:], 1000, "b"), iss.key, iss.kid())
	for b.Loop() {
		if _, err := ParseOp(jws); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnchorDigests measures credential digests anchored per second through batching,
// ledger side: for each batch of 100,000 digests, the batch Merkle root and every digest's
// batch proof (what the issuer needs for receipts), the anchor operation signed, submitted and
// committed, and the newest checkpoint with the anchor's inclusion proof. One op is one digest.
func BenchmarkAnchorDigests(b *testing.B) {
	const batchSize = 100_000
	f := benchFixture(b)
	iss := f.issuer("agency")
	digests := make([][]byte, batchSize)
	for i := range digests {
		d := sha256.Sum256(fmt.Append(nil, "credential ", i))
		digests[i] = d[:]
	}
	ctx := context.Background()
	b.ResetTimer()
	batches := 0
	for done := 0; done < b.N; done += batchSize {
		root, proofs := merklelog.BatchProofs(digests)
		op := mustSign(b, NewAnchor(iss.did, root, batchSize, fmt.Sprint("bench-", batches)), iss.key, iss.kid())
		res, err := f.l.Submit(ctx, op)
		if err != nil || !res.OK() {
			b.Fatalf("anchor: %v %+v", err, res)
		}
		if _, _, err := f.l.ProveLeaf(ctx, res.LeafIndex); err != nil {
			b.Fatal(err)
		}
		_ = proofs
		batches++
	}
	b.ReportMetric(float64(batches*batchSize)/b.Elapsed().Seconds(), "digests/s")
}
