package oid4vci

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const exampleIssuer = "https://credential-issuer.example.com"

func TestRoundTripSpecExamples(t *testing.T) {
	t.Parallel()
	t.Run("offer multiple credentials 4.1.1", func(t *testing.T) {
		o := checkRoundTrip(t, "offer_multiple_credentials.json",
			func(b []byte) (*CredentialOffer, error) { return ParseOffer(b) },
			(*CredentialOffer).Encode, "issuer_redirect_uri")
		g := o.Grants.PreAuthorizedCode
		if g.PreAuthorizedCode != "oaKazRN8I0IbtZ0C7JuMn5" || g.TxCode == nil || g.TxCode.Length != 4 || g.TxCode.InputMode != TxCodeNumeric {
			t.Errorf("grant = %+v", g)
		}
	})
	t.Run("offer by reference 4.1.3", func(t *testing.T) {
		o := checkRoundTrip(t, "offer_by_reference.json",
			func(b []byte) (*CredentialOffer, error) { return ParseOffer(b) },
			(*CredentialOffer).Encode)
		if tx := o.Grants.PreAuthorizedCode.TxCode; tx == nil || *tx != (TxCode{}) {
			t.Errorf("empty tx_code object must stay present and empty, got %+v", tx)
		}
	})
	t.Run("issuer metadata 12.2.4", func(t *testing.T) {
		m := checkRoundTrip(t, "issuer_metadata_sd_jwt_long.json",
			func(b []byte) (*IssuerMetadata, error) { return ParseIssuerMetadata(b, exampleIssuer) },
			jsonEncode[*IssuerMetadata])
		cc := m.CredentialConfigurationsSupported["SD_JWT_VC_example_in_OpenID4VCI"]
		if cc.Format != FormatSDJWTVC || cc.ProofTypesSupported[ProofTypeJWT].ProofSigningAlgValuesSupported[0] != "ES256" {
			t.Errorf("configuration = %+v", cc)
		}
		if len(m.Display) != 2 || m.Display[1].Name != "Example Université" {
			t.Errorf("display = %+v", m.Display)
		}
	})
	t.Run("authorization server metadata RFC 8414 3.2", func(t *testing.T) {
		m := checkRoundTrip(t, "as_metadata_rfc8414.json",
			func(b []byte) (*AuthorizationServerMetadata, error) {
				return ParseAuthorizationServerMetadata(b, "https://server.example.com")
			},
			jsonEncode[*AuthorizationServerMetadata],
			"token_endpoint_auth_signing_alg_values_supported", "userinfo_endpoint", "jwks_uri",
			"registration_endpoint", "scopes_supported", "service_documentation", "ui_locales_supported")
		if m.SupportsPreAuthorizedCode() {
			t.Error("RFC 8414 example does not list the pre-authorized code grant")
		}
	})
	t.Run("token response 6.2", func(t *testing.T) {
		r := checkRoundTrip(t, "token_response.json", ParseTokenResponse, jsonEncode[*TokenResponse])
		if r.AuthorizationDetails[0].CredentialIdentifiers[1] != "ElectricalEngineeringDegree-2023" {
			t.Errorf("authorization_details = %+v", r.AuthorizationDetails)
		}
	})
	for _, f := range []string{"token_error.json", "credential_error.json", "deferred_credential_error.json", "notification_error.json"} {
		t.Run("error "+f, func(t *testing.T) {
			checkRoundTrip(t, f, ParseErrorResponse, jsonEncode[*ErrorResponse])
		})
	}
	t.Run("nonce response 7.2", func(t *testing.T) {
		checkRoundTrip(t, "nonce_response.json", ParseNonceResponse, jsonEncode[*NonceResponse])
	})
	t.Run("credential request by configuration id 8.2", func(t *testing.T) {
		r := checkRoundTrip(t, "credential_request_configuration_id.json", ParseCredentialRequest, (*CredentialRequest).Encode)
		if r.CredentialConfigurationID != "org.iso.18013.5.1.mDL" || len(r.Proofs.JWT) != 1 {
			t.Errorf("request = %+v", r)
		}
	})
	t.Run("credential request by identifier with two proofs 8.2", func(t *testing.T) {
		r := checkRoundTrip(t, "credential_request_identifier.json", ParseCredentialRequest, (*CredentialRequest).Encode)
		if r.CredentialIdentifier != "CivilEngineeringDegree-2023" || len(r.Proofs.JWT) != 2 {
			t.Errorf("request = %+v", r)
		}
	})
	for _, f := range []string{"credential_response.json", "credential_response_batch.json", "credential_response_deferred.json", "deferred_credential_response_pending.json"} {
		t.Run("credential response "+f, func(t *testing.T) {
			checkRoundTrip(t, f, ParseCredentialResponse, (*CredentialResponse).Encode)
		})
	}
	t.Run("deferred credential request 9.1", func(t *testing.T) {
		checkRoundTrip(t, "deferred_credential_request.json", ParseDeferredCredentialRequest, jsonEncode[*DeferredCredentialRequest])
	})
	for _, f := range []string{"notification_accepted.json", "notification_failure.json"} {
		t.Run("notification "+f, func(t *testing.T) {
			checkRoundTrip(t, f, ParseNotificationRequest, jsonEncode[*NotificationRequest])
		})
	}
}

