package server_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// businessLicence uses only claims our JSON-LD context defines, so it can be issued as ldp_vc
// (entity_type, operating_period_end and registration_authority have no term yet).
var businessLicence = map[string]any{
	"company_name":               "杭州云证科技有限公司",
	"unified_social_credit_code": "91330106MA2H12345X",
	"legal_representative":       "李四",
	"registered_capital":         "1000万元人民币",
	"established":                "2019-08-12",
	"address":                    "浙江省杭州市西湖区文三路 200 号 5 楼",
	"business_scope":             "技术开发、技术服务、技术咨询；软件开发；信息系统集成服务。",
}

// issuedFormats is the part of an issue or fetch answer these tests read.
type issuedFormats struct {
	ID         string                     `json:"id"`
	Issuer     string                     `json:"issuer"`
	Credential string                     `json:"credential"`
	Formats    map[string]json.RawMessage `json:"formats"`
}

func (f *fixture) issueFormats(typ string, claims map[string]any, headers ...string) (issuedFormats, int) {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", f.token(typ), map[string]any{"type": typ, "holder": f.holderDID, "claims": claims}, headers...)
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		f.t.Fatalf("issue %s: HTTP %d %s", typ, r.status, r.body)
	}
	var c issuedFormats
	if err := json.Unmarshal(r.body, &c); err != nil {
		f.t.Fatal(err)
	}
	return c, r.status
}

func (f *fixture) agencyDID(typ string) string {
	a, ok := f.world.Agency(typ)
	if !ok {
		f.t.Fatalf("no agency for %s", typ)
	}
	return a.DID
}

// resolveKey resolves an issuer's kid through the server's own ledger.
func (f *fixture) resolveKey(kid string) (any, error) {
	return did.ResolveKey(context.Background(), ledgerResolver{f.srv.Ledger}, kid, did.AssertionMethod)
}

func (f *fixture) resolveEd25519(kid string) (ed25519.PublicKey, error) {
	k, err := did.ResolveKey(context.Background(), ledgerResolver{f.srv.Ledger}, kid, did.AssertionMethod)
	if err != nil {
		return nil, err
	}
	pk, ok := k.Key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key of %s is %T", kid, k.Key)
	}
	return pk, nil
}

// verifyJWT verifies a vc+jwt or JWT-VC with vcjwt and returns its claims.
func (f *fixture) verifyJWT(t *testing.T, token, wantFormat, wantIssuer, wantType string) map[string]any {
	t.Helper()
	v, err := vcjwt.Verify(token, f.resolveKey, f.clock.Now(), time.Minute)
	if err != nil {
		t.Fatalf("%s: %v", wantFormat, err)
	}
	c := v.Credential
	if v.Format != wantFormat || c.Issuer != wantIssuer || c.Subject != f.holderDID || !slices.Equal(c.Types, []string{wantType}) {
		t.Fatalf("%s: format %s issuer %s subject %s types %v", wantFormat, v.Format, c.Issuer, c.Subject, c.Types)
	}
	return c.Claims
}

// verifyLDP verifies an ldp_vc with ldvc and returns its claims.
func (f *fixture) verifyLDP(t *testing.T, raw []byte, wantIssuer, wantType string) map[string]any {
	t.Helper()
	v, err := ldvc.Verify(raw, f.resolveEd25519, f.clock.Now())
	if err != nil {
		t.Fatalf("ldp_vc: %v", err)
	}
	if v.Issuer != wantIssuer || !slices.Equal(v.Types, []string{"VerifiableCredential", wantType}) || v.Subject["id"] != f.holderDID {
		t.Fatalf("ldp_vc: issuer %s types %v subject %v", v.Issuer, v.Types, v.Subject["id"])
	}
	claims := maps.Clone(v.Subject)
	delete(claims, "id")
	return claims
}

