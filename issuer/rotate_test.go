package issuer_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/issuerstore"
)

// flakyLedger loses the ledger's answer: with lose set, Submit submits and then reports a
// failure, as a crash or a dropped connection after the ledger accepted would; with drop set,
// it reports a failure without submitting.
type flakyLedger struct {
	*ledger.Ledger
	lose, drop atomic.Bool
}

func (f *flakyLedger) Submit(ctx context.Context, op string) (ledger.Result, error) {
	if f.drop.Load() {
		return ledger.Result{}, errors.New("connection refused")
	}
	res, err := f.Ledger.Submit(ctx, op)
	if err == nil && f.lose.Load() {
		return ledger.Result{}, errors.New("connection reset after submit")
	}
	return res, err
}

// versions resolves did:ez from the ledger with versions, as the server's resolver does.
type versions struct{ l *ledger.Ledger }

func (v versions) Resolve(ctx context.Context, d string) (*did.Document, error) {
	return v.l.ResolveDID(ctx, d)
}

func (v versions) ResolveVersion(ctx context.Context, d string, q did.Query) (*did.Document, did.Metadata, error) {
	res, err := v.l.Resolve(ctx, d, ledger.ResolveQuery{VersionID: q.VersionID, VersionTime: q.VersionTime})
	if err != nil {
		return nil, did.Metadata{}, err
	}
	return res.Document, did.Metadata{VersionID: res.Metadata.VersionID}, nil
}

type rotationWorld struct {
	store    *issuerstore.Store
	ledger   *flakyLedger
	sealer   *keys.Sealer
	verifier note.Verifier
	resolver did.Methods
}

