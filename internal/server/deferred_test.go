package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/oid4vci"
)

// pendingList is the bridge's and the officers' answer listing pending issuances.
type pendingList struct {
	Pending []struct {
		ID, Issuer, Type string
		OfferID          string `json:"offer_id"`
		Interval         int
		Credentials      int
	}
}

func decodePending(t *testing.T, r response) pendingList {
	t.Helper()
	var p pendingList
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("pending list: %v: %s", err, r.body)
	}
	return p
}

// officerPending lists the pending issuances of the agency for typ.
func (f *fixture) officerPending(typ string) pendingList {
	f.t.Helper()
	r := f.do(http.MethodGet, "/issuer/v1/offers/pending", f.token(typ), "", nil)
	if r.status != http.StatusOK {
		f.t.Fatalf("officer pending list: HTTP %d %s", r.status, r.body)
	}
	var p pendingList
	json.Unmarshal(r.body, &p)
	return p
}

// redeemDeferred redeems an offer of an approval type through the bridge and returns the
// pending issuance's id.
func (f *fixture) redeemDeferred(uri, tx string) string {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/bridge/v1/offers", f.world.Citizen.Token, map[string]any{"offer_uri": uri, "tx_code": tx})
	if r.status != http.StatusAccepted {
		f.t.Fatalf("redeem an offer that needs approval: HTTP %d %s", r.status, r.body)
	}
	var p pendingList
	json.Unmarshal(r.body, &p)
	if len(p.Pending) != 1 || p.Pending[0].ID == "" {
		f.t.Fatalf("redeem: %s", r.body)
	}
	return p.Pending[0].ID
}

func (f *fixture) collect(id string) response {
	return f.do(http.MethodPost, "/bridge/v1/pending/"+id+"/collect", f.world.Citizen.Token, "", nil)
}