// verifySDJWT verifies the SD-JWT VC's issuer signature and returns its type's claims.
func (f *fixture) verifySDJWT(t *testing.T, raw, wantIssuer string, names []string) map[string]any {
	t.Helper()
	s, err := sdjwt.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := s.Header["kid"].(string)
	key, err := f.resolveKey(kid)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.VerifyIssuer(key)
	if err != nil {
		t.Fatalf("dc+sd-jwt: %v", err)
	}
	if all["iss"] != wantIssuer {
		t.Fatalf("dc+sd-jwt: iss %v", all["iss"])
	}
	claims := map[string]any{}
	for _, n := range names {
		if v, ok := all[n]; ok {
			claims[n] = v
		}
	}
	return claims
}

// sameClaims compares claims by their JSON text, so that numbers of any Go type compare equal.
func sameClaims(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s claims:\n got %s\nwant %s", what, g, w)
	}
}

func stringOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string", raw)
	}
	return s
}

func formatNames(m map[string]json.RawMessage) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestIssueEveryFormat: one issuance yields every format the type asks for, each verifying
// with its own verifier and carrying the same claims; fetching it and retrying it return the
// same bytes.
func TestIssueEveryFormat(t *testing.T) {
	f := newFixture(t)
	bl, _ := issuer.LookupType("BusinessLicence")

	// BusinessLicence: dc+sd-jwt, jwt_vc_json, ldp_vc.
	c, status := f.issueFormats("BusinessLicence", businessLicence, "Idempotency-Key", "bl-1")
	if status != http.StatusCreated {
		t.Fatalf("HTTP %d", status)
	}
	if got, want := formatNames(c.Formats), []string{"jwt_vc_json", "ldp_vc"}; !slices.Equal(got, want) {
		t.Fatalf("formats %v, want %v", got, want)
	}
	sameClaims(t, "dc+sd-jwt", f.verifySDJWT(t, c.Credential, c.Issuer, bl.Properties), businessLicence)
	sameClaims(t, "jwt_vc_json", f.verifyJWT(t, stringOf(t, c.Formats["jwt_vc_json"]), vcjwt.FormatJWTVC11, c.Issuer, "BusinessLicence"), businessLicence)
	sameClaims(t, "ldp_vc", f.verifyLDP(t, c.Formats["ldp_vc"], c.Issuer, "BusinessLicence"), businessLicence)

	// The W3C formats share the SD-JWT VC's validity period.
	v, _ := vcjwt.Verify(stringOf(t, c.Formats["jwt_vc_json"]), f.resolveKey, f.clock.Now(), 0)
	if !v.Credential.ValidFrom.Equal(f.clock.Now()) || !v.Credential.ValidUntil.Equal(f.clock.Now().Add(bl.Validity)) {
		t.Errorf("jwt_vc_json valid %s..%s", v.Credential.ValidFrom, v.Credential.ValidUntil)
	}

	// The idempotent retry and the fetch return the same bytes.
	again, status := f.issueFormats("BusinessLicence", businessLicence, "Idempotency-Key", "bl-1")
	if status != http.StatusOK || again.ID != c.ID || again.Credential != c.Credential {
		t.Fatalf("retry: HTTP %d, id %s (want %s)", status, again.ID, c.ID)
	}
	r := f.do(http.MethodGet, "/issuer/v1/credentials/"+c.ID, f.token("BusinessLicence"), "", nil)
	var got issuedFormats
	json.Unmarshal(r.body, &got)
	for name, gotFormats := range map[string]map[string]json.RawMessage{"retry": again.Formats, "fetch": got.Formats} {
		if !maps.EqualFunc(gotFormats, c.Formats, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
			t.Errorf("%s returned other formats", name)
		}
	}

	// A claim without a JSON-LD term leaves ldp_vc out; the other formats are issued.
	withAuthority := maps.Clone(businessLicence)
	withAuthority["registration_authority"] = "杭州市西湖区市场监督管理局"
	c2, _ := f.issueFormats("BusinessLicence", withAuthority)
	if got := formatNames(c2.Formats); !slices.Equal(got, []string{"jwt_vc_json"}) {
		t.Fatalf("with registration_authority: formats %v, want [jwt_vc_json]", got)
	}
	sameClaims(t, "jwt_vc_json", f.verifyJWT(t, stringOf(t, c2.Formats["jwt_vc_json"]), vcjwt.FormatJWTVC11, c2.Issuer, "BusinessLicence"), withAuthority)

	// DrivingLicence: dc+sd-jwt and jwt_vc_json.
	dlType, _ := issuer.LookupType("DrivingLicence")
	dl, _ := f.issueFormats("DrivingLicence", licence)
	if got := formatNames(dl.Formats); !slices.Equal(got, []string{"jwt_vc_json"}) {
		t.Fatalf("DrivingLicence formats %v, want [jwt_vc_json]", got)
	}
	sameClaims(t, "dc+sd-jwt", f.verifySDJWT(t, dl.Credential, dl.Issuer, dlType.Properties), licence)
	sameClaims(t, "jwt_vc_json", f.verifyJWT(t, stringOf(t, dl.Formats["jwt_vc_json"]), vcjwt.FormatJWTVC11, dl.Issuer, "DrivingLicence"), licence)

	// HealthCode: the SD-JWT VC only, and no formats member.
	hc := f.doJSON(http.MethodPost, "/issuer/v1/credentials", f.token("HealthCode"), map[string]any{"type": "HealthCode", "holder": f.holderDID,
		"claims": map[string]any{"family_name": "张", "given_name": "三", "health_status": "green"}})
	if hc.status != http.StatusCreated || strings.Contains(string(hc.body), `"formats"`) {
		t.Fatalf("HealthCode: HTTP %d %s", hc.status, hc.body)
	}
}

