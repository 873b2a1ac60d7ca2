package ledger

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

// goldenOps returns one operation of each type, built from fixed keys, nonces and times, with
// the key that signs it and its kid.
func goldenOps(t testing.TB) []struct {
	op  Op
	key crypto.Signer
	kid string
} {
	holder := newActor("holder")
	create := mustCreate(t, NewDocument(holder.key.Public()), holder.update.Public(), holder.recovery.Public())
	create.Nonce = fixedNonce(holder.name)
	holder.did = DIDOf(create)
	prev := VersionID("previous operation")

	upd := NewUpdate(holder.did, prev,
		Patch{Action: ActionAddKeys, Keys: []Key{{ID: "#key-2", JWK: &jose.JSONWebKey{Key: seedKey("holder key-2").Public()}}}},
		Patch{Action: ActionAddServices, Services: []Service{{ID: "#svc-1", Type: "LinkedDomains", Endpoint: "https://agency.example/"}}},
		Patch{Action: ActionSetRelationships, Authentication: []string{"#key-1"}, AssertionMethod: []string{"#key-1", "#key-2"}},
		Patch{Action: ActionRemoveServices, IDs: []string{"#svc-1"}},
		Patch{Action: ActionRemoveKeys, IDs: []string{"#key-2"}})
	upd.NextUpdateKey = &jose.JSONWebKey{Key: seedKey("holder update v2").Public()}

	rec, err := NewRecover(holder.did, prev, NewDocument(seedKey("holder key-1 v2").Public()), seedKey("holder update v2").Public(),
		holder.recovery.Public(), seedKey("holder recovery v2").Public())
	if err != nil {
		t.Fatal(err)
	}
	deact := NewDeactivate(holder.did, prev, holder.recovery.Public())

	digests := make([][]byte, 3)
	for i := range digests {
		sum := sha256.Sum256(fmt.Appendf(nil, "credential %d", i))
		digests[i] = sum[:]
	}
	listDigest := sha256.Sum256([]byte("status list v1"))
	anchor := NewAnchor(holder.did, merklelog.BatchRoot(digests), 3, "2025-01-01/batch-0001")
	status := NewStatus(holder.did, "https://agency.example/status/1", listDigest[:], 1)
	accredit := NewAccredit(holder.did, []string{"DrivingLicence", "https://agency.example/vct/degree"}, t0, t0.AddDate(5, 0, 0), 1)
	withdraw := NewWithdraw(holder.did, []string{"DrivingLicence"}, t0.AddDate(1, 0, 0), 2)
	root := newActor("root")
	root.createOp(t)
	return []struct {
		op  Op
		key crypto.Signer
		kid string
	}{
		{create, holder.update, ""},
		{upd, holder.update, ""},
		{rec, holder.recovery, ""},
		{deact, holder.recovery, ""},
		{anchor, holder.key, holder.did + "#key-1"},
		{status, holder.key, holder.did + "#key-1"},
		{accredit, root.key, root.kid()},
		{withdraw, root.key, root.kid()},
	}
}

// TestGoldenPayloads pins the canonical payload bytes of every operation type, and checks
// that the signed operation parses back to the same bytes.
func TestGoldenPayloads(t *testing.T) {
	for _, g := range goldenOps(t) {
		payload, err := g.op.Canonical()
		if err != nil {
			t.Fatalf("%s: %v", g.op.Type, err)
		}
		golden(t, filepath.Join("ops", g.op.Type+".json"), append(payload, '\n'))
		jws := mustSign(t, g.op, g.key, g.kid)
		parsed, err := ParseOp(jws)
		if err != nil {
			t.Fatalf("%s: %v", g.op.Type, err)
		}
		if !bytes.Equal(parsed.Payload, payload) {
			t.Errorf("%s: parsed payload differs", g.op.Type)
		}
		again, err := parsed.Op.Canonical()
		if err != nil || !bytes.Equal(again, payload) {
			t.Errorf("%s: decoded op re-encodes differently: %v", g.op.Type, err)
		}
	}
	holder := newActor("holder")
	holder.createOp(t)
	golden(t, filepath.Join("ops", "create.did"), []byte(holder.did+"\n"))
}

// goldenScenario runs a fixed sequence of operations, one per Submit (so one per block, except
// the batch), including rejected ones, and returns the fixture.
func goldenScenario(t *testing.T) *fixture {
	f := newFixture(t)
	iss := f.issuer("agency")
	holder := f.create("holder")
	f.mustOK(f.anchorOp(iss, "batch-1"))
	f.submit(f.anchorOp(iss, "batch-1")) // duplicate
	d := sha256.Sum256([]byte("status list v1"))
	f.mustOK(mustSign(t, NewStatus(iss.did, "https://agency.example/status/1", d[:], 1), iss.key, iss.kid()))
	f.submit(tamperSig(f.anchorOp(iss, "batch-2"))) // bad signature
	u := f.update(holder, NewUpdate(holder.did, holder.version, Patch{Action: ActionAddServices,
		Services: []Service{{ID: "#svc", Type: "LinkedDomains", Endpoint: "https://holder.example/"}}}))
	// One block with an accepted op, a replay of it, a parse failure and another anchor.
	rs, err := f.l.SubmitBatch(f.ctx, []string{u, u, "not a JWS", f.anchorOp(iss, "batch-2")})
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].OK() || rs[1].Code != CodeStalePrev || rs[2].Code != CodeMalformed || !rs[3].OK() {
		t.Fatalf("batch results %+v", rs)
	}
	f.mustOK(mustSign(t, NewWithdraw(iss.did, []string{"DrivingLicence"}, t0.AddDate(3, 0, 0), f.seq), f.root.key, f.root.kid()))
	f.mustOK(mustSign(t, NewDeactivate(holder.did, VersionID(u), holder.recovery.Public()), holder.recovery, ""))
	return f
}

// TestGoldenCheckpoint pins the checkpoint (and so every block hash, log root and state root)
// of the fixed scenario.
func TestGoldenCheckpoint(t *testing.T) {
	f := goldenScenario(t)
	cp, err := f.l.Checkpoint(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "checkpoint.golden", cp)
}

// TestDeterminism runs the same scenario on two fresh ledgers and compares every block and
// checkpoint byte for byte.
func TestDeterminism(t *testing.T) {
	a, b := goldenScenario(t), goldenScenario(t)
	ha, hb := a.l.Status(a.ctx), b.l.Status(b.ctx)
	if ha.Height != hb.Height || ha.Height < 10 {
		t.Fatalf("heights %d and %d", ha.Height, hb.Height)
	}
	for h := uint64(0); h <= ha.Height; h++ {
		ba, err := a.l.Block(a.ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		bb, err := b.l.Block(b.ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ba.Hash, bb.Hash) || !bytes.Equal(ba.StateRoot, bb.StateRoot) || !bytes.Equal(ba.LogRoot, bb.LogRoot) {
			t.Fatalf("block %d differs:\n%s\n%s", h, ba.Header(), bb.Header())
		}
		ca, _ := a.l.store.Checkpoint(a.ctx, h)
		cb, _ := b.l.store.Checkpoint(b.ctx, h)
		if !bytes.Equal(ca, cb) || len(ca) == 0 {
			t.Fatalf("checkpoint %d differs:\n%s\n%s", h, ca, cb)
		}
	}
}
