package server_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// TestIssueBadInput: every rejected issuance answers with its problem type and stores nothing.
func TestIssueBadInput(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	good := map[string]any{"type": "DrivingLicence", "holder": f.holderDID, "claims": licence}
	with := func(k string, v any) map[string]any { m := maps.Clone(good); m[k] = v; return m }
	claimsWith := func(k string, v any) map[string]any {
		c := maps.Clone(licence)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return with("claims", c)
	}
	body := func(v any) []byte { b, _ := json.Marshal(v); return b }
	tests := []struct {
		name, token, ctype string
		body               []byte
		status             int
		ptype              string
	}{
		{"no token", "", "application/json", body(good), 401, "/problems/unauthorized"},
		{"wrong token", "ezt_not-a-token", "application/json", body(good), 401, "/problems/unauthorized"},
		{"citizen token at the issuer", f.world.Citizen.Token, "application/json", body(good), 401, "/problems/unauthorized"},
		{"another agency's type", f.token("HealthCode"), "application/json", body(good), 403, "/problems/type-not-allowed"},
		{"unknown type", dl, "application/json", body(with("type", "PilotLicence")), 400, "/problems/unknown-credential-type"},
		{"missing claim", dl, "application/json", body(claimsWith("licence_class", nil)), 422, "/problems/invalid-claims"},
		{"unknown claim", dl, "application/json", body(claimsWith("blood_type", "A")), 422, "/problems/invalid-claims"},
		{"claim not a string", dl, "application/json", body(claimsWith("licence_class", 3)), 422, "/problems/invalid-claims"},
		{"bad holder DID", dl, "application/json", body(with("holder", "did:nope")), 422, "/problems/invalid-holder"},
		{"holder DID of an unknown method", dl, "application/json", body(with("holder", "did:example:123")), 422, "/problems/invalid-holder"},
		{"holder did:web on an internal address", dl, "application/json", body(with("holder", "did:web:127.0.0.1%3A1")), 422, "/problems/invalid-holder"},
		{"malformed JSON", dl, "application/json", []byte(`{"type":`), 400, "/problems/malformed-request"},
		{"duplicate member", dl, "application/json", []byte(`{"type":"DrivingLicence","type":"HealthCode"}`), 400, "/problems/malformed-request"},
		{"oversized", dl, "application/json", []byte(`{"type":"` + strings.Repeat("x", 2<<20) + `"}`), 413, "/problems/too-large"},
		{"form body", dl, "application/x-www-form-urlencoded", []byte(`type=DrivingLicence`), 415, "/problems/unsupported-media-type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.counts()
			r := f.do(http.MethodPost, "/issuer/v1/credentials", tt.token, tt.ctype, tt.body)
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %q, want %d %q: %.300s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
			if after, _ := f.counts(); after != before {
				t.Fatalf("a rejected request stored a credential (%d → %d)", before, after)
			}
		})
	}
	// Claim violations are listed field by field.
	r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, claimsWith("licence_class", nil))
	if !strings.Contains(string(r.body), `"field":"claims/licence_class"`) {
		t.Fatalf("invalid-claims problem does not name the field: %s", r.body)
	}
}

// TestIssueIdempotent: the same Idempotency-Key returns the same credential; reusing it for a
// different request is a conflict; neither stores a second credential.
func TestIssueIdempotent(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	req := map[string]any{"type": "DrivingLicence", "holder": f.holderDID, "claims": licence}
	first := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, req, "Idempotency-Key", "order-42")
	again := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, req, "Idempotency-Key", "order-42")
	if first.status != 201 || again.status != 200 {
		t.Fatalf("statuses %d, %d; want 201, 200", first.status, again.status)
	}
	var a, b struct{ ID, Credential string }
	json.Unmarshal(first.body, &a)
	json.Unmarshal(again.body, &b)
	if a.ID == "" || a.ID != b.ID || a.Credential != b.Credential {
		t.Fatal("retry returned a different credential")
	}
	changed := maps.Clone(req)
	changed["holder"] = f.world.Citizen.DID
	if r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, changed, "Idempotency-Key", "order-42"); r.status != 409 || r.problemType() != "/problems/idempotency-conflict" {
		t.Fatalf("reuse: HTTP %d %s", r.status, r.problemType())
	}
	// Another agency may use the same key for its own request.
	hc := map[string]any{"type": "HealthCode", "holder": f.holderDID, "claims": map[string]any{"family_name": "张", "given_name": "三", "health_status": "green"}}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", f.token("HealthCode"), hc, "Idempotency-Key", "order-42"); r.status != 201 {
		t.Fatalf("other agency, same key: HTTP %d %s", r.status, r.body)
	}
	if n, _ := f.counts(); n != 2 {
		t.Fatalf("%d credentials stored, want 2", n)
	}
	// An agency cannot read another agency's credential.
	if r := f.do(http.MethodGet, "/issuer/v1/credentials/"+a.ID, f.token("HealthCode"), "", nil); r.status != 404 {
		t.Fatalf("cross-agency read: HTTP %d", r.status)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/credentials/"+a.ID, dl, "", nil); r.status != 200 {
		t.Fatalf("own read: HTTP %d", r.status)
	}
}

