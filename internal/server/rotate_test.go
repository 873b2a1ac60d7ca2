package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/statuslist"
)

type agencyJSON struct {
	ID  string `json:"id"`
	DID string `json:"did"`
	KID string `json:"kid"`
}

func (f *fixture) agency(token string) agencyJSON {
	f.t.Helper()
	r := f.do(http.MethodGet, "/issuer/v1/agency", token, "", nil)
	if r.status != http.StatusOK {
		f.t.Fatalf("GET agency: HTTP %d %s", r.status, r.body)
	}
	var a agencyJSON
	json.Unmarshal(r.body, &a)
	return a
}

func issuerKID(t *testing.T, raw string) string {
	t.Helper()
	sd, err := sdjwt.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := sd.Header["kid"].(string)
	return kid
}

// TestRotateAgencyKey: a credential issued before the rotation (old key) and one after (new
// key) both verify, status lists included; the DID's current document lists only the new key;
// the agency's kid changes; a wrong token changes nothing.
func TestRotateAgencyKey(t *testing.T) {
	f := newFixture(t)
	tok := f.token("DrivingLicence")
	counter := f.world.Counter.ID
	before := f.agency(tok)
	if !strings.HasSuffix(before.KID, "#key-1") {
		t.Fatalf("kid before rotation = %s, want #key-1", before.KID)
	}
	ra := f.doJSON(http.MethodPost, "/issuer/v1/credentials", tok, map[string]any{"type": "DrivingLicence", "holder": f.holderDID, "claims": licence})
	var issuedA struct {
		ID         string `json:"id"`
		Credential string `json:"credential"`
	}
	if ra.status != http.StatusCreated || json.Unmarshal(ra.body, &issuedA) != nil {
		t.Fatalf("issue A: HTTP %d %s", ra.status, ra.body)
	}
	idA, credA := issuedA.ID, issuedA.Credential
	// Verified once before the rotation, so the verifier holds the old-key status list.
	if res := f.verify(f.present(credA, counterClaims, nil, counter), counter); !res.Valid {
		t.Fatalf("A before rotation: %v", res.failed())
	}

	f.clock.Add(time.Minute)
	if r := f.do(http.MethodPost, "/issuer/v1/agency/keys/rotate", "ezt_wrong", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("rotate with a wrong token: HTTP %d %s", r.status, r.body)
	}
	if got := f.agency(tok).KID; got != before.KID {
		t.Fatalf("kid after unauthorised rotation = %s, want %s", got, before.KID)
	}
	r := f.do(http.MethodPost, "/issuer/v1/agency/keys/rotate", tok, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("rotate: HTTP %d %s", r.status, r.body)
	}
	var rotated agencyJSON
	json.Unmarshal(r.body, &rotated)
	if want := before.DID + "#key-2"; rotated.KID != want {
		t.Fatalf("kid after rotation = %s, want %s", rotated.KID, want)
	}
	if got := f.agency(tok).KID; got != rotated.KID {
		t.Errorf("GET agency kid = %s, want %s", got, rotated.KID)
	}

	doc, err := f.srv.Ledger.ResolveDID(context.Background(), before.DID)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.VerificationMethod) != 1 || !strings.HasSuffix(doc.VerificationMethod[0].ID, "#key-2") {
		t.Errorf("current document keys = %+v, want only #key-2", doc.VerificationMethod)
	}
	if _, err := doc.Key(before.KID, did.AssertionMethod); err == nil {
		t.Errorf("current document still lists %s", before.KID)
	}

	f.clock.Add(time.Minute)
	credB := f.issue("DrivingLicence", f.holderDID, licence)
	if got := issuerKID(t, credA); got != before.KID {
		t.Errorf("credential A kid = %s, want %s", got, before.KID)
	}
	if got := issuerKID(t, credB); got != rotated.KID {
		t.Errorf("credential B kid = %s, want %s", got, rotated.KID)
	}
	for name, cred := range map[string]string{"A (old key)": credA, "B (new key)": credB} {
		res := f.verify(f.present(cred, counterClaims, nil, counter), counter)
		if !res.Valid {
			t.Errorf("credential %s: invalid: %v", name, res.failed())
		}
	}

	// The status list is served signed with the new key (it was re-signed at the rotation).
	var claims struct {
		Status struct {
			List struct {
				URI string `json:"uri"`
			} `json:"status_list"`
		} `json:"status"`
	}
	sd, _ := sdjwt.Parse(credB)
	b, _ := json.Marshal(sd.Payload)
	json.Unmarshal(b, &claims)
	path := strings.TrimPrefix(claims.Status.List.URI, f.url)
	sl := f.do(http.MethodGet, path, "", "", nil)
	if sl.status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", path, sl.status)
	}
	jws, err := jose.ParseSigned(string(sl.body), statuslist.Algs)
	if err != nil {
		t.Fatal(err)
	}
	if got := jws.Signatures[0].Header.KeyID; got != rotated.KID {
		t.Errorf("status list kid = %s, want %s", got, rotated.KID)
	}

	// A revocation after the rotation publishes a list signed with the new key: the verifier
	// accepts the list and reads the revocation of A from it.
	rv := f.doJSON(http.MethodPost, "/issuer/v1/credentials/"+idA+"/status", tok, map[string]string{"action": "revoke", "reason": "unspecified"})
	if rv.status != http.StatusOK {
		t.Fatalf("revoke A: HTTP %d %s", rv.status, rv.body)
	}
	res := f.verify(f.present(credA, counterClaims, nil, counter), counter)
	if failed := res.failed(); len(failed) != 1 || !strings.HasPrefix(failed[0], "status: revoked") {
		t.Errorf("A after revocation: failed = %v, want only status: revoked", failed)
	}
}