// TestLDContextGaps pins the claims our JSON-LD context has no term for, per type that asks
// for ldp_vc. Credentials with these claims are issued without ldp_vc; when the context gains
// the terms (internal/ldvc/contexts/licence-v1.jsonld), empty the lists here.
func TestLDContextGaps(t *testing.T) {
	want := map[string][]string{
		"BusinessLicence":   {"entity_type", "operating_period_end", "registration_authority"},
		"DegreeCertificate": {"award_date", "degree_level", "discipline", "sex", "student_number"},
	}
	for _, typ := range credtype.Builtin().All() {
		if !slices.Contains(typ.Formats, issuer.FormatLDPVC) {
			continue
		}
		if got := issuer.UndefinedLDTerms(typ); !slices.Equal(got, want[typ.Name]) {
			t.Errorf("%s: undefined terms %v, want %v", typ.Name, got, want[typ.Name])
		}
	}
}

// vcapiCredential is a VC-API credential for typ and claims, held by holder.
func vcapiCredential(base, typ, holder string, claims map[string]any) map[string]any {
	subject := maps.Clone(claims)
	subject["id"] = holder
	return map[string]any{
		"@context":          []any{base, ldvc.ContextLicenceV1},
		"type":              []any{"VerifiableCredential", typ},
		"credentialSubject": subject,
	}
}

