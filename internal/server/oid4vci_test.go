package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/oid4vci"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

// createOffer has the agency for typ make an offer of claims.
func (f *fixture) createOffer(typ string, claims map[string]any, txCode bool) (uri, byRef, tx string) {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/issuer/v1/offers", f.token(typ), map[string]any{"type": typ, "claims": claims, "tx_code": txCode})
	if r.status != http.StatusCreated {
		f.t.Fatalf("create offer: HTTP %d %s", r.status, r.body)
	}
	var o struct {
		URI    string `json:"offer_uri"`
		ByRef  string `json:"offer_uri_by_reference"`
		TxCode string `json:"tx_code"`
		QRPNG  string `json:"qr_png"`
	}
	json.Unmarshal(r.body, &o)
	if !strings.HasPrefix(o.URI, "openid-credential-offer://?credential_offer=") || o.QRPNG == "" {
		f.t.Fatalf("offer: %s", r.body)
	}
	return o.URI, o.ByRef, o.TxCode
}

// TestOpenID4VCIOffer: an agency offers a credential; the citizen's app redeems the offer
// through the bridge with the tx_code (the wallet runs the whole pre-authorized code flow
// over HTTP, as it would against any issuer); the credential is in the wallet, bound to the
// citizen's key, and verifies at the counter.
func TestOpenID4VCIOffer(t *testing.T) {
	f := newFixture(t)
	tok := f.world.Citizen.Token
	for _, byRef := range []bool{false, true} {
		uri, ref, tx := f.createOffer("DrivingLicence", licence, true)
		if byRef {
			uri = ref
		}
		// Without the code: the app must ask the citizen.
		if r := f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": uri}); r.status != 400 || r.problemType() != "/problems/tx-code-required" {
			t.Fatalf("no tx_code: HTTP %d %s", r.status, r.body)
		}
		r := f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": uri, "tx_code": tx})
		if r.status != http.StatusCreated {
			t.Fatalf("redeem (by reference %v): HTTP %d %s", byRef, r.status, r.body)
		}
		var got struct {
			Credentials []struct{ ID, Type string }
		}
		json.Unmarshal(r.body, &got)
		if len(got.Credentials) != 1 || got.Credentials[0].Type != "urn:ezheng:vct:DrivingLicence" {
			t.Fatalf("redeemed: %s", r.body)
		}
		qr := counterQRFor(t, f, got.Credentials[0].ID)
		if res := f.verify(qr, f.world.Counter.ID); !res.Valid {
			t.Fatalf("credential from the offer does not verify: %q", res.failed())
		}
		// The offer is used up.
		if r := f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": uri, "tx_code": tx}); r.status != 422 {
			t.Fatalf("offer redeemed twice: HTTP %d %s", r.status, r.body)
		}
	}
}

func counterQRFor(t *testing.T, f *fixture, id string) string {
	t.Helper()
	var out struct{ QR string }
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+id+"/qr", f.world.Citizen.Token, map[string]any{"disclose": counterClaims, "audience": f.world.Counter.ID})
	json.Unmarshal(r.body, &out)
	if out.QR == "" {
		t.Fatalf("qr: %s", r.body)
	}
	return out.QR
}

