package wallet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var proofNow = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

var proofOpts = HolderKeyProofOptions{Audience: "https://wallet.example/bridge/v1/holder-keys", Nonce: "device-jkt", Now: proofNow}

// signProof signs payload with key, with the header parameters extra besides alg.
func signProof(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm, extra map[jose.HeaderKey]any, embed bool, payload string) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: embed}
	for k, v := range extra {
		opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
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

func goodPayload(iat time.Time) string {
	b, _ := json.Marshal(map[string]any{"aud": proofOpts.Audience, "iat": iat.Unix(), "nonce": proofOpts.Nonce})
	return string(b)
}

func TestParseHolderKeyProof(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	typ := map[jose.HeaderKey]any{jose.HeaderType: HolderKeyProofType}
	good := signProof(t, ec, jose.ES256, typ, true, goodPayload(proofNow))

	// A proof whose jwk header names another key than the one that signed it.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	swapped := signProof(t, other, jose.EdDSA, map[jose.HeaderKey]any{jose.HeaderType: HolderKeyProofType, "jwk": jose.JSONWebKey{Key: ed.Public()}}, false, goodPayload(proofNow))

	tests := []struct {
		name  string
		proof string
		ok    bool
	}{
		{"ES256", good, true},
		{"EdDSA", signProof(t, ed, jose.EdDSA, typ, true, goodPayload(proofNow)), true},
		{"iat 4 minutes ago", signProof(t, ec, jose.ES256, typ, true, goodPayload(proofNow.Add(-4*time.Minute))), true},
		{"iat 6 minutes ago", signProof(t, ec, jose.ES256, typ, true, goodPayload(proofNow.Add(-6*time.Minute))), false},
		{"iat a minute ahead", signProof(t, ec, jose.ES256, typ, true, goodPayload(proofNow.Add(time.Minute))), false},
		{"no typ", signProof(t, ec, jose.ES256, nil, true, goodPayload(proofNow)), false},
		{"no jwk", signProof(t, ec, jose.ES256, typ, false, goodPayload(proofNow)), false},
		{"jwk of another key", swapped, false},
		{"kid header", signProof(t, ec, jose.ES256, map[jose.HeaderKey]any{jose.HeaderType: HolderKeyProofType, "kid": "k1"}, true, goodPayload(proofNow)), false},
		{"crit header", signProof(t, ec, jose.ES256, map[jose.HeaderKey]any{jose.HeaderType: HolderKeyProofType, "crit": []string{"exp"}}, true, goodPayload(proofNow)), false},
		{"P-384", signProof(t, ec384, jose.ES384, typ, true, goodPayload(proofNow)), false},
		{"duplicate aud", signProof(t, ec, jose.ES256, typ, true, `{"aud":"x","aud":"`+proofOpts.Audience+`","iat":`+itoa(proofNow.Unix())+`,"nonce":"device-jkt"}`), false},
		{"duplicate typ", dupTyp(t, ec), false},
		{"no iat", signProof(t, ec, jose.ES256, typ, true, `{"aud":"`+proofOpts.Audience+`","nonce":"device-jkt"}`), false},
		{"fractional iat", signProof(t, ec, jose.ES256, typ, true, `{"aud":"`+proofOpts.Audience+`","iat":1.5,"nonce":"device-jkt"}`), false},
		{"wrong nonce", signProof(t, ec, jose.ES256, typ, true, `{"aud":"`+proofOpts.Audience+`","iat":`+itoa(proofNow.Unix())+`,"nonce":"x"}`), false},
		{"array payload", signProof(t, ec, jose.ES256, typ, true, `[1]`), false},
		{"trailing data", signProof(t, ec, jose.ES256, typ, true, goodPayload(proofNow)+`{}`), false},
		{"tampered payload", good[:strings.IndexByte(good, '.')+1] + base64.RawURLEncoding.EncodeToString([]byte(goodPayload(proofNow.Add(-time.Second)))) + good[strings.LastIndexByte(good, '.'):], false},
		{"empty", "", false},
		{"two dots only", "..", false},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := ParseHolderKeyProof(tt.proof, proofOpts)
			if tt.ok != (err == nil) {
				t.Fatalf("ok = %v, want %v (%v)", err == nil, tt.ok, err)
			}
			if err != nil && !errors.Is(err, ErrHolderKeyProof) {
				t.Errorf("error %v does not wrap ErrHolderKeyProof", err)
			}
			if err == nil && (!key.IsPublic() || key.Algorithm == "") {
				t.Errorf("key = %+v", key)
			}
		})
	}
}