// TestVCAPIIssue: POST /credentials/issue answers 201 with the credential in the format
// asked for, verifying with that format's verifier.
func TestVCAPIIssue(t *testing.T) {
	f := newFixture(t)
	blDID := f.agencyDID("BusinessLicence")
	dlDID := f.agencyDID("DrivingLicence")
	dlType, _ := issuer.LookupType("DrivingLicence")
	now := f.clock.Now().Format(time.RFC3339)
	tests := []struct {
		name, typ, format string
		credential        map[string]any
		want              string // the format expected back
	}{
		{"ldp_vc", "BusinessLicence", "ldp_vc", vcapiCredential(vcjwt.ContextV1, "BusinessLicence", f.holderDID, businessLicence), "ldp_vc"},
		{"default is ldp_vc when the type allows", "BusinessLicence", "", vcapiCredential(vcjwt.ContextV2, "BusinessLicence", f.holderDID, businessLicence), "ldp_vc"},
		{"jwt_vc_json", "DrivingLicence", "jwt_vc_json", vcapiCredential(vcjwt.ContextV1, "DrivingLicence", f.holderDID, licence), "jwt_vc_json"},
		{"default without ldp_vc or vc+jwt", "DrivingLicence", "", vcapiCredential(vcjwt.ContextV2, "DrivingLicence", f.holderDID, licence), "jwt_vc_json"},
		{"dc+sd-jwt", "DrivingLicence", "dc+sd-jwt", vcapiCredential(vcjwt.ContextV1, "DrivingLicence", f.holderDID, licence), "dc+sd-jwt"},
		{"issuer, validFrom and issuanceDate as the agency and now", "DrivingLicence", "jwt_vc_json",
			with(vcapiCredential(vcjwt.ContextV2, "DrivingLicence", f.holderDID, licence), "issuer", map[string]any{"id": dlDID}, "validFrom", now), "jwt_vc_json"},
		{"issuanceDate now", "BusinessLicence", "ldp_vc",
			with(vcapiCredential(vcjwt.ContextV1, "BusinessLicence", f.holderDID, businessLicence), "issuer", blDID, "issuanceDate", now), "ldp_vc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"credential": tt.credential}
			if tt.format != "" {
				body["options"] = map[string]any{"format": tt.format}
			}
			r := f.doJSON(http.MethodPost, "/credentials/issue", f.token(tt.typ), body)
			if r.status != http.StatusCreated {
				t.Fatalf("HTTP %d %s", r.status, r.body)
			}
			var out struct {
				VerifiableCredential json.RawMessage `json:"verifiableCredential"`
			}
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			iss := dlDID
			claims := licence
			if tt.typ == "BusinessLicence" {
				iss, claims = blDID, businessLicence
			}
			switch tt.want {
			case "ldp_vc":
				sameClaims(t, tt.want, f.verifyLDP(t, out.VerifiableCredential, iss, tt.typ), claims)
			case "jwt_vc_json":
				sameClaims(t, tt.want, f.verifyJWT(t, stringOf(t, out.VerifiableCredential), vcjwt.FormatJWTVC11, iss, tt.typ), claims)
			case "dc+sd-jwt":
				sameClaims(t, tt.want, f.verifySDJWT(t, stringOf(t, out.VerifiableCredential), iss, dlType.Properties), claims)
			}
		})
	}
}

// TestVCAPIIssueIdempotent: a VC-API retry under the same Idempotency-Key answers 201 with the
// same credential and stores nothing new; the agency API asked with the same key and claims
// returns that credential, whose formats hold the ldp_vc answered.
func TestVCAPIIssueIdempotent(t *testing.T) {
	f := newFixture(t)
	tok := f.token("BusinessLicence")
	body := map[string]any{"credential": vcapiCredential(vcjwt.ContextV1, "BusinessLicence", f.holderDID, businessLicence), "options": map[string]any{"format": "ldp_vc"}}
	first := f.doJSON(http.MethodPost, "/credentials/issue", tok, body, "Idempotency-Key", "vcapi-1")
	again := f.doJSON(http.MethodPost, "/credentials/issue", tok, body, "Idempotency-Key", "vcapi-1")
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) {
		t.Fatalf("HTTP %d, %d; same body %v", first.status, again.status, string(first.body) == string(again.body))
	}
	var out struct {
		VerifiableCredential json.RawMessage `json:"verifiableCredential"`
	}
	json.Unmarshal(first.body, &out)
	c, status := f.issueFormats("BusinessLicence", businessLicence, "Idempotency-Key", "vcapi-1")
	if status != http.StatusOK || string(c.Formats["ldp_vc"]) != string(out.VerifiableCredential) {
		t.Fatalf("agency API with the same key: HTTP %d, same ldp_vc %v", status, string(c.Formats["ldp_vc"]) == string(out.VerifiableCredential))
	}
	if n, _ := f.counts(); n != 1 {
		t.Fatalf("%d credentials stored, want 1", n)
	}
}

