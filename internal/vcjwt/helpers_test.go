package vcjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/go-jose/go-jose/v4"
)

// Fixed inputs shared by the tests, the golden files and the fuzz target.
var (
	testNow   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	testFrom  = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	testUntil = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
)

// party is an issuer key with its DID and kid.
type party struct {
	name      string
	priv      crypto.Signer
	did, kid  string
	publicKey crypto.PublicKey
}

// edParty returns the Ed25519 key from the 32-byte seed filled with seed, named by did:key.
func edParty(t testing.TB, seed byte) party {
	t.Helper()
	k := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string([]byte{seed}), 32)))
	d, kid, err := did.NewKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return party{name: "Ed25519/did:key", priv: k, did: d, kid: kid, publicKey: k.Public()}
}

// newParty returns a fresh key of kind ("Ed25519" or "P-256") named by method ("key" or "jwk").
func newParty(t testing.TB, kind, method string) party {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "P-256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	newDID := did.NewKey
	if method == "jwk" {
		newDID = did.NewJWK
	}
	d, kid, err := newDID(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return party{name: kind + "/did:" + method, priv: priv, did: d, kid: kid, publicKey: priv.Public()}
}

// signer returns a NewSigner signer of p for typ.
func (p party) signer(t testing.TB, typ string) jose.Signer {
	t.Helper()
	s, err := NewSigner(p.priv, typ, p.kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// resolve is the key lookup of the tests: it resolves did:key and did:jwk DID URLs locally, as a
// verifier would.
func resolve(kid string) (any, error) {
	return did.ResolveKey(context.Background(), did.Local{}, kid, did.AssertionMethod)
}

// testCredential returns a driving-licence credential issued by issuer.
func testCredential(issuer string) Credential {
	return Credential{
		ID:         "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
		Issuer:     issuer,
		Subject:    "did:example:holder-0001",
		Types:      []string{"DrivingLicenceCredential"},
		Context:    []string{"https://ezheng.example/contexts/driving-licence/v1"},
		ValidFrom:  testFrom,
		ValidUntil: testUntil,
		Claims: map[string]any{
			"givenName":     "Mei",
			"familyName":    "Zheng",
			"birthDate":     "1990-02-03",
			"licenceNumber": json.Number("9007199254740993"), // 2^53+1: not exact as a float64
			"categories":    []any{"B", "C1"},
			"address":       map[string]any{"addressLocality": "Taipei", "addressCountry": "TW"},
		},
		Status: map[string]any{
			"id":                   "https://issuer.example.gov.tw/status/1#94567",
			"type":                 "BitstringStatusListEntry",
			"statusPurpose":        "revocation",
			"statusListIndex":      "94567",
			"statusListCredential": "https://issuer.example.gov.tw/status/1",
		},
		Schema: map[string]any{
			"id":   "https://ezheng.example/schemas/driving-licence.json",
			"type": "JsonSchema",
		},
	}
}

// rawSign signs payload with key under the protected header members extra (alg follows from
// key), bypassing every check of SignVCDM2 and SignJWTVC11.
func rawSign(t testing.TB, key crypto.Signer, extra map[string]any, payload []byte) string {
	t.Helper()
	alg := jose.EdDSA
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	}
	opts := &jose.SignerOptions{}
	for k, v := range extra {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// parts splits a compact JWS and decodes its header and payload (test helper; no checks).
func parts(t testing.TB, tok string) (header, payload map[string]any, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("%d parts", len(p))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := b64.DecodeString(p[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload, p[2]
}

// join encodes header and payload (given as raw JSON) and appends sig.
func join(header, payload, sig string) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "." + sig
}

// mustJSON encodes v or fails the test.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
