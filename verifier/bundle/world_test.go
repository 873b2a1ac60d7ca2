package bundle_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/verifier/bundle"
)

// world is a real embedded ledger with a root authority, issuers with status lists served
// from memory (the issuers' web servers), and a bundle exporter over them.
type world struct {
	t         testing.TB
	ctx       context.Context
	l         *ledger.Ledger
	ledgerKey string
	root      ed25519.PrivateKey
	rootKID   string
	trustSeq  uint64
	now       time.Time
	bundleKey ed25519.PrivateKey
	issuers   []*testIssuer

	mu     sync.Mutex
	served map[string][]byte
}

type testIssuer struct {
	DID, KID    string
	key, update ed25519.PrivateKey
	list        *statuslist.List
	uri         string
	seq         uint64
	keyN        int
}

func seedKey(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(s[:])
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	origin := "ezheng.test/ledger"
	skey, vkey, err := merklelog.KeyFromSeed(origin, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	w := &world{t: t, ctx: ctx, ledgerKey: vkey, root: seedKey("root"), now: t0, bundleKey: seedKey("bundle"), served: map[string][]byte{}}
	g, err := ledger.NewGenesis(origin, t0.Add(-time.Hour), ledger.NewDocument(w.root.Public()), seedKey("root update"), seedKey("root recovery").Public())
	if err != nil {
		t.Fatal(err)
	}
	w.rootKID = g.RootAuthority() + "#key-1"
	w.l, err = ledger.Open(ctx, ledger.Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Genesis: g, Signer: signer, Verifier: verifier,
		BlockInterval: time.Millisecond, Now: func() time.Time { return w.clock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.l.Close() })
	return w
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *world) submit(ops ...string) {
	w.t.Helper()
	res, err := w.l.SubmitBatch(w.ctx, ops)
	if err != nil {
		w.t.Fatal(err)
	}
	for i, r := range res {
		if !r.OK() {
			w.t.Fatalf("op %d: %s %s", i, r.Code, r.Reason)
		}
	}
}

func (w *world) sign(op ledger.Op, key ed25519.PrivateKey, kid string) string {
	w.t.Helper()
	jws, err := ledger.SignOp(op, key, kid)
	if err != nil {
		w.t.Fatal(err)
	}
	return jws
}

// addIssuers creates n issuers, accredits them for DrivingLicence and publishes a status
// list of size entries for each.
func (w *world) addIssuers(n, size int) []*testIssuer {
	w.t.Helper()
	var creates, accredits []string
	var out []*testIssuer
	for i := range n {
		name := fmt.Sprintf("issuer-%d-%d", len(w.issuers), i)
		is := &testIssuer{key: seedKey(name + " key-1"), update: seedKey(name + " update"), keyN: 1}
		op, err := ledger.NewCreate(ledger.NewDocument(is.key.Public()), is.update.Public(), seedKey(name+" recovery").Public())
		if err != nil {
			w.t.Fatal(err)
		}
		op.Nonce = "AAAAAAAAAAAAAAAAAAAAAA"
		creates = append(creates, w.sign(op, is.update, ""))
		is.DID = ledger.DIDOf(op)
		is.KID = is.DID + "#key-1"
		w.trustSeq++
		accredits = append(accredits, w.sign(ledger.NewAccredit(is.DID, []string{"urn:ezheng:vct:DrivingLicence"}, t0.Add(-2*time.Hour), t0.Add(365*24*time.Hour), w.trustSeq), w.root, w.rootKID))
		is.uri = "https://issuer.test/status/" + name
		if is.list, err = statuslist.New(size, 2); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, is)
	}
	w.submit(creates...)
	w.submit(accredits...)
	var pubs []string
	for _, is := range out {
		pubs = append(pubs, w.publish(is))
	}
	w.submit(pubs...)
	w.issuers = append(w.issuers, out...)
	return out
}

// publish signs is's list, serves it and returns the status operation anchoring it.
func (w *world) publish(is *testIssuer) string {
	w.t.Helper()
	signer, err := statuslist.NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: is.key}, is.KID)
	if err != nil {
		w.t.Fatal(err)
	}
	tok, err := statuslist.SignToken(is.list, is.uri, w.clock(), 5*time.Minute, signer)
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.served[is.uri] = []byte(tok)
	w.mu.Unlock()
	is.seq++
	return w.sign(ledger.NewStatus(is.DID, is.uri, statuslist.Digest([]byte(tok)), is.seq), is.key, is.KID)
}

// revoke sets entry idx of is's list to revoked and publishes it.
func (w *world) revoke(is *testIssuer, idx int) {
	w.t.Helper()
	if err := is.list.Set(idx, statuslist.Invalid); err != nil {
		w.t.Fatal(err)
	}
	w.submit(w.publish(is))
}

// rotate adds a new assertion key to is and drops the old one.
func (w *world) rotate(is *testIssuer) {
	w.t.Helper()
	cur, err := w.l.Resolve(w.ctx, is.DID, ledger.ResolveQuery{})
	if err != nil {
		w.t.Fatal(err)
	}
	is.keyN++
	newKey := seedKey(fmt.Sprintf("%s key-%d", is.DID, is.keyN))
	id := fmt.Sprintf("#key-%d", is.keyN)
	old := is.KID[len(is.DID):]
	op := ledger.NewUpdate(is.DID, cur.Metadata.VersionID,
		ledger.Patch{Action: ledger.ActionAddKeys, Keys: []ledger.Key{{ID: id, JWK: &jose.JSONWebKey{Key: newKey.Public()}}}},
		ledger.Patch{Action: ledger.ActionRemoveKeys, IDs: []string{old}},
		ledger.Patch{Action: ledger.ActionSetRelationships, Authentication: []string{id}, AssertionMethod: []string{id}})
	w.submit(w.sign(op, is.update, is.DID+"#update"))
	is.key, is.KID = newKey, is.DID+id
}

// withdraw withdraws is's DrivingLicence accreditation as of at.
func (w *world) withdraw(is *testIssuer, at time.Time) {
	w.t.Helper()
	w.trustSeq++
	w.submit(w.sign(ledger.NewWithdraw(is.DID, []string{"urn:ezheng:vct:DrivingLicence"}, at, w.trustSeq), w.root, w.rootKID))
}

// StatusList serves the issuers' lists (the remote web servers of the issuers).
func (w *world) StatusList(_ context.Context, uri string) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.served[uri]
	if !ok {
		return nil, fmt.Errorf("GET %s: 404", uri)
	}
	return b, nil
}

func (w *world) exporter(policies map[string][]byte) *bundle.Exporter {
	w.t.Helper()
	x, err := bundle.NewExporter(bundle.ExportConfig{Ledger: w.l, LedgerKey: w.ledgerKey, StatusLists: w, Key: w.bundleKey, Now: w.clock,
		Policies: func(context.Context) (map[string][]byte, error) { return policies, nil }})
	if err != nil {
		w.t.Fatal(err)
	}
	return x
}

func (w *world) pin() bundle.Pin {
	return bundle.PinKey(bundle.PublicKey(w.bundleKey.Public().(ed25519.PublicKey)))
}

func (w *world) full(x *bundle.Exporter) []byte {
	w.t.Helper()
	f, _, err := x.Full(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}
