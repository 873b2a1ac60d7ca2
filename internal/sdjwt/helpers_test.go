package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Fixed inputs shared by the tests, the golden files and the fuzz targets.
var (
	testNow   = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
	testAud   = "https://verifier.example.gov.tw"
	testNonce = "n-0S6_WzA2Mj"
	testOpts  = KeyBindingOptions{Audience: testAud, Nonce: testNonce, Now: testNow, MaxAge: 60 * time.Second, Skew: 5 * time.Second}
	// testDisclosable lists the selectively disclosable claims of testClaims.
	testDisclosable = []string{"given_name", "family_name", "birthdate", "licence_number", "categories", "address"}
)

// fixedReader returns a deterministic stream of bytes: the fake randomness for Issue.
func fixedReader(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

// seed32 returns a 32-byte seed filled with b.
func seed32(b byte) []byte {
	return []byte(strings.Repeat(string([]byte{b}), 32))
}

// party is a key pair of one of the supported kinds.
type party struct {
	name string
	priv crypto.Signer
	pub  crypto.PublicKey
}

// edParty returns an Ed25519 key pair derived from a fixed seed.
func edParty(seed byte) party {
	k := ed25519.NewKeyFromSeed(seed32(seed))
	return party{name: "Ed25519", priv: k, pub: k.Public()}
}

// p256Party returns a fresh P-256 key pair.
func p256Party(t testing.TB) party {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return party{name: "P-256", priv: k, pub: &k.PublicKey}
}

// testClaims returns the claims of a driving licence bound to holder.
func testClaims(holder crypto.PublicKey) map[string]any {
	return map[string]any{
		"iss":            "https://issuer.example.gov.tw",
		"iat":            1767139200,
		"exp":            1924992000,
		"vct":            "https://ezheng.example/credentials/driving-licence",
		"sub":            "holder-0001",
		"given_name":     "Mei",
		"family_name":    "Zheng",
		"birthdate":      "1990-02-03",
		"licence_number": json.Number("9007199254740993"), // 2^53+1: not exact as a float64
		"categories":     []any{"B", "C1"},
		"address":        map[string]any{"locality": "Taipei", "country": "TW"},
		"cnf":            map[string]any{"jwk": jose.JSONWebKey{Key: holder}},
	}
}

// mustSigner is NewSigner that fails the test on error.
func mustSigner(t testing.TB, key crypto.Signer, typ, kid string) jose.Signer {
	t.Helper()
	s, err := NewSigner(key, typ, kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is an issued SD-JWT and the keys behind it.
type fixture struct {
	issuer, holder party
	issued         string
}

// newFixture issues testClaims with issuer for holder.
func newFixture(t testing.TB, issuer, holder party) fixture {
	t.Helper()
	issued, err := Issue(mustSigner(t, issuer.priv, TypeSDJWTVC, "issuer-1"), testClaims(holder.pub), testDisclosable, 3, fixedReader(1))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{issuer: issuer, holder: holder, issued: issued}
}

// present makes a presentation of f keeping keep, bound with the holder key at testNow.
func (f fixture) present(t testing.TB, keep ...string) string {
	t.Helper()
	p, err := Present(f.issued, keep, mustSigner(t, f.holder.priv, TypeKB, ""), testAud, testNonce, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyAll runs the verifier's whole sequence and returns the processed claims or the first error.
func verifyAll(pres string, issuerKey any, opts KeyBindingOptions) (map[string]any, error) {
	sd, err := Parse(pres)
	if err != nil {
		return nil, err
	}
	claims, err := sd.VerifyIssuer(issuerKey)
	if err != nil {
		return nil, err
	}
	hk, err := HolderKey(claims)
	if err != nil {
		return nil, err
	}
	if err := sd.VerifyKeyBinding(hk, opts); err != nil {
		return nil, err
	}
	return claims, nil
}

// disclosure encodes [salt, name, value] the way Issue does.
func disclosure(t testing.TB, salt, name string, value any) string {
	t.Helper()
	b, err := encodeJSON([]any{salt, name, value})
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// signRaw signs payload bytes exactly as given (no re-encoding) and returns the compact JWS.
func signRaw(t testing.TB, signer jose.Signer, payload []byte) string {
	t.Helper()
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signJSON signs the JSON encoding of v.
func signJSON(t testing.TB, signer jose.Signer, v any) string {
	t.Helper()
	b, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, signer, b)
}

// unsigned builds a compact JWT with the given header and payload JSON and an empty signature.
func unsigned(header, payload string) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload)) + "."
}

// parts splits a presentation into its issuer JWT, disclosures and KB-JWT.
func parts(pres string) (jwt string, ds []string, kb string) {
	p := strings.Split(pres, "~")
	return p[0], p[1 : len(p)-1], p[len(p)-1]
}

// join is the inverse of parts.
func join(jwt string, ds []string, kb string) string {
	var b strings.Builder
	b.WriteString(jwt + "~")
	for _, d := range ds {
		b.WriteString(d + "~")
	}
	return b.String() + kb
}

// kbFor signs a KB-JWT for the SD-JWT part sdPart with signer, using claims on top of valid
// defaults (a nil value deletes a default).
func kbFor(t testing.TB, signer jose.Signer, sdPart string, claims map[string]any) string {
	t.Helper()
	c := map[string]any{"aud": testAud, "nonce": testNonce, "iat": testNow.Unix(), "sd_hash": SDHash(sdPart)}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return signJSON(t, signer, c)
}
