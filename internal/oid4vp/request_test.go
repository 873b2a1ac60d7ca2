package oid4vp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestRequestObjectRoundTrip(t *testing.T) {
	c := newTestClient(1)
	req := c.request(t)
	jwt := c.sign(t, req)
	got, err := ParseRequestObject(context.Background(), jwt, VerifyOptions{ClientID: c.clientID(), Now: testNow, Resolve: c.resolve})
	if err != nil {
		t.Fatal(err)
	}
	req.Issuer, req.Audience = c.clientID(), AudienceSelfIssued
	if !reflect.DeepEqual(*got, req) {
		t.Fatalf("got %+v\nwant %+v", *got, req)
	}
}

func TestRequestObjectRefused(t *testing.T) {
	c := newTestClient(1)
	other := newTestClient(2)
	good := c.sign(t, c.request(t))
	parts := strings.Split(good, ".")
	tamper := func(f func(*AuthorizationRequest)) string {
		r := c.request(t)
		f(&r)
		b, _ := encodeJSON(r)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	// A request signed by another key but naming c's DID in client_id and kid.
	forged := func() string {
		r := c.request(t)
		r.Issuer, r.Audience = r.ClientID, AudienceSelfIssued
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: other.key},
			(&jose.SignerOptions{}).WithType(TypeRequestObject).WithHeader("kid", c.kid))
		b, _ := encodeJSON(r)
		o, _ := s.Sign(b)
		out, _ := o.CompactSerialize()
		return out
	}()
	wrongTyp := func() string {
		b, _ := encodeJSON(c.request(t))
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: c.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", c.kid))
		o, _ := s.Sign(b)
		out, _ := o.CompactSerialize()
		return out
	}()
	hs256 := func() string {
		b, _ := encodeJSON(c.request(t))
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, (&jose.SignerOptions{}).WithType(TypeRequestObject).WithHeader("kid", c.kid))
		o, _ := s.Sign(b)
		out, _ := o.CompactSerialize()
		return out
	}()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name     string
		jwt      string
		clientID string
		now      time.Time
		want     error
	}{
		{"tampered payload", tamper(func(r *AuthorizationRequest) { r.ResponseURI = "https://evil.example/collect" }), "", testNow, ErrClient},
		{"tampered nonce", tamper(func(r *AuthorizationRequest) { r.Nonce = "other" }), "", testNow, ErrClient},
		{"forged signer", forged, "", testNow, ErrClient},
		{"link names another client", good, other.clientID(), testNow, ErrClient},
		{"wrong typ", wrongTyp, "", testNow, ErrClient},
		{"hs256", hs256, "", testNow, ErrClient},
		{"expired", good, "", testNow.Add(10 * time.Minute), ErrClient},
		{"issued in the future", good, "", testNow.Add(-10 * time.Minute), ErrClient},
		{"not a jws", "abc", "", testNow, ErrMalformed},
		{"too large", strings.Repeat("a", MaxRequestObjectSize+1), "", testNow, ErrTooLarge},
		{"other key type", func() string {
			s, err := SignRequestObject(c.request(t), p256, c.kid)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), "", testNow, ErrClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.clientID
			if id == "" {
				id = c.clientID()
			}
			got, err := ParseRequestObject(context.Background(), tc.jwt, VerifyOptions{ClientID: id, Now: tc.now, Resolve: c.resolve})
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestSignRequestObjectValidates(t *testing.T) {
	c := newTestClient(1)
	cases := []struct {
		name string
		f    func(*AuthorizationRequest)
		want error
	}{
		{"x509 prefix", func(r *AuthorizationRequest) { r.ClientID = "x509_san_dns:verifier.example" }, ErrUnsupported},
		{"response mode", func(r *AuthorizationRequest) { r.ResponseMode = "fragment" }, ErrUnsupported},
		{"http response_uri", func(r *AuthorizationRequest) { r.ResponseURI = "http://verifier.example/r" }, ErrInsecureURL},
		{"no nonce", func(r *AuthorizationRequest) { r.Nonce = "" }, ErrMalformed},
		{"no query", func(r *AuthorizationRequest) { r.DCQLQuery = nil }, ErrMalformed},
		{"no exp", func(r *AuthorizationRequest) { r.ExpiresAt = 0 }, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.request(t)
			tc.f(&r)
			if _, err := SignRequestObject(r, c.key, c.kid); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := SignRequestObject(c.request(t), c.key, "did:example:other#0"); err == nil {
		t.Fatal("signed with a kid of another DID")
	}
}

func TestRequestURI(t *testing.T) {
	c := newTestClient(1)
	l := RequestLink{ClientID: c.clientID(), RequestURI: "https://verifier.example/verifier/v1/oid4vp/requests/r1"}
	s, err := EncodeRequestURI(l)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "openid4vp://?client_id=decentralized_identifier%3Adid%3Aexample") {
		t.Fatalf("link %s", s)
	}
	got, err := ParseRequestURI(s)
	if err != nil || got != l {
		t.Fatalf("parse %s = %+v, %v", s, got, err)
	}
	cases := []struct {
		name, uri string
		want      error
	}{
		{"by value", "openid4vp://?client_id=" + url.QueryEscape(c.clientID()) + "&request=eyJ", ErrUnsupported},
		{"plain parameters", "openid4vp://?client_id=" + url.QueryEscape(c.clientID()) + "&response_type=vp_token&nonce=n", ErrUnsupported},
		{"no client_id", "openid4vp://?request_uri=https%3A%2F%2Fv.example%2Fr", ErrMalformed},
		{"repeated request_uri", s + "&request_uri=https%3A%2F%2Fv.example%2Fr", ErrMalformed},
		{"http request_uri", "openid4vp://?client_id=" + url.QueryEscape(c.clientID()) + "&request_uri=http%3A%2F%2Fv.example%2Fr", ErrInsecureURL},
		{"redirect_uri prefix", "openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fv.example&request_uri=https%3A%2F%2Fv.example%2Fr", ErrUnsupported},
		{"post method", s + "&request_uri_method=post", ErrUnsupported},
		{"other scheme", "openid-credential-offer://?x=1", ErrMalformed},
		{"too long", s + "&x=" + strings.Repeat("a", MaxURISize), ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRequestURI(tc.uri); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Loopback http only when allowed.
	loop := RequestLink{ClientID: c.clientID(), RequestURI: "http://127.0.0.1:8080/r"}
	if _, err := EncodeRequestURI(loop); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("loopback without the option: %v", err)
	}
	ls, err := EncodeRequestURI(loop, AllowLoopbackHTTP())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseRequestURI(ls, AllowLoopbackHTTP()); err != nil || got != loop {
		t.Fatalf("loopback: %+v %v", got, err)
	}
}

func TestResponse(t *testing.T) {
	r := Response{VPToken: map[string][]string{"licence": {"eyJ.a.b~d~kb"}}, State: "s-1"}
	body, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	form, _ := url.ParseQuery(body)
	got, err := ParseResponse(form)
	if err != nil || !reflect.DeepEqual(*got, r) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	cases := []struct {
		name string
		form url.Values
		want error
	}{
		{"no vp_token", url.Values{"state": {"s"}}, ErrMalformed},
		{"repeated state", url.Values{"vp_token": {`{"a":["x"]}`}, "state": {"s", "t"}}, ErrMalformed},
		{"string value", url.Values{"vp_token": {`{"a":"x"}`}}, ErrMalformed},
		{"empty array", url.Values{"vp_token": {`{"a":[]}`}}, ErrMalformed},
		{"empty object", url.Values{"vp_token": {`{}`}}, ErrMalformed},
		{"bad id", url.Values{"vp_token": {`{"a b":["x"]}`}}, ErrMalformed},
		{"duplicate key", url.Values{"vp_token": {`{"a":["x"],"a":["y"]}`}}, ErrMalformed},
		{"not json", url.Values{"vp_token": {`eyJ`}}, ErrMalformed},
		{"both", url.Values{"vp_token": {`{"a":["x"]}`}, "error": {"access_denied"}}, ErrMalformed},
		{"too large", url.Values{"vp_token": {`{"a":["` + strings.Repeat("x", MaxVPTokenSize) + `"]}`}}, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseResponse(tc.form); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	declined, err := ParseResponse(url.Values{"error": {ErrorAccessDenied}, "state": {"s"}})
	if err != nil || declined.Error != ErrorAccessDenied || declined.VPToken != nil {
		t.Fatalf("decline: %+v %v", declined, err)
	}
}
