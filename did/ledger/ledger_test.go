package ledger

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := f.ctx
	if got := f.l.RootAuthority(); got != f.root.did {
		t.Fatalf("RootAuthority = %s, want %s", got, f.root.did)
	}
	iss := f.issuer("agency")

	// The issuer resolves, with absolute ids.
	doc, err := f.l.ResolveDID(ctx, iss.did)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Key(iss.kid(), did.AssertionMethod); err != nil {
		t.Fatalf("issuer key: %v", err)
	}
	if _, err := did.ResolveKey(ctx, f.l.DIDResolver(), iss.kid(), did.AssertionMethod); err != nil {
		t.Fatalf("via did.Resolver: %v", err)
	}

	// Anchor a batch, then prove it is in the log and build a receipt.
	digests := make([][]byte, 5)
	for i := range digests {
		sum := sha256.Sum256([]byte{byte(i)})
		digests[i] = sum[:]
	}
	root, proofs := merklelog.BatchProofs(digests)
	res := f.mustOK(mustSign(t, NewAnchor(iss.did, root, uint64(len(digests)), "batch-1"), iss.key, iss.kid()))
	a, err := f.l.Anchor(ctx, iss.did, "batch-1")
	if err != nil {
		t.Fatal(err)
	}
	if a.LeafIndex != res.LeafIndex || !bytes.Equal(a.Root, root) || a.Count != 5 {
		t.Fatalf("anchor record %+v, result %+v", a, res)
	}
	cp, err := f.l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, v := nodeKey(t)
	c, err := merklelog.OpenCheckpoint(cp, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != f.l.Status(ctx).Size || c.Height != f.l.Status(ctx).Height {
		t.Fatalf("checkpoint %+v, status %+v", c, f.l.Status(ctx))
	}
	incl, err := f.l.InclusionProof(ctx, a.LeafIndex, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := merklelog.VerifyInclusion(merklelog.LeafHash([]byte(a.Op)), a.LeafIndex, c.Size, incl, c.Root); err != nil {
		t.Fatal(err)
	}
	cons, err := f.l.ConsistencyProof(ctx, 1, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := f.l.Block(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := merklelog.VerifyConsistency(1, c.Size, cons, genesis.LogRoot, c.Root); err != nil {
		t.Fatal(err)
	}
	// A receipt per credential verifies offline.
	signed, logProof, err := f.l.ProveLeaf(ctx, a.LeafIndex)
	if err != nil {
		t.Fatal(err)
	}
	signedCP, _ := merklelog.OpenCheckpoint(signed, note.VerifierList(v))
	for i := range digests {
		r := merklelog.Receipt{Digest: digests[i], BatchIndex: uint64(i), BatchSize: uint64(len(digests)), BatchProof: proofs[i],
			AnchorOp: a.Op, LeafIndex: a.LeafIndex, TreeSize: signedCP.Size, InclusionProof: logProof, Checkpoint: string(signed)}
		if _, err := merklelog.VerifyReceipt(r, []byte{byte(i)}, note.VerifierList(v)); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
	}

	// Status list publication.
	dig := sha256.Sum256([]byte("list v1"))
	f.mustOK(mustSign(t, NewStatus(iss.did, "https://agency.example/status/1", dig[:], 1), iss.key, iss.kid()))
	sr, err := f.l.StatusList(ctx, "https://agency.example/status/1")
	if err != nil || sr.Seq != 1 || sr.Issuer != iss.did {
		t.Fatalf("StatusList = %+v, %v", sr, err)
	}

	// Accreditation query.
	acc, err := f.l.Accreditation(ctx, iss.did, "DrivingLicence", t0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Issuer != iss.did || !acc.From.Equal(t0) {
		t.Fatalf("Accreditation = %+v", acc)
	}
	if _, err := f.l.Accreditation(ctx, iss.did, "Degree", t0.AddDate(1, 0, 0)); !errors.Is(err, ErrNotAccredited) {
		t.Fatalf("other type: err = %v", err)
	}

	// Unknown and malformed DIDs.
	other := newActor("nobody")
	other.createOp(t)
	if _, err := f.l.ResolveDID(ctx, other.did); !errors.Is(err, did.ErrNotFound) {
		t.Fatalf("unknown DID: err = %v", err)
	}
	if _, err := f.l.ResolveDID(ctx, "did:ez:nope"); !errors.Is(err, did.ErrInvalidDID) {
		t.Fatalf("malformed DID: err = %v", err)
	}
	if _, err := f.l.Op(ctx, 1<<40); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Op of a missing leaf: err = %v", err)
	}
	if _, err := f.l.InclusionProof(ctx, 0, f.l.Status(ctx).Size+1); !errors.Is(err, ErrRange) {
		t.Fatalf("proof beyond the log: err = %v", err)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.issuer("agency")
	f.mustOK(f.anchorOp(iss, "b1"))
	before := f.l.Status(f.ctx)
	cp1, _ := f.l.Checkpoint(f.ctx)
	if err := f.l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Submit(f.ctx, f.anchorOp(iss, "b2")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: err = %v", err)
	}
	f.open()
	after := f.l.Status(f.ctx)
	if after.Size != before.Size || after.Height != before.Height || !bytes.Equal(after.Root, before.Root) {
		t.Fatalf("after reopen %+v, before %+v", after, before)
	}
	cp2, _ := f.l.Checkpoint(f.ctx)
	if !bytes.Equal(cp1, cp2) {
		t.Fatal("checkpoint changed across reopen")
	}
	// The restored tree appends correctly.
	r := f.mustOK(f.anchorOp(iss, "b2"))
	if r.LeafIndex != before.Size {
		t.Fatalf("leaf index after reopen = %d, want %d", r.LeafIndex, before.Size)
	}

	// Another genesis is refused.
	f.l.Close()
	cfg := f.cfg
	other := newActor("other root")
	cfg.Genesis.Create = other.createOp(t)
	if _, err := Open(f.ctx, cfg); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("other genesis: err = %v", err)
	}
	f.open()
}

func TestSubmitBatchOrderAndP256(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A P-256 controller: ES256 operations.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecUpd, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecRec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	create := mustCreate(t, NewDocument(ec.Public()), ecUpd.Public(), ecRec.Public())
	id := DIDOf(create)
	cj := mustSign(t, create, ecUpd, "")
	upd := NewUpdate(id, VersionID(cj), Patch{Action: ActionAddServices, Services: []Service{{ID: "#svc", Type: "LinkedDomains", Endpoint: "https://agency.example"}}})
	uj := mustSign(t, upd, ecUpd, "")
	// Create and update in one block: the update sees the create.
	rs, err := f.l.SubmitBatch(f.ctx, []string{cj, uj})
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].OK() || !rs[1].OK() || rs[0].Height != rs[1].Height || rs[1].LeafIndex != rs[0].LeafIndex+1 {
		t.Fatalf("results %+v", rs)
	}
	res, err := f.l.Resolve(f.ctx, id, ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Document.Service) != 1 || res.Document.Service[0].ID != id+"#svc" || res.Metadata.VersionID != VersionID(uj) {
		t.Fatalf("resolution %+v", res)
	}
}

func TestDeactivatedResolution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.create("holder")
	deact := mustSign(t, NewDeactivate(a.did, a.version, a.recovery.Public()), a.recovery, "")
	f.mustOK(deact)
	res, err := f.l.Resolve(f.ctx, a.did, ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Metadata.Deactivated || len(res.Document.VerificationMethod) != 0 || res.Metadata.Updated.IsZero() {
		t.Fatalf("resolution %+v", res)
	}
	if _, err := did.ResolveKey(f.ctx, f.l.DIDResolver(), a.kid(), did.AssertionMethod); !errors.Is(err, did.ErrKeyNotFound) {
		t.Fatalf("key of a deactivated DID: err = %v", err)
	}
	// The version before deactivation still resolves, with its successor in the metadata.
	old, err := f.l.Resolve(f.ctx, a.did, ResolveQuery{VersionID: VersionID(a.createOp(t))})
	if err != nil {
		t.Fatal(err)
	}
	if old.Metadata.Deactivated || len(old.Document.VerificationMethod) != 1 || old.Metadata.NextVersionID != VersionID(deact) {
		t.Fatalf("old version %+v", old.Metadata)
	}
}

func TestGenesisFile(t *testing.T) {
	t.Parallel()
	g, root := testGenesis(t)
	b := g.Encode()
	g2, err := ParseGenesis(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g2.Encode(), b) || g2.RootAuthority() != root.did {
		t.Fatalf("round trip: %s", g2.Encode())
	}
	for name, in := range map[string]string{
		"extra member":  `{"create":"x","origin":"o","time":"2025-01-01T00:00:00Z","x":1}`,
		"duplicate":     `{"origin":"o","origin":"p","time":"2025-01-01T00:00:00Z","create":"x"}`,
		"bad create":    `{"create":"x.y.z","origin":"o","time":"2025-01-01T00:00:00Z"}`,
		"origin spaces": string(bytes.Replace(b, []byte(testOrigin), []byte("a b"), 1)),
	} {
		if _, err := ParseGenesis([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// NewGenesis builds a valid one.
	upd, rec := seedKey("g upd"), seedKey("g rec")
	if _, err := NewGenesis(testOrigin, t0, NewDocument(seedKey("g key").Public()), upd, rec.Public()); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	g, _ := testGenesis(t)
	s, v := nodeKey(t)
	otherS, otherV := func() (note.Signer, note.Verifier) {
		sk, vk, _ := merklelog.KeyFromSeed("other.example/log", make([]byte, 32))
		s, _ := note.NewSigner(sk)
		v, _ := note.NewVerifier(vk)
		return s, v
	}()
	dir := t.TempDir()
	for name, cfg := range map[string]Config{
		"no path":         {Genesis: g, Signer: s, Verifier: v},
		"no signer":       {Path: filepath.Join(dir, "a"), Genesis: g},
		"signer name":     {Path: filepath.Join(dir, "b"), Genesis: g, Signer: otherS, Verifier: otherV},
		"foreign verifer": {Path: filepath.Join(dir, "c"), Genesis: g, Signer: s, Verifier: otherV},
	} {
		if l, err := Open(context.Background(), cfg); err == nil {
			l.Close()
			t.Errorf("%s: opened", name)
		}
	}
}

// TestSignOpRejectsInvalid checks that building and signing invalid operations fails cleanly.
func TestSignOpRejectsInvalid(t *testing.T) {
	t.Parallel()
	k := seedKey("k")
	for name, op := range map[string]Op{
		"nil patch key":           NewUpdate("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw", VersionID("x"), Patch{Action: ActionAddKeys, Keys: []Key{{ID: "#k"}}}),
		"unknown action":          NewUpdate("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw", VersionID("x"), Patch{Action: "rename"}),
		"no root":                 NewAnchor("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw", nil, 1, "b"),
		"bad issuer":              NewAnchor("did:web:example.com", make([]byte, 32), 1, "b"),
		"until before from":       NewAccredit("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw", []string{"X"}, t0, t0, 1),
		"no types":                NewWithdraw("did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw", nil, t0, 1),
		"unknown type":            {Type: "delete"},
		"create without document": {Type: TypeCreate},
	} {
		if _, err := SignOp(op, k, "did:ez:EiAsuEsa_TzMpR8QnkVqEkG-_9Kb4T3E2HozMjVTeE9iYw#key-1"); err == nil || CodeOf(err) == "" {
			t.Errorf("%s: err = %v, want an *OpError", name, err)
		}
	}
	if DIDOf(Op{Type: TypeCreate}) != "" {
		t.Error("DIDOf of an invalid create is not empty")
	}
}
