package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/issuer"
)

// agencyCreated is the answer to POST /issuer/v1/agencies.
type agencyCreated struct {
	Agency issuer.Agency `json:"agency"`
	Token  string        `json:"token"`
}

// issueWith has the agency behind token (API or OAuth access token) issue a driving licence
// to the fixture's holder and returns the answer.
func (f *fixture) issueWith(token string) response {
	f.t.Helper()
	return f.doJSON(http.MethodPost, "/issuer/v1/credentials", token, map[string]any{"type": "DrivingLicence", "holder": f.holderDID, "claims": licence})
}

// assertNothingStored fails unless the issuer and wallet hold what they held before.
func (f *fixture) assertNothingStored(what string, issued, held int) {
	f.t.Helper()
	if i, h := f.counts(); i != issued || h != held {
		f.t.Errorf("%s stored something: credentials %d→%d, held %d→%d", what, issued, i, held, h)
	}
}

// TestAgencyAdministration: the root authority adds an agency (did:ez on the ledger,
// accredited there, first token returned once) whose token issues at once; other agencies
// can neither add nor list; duplicate names and unknown types are refused; refusals store
// nothing.
func TestAgencyAdministration(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	root := f.world.RootAuthority.Token
	if root == "" {
		t.Fatal("demo.json has no root authority token")
	}
	body := map[string]any{"name": "Transport Bureau", "types": []string{"DrivingLicence"}, "valid_days": 30}
	r := f.doJSON(http.MethodPost, "/issuer/v1/agencies", root, body)
	if r.status != http.StatusCreated {
		t.Fatalf("add agency: HTTP %d %s", r.status, r.body)
	}
	var created agencyCreated
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	a := created.Agency
	if !strings.HasPrefix(a.DID, "did:ez:") || created.Token == "" || a.Root || !slices.Equal(a.Types, []string{"DrivingLicence"}) {
		t.Fatalf("created %+v", created)
	}
	if _, err := f.srv.Ledger.ResolveDID(ctx, a.DID); err != nil {
		t.Fatalf("the agency's DID is not on the ledger: %v", err)
	}
	dl, _ := issuer.LookupType("DrivingLicence")
	acc, err := f.srv.Ledger.Accreditation(ctx, a.DID, dl.VCT, f.clock.Now())
	if err != nil {
		t.Fatalf("the ledger does not accredit the new agency: %v", err)
	}
	if want := f.clock.Now().AddDate(0, 0, 30); !acc.Until.Equal(want) {
		t.Errorf("accredited until %s, want %s", acc.Until, want)
	}
	r = f.issueWith(created.Token)
	if r.status != http.StatusCreated {
		t.Fatalf("the new agency's token does not issue: HTTP %d %s", r.status, r.body)
	}
	var cred struct{ Issuer string }
	json.Unmarshal(r.body, &cred)
	if cred.Issuer != a.DID {
		t.Errorf("issuer = %s, want %s", cred.Issuer, a.DID)
	}

	issued, held := f.counts()
	list := func() []issuer.AgencyInfo {
		t.Helper()
		r := f.do(http.MethodGet, "/issuer/v1/agencies", root, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("list: HTTP %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), "ezt_") || strings.Contains(string(r.body), "token") {
			t.Fatalf("the listing shows secrets: %s", r.body)
		}
		var l struct{ Agencies []issuer.AgencyInfo }
		json.Unmarshal(r.body, &l)
		return l.Agencies
	}
	before := list()
	if len(before) != 1+len(f.world.Agencies)+1 { // root, demo agencies, the new one
		t.Fatalf("listed %d agencies: %+v", len(before), before)
	}
	for _, info := range before {
		if info.DID == a.DID && !slices.Equal(info.Accredited, []string{"DrivingLicence"}) {
			t.Errorf("new agency accredited for %v", info.Accredited)
		}
	}

	dlTok := f.token("DrivingLicence")
	for _, tc := range []struct {
		name, token string
		body        any
		status      int
		problem     string
	}{
		{"duplicate name", root, body, 409, "/problems/conflict"},
		{"unknown type", root, map[string]any{"name": "Other", "types": []string{"Passport"}}, 400, "/problems/unknown-credential-type"},
		{"no types", root, map[string]any{"name": "Other", "types": []string{}}, 400, "/problems/malformed-request"},
		{"empty name", root, map[string]any{"name": " ", "types": []string{"HealthCode"}}, 400, "/problems/malformed-request"},
		{"valid_days out of range", root, map[string]any{"name": "Other", "types": []string{"HealthCode"}, "valid_days": 99999}, 400, "/problems/malformed-request"},
		{"unknown field", root, map[string]any{"name": "Other", "types": []string{"HealthCode"}, "root": true}, 400, "/problems/malformed-request"},
		{"demo agency", dlTok, map[string]any{"name": "Other", "types": []string{"HealthCode"}}, 403, "/problems/forbidden"},
		{"new agency", created.Token, map[string]any{"name": "Other", "types": []string{"HealthCode"}}, 403, "/problems/forbidden"},
		{"no token", "", map[string]any{"name": "Other", "types": []string{"HealthCode"}}, 401, "/problems/unauthorized"},
		{"wrong token", "ezt_wrong", map[string]any{"name": "Other", "types": []string{"HealthCode"}}, 401, "/problems/unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.doJSON(http.MethodPost, "/issuer/v1/agencies", tc.token, tc.body)
			if r.status != tc.status || r.problemType() != tc.problem {
				t.Errorf("HTTP %d %s, want %d %s (%s)", r.status, r.problemType(), tc.status, tc.problem, r.body)
			}
		})
	}
	if r := f.do(http.MethodPost, "/issuer/v1/agencies", root, "application/json", []byte(`{"name":"`+strings.Repeat("x", 2<<20)+`","types":["HealthCode"]}`)); r.status != 413 {
		t.Errorf("oversized body: HTTP %d %s", r.status, r.problemType())
	}
	if r := f.do(http.MethodPost, "/issuer/v1/agencies", root, "text/plain", []byte(`{}`)); r.status != 415 {
		t.Errorf("text/plain body: HTTP %d %s", r.status, r.problemType())
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/agencies", root, map[string]any{"name": strings.Repeat("x", 201), "types": []string{"HealthCode"}}); r.status != 400 {
		t.Errorf("overlong name: HTTP %d %s", r.status, r.problemType())
	}
	for _, tok := range []string{dlTok, created.Token} {
		if r := f.do(http.MethodGet, "/issuer/v1/agencies", tok, "", nil); r.status != 403 || r.problemType() != "/problems/forbidden" {
			t.Errorf("a non-root agency listed agencies: HTTP %d %s", r.status, r.body)
		}
	}
	if after := list(); len(after) != len(before) {
		t.Errorf("refused requests added agencies: %d → %d", len(before), len(after))
	}
	f.assertNothingStored("refused agency requests", issued, held)
}