// with returns a copy of m with the members kv (name, value, name, value...) set.
func with(m map[string]any, kv ...any) map[string]any {
	m = maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// TestVCAPIIssueBadInput: every rejected VC-API issuance answers with its problem type and
// stores nothing.
func TestVCAPIIssueBadInput(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	good := vcapiCredential(vcjwt.ContextV1, "DrivingLicence", f.holderDID, licence)
	subjectWith := func(k string, v any) map[string]any {
		s := maps.Clone(good["credentialSubject"].(map[string]any))
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
		return with(good, "credentialSubject", s)
	}
	req := func(cred map[string]any, format string) []byte {
		body := map[string]any{"credential": cred}
		if format != "" {
			body["options"] = map[string]any{"format": format}
		}
		b, _ := json.Marshal(body)
		return b
	}
	withAuthority := with(businessLicence, "registration_authority", "杭州市西湖区市场监督管理局")
	tests := []struct {
		name, token string
		body        []byte
		status      int
		ptype       string
	}{
		{"no token", "", req(good, ""), 401, "/problems/unauthorized"},
		{"wrong token", "ezt_not-a-token", req(good, ""), 401, "/problems/unauthorized"},
		{"malformed JSON", dl, []byte(`{"credential":`), 400, "/problems/malformed-request"},
		{"no credential", dl, []byte(`{"options":{}}`), 400, "/problems/malformed-request"},
		{"unknown option", dl, []byte(`{"credential":{},"options":{"proofType":"x"}}`), 400, "/problems/malformed-request"},
		{"credential not an object", dl, []byte(`{"credential":"eyJ"}`), 400, "/problems/malformed-request"},
		{"no @context", dl, req(with(good, "@context", nil), ""), 400, "/problems/malformed-request"},
		{"foreign @context", dl, req(with(good, "@context", []any{vcjwt.ContextV1, "https://schema.org"}), ""), 400, "/problems/malformed-request"},
		{"type without VerifiableCredential", dl, req(with(good, "type", []any{"DrivingLicence"}), ""), 400, "/problems/malformed-request"},
		{"two credential types", dl, req(with(good, "type", []any{"VerifiableCredential", "DrivingLicence", "HealthCode"}), ""), 400, "/problems/malformed-request"},
		{"no holder", dl, req(subjectWith("id", nil), ""), 400, "/problems/malformed-request"},
		{"subject an array", dl, req(with(good, "credentialSubject", []any{good["credentialSubject"]}), ""), 400, "/problems/malformed-request"},
		{"credentialStatus", dl, req(with(good, "credentialStatus", map[string]any{"type": "BitstringStatusListEntry"}), ""), 400, "/problems/malformed-request"},
		{"an id", dl, req(with(good, "id", "urn:uuid:1"), ""), 400, "/problems/malformed-request"},
		{"a proof", dl, req(with(good, "proof", map[string]any{}), ""), 400, "/problems/malformed-request"},
		{"wrong issuer", dl, req(with(good, "issuer", f.agencyDID("HealthCode")), ""), 400, "/problems/malformed-request"},
		{"wrong issuer object", dl, req(with(good, "issuer", map[string]any{"id": "did:example:1"}), ""), 400, "/problems/malformed-request"},
		{"backdated validFrom", dl, req(with(good, "validFrom", f.clock.Now().Add(-24*time.Hour).Format(time.RFC3339)), ""), 400, "/problems/malformed-request"},
		{"validFrom not a date", dl, req(with(good, "validFrom", "yesterday"), ""), 400, "/problems/malformed-request"},
		{"unknown format", dl, req(good, "mso_mdoc"), 400, "/problems/malformed-request"},
		{"unknown type", dl, req(with(good, "type", []any{"VerifiableCredential", "PilotLicence"}), ""), 400, "/problems/unknown-credential-type"},
		{"another agency's type", f.token("HealthCode"), req(good, ""), 403, "/problems/type-not-allowed"},
		{"claims violating the schema", dl, req(subjectWith("licence_class", "Z9"), ""), 422, "/problems/invalid-claims"},
		{"missing claim", dl, req(subjectWith("licence_number", nil), ""), 422, "/problems/invalid-claims"},
		{"unknown claim", dl, req(subjectWith("blood_type", "A"), ""), 422, "/problems/invalid-claims"},
		{"holder DID of an unknown method", dl, req(subjectWith("id", "did:example:123"), ""), 422, "/problems/invalid-holder"},
		{"format the type does not list", dl, req(good, "ldp_vc"), 422, "/problems/format-not-available"},
		{"vc+jwt, which no type lists yet", dl, req(good, "vc+jwt"), 422, "/problems/format-not-available"},
		{"ldp_vc with a claim without a JSON-LD term", f.token("BusinessLicence"),
			req(vcapiCredential(vcjwt.ContextV1, "BusinessLicence", f.holderDID, withAuthority), "ldp_vc"), 422, "/problems/format-not-available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.counts()
			r := f.do(http.MethodPost, "/credentials/issue", tt.token, "application/json", tt.body)
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %q, want %d %q: %.300s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
			if after, _ := f.counts(); after != before {
				t.Fatalf("a rejected request stored a credential (%d → %d)", before, after)
			}
		})
	}
	// Claim violations name the field inside the credential.
	r := f.doJSON(http.MethodPost, "/credentials/issue", dl, map[string]any{"credential": subjectWith("licence_number", nil)})
	if !strings.Contains(string(r.body), `"field":"credential/credentialSubject/licence_number"`) {
		t.Fatalf("invalid-claims problem does not name the field: %s", r.body)
	}
}

