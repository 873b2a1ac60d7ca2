package server_test

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierhttp"
)

// addService has the root authority register an online service.
func (f *fixture) addService(name string) verifierhttp.NewServiceResponse {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/verifier/v1/services", f.world.RootAuthority.Token, map[string]any{"name": name})
	if r.status != http.StatusCreated {
		f.t.Fatalf("add service: HTTP %d %s", r.status, r.body)
	}
	var s verifierhttp.NewServiceResponse
	if err := json.Unmarshal(r.body, &s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// verifierRows counts the rows of a table of the verifier database, read beside the server.
func (f *fixture) verifierRows(table string) int {
	f.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(f.cfg.DataDir, "verifier.db")+"?mode=ro")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// TestOpenID4VPServiceTokens: creating a request needs a live service token: none, a wrong
// one, another kind of token or a revoked one is a 401 problem and creates nothing.
func TestOpenID4VPServiceTokens(t *testing.T) {
	f := newFixture(t)
	svc := f.addService("Car rental")
	body := map[string]any{"type": "DrivingLicence", "claims": shareClaims}
	if c := f.vpCreateAs(svc.Token); c.ID == "" {
		t.Fatal("no session id")
	}
	sessions := f.verifierRows("vp_sessions")

	// A second token; the first is revoked.
	r := f.do(http.MethodPost, "/verifier/v1/services/"+svc.Service.ID+"/tokens", f.world.RootAuthority.Token, "", nil)
	var second verifier.NewServiceToken
	if json.Unmarshal(r.body, &second); r.status != http.StatusCreated || second.Token == "" || second.ID == svc.ID {
		t.Fatalf("token create: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/verifier/v1/services/"+svc.Service.ID+"/tokens/"+svc.ID, f.world.RootAuthority.Token, "", nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}

	for _, tc := range []struct{ name, header string }{
		{"no token", ""},
		{"unknown token", "Bearer ezvs_" + strings.Repeat("A", 43)},
		{"revoked token", "Bearer " + svc.Token},
		{"agency token", "Bearer " + f.world.Agencies[0].Token},
		{"root authority token", "Bearer " + f.world.RootAuthority.Token},
		{"basic scheme", "Basic " + svc.Token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(body)
			var h []string
			if tc.header != "" {
				h = []string{"Authorization", tc.header}
			}
			r := f.do(http.MethodPost, "/verifier/v1/oid4vp/requests", "", "application/json", b, h...)
			if r.status != http.StatusUnauthorized || !strings.HasSuffix(r.problemType(), "/unauthorized") || !strings.HasPrefix(r.ctype, "application/problem+json") {
				t.Fatalf("HTTP %d %s %s", r.status, r.ctype, r.body)
			}
			if n := f.verifierRows("vp_sessions"); n != sessions {
				t.Fatalf("%d sessions stored, want %d", n, sessions)
			}
		})
	}
	// The new token works.
	f.vpCreateAs(second.Token)

	// The listing shows both tokens, the first revoked, and no secret.
	r = f.do(http.MethodGet, "/verifier/v1/services", f.world.RootAuthority.Token, "", nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), svc.Token) || strings.Contains(string(r.body), second.Token) {
		t.Fatalf("list: HTTP %d %s", r.status, r.body)
	}
	var list verifierhttp.ServiceList
	json.Unmarshal(r.body, &list)
	var found bool
	for _, s := range list.Services {
		if s.ID == svc.Service.ID {
			found = true
			if len(s.Tokens) != 2 || s.Tokens[0].RevokedAt == nil || s.Tokens[1].RevokedAt != nil {
				t.Fatalf("tokens %+v", s.Tokens)
			}
		}
	}
	if !found || len(list.Services) != 2 || list.Services[0].Name != demo.ServiceName {
		t.Fatalf("services %+v", list.Services)
	}
}

// TestOpenID4VPServiceIsolation: a service reads and subscribes to its own sessions only
// (another's is 404, as an unknown one), the request object names the service as registered,
// and the verification records of its sessions carry its id.
func TestOpenID4VPServiceIsolation(t *testing.T) {
	f := newFixture(t)
	a, b := f.addService("Car rental"), f.addService("Hotel check-in")
	issued := f.issue("DrivingLicence", f.holderDID, licence)
	created := f.vpCreateAs(a.Token)
	_, ar := f.fetchRequest(created)
	if ar.ClientMetadata == nil || ar.ClientMetadata.ClientName != "Car rental" {
		t.Fatalf("client_metadata %+v", ar.ClientMetadata)
	}
	if r := f.postResponse(vpForm("credential", f.holderPresentation(issued, ar.ClientID, ar.Nonce), ar.State)); r.status != http.StatusOK {
		t.Fatalf("response: HTTP %d %s", r.status, r.body)
	}

	path := "/verifier/v1/oid4vp/sessions/" + created.ID
	for _, p := range []string{path, path + "/events"} {
		for name, tok := range map[string]string{"service B": b.Token, "demo service": f.world.Service.Token} {
			if r := f.do(http.MethodGet, p, tok, "", nil); r.status != http.StatusNotFound || !strings.HasSuffix(r.problemType(), "/not-found") ||
				strings.Contains(string(r.body), "family_name") {
				t.Fatalf("%s as %s: HTTP %d %s", p, name, r.status, r.body)
			}
		}
		if r := f.do(http.MethodGet, p, "", "", nil); r.status != http.StatusUnauthorized {
			t.Fatalf("%s without a token: HTTP %d %s", p, r.status, r.body)
		}
	}

	// Service A reads its result, by polling and by subscribing.
	r := f.do(http.MethodGet, path, a.Token, "", nil)
	var s verifier.VPSession
	if json.Unmarshal(r.body, &s); r.status != http.StatusOK || s.Status != verifier.VPVerified || s.Service != a.Service.ID || s.ClientName != "Car rental" {
		t.Fatalf("A polls: HTTP %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest(http.MethodGet, f.url+path+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(lines) < 2 || !strings.Contains(lines[1], `"status":"verified"`) {
		t.Fatalf("A subscribes: HTTP %d %q", resp.StatusCode, lines)
	}

	// The record names service A and holds no claim.
	r = f.do(http.MethodGet, "/verifier/v1/records?service="+a.Service.ID, f.world.RootAuthority.Token, "", nil)
	var recs struct{ Records []verifier.Record }
	json.Unmarshal(r.body, &recs)
	if r.status != http.StatusOK || len(recs.Records) != 1 || recs.Records[0].Service != a.Service.ID || !recs.Records[0].Valid ||
		strings.Contains(string(r.body), "family_name") {
		t.Fatalf("records: HTTP %d %s", r.status, r.body)
	}
	if r = f.do(http.MethodGet, "/verifier/v1/records?service="+b.Service.ID, f.world.RootAuthority.Token, "", nil); !strings.Contains(string(r.body), `"records":[]`) {
		t.Fatalf("records of B: %s", r.body)
	}
}

// TestServiceAdmin: only the root authority administers services; bad input is a problem
// and changes nothing.
func TestServiceAdmin(t *testing.T) {
	f := newFixture(t)
	root := f.world.RootAuthority.Token
	svc := f.addService("Car rental")
	services := f.verifierRows("verifier_services")
	tokens := f.verifierRows("verifier_service_tokens")
	cases := []struct {
		name, method, path, token, body string
		status                          int
		typ                             string
	}{
		{"add without a token", "POST", "/verifier/v1/services", "", `{"name":"X"}`, 401, "/unauthorized"},
		{"add as an agency", "POST", "/verifier/v1/services", f.world.Agencies[0].Token, `{"name":"X"}`, 403, "/forbidden"},
		{"add as a service", "POST", "/verifier/v1/services", svc.Token, `{"name":"X"}`, 401, "/unauthorized"},
		{"list as an agency", "GET", "/verifier/v1/services", f.world.Agencies[0].Token, "", 403, "/forbidden"},
		{"duplicate name", "POST", "/verifier/v1/services", root, `{"name":"Car rental"}`, 409, "/conflict"},
		{"empty name", "POST", "/verifier/v1/services", root, `{"name":"  "}`, 400, "/malformed-request"},
		{"control character", "POST", "/verifier/v1/services", root, `{"name":"a\nb"}`, 400, "/malformed-request"},
		{"overlong name", "POST", "/verifier/v1/services", root, `{"name":"` + strings.Repeat("x", verifier.MaxServiceNameLen+1) + `"}`, 400, "/malformed-request"},
		{"unknown field", "POST", "/verifier/v1/services", root, `{"name":"Y","admin":true}`, 400, "/malformed-request"},
		{"token of unknown service", "POST", "/verifier/v1/services/svc_nope/tokens", root, "", 404, "/not-found"},
		{"token as an agency", "POST", "/verifier/v1/services/" + svc.Service.ID + "/tokens", f.world.Agencies[0].Token, "", 403, "/forbidden"},
		{"revoke unknown token", "DELETE", "/verifier/v1/services/" + svc.Service.ID + "/tokens/svt_nope", root, "", 404, "/not-found"},
		{"revoke through another service", "DELETE", "/verifier/v1/services/" + f.world.Service.ID + "/tokens/" + svc.ID, root, "", 404, "/not-found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctype := ""
			if tc.body != "" {
				ctype = "application/json"
			}
			r := f.do(tc.method, tc.path, tc.token, ctype, []byte(tc.body))
			if r.status != tc.status || !strings.HasSuffix(r.problemType(), tc.typ) {
				t.Fatalf("HTTP %d %s", r.status, r.body)
			}
			if s, n := f.verifierRows("verifier_services"), f.verifierRows("verifier_service_tokens"); s != services || n != tokens {
				t.Fatalf("stored: %d services, %d tokens", s, n)
			}
		})
	}
	// The token is still live, and revoking it twice is not found.
	f.vpCreateAs(svc.Token)
	p := "/verifier/v1/services/" + svc.Service.ID + "/tokens/" + svc.ID
	if r := f.do(http.MethodDelete, p, root, "", nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, p, root, "", nil); r.status != http.StatusNotFound {
		t.Fatalf("revoke twice: HTTP %d %s", r.status, r.body)
	}
}