// dupTyp is a proof whose header says typ twice, the second time the right one.
func dupTyp(t *testing.T, key *ecdsa.PrivateKey) string {
	good := signProof(t, key, jose.ES256, map[jose.HeaderKey]any{jose.HeaderType: HolderKeyProofType}, true, goodPayload(proofNow))
	h, _ := base64.RawURLEncoding.DecodeString(good[:strings.IndexByte(good, '.')])
	dup := `{"typ":"dpop+jwt",` + string(h[1:])
	input := base64.RawURLEncoding.EncodeToString([]byte(dup)) + good[strings.IndexByte(good, '.'):strings.LastIndexByte(good, '.')]
	return input + "." + signES256(t, key, input)
}

func signES256(t *testing.T, key *ecdsa.PrivateKey, input string) string {
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return base64.RawURLEncoding.EncodeToString(sig)
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestParseSignature(t *testing.T) {
	t.Parallel()
	sig64 := base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{sig64, true},
		{sig64 + "=", false},
		{sig64[:85], false},
		{strings.Replace(sig64, "A", "+", 1), false},
		{base64.RawURLEncoding.EncodeToString(make([]byte, 65)), false},
		{"", false},
	} {
		if _, err := ParseSignature(tt.in); (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrDeviceSignature)) {
			t.Errorf("ParseSignature(%.20q…) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

// FuzzParseHolderKeyProof: no input panics; whatever is accepted is a public ES256 or EdDSA
// key, and changing any character of an accepted proof's signature makes it rejected.
func FuzzParseHolderKeyProof(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	typ := map[jose.HeaderKey]any{jose.HeaderType: HolderKeyProofType}
	f.Add(signProof(f, ec, jose.ES256, typ, true, goodPayload(proofNow)))
	f.Add(signProof(f, ed, jose.EdDSA, typ, true, goodPayload(proofNow)))
	f.Add(signProof(f, ed, jose.EdDSA, nil, true, `{}`))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, proof string) {
		key, err := ParseHolderKeyProof(proof, proofOpts)
		if err != nil {
			if !errors.Is(err, ErrHolderKeyProof) {
				t.Fatalf("error %v does not wrap ErrHolderKeyProof", err)
			}
			return
		}
		if !key.IsPublic() || (key.Algorithm != "ES256" && key.Algorithm != "EdDSA") {
			t.Fatalf("accepted key %+v", key)
		}
		i := strings.LastIndexByte(proof, '.') + 1
		if i >= len(proof) {
			t.Fatal("accepted a proof without a signature")
		}
		flipped := []byte(proof)
		flipped[i] ^= 1
		if _, err := ParseHolderKeyProof(string(flipped), proofOpts); err == nil && string(flipped) != proof {
			sig1, _ := base64.RawURLEncoding.DecodeString(proof[i:])
			sig2, _ := base64.RawURLEncoding.DecodeString(string(flipped[i:]))
			if string(sig1) != string(sig2) {
				t.Fatalf("a changed signature was accepted")
			}
		}
	})
}

// FuzzParseSignature: no input panics; accepted input is exactly 64 bytes that encode back to
// the same text.
func FuzzParseSignature(f *testing.F) {
	f.Add(base64.RawURLEncoding.EncodeToString(make([]byte, 64)))
	f.Add("")
	f.Add(strings.Repeat("_", 86))
	f.Fuzz(func(t *testing.T, sig string) {
		b, err := ParseSignature(sig)
		if err != nil {
			return
		}
		if len(b) != 64 || base64.RawURLEncoding.EncodeToString(b) != sig {
			t.Fatalf("accepted %q as %d bytes", sig, len(b))
		}
	})
}