// TestBridgeBadInput: the wallet refuses tampered and foreign credentials and keeps citizens
// apart; nothing is stored.
func TestBridgeBadInput(t *testing.T) {
	f := newFixture(t)
	tok := f.world.Citizen.Token
	mine := f.issue("DrivingLicence", f.world.Citizen.DID, licence)
	notMine := f.issue("DrivingLicence", f.holderDID, licence)
	tampered := replaceDisclosure(t, mine, "licence_class", "A1")
	tests := []struct {
		name, token string
		body        any
		status      int
		ptype       string
	}{
		{"no token", "", map[string]any{"credential": mine}, 401, "/problems/dpop-required"}, // the bridge takes DPoP-bound tokens only
		{"agency token at the bridge", f.token("DrivingLicence"), map[string]any{"credential": mine}, 401, "/problems/dpop-required"},
		{"tampered disclosure", tok, map[string]any{"credential": tampered}, 422, "/problems/credential-not-trusted"}, // the signature check fails
		{"bound to another holder", tok, map[string]any{"credential": notMine}, 422, "/problems/credential-not-bound"},
		{"from an issuer whose signature does not hold", tok, map[string]any{"credential": strings.Replace(mine, ".", ".e30", 1)}, 422, "/problems/invalid-credential"},
		{"a presentation instead of a credential", tok, map[string]any{"credential": f.present(notMine, counterClaims, nil, "x")}, 422, "/problems/invalid-credential"},
		{"not an SD-JWT", tok, map[string]any{"credential": "hello"}, 422, "/problems/invalid-credential"},
		{"empty", tok, map[string]any{"credential": ""}, 400, "/problems/malformed-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := f.counts()
			r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tt.token, tt.body)
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %q, want %d %q: %.300s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
			if _, after := f.counts(); after != before {
				t.Fatalf("a rejected credential was stored (%d → %d)", before, after)
			}
		})
	}

	// The real one is stored once, and a second citizen can neither see nor show it.
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": mine})
	if r.status != 201 {
		t.Fatalf("receive: HTTP %d %s", r.status, r.body)
	}
	if r2 := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": mine}); r2.status != 200 {
		t.Fatalf("receive again: HTTP %d, want 200", r2.status)
	}
	var held struct{ ID string }
	json.Unmarshal(r.body, &held)
	otherTok := f.newCitizen("Li Si").Token // a citizen with a device of their own (DPoP)
	qrBody := map[string]any{"disclose": counterClaims}
	if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+held.ID+"/qr", otherTok, qrBody); r.status != 404 {
		t.Fatalf("another citizen made a QR of it: HTTP %d", r.status)
	}
	var list struct{ Credentials []any }
	json.Unmarshal(f.do(http.MethodGet, "/bridge/v1/credentials", otherTok, "", nil).body, &list)
	if len(list.Credentials) != 0 {
		t.Fatalf("another citizen sees %d credentials", len(list.Credentials))
	}
	if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+held.ID+"/qr", tok, map[string]any{"disclose": []string{"blood_type"}}); r.status != 422 || r.problemType() != "/problems/unknown-claim" {
		t.Fatalf("unknown claim: HTTP %d %s", r.status, r.problemType())
	}
	if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+held.ID+"/qr", tok, qrBody); r.status != 200 {
		t.Fatalf("own QR: HTTP %d %s", r.status, r.body)
	}
}
