package statuslist

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const testURI = "https://issuer.example.gov.tw/statuslists/1"

var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// edKey returns the Ed25519 key pair from the seed of 32 bytes b.
func edKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func tokenSigner(t testing.TB, priv ed25519.PrivateKey) jose.Signer {
	t.Helper()
	s, err := NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, "status-1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testList is a 2-bit list of 1000 entries with a few revoked and suspended.
func testList(t testing.TB) *List {
	t.Helper()
	l, err := New(1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range map[int]uint8{0: Invalid, 7: Suspended, 42: Invalid, 999: Suspended} {
		if err := l.Set(i, v); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// rawJWS signs payload with an arbitrary header, bypassing SignToken's checks.
func rawJWS(t testing.TB, alg jose.SignatureAlgorithm, key any, header map[jose.HeaderKey]any, payload any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: header}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	body, ok := payload.([]byte)
	if !ok {
		if body, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func validClaims(t testing.TB) map[string]any {
	lst, err := testList(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"sub": testURI, "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(), "ttl": 3600, "status_list": lst}
}

func TestSignVerifyToken(t *testing.T) {
	t.Parallel()
	priv := edKey(1)
	l := testList(t)
	tok, err := SignToken(l, testURI, testNow, time.Hour, tokenSigner(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	got, info, err := VerifyToken(tok, priv.Public(), testURI, testNow.Add(time.Minute), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), l.Bytes()) || got.Bits() != 2 {
		t.Errorf("verified list differs: bits %d", got.Bits())
	}
	for i, want := range map[int]uint8{0: Invalid, 1: Valid, 7: Suspended, 42: Invalid, 999: Suspended} {
		if v, err := got.Get(i); err != nil || v != want {
			t.Errorf("Get(%d) = %d, %v, want %d", i, v, err, want)
		}
	}
	want := TokenInfo{Subject: testURI, IssuedAt: testNow, ExpiresAt: testNow.Add(time.Hour), TTL: time.Hour}
	if info != want {
		t.Errorf("info = %+v, want %+v", info, want)
	}

	// A JWK verifies too, and so does ES256.
	if _, _, err := VerifyToken(tok, jose.JSONWebKey{Key: priv.Public()}, testURI, testNow, 1<<20); err != nil {
		t.Errorf("with JWK: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es, err := NewTokenSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ec}, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err = SignToken(l, testURI, testNow, 0, es)
	if err != nil {
		t.Fatal(err)
	}
	if _, info, err := VerifyToken(tok, &ec.PublicKey, testURI, testNow.Add(1000*time.Hour), 1<<20); err != nil || !info.ExpiresAt.IsZero() || info.TTL != 0 {
		t.Errorf("ES256 without ttl: %+v, %v", info, err)
	}
}

func TestVerifyTokenRejects(t *testing.T) {
	t.Parallel()
	priv := edKey(1)
	pub := priv.Public()
	hdr := func(typ string) map[jose.HeaderKey]any { return map[jose.HeaderKey]any{"typ": typ} }
	claims := func(edit func(map[string]any)) map[string]any {
		c := validClaims(t)
		edit(c)
		return c
	}
	good := rawJWS(t, jose.EdDSA, priv, hdr(TokenType), validClaims(t))
	parts := strings.Split(good, ".")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// alg "none": a header and payload with an empty signature.
	noneHeader := b64.EncodeToString([]byte(`{"alg":"none","typ":"statuslist+jwt"}`))
	// A tampered payload: the same header and signature over different claims.
	tampered := claims(func(c map[string]any) { c["sub"] = testURI + "x" })
	tamperedBody, _ := json.Marshal(tampered)

	for _, tc := range []struct {
		name string
		tok  string
		key  any
		now  time.Time
		want error
	}{
		{"wrong typ", rawJWS(t, jose.EdDSA, priv, hdr("JWT"), validClaims(t)), pub, testNow, ErrSignature},
		{"no typ", rawJWS(t, jose.EdDSA, priv, nil, validClaims(t)), pub, testNow, ErrSignature},
		{"alg none", noneHeader + "." + parts[1] + ".", pub, testNow, ErrSignature},
		{"HS256 with the public key as secret", rawJWS(t, jose.HS256, []byte(pub.(ed25519.PublicKey)), hdr(TokenType), validClaims(t)), pub, testNow, ErrSignature},
		{"HS256 with a byte key", rawJWS(t, jose.HS256, bytes.Repeat([]byte{1}, 32), hdr(TokenType), validClaims(t)), bytes.Repeat([]byte{1}, 32), testNow, ErrSignature},
		{"wrong key", good, edKey(2).Public(), testNow, ErrSignature},
		{"ES256 token, Ed25519 key", rawJWS(t, jose.ES256, ec, hdr(TokenType), validClaims(t)), pub, testNow, ErrSignature},
		{"tampered payload", parts[0] + "." + b64.EncodeToString(tamperedBody) + "." + parts[2], pub, testNow, ErrSignature},
		{"crit header", rawJWS(t, jose.EdDSA, priv, map[jose.HeaderKey]any{"typ": TokenType, "crit": []string{"exp"}, "exp": 1}, validClaims(t)), pub, testNow, ErrSignature},
		{"wrong sub", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), tampered), pub, testNow, ErrSubject},
		{"no sub", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), claims(func(c map[string]any) { delete(c, "sub") })), pub, testNow, ErrSubject},
		{"expired", good, pub, testNow.Add(time.Hour), ErrExpired},
		{"not yet valid", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), claims(func(c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() })), pub, testNow, ErrNotYetValid},
		{"no iat", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), claims(func(c map[string]any) { delete(c, "iat") })), pub, testNow, ErrMalformed},
		{"exp string", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), claims(func(c map[string]any) { c["exp"] = "soon" })), pub, testNow, ErrMalformed},
		{"ttl zero", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), claims(func(c map[string]any) { c["ttl"] = 0 })), pub, testNow, ErrMalformed},
		{"no status_list", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), claims(func(c map[string]any) { delete(c, "status_list") })), pub, testNow, ErrMalformed},
		{"duplicate sub", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), []byte(`{"sub":"x","sub":"`+testURI+`","iat":1}`)), pub, testNow, ErrMalformed},
		{"not JSON", rawJWS(t, jose.EdDSA, priv, hdr(TokenType), []byte(`not json`)), pub, testNow, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], pub, testNow, ErrMalformed},
		{"padded signature", good + "==", pub, testNow, ErrMalformed},
		{"unsupported key", good, "a string", testNow, ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := VerifyToken(tc.tok, tc.key, testURI, tc.now, 1<<20)
			t.Log(err)
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifyToken() error = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("list over limit", func(t *testing.T) {
		if _, _, err := VerifyToken(good, pub, testURI, testNow, 100); !errors.Is(err, ErrTooLarge) {
			t.Errorf("error = %v, want ErrTooLarge", err)
		}
	})
	t.Run("token over limit", func(t *testing.T) {
		long := strings.Repeat("A", maxTokenLen(8)+1)
		if _, _, err := VerifyToken(long, pub, testURI, testNow, 8); !errors.Is(err, ErrTooLarge) {
			t.Errorf("error = %v, want ErrTooLarge", err)
		}
	})
}

