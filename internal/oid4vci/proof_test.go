package oid4vci

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var (
	testNow   = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	testAud   = "https://issuer.ezheng.example/agency/transport"
	testNonce = "wKI4LT17ac15ES9bw8ac4"
)

func testEd25519Key() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

func testP256Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func proofOpts() ProofOptions {
	return ProofOptions{Audience: testAud, Nonce: testNonce, Now: testNow}
}

func buildTestProof(t testing.TB, key any, kid string) string {
	t.Helper()
	s, err := NewProofSigner(key, kid)
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildProof(s, "", testAud, testNonce, testNow.Add(-10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signRaw signs an arbitrary header and payload with key under alg, bypassing BuildProof's
// checks, to make proofs that are wrong in one way.
func signRaw(t testing.TB, header, payload map[string]any, alg jose.SignatureAlgorithm, key any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range header {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(payload)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func publicJWK(key any) map[string]any {
	var pub any
	switch k := key.(type) {
	case ed25519.PrivateKey:
		pub = k.Public()
	case *ecdsa.PrivateKey:
		pub = k.Public()
	}
	b, _ := json.Marshal(jose.JSONWebKey{Key: pub})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func goodPayload() map[string]any {
	return map[string]any{"aud": testAud, "iat": testNow.Add(-10 * time.Second).Unix(), "nonce": testNonce}
}

func TestVerifyProofSpecExample(t *testing.T) {
	t.Parallel()
	// Appendix F.1: the ES256 proof with an embedded jwk.
	jwt := unwrap(readTestdata(t, "proof_jwt_es256.txt"))
	res, err := VerifyProof(context.Background(), jwt, ProofOptions{
		Audience: "https://credential-issuer.example.com",
		Nonce:    "LarRGSbmUPYtRYO6BQ4yn8",
		Now:      time.Unix(1701960444, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Alg != jose.ES256 || res.KID != "" || res.ClientID != "" || res.IssuedAt.Unix() != 1701960444 {
		t.Errorf("result = %+v", res)
	}
	if _, ok := res.HolderKey.Key.(*ecdsa.PublicKey); !ok {
		t.Errorf("holder key %T", res.HolderKey.Key)
	}
}

func TestVerifyProofValid(t *testing.T) {
	t.Parallel()
	p256 := testP256Key(t)
	for _, tt := range []struct {
		name string
		key  any
		alg  jose.SignatureAlgorithm
	}{
		{"Ed25519", testEd25519Key(), jose.EdDSA},
		{"P-256", p256, jose.ES256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := VerifyProof(context.Background(), buildTestProof(t, tt.key, ""), proofOpts())
			if err != nil {
				t.Fatal(err)
			}
			if res.Alg != tt.alg || !res.HolderKey.IsPublic() || res.KID != "" {
				t.Errorf("result = %+v", res)
			}
		})
	}
	t.Run("kid resolved", func(t *testing.T) {
		t.Parallel()
		key := testEd25519Key()
		const kid = "did:jwk:example#0"
		opts := proofOpts()
		opts.ClientID = "wallet-1"
		opts.ResolveKey = func(_ context.Context, k string) (*jose.JSONWebKey, error) {
			if k != kid {
				return nil, errors.New("unknown kid")
			}
			return &jose.JSONWebKey{Key: key.Public()}, nil
		}
		s, err := NewProofSigner(key, kid)
		if err != nil {
			t.Fatal(err)
		}
		jwt, err := BuildProof(s, "wallet-1", testAud, testNonce, testNow)
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyProof(context.Background(), jwt, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.KID != kid || res.ClientID != "wallet-1" {
			t.Errorf("result = %+v", res)
		}
		opts.ClientID = "wallet-2"
		if _, err := VerifyProof(context.Background(), jwt, opts); !errors.Is(err, ErrProofClientID) {
			t.Errorf("wrong client id: err = %v", err)
		}
	})
}

func TestVerifyProofRejects(t *testing.T) {
	t.Parallel()
	ed := testEd25519Key()
	p256 := testP256Key(t)
	edJWK := publicJWK(ed)
	hdr := func(extra map[string]any) map[string]any {
		h := map[string]any{"typ": ProofJWTType, "jwk": edJWK}
		for k, v := range extra {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	payload := func(edit func(map[string]any)) map[string]any {
		p := goodPayload()
		edit(p)
		return p
	}
	privJWK := func() map[string]any {
		b, _ := json.Marshal(jose.JSONWebKey{Key: ed})
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}()
	good := buildTestProof(t, ed, "")
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name string
		jwt  string
		want error
	}{
		{"wrong typ", signRaw(t, hdr(map[string]any{"typ": "JWT"}), goodPayload(), jose.EdDSA, ed), ErrProofType},
		{"no typ", signRaw(t, hdr(map[string]any{"typ": nil}), goodPayload(), jose.EdDSA, ed), ErrProofType},
		{"alg none", b64([]byte(`{"alg":"none","typ":"openid4vci-proof+jwt","jwk":{"kty":"OKP","crv":"Ed25519","x":"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"}}`)) + "." + parts[1] + ".", ErrProofAlg},
		{"HS256", signRaw(t, hdr(map[string]any{"jwk": nil, "kid": "k"}), goodPayload(), jose.HS256, []byte("0123456789abcdef0123456789abcdef")), ErrProofAlg},
		{"ES384 not allowed", signRaw(t, hdr(nil), goodPayload(), jose.ES384, mustP384(t)), ErrProofAlg},
		{"wrong aud", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["aud"] = "https://evil.example" }), jose.EdDSA, ed), ErrProofAudience},
		{"aud array of two", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["aud"] = []string{testAud, "https://evil.example"} }), jose.EdDSA, ed), ErrProofAudience},
		{"no aud", signRaw(t, hdr(nil), payload(func(p map[string]any) { delete(p, "aud") }), jose.EdDSA, ed), ErrProofAudience},
		{"wrong nonce", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["nonce"] = "other" }), jose.EdDSA, ed), ErrInvalidNonce},
		{"no nonce", signRaw(t, hdr(nil), payload(func(p map[string]any) { delete(p, "nonce") }), jose.EdDSA, ed), ErrProofNonceMissing},
		{"nonce not a string", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["nonce"] = 7 }), jose.EdDSA, ed), ErrProofSyntax},
		{"old iat", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["iat"] = testNow.Add(-10 * time.Minute).Unix() }), jose.EdDSA, ed), ErrProofIssuedAt},
		{"future iat", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["iat"] = testNow.Add(2 * time.Minute).Unix() }), jose.EdDSA, ed), ErrProofIssuedAt},
		{"no iat", signRaw(t, hdr(nil), payload(func(p map[string]any) { delete(p, "iat") }), jose.EdDSA, ed), ErrProofIssuedAt},
		{"string iat", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["iat"] = "1767225600" }), jose.EdDSA, ed), ErrProofIssuedAt},
		{"expired", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["exp"] = testNow.Add(-time.Minute).Unix() }), jose.EdDSA, ed), ErrProofIssuedAt},
		{"iss not a string", signRaw(t, hdr(nil), payload(func(p map[string]any) { p["iss"] = 1 }), jose.EdDSA, ed), ErrProofClientID},
		{"private jwk header", signRaw(t, hdr(map[string]any{"jwk": privJWK}), goodPayload(), jose.EdDSA, ed), ErrProofKey},
		{"symmetric jwk header", signRaw(t, hdr(map[string]any{"jwk": map[string]any{"kty": "oct", "k": "AAAA"}}), goodPayload(), jose.EdDSA, ed), ErrProofKey},
		{"jwk and kid", signRaw(t, hdr(map[string]any{"kid": "did:example:123#1"}), goodPayload(), jose.EdDSA, ed), ErrProofHeader},
		{"neither jwk nor kid", signRaw(t, hdr(map[string]any{"jwk": nil}), goodPayload(), jose.EdDSA, ed), ErrProofHeader},
		{"kid without resolver", signRaw(t, hdr(map[string]any{"jwk": nil, "kid": "did:example:123#1"}), goodPayload(), jose.EdDSA, ed), ErrProofKey},
		{"x5c", signRaw(t, hdr(map[string]any{"jwk": nil, "x5c": []string{"MIIB"}}), goodPayload(), jose.EdDSA, ed), ErrProofHeader},
		{"crit", signRaw(t, hdr(map[string]any{"crit": []string{"exp"}, "exp": 1}), goodPayload(), jose.EdDSA, ed), ErrProofHeader},
		{"jwk of another key", signRaw(t, hdr(map[string]any{"jwk": publicJWK(testP256Key(t))}), goodPayload(), jose.ES256, p256), ErrProofSignature},
		{"P-256 jwk with EdDSA", signRaw(t, hdr(map[string]any{"jwk": publicJWK(p256)}), goodPayload(), jose.EdDSA, ed), ErrProofKey},
		{"tampered payload", parts[0] + "." + b64([]byte(`{"aud":"`+testAud+`","iat":`+jsonNum(testNow.Unix())+`,"nonce":"`+testNonce+`"}`)) + "." + parts[2], ErrProofSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), ErrProofSignature},
		{"tampered header", b64([]byte(`{"alg":"EdDSA","typ":"openid4vci-proof+jwt","jwk":`+mustJSON(edJWK)+`,"x":1}`)) + "." + parts[1] + "." + parts[2], ErrProofSignature},
		{"duplicate header member", b64([]byte(`{"alg":"EdDSA","typ":"openid4vci-proof+jwt","typ":"JWT","jwk":`+mustJSON(edJWK)+`}`)) + "." + parts[1] + "." + parts[2], ErrProofSyntax},
		{"two parts", parts[0] + "." + parts[1], ErrProofSyntax},
		{"JWS JSON serialization", `{"payload":"` + parts[1] + `"}`, ErrProofSyntax},
		{"padded header", parts[0] + "=." + parts[1] + "." + parts[2], ErrProofSyntax},
		{"oversized", strings.Repeat("a", MaxProofSize+1), ErrProofSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := VerifyProof(context.Background(), tt.jwt, proofOpts())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == ErrInvalidNonce {
				if errors.Is(err, ErrInvalidProof) {
					t.Errorf("nonce mismatch must be invalid_nonce only: %v", err)
				}
			} else if !errors.Is(err, ErrInvalidProof) {
				t.Errorf("err = %v does not wrap ErrInvalidProof", err)
			}
		})
	}
}