// TestDeferredIssuance: a business licence needs an officer's approval. The citizen's app
// redeems the offer and is told to wait (nothing is issued); polling before the approval still
// waits; another agency cannot see or decide the request; the Market Regulation officer
// approves (twice: idempotent); the app collects the credential, which is in the wallet and
// verifies at a counter; collecting again fails. A driving licence offer is still immediate.
func TestDeferredIssuance(t *testing.T) {
	f := newFixture(t)
	tok := f.world.Citizen.Token
	issued0, held0 := f.counts()

	uri, _, tx := f.createOffer("BusinessLicence", businessLicence, true)
	r := f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": uri, "tx_code": tx})
	if r.status != http.StatusAccepted {
		t.Fatalf("redeem: HTTP %d %s", r.status, r.body)
	}
	p := decodePending(t, r)
	if len(p.Pending) != 1 || p.Pending[0].Type != "urn:ezheng:vct:BusinessLicence" || p.Pending[0].Issuer != f.url || p.Pending[0].Interval != 60 {
		t.Fatalf("pending: %s", r.body)
	}
	id := p.Pending[0].ID
	if issued, held := f.counts(); issued != issued0 || held != held0 {
		t.Fatalf("issued %d, held %d before any approval", issued-issued0, held-held0)
	}
	if got := decodePending(t, f.do(http.MethodGet, "/bridge/v1/pending", tok, "", nil)); len(got.Pending) != 1 || got.Pending[0].ID != id {
		t.Fatalf("bridge pending list: %+v", got)
	}

	// Polling before the approval: still pending.
	if r := f.collect(id); r.status != http.StatusAccepted || decodePending(t, r).Pending[0].ID != id {
		t.Fatalf("collect before approval: HTTP %d %s", r.status, r.body)
	}

	// The officers' queue: the offering agency sees it (without claims), others do not.
	q := f.officerPending("BusinessLicence")
	if len(q.Pending) != 1 || q.Pending[0].Type != "BusinessLicence" || q.Pending[0].Credentials != 1 {
		t.Fatalf("officer queue: %+v", q)
	}
	offerID := q.Pending[0].OfferID
	if raw := f.do(http.MethodGet, "/issuer/v1/offers/pending", f.token("BusinessLicence"), "", nil); strings.Contains(string(raw.body), "李四") || strings.Contains(string(raw.body), "did:jwk") {
		t.Fatalf("the officer queue shows claims or holders: %s", raw.body)
	}
	if q := f.officerPending("DrivingLicence"); len(q.Pending) != 0 {
		t.Fatalf("another agency sees the request: %+v", q)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/offers/pending", "", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("queue without a token: HTTP %d", r.status)
	}
	for _, path := range []string{"/approve", "/reject"} {
		r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+path, f.token("DrivingLicence"), map[string]any{"reason": "not mine"})
		if r.status != http.StatusNotFound || r.problemType() != "/problems/not-found" {
			t.Fatalf("another agency %s: HTTP %d %s", path, r.status, r.body)
		}
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers/offer_nope/approve", f.token("BusinessLicence"), nil); r.status != http.StatusNotFound {
		t.Fatalf("approve an unknown offer: HTTP %d %s", r.status, r.body)
	}
	if issued, _ := f.counts(); issued != issued0 {
		t.Fatal("a refused decision issued a credential")
	}

	// The officer approves; approving again changes nothing.
	var first, again struct {
		State         string
		CredentialIDs []string `json:"credential_ids"`
	}
	r = f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/approve", f.token("BusinessLicence"), nil)
	if json.Unmarshal(r.body, &first); r.status != http.StatusOK || first.State != "approved" || len(first.CredentialIDs) != 1 {
		t.Fatalf("approve: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/approve", f.token("BusinessLicence"), nil)
	if json.Unmarshal(r.body, &again); r.status != http.StatusOK || len(again.CredentialIDs) != 1 || again.CredentialIDs[0] != first.CredentialIDs[0] {
		t.Fatalf("approve again: HTTP %d %s", r.status, r.body)
	}
	if issued, held := f.counts(); issued != issued0+1 || held != held0 {
		t.Fatalf("after approval: issued %d, held %d; want 1, 0", issued-issued0, held-held0)
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/reject", f.token("BusinessLicence"), map[string]any{"reason": "changed my mind"}); r.status != http.StatusConflict || r.problemType() != "/problems/already-decided" {
		t.Fatalf("reject after approval: HTTP %d %s", r.status, r.body)
	}
	if q := f.officerPending("BusinessLicence"); len(q.Pending) != 0 {
		t.Fatalf("approved request still queued: %+v", q)
	}

	// The app collects it: stored, bound, and it verifies at a counter.
	r = f.collect(id)
	if r.status != http.StatusCreated {
		t.Fatalf("collect: HTTP %d %s", r.status, r.body)
	}
	var got struct {
		Credentials []struct{ ID, Type string }
	}
	json.Unmarshal(r.body, &got)
	if len(got.Credentials) != 1 || got.Credentials[0].Type != "urn:ezheng:vct:BusinessLicence" {
		t.Fatalf("collected: %s", r.body)
	}
	if _, held := f.counts(); held != held0+1 {
		t.Fatalf("wallet holds %d new credentials, want 1", held-held0)
	}
	var qr struct{ QR string }
	r = f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+got.Credentials[0].ID+"/qr", tok, map[string]any{"disclose": []string{"legal_representative"}})
	if json.Unmarshal(r.body, &qr); qr.QR == "" {
		t.Fatalf("qr: %s", r.body)
	}
	if res := f.verify(qr.QR, ""); !res.Valid || res.Claims["legal_representative"] != "李四" {
		t.Fatalf("collected credential does not verify: %q %v", res.failed(), res.Claims)
	}

	// Collected once only.
	if r := f.collect(id); r.status != http.StatusNotFound {
		t.Fatalf("collect again: HTTP %d %s", r.status, r.body)
	}
	if got := decodePending(t, f.do(http.MethodGet, "/bridge/v1/pending", tok, "", nil)); len(got.Pending) != 0 {
		t.Fatalf("still pending after collection: %+v", got)
	}
	if r := f.collect("pend_unknown"); r.status != http.StatusNotFound {
		t.Fatalf("collect unknown: HTTP %d %s", r.status, r.body)
	}

	// Types without approval are issued at once.
	uri, _, tx = f.createOffer("DrivingLicence", licence, true)
	if r := f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": uri, "tx_code": tx}); r.status != http.StatusCreated {
		t.Fatalf("driving licence offer: HTTP %d %s", r.status, r.body)
	}
}