func TestSignTokenRejects(t *testing.T) {
	t.Parallel()
	priv := edKey(1)
	l := testList(t)
	plain, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignToken(l, testURI, testNow, time.Hour, plain); !errors.Is(err, ErrMalformed) {
		t.Errorf("signer without typ: %v, want ErrMalformed", err)
	}
	if _, err := SignToken(l, "", testNow, time.Hour, tokenSigner(t, priv)); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty uri: %v, want ErrMalformed", err)
	}
	if _, err := SignToken(l, testURI, testNow, 1500*time.Millisecond, tokenSigner(t, priv)); !errors.Is(err, ErrMalformed) {
		t.Errorf("fractional ttl: %v, want ErrMalformed", err)
	}
	if _, err := NewTokenSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, ""); !errors.Is(err, ErrSignature) {
		t.Errorf("HS256 signer: %v, want ErrSignature", err)
	}
}

func TestStatusClaim(t *testing.T) {
	t.Parallel()
	var decoded any
	if err := json.Unmarshal([]byte(jsonOf(t, StatusClaim(testURI, 42))), &decoded); err != nil {
		t.Fatal(err)
	}
	uri, idx, err := ParseStatusClaim(decoded)
	if err != nil || uri != testURI || idx != 42 {
		t.Errorf("ParseStatusClaim(StatusClaim()) = %q, %d, %v", uri, idx, err)
	}
	if got, want := jsonOf(t, StatusClaim(testURI, 0)), `{"status_list":{"idx":0,"uri":"`+testURI+`"}}`; got != want {
		t.Errorf("StatusClaim JSON = %s, want %s", got, want)
	}

	for _, tc := range []struct {
		name string
		in   string
	}{
		{"not an object", `[]`},
		{"no status_list", `{"other":{}}`},
		{"negative idx", `{"status_list":{"idx":-1,"uri":"u"}}`},
		{"fractional idx", `{"status_list":{"idx":1.5,"uri":"u"}}`},
		{"string idx", `{"status_list":{"idx":"1","uri":"u"}}`},
		{"empty uri", `{"status_list":{"idx":1,"uri":""}}`},
		{"extra member", `{"status_list":{"idx":1,"uri":"u","x":1}}`},
		{"missing uri", `{"status_list":{"idx":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ParseStatusClaim(v); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseStatusClaim(%s) error = %v, want ErrMalformed", tc.in, err)
			}
		})
	}
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