// ledgerIssuer is a did:ez issuer whose keys the test holds, accredited by the root authority.
type ledgerIssuer struct {
	did      string
	key1     ed25519.PrivateKey // #key-1
	key2     ed25519.PrivateKey // #key-2, added by rotate
	update   ed25519.PrivateKey
	rotation time.Time // block time of the rotation
}

func newLedgerIssuer(t *testing.T, f *fixture, vct string) *ledgerIssuer {
	t.Helper()
	ctx := context.Background()
	li := &ledgerIssuer{}
	_, li.key1, _ = ed25519.GenerateKey(rand.Reader)
	_, li.key2, _ = ed25519.GenerateKey(rand.Reader)
	_, li.update, _ = ed25519.GenerateKey(rand.Reader)
	_, recovery, _ := ed25519.GenerateKey(rand.Reader)
	create, err := ledger.NewCreate(ledger.NewDocument(li.key1.Public()), li.update.Public(), recovery.Public())
	if err != nil {
		t.Fatal(err)
	}
	li.did = ledger.DIDOf(create)
	f.submit(create, li.update, "")
	root, err := f.srv.Issuer.RootAuthority(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	if err := f.srv.Issuer.Accredit(ctx, root, li.did, []string{vct}, now, now.Add(365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return li
}

// rotate makes #key-2 the issuer's only key, with a ledger update signed with its update key.
func (li *ledgerIssuer) rotate(t *testing.T, f *fixture) {
	t.Helper()
	res, err := f.srv.Ledger.Resolve(context.Background(), li.did, ledger.ResolveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	_, next, _ := ed25519.GenerateKey(rand.Reader)
	op := ledger.NewUpdate(li.did, res.Metadata.VersionID,
		ledger.Patch{Action: ledger.ActionAddKeys, Keys: []ledger.Key{{ID: "#key-2", JWK: &jose.JSONWebKey{Key: li.key2.Public()}}}},
		ledger.Patch{Action: ledger.ActionSetRelationships, Authentication: []string{"#key-2"}, AssertionMethod: []string{"#key-2"}},
		ledger.Patch{Action: ledger.ActionRemoveKeys, IDs: []string{"#key-1"}},
	)
	op.NextUpdateKey = &jose.JSONWebKey{Key: next.Public()}
	li.rotation = f.clock.Now().UTC().Truncate(time.Second)
	f.submit(op, li.update, "")
	li.update = next
}

func (f *fixture) submit(op ledger.Op, key ed25519.PrivateKey, kid string) {
	f.t.Helper()
	jws, err := ledger.SignOp(op, key, kid)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.srv.Ledger.Submit(context.Background(), jws)
	if err != nil || !res.OK() {
		f.t.Fatalf("submit %s: %v %+v", op.Type, err, res)
	}
}

// credential signs a licence for the fixture's holder as li, with key (named by kid) at iat.
func (li *ledgerIssuer) credential(t *testing.T, f *fixture, key ed25519.PrivateKey, frag string, iat time.Time) string {
	t.Helper()
	signer, err := sdjwt.NewSigner(key, "dc+sd-jwt", li.did+frag)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": li.did, "vct": "urn:ezheng:vct:DrivingLicence", "iat": iat.Unix(), "exp": iat.Add(24 * time.Hour).Unix(),
		"cnf": map[string]any{"jwk": f.holder.PublicJWK()}}
	for k, v := range licence {
		claims[k] = v
	}
	raw, err := sdjwt.Issue(signer, claims, counterClaims, 0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestVerifyKeyAtIssuanceTime: the verifier checks a credential's signature with the key its
// issuer's DID document listed at the credential's iat.
func TestVerifyKeyAtIssuanceTime(t *testing.T) {
	f := newFixture(t)
	counter := f.world.Counter.ID
	li := newLedgerIssuer(t, f, "urn:ezheng:vct:DrivingLicence")
	created := f.clock.Now().UTC().Truncate(time.Second)
	f.clock.Add(time.Hour)
	li.rotate(t, f)
	f.clock.Add(time.Hour)
	rot := li.rotation

	tests := []struct {
		name   string
		key    ed25519.PrivateKey
		frag   string
		iat    time.Time
		reason string // "" for a valid credential
	}{
		{name: "old key, issued before the rotation", key: li.key1, frag: "#key-1", iat: rot.Add(-30 * time.Minute)},
		{name: "new key, issued after the rotation", key: li.key2, frag: "#key-2", iat: rot.Add(30 * time.Minute)},
		{name: "old key, issued in the rotation's second", key: li.key1, frag: "#key-1", iat: rot},
		{name: "old key, issued after the rotation", key: li.key1, frag: "#key-1", iat: rot.Add(30 * time.Minute),
			reason: "kid " + li.did + "#key-1 was not an assertion key of the issuer at " + rot.Add(30*time.Minute).Format(time.RFC3339) + " (issuance time)"},
		{name: "new key, issued before the issuer had it", key: li.key2, frag: "#key-2", iat: rot.Add(-30 * time.Minute),
			reason: "kid " + li.did + "#key-2 was not an assertion key of the issuer at " + rot.Add(-30*time.Minute).Format(time.RFC3339) + " (issuance time)"},
		{name: "old key, dated before the DID existed", key: li.key1, frag: "#key-1", iat: created.Add(-time.Hour),
			reason: "(issuance time)"},
		{name: "old key without iat uses the current document", key: li.key1, frag: "#key-1",
			reason: "#key-1 is not an assertionMethod key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var raw string
			if tc.iat.IsZero() {
				raw = li.credentialWithout(t, f, tc.key, tc.frag, "iat")
			} else {
				raw = li.credential(t, f, tc.key, tc.frag, tc.iat)
			}
			res := f.verify(f.present(raw, counterClaims, nil, counter), counter)
			if tc.reason == "" {
				if !res.Valid {
					t.Fatalf("invalid: %v", res.failed())
				}
				return
			}
			if res.Valid {
				t.Fatal("valid, want a signature failure")
			}
			failed := res.failed()
			if len(failed) == 0 || !strings.HasPrefix(failed[0], "signature: ") || !strings.Contains(failed[0], tc.reason) {
				t.Fatalf("failed = %v, want signature: ...%s", failed, tc.reason)
			}
		})
	}
}

// credentialWithout is credential (at the clock's time) without the claim name.
func (li *ledgerIssuer) credentialWithout(t *testing.T, f *fixture, key ed25519.PrivateKey, frag, name string) string {
	t.Helper()
	signer, err := sdjwt.NewSigner(key, "dc+sd-jwt", li.did+frag)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	claims := map[string]any{"iss": li.did, "vct": "urn:ezheng:vct:DrivingLicence", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"cnf": map[string]any{"jwk": f.holder.PublicJWK()}}
	for k, v := range licence {
		claims[k] = v
	}
	delete(claims, name)
	raw, err := sdjwt.Issue(signer, claims, counterClaims, 0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