// TestOpenID4VCIBadInput drives the issuer's endpoints as a hostile wallet would: wrong PIN
// (and the offer voided after five), a reused code, a proof for another audience or nonce or
// key, a reused nonce, an expired token, an offer for a type the agency may not issue, an
// offer with claims that break the schema, another agency's token. Each is refused with its
// OAuth/OpenID4VCI error code (or problem type) and no credential is issued.
func TestOpenID4VCIBadInput(t *testing.T) {
	f := newFixture(t)
	form := func(v url.Values) response {
		return f.do(http.MethodPost, "/oid4vci/token", "", "application/x-www-form-urlencoded", []byte(v.Encode()))
	}
	oauthCode := func(r response) string {
		var e struct{ Error string }
		json.Unmarshal(r.body, &e)
		return e.Error
	}
	code := func(uri string) string {
		o, _, err := oid4vci.ParseOfferURI(uri, oid4vci.AllowLoopbackHTTP())
		if err != nil {
			t.Fatal(err)
		}
		return o.Grants.PreAuthorizedCode.PreAuthorizedCode
	}
	grant := func(c, tx string) url.Values {
		v := url.Values{"grant_type": {oid4vci.GrantTypePreAuthorizedCode}, "pre-authorized_code": {c}}
		if tx != "" {
			v.Set("tx_code", tx)
		}
		return v
	}
	issuedBefore, _ := f.counts()

	// Offers that must not be made.
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers", f.token("HealthCode"), map[string]any{"type": "DrivingLicence", "claims": licence}); r.status != 403 {
		t.Fatalf("offer of a type not accredited: HTTP %d", r.status)
	}
	bad := map[string]any{"family_name": "张"}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers", f.token("DrivingLicence"), map[string]any{"type": "DrivingLicence", "claims": bad}); r.status != 422 {
		t.Fatalf("offer with schema violations: HTTP %d", r.status)
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers", "ezt_wrong", map[string]any{"type": "DrivingLicence", "claims": licence}); r.status != 401 {
		t.Fatalf("offer with a wrong token: HTTP %d", r.status)
	}

	// Wrong PIN five times voids the offer, even for the right PIN afterwards.
	uri, _, tx := f.createOffer("DrivingLicence", licence, true)
	wrong := "000000"
	if wrong == tx {
		wrong = "111111"
	}
	for i := 0; i < 5; i++ {
		if r := form(grant(code(uri), wrong)); r.status != 400 || oauthCode(r) != "invalid_grant" {
			t.Fatalf("wrong PIN %d: HTTP %d %s", i, r.status, r.body)
		}
	}
	if r := form(grant(code(uri), tx)); oauthCode(r) != "invalid_grant" {
		t.Fatalf("right PIN after five wrong ones: HTTP %d %s", r.status, r.body)
	}
	if r := form(grant(code(uri), "")); oauthCode(r) == "" {
		t.Fatalf("missing PIN accepted: %s", r.body)
	}

	// A good code works once.
	uri, _, tx = f.createOffer("DrivingLicence", licence, true)
	r := form(grant(code(uri), tx))
	if r.status != 200 {
		t.Fatalf("token: HTTP %d %s", r.status, r.body)
	}
	var tr oid4vci.TokenResponse
	json.Unmarshal(r.body, &tr)
	if r := form(grant(code(uri), tx)); oauthCode(r) != "invalid_grant" {
		t.Fatalf("reused code: %s", r.body)
	}
	if r := form(url.Values{"grant_type": {"password"}}); oauthCode(r) != "unsupported_grant_type" {
		t.Fatalf("other grant type: %s", r.body)
	}

	nonce := func() string {
		var n oid4vci.NonceResponse
		json.Unmarshal(f.do(http.MethodPost, "/oid4vci/nonce", "", "", nil).body, &n)
		return n.CNonce
	}
	proof := func(aud, n string, key any) string {
		s, err := oid4vci.NewProofSigner(key, "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := oid4vci.BuildProof(s, "", aud, n, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	credReq := func(token, p string) response {
		b, _ := json.Marshal(oid4vci.CredentialRequest{CredentialConfigurationID: "DrivingLicence_sd_jwt_vc", Proofs: &oid4vci.Proofs{JWT: []string{p}}})
		return f.do(http.MethodPost, "/oid4vci/credential", token, "application/json", b)
	}
	issuerID := f.srv.Issuer.IssuerMetadata().CredentialIssuer
	holder := f.holder.Signer()

	if r := credReq(tr.AccessToken, proof("https://other.example", nonce(), holder)); oauthCode(r) != "invalid_proof" {
		t.Fatalf("proof for another audience: %s", r.body)
	}
	// The access token is single-use: a second request with it is refused.
	if r := credReq(tr.AccessToken, proof(issuerID, nonce(), holder)); r.status != 401 || oauthCode(r) != "invalid_token" {
		t.Fatalf("token reused: HTTP %d %s", r.status, r.body)
	}

	fresh := func() string {
		uri, _, tx := f.createOffer("DrivingLicence", licence, true)
		r := form(grant(code(uri), tx))
		var tr oid4vci.TokenResponse
		json.Unmarshal(r.body, &tr)
		return tr.AccessToken
	}
	if r := credReq(fresh(), proof(issuerID, "never-issued", holder)); oauthCode(r) != "invalid_nonce" {
		t.Fatalf("unknown nonce: %s", r.body)
	}
	n := nonce()
	if r := credReq(fresh(), proof(issuerID, n, holder)); r.status != 200 {
		t.Fatalf("good request: HTTP %d %s", r.status, r.body)
	} else {
		var cr oid4vci.CredentialResponse
		json.Unmarshal(r.body, &cr)
		raw, _ := cr.Credentials[0].String()
		sd, err := sdjwt.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		hk, _ := sdjwt.HolderKey(sd.Payload)
		if want := f.holder.PublicJWK(); hk == nil || !sameThumb(hk, &want) {
			t.Fatal("credential not bound to the proof's key")
		}
	}
	if r := credReq(fresh(), proof(issuerID, n, holder)); oauthCode(r) != "invalid_nonce" {
		t.Fatalf("nonce reused: %s", r.body)
	}
	// An expired access token.
	stale := fresh()
	f.clock.Add(6 * time.Minute)
	if r := credReq(stale, proof(issuerID, nonce(), holder)); r.status != 401 {
		t.Fatalf("expired token: HTTP %d %s", r.status, r.body)
	}
	f.clock.Add(-6 * time.Minute)
	if r := credReq("", proof(issuerID, nonce(), holder)); r.status != 401 || r.problemType() != "" {
		t.Fatalf("no token: HTTP %d %s", r.status, r.body)
	}
	if issuedAfter, _ := f.counts(); issuedAfter != issuedBefore+1 {
		t.Fatalf("issued %d credentials, want exactly the one good request", issuedAfter-issuedBefore)
	}

	// Metadata.
	var meta oid4vci.IssuerMetadata
	json.Unmarshal(f.do(http.MethodGet, "/.well-known/openid-credential-issuer", "", "", nil).body, &meta)
	if _, ok := meta.CredentialConfigurationsSupported["DrivingLicence_sd_jwt_vc"]; !ok || meta.CredentialIssuer != f.url {
		t.Fatalf("issuer metadata: %+v", meta)
	}
}
