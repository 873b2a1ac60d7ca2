package oid4vci

import (
	"context"
	"errors"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func FuzzParseOfferURI(f *testing.F) {
	for _, name := range []string{"offer_by_value_uri.txt", "offer_by_reference_uri.txt"} {
		f.Add(unwrap(readTestdata(f, name)), false)
	}
	f.Add("https://wallet.example.org/credential_offer?"+unwrap(readTestdata(f, "offer_by_value_query.txt")), false)
	for _, name := range []string{"offer_multiple_credentials.json", "offer_by_reference.json"} {
		o, err := ParseOffer(readTestdata(f, name))
		if err != nil {
			f.Fatal(err)
		}
		s, err := EncodeOfferURI(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s, false)
	}
	f.Add(`openid-credential-offer://?credential_offer={"credential_issuer":"http://127.0.0.1:1","credential_configuration_ids":["a"],"grants":{"authorization_code":{"issuer_state":"s"}}}`, true)
	f.Fuzz(func(t *testing.T, s string, loopback bool) {
		var opts []ParseOption
		if loopback {
			opts = append(opts, AllowLoopbackHTTP())
		}
		offer, ref, err := ParseOfferURI(s, opts...)
		if err != nil {
			if offer != nil || ref != "" {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if (offer == nil) == (ref == "") {
			t.Fatalf("want exactly one of offer and offerURI, got %+v, %q", offer, ref)
		}
		if offer != nil {
			enc, err := EncodeOfferURI(offer, opts...)
			if err != nil {
				t.Fatalf("accepted offer does not encode: %v", err)
			}
			again, ref2, err := ParseOfferURI(enc, opts...)
			if err != nil || ref2 != "" || !reflect.DeepEqual(again, offer) {
				t.Fatalf("re-parse of %s = %+v, %q, %v; want %+v", enc, again, ref2, err, offer)
			}
			return
		}
		enc, err := EncodeOfferURIByReference(ref, opts...)
		if err != nil {
			t.Fatalf("accepted offer URI %q does not encode: %v", ref, err)
		}
		if _, ref2, err := ParseOfferURI(enc, opts...); err != nil || ref2 != ref {
			t.Fatalf("re-parse of %s = %q, %v; want %q", enc, ref2, err, ref)
		}
	})
}

func FuzzVerifyProof(f *testing.F) {
	specProof := unwrap(readTestdata(f, "proof_jwt_es256.txt"))
	f.Add(specProof)
	f.Add(string(readTestdata(f, "proof_ed25519.golden")))
	f.Add(buildTestProof(f, testEd25519Key(), ""))
	f.Add(buildTestProof(f, testEd25519Key(), "did:jwk:example#0"))
	f.Fuzz(func(t *testing.T, jwt string) {
		resolve := func(_ context.Context, kid string) (*jose.JSONWebKey, error) {
			if kid != "did:jwk:example#0" {
				return nil, errors.New("unknown kid")
			}
			k := testEd25519Key()
			return &jose.JSONWebKey{Key: k.Public()}, nil
		}
		for _, opts := range []ProofOptions{
			{Audience: testAud, Nonce: testNonce, Now: testNow, ResolveKey: resolve},
			{Audience: "https://credential-issuer.example.com", Nonce: "LarRGSbmUPYtRYO6BQ4yn8", Now: time.Unix(1701960444, 0)},
			{Audience: "https://issuer.example.gov", Nonce: "n-0S6_WzA2Mj", Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			res, err := VerifyProof(context.Background(), jwt, opts)
			if err != nil {
				if !errors.Is(err, ErrInvalidProof) && !errors.Is(err, ErrInvalidNonce) {
					t.Fatalf("error %v wraps neither ErrInvalidProof nor ErrInvalidNonce", err)
				}
				continue
			}
			if res.HolderKey == nil || !res.HolderKey.IsPublic() {
				t.Fatalf("accepted with holder key %+v", res.HolderKey)
			}
			other := opts
			other.Nonce += "x"
			if _, err := VerifyProof(context.Background(), jwt, other); !errors.Is(err, ErrInvalidNonce) {
				t.Fatalf("accepted proof with another nonce: err = %v", err)
			}
			other = opts
			other.Audience += "/x"
			if _, err := VerifyProof(context.Background(), jwt, other); !errors.Is(err, ErrProofAudience) {
				t.Fatalf("accepted proof for another audience: err = %v", err)
			}
		}
	})
}

// FuzzParseMessages feeds the same bytes to every JSON message parser. Property: no panic, and
// whatever a parser accepts re-encodes to a canonical JSON form that the parser accepts again
// and that re-encodes to the same bytes.
func FuzzParseMessages(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(readTestdata(f, e.Name()))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, data, func(b []byte) (*CredentialOffer, error) { return ParseOffer(b) }, (*CredentialOffer).Encode)
		fuzzRoundTrip(t, data, func(b []byte) (*IssuerMetadata, error) { return ParseIssuerMetadata(b, exampleIssuer) }, jsonEncode[*IssuerMetadata])
		fuzzRoundTrip(t, data, func(b []byte) (*AuthorizationServerMetadata, error) {
			return ParseAuthorizationServerMetadata(b, "https://server.example.com")
		}, jsonEncode[*AuthorizationServerMetadata])
		fuzzRoundTrip(t, data, ParseTokenResponse, jsonEncode[*TokenResponse])
		fuzzRoundTrip(t, data, ParseNonceResponse, jsonEncode[*NonceResponse])
		fuzzRoundTrip(t, data, ParseCredentialRequest, (*CredentialRequest).Encode)
		fuzzRoundTrip(t, data, ParseCredentialResponse, (*CredentialResponse).Encode)
		fuzzRoundTrip(t, data, ParseDeferredCredentialRequest, jsonEncode[*DeferredCredentialRequest])
		fuzzRoundTrip(t, data, ParseNotificationRequest, jsonEncode[*NotificationRequest])
		fuzzRoundTrip(t, data, ParseErrorResponse, jsonEncode[*ErrorResponse])
		if form, err := url.ParseQuery(string(data)); err == nil {
			if r, err := ParseTokenRequest(form); err == nil {
				again, err := url.ParseQuery(r.Encode())
				if err != nil {
					t.Fatal(err)
				}
				if r2, err := ParseTokenRequest(again); err != nil || !reflect.DeepEqual(r2, r) {
					t.Fatalf("token request round trip: %+v, %v; want %+v", r2, err, r)
				}
			}
		}
	})
}

func fuzzRoundTrip[T any](t *testing.T, data []byte, parse func([]byte) (T, error), encode func(T) ([]byte, error)) {
	t.Helper()
	v, err := parse(data)
	if err != nil {
		return
	}
	enc, err := encode(v)
	if err != nil {
		t.Fatalf("accepted %T does not encode: %v", v, err)
	}
	// The first parse may hold an empty slice where the encoding omits it, so compare from the
	// first encoding on: the canonical form must be a fixed point.
	again, err := parse(enc)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", enc, err)
	}
	enc2, err := encode(again)
	if err != nil {
		t.Fatalf("re-encode of %s: %v", enc, err)
	}
	if string(enc2) != string(enc) {
		t.Fatalf("encoding is not canonical:\n%s\n%s", enc, enc2)
	}
	third, err := parse(enc2)
	if err != nil || !reflect.DeepEqual(third, again) {
		t.Fatalf("re-parse of %s = %+v, %v; want %+v", enc2, third, err, again)
	}
}