func TestCredentialResponseContents(t *testing.T) {
	t.Parallel()
	r, err := ParseCredentialResponse(readTestdata(t, "credential_response_batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := r.Credentials[1].String(); !ok || s != "YXNkZnNhZGZkamZqZGFza23....29tZTIzMjMyMzIzMjMy" {
		t.Errorf("credentials[1] = %q, %v", s, ok)
	}
	if r.NotificationID != "3fwe98js" || r.Deferred() {
		t.Errorf("response = %+v", r)
	}
	d, err := ParseCredentialResponse(readTestdata(t, "credential_response_deferred.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Deferred() || d.Interval != 3600 || d.TransactionID != "8xLOxBtZp8" {
		t.Errorf("deferred = %+v", d)
	}
	built := &CredentialResponse{Credentials: []IssuedCredential{StringCredential("a~b~"), StringCredential("c~d~")}, NotificationID: "n"}
	b, err := built.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"credentials":[{"credential":"a~b~"},{"credential":"c~d~"}],"notification_id":"n"}`; string(b) != want {
		t.Errorf("Encode = %s, want %s", b, want)
	}
}

func TestTokenRequestSpecExample(t *testing.T) {
	t.Parallel()
	form, err := url.ParseQuery(unwrap(readTestdata(t, "token_request_pre_authorized.txt")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseTokenRequest(form)
	if err != nil {
		t.Fatal(err)
	}
	want := &TokenRequest{GrantType: GrantTypePreAuthorizedCode, PreAuthorizedCode: "SplxlOBeZQQYbYS6WxSbIA", TxCode: "493536"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}
	again, err := url.ParseQuery(r.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ParseTokenRequest(again)
	if err != nil || !reflect.DeepEqual(r2, r) {
		t.Errorf("round trip: %+v, %v", r2, err)
	}
}

func TestParseTokenRequestErrors(t *testing.T) {
	t.Parallel()
	const gt = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code"
	tests := []struct {
		name, form string
		want       error
	}{
		{"authorization code grant", "grant_type=authorization_code&code=x", ErrUnsupportedGrantType},
		{"no grant type", "pre-authorized_code=x", ErrMalformed},
		{"no code", gt, ErrMalformed},
		{"empty code", gt + "&pre-authorized_code=", ErrMalformed},
		{"repeated code", gt + "&pre-authorized_code=a&pre-authorized_code=b", ErrMalformed},
		{"repeated tx_code", gt + "&pre-authorized_code=a&tx_code=1&tx_code=2", ErrMalformed},
		{"repeated grant type", gt + "&" + gt + "&pre-authorized_code=a", ErrMalformed},
		{"empty tx_code", gt + "&pre-authorized_code=a&tx_code=", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseTokenRequest(form); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTokenRequestLogValueRedacts(t *testing.T) {
	t.Parallel()
	r := &TokenRequest{GrantType: GrantTypePreAuthorizedCode, PreAuthorizedCode: "secret-code", TxCode: "493536"}
	if s := r.LogValue().String(); strings.Contains(s, "secret-code") || strings.Contains(s, "493536") {
		t.Errorf("LogValue leaks: %s", s)
	}
	o := testOffer()
	cr := &CredentialResponse{Credentials: []IssuedCredential{StringCredential("personal-data")}}
	for _, v := range []interface{ LogValue() slog.Value }{o, o.Grants.PreAuthorizedCode, cr} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		s := buf.String() + v.LogValue().String()
		if strings.Contains(s, o.Grants.PreAuthorizedCode.PreAuthorizedCode) || strings.Contains(s, "personal-data") {
			t.Errorf("LogValue leaks: %s", s)
		}
	}
	tr := &TokenResponse{AccessToken: "secret-token", TokenType: "Bearer"}
	if s := tr.LogValue().String(); strings.Contains(s, "secret-token") {
		t.Errorf("LogValue leaks: %s", s)
	}
}

func TestParseCredentialRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       *CredentialRequest
		wantErr    error
	}{
		{"legacy single proof", `{"credential_configuration_id":"a","proof":{"proof_type":"jwt","jwt":"x.y.z"}}`,
			&CredentialRequest{CredentialConfigurationID: "a", Proofs: &Proofs{JWT: []string{"x.y.z"}}}, nil},
		{"no proofs", `{"credential_identifier":"a"}`, &CredentialRequest{CredentialIdentifier: "a"}, nil},
		{"unknown members ignored", `{"credential_identifier":"a","x-ext":{"y":1}}`, &CredentialRequest{CredentialIdentifier: "a"}, nil},
		{"both ids", `{"credential_identifier":"a","credential_configuration_id":"b"}`, nil, ErrMalformed},
		{"no id", `{"proofs":{"jwt":["x"]}}`, nil, ErrMalformed},
		{"empty id", `{"credential_configuration_id":""}`, nil, ErrMalformed},
		{"proof and proofs", `{"credential_configuration_id":"a","proof":{"proof_type":"jwt","jwt":"x"},"proofs":{"jwt":["x"]}}`, nil, ErrMalformed},
		{"two proof types", `{"credential_configuration_id":"a","proofs":{"jwt":["x"],"attestation":["y"]}}`, nil, ErrMalformed},
		{"di_vp proof type", `{"credential_configuration_id":"a","proofs":{"di_vp":[{}]}}`, nil, ErrInvalidProof},
		{"legacy cwt proof", `{"credential_configuration_id":"a","proof":{"proof_type":"cwt","cwt":"x"}}`, nil, ErrInvalidProof},
		{"empty jwt array", `{"credential_configuration_id":"a","proofs":{"jwt":[]}}`, nil, ErrInvalidProof},
		{"empty jwt string", `{"credential_configuration_id":"a","proofs":{"jwt":[""]}}`, nil, ErrInvalidProof},
		{"jwt not array", `{"credential_configuration_id":"a","proofs":{"jwt":"x"}}`, nil, ErrMalformed},
		{"duplicate member", `{"credential_configuration_id":"a","credential_configuration_id":"b"}`, nil, ErrMalformed},
		{"case-folded duplicate", `{"credential_configuration_id":"a","Credential_Configuration_ID":"b"}`, nil, ErrMalformed},
		{"response encryption", `{"credential_configuration_id":"a","credential_response_encryption":{"enc":"A128GCM"}}`, nil, ErrMalformed},
		{"not an object", `["credential_configuration_id"]`, nil, ErrMalformed},
		{"trailing data", `{"credential_configuration_id":"a"} {}`, nil, ErrMalformed},
		{"too large", `{"credential_configuration_id":"` + strings.Repeat("a", 4*MaxMessageSize) + `"}`, nil, ErrTooLarge},
		{"too deep", `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `,"credential_identifier":"a"}`, nil, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCredentialRequest([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			b, _ := got.Encode()
			if strings.Contains(string(b), `"proof"`) {
				t.Errorf("Encode wrote the legacy proof member: %s", b)
			}
		})
	}
}

func TestCredentialResponseValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"empty", `{}`, false},
		{"both", `{"credentials":[{"credential":"a"}],"transaction_id":"t","interval":5}`, false},
		{"transaction without interval", `{"transaction_id":"t"}`, false},
		{"negative interval", `{"transaction_id":"t","interval":-1}`, false},
		{"notification with transaction", `{"transaction_id":"t","interval":5,"notification_id":"n"}`, false},
		{"null credential", `{"credentials":[{"credential":null}]}`, false},
		{"missing credential", `{"credentials":[{}]}`, false},
		{"object credential", `{"credentials":[{"credential":{"@context":[]}}]}`, true},
		{"object credential with spaces", `{"credentials":[{"credential": { "a" : [ 1 , "<&>" ] } }]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseCredentialResponse([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				return
			}
			enc, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if again, err := ParseCredentialResponse(enc); err != nil || !reflect.DeepEqual(again, r) {
				t.Errorf("round trip: %+v, %v; want %+v", again, err, r)
			}
		})
	}
}

func TestNotificationRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"deleted", `{"notification_id":"n","event":"credential_deleted"}`, true},
		{"unknown event", `{"notification_id":"n","event":"credential_lost"}`, false},
		{"event is case sensitive", `{"notification_id":"n","event":"Credential_Accepted"}`, false},
		{"no id", `{"event":"credential_accepted"}`, false},
		{"quote in description", `{"notification_id":"n","event":"credential_failure","event_description":"say \"hi\""}`, false},
		{"non-ASCII description", `{"notification_id":"n","event":"credential_failure","event_description":"存储已满"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseNotificationRequest([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestNewErrorResponseSanitizes(t *testing.T) {
	t.Parallel()
	e := NewErrorResponse(ErrorInvalidProof, "bad \"nonce\" \\ 随机")
	if e.Description != "bad ?nonce? ? ??" {
		t.Errorf("Description = %q", e.Description)
	}
	var err error = e
	if !strings.Contains(err.Error(), ErrorInvalidProof) {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestParseTokenResponse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{`{"access_token":"a","token_type":"bearer","expires_in":60}`, true},
		{`{"access_token":"a","token_type":"DPoP"}`, true},
		{`{"access_token":"a","token_type":"Basic"}`, false},
		{`{"token_type":"Bearer"}`, false},
		{`{"access_token":"a","token_type":"Bearer","expires_in":-1}`, false},
		{`{"access_token":"a","token_type":"Bearer","c_nonce":"n","c_nonce_expires_in":86400}`, true},
	} {
		if _, err := ParseTokenResponse([]byte(tt.body)); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}

func TestIssuerMetadataValidate(t *testing.T) {
	t.Parallel()
	base := readTestdata(t, "issuer_metadata_sd_jwt_long.json")
	tests := []struct {
		name       string
		edit       func(*IssuerMetadata)
		wantIssuer string
		want       error
	}{
		{"other issuer", func(*IssuerMetadata) {}, "https://credential-issuer.example.com/", ErrMalformed},
		{"http endpoint", func(m *IssuerMetadata) { m.CredentialEndpoint = "http://credential-issuer.example.com/credential" }, exampleIssuer, ErrInsecureURL},
		{"no configurations", func(m *IssuerMetadata) { m.CredentialConfigurationsSupported = nil }, exampleIssuer, ErrMalformed},
		{"batch size 1", func(m *IssuerMetadata) { m.BatchCredentialIssuance.BatchSize = 1 }, exampleIssuer, ErrMalformed},
		{"repeated display locale", func(m *IssuerMetadata) { m.Display[1].Locale = m.Display[0].Locale }, exampleIssuer, ErrMalformed},
		{"repeated credential display locale", func(m *IssuerMetadata) {
			cc := m.CredentialConfigurationsSupported["SD_JWT_VC_example_in_OpenID4VCI"]
			cc.CredentialMetadata.Display = append(cc.CredentialMetadata.Display, cc.CredentialMetadata.Display[0])
		}, exampleIssuer, ErrMalformed},
		{"http endpoint allowed on loopback only with option", func(m *IssuerMetadata) { m.NonceEndpoint = "http://127.0.0.1/nonce" }, exampleIssuer, ErrInsecureURL},
		{"issuer with query", func(m *IssuerMetadata) { m.CredentialIssuer += "?a=b" }, exampleIssuer + "?a=b", ErrInsecureURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseIssuerMetadata(base, exampleIssuer)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			if err := m.Validate(tt.wantIssuer); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMetadataURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ id, wk, want string }{
		{"https://issuer.example.com/tenant", WellKnownCredentialIssuer, "https://issuer.example.com/.well-known/openid-credential-issuer/tenant"},
		{"https://tenant.issuer.example.com", WellKnownCredentialIssuer, "https://tenant.issuer.example.com/.well-known/openid-credential-issuer"},
		{"https://as.example.com:8443/a/b", WellKnownAuthorizationServer, "https://as.example.com:8443/.well-known/oauth-authorization-server/a/b"},
	} {
		got, err := MetadataURL(tt.id, tt.wk)
		if err != nil || got != tt.want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", tt.id, got, err, tt.want)
		}
	}
	if _, err := MetadataURL("http://issuer.example.com", WellKnownCredentialIssuer); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("http identifier: err = %v", err)
	}
}
