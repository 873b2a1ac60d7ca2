package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestAuthorizationServerMetadata checks /.well-known/oauth-authorization-server against the
// member names of RFC 8414 §2 and OpenID4VCI 1.0 §12.3 (pre-authorized_grant_anonymous_access_supported),
// and that the token endpoint it names really takes both grants it lists.
func TestAuthorizationServerMetadata(t *testing.T) {
	f := newFixture(t)
	r := f.do(http.MethodGet, "/.well-known/oauth-authorization-server", "", "", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.ctype, "application/json") {
		t.Fatalf("HTTP %d %s %s", r.status, r.ctype, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	strs := func(name string) []string {
		var out []string
		list, _ := m[name].([]any)
		for _, v := range list {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	for _, tc := range []struct {
		member string
		got    any
		want   any
	}{
		{"issuer", m["issuer"], f.url},
		{"token_endpoint", m["token_endpoint"], f.url + "/oid4vci/token"},
		{"grant_types_supported", strs("grant_types_supported"), []string{"urn:ietf:params:oauth:grant-type:pre-authorized_code", "client_credentials"}},
		{"token_endpoint_auth_methods_supported", strs("token_endpoint_auth_methods_supported"), []string{"none", "client_secret_basic", "client_secret_post"}},
		{"pre-authorized_grant_anonymous_access_supported", m["pre-authorized_grant_anonymous_access_supported"], true},
	} {
		t.Run(tc.member, func(t *testing.T) {
			gb, _ := json.Marshal(tc.got)
			wb, _ := json.Marshal(tc.want)
			if string(gb) != string(wb) {
				t.Errorf("%s = %s, want %s", tc.member, gb, wb)
			}
		})
	}
	// No authorization endpoint, so no response types: RFC 8414 §3.2 omits empty members.
	for _, absent := range []string{"authorization_endpoint", "response_types_supported"} {
		if _, ok := m[absent]; ok {
			t.Errorf("%s present without an authorization endpoint: %s", absent, r.body)
		}
	}

	// The token endpoint named takes an agency client's client credentials (form or Basic)
	// and answers unknown grants as OAuth errors.
	id, secret := f.newClient(f.token("DrivingLicence"))
	post := func(form url.Values, basic ...string) (int, oauthAnswer) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, m["token_endpoint"].(string), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a oauthAnswer
		json.NewDecoder(resp.Body).Decode(&a)
		return resp.StatusCode, a
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		err    string
	}{
		{"client_secret_post", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, nil, 200, ""},
		{"client_secret_basic", url.Values{"grant_type": {"client_credentials"}}, []string{id, secret}, 200, ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, []string{id, "nope"}, 401, "invalid_client"},
		{"unknown grant", url.Values{"grant_type": {"password"}}, nil, 400, "unsupported_grant_type"},
		{"unknown pre-authorized code", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:pre-authorized_code"}, "pre-authorized_code": {"nope"}}, nil, 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, a := post(tc.form, tc.basic...)
			if status != tc.status || a.Error != tc.err {
				t.Fatalf("HTTP %d %+v, want %d %q", status, a, tc.status, tc.err)
			}
			if tc.status == 200 {
				if !strings.HasPrefix(a.AccessToken, "ezat_") {
					t.Fatalf("access token %q", a.AccessToken)
				}
				if r := f.do(http.MethodGet, "/issuer/v1/agency", a.AccessToken, "", nil); r.status != 200 {
					t.Errorf("the access token does not authenticate: HTTP %d", r.status)
				}
			}
		})
	}
	if !slices.Contains(strs("grant_types_supported"), "client_credentials") {
		t.Fatal("client_credentials not listed")
	}
}