// TestDeferredRejected: the officer rejects (a reason is required); the app learns
// credential_request_denied when it collects, the wallet forgets the request, and nothing is
// issued or stored.
func TestDeferredRejected(t *testing.T) {
	f := newFixture(t)
	issued0, held0 := f.counts()
	uri, _, tx := f.createOffer("BusinessLicence", businessLicence, true)
	id := f.redeemDeferred(uri, tx)
	offerID := f.officerPending("BusinessLicence").Pending[0].OfferID
	bl := f.token("BusinessLicence")

	for name, body := range map[string]any{"no reason": map[string]any{}, "blank reason": map[string]any{"reason": "  "},
		"long reason": map[string]any{"reason": strings.Repeat("x", 501)}} {
		if r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/reject", bl, body); r.status != http.StatusBadRequest || r.problemType() != "/problems/malformed-request" {
			t.Fatalf("%s: HTTP %d %s", name, r.status, r.body)
		}
	}
	if r := f.do(http.MethodPost, "/issuer/v1/offers/"+offerID+"/reject", bl, "application/json", []byte(`{"reason":`)); r.status != http.StatusBadRequest {
		t.Fatalf("malformed body: HTTP %d %s", r.status, r.body)
	}
	for range 2 { // idempotent
		r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/reject", bl, map[string]any{"reason": "营业执照材料不全"})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"rejected"`) {
			t.Fatalf("reject: HTTP %d %s", r.status, r.body)
		}
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/approve", bl, nil); r.status != http.StatusConflict || r.problemType() != "/problems/already-decided" {
		t.Fatalf("approve after rejection: HTTP %d %s", r.status, r.body)
	}
	r := f.collect(id)
	if r.status != http.StatusUnprocessableEntity || r.problemType() != "/problems/credential-request-denied" {
		t.Fatalf("collect a rejected request: HTTP %d %s", r.status, r.body)
	}
	if r := f.collect(id); r.status != http.StatusNotFound {
		t.Fatalf("rejected request not forgotten: HTTP %d %s", r.status, r.body)
	}
	if issued, held := f.counts(); issued != issued0 || held != held0 {
		t.Fatalf("rejection issued %d, stored %d", issued-issued0, held-held0)
	}
}

// deferredFlow drives the issuer's OpenID4VCI endpoints directly, as any wallet would.
type deferredFlow struct {
	f *fixture
	t *testing.T
}

func (d deferredFlow) oauthCode(r response) string {
	var e struct{ Error string }
	json.Unmarshal(r.body, &e)
	return e.Error
}

// accessToken redeems a new offer of typ for an access token.
func (d deferredFlow) accessToken(typ string, claims map[string]any) string {
	d.t.Helper()
	uri, _, tx := d.f.createOffer(typ, claims, true)
	o, _, err := oid4vci.ParseOfferURI(uri, oid4vci.AllowLoopbackHTTP())
	if err != nil {
		d.t.Fatal(err)
	}
	v := url.Values{"grant_type": {oid4vci.GrantTypePreAuthorizedCode}, "pre-authorized_code": {o.Grants.PreAuthorizedCode.PreAuthorizedCode}, "tx_code": {tx}}
	r := d.f.do(http.MethodPost, "/oid4vci/token", "", "application/x-www-form-urlencoded", []byte(v.Encode()))
	var tr oid4vci.TokenResponse
	if json.Unmarshal(r.body, &tr); tr.AccessToken == "" {
		d.t.Fatalf("token: HTTP %d %s", r.status, r.body)
	}
	return tr.AccessToken
}

// credential makes a Credential Request for typ with one proof of the fixture's holder key.
func (d deferredFlow) credential(token, typ string) response {
	d.t.Helper()
	var n oid4vci.NonceResponse
	json.Unmarshal(d.f.do(http.MethodPost, "/oid4vci/nonce", "", "", nil).body, &n)
	s, err := oid4vci.NewProofSigner(d.f.holder.Signer(), "")
	if err != nil {
		d.t.Fatal(err)
	}
	p, err := oid4vci.BuildProof(s, "", d.f.url, n.CNonce, d.f.clock.Now())
	if err != nil {
		d.t.Fatal(err)
	}
	b, _ := json.Marshal(oid4vci.CredentialRequest{CredentialConfigurationID: typ + "_sd_jwt_vc", Proofs: &oid4vci.Proofs{JWT: []string{p}}})
	return d.f.do(http.MethodPost, "/oid4vci/credential", token, "application/json", b)
}

func (d deferredFlow) deferred(token, txID string) response {
	b, _ := json.Marshal(map[string]string{"transaction_id": txID})
	return d.f.do(http.MethodPost, "/oid4vci/deferred_credential", token, "application/json", b)
}