func newRotationWorld(t *testing.T) *rotationWorld {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := issuerstore.Open(ctx, filepath.Join(dir, "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sealer, err := keys.NewSealer(bytes.Repeat([]byte{7}, keys.MasterKeySize), "issuer")
	if err != nil {
		t.Fatal(err)
	}
	boot, err := issuer.New(issuer.Config{Store: store, Anchors: store, Sealer: sealer, Resolver: did.Local{}})
	if err != nil {
		t.Fatal(err)
	}
	_, create, err := boot.CreateAuthority(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	const origin = "test.local/ledger"
	skey, vkey, err := merklelog.KeyFromSeed(origin, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	l, err := ledger.Open(ctx, ledger.Config{Path: filepath.Join(dir, "ledger.db"), Signer: signer, Verifier: verifier,
		Genesis: ledger.Genesis{Origin: origin, Time: time.Now().UTC(), Create: create}, BlockInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	fl := &flakyLedger{Ledger: l}
	return &rotationWorld{store: store, ledger: fl, sealer: sealer, verifier: verifier,
		resolver: did.Methods{"ez": versions{l}, "jwk": did.Local{}, "key": did.Local{}}}
}

// service is the issuer as a (re)started process sees it.
func (w *rotationWorld) service(t *testing.T) *issuer.Service {
	t.Helper()
	s, err := issuer.New(issuer.Config{Store: w.store, Anchors: w.store, Sealer: w.sealer, Resolver: w.resolver, Ledger: w.ledger, LedgerKey: w.verifier})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func currentKIDs(t *testing.T, w *rotationWorld, d string) []string {
	t.Helper()
	doc, err := w.ledger.ResolveDID(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, vm := range doc.VerificationMethod {
		ids = append(ids, vm.ID)
	}
	return ids
}

// TestRotateKeyPromotesAfterLostAnswer: the ledger accepts a rotation but the issuer never
// learns it (crash, lost answer). The new keys stay pending; the restarted issuer promotes
// them before it signs anything, and signs with the new key.
func TestRotateKeyPromotesAfterLostAnswer(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Transport", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	accredit(t, svc, a) // the ledger must accredit the agency for it to issue
	w.ledger.lose.Store(true)
	if _, err := svc.RotateKey(ctx, a); err == nil {
		t.Fatal("RotateKey succeeded with the answer lost")
	}
	w.ledger.lose.Store(false)
	p, err := w.store.PendingKeys(ctx, a.ID)
	if err != nil {
		t.Fatalf("pending keys: %v", err)
	}
	if want := a.DID + "#key-2"; p.KID != want {
		t.Fatalf("pending kid = %s, want %s", p.KID, want)
	}
	if got, _ := w.store.Agency(ctx, a.ID); got.KID != a.KID {
		t.Fatalf("kid before reconciliation = %s, want %s", got.KID, a.KID)
	}
	if ids := currentKIDs(t, w, a.DID); len(ids) != 1 || ids[0] != a.DID+"#key-2" {
		t.Fatalf("ledger keys = %v, want the pending #key-2", ids)
	}

	// Restart: the first signing promotes the pending keys.
	svc = w.service(t)
	holder, _ := keys.Generate(keys.ES256, nil)
	holderDID, _, _ := did.NewJWK(holder.Public())
	c, _, err := svc.Issue(ctx, a, issuer.IssueRequest{Type: "DrivingLicence", Holder: holderDID, Claims: demo.DrivingLicenceClaims})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := sdjwt.Parse(c.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := sd.Header["kid"].(string); kid != p.KID {
		t.Errorf("credential kid = %s, want the promoted %s", kid, p.KID)
	}
	if _, err := w.store.PendingKeys(ctx, a.ID); !errors.Is(err, issuer.ErrNotFound) {
		t.Errorf("pending keys after promotion: %v, want ErrNotFound", err)
	}
	got, _ := w.store.Agency(ctx, a.ID)
	if got.KID != p.KID {
		t.Errorf("agency kid = %s, want %s", got.KID, p.KID)
	}
	retired, err := w.store.RetiredKeys(ctx, a.ID)
	if err != nil || len(retired) != 1 || retired[0].KID != a.KID {
		t.Errorf("key history = %v %v, want [%s]", retired, err, a.KID)
	}

	// The promoted update key controls the DID: the next rotation goes through.
	a3, err := svc.RotateKey(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if want := a.DID + "#key-3"; a3.KID != want {
		t.Errorf("kid after the next rotation = %s, want %s", a3.KID, want)
	}
}

// TestRotateKeyAfterLostAnswerIsIdempotent: asked again after its answer was lost, RotateKey
// promotes the keys the ledger already has instead of rotating a second time.
func TestRotateKeyAfterLostAnswerIsIdempotent(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Transport", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	w.ledger.lose.Store(true)
	if _, err := svc.RotateKey(ctx, a); err == nil {
		t.Fatal("RotateKey succeeded with the answer lost")
	}
	w.ledger.lose.Store(false)
	got, err := w.service(t).RotateKey(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := a.DID + "#key-2"; got.KID != want {
		t.Errorf("kid = %s, want %s (promoted, not rotated twice)", got.KID, want)
	}
	if ids := currentKIDs(t, w, a.DID); len(ids) != 1 || ids[0] != got.KID {
		t.Errorf("ledger keys = %v, want [%s]", ids, got.KID)
	}
}

// TestRotateKeyRetriesWithPendingKeys: a rotation that never reached the ledger leaves its
// keys pending; the next attempt submits the same keys, and the agency keeps signing with its
// current key meanwhile.
func TestRotateKeyRetriesWithPendingKeys(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Transport", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	accredit(t, svc, a) // the ledger must accredit the agency for it to issue
	w.ledger.drop.Store(true)
	if _, err := svc.RotateKey(ctx, a); err == nil {
		t.Fatal("RotateKey succeeded without a ledger")
	}
	w.ledger.drop.Store(false)
	p, err := w.store.PendingKeys(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	holder, _ := keys.Generate(keys.ES256, nil)
	holderDID, _, _ := did.NewJWK(holder.Public())
	c, _, err := svc.Issue(ctx, a, issuer.IssueRequest{Type: "DrivingLicence", Holder: holderDID, Claims: demo.DrivingLicenceClaims})
	if err != nil {
		t.Fatal(err)
	}
	if sd, _ := sdjwt.Parse(c.Raw); sd.Header["kid"] != a.KID {
		t.Errorf("kid while the rotation is pending = %v, want %s", sd.Header["kid"], a.KID)
	}
	if _, err := w.store.PendingKeys(ctx, a.ID); err != nil {
		t.Errorf("pending keys dropped by a signing: %v", err)
	}

	a2, err := svc.RotateKey(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if a2.KID != p.KID {
		t.Errorf("kid = %s, want the pending %s", a2.KID, p.KID)
	}
	doc, err := w.ledger.ResolveDID(ctx, a.DID)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := doc.Key(p.KID, did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := w.sealer.OpenKey(p.Signing, append([]byte(a.ID), '0'))
	if err != nil {
		t.Fatal(err)
	}
	want := pending.PublicJWK()
	if !bytes.Equal(thumb(t, listed), thumb(t, &want)) {
		t.Error("the ledger lists a key other than the pending one")
	}
}

func thumb(t *testing.T, k interface {
	Thumbprint(h crypto.Hash) ([]byte, error)
}) []byte {
	t.Helper()
	b, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotateKeyLedgerRejects: when the ledger refuses the update (here: the DID's update key
// was changed behind the issuer's back), RotateKey returns ErrLedgerRejected and the agency
// keeps its key.
func TestRotateKeyLedgerRejects(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Transport", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := w.store.Secrets(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := w.sealer.OpenKey(sec.Update, append([]byte(a.ID), '1'))
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.ledger.Resolve(ctx, a.DID, ledger.ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keys.Generate(keys.EdDSA, nil)
	op := ledger.NewUpdate(a.DID, res.Metadata.VersionID)
	op.NextUpdateKey = &jose.JSONWebKey{Key: other.Public()}
	jws, err := ledger.SignOp(op, upd.Signer(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.ledger.Ledger.Submit(ctx, jws); err != nil || !r.OK() {
		t.Fatalf("out-of-band update: %v %+v", err, r)
	}

	if _, err := svc.RotateKey(ctx, a); !errors.Is(err, issuer.ErrLedgerRejected) {
		t.Fatalf("RotateKey = %v, want ErrLedgerRejected", err)
	}
	if got, _ := w.store.Agency(ctx, a.ID); got.KID != a.KID {
		t.Errorf("kid after a rejected rotation = %s, want %s", got.KID, a.KID)
	}
	if ids := currentKIDs(t, w, a.DID); len(ids) != 1 || ids[0] != a.KID {
		t.Errorf("ledger keys = %v, want [%s]", ids, a.KID)
	}
	if _, err := w.store.PendingKeys(ctx, a.ID); !errors.Is(err, issuer.ErrNotFound) {
		t.Errorf("pending keys after a rejection: %v, want ErrNotFound", err)
	}
}

// TestAnchorBatchResignedAfterRotation: a batch signed with the old key whose submission
// failed is still open when the key rotates; the next anchoring run has it refused, signs it
// again with the new key and completes it, and anchoring carries on.
func TestAnchorBatchResignedAfterRotation(t *testing.T) {
	ctx := context.Background()
	w := newRotationWorld(t)
	svc := w.service(t)
	a, err := svc.CreateAgency(ctx, "Transport", []string{"DrivingLicence"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := svc.RootAuthority(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dl, _ := issuer.LookupType("DrivingLicence")
	if err := svc.Accredit(ctx, root, a.DID, []string{dl.VCT}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	holder, _ := keys.Generate(keys.ES256, nil)
	holderDID, _, _ := did.NewJWK(holder.Public())
	c, _, err := svc.Issue(ctx, a, issuer.IssueRequest{Type: "DrivingLicence", Holder: holderDID, Claims: demo.DrivingLicenceClaims})
	if err != nil {
		t.Fatal(err)
	}
	w.ledger.drop.Store(true) // the batch is signed with #key-1, its submission fails
	if _, err := svc.AnchorPending(ctx, 100); err == nil {
		t.Fatal("anchoring succeeded without a ledger")
	}
	w.ledger.drop.Store(false)
	if _, err := svc.RotateKey(ctx, a); err != nil {
		t.Fatal(err)
	}
	n, err := svc.AnchorPending(ctx, 100)
	if err != nil || n != 1 {
		t.Fatalf("anchoring after the rotation: %d, %v", n, err)
	}
	r, err := svc.Receipt(ctx, a, c.ID)
	if err != nil || len(r) == 0 {
		t.Fatalf("receipt: %v", err)
	}
}
