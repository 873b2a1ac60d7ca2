package verifier_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/verifier"
)

// The fixture's times: the issuer's DID exists from t0, its key-1 is replaced by key-2 at
// tRotate, credentials are issued at tIssue (before the rotation) and verified at tNow.
var (
	t0      = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	tIssue  = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	tRotate = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	tNow    = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
)

const (
	issuerDID   = "did:ez:EiIssuer"
	ledgerName  = "test.ezheng/ledger"
	statusURI   = "https://issuer.test/status/1"
	w3cRevURI   = "https://issuer.test/status/1/w3c/revocation"
	w3cSuspURI  = "https://issuer.test/status/1/w3c/suspension"
	w3cMsgURI   = "https://issuer.test/status/1/w3c/message"
	dlVCT       = "urn:ezheng:vct:DrivingLicence"
	revokedIdx  = 7
	validIdx    = 3
	suspendIdx  = 9
	counterAud  = verifier.GenericAudience
	testTimeout = 0
)

var licence = map[string]any{
	"family_name": "张", "given_name": "三", "birth_date": "1990-01-01", "licence_number": "11010119900101123X",
	"licence_class": "C1", "issue_date": "2015-03-02", "photo": "iVBORw0K",
}

// world is a ledger, trust registry, status list server and receipt archive in memory: the
// seams a trust bundle fills offline. The issuer rotated key-1 to key-2 at tRotate.
type world struct {
	t          testing.TB
	key1, key2 ed25519.PrivateKey
	holder     *ecdsa.PrivateKey
	holderJWK  jose.JSONWebKey
	holderDID  string
	versions   []version               // of issuerDID, oldest first
	accredited map[string][2]time.Time // vct → [from, until)
	lists      map[string][]byte       // status lists by URI
	receipts   map[[32]byte][]byte     // anchor receipts by credential digest
	noteSigner note.Signer
	noteVerif  note.Verifier
	mu         sync.Mutex
	offline    *verifier.SourceInfo
}

type version struct {
	from time.Time
	doc  *did.Document
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, accredited: map[string][2]time.Time{dlVCT: {t0, tNow.Add(365 * 24 * time.Hour)}},
		lists: map[string][]byte{}, receipts: map[[32]byte][]byte{}}
	_, w.key1, _ = ed25519.GenerateKey(rand.Reader)
	_, w.key2, _ = ed25519.GenerateKey(rand.Reader)
	var err error
	if w.holder, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	w.holderJWK = jose.JSONWebKey{Key: w.holder.Public()}
	if w.holderDID, _, err = did.NewJWK(w.holder.Public()); err != nil {
		t.Fatal(err)
	}
	w.versions = []version{{t0, w.doc("#key-1", w.key1)}, {tRotate, w.doc("#key-2", w.key2)}}
	skey, vkey, err := merklelog.NewKey(ledgerName)
	if err != nil {
		t.Fatal(err)
	}
	if w.noteSigner, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if w.noteVerif, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	w.publishLists(tIssue)
	return w
}

func (w *world) doc(frag string, key ed25519.PrivateKey) *did.Document {
	return &did.Document{ID: issuerDID, VerificationMethod: []did.VerificationMethod{{
		ID: issuerDID + frag, Type: "JsonWebKey2020", Controller: issuerDID,
		PublicKeyJwk: &jose.JSONWebKey{Key: key.Public(), KeyID: issuerDID + frag},
	}}, AssertionMethod: []string{issuerDID + frag}}
}

// Resolve implements did.Resolver (the ledger method; did:jwk holders resolve locally).
func (w *world) Resolve(ctx context.Context, d string) (*did.Document, error) {
	doc, _, err := w.ResolveVersion(ctx, d, did.Query{})
	return doc, err
}

// ResolveVersion implements did.VersionResolver.
func (w *world) ResolveVersion(_ context.Context, d string, q did.Query) (*did.Document, did.Metadata, error) {
	if d != issuerDID {
		return nil, did.Metadata{}, fmt.Errorf("%w: %s", did.ErrNotFound, d)
	}
	var found *version
	for i := range w.versions {
		if q.VersionTime.IsZero() || !w.versions[i].from.After(q.VersionTime) {
			found = &w.versions[i]
		}
	}
	if found == nil {
		return nil, did.Metadata{}, did.ErrNotFound
	}
	return found.doc, did.Metadata{Created: &t0}, nil
}