// TestIssueFormatsRepairedOnRetry: the formats are stored right after the SD-JWT VC, in a
// second transaction. If they are lost in between (a crash), the idempotent retry signs them
// again, byte for byte the same (Ed25519 and URDNA2015 are deterministic), and stores them.
// The sealed formats are also bound to their credential and format.
func TestIssueFormatsRepairedOnRetry(t *testing.T) {
	var dir string
	f := newFixture(t, func(c *server.Config) { dir = c.DataDir })
	c, _ := f.issueFormats("BusinessLicence", businessLicence, "Idempotency-Key", "bl-crash")
	if len(c.Formats) != 2 {
		t.Fatalf("formats %v", formatNames(c.Formats))
	}
	db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, "issuer.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM credential_formats WHERE credential_id = ? AND format = 'ldp_vc'`, c.ID); err != nil {
		t.Fatal(err)
	}
	r := f.do(http.MethodGet, "/issuer/v1/credentials/"+c.ID, f.token("BusinessLicence"), "", nil)
	var fetched issuedFormats
	json.Unmarshal(r.body, &fetched)
	if got := formatNames(fetched.Formats); !slices.Equal(got, []string{"jwt_vc_json"}) {
		t.Fatalf("after the loss: formats %v", got)
	}
	again, _ := f.issueFormats("BusinessLicence", businessLicence, "Idempotency-Key", "bl-crash")
	if !maps.EqualFunc(again.Formats, c.Formats, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
		t.Fatalf("retry rebuilt other formats: %v", formatNames(again.Formats))
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM credential_formats WHERE credential_id = ?`, c.ID).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d formats stored (%v), want 2", n, err)
	}

	// A sealed format moved to another format's row does not open.
	if _, err := db.Exec(`UPDATE credential_formats SET sealed = (SELECT sealed FROM credential_formats WHERE credential_id = ?1 AND format = 'ldp_vc')
		WHERE credential_id = ?1 AND format = 'jwt_vc_json'`, c.ID); err != nil {
		t.Fatal(err)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/credentials/"+c.ID, f.token("BusinessLicence"), "", nil); r.status != http.StatusInternalServerError {
		t.Fatalf("swapped sealed format: HTTP %d", r.status)
	}
}
