package oid4vci

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func testOffer() *CredentialOffer {
	return &CredentialOffer{
		CredentialIssuer:           "https://issuer.ezheng.example/agency/transport",
		CredentialConfigurationIDs: []string{"DrivingLicence_SD_JWT", "驾驶证"},
		Grants: &Grants{PreAuthorizedCode: &PreAuthorizedCodeGrant{
			PreAuthorizedCode: "q1Ufb7y-zr6T0lXNPb8cZ9bE-8qkhL0jCF1a3xG_Hjs",
			TxCode:            &TxCode{InputMode: TxCodeNumeric, Length: 6, Description: "PIN sent by SMS to 138****0000 & e-mail + post"},
		}},
	}
}

func TestOfferURISpecExamples(t *testing.T) {
	t.Parallel()
	offer, ref, err := ParseOfferURI(unwrap(readTestdata(t, "offer_by_value_uri.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := &CredentialOffer{
		CredentialIssuer:           "https://credential-issuer.example.com",
		CredentialConfigurationIDs: []string{"org.iso.18013.5.1.mDL"},
		Grants: &Grants{PreAuthorizedCode: &PreAuthorizedCodeGrant{
			PreAuthorizedCode: "oaKazRN8I0IbtZ0C7JuMn5",
			TxCode:            &TxCode{InputMode: TxCodeText, Description: "Please enter the serial number of your physical drivers license"},
		}},
	}
	if ref != "" || !reflect.DeepEqual(offer, want) {
		t.Errorf("by value: got %+v, %q; want %+v", offer, ref, want)
	}

	// The 4.1.2 GET example carries the same parameter to a wallet's https endpoint.
	offer, _, err = ParseOfferURI("https://wallet.example.org/credential_offer?" + unwrap(readTestdata(t, "offer_by_value_query.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if got := offer.CredentialConfigurationIDs; !reflect.DeepEqual(got, []string{"UniversityDegree_JWT", "org.iso.18013.5.1.mDL"}) {
		t.Errorf("https by value: ids %v", got)
	}
	if tx := offer.Grants.PreAuthorizedCode.TxCode; tx == nil || *tx != (TxCode{}) {
		t.Errorf("https by value: tx_code %+v, want empty object", tx)
	}

	offer, ref, err = ParseOfferURI(unwrap(readTestdata(t, "offer_by_reference_uri.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if offer != nil || ref != "https://server.example.com/credential-offer/GkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM" {
		t.Errorf("by reference: got %+v, %q", offer, ref)
	}
}

func TestOfferURIRoundTrip(t *testing.T) {
	t.Parallel()
	o := testOffer()
	s, err := EncodeOfferURI(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "openid-credential-offer://?credential_offer=%7B") || strings.Contains(s, "+") {
		t.Errorf("EncodeOfferURI = %s", s)
	}
	got, ref, err := ParseOfferURI(s)
	if err != nil || ref != "" || !reflect.DeepEqual(got, o) {
		t.Errorf("ParseOfferURI = %+v, %q, %v; want %+v", got, ref, err, o)
	}
	// A decoder that does not treat '+' as a space (decodeURIComponent) reads the same JSON.
	u, _ := url.Parse(s)
	raw := strings.TrimPrefix(u.RawQuery, "credential_offer=")
	plain, err := url.PathUnescape(raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := ParseOffer([]byte(plain)); err != nil || !reflect.DeepEqual(again, o) {
		t.Errorf("path-unescaped offer = %+v, %v", again, err)
	}

	r, err := EncodeOfferURIByReference("https://issuer.ezheng.example/offers/abc?x=1&y=2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fissuer.ezheng.example%2Foffers%2Fabc%3Fx%3D1%26y%3D2"; r != want {
		t.Errorf("EncodeOfferURIByReference = %s, want %s", r, want)
	}
	if _, ref, err := ParseOfferURI(r); err != nil || ref != "https://issuer.ezheng.example/offers/abc?x=1&y=2" {
		t.Errorf("ParseOfferURI(by reference) = %q, %v", ref, err)
	}
	if _, err := EncodeOfferURIByReference("http://issuer.ezheng.example/o"); !errors.Is(err, ErrInsecureURL) {
		t.Errorf("http reference: err = %v", err)
	}
}

func TestParseOfferURI(t *testing.T) {
	t.Parallel()
	valid := `{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"]}`
	byValue := func(j string) string { return "openid-credential-offer://?credential_offer=" + url.QueryEscape(j) }
	withIssuer := func(iss string) string {
		return byValue(`{"credential_issuer":"` + iss + `","credential_configuration_ids":["a"]}`)
	}
	ref := "credential_offer_uri=" + url.QueryEscape("https://issuer.example/o/1")
	tests := []struct {
		name     string
		uri      string
		opts     []ParseOption
		wantRef  string
		wantErr  error
		wantIDs  []string
		wantCode string
	}{
		{name: "by value", uri: byValue(valid), wantIDs: []string{"a"}},
		{name: "by reference", uri: "openid-credential-offer://?" + ref, wantRef: "https://issuer.example/o/1"},
		{name: "https universal link", uri: "https://wallet.example/offer?" + ref, wantRef: "https://issuer.example/o/1"},
		{name: "scheme is case-insensitive", uri: "OpenID-Credential-Offer://?" + ref, wantRef: "https://issuer.example/o/1"},
		{name: "custom scheme without slashes", uri: "openid-credential-offer:?" + ref, wantRef: "https://issuer.example/o/1"},
		{name: "other parameters ignored", uri: "https://wallet.example/offer?utm=x&" + ref, wantRef: "https://issuer.example/o/1"},
		{name: "both", uri: byValue(valid) + "&" + ref, wantErr: ErrMalformed},
		{name: "neither", uri: "openid-credential-offer://?foo=bar", wantErr: ErrMalformed},
		{name: "no query", uri: "openid-credential-offer://", wantErr: ErrMalformed},
		{name: "value repeated", uri: byValue(valid) + "&credential_offer=" + url.QueryEscape(valid), wantErr: ErrMalformed},
		{name: "reference repeated", uri: "openid-credential-offer://?" + ref + "&" + ref, wantErr: ErrMalformed},
		{name: "bad scheme", uri: "openid4vp://?" + ref, wantErr: ErrMalformed},
		{name: "http link", uri: "http://wallet.example/offer?" + ref, wantErr: ErrMalformed},
		{name: "no scheme", uri: "?" + ref, wantErr: ErrMalformed},
		{name: "http reference", uri: "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape("http://issuer.example/o"), wantErr: ErrInsecureURL},
		{name: "reference with fragment", uri: "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape("https://issuer.example/o#x"), wantErr: ErrInsecureURL},
		{name: "reference with user info", uri: "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape("https://u:p@issuer.example/o"), wantErr: ErrInsecureURL},
		{name: "relative reference", uri: "openid-credential-offer://?credential_offer_uri=%2Fo%2F1", wantErr: ErrInsecureURL},
		{name: "http issuer", uri: withIssuer("http://issuer.example"), wantErr: ErrInsecureURL},
		{name: "http loopback issuer without option", uri: withIssuer("http://127.0.0.1:8080"), wantErr: ErrInsecureURL},
		{name: "http loopback issuer with option", uri: withIssuer("http://127.0.0.1:8080"), opts: []ParseOption{AllowLoopbackHTTP()}, wantIDs: []string{"a"}},
		{name: "http localhost issuer with option", uri: withIssuer("http://localhost:8080/x"), opts: []ParseOption{AllowLoopbackHTTP()}, wantIDs: []string{"a"}},
		{name: "http ipv6 loopback issuer with option", uri: withIssuer("http://[::1]:8080"), opts: []ParseOption{AllowLoopbackHTTP()}, wantIDs: []string{"a"}},
		{name: "http non-loopback issuer with option", uri: withIssuer("http://10.0.0.1"), opts: []ParseOption{AllowLoopbackHTTP()}, wantErr: ErrInsecureURL},
		{name: "http 127.0.0.2 issuer with option", uri: withIssuer("http://127.0.0.2"), opts: []ParseOption{AllowLoopbackHTTP()}, wantErr: ErrInsecureURL},
		{name: "issuer with query", uri: withIssuer("https://issuer.example/?t=1"), wantErr: ErrInsecureURL},
		{name: "issuer with fragment", uri: withIssuer("https://issuer.example/#f"), wantErr: ErrInsecureURL},
		{name: "issuer not a URL", uri: withIssuer("issuer.example"), wantErr: ErrInsecureURL},
		{name: "no issuer", uri: byValue(`{"credential_configuration_ids":["a"]}`), wantErr: ErrMalformed},
		{name: "oversized URI", uri: "openid-credential-offer://?" + ref + "&pad=" + strings.Repeat("a", MaxOfferURISize), wantErr: ErrTooLarge},
		{name: "oversized by-value URI", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"x":"` + strings.Repeat("a", MaxOfferURISize) + `"}`), wantErr: ErrTooLarge},
		{name: "bad JSON", uri: byValue(`{"credential_issuer":`), wantErr: ErrMalformed},
		{name: "JSON array", uri: byValue(`["a"]`), wantErr: ErrMalformed},
		{name: "trailing JSON", uri: byValue(valid + `{}`), wantErr: ErrMalformed},
		{name: "duplicate member", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_issuer":"https://evil.example","credential_configuration_ids":["a"]}`), wantErr: ErrMalformed},
		{name: "duplicate nested member", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"a","pre-authorized_code":"b"}}}`), wantErr: ErrMalformed},
		{name: "case-folded duplicate", uri: byValue(`{"credential_issuer":"https://issuer.example","CREDENTIAL_ISSUER":"https://evil.example","credential_configuration_ids":["a"]}`), wantErr: ErrMalformed},
		{name: "empty ids", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":[]}`), wantErr: ErrMalformed},
		{name: "missing ids", uri: byValue(`{"credential_issuer":"https://issuer.example"}`), wantErr: ErrMalformed},
		{name: "repeated id", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a","a"]}`), wantErr: ErrMalformed},
		{name: "empty id", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":[""]}`), wantErr: ErrMalformed},
		{name: "ids not strings", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":[1]}`), wantErr: ErrMalformed},
		{name: "empty pre-authorized code", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{}}}`), wantErr: ErrMalformed},
		{name: "bad input mode", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"c","tx_code":{"input_mode":"alpha"}}}}`), wantErr: ErrMalformed},
		{name: "long description", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"c","tx_code":{"description":"` + strings.Repeat("码", 301) + `"}}}}`), wantErr: ErrMalformed},
		{name: "fractional length", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"c","tx_code":{"length":4.5}}}}`), wantErr: ErrMalformed},
		{name: "unknown grant dropped", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"grants":{"urn:example:grant":{"x":1}}}`), wantIDs: []string{"a"}},
		{name: "invalid UTF-8", uri: "openid-credential-offer://?credential_offer=" + `%7B%22credential_issuer%22:%22https://issuer.example%22,%22credential_configuration_ids%22:%5B%22%FF%22%5D%7D`, wantErr: ErrMalformed},
		{name: "bad percent escape", uri: "openid-credential-offer://?credential_offer=%7B%ZZ", wantErr: ErrMalformed},
		{name: "semicolon separator", uri: "openid-credential-offer://?a=b;" + ref, wantErr: ErrMalformed},
		{name: "plus is a space", uri: "openid-credential-offer://?credential_offer=" + `{"credential_issuer":+"https://issuer.example",+"credential_configuration_ids":["a+b"]}`, wantIDs: []string{"a b"}},
		{name: "%2B is a plus", uri: "openid-credential-offer://?credential_offer=" + `{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a%2Bb"]}`, wantIDs: []string{"a+b"}},
		{name: "unescaped JSON", uri: "openid-credential-offer://?credential_offer=" + valid, wantIDs: []string{"a"}},
		{name: "double-encoded JSON", uri: byValue(url.QueryEscape(valid)), wantErr: ErrMalformed},
		{name: "encoded ampersand in value", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a&credential_offer_uri=x"]}`), wantIDs: []string{"a&credential_offer_uri=x"}},
		{name: "escaped unicode", uri: byValue(`{"credential_issuer":"https://issuer.example","credential_configuration_ids":["\u9a7e\u9a76\u8bc1"]}`), wantIDs: []string{"驾驶证"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			offer, ref, err := ParseOfferURI(tt.uri, tt.opts...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if offer != nil || ref != "" {
					t.Errorf("error with result %+v, %q", offer, ref)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ref != tt.wantRef {
				t.Errorf("offerURI = %q, want %q", ref, tt.wantRef)
			}
			if tt.wantIDs == nil {
				if offer != nil {
					t.Errorf("offer = %+v, want nil", offer)
				}
				return
			}
			if offer == nil || !reflect.DeepEqual(offer.CredentialConfigurationIDs, tt.wantIDs) {
				t.Errorf("offer = %+v, want ids %v", offer, tt.wantIDs)
			}
		})
	}
}

func TestParseOfferLimits(t *testing.T) {
	t.Parallel()
	big := `{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"x":"` + strings.Repeat("a", MaxMessageSize) + `"}`
	if _, err := ParseOffer([]byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized JSON: err = %v", err)
	}
	deep := `{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`
	if _, err := ParseOffer([]byte(deep)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("deep JSON: err = %v", err)
	}
	ok := `{"credential_issuer":"https://issuer.example","credential_configuration_ids":["a"],"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`
	if _, err := ParseOffer([]byte(ok)); err != nil {
		t.Errorf("JSON at the depth limit: %v", err)
	}
}