// TestDeferredCredentialEndpoint drives the Deferred Credential Endpoint as a standard wallet
// would: 202 with transaction_id and interval from the credential endpoint; the access token
// is used up there but still works at the deferred endpoint for its own transaction only;
// unknown, foreign, collected and expired transaction ids are invalid_transaction_id; the
// approved credentials are handed out once, with a notification id.
func TestDeferredCredentialEndpoint(t *testing.T) {
	f := newFixture(t)
	d := deferredFlow{f, t}
	var meta oid4vci.IssuerMetadata
	json.Unmarshal(f.do(http.MethodGet, "/.well-known/openid-credential-issuer", "", "", nil).body, &meta)
	if meta.DeferredCredentialEndpoint != f.url+"/oid4vci/deferred_credential" {
		t.Fatalf("deferred_credential_endpoint = %q", meta.DeferredCredentialEndpoint)
	}

	tok := d.accessToken("BusinessLicence", businessLicence)
	r := d.credential(tok, "BusinessLicence")
	cr, err := oid4vci.ParseCredentialResponse(r.body)
	if r.status != http.StatusAccepted || err != nil || !cr.Deferred() || cr.Interval != 60 {
		t.Fatalf("credential request: HTTP %d %s (%v)", r.status, r.body, err)
	}
	txID := cr.TransactionID
	// The token is used up at the credential endpoint…
	if r := d.credential(tok, "BusinessLicence"); r.status != http.StatusUnauthorized {
		t.Fatalf("token reused at the credential endpoint: HTTP %d %s", r.status, r.body)
	}
	// …but polls its transaction.
	if r := d.deferred(tok, txID); r.status != http.StatusAccepted || !strings.Contains(string(r.body), txID) {
		t.Fatalf("poll: HTTP %d %s", r.status, r.body)
	}
	other := d.accessToken("DrivingLicence", licence)
	for name, c := range map[string]struct {
		token, tx string
		status    int
		code      string
	}{
		"unknown transaction":        {tok, "nope", 400, oid4vci.ErrorInvalidTransactionID},
		"another offer's token":      {other, txID, 400, oid4vci.ErrorInvalidTransactionID},
		"no token":                   {"", txID, 401, oid4vci.ErrorInvalidToken},
		"unknown token":              {"not-a-token", txID, 401, oid4vci.ErrorInvalidToken},
		"empty transaction id":       {tok, "", 400, oid4vci.ErrorInvalidCredentialRequest},
		"an immediate offer's token": {other, "nope", 400, oid4vci.ErrorInvalidTransactionID},
	} {
		if r := d.deferred(c.token, c.tx); r.status != c.status || d.oauthCode(r) != c.code {
			t.Errorf("%s: HTTP %d %s; want %d %s", name, r.status, r.body, c.status, c.code)
		}
	}
	if r := f.do(http.MethodPost, "/oid4vci/deferred_credential", tok, "application/json", []byte(`{"transaction_id":`)); r.status != 400 || d.oauthCode(r) != oid4vci.ErrorInvalidCredentialRequest {
		t.Fatalf("malformed request: HTTP %d %s", r.status, r.body)
	}

	offerID := f.officerPending("BusinessLicence").Pending[0].OfferID
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/approve", f.token("BusinessLicence"), nil); r.status != 200 {
		t.Fatalf("approve: HTTP %d %s", r.status, r.body)
	}
	r = d.deferred(tok, txID)
	if cr, err = oid4vci.ParseCredentialResponse(r.body); r.status != http.StatusOK || err != nil || len(cr.Credentials) != 1 || cr.NotificationID == "" {
		t.Fatalf("collect: HTTP %d %s (%v)", r.status, r.body, err)
	}
	nb, _ := json.Marshal(oid4vci.NotificationRequest{NotificationID: cr.NotificationID, Event: oid4vci.EventCredentialAccepted})
	if r := f.do(http.MethodPost, "/oid4vci/notification", tok, "application/json", nb); r.status != http.StatusNoContent {
		t.Fatalf("notification: HTTP %d %s", r.status, r.body)
	}
	if r := d.deferred(tok, txID); r.status != 400 || d.oauthCode(r) != oid4vci.ErrorInvalidTransactionID {
		t.Fatalf("collected twice: HTTP %d %s", r.status, r.body)
	}

	// A transaction nobody decides in time expires.
	tok = d.accessToken("BusinessLicence", businessLicence)
	r = d.credential(tok, "BusinessLicence")
	json.Unmarshal(r.body, &cr)
	offerID = f.officerPending("BusinessLicence").Pending[0].OfferID
	issued0, _ := f.counts()
	f.clock.Add(31 * 24 * time.Hour)
	if r := d.deferred(tok, cr.TransactionID); r.status != 400 || d.oauthCode(r) != oid4vci.ErrorInvalidTransactionID {
		t.Fatalf("expired transaction: HTTP %d %s", r.status, r.body)
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers/"+offerID+"/approve", f.token("BusinessLicence"), nil); r.status != http.StatusNotFound {
		t.Fatalf("approve an expired request: HTTP %d %s", r.status, r.body)
	}
	if q := f.officerPending("BusinessLicence"); len(q.Pending) != 0 {
		t.Fatalf("expired request still queued: %+v", q)
	}
	if issued, _ := f.counts(); issued != issued0 {
		t.Fatal("an expired request was issued")
	}
}