// oauthAnswer is a token endpoint answer: a token or an OAuth error.
type oauthAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error"`
}

// tokenRequest posts form to /oauth/token, with HTTP Basic client authentication when
// basic is not empty.
func (f *fixture) tokenRequest(form url.Values, basic ...string) (response, oauthAnswer, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a oauthAnswer
	json.Unmarshal(b, &a)
	return response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}, a, resp.Header
}

// newClient has the agency behind token create an OAuth client.
func (f *fixture) newClient(token string) (id, secret string) {
	f.t.Helper()
	r := f.do(http.MethodPost, "/issuer/v1/agency/clients", token, "", nil)
	if r.status != http.StatusCreated {
		f.t.Fatalf("create client: HTTP %d %s", r.status, r.body)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(r.body, &c)
	if c.ID == "" || c.Secret == "" {
		f.t.Fatalf("client %s", r.body)
	}
	return c.ID, c.Secret
}

// TestOAuthClientCredentials: an agency's OAuth client gets access tokens (Basic or form
// authentication) that act as the agency and only as it; wrong secrets, unsupported grants,
// expired tokens and revoked clients are refused with OAuth or problem errors, storing
// nothing.
func TestOAuthClientCredentials(t *testing.T) {
	f := newFixture(t)
	dlTok := f.token("DrivingLicence")
	id, secret := f.newClient(dlTok)
	grant := url.Values{"grant_type": {"client_credentials"}}

	r, basic, h := f.tokenRequest(grant, id, secret)
	if r.status != 200 || basic.TokenType != "Bearer" || basic.ExpiresIn != 3600 || !strings.HasPrefix(basic.AccessToken, "ezat_") {
		t.Fatalf("Basic: HTTP %d %s", r.status, r.body)
	}
	if h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.ctype, "application/json") {
		t.Errorf("token answer headers: Cache-Control %q, Content-Type %q", h.Get("Cache-Control"), r.ctype)
	}
	r, form, _ := f.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if r.status != 200 || form.AccessToken == "" || form.AccessToken == basic.AccessToken {
		t.Fatalf("form: HTTP %d %s", r.status, r.body)
	}

	// The access token acts as the agency.
	r = f.issueWith(basic.AccessToken)
	if r.status != http.StatusCreated {
		t.Fatalf("issue with an access token: HTTP %d %s", r.status, r.body)
	}
	var cred struct{ ID string }
	json.Unmarshal(r.body, &cred)
	var me issuer.Agency
	json.Unmarshal(f.do(http.MethodGet, "/issuer/v1/agency", form.AccessToken, "", nil).body, &me)
	if dl, _ := f.world.Agency("DrivingLicence"); me.ID != dl.ID {
		t.Fatalf("the access token authenticates as %q, want %q", me.ID, dl.ID)
	}

	issued, held := f.counts()
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		err    string
	}{
		{"wrong secret", grant, []string{id, secret + "x"}, 401, "invalid_client"},
		{"wrong secret in form", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"ezcs_nope"}}, nil, 401, "invalid_client"},
		{"unknown client", grant, []string{"client_nope", secret}, 401, "invalid_client"},
		{"no client authentication", grant, nil, 401, "invalid_client"},
		{"two methods", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, []string{id, secret}, 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, []string{id, secret}, 400, "unsupported_grant_type"},
		{"no grant type", url.Values{}, []string{id, secret}, 400, "invalid_request"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, []string{id, secret}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, a, h := f.tokenRequest(tc.form, tc.basic...)
			if r.status != tc.status || a.Error != tc.err || a.AccessToken != "" {
				t.Fatalf("HTTP %d %s, want %d %s", r.status, r.body, tc.status, tc.err)
			}
			if tc.status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate = %q, want Basic", h.Get("WWW-Authenticate"))
			}
		})
	}
	if r := f.do(http.MethodPost, "/oauth/token", "", "application/json", []byte(`{"grant_type":"client_credentials"}`)); r.status != 400 || !strings.Contains(string(r.body), "invalid_request") {
		t.Errorf("JSON body: HTTP %d %s", r.status, r.body)
	}

	// One agency's access token cannot read or revoke another's things.
	hcTok := f.token("HealthCode")
	hcID, hcSecret := f.newClient(hcTok)
	_, hc, _ := f.tokenRequest(grant, hcID, hcSecret)
	if r := f.do(http.MethodGet, "/issuer/v1/credentials/"+cred.ID, hc.AccessToken, "", nil); r.status != 404 {
		t.Errorf("another agency's access token read the credential: HTTP %d", r.status)
	}
	if r := f.do(http.MethodDelete, "/issuer/v1/agency/clients/"+id, hc.AccessToken, "", nil); r.status != 404 {
		t.Errorf("another agency revoked the client: HTTP %d", r.status)
	}
	if r := f.issueWith(hc.AccessToken); r.status != 403 || r.problemType() != "/problems/type-not-allowed" {
		t.Errorf("the HealthCode agency's access token issued a licence: HTTP %d %s", r.status, r.body)
	}
	if r := f.issueWith(basic.AccessToken + "x"); r.status != 401 {
		t.Errorf("a tampered access token: HTTP %d", r.status)
	}
	f.assertNothingStored("refused token requests", issued, held)

	// Access tokens expire after an hour; the client gets a new one.
	f.clock.Add(issuer.AccessTokenLifetime)
	if r := f.issueWith(basic.AccessToken); r.status != 401 || r.problemType() != "/problems/unauthorized" {
		t.Fatalf("expired access token: HTTP %d %s", r.status, r.body)
	}
	f.assertNothingStored("an expired access token", issued, held)
	_, fresh, _ := f.tokenRequest(grant, id, secret)
	if r := f.do(http.MethodGet, "/issuer/v1/agency", fresh.AccessToken, "", nil); r.status != 200 {
		t.Fatalf("fresh access token: HTTP %d %s", r.status, r.body)
	}

	// Revoking the client revokes its tokens, and it authenticates no more.
	if r := f.do(http.MethodDelete, "/issuer/v1/agency/clients/"+id, dlTok, "", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete client: HTTP %d %s", r.status, r.body)
	}
	if r := f.issueWith(fresh.AccessToken); r.status != 401 {
		t.Fatalf("a revoked client's access token: HTTP %d", r.status)
	}
	if r, a, _ := f.tokenRequest(grant, id, secret); r.status != 401 || a.Error != "invalid_client" {
		t.Fatalf("a revoked client got a token: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/issuer/v1/agency/clients/"+id, dlTok, "", nil); r.status != 404 {
		t.Errorf("delete a revoked client again: HTTP %d", r.status)
	}
	if r := f.do(http.MethodPost, "/issuer/v1/agency/clients", "", "", nil); r.status != 401 {
		t.Errorf("create a client without a token: HTTP %d", r.status)
	}
	f.assertNothingStored("a revoked client", issued, held)
	if r := f.issueWith(dlTok); r.status != http.StatusCreated { // the API token is untouched
		t.Fatalf("API token after revocation: HTTP %d %s", r.status, r.body)
	}
}

