package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/dpop"
)

// memReplay is an in-memory ReplayCache for the package's own tests (the wallet's SQLite one
// is tested through the bridge).
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memReplay) Remember(_ context.Context, key []byte, exp time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if _, ok := m.seen[string(key)]; ok {
		return false, nil
	}
	m.seen[string(key)] = exp
	return true, nil
}

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

const (
	target = "https://wallet.example/bridge/v1/credentials"
	token  = "ezw_token"
)

func p256(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jkt(t testing.TB, k crypto.Signer) string {
	tp, err := dpop.Thumbprint(jose.JSONWebKey{Key: k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func proof(t testing.TB, k crypto.Signer, method, url, tok, nonce string, iat time.Time, jti string) string {
	t.Helper()
	p, err := dpop.NewProof(k, method, url, tok, nonce, iat, jti)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sign makes a JWS with any header and payload, for malformed proofs.
func sign(t testing.TB, k crypto.Signer, alg jose.SignatureAlgorithm, extra map[jose.HeaderKey]any, embed bool, payload string) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: embed, ExtraHeaders: extra}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func TestVerify(t *testing.T) {
	t.Parallel()
	dev := p256(t)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	other := p256(t)
	good := func(jti string) string { return proof(t, dev, "POST", target, token, "", t0, jti) }
	typHdr := map[jose.HeaderKey]any{"typ": dpop.Type}
	claims := `{"htm":"POST","htu":"` + target + `","iat":` + itoa(t0.Unix()) + `,"jti":"x1","ath":"` + dpop.TokenHash(token) + `"}`
	tests := []struct {
		name  string
		proof string
		req   dpop.Request
		now   time.Time
		want  error
	}{
		{"good ES256", good("a"), dpop.Request{Method: "POST", URL: target, AccessToken: token, Thumbprint: jkt(t, dev)}, t0, nil},
		{"good EdDSA", proof(t, ed, "GET", target, token, "", t0, "b"), dpop.Request{Method: "GET", URL: target, AccessToken: token, Thumbprint: jkt(t, ed)}, t0, nil},
		{"URL equal after normalising host case and default port", proof(t, dev, "POST", "HTTPS://Wallet.Example:443/bridge/v1/credentials?x=1", token, "", t0, "c"), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, nil},
		{"no token, no ath (enrolment)", proof(t, dev, "POST", target, "", "", t0, "d"), dpop.Request{Method: "POST", URL: target}, t0, nil},
		{"other method", good("e"), dpop.Request{Method: "DELETE", URL: target, AccessToken: token}, t0, dpop.ErrMethod},
		{"other URL", good("f"), dpop.Request{Method: "POST", URL: "https://wallet.example/bridge/v1/me", AccessToken: token}, t0, dpop.ErrURL},
		{"other host", good("g"), dpop.Request{Method: "POST", URL: "https://evil.example/bridge/v1/credentials", AccessToken: token}, t0, dpop.ErrURL},
		{"other token", good("h"), dpop.Request{Method: "POST", URL: target, AccessToken: "ezw_other"}, t0, dpop.ErrTokenHash},
		{"no ath with a token", proof(t, dev, "POST", target, "", "", t0, "i"), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrTokenHash},
		{"ath without a token", good("j"), dpop.Request{Method: "POST", URL: target}, t0, dpop.ErrTokenHash},
		{"signed by another key than the token's", proof(t, other, "POST", target, token, "", t0, "k"), dpop.Request{Method: "POST", URL: target, AccessToken: token, Thumbprint: jkt(t, dev)}, t0, dpop.ErrKeyBinding},
		{"too old", good("l"), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0.Add(61 * time.Second), dpop.ErrIssuedAt},
		{"from the future", good("m"), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0.Add(-6 * time.Second), dpop.ErrIssuedAt},
		{"not a JWS", "hello", dpop.Request{Method: "POST", URL: target}, t0, dpop.ErrMalformed},
		{"wrong typ", sign(t, dev, jose.ES256, map[jose.HeaderKey]any{"typ": "JWT"}, true, claims), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrType},
		{"HS256", b64(`{"alg":"HS256","typ":"dpop+jwt"}`) + ".e30.AAAA", dpop.Request{}, t0, dpop.ErrAlg},
		{"alg none", b64(`{"alg":"none","typ":"dpop+jwt"}`) + ".e30.", dpop.Request{}, t0, dpop.ErrAlg},
		{"no jwk", sign(t, dev, jose.ES256, typHdr, false, claims), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrKey},
		{"duplicate claim", sign(t, dev, jose.ES256, typHdr, true, strings.Replace(claims, `"jti":"x1"`, `"jti":"x1","jti":"x2"`, 1)), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrMalformed},
		{"missing jti", sign(t, dev, jose.ES256, typHdr, true, strings.Replace(claims, `"jti":"x1",`, ``, 1)), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrMalformed},
		{"tampered claims", tamper(t, good("n")), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrSignature},
		{"private key in jwk", privateJWK(t, dev, claims), dpop.Request{Method: "POST", URL: target, AccessToken: token}, t0, dpop.ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			v, _ := dpop.NewVerifier(dpop.Config{Replay: &memReplay{}, Now: func() time.Time { return now }})
			p, err := v.Verify(context.Background(), tt.proof, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !errors.Is(err, dpop.ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
			if err == nil && p.JTI == "" {
				t.Error("no jti")
			}
		})
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// tamper changes one character of the payload.
func tamper(t testing.TB, p string) string {
	parts := strings.Split(p, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	b = []byte(strings.Replace(string(b), `"POST"`, `"PUT" `, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// privateJWK makes a proof whose jwk header carries the private key.
func privateJWK(t testing.TB, k *ecdsa.PrivateKey, claims string) string {
	priv, _ := jose.JSONWebKey{Key: k}.MarshalJSON()
	hdr := `{"alg":"ES256","typ":"dpop+jwt","jwk":` + string(priv) + `}`
	return base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".AAAA"
}

func TestReplayRefused(t *testing.T) {
	t.Parallel()
	dev := p256(t)
	v, _ := dpop.NewVerifier(dpop.Config{Replay: &memReplay{}, Now: func() time.Time { return t0 }})
	p := proof(t, dev, "GET", target, token, "", t0, "same")
	req := dpop.Request{Method: "GET", URL: target, AccessToken: token, Thumbprint: jkt(t, dev)}
	if _, err := v.Verify(context.Background(), p, req); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), p, req); !errors.Is(err, dpop.ErrReplay) {
		t.Fatalf("second use: %v, want ErrReplay", err)
	}
	// A new proof with the same jti is a replay too.
	p2 := proof(t, dev, "GET", target, token, "", t0.Add(time.Second), "same")
	if _, err := v.Verify(context.Background(), p2, req); !errors.Is(err, dpop.ErrReplay) {
		t.Fatalf("same jti again: %v, want ErrReplay", err)
	}
}

func TestNonce(t *testing.T) {
	t.Parallel()
	now := t0
	clock := func() time.Time { return now }
	n, err := dpop.NewNonces(make([]byte, 32), time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	dev := p256(t)
	v, _ := dpop.NewVerifier(dpop.Config{Replay: &memReplay{}, Now: clock, Nonces: n})
	req := dpop.Request{Method: "GET", URL: target, AccessToken: token}
	if _, err := v.Verify(context.Background(), proof(t, dev, "GET", target, token, "", now, "1"), req); !errors.Is(err, dpop.ErrNonce) {
		t.Fatalf("no nonce: %v", err)
	}
	if _, err := v.Verify(context.Background(), proof(t, dev, "GET", target, token, "made-up", now, "2"), req); !errors.Is(err, dpop.ErrNonce) {
		t.Fatalf("bad nonce: %v", err)
	}
	nonce := n.Current()
	if _, err := v.Verify(context.Background(), proof(t, dev, "GET", target, token, nonce, now, "3"), req); err != nil {
		t.Fatalf("current nonce: %v", err)
	}
	now = now.Add(3 * time.Minute)
	if _, err := v.Verify(context.Background(), proof(t, dev, "GET", target, token, nonce, now, "4"), req); !errors.Is(err, dpop.ErrNonce) {
		t.Fatalf("stale nonce: %v", err)
	}
}
