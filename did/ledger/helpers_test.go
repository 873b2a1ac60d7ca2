package ledger

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

const testOrigin = "ezheng.example/ledger/test"

// t0 is the genesis time of every test ledger.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// seedKey returns a fixed Ed25519 key derived from name.
func seedKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("ezheng ledger test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// fixedNonce returns a fixed create nonce derived from name.
func fixedNonce(name string) string {
	sum := sha256.Sum256([]byte("nonce " + name))
	return b64.EncodeToString(sum[:16])
}

// nodeKey returns the fixed checkpoint signer and verifier of the test origin.
func nodeKey(t testing.TB) (note.Signer, note.Verifier) {
	seed := sha256.Sum256([]byte("ezheng ledger test node key"))
	skey, vkey, err := merklelog.KeyFromSeed(testOrigin, seed[:])
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
	return s, v
}

// actor is a DID controller with fixed keys: key-1 (authentication and assertionMethod),
// update and recovery keys.
type actor struct {
	name     string
	did      string
	key      ed25519.PrivateKey
	update   ed25519.PrivateKey
	recovery ed25519.PrivateKey
	version  string // current versionId, as the test tracks it
}

func newActor(name string) *actor {
	return &actor{name: name, key: seedKey(name + " key-1"), update: seedKey(name + " update"), recovery: seedKey(name + " recovery")}
}

func (a *actor) kid() string { return a.did + "#key-1" }

// createOp returns a's signed create operation (with a fixed nonce) and sets a.did.
func (a *actor) createOp(t testing.TB) string {
	op := mustCreate(t, NewDocument(a.key.Public()), a.update.Public(), a.recovery.Public())
	op.Nonce = fixedNonce(a.name)
	a.did = DIDOf(op)
	jws := mustSign(t, op, a.update, "")
	a.version = VersionID(jws)
	return jws
}

func mustCreate(t testing.TB, doc Document, upd, rec crypto.PublicKey) Op {
	t.Helper()
	op, err := NewCreate(doc, upd, rec)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func mustSign(t testing.TB, op Op, key crypto.Signer, kid string) string {
	t.Helper()
	jws, err := SignOp(op, key, kid)
	if err != nil {
		t.Fatalf("sign %s: %v", op.Type, err)
	}
	return jws
}

// testGenesis returns the fixed genesis of every test ledger and its root authority.
func testGenesis(t testing.TB) (Genesis, *actor) {
	root := newActor("root")
	return Genesis{Origin: testOrigin, Time: t0, Create: root.createOp(t)}, root
}

// stepClock returns a clock that advances one second per reading, starting after t0.
func stepClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

type fixture struct {
	t    testing.TB
	ctx  context.Context
	l    *Ledger
	cfg  Config
	root *actor
	seq  uint64 // next accreditation seq
}

// newFixture opens a ledger in a temporary directory with the fixed genesis, the fixed node
// key and a stepping clock. mod may change the config.
func newFixture(t testing.TB, mod ...func(*Config)) *fixture {
	t.Helper()
	g, root := testGenesis(t)
	s, v := nodeKey(t)
	cfg := Config{Path: filepath.Join(t.TempDir(), "ledger.sqlite"), Genesis: g, Signer: s, Verifier: v,
		BlockInterval: time.Millisecond, Now: stepClock()}
	for _, f := range mod {
		f(&cfg)
	}
	f := &fixture{t: t, ctx: context.Background(), cfg: cfg, root: root, seq: 1}
	f.open()
	t.Cleanup(func() { f.l.Close() })
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	l, err := Open(f.ctx, f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.l = l
}

func (f *fixture) submit(jws string) Result {
	f.t.Helper()
	r, err := f.l.Submit(f.ctx, jws)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) mustOK(jws string) Result {
	f.t.Helper()
	r := f.submit(jws)
	if !r.OK() {
		f.t.Fatalf("rejected: %s: %s", r.Code, r.Reason)
	}
	return r
}

// create puts a new actor's DID on the ledger.
func (f *fixture) create(name string) *actor {
	f.t.Helper()
	a := newActor(name)
	f.mustOK(a.createOp(f.t))
	return a
}

// accredit has the root authority accredit a for types over a long period.
func (f *fixture) accredit(a *actor, types ...string) {
	f.t.Helper()
	op := NewAccredit(a.did, types, t0, t0.AddDate(10, 0, 0), f.seq)
	f.seq++
	f.mustOK(mustSign(f.t, op, f.root.key, f.root.kid()))
}

// issuer creates and accredits an issuer.
func (f *fixture) issuer(name string) *actor {
	a := f.create(name)
	f.accredit(a, "DrivingLicence")
	return a
}

func (f *fixture) anchorOp(a *actor, batch string) string {
	root := sha256.Sum256([]byte(batch))
	return mustSign(f.t, NewAnchor(a.did, root[:], 10, batch), a.key, a.kid())
}

// update signs an update of a with its update key, tracking a.version.
func (f *fixture) update(a *actor, op Op) string {
	jws := mustSign(f.t, op, a.update, "")
	return jws
}

func (f *fixture) stateDigests() map[string]string {
	f.t.Helper()
	d, err := f.l.store.StateDigests(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range d {
		out[k] = fmt.Sprintf("%x", v)
	}
	return out
}