// TestLedgerAccreditationEnforced: the ledger, not the agency's local types list, decides what
// an agency may issue: a type it was never accredited for, or whose accreditation the root
// authority withdrew, is refused at issuance and at the offer endpoint, storing nothing.
func TestLedgerAccreditationEnforced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc := f.srv.Issuer
	root, err := svc.RootAuthority(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := issuer.LookupType("HealthCode")
	dl, _ := issuer.LookupType("DrivingLicence")

	// Listed locally for both types, accredited on the ledger for one.
	a, err := svc.CreateAgency(ctx, "Dual Bureau", []string{"DrivingLicence", "HealthCode"})
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	if err := svc.Accredit(ctx, root, a.DID, []string{hc.VCT}, now.Add(-time.Minute), now.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	dual, err := svc.NewToken(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	offer := func(tok string) response {
		return f.doJSON(http.MethodPost, "/issuer/v1/offers", tok, map[string]any{"type": "DrivingLicence", "claims": licence})
	}
	issued, held := f.counts()
	refused := func(what string, r response) {
		t.Helper()
		if r.status != 403 || r.problemType() != "/problems/type-not-allowed" {
			t.Errorf("%s: HTTP %d %s, want 403 type-not-allowed", what, r.status, r.body)
		}
	}
	refused("issue a type never accredited", f.issueWith(dual))
	refused("offer a type never accredited", offer(dual))
	var me issuer.Agency
	json.Unmarshal(f.do(http.MethodGet, "/issuer/v1/agency", dual, "", nil).body, &me)
	if !slices.Equal(me.Types, []string{"HealthCode"}) {
		t.Errorf("the agency's types in force = %v, want [HealthCode]", me.Types)
	}
	f.assertNothingStored("an unaccredited type", issued, held)

	// The root authority withdraws the demo licence agency's accreditation.
	dlTok := f.token("DrivingLicence")
	if r := f.issueWith(dlTok); r.status != http.StatusCreated {
		t.Fatalf("issue before withdrawal: HTTP %d %s", r.status, r.body)
	}
	if r := offer(dlTok); r.status != http.StatusCreated {
		t.Fatalf("offer before withdrawal: HTTP %d %s", r.status, r.body)
	}
	demoDL, _ := f.world.Agency("DrivingLicence")
	if err := svc.Withdraw(ctx, root, demoDL.DID, []string{dl.VCT}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	issued, held = f.counts()
	refused("issue after withdrawal", f.issueWith(dlTok))
	refused("offer after withdrawal", offer(dlTok))
	id, secret := f.newClient(dlTok)
	_, tok, _ := f.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, id, secret)
	refused("issue with an access token after withdrawal", f.issueWith(tok.AccessToken))
	f.assertNothingStored("a withdrawn accreditation", issued, held)
	var l struct{ Agencies []issuer.AgencyInfo }
	json.Unmarshal(f.do(http.MethodGet, "/issuer/v1/agencies", f.world.RootAuthority.Token, "", nil).body, &l)
	for _, info := range l.Agencies {
		if info.DID == demoDL.DID && len(info.Accredited) != 0 {
			t.Errorf("listing shows the withdrawn agency accredited for %v", info.Accredited)
		}
	}
}
