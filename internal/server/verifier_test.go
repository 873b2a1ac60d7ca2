package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/server"
)

// fullResult is the part of a verification answer these tests read.
type fullResult struct {
	Valid  bool   `json:"valid"`
	Format string `json:"format"`
	Policy string `json:"policy"`
	Source struct {
		Mode string `json:"mode"`
	} `json:"source"`
	Checks []struct {
		Name    string   `json:"name"`
		OK      bool     `json:"ok"`
		Skipped bool     `json:"skipped"`
		Reason  string   `json:"reason"`
		Rules   []string `json:"rules"`
	} `json:"checks"`
}

func (r fullResult) failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			out = append(out, c.Name)
		}
	}
	return out
}

func (r fullResult) check(name string) (ok, skipped bool, reason string, rules []string) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.OK, c.Skipped, c.Reason, c.Rules
		}
	}
	return false, false, "", nil
}

func (f *fixture) verifyBody(t *testing.T, body map[string]any) fullResult {
	t.Helper()
	r := f.doJSON(http.MethodPost, "/verifier/v1/verify", "", body)
	if r.status != http.StatusOK {
		t.Fatalf("verify: HTTP %d %s", r.status, r.body)
	}
	var res fullResult
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// receiptOf waits until the issuer's batcher anchored credential id and returns its receipt.
func (f *fixture) receiptOf(t *testing.T, token, id string) json.RawMessage {
	t.Helper()
	for range 200 {
		r := f.do(http.MethodGet, "/issuer/v1/credentials/"+id+"/receipt", token, "", nil)
		if r.status == http.StatusOK {
			return r.body
		}
		time.Sleep(50 * time.Millisecond) // the batcher runs on its own ticker; no timing is asserted
	}
	t.Fatalf("credential %s was never anchored", id)
	return nil
}

// TestVerifyEveryFormatOnline: over HTTP, with the real ledger and status lists, the engine
// verifies the SD-JWT VC, vc+jwt-free JWT-VC and ldp_vc the issuer made from one issuance, checks
// the anchor receipt of the credential as issued, applies the named policy and sees a
// revocation in the W3C lists at once.
func TestVerifyEveryFormatOnline(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	c, _ := f.issueFormats("DrivingLicence", licence)
	receipt := f.receiptOf(t, dl, c.ID)

	var jwtVC string
	json.Unmarshal(c.Formats["jwt_vc_json"], &jwtVC)
	if jwtVC == "" {
		t.Fatalf("no jwt_vc_json in %s", formatNames(c.Formats))
	}
	bl, _ := f.issueFormats("BusinessLicence", businessLicence)
	ldp := bl.Formats["ldp_vc"]
	if len(ldp) == 0 {
		t.Fatalf("no ldp_vc in %s", formatNames(bl.Formats))
	}

	tests := []struct {
		name        string
		body        map[string]any
		format      string
		want        []string
		anchorOK    bool
		policyRules []string
	}{
		{name: "SD-JWT VC as issued, with its anchor receipt", body: map[string]any{"credential": c.Credential, "receipt": receipt, "policy": "credential"},
			format: "dc+sd-jwt", anchorOK: true},
		{name: "SD-JWT VC with the receipt of another credential", body: map[string]any{"credential": f.issue("DrivingLicence", f.holderDID, licence), "receipt": receipt, "policy": "credential"},
			format: "dc+sd-jwt", want: []string{"anchor"}},
		{name: "SD-JWT VC as issued, receipt found online by its digest", body: map[string]any{"credential": c.Credential, "policy": "credential"},
			format: "dc+sd-jwt", anchorOK: true},
		{name: "bare SD-JWT VC under the default policy: no holder binding", body: map[string]any{"credential": c.Credential},
			format: "dc+sd-jwt", want: []string{"holder_binding"}, anchorOK: true},
		{name: "JWT-VC (W3C Bitstring status fetched from the issuer)", body: map[string]any{"credential": jwtVC, "policy": "credential"}, format: "jwt_vc_json"},
		{name: "ldp_vc (JSON-LD Data Integrity)", body: map[string]any{"credential": ldp, "policy": "credential"}, format: "ldp_vc"},
		// A presentation that withholds claims still matches the anchor: the issuer anchors the
		// issuer-signed JWT, which every presentation carries.
		{name: "counter QR under the traffic police policy: no photo shown", body: map[string]any{"qr": f.present(c.Credential, counterClaims, nil, f.world.Counter.ID),
			"counter": f.world.Counter.ID, "policy": "traffic-police-counter"}, format: "dc+sd-jwt", want: []string{"policy"}, policyRules: []string{"disclose"}, anchorOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.verifyBody(t, tt.body)
			if got := res.failed(); !slices.Equal(got, tt.want) {
				t.Fatalf("failed = %q, want %q: %+v", got, tt.want, res.Checks)
			}
			if res.Valid != (len(tt.want) == 0) || res.Format != tt.format || res.Source.Mode != "online" {
				t.Fatalf("valid %v, format %q, source %q", res.Valid, res.Format, res.Source.Mode)
			}
			if ok, _, reason, _ := res.check("anchor"); ok != tt.anchorOK {
				t.Errorf("anchor ok = %v (%s)", ok, reason)
			}
			if _, _, _, rules := res.check("policy"); !slices.Equal(rules, tt.policyRules) {
				t.Errorf("policy rules = %q, want %q", rules, tt.policyRules)
			}
		})
	}

	// Revoked: the JWT-VC's revocation bit is read from the issuer's W3C list at once.
	if r := f.setStatus(dl, c.ID, map[string]any{"action": "revoke", "reason": "superseded"}); r.status != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}
	res := f.verifyBody(t, map[string]any{"credential": jwtVC, "policy": "credential"})
	if _, _, reason, _ := res.check("status"); !slices.Equal(res.failed(), []string{"status"}) || !strings.Contains(reason, "revoked") {
		t.Fatalf("after revocation: failed %q (%s)", res.failed(), reason)
	}

	// The ldp_vc's one status entry (purpose message, two bits) is read too: checked while
	// valid, failed once its credential is suspended.
	res = f.verifyBody(t, map[string]any{"credential": ldp, "policy": "credential"})
	if ok, _, reason, _ := res.check("status"); !ok || reason != "" {
		t.Fatalf("ldp_vc status: ok %v, reason %q (a status entry must be checked, not noted absent)", ok, reason)
	}
	if r := f.setStatus(f.token("BusinessLicence"), bl.ID, map[string]any{"action": "suspend"}); r.status != http.StatusOK {
		t.Fatalf("suspend: HTTP %d %s", r.status, r.body)
	}
	res = f.verifyBody(t, map[string]any{"credential": ldp, "policy": "credential"})
	if _, _, reason, _ := res.check("status"); !slices.Equal(res.failed(), []string{"status"}) || !strings.Contains(reason, "suspended") {
		t.Fatalf("ldp_vc after suspension: failed %q (%s)", res.failed(), reason)
	}

	if r := f.doJSON(http.MethodPost, "/verifier/v1/verify", "", map[string]any{"credential": jwtVC, "policy": "no-such-policy"}); r.status != 400 || r.problemType() != "/problems/unknown-policy" {
		t.Errorf("unknown policy: HTTP %d %s", r.status, r.body)
	}
	if r := f.doJSON(http.MethodPost, "/verifier/v1/verify", "", map[string]any{"credential": jwtVC, "qr": "x"}); r.status != 400 || r.problemType() != "/problems/malformed-request" {
		t.Errorf("qr and credential: HTTP %d %s", r.status, r.body)
	}
	r := f.do(http.MethodGet, "/verifier/v1/policies", "", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"traffic-police-counter"`) {
		t.Errorf("policies: HTTP %d %s", r.status, r.body)
	}
}

// vcapiAnswer is the body of the VC-API verify endpoints.
type vcapiAnswer struct {
	Verified bool     `json:"verified"`
	Checks   []string `json:"checks"`
	Warnings []struct {
		Title string `json:"title"`
	} `json:"warnings"`
	Errors []struct {
		Type  string `json:"type"`
		Title string `json:"title"`
	} `json:"errors"`
	Result fullResult `json:"result"`
}

// TestVCAPIVerify: POST /credentials/verify and /presentations/verify answer 200 when
// verified and 400 (with the failed checks as errors) when not; input that is no credential
// is a problem.
func TestVCAPIVerify(t *testing.T) {
	f := newFixture(t)
	c, _ := f.issueFormats("DrivingLicence", licence)
	var jwtVC string
	json.Unmarshal(c.Formats["jwt_vc_json"], &jwtVC)
	bl, _ := f.issueFormats("BusinessLicence", businessLicence)
	counter := f.world.Counter.ID
	qr := f.present(c.Credential, counterClaims, nil, counter)
	nonced, err := sdjwt.Present(c.Credential, counterClaims, mustSigner(t, f.holder.Signer(), "kb+jwt", ""), counter, "n-challenge-1", f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// One character inside the signature changed (not the last, whose low bits are padding).
	flip := map[byte]byte{'A': 'B'}
	i := len(jwtVC) - 10
	to, ok := flip[jwtVC[i]]
	if !ok {
		to = 'A'
	}
	tamperedVC := jwtVC[:i] + string(to) + jwtVC[i+1:]

	tests := []struct {
		name, path string
		body       any
		status     int
		errors     []string
		ptype      string
	}{
		{name: "JWT-VC as a string", path: "/credentials/verify", body: map[string]any{"verifiableCredential": jwtVC}, status: 200},
		{name: "JWT-VC enveloped", path: "/credentials/verify", body: map[string]any{"verifiableCredential": map[string]any{
			"@context": "https://www.w3.org/ns/credentials/v2", "type": "EnvelopedVerifiableCredential", "id": "data:application/jwt," + jwtVC}}, status: 200},
		{name: "ldp_vc object", path: "/credentials/verify", body: map[string]any{"verifiableCredential": bl.Formats["ldp_vc"]}, status: 200},
		{name: "tampered signature", path: "/credentials/verify", body: map[string]any{"verifiableCredential": tamperedVC}, status: 400, errors: []string{"signature"}},
		{name: "credential under a policy that wants a holder", path: "/credentials/verify", body: map[string]any{"verifiableCredential": jwtVC, "options": map[string]any{"policy": "default"}},
			status: 400, errors: []string{"holder_binding"}},
		{name: "not a credential", path: "/credentials/verify", body: map[string]any{"verifiableCredential": "hello"}, status: 400, ptype: "/problems/not-a-presentation"},
		{name: "no credential", path: "/credentials/verify", body: map[string]any{"options": map[string]any{}}, status: 400, ptype: "/problems/malformed-request"},
		{name: "unknown member", path: "/credentials/verify", body: map[string]any{"verifiableCredential": jwtVC, "proof": 1}, status: 400, ptype: "/problems/malformed-request"},
		{name: "SD-JWT presentation for the counter", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": qr, "options": map[string]any{"domain": counter}}, status: 200},
		{name: "enveloped presentation", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": map[string]any{
			"type": "EnvelopedVerifiablePresentation", "id": "data:application/dc+sd-jwt," + qr}, "options": map[string]any{"domain": counter}}, status: 200},
		{name: "presentation for another audience", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": f.present(c.Credential, counterClaims, nil, "elsewhere")},
			status: 400, errors: []string{"holder_binding"}},
		{name: "a credential is no presentation", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": jwtVC}, status: 400, ptype: "/problems/not-a-presentation"},
		{name: "another domain", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": qr, "options": map[string]any{"domain": "https://service.example"}},
			status: 400, errors: []string{"holder_binding"}},
		{name: "the challenge it was made for", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": nonced, "options": map[string]any{"domain": counter, "challenge": "n-challenge-1"}}, status: 200},
		{name: "another challenge", path: "/presentations/verify", body: map[string]any{"verifiablePresentation": nonced, "options": map[string]any{"domain": counter, "challenge": "n-challenge-2"}},
			status: 400, errors: []string{"holder_binding"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.doJSON(http.MethodPost, tt.path, "", tt.body)
			if r.status != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.ptype != "" {
				if r.problemType() != tt.ptype {
					t.Fatalf("problem %q, want %q", r.problemType(), tt.ptype)
				}
				return
			}
			var a vcapiAnswer
			if err := json.Unmarshal(r.body, &a); err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, e := range a.Errors {
				errs = append(errs, e.Title)
				if !strings.HasPrefix(e.Type, "/problems/check-") {
					t.Errorf("error type %q", e.Type)
				}
			}
			if a.Verified != (tt.status == 200) || !slices.Equal(errs, tt.errors) || a.Verified != a.Result.Valid {
				t.Fatalf("verified %v, errors %q, want %q: %s", a.Verified, errs, tt.errors, r.body)
			}
			if a.Verified && !slices.Contains(a.Checks, "signature") {
				t.Errorf("checks %q", a.Checks)
			}
		})
	}
}

// TestVerificationRecords: every verification leaves a record, readable by the root authority
// only, that names the credential by digest and holds no claim.
func TestVerificationRecords(t *testing.T) {
	f := newFixture(t)
	issued := f.issue("DrivingLicence", f.holderDID, licence)
	counter := f.world.Counter.ID
	f.verify(f.present(issued, counterClaims, nil, counter), counter)
	f.verify(f.present(issued, counterClaims, nil, "elsewhere"), counter)

	for _, tt := range []struct {
		name, token string
		status      int
		ptype       string
	}{
		{"no token", "", 401, "/problems/unauthorized"},
		{"an agency's token", f.token("DrivingLicence"), 403, "/problems/forbidden"},
		{"unknown token", "ezt_nope", 401, "/problems/unauthorized"},
	} {
		r := f.do(http.MethodGet, "/verifier/v1/records", tt.token, "", nil)
		if r.status != tt.status || r.problemType() != tt.ptype {
			t.Errorf("%s: HTTP %d %s", tt.name, r.status, r.body)
		}
	}
	root := f.world.RootAuthority.Token
	if r := f.do(http.MethodGet, "/verifier/v1/records?limit=0x", root, "", nil); r.status != 400 {
		t.Errorf("bad limit: HTTP %d", r.status)
	}
	r := f.do(http.MethodGet, "/verifier/v1/records?counter="+counter, root, "", nil)
	if r.status != 200 {
		t.Fatalf("records: HTTP %d %s", r.status, r.body)
	}
	var body struct {
		Records []struct {
			Digest  string   `json:"digest"`
			Valid   bool     `json:"valid"`
			Failed  []string `json:"failed"`
			Counter string   `json:"counter"`
			Policy  string   `json:"policy"`
			Issuer  string   `json:"issuer"`
		} `json:"records"`
	}
	json.Unmarshal(r.body, &body)
	if len(body.Records) != 2 {
		t.Fatalf("%d records: %s", len(body.Records), r.body)
	}
	valid := 0
	for _, rec := range body.Records {
		if rec.Digest == "" || rec.Digest != body.Records[0].Digest || rec.Counter != counter || rec.Policy != "default" || rec.Issuer == "" {
			t.Errorf("record %+v", rec)
		}
		if rec.Valid {
			valid++
		} else if !slices.Equal(rec.Failed, []string{"holder_binding"}) {
			t.Errorf("failed %q", rec.Failed)
		}
	}
	if valid != 1 {
		t.Errorf("%d valid records, want 1", valid)
	}
	for _, v := range licence {
		// As a JSON string: a short value such as "C1" turns up by chance inside random ids.
		if q, _ := json.Marshal(v); strings.Contains(string(r.body), string(q)) {
			t.Errorf("records hold the claim value %q", v)
		}
	}
	if strings.Contains(string(r.body), f.holderDID) {
		t.Error("records hold the holder DID")
	}
}

// TestVerifierPoliciesDir: --policies DIR adds policies (and may replace a built-in one);
// a counter QR is then checked under the added one.
func TestVerifierPoliciesDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hotel.yaml"), []byte("name: hotel-checkin\ntypes: [ResidencePermit]\nmay_skip: [anchor]\n"), 0o644)
	f := newFixture(t, func(c *server.Config) { c.VerifierPolicies = dir })
	qr := f.present(f.issue("DrivingLicence", f.holderDID, licence), counterClaims, nil, f.world.Counter.ID)
	res := f.verifyBody(t, map[string]any{"qr": qr, "counter": f.world.Counter.ID, "policy": "hotel-checkin"})
	if _, _, _, rules := res.check("policy"); res.Valid || res.Policy != "hotel-checkin" || !slices.Equal(rules, []string{"types"}) {
		t.Fatalf("valid %v, policy %q, rules %q", res.Valid, res.Policy, rules)
	}
	if res := f.verifyBody(t, map[string]any{"qr": qr, "counter": f.world.Counter.ID, "policy": "default"}); !res.Valid {
		t.Fatalf("built-in default lost: %+v", res.Checks)
	}

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x.yaml"), []byte("name: x\nmay_skip: [signature]\n"), 0o644)
	cfg := f.cfg
	cfg.DataDir, cfg.VerifierPolicies = t.TempDir(), bad
	if _, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "cannot be skipped") {
		t.Fatalf("a bad policy file started the server: %v", err)
	}
}

// TestVerifyAccreditationAtIssuanceTime: on the real ledger, a credential issued before its
// issuer's accreditation was withdrawn stays valid; one issued after fails accreditation, and
// only that.
func TestVerifyAccreditationAtIssuanceTime(t *testing.T) {
	f := newFixture(t)
	counter := f.world.Counter.ID
	const vct = "urn:ezheng:vct:DrivingLicence"
	li := newLedgerIssuer(t, f, vct)
	f.clock.Add(time.Hour)
	before := li.credential(t, f, li.key1, "#key-1", f.clock.Now().Add(-30*time.Minute))
	root, err := f.srv.Issuer.RootAuthority(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Issuer.Withdraw(t.Context(), root, li.did, []string{vct}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	after := li.credential(t, f, li.key1, "#key-1", f.clock.Now().Add(-time.Minute))

	if res := f.verify(f.present(before, counterClaims, nil, counter), counter); !res.Valid {
		t.Errorf("issued before the withdrawal: %v", res.failed())
	}
	res := f.verify(f.present(after, counterClaims, nil, counter), counter)
	if failed := res.failed(); res.Valid || len(failed) != 1 || !strings.HasPrefix(failed[0], "accreditation: ") || !strings.Contains(failed[0], "not accredited") {
		t.Errorf("issued after the withdrawal: valid %v, failed %q", res.Valid, failed)
	}
}
