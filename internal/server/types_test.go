package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/sdjwt"
)

// fishingLicence is an agency's own credential type file, as `ezheng issuer type add` sends it.
const fishingLicence = `name: FishingLicence
vct: https://fisheries.example.gov.cn/vct/fishing-licence
version: "1"
validity: 1y
formats: [dc+sd-jwt, jwt_vc_json]
disclosable: [holder_name, waters]
schema:
  type: object
  additionalProperties: false
  required: [holder_name, licence_number, waters]
  properties:
    holder_name: {type: string, maxLength: 64}
    licence_number: {type: string, pattern: "^FL[0-9]{6}$"}
    waters: {type: array, items: {type: string, maxLength: 32}, minItems: 1, maxItems: 8}
display:
  - {lang: zh-CN, name: 捕捞许可证, background_color: "#0b5394", text_color: "#ffffff"}
  - {lang: en, name: Fishing licence}
claims:
  - path: [holder_name]
    display: [{lang: zh-CN, label: 持证人}, {lang: en, label: Holder}]
example:
  holder_name: 王五
  licence_number: FL000123
  waters: [太湖]
`

var fishingClaims = map[string]any{"holder_name": "王五", "licence_number": "FL000123", "waters": []any{"太湖", "洪泽湖"}}

// fishingReplace returns fishingLicence with old replaced by new (which must be there).
func fishingReplace(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(fishingLicence, old) {
		t.Fatalf("fishingLicence has no %q", old)
	}
	return strings.Replace(fishingLicence, old, new, 1)
}

// typeNames lists the names GET /issuer/v1/types shows the agency behind token, with "*" after
// its own.
func (f *fixture) typeNames(token string) []string {
	f.t.Helper()
	r := f.do(http.MethodGet, "/issuer/v1/types", token, "", nil)
	if r.status != 200 {
		f.t.Fatalf("list types: HTTP %d %s", r.status, r.body)
	}
	var l struct {
		Types []struct {
			Name string
			Own  bool
		}
	}
	json.Unmarshal(r.body, &l)
	var out []string
	for _, t := range l.Types {
		if t.Own {
			out = append(out, t.Name+"*")
		} else {
			out = append(out, t.Name)
		}
	}
	return out
}

// auditActions lists the actions in the audit log of the agency behind token.
func (f *fixture) auditActions(token string) []string {
	f.t.Helper()
	var out []string
	for _, e := range f.auditLog(token) {
		out = append(out, e.Action+" "+e.Target)
	}
	return out
}

type auditEntry struct {
	Seq      int64
	AgencyID string `json:"agency_id"`
	At       time.Time
	Actor    string
	Action   string
	Target   string
	Reason   string
	Detail   map[string]string
}

// auditLog reads every page of the audit log of the agency behind token.
func (f *fixture) auditLog(token string) []auditEntry {
	f.t.Helper()
	var all []auditEntry
	after := int64(0)
	for {
		r := f.do(http.MethodGet, "/issuer/v1/audit?limit=2&after="+itoa(uint64(after)), token, "", nil)
		if r.status != 200 {
			f.t.Fatalf("audit: HTTP %d %s", r.status, r.body)
		}
		var p struct {
			Entries []auditEntry
			Next    int64
		}
		json.Unmarshal(r.body, &p)
		if len(p.Entries) > 2 {
			f.t.Fatalf("page of %d entries, limit 2", len(p.Entries))
		}
		all = append(all, p.Entries...)
		if p.Next == 0 {
			return all
		}
		after = p.Next
	}
}