// Accreditation implements verifier.Trust.
func (w *world) Accreditation(_ context.Context, iss, vct string, at time.Time) (ledger.Accreditation, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.accredited[vct]
	if iss != issuerDID || !ok || at.Before(p[0]) || !at.Before(p[1]) {
		return ledger.Accreditation{}, ledger.ErrNotAccredited
	}
	return ledger.Accreditation{Issuer: iss, Type: vct, From: p[0], Until: p[1]}, nil
}

// StatusList implements verifier.StatusLists.
func (w *world) StatusList(_ context.Context, uri string) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.lists[uri]
	if !ok {
		return nil, fmt.Errorf("HTTP 404 for %s", uri)
	}
	return b, nil
}

// Receipt implements verifier.Anchors.
func (w *world) Receipt(_ context.Context, digest []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok := w.receipts[[32]byte(digest)]
	if !ok {
		return nil, verifier.ErrNotFound
	}
	return b, nil
}

// Info implements verifier.Source.
func (w *world) Info(context.Context) verifier.SourceInfo {
	if w.offline != nil {
		return *w.offline
	}
	return verifier.SourceInfo{Mode: verifier.SourceOnline}
}

// publishLists signs the status lists (entry revokedIdx revoked, suspendIdx suspended) with
// the current key.
func (w *world) publishLists(at time.Time) {
	t := w.t
	l, err := statuslist.New(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	l.Set(revokedIdx, statuslist.Invalid)
	l.Set(suspendIdx, statuslist.Suspended)
	signer, err := statuslist.NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: w.key2}, issuerDID+"#key-2")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := statuslist.SignToken(l, statusURI, at, 0, signer)
	if err != nil {
		t.Fatal(err)
	}
	w.lists[statusURI] = []byte(tok)
	for uri, purpose := range map[string]string{w3cRevURI: statuslist.PurposeRevocation, w3cSuspURI: statuslist.PurposeSuspension} {
		b, err := statuslist.NewBitstring(statuslist.MinBitstringEntries)
		if err != nil {
			t.Fatal(err)
		}
		b.Set(map[string]int{w3cRevURI: revokedIdx, w3cSuspURI: suspendIdx}[uri], true)
		cred, err := statuslist.BitstringCredential(uri, issuerDID, purpose, at, b)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := statuslist.NewCredentialSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: w.key2}, issuerDID+"#key-2")
		if err != nil {
			t.Fatal(err)
		}
		jws, err := statuslist.SignBitstringCredential(cred, cs)
		if err != nil {
			t.Fatal(err)
		}
		w.lists[uri] = []byte(jws)
	}
	// The message list: two bits per entry, the Token Status List value itself.
	b, err := statuslist.NewBitstring(2 * statuslist.MinBitstringEntries)
	if err != nil {
		t.Fatal(err)
	}
	b.Set(2*revokedIdx+1, true) // 0b01 revoked
	b.Set(2*suspendIdx, true)   // 0b10 suspended
	cred, err := statuslist.BitstringCredential(w3cMsgURI, issuerDID, statuslist.PurposeSuspension, at, b)
	if err != nil {
		t.Fatal(err)
	}
	cred["credentialSubject"].(map[string]any)["statusPurpose"] = "message"
	cs, err := statuslist.NewCredentialSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: w.key2}, issuerDID+"#key-2")
	if err != nil {
		t.Fatal(err)
	}
	jws, err := statuslist.SignBitstringCredential(cred, cs)
	if err != nil {
		t.Fatal(err)
	}
	w.lists[w3cMsgURI] = []byte(jws)
}

