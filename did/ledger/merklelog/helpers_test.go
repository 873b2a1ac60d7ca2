package merklelog

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s changed (bytes that are hashed, signed or anchored must not drift):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// Reference RFC 9162 section 2.1 algorithms, written from the RFC on top of crypto/sha256 alone,
// to check the library-backed code against.

func refLeaf(data []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, data...))
	return h[:]
}

func refNode(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

// refSplit is the largest power of two smaller than n (n >= 2).
func refSplit(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// refRoot is MTH over leaf hashes.
func refRoot(leaves [][]byte) []byte {
	switch n := len(leaves); n {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	default:
		k := refSplit(n)
		return refNode(refRoot(leaves[:k]), refRoot(leaves[k:]))
	}
}

// refPath is PATH(m, D[n]).
func refPath(m int, leaves [][]byte) [][]byte {
	n := len(leaves)
	if n <= 1 {
		return [][]byte{}
	}
	k := refSplit(n)
	if m < k {
		return append(refPath(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refRoot(leaves[:k]))
}

// refConsistency is PROOF(m, D[n]).
func refConsistency(m int, leaves [][]byte) [][]byte {
	if m == 0 {
		return [][]byte{}
	}
	return refSubproof(m, leaves, true)
}

func refSubproof(m int, leaves [][]byte, b bool) [][]byte {
	n := len(leaves)
	if m == n {
		if b {
			return [][]byte{}
		}
		return [][]byte{refRoot(leaves)}
	}
	k := refSplit(n)
	if m <= k {
		return append(refSubproof(m, leaves[:k], b), refRoot(leaves[k:]))
	}
	return append(refSubproof(m-k, leaves[k:], false), refRoot(leaves[:k]))
}

// testLeaves returns the leaf hashes of n distinct leaves, computed with the reference hash.
func testLeaves(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = refLeaf(fmt.Appendf(nil, "leaf %d", i))
	}
	return out
}

// buildStore appends leaves to a new Tree and stores every node it returns.
func buildStore(t testing.TB, leaves [][]byte) (*Tree, *MemStore) {
	t.Helper()
	tree, store := NewTree(), NewMemStore()
	nodes, err := tree.Append(leaves...)
	if err != nil {
		t.Fatal(err)
	}
	store.Put(nodes)
	return tree, store
}

// Fixed test keys and values. The seeds are SHA-256 of fixed strings, so the golden files
// can be regenerated anywhere.
const (
	testOrigin = "ezheng.example/ledger/test"
	testIssuer = "did:ez:EiDmerklelogTestIssuer0000000000000000000000"
)

func seed(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// testKey returns the ledger's test note signer and verifiers for name.
func testKey(t testing.TB, name, seedText string) (note.Signer, note.Verifiers) {
	t.Helper()
	skey, vkey, err := KeyFromSeed(name, seed(seedText))
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, note.VerifierList(v)
}

func ledgerKey(t testing.TB) (note.Signer, note.Verifiers) {
	return testKey(t, testOrigin, "merklelog test ledger key")
}

func issuerKey() jose.SigningKey {
	return jose.SigningKey{Algorithm: jose.EdDSA, Key: ed25519.NewKeyFromSeed(seed("merklelog test issuer key"))}
}

// signAnchor returns an anchor operation JWS over the canonical payload of the given members.
func signAnchor(t testing.TB, key jose.SigningKey, payload map[string]any) string {
	t.Helper()
	body, err := json.Marshal(payload) // encoding/json sorts map members: canonical JSON.
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("ez-op+jwt").WithHeader("kid", testIssuer+"#key-1")
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	op, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func anchorPayload(root []byte, count int, batch string) map[string]any {
	return map[string]any{
		"type":   "anchor",
		"issuer": testIssuer,
		"root":   base64.RawURLEncoding.EncodeToString(root),
		"count":  count,
		"batch":  batch,
	}
}

// fixture is an anchored batch in a small log, built end to end with real keys.
type fixture struct {
	credentials [][]byte
	digests     [][]byte
	batchRoot   []byte
	batchProofs [][][]byte
	store       *MemStore
	tree        *Tree
	signer      note.Signer
	verifiers   note.Verifiers
}

const (
	fixtureBatch  = 5  // digests in the batch
	fixtureBefore = 10 // log leaves before the anchor op
	fixtureAfter  = 6  // log leaves after it
	fixtureCred   = 2  // the credential the receipt is for
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{store: NewMemStore(), tree: NewTree()}
	f.signer, f.verifiers = ledgerKey(t)
	for i := range fixtureBatch {
		c := fmt.Appendf(nil, `{"vc":"test credential %d"}`, i)
		d := sha256.Sum256(c)
		f.credentials = append(f.credentials, c)
		f.digests = append(f.digests, d[:])
	}
	f.batchRoot, f.batchProofs = BatchProofs(f.digests)
	return f
}

// appendOps appends operation JWS bytes as log leaves and stores the nodes.
func (f *fixture) appendOps(t testing.TB, ops ...string) {
	t.Helper()
	for _, op := range ops {
		nodes, err := f.tree.Append(LeafHash([]byte(op)))
		if err != nil {
			t.Fatal(err)
		}
		f.store.Put(nodes)
	}
}

// receipt anchors op (after fixtureBefore other operations, followed by fixtureAfter more),
// signs the checkpoint and returns the receipt for credential fixtureCred.
func (f *fixture) receipt(t testing.TB, op string) Receipt {
	t.Helper()
	for i := range fixtureBefore {
		f.appendOps(t, fmt.Sprintf("other operation %d", i))
	}
	leaf := f.tree.Size()
	f.appendOps(t, op)
	for i := range fixtureAfter {
		f.appendOps(t, fmt.Sprintf("later operation %d", i))
	}
	size := f.tree.Size()
	incl, err := InclusionProof(context.Background(), f.store, leaf, size)
	if err != nil {
		t.Fatal(err)
	}
	block := sha256.Sum256([]byte("block 3"))
	cp, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: size, Root: f.tree.Root(), Height: 3, Block: block[:]}, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	return Receipt{
		Digest:         f.digests[fixtureCred],
		BatchIndex:     fixtureCred,
		BatchSize:      fixtureBatch,
		BatchProof:     f.batchProofs[fixtureCred],
		AnchorOp:       op,
		LeafIndex:      leaf,
		TreeSize:       size,
		InclusionProof: incl,
		Checkpoint:     string(cp),
	}
}

// testReceipt is the golden receipt: credential fixtureCred of a 5-digest batch anchored by
// an EdDSA-signed operation at leaf 10 of a 17-leaf log.
func testReceipt(t testing.TB) (Receipt, *fixture) {
	t.Helper()
	f := newFixture(t)
	op := signAnchor(t, issuerKey(), anchorPayload(f.batchRoot, fixtureBatch, "batch-0001"))
	return f.receipt(t, op), f
}