// TestRuntimeTypeBadFiles: every broken type file is refused with a problem naming the field,
// and nothing is stored: no type, no audit entry.
func TestRuntimeTypeBadFiles(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	before := f.typeNames(dl)
	yaml, jsonCT := "application/yaml", "application/json"
	for _, tc := range []struct {
		name, ctype, body string
		token             string
		status            int
		problem, field    string
	}{
		{"not YAML", yaml, "name: [unclosed", dl, 422, "invalid-type-file", "(file)"},
		{"JSON with a duplicate key", jsonCT, `{"name": "A", "name": "B"}`, dl, 422, "invalid-type-file", "(file)"},
		{"schema does not compile", yaml, fishingReplace(t, "maxLength: 64", "maxLength: lots"), dl, 422, "invalid-type-file", "schema.properties.holder_name.maxLength"},
		{"disclosable claim not in schema", yaml, fishingReplace(t, "disclosable: [holder_name, waters]", "disclosable: [holder_name, boat]"), dl, 422, "invalid-type-file", "disclosable"},
		{"unknown format", yaml, fishingReplace(t, "formats: [dc+sd-jwt, jwt_vc_json]", "formats: [dc+sd-jwt, mso_mdoc]"), dl, 422, "invalid-type-file", "formats.1"},
		{"ldp_vc without JSON-LD terms", yaml, fishingReplace(t, "formats: [dc+sd-jwt, jwt_vc_json]", "formats: [dc+sd-jwt, ldp_vc]"), dl, 422, "invalid-type-file", "formats"},
		{"no en display", yaml, fishingReplace(t, "  - {lang: en, name: Fishing licence}\n", ""), dl, 422, "invalid-type-file", "display"},
		{"no zh-CN display", yaml, fishingReplace(t, `  - {lang: zh-CN, name: 捕捞许可证, background_color: "#0b5394", text_color: "#ffffff"}`+"\n", ""), dl, 422, "invalid-type-file", "display"},
		{"validity zero", yaml, fishingReplace(t, "validity: 1y", "validity: 0h"), dl, 422, "invalid-type-file", "validity"},
		{"validity 200 years", yaml, fishingReplace(t, "validity: 1y", "validity: 200y"), dl, 422, "invalid-type-file", "validity"},
		{"example does not validate", yaml, fishingReplace(t, "licence_number: FL000123", "licence_number: X"), dl, 422, "invalid-type-file", "example"},
		{"remote $ref", yaml, fishingReplace(t, "holder_name: {type: string, maxLength: 64}", `holder_name: {$ref: "https://example.com/name.json"}`), dl, 422, "invalid-type-file", "schema"},
		{"built-in name", yaml, fishingReplace(t, "name: FishingLicence", "name: DrivingLicence"), dl, 409, "type-exists", ""},
		{"built-in vct", yaml, fishingReplace(t, "vct: https://fisheries.example.gov.cn/vct/fishing-licence", "vct: urn:ezheng:vct:HealthCode"), dl, 409, "type-exists", ""},
		{"plain text", "text/plain", fishingLicence, dl, 415, "unsupported-media-type", ""},
		{"too large", yaml, fishingLicence + "#" + strings.Repeat("x", 1<<20), dl, 413, "too-large", ""},
		{"no token", yaml, fishingLicence, "", 401, "unauthorized", ""},
		{"wrong token", yaml, fishingLicence, "ezt_nope", 401, "unauthorized", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(http.MethodPost, "/issuer/v1/types", tc.token, tc.ctype, []byte(tc.body))
			if r.status != tc.status || r.problemType() != "/problems/"+tc.problem {
				t.Fatalf("HTTP %d %s, want %d %s", r.status, r.body, tc.status, tc.problem)
			}
			if tc.field != "" {
				var p struct {
					Errors []struct{ Field, Detail string }
				}
				json.Unmarshal(r.body, &p)
				if !slices.ContainsFunc(p.Errors, func(e struct{ Field, Detail string }) bool { return e.Field == tc.field }) {
					t.Fatalf("no error on field %q: %s", tc.field, r.body)
				}
			}
		})
	}
	if got := f.typeNames(dl); !slices.Equal(got, before) {
		t.Errorf("refused files changed the types: %v → %v", before, got)
	}
	for _, a := range f.auditActions(dl) {
		if strings.HasPrefix(a, "type.add") {
			t.Errorf("a refused file was audited: %s", a)
		}
	}
}