// messageEntry is the credentialStatus of an ldp_vc at entry idx of the message list.
func messageEntry(idx int) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("%s#%d", w3cMsgURI, idx), "type": "BitstringStatusListEntry", "statusPurpose": "message",
		"statusListIndex": fmt.Sprint(idx), "statusListCredential": w3cMsgURI, "statusSize": 2,
		"statusMessage": []any{
			map[string]any{"status": "0x0", "message": "valid"},
			map[string]any{"status": "0x1", "message": "revoked"},
			map[string]any{"status": "0x2", "message": "suspended"},
			map[string]any{"status": "0x3", "message": "unassigned"},
		},
	}
}

// anchor anchors credential (its exact bytes) in a batch with two other digests, in a log of
// one operation, under a checkpoint signed by signer, and files the receipt.
func (w *world) anchor(credential []byte, signer note.Signer, issuer string) []byte {
	t := w.t
	d := sha256.Sum256(credential)
	other1, other2 := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	digests := [][]byte{other1[:], d[:], other2[:]}
	root, proofs := merklelog.BatchProofs(digests)
	payload, _ := json.Marshal(map[string]any{"type": "anchor", "issuer": issuer, "root": base64.RawURLEncoding.EncodeToString(root), "count": 3, "batch": "b-1"})
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: w.key1}, (&jose.SignerOptions{}).WithType("ez-op+jwt").WithHeader("kid", issuerDID+"#key-1"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	op, _ := obj.CompactSerialize()
	cp, err := merklelog.SignCheckpoint(merklelog.Checkpoint{Origin: ledgerName, Size: 1, Root: merklelog.LeafHash([]byte(op))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	r := merklelog.Receipt{Digest: d[:], BatchIndex: 1, BatchSize: 3, BatchProof: proofs[1], AnchorOp: op, LeafIndex: 0, TreeSize: 1, Checkpoint: string(cp)}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.receipts[d] = b
	w.mu.Unlock()
	return b
}

// service returns a verifier over the world with the test policies and the given store.
func (w *world) service(store verifier.Store) *verifier.Service {
	t := w.t
	strict := &verifier.Policy{Name: "strict"}
	noHolder := &verifier.Policy{Name: "strict-credential", MaySkip: []string{verifier.CheckHolderBinding}}
	health := &verifier.Policy{Name: "health-only", Types: []string{"HealthCode"}, MaySkip: []string{verifier.CheckHolderBinding}}
	offline := &verifier.Policy{Name: "offline-counter", MaxBundleAge: verifier.Duration{D: 24 * time.Hour}, MaySkipOffline: []string{verifier.CheckAnchor}}
	flag := &verifier.Policy{Name: "offline-flag", MaxBundleAge: verifier.Duration{D: 24 * time.Hour}, StaleBundle: verifier.StaleFlag}
	extra, err := verifier.NewPolicies(strict, noHolder, health, offline, flag)
	if err != nil {
		t.Fatal(err)
	}
	if store == nil {
		store = memStore{}
	}
	s, err := verifier.New(verifier.Config{
		Store: store, Trust: w, Resolver: did.Methods{"ez": w, "jwk": did.Local{}, "key": did.Local{}},
		Now: func() time.Time { return tNow }, StatusLists: w, Anchors: w, LedgerKeys: note.VerifierList(w.noteVerif), Source: w,
		Policies: verifier.BuiltinPolicies().With(extra),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sdJWT issues an SD-JWT VC of a driving licence at iat, signed with key as frag, every claim
// disclosable, with mod applied to the payload first.
func (w *world) sdJWT(key ed25519.PrivateKey, frag string, iat time.Time, mod ...func(map[string]any)) string {
	t := w.t
	payload := map[string]any{"iss": issuerDID, "vct": dlVCT, "iat": iat.Unix(), "exp": iat.Add(6 * 365 * 24 * time.Hour).Unix(),
		"cnf": map[string]any{"jwk": w.holderJWK}, "status": statuslist.StatusClaim(statusURI, validIdx)}
	var names []string
	for k, v := range licence {
		payload[k] = v
		names = append(names, k)
	}
	slices.Sort(names)
	for _, m := range mod {
		m(payload)
	}
	names = slices.DeleteFunc(names, func(n string) bool { _, ok := payload[n]; return !ok })
	signer, err := sdjwt.NewSigner(key, sdjwt.TypeSDJWTVC, issuerDID+frag)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sdjwt.Issue(signer, payload, names, 0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// present makes a presentation of issued keeping keep (nil: all), key-bound by holder to aud
// at tNow.
func (w *world) present(issued string, keep []string, holder *ecdsa.PrivateKey) string {
	t := w.t
	if keep == nil {
		for k := range licence {
			keep = append(keep, k)
		}
	}
	signer, err := sdjwt.NewSigner(holder, sdjwt.TypeKB, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sdjwt.Present(issued, keep, signer, counterAud, "n-0123456789", tNow.Add(-5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// vcJWT issues the licence as a VCDM 2.0 vc+jwt (or a JWT-VC when v11) at iat with key as
// frag, with its W3C status entries at idx.
func (w *world) vcJWT(v11 bool, key ed25519.PrivateKey, frag string, iat time.Time, idx int, mod ...func(*vcjwt.Credential)) string {
	t := w.t
	c := vcjwt.Credential{Issuer: issuerDID, Subject: w.holderDID, Types: []string{"DrivingLicence"}, Context: []string{ldvc.ContextLicenceV1},
		ValidFrom: iat, ValidUntil: iat.Add(6 * 365 * 24 * time.Hour), Claims: map[string]any{},
		Statuses: []map[string]any{
			statuslist.BitstringEntry(w3cRevURI, idx, statuslist.PurposeRevocation),
			statuslist.BitstringEntry(w3cSuspURI, idx, statuslist.PurposeSuspension),
		}}
	for k, v := range licence {
		c.Claims[k] = v
	}
	for _, m := range mod {
		m(&c)
	}
	typ, sign := vcjwt.TypeVCDM2, vcjwt.SignVCDM2
	if v11 {
		typ, sign = vcjwt.TypeJWT, vcjwt.SignJWTVC11
	}
	signer, err := vcjwt.NewSigner(key, typ, issuerDID+frag)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sign(c, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ldp issues a driving licence as a VCDM 1.1 JSON-LD credential at iat with key as frag, with
// status (a credentialStatus) when given.
func (w *world) ldp(key ed25519.PrivateKey, frag string, iat time.Time, subject map[string]any, status ...map[string]any) string {
	t := w.t
	s := map[string]any{"id": w.holderDID}
	for k, v := range subject {
		s[k] = v
	}
	cred := map[string]any{
		"@context":          []any{ldvc.ContextCredentialsV1, ldvc.ContextLicenceV1},
		"type":              []any{"VerifiableCredential", "DrivingLicence"},
		"issuer":            issuerDID,
		"issuanceDate":      iat.UTC().Format(time.RFC3339),
		"expirationDate":    iat.Add(6 * 365 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"credentialSubject": s,
	}
	if len(status) > 0 {
		cred["@context"] = append(cred["@context"].([]any), ldvc.ContextStatusV1)
		cred["credentialStatus"] = status[0]
	}
	raw, err := ldvc.Sign(cred, key, issuerDID+frag, iat)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// memStore is a verifier.Store without records.
type memStore struct{}

func (memStore) SaveCounter(context.Context, verifier.Counter) error { return nil }
func (memStore) Counter(context.Context, string) (verifier.Counter, error) {
	return verifier.Counter{}, verifier.ErrNotFound
}
func (memStore) CounterByName(context.Context, string) (verifier.Counter, error) {
	return verifier.Counter{}, verifier.ErrNotFound
}

// verify verifies text under policy and fails the test on an error.
func verify(t *testing.T, s *verifier.Service, text, policy string, receipt []byte) verifier.Result {
	t.Helper()
	res, err := s.Verify(context.Background(), text, verifier.Options{Policy: policy, Receipt: receipt})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

// explain renders the checks for a failure message.
func explain(res verifier.Result) string {
	var b bytes.Buffer
	for _, c := range res.Checks {
		fmt.Fprintf(&b, "\n  %-14s ok=%-5v skipped=%-5v %s %v", c.Name, c.OK, c.Skipped, c.Reason, c.Rules)
	}
	return b.String()
}
