package oid4vp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var testNow = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClient is a verifier with a fixed Ed25519 key and a did:jwk-like DID (the tests
// resolve it themselves).
type testClient struct {
	key      ed25519.PrivateKey
	did, kid string
}

func newTestClient(seed byte) testClient {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	d := "did:example:verifier" + string('a'+rune(seed%26))
	return testClient{key: ed25519.NewKeyFromSeed(s), did: d, kid: d + "#0"}
}

func (c testClient) clientID() string { return ClientIDPrefixDID + c.did }

func (c testClient) resolve(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	if kid != c.kid {
		return nil, errors.New("unknown kid")
	}
	return &jose.JSONWebKey{Key: c.key.Public(), KeyID: kid}, nil
}

func (c testClient) request(t testing.TB) AuthorizationRequest {
	t.Helper()
	q, err := ParseQuery(readTestdata(t, "dcql_two_claims.json"))
	if err != nil {
		t.Fatal(err)
	}
	return AuthorizationRequest{
		ClientID: c.clientID(), ResponseType: ResponseTypeVPToken, ResponseMode: ResponseModeDirectPost,
		ResponseURI: "https://verifier.example/verifier/v1/oid4vp/response", Nonce: "n-0S6_WzA2Mj", State: "s-1",
		DCQLQuery: q, ClientMetadata: &ClientMetadata{ClientName: "Car rental", Purpose: "Check that you may drive"},
		IssuedAt: testNow.Unix(), ExpiresAt: testNow.Add(5 * time.Minute).Unix(),
	}
}

func (c testClient) sign(t testing.TB, r AuthorizationRequest) string {
	t.Helper()
	jwt, err := SignRequestObject(r, c.key, c.kid)
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}