// TestRuntimeType: an agency adds its own type; it is visible to that agency only; once the
// ledger accredits the agency for the vct it issues it singly (SD-JWT VC and JWT-VC), in bulk
// and by OpenID4VCI offer (redeemed by the project's wallet); another agency can neither see
// nor use it, even when accredited for the vct; the name and vct stay taken.
func TestRuntimeType(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	dl, hc := f.token("DrivingLicence"), f.token("HealthCode")
	r := f.do(http.MethodPost, "/issuer/v1/types", dl, "application/yaml", []byte(fishingLicence))
	if r.status != http.StatusCreated {
		t.Fatalf("add: HTTP %d %s", r.status, r.body)
	}
	var md struct{ VCT string }
	json.Unmarshal(r.body, &md)
	const vct = "https://fisheries.example.gov.cn/vct/fishing-licence"
	if md.VCT != vct {
		t.Fatalf("metadata %s", r.body)
	}
	// The name and vct are taken now, for every agency.
	if r := f.do(http.MethodPost, "/issuer/v1/types", hc, "application/yaml", []byte(fishingLicence)); r.status != 409 || r.problemType() != "/problems/type-exists" {
		t.Fatalf("same type by another agency: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/issuer/v1/types", hc, "application/yaml", []byte(fishingReplace(t, "name: FishingLicence", "name: AnglingPermit"))); r.status != 409 {
		t.Fatalf("same vct by another agency: HTTP %d %s", r.status, r.body)
	}

	// Visible to its agency only.
	if got := f.typeNames(dl); !slices.Contains(got, "FishingLicence*") || !slices.Contains(got, "DrivingLicence") {
		t.Errorf("the agency's list: %v", got)
	}
	if got := f.typeNames(hc); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "FishingLicence") }) {
		t.Errorf("another agency lists it: %v", got)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/types/FishingLicence?example=true", dl, "", nil); r.status != 200 || !strings.Contains(string(r.body), "FL000123") {
		t.Errorf("show --example: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/types/FishingLicence", hc, "", nil); r.status != 400 || r.problemType() != "/problems/unknown-credential-type" {
		t.Errorf("another agency shows it: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/types/FishingLicence?example=maybe", dl, "", nil); r.status != 400 {
		t.Errorf("example=maybe: HTTP %d", r.status)
	}

	issue := func(token string) response {
		return f.doJSON(http.MethodPost, "/issuer/v1/credentials", token, map[string]any{"type": "FishingLicence", "holder": f.holderDID, "claims": fishingClaims})
	}
	issued, held := f.counts()
	// Not accredited yet: the ledger decides.
	if r := issue(dl); r.status != 403 || r.problemType() != "/problems/type-not-allowed" {
		t.Fatalf("issue before accreditation: HTTP %d %s", r.status, r.body)
	}
	// The root authority accredits the agency for its type; it cannot accredit another agency
	// for a type that agency does not see, and no one else accredits.
	dlAgency, _ := f.world.Agency("DrivingLicence")
	hcAgency, _ := f.world.Agency("HealthCode")
	rootTok := f.world.RootAuthority.Token
	accredit := func(token, agencyID string, body any) response {
		return f.doJSON(http.MethodPost, "/issuer/v1/agencies/"+agencyID+"/accreditations", token, body)
	}
	for _, tc := range []struct {
		name, token, agency string
		body                any
		status              int
		problem             string
	}{
		{"not the root authority", dl, dlAgency.ID, map[string]any{"types": []string{"FishingLicence"}}, 403, "/problems/forbidden"},
		{"a type the agency does not see", rootTok, hcAgency.ID, map[string]any{"types": []string{"FishingLicence"}}, 400, "/problems/unknown-credential-type"},
		{"unknown agency", rootTok, "ag_nope", map[string]any{"types": []string{"FishingLicence"}}, 404, "/problems/not-found"},
		{"no types", rootTok, dlAgency.ID, map[string]any{"types": []string{}}, 400, "/problems/malformed-request"},
	} {
		if r := accredit(tc.token, tc.agency, tc.body); r.status != tc.status || r.problemType() != tc.problem {
			t.Fatalf("accredit, %s: HTTP %d %s", tc.name, r.status, r.body)
		}
	}
	if r := issue(dl); r.status != 403 {
		t.Fatalf("refused accreditations accredited: HTTP %d %s", r.status, r.body)
	}
	if r := accredit(rootTok, dlAgency.ID, map[string]any{"types": []string{"FishingLicence"}, "valid_days": 30}); r.status != http.StatusNoContent {
		t.Fatalf("accredit: HTTP %d %s", r.status, r.body)
	}
	// The other agency, accredited for the vct on the ledger directly, still may not use a
	// type it does not have.
	root, err := f.srv.Issuer.RootAuthority(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Issuer.Accredit(ctx, root, hcAgency.DID, []string{vct}, f.clock.Now().Add(-time.Minute), f.clock.Now().AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if r := issue(hc); r.status != 400 || r.problemType() != "/problems/unknown-credential-type" {
		t.Fatalf("another agency issues it: HTTP %d %s", r.status, r.body)
	}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/offers", hc, map[string]any{"type": "FishingLicence", "claims": fishingClaims}); r.status != 400 || r.problemType() != "/problems/unknown-credential-type" {
		t.Fatalf("another agency offers it: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/issuer/v1/bulk?type=FishingLicence", hc, "application/x-ndjson", []byte(`{"holder":"`+f.holderDID+`","claims":{}}`+"\n")); r.status != 400 || r.problemType() != "/problems/unknown-credential-type" {
		t.Fatalf("another agency bulk-issues it: HTTP %d %s", r.status, r.body)
	}
	bad := map[string]any{"holder_name": "王五", "licence_number": "nope", "waters": []any{}}
	if r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, map[string]any{"type": "FishingLicence", "holder": f.holderDID, "claims": bad}); r.status != 422 || r.problemType() != "/problems/invalid-claims" {
		t.Fatalf("claims against its schema: HTTP %d %s", r.status, r.body)
	}
	f.assertNothingStored("refused issuance of an agency's own type", issued, held)

	// Single issuance: the SD-JWT VC and the JWT-VC the type asks for.
	r = issue(dl)
	if r.status != http.StatusCreated {
		t.Fatalf("issue: HTTP %d %s", r.status, r.body)
	}
	var c struct {
		Credential string
		Type       string
		Formats    map[string]json.RawMessage
	}
	json.Unmarshal(r.body, &c)
	claims := f.verifySDJWT(t, c.Credential, f.agencyDID("DrivingLicence"), []string{"vct", "holder_name", "licence_number", "waters"})
	if claims["vct"] != vct || claims["licence_number"] != "FL000123" || claims["holder_name"] != "王五" {
		t.Errorf("SD-JWT VC claims %v", claims)
	}
	if s, _ := sdjwt.Parse(c.Credential); s == nil || len(s.Disclosures) != 2 {
		t.Errorf("want 2 disclosures (holder_name, waters)")
	}
	if _, ok := c.Formats["jwt_vc_json"]; !ok || c.Type != "FishingLicence" {
		t.Errorf("type %q formats %v", c.Type, formatNames(c.Formats))
	}
	f.verifyJWT(t, stringOf(t, c.Formats["jwt_vc_json"]), "jwt_vc_json", f.agencyDID("DrivingLicence"), "FishingLicence")

	// Bulk.
	rows := `{"holder":"` + f.holderDID + `","claims":{"holder_name":"甲","licence_number":"FL000001","waters":["太湖"]}}` + "\n" +
		`{"holder":"` + f.holderDID + `","claims":{"holder_name":"乙","licence_number":"bad","waters":["太湖"]}}` + "\n"
	br, job := f.bulkUpload(dl, "FishingLicence", "application/x-ndjson", []byte(rows))
	if br.status != http.StatusAccepted {
		t.Fatalf("bulk: HTTP %d %s", br.status, br.body)
	}
	if j := f.bulkWait(f.url, dl, job.ID); j.Done != 1 || j.Failed != 1 || j.Type != "FishingLicence" {
		t.Fatalf("bulk job: %+v", j)
	}
	done := f.bulkRows(dl, job.ID, "done").Rows
	if len(done) != 1 || done[0].CredentialID == "" {
		t.Fatalf("done rows %+v", done)
	}
	r = f.do(http.MethodGet, "/issuer/v1/credentials/"+done[0].CredentialID, dl, "", nil)
	json.Unmarshal(r.body, &c)
	if claims := f.verifySDJWT(t, c.Credential, f.agencyDID("DrivingLicence"), []string{"vct", "licence_number"}); claims["vct"] != vct || claims["licence_number"] != "FL000001" {
		t.Errorf("bulk credential claims %v", claims)
	}

	// OpenID4VCI: the metadata lists it, the offer is redeemed by the project's wallet.
	r = f.do(http.MethodGet, "/.well-known/openid-credential-issuer", "", "", nil)
	if !strings.Contains(string(r.body), `"FishingLicence_sd_jwt_vc"`) {
		t.Fatalf("issuer metadata lacks the type: %s", r.body)
	}
	or := f.doJSON(http.MethodPost, "/issuer/v1/offers", dl, map[string]any{"type": "FishingLicence", "claims": fishingClaims, "tx_code": true})
	if or.status != http.StatusCreated {
		t.Fatalf("offer: HTTP %d %s", or.status, or.body)
	}
	var o struct {
		URI    string `json:"offer_uri"`
		TxCode string `json:"tx_code"`
	}
	json.Unmarshal(or.body, &o)
	rr := f.doJSON(http.MethodPost, "/bridge/v1/offers", f.world.Citizen.Token, map[string]any{"offer_uri": o.URI, "tx_code": o.TxCode})
	if rr.status != http.StatusCreated || !strings.Contains(string(rr.body), vct) {
		t.Fatalf("redeem: HTTP %d %s", rr.status, rr.body)
	}

	// The addition is in the agency's audit log, not the other's.
	if got := f.auditActions(dl); !slices.Contains(got, "type.add FishingLicence") {
		t.Errorf("audit log %v", got)
	}
	if got := f.auditActions(hc); slices.Contains(got, "type.add FishingLicence") {
		t.Errorf("another agency's audit log shows it: %v", got)
	}
}