func TestVerifyProofOptions(t *testing.T) {
	t.Parallel()
	jwt := buildTestProof(t, testEd25519Key(), "")
	for _, opts := range []ProofOptions{
		{Nonce: testNonce, Now: testNow},
		{Audience: testAud, Now: testNow},
		{Audience: testAud, Nonce: testNonce},
	} {
		if _, err := VerifyProof(context.Background(), jwt, opts); err == nil || errors.Is(err, ErrInvalidProof) {
			t.Errorf("opts %+v: err = %v, want a usage error", opts, err)
		}
	}
	opts := proofOpts()
	opts.Algs = []jose.SignatureAlgorithm{jose.ES256}
	if _, err := VerifyProof(context.Background(), jwt, opts); !errors.Is(err, ErrProofAlg) {
		t.Errorf("EdDSA not in allow-list: err = %v", err)
	}
	opts.Algs = []jose.SignatureAlgorithm{jose.HS256, jose.EdDSA}
	if _, err := VerifyProof(context.Background(), jwt, opts); err != nil {
		t.Errorf("HS256 in the list must be ignored, EdDSA accepted: %v", err)
	}
	opts = proofOpts()
	opts.Now = testNow.Add(DefaultProofMaxAge)
	if _, err := VerifyProof(context.Background(), jwt, opts); err != nil {
		t.Errorf("within MaxAge+Skew: %v", err)
	}
	opts.MaxAge = time.Minute
	if _, err := VerifyProof(context.Background(), jwt, opts); !errors.Is(err, ErrProofIssuedAt) {
		t.Errorf("MaxAge 1m: err = %v", err)
	}
}

func TestBuildProofChecksSigner(t *testing.T) {
	t.Parallel()
	key := testEd25519Key()
	noTyp, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, &jose.SignerOptions{EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildProof(noTyp, "", testAud, testNonce, testNow); err == nil {
		t.Error("signer without typ accepted")
	}
	noKey, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, (&jose.SignerOptions{}).WithType(ProofJWTType))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildProof(noKey, "", testAud, testNonce, testNow); err == nil {
		t.Error("signer without jwk or kid accepted")
	}
	if _, err := NewProofSigner(mustP384(t), ""); err == nil {
		t.Error("P-384 key accepted")
	}
}

func mustP384(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonNum(n int64) string { return mustJSON(n) }

func flipLast(s string) string {
	c := s[len(s)-2]
	if c == 'A' {
		c = 'B'
	} else {
		c = 'A'
	}
	return s[:len(s)-2] + string(c) + s[len(s)-1:]
}
