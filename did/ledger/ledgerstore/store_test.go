package ledgerstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.sqlite")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func block(h uint64) Block {
	return Block{Height: h, Time: int64(1000 * h), Prev: hash("prev"), OpsHash: hash("ops"), LogSize: h + 1, LogRoot: hash("root"),
		ResultsHash: hash("results"), StateRoot: hash("state"), Hash: hash("block")}
}

func TestCommitAndRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.Head(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head of an empty store: %v", err)
	}
	tree := merklelog.NewTree()
	nodes, _ := tree.Append(hash("leaf 0"), hash("leaf 1"))
	c := &Changes{
		Block: block(0),
		Ops: []Op{{Height: 0, Pos: 0, JWS: "op-a", Code: "ok", Accepted: true, Leaf: 0},
			{Height: 0, Pos: 1, JWS: "op-b", Code: "duplicate", Reason: "again"},
			{Height: 0, Pos: 2, JWS: "op-c", Code: "ok", Accepted: true, Leaf: 1}},
		Nodes:      nodes,
		DIDs:       []DID{{ID: "did:ez:a", Seq: 1, VersionID: "v1", UpdateKey: []byte("{}"), RecoveryCommitment: "rc", Created: 5, Updated: 5, Doc: []byte("{}")}},
		Versions:   []Version{{DID: "did:ez:a", Seq: 1, VersionID: "v1", Time: 5, Doc: []byte("{}")}},
		Anchors:    []Anchor{{Issuer: "did:ez:a", Batch: "b", Root: hash("batch"), Count: 3, Leaf: 1}},
		Statuses:   []Status{{List: "l", Seq: 4, Issuer: "did:ez:a", Digest: hash("list"), Leaf: 1}},
		Trust:      []Trust{{Leaf: 1, Kind: KindAccredit, Authority: "did:ez:root", Seq: 1, Issuer: "did:ez:a", Types: []string{"X"}, From: 1, Until: 2}},
		Checkpoint: []byte("note"),
		Meta:       map[string][]byte{"genesis": []byte("g")},
	}
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Head(ctx); err != nil || !reflect.DeepEqual(h, c.Block) {
		t.Fatalf("Head = %+v, %v", h, err)
	}
	if ops, err := s.BlockOps(ctx, 0); err != nil || !reflect.DeepEqual(ops, c.Ops) {
		t.Fatalf("BlockOps = %+v, %v", ops, err)
	}
	if o, err := s.OpByLeaf(ctx, 1); err != nil || o.JWS != "op-c" || o.Pos != 2 {
		t.Fatalf("OpByLeaf = %+v, %v", o, err)
	}
	if d, err := s.DID(ctx, "did:ez:a"); err != nil || !reflect.DeepEqual(d, c.DIDs[0]) {
		t.Fatalf("DID = %+v, %v", d, err)
	}
	if v, err := s.VersionByID(ctx, "did:ez:a", "v1"); err != nil || v.Seq != 1 {
		t.Fatalf("VersionByID = %+v, %v", v, err)
	}
	if _, err := s.VersionAt(ctx, "did:ez:a", 4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("VersionAt before creation: %v", err)
	}
	if a, err := s.Anchor(ctx, "did:ez:a", "b"); err != nil || !reflect.DeepEqual(a, c.Anchors[0]) {
		t.Fatalf("Anchor = %+v, %v", a, err)
	}
	if st, err := s.LatestStatus(ctx, "l"); err != nil || !reflect.DeepEqual(st, c.Statuses[0]) {
		t.Fatalf("LatestStatus = %+v, %v", st, err)
	}
	if tr, err := s.Trust(ctx, "did:ez:a"); err != nil || !reflect.DeepEqual(tr, c.Trust) {
		t.Fatalf("Trust = %+v, %v", tr, err)
	}
	if used, err := s.TrustSeqUsed(ctx, "did:ez:root", 1); err != nil || !used {
		t.Fatalf("TrustSeqUsed = %t, %v", used, err)
	}
	if n, err := s.LatestCheckpoint(ctx); err != nil || string(n) != "note" {
		t.Fatalf("LatestCheckpoint = %q, %v", n, err)
	}
	if g, err := s.Meta(ctx, "genesis"); err != nil || string(g) != "g" {
		t.Fatalf("Meta = %q, %v", g, err)
	}
	ids := []merklelog.NodeID{{Level: 1, Index: 0}, {Level: 0, Index: 1}}
	hs, err := s.Nodes(ctx, ids)
	if err != nil || !bytes.Equal(hs[0], tree.Root()) || !bytes.Equal(hs[1], hash("leaf 1")) {
		t.Fatalf("Nodes = %x, %v", hs, err)
	}
	if _, err := s.Nodes(ctx, []merklelog.NodeID{{Level: 0, Index: 2}}); !errors.Is(err, merklelog.ErrMissingNode) {
		t.Fatalf("missing node: %v", err)
	}

	// A block whose rows clash is refused as a whole.
	bad := &Changes{Block: block(1), Ops: []Op{{Height: 1, JWS: "op-d", Code: "ok", Accepted: true, Leaf: 2}},
		Anchors: []Anchor{{Issuer: "did:ez:a", Batch: "b", Root: hash("x"), Count: 1, Leaf: 2, Height: 1}}}
	if err := s.Commit(ctx, bad); err == nil {
		t.Fatal("clashing anchor committed")
	}
	if _, err := s.Block(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("block 1 after a failed commit: %v", err)
	}
	if _, err := s.OpByLeaf(ctx, 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("op of a failed commit: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTest(t)
	if err := s.Commit(ctx, &Changes{Block: block(0)}); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if h, err := ro.Head(ctx); err != nil || h.Height != 0 {
		t.Fatalf("Head = %+v, %v", h, err)
	}
	if err := ro.Commit(ctx, &Changes{Block: block(1)}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Commit on a read-only store: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	os.WriteFile(other, []byte("not a database"), 0o644)
	if s, err := OpenReadOnly(ctx, other); err == nil {
		s.Close()
		t.Fatal("opened a non-database")
	}
}
