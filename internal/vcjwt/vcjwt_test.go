package vcjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// sentinels are the errors Verify's errors wrap, one at a time.
var sentinels = []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid, ErrIssuerMismatch}

// signers are the two Sign functions with the typ each needs.
var signers = []struct {
	name   string
	typ    string
	format string
	sign   func(Credential, jose.Signer) (string, error)
}{
	{"VCDM2", TypeVCDM2, FormatVCDM2, SignVCDM2},
	{"JWTVC11", TypeJWT, FormatJWTVC11, SignJWTVC11},
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"Ed25519", "P-256"} {
		for _, method := range []string{"key", "jwk"} {
			p := newParty(t, kind, method)
			for _, s := range signers {
				t.Run(p.name+"/"+s.name, func(t *testing.T) {
					t.Parallel()
					want := testCredential(p.did)
					tok, err := s.sign(want, p.signer(t, s.typ))
					if err != nil {
						t.Fatal(err)
					}
					got, err := Verify(tok, resolve, testNow, 0)
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if got.Format != s.format || got.KID != p.kid {
						t.Errorf("Format, KID = %q, %q; want %q, %q", got.Format, got.KID, s.format, p.kid)
					}
					if !reflect.DeepEqual(got.Credential, want) {
						t.Errorf("credential differs:\n got %#v\nwant %#v", got.Credential, want)
					}
					h, _, _ := parts(t, tok)
					if h["typ"] != s.typ {
						t.Errorf("typ %v, want %q", h["typ"], s.typ)
					}
				})
			}
		}
	}
}

// TestRoundTripMinimal signs the smallest credentials each format allows.
func TestRoundTripMinimal(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	for _, s := range signers {
		t.Run(s.name, func(t *testing.T) {
			want := Credential{Issuer: p.did, Claims: map[string]any{"name": "x"}, ValidFrom: testFrom}
			tok, err := s.sign(want, p.signer(t, s.typ))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(tok, resolve, testNow, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Credential, want) {
				t.Errorf("got %#v\nwant %#v", got.Credential, want)
			}
		})
	}
}

// TestPayloadShape checks the members each encoding puts where.
func TestPayloadShape(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	c := testCredential(p.did)

	tok, err := SignVCDM2(c, p.signer(t, TypeVCDM2))
	if err != nil {
		t.Fatal(err)
	}
	h, pl, _ := parts(t, tok)
	if h["typ"] != "vc+jwt" || h["cty"] != "vc" || h["kid"] != p.kid || h["alg"] != "EdDSA" {
		t.Errorf("VCDM2 header %v", h)
	}
	for k, want := range map[string]any{
		"issuer": p.did, "validFrom": "2025-12-31T00:00:00Z", "validUntil": "2031-01-01T00:00:00Z",
		"id": c.ID, "@context": []any{ContextV2, c.Context[0]}, "type": []any{TypeCredential, c.Types[0]},
	} {
		if !reflect.DeepEqual(pl[k], want) {
			t.Errorf("VCDM2 %s = %v, want %v", k, pl[k], want)
		}
	}
	if _, ok := pl["vc"]; ok {
		t.Error(`VCDM2 payload has "vc"`)
	}

	tok, err = SignJWTVC11(c, p.signer(t, TypeJWT))
	if err != nil {
		t.Fatal(err)
	}
	h, pl, _ = parts(t, tok)
	if h["typ"] != "JWT" || h["cty"] != nil || h["kid"] != p.kid {
		t.Errorf("JWT-VC header %v", h)
	}
	for k, want := range map[string]any{
		"iss": p.did, "sub": c.Subject, "jti": c.ID,
		"nbf": float64(testFrom.Unix()), "exp": float64(testUntil.Unix()),
	} {
		if pl[k] != want {
			t.Errorf("JWT-VC %s = %v, want %v", k, pl[k], want)
		}
	}
	vc := pl["vc"].(map[string]any)
	for _, k := range []string{"issuer", "issuanceDate", "expirationDate", "id", "proof"} {
		if _, ok := vc[k]; ok {
			t.Errorf("vc.%s present; the registered claim carries it", k)
		}
	}
	if _, ok := vc["credentialSubject"].(map[string]any)["id"]; ok {
		t.Error("vc.credentialSubject.id present; sub carries it")
	}
	if vc["@context"].([]any)[0] != ContextV1 {
		t.Errorf("vc.@context %v", vc["@context"])
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	other := newParty(t, "Ed25519", "key")
	p256 := newParty(t, "P-256", "jwk")
	c := testCredential(p.did)
	v2, err := SignVCDM2(c, p.signer(t, TypeVCDM2))
	if err != nil {
		t.Fatal(err)
	}
	v11, err := SignJWTVC11(c, p.signer(t, TypeJWT))
	if err != nil {
		t.Fatal(err)
	}
	h2, pl2, sig2 := parts(t, v2)
	_, pl11, _ := parts(t, v11)
	hdr := func(typ string) map[string]any {
		return map[string]any{"typ": typ, "kid": p.kid}
	}
	// with returns the VCDM2 payload with member k set to v (deleted if v is nil).
	with := func(pl map[string]any, k string, v any) []byte {
		m := make(map[string]any, len(pl))
		for kk, vv := range pl {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return []byte(mustJSON(t, m))
	}
	hmac := func(alg jose.SignatureAlgorithm, key []byte) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
			(&jose.SignerOptions{}).WithType(TypeVCDM2).WithHeader("kid", p.kid))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(mustJSON(t, pl2)))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jws.CompactSerialize()
		return tok
	}
	lastFlipped := func(s string) string { // same bytes, non-zero unused bits
		last := s[len(s)-1]
		return s[:len(s)-1] + string(last+1)
	}

	cases := []struct {
		name  string
		token string
		now   time.Time
		skew  time.Duration
		want  error
	}{
		{"tampered payload", join(mustJSON(t, h2), strings.Replace(mustJSON(t, pl2), "Zheng", "Zhang", 1), sig2), testNow, 0, ErrSignature},
		{"tampered header", join(strings.Replace(mustJSON(t, h2), `"cty":"vc"`, `"cty":"application/vc"`, 1), mustJSON(t, pl2), sig2), testNow, 0, ErrSignature},
		{"alg none", join(`{"alg":"none","typ":"vc+jwt","kid":"`+p.kid+`"}`, mustJSON(t, pl2), ""), testNow, 0, ErrSignature},
		{"alg none with signature", join(`{"alg":"none","typ":"vc+jwt","kid":"`+p.kid+`"}`, mustJSON(t, pl2), sig2), testNow, 0, ErrSignature},
		{"HS256", hmac(jose.HS256, []byte("0123456789abcdef0123456789abcdef")), testNow, 0, ErrSignature},
		{"HS256 keyed with the public key", hmac(jose.HS256, append([]byte(nil), p.publicKey.(ed25519.PublicKey)...)), testNow, 0, ErrSignature},
		{"wrong key", rawSign(t, other.priv, hdr(TypeVCDM2), []byte(mustJSON(t, pl2))), testNow, 0, ErrSignature},
		{"ES256 signature for an Ed25519 kid", rawSign(t, p256.priv, hdr(TypeVCDM2), []byte(mustJSON(t, pl2))), testNow, 0, ErrSignature},
		{"crit header", rawSign(t, p.priv, map[string]any{"typ": TypeVCDM2, "kid": p.kid, "crit": []string{"exp"}, "exp": 1}, []byte(mustJSON(t, pl2))), testNow, 0, ErrSignature},
		{"unknown kid", rawSign(t, other.priv, map[string]any{"typ": TypeVCDM2, "kid": "did:web:example.com#k1"}, with(pl2, "issuer", "did:web:example.com")), testNow, 0, ErrSignature},
		{"empty signature", join(mustJSON(t, h2), mustJSON(t, pl2), ""), testNow, 0, ErrSignature},
		{"non-canonical signature", v2[:len(v2)-1] + string(lastFlipped(v2)[len(v2)-1]), testNow, 0, ErrMalformed},
		{"expired", v2, testUntil, 0, ErrExpired},
		{"expired beyond skew", v2, testUntil.Add(5 * time.Second), 5 * time.Second, ErrExpired},
		{"not yet valid", v2, testFrom.Add(-time.Second), 0, ErrNotYetValid},
		{"not yet valid beyond skew", v2, testFrom.Add(-6 * time.Second), 5 * time.Second, ErrNotYetValid},
		{"JWT-VC expired", v11, testUntil, 0, ErrExpired},
		{"JWT-VC not yet valid", v11, testFrom.Add(-time.Second), 0, ErrNotYetValid},
		{"issuer is not the kid's DID", rawSign(t, other.priv, map[string]any{"typ": TypeVCDM2, "kid": other.kid}, []byte(mustJSON(t, pl2))), testNow, 0, ErrIssuerMismatch},
		{"JWT-VC iss is not the kid's DID", rawSign(t, other.priv, map[string]any{"typ": TypeJWT, "kid": other.kid}, []byte(mustJSON(t, pl11))), testNow, 0, ErrIssuerMismatch},
		{"issuer object with another id", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "issuer", map[string]any{"id": other.did, "name": "x"})), testNow, 0, ErrIssuerMismatch},
		{"duplicate payload member", rawSign(t, p.priv, hdr(TypeVCDM2), []byte(strings.Replace(mustJSON(t, pl2), `"issuer":`, `"issuer":"did:example:evil","issuer":`, 1))), testNow, 0, ErrMalformed},
		{"duplicate nested member", rawSign(t, p.priv, hdr(TypeVCDM2), []byte(strings.Replace(mustJSON(t, pl2), `"givenName":`, `"givenName":"Eve","givenName":`, 1))), testNow, 0, ErrMalformed},
		{"duplicate header member", join(`{"alg":"EdDSA","alg":"EdDSA","kid":"`+p.kid+`","typ":"vc+jwt"}`, mustJSON(t, pl2), sig2), testNow, 0, ErrMalformed},
		{"typ application/kb+jwt", rawSign(t, p.priv, hdr("application/kb+jwt"), []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"typ kb+jwt", rawSign(t, p.priv, hdr("kb+jwt"), []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"typ dc+sd-jwt", rawSign(t, p.priv, hdr("dc+sd-jwt"), []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"typ JWT on a VCDM 2.0 payload", rawSign(t, p.priv, hdr(TypeJWT), []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"typ vc+jwt on a JWT-VC payload", rawSign(t, p.priv, hdr(TypeVCDM2), []byte(mustJSON(t, pl11))), testNow, 0, ErrMalformed},
		{"cty other than vc", rawSign(t, p.priv, map[string]any{"typ": TypeVCDM2, "cty": "JWT", "kid": p.kid}, []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"kid missing", rawSign(t, p.priv, map[string]any{"typ": TypeVCDM2}, []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"kid not a DID URL", rawSign(t, p.priv, map[string]any{"typ": TypeVCDM2, "kid": "issuer-1"}, []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"kid without fragment", rawSign(t, p.priv, map[string]any{"typ": TypeVCDM2, "kid": p.did}, []byte(mustJSON(t, pl2))), testNow, 0, ErrMalformed},
		{"no base context", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "@context", []any{"https://example.com/ctx"})), testNow, 0, ErrMalformed},
		{"1.1 context in vc+jwt", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "@context", []any{ContextV1})), testNow, 0, ErrMalformed},
		{"no VerifiableCredential type", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "type", []any{"X"})), testNow, 0, ErrMalformed},
		{"no credentialSubject", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "credentialSubject", nil)), testNow, 0, ErrMalformed},
		{"array of subjects", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "credentialSubject", []any{map[string]any{"id": "x"}})), testNow, 0, ErrMalformed},
		{"validUntil not a date", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "validUntil", "2031-01-01")), testNow, 0, ErrMalformed},
		{"exp contradicting validUntil", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "exp", testUntil.Unix()+1)), testNow, 0, ErrMalformed},
		{"iss contradicting issuer", rawSign(t, p.priv, hdr(TypeVCDM2), with(pl2, "iss", other.did)), testNow, 0, ErrMalformed},
		{"JWT-VC without nbf", rawSign(t, p.priv, hdr(TypeJWT), with(pl11, "nbf", nil)), testNow, 0, ErrMalformed},
		{"JWT-VC without vc", rawSign(t, p.priv, hdr(TypeJWT), with(pl11, "vc", nil)), testNow, 0, ErrMalformed},
		{"JWT-VC nbf not a number", rawSign(t, p.priv, hdr(TypeJWT), with(pl11, "nbf", "1767139200")), testNow, 0, ErrMalformed},
		{"JWT-VC vc.issuer contradicting iss", rawSign(t, p.priv, hdr(TypeJWT), with(pl11, "vc", mergeVC(pl11, "issuer", other.did))), testNow, 0, ErrMalformed},
		{"JWT-VC sub contradicting credentialSubject.id", rawSign(t, p.priv, hdr(TypeJWT), with(pl11, "vc", mergeVC(pl11, "credentialSubject", map[string]any{"id": "did:example:other", "a": 1}))), testNow, 0, ErrMalformed},
		{"two parts", v2[:strings.LastIndexByte(v2, '.')], testNow, 0, ErrMalformed},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, testNow, 0, ErrMalformed},
		{"padding", strings.Replace(v2, ".", "=.", 1), testNow, 0, ErrMalformed},
		{"payload not an object", rawSign(t, p.priv, hdr(TypeVCDM2), []byte(`["a"]`)), testNow, 0, ErrMalformed},
		{"payload too deep", rawSign(t, p.priv, hdr(TypeVCDM2), []byte(strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40))), testNow, 0, ErrMalformed},
		{"too large", v2 + strings.Repeat("A", MaxSize), testNow, 0, ErrMalformed},
		{"empty", "", testNow, 0, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Verify(tc.token, resolve, tc.now, tc.skew)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want error wrapping %v", got, err, tc.want)
			}
			if n := countSentinels(err); n != 1 {
				t.Errorf("error %q wraps %d sentinels, want 1", err, n)
			}
		})
	}
}

// mergeVC returns the "vc" object of the JWT-VC claims pl with member k set to v.
func mergeVC(pl map[string]any, k string, v any) map[string]any {
	vc := make(map[string]any)
	for kk, vv := range pl["vc"].(map[string]any) {
		vc[kk] = vv
	}
	vc[k] = v
	return vc
}

// countSentinels counts the package's sentinel errors that err wraps.
func countSentinels(err error) int {
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n
}

// TestValidityBoundaries checks the edges of the validity period, with and without skew.
func TestValidityBoundaries(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	for _, s := range signers {
		tok, err := s.sign(testCredential(p.did), p.signer(t, s.typ))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			now  time.Time
			skew time.Duration
			want error
		}{
			{testFrom, 0, nil},
			{testFrom.Add(-5 * time.Second), 5 * time.Second, nil},
			{testUntil.Add(-time.Second), 0, nil},
			{testUntil.Add(4 * time.Second), 5 * time.Second, nil},
			{testUntil, 0, ErrExpired},
			{testFrom.Add(-time.Nanosecond), 0, ErrNotYetValid},
		} {
			_, err := Verify(tok, resolve, tc.now, tc.skew)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("%s at %v skew %v: %v, want %v", s.name, tc.now, tc.skew, err, tc.want)
			}
		}
	}
}

func TestVerifyArguments(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	tok, err := SignVCDM2(testCredential(p.did), p.signer(t, TypeVCDM2))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"zero now":      func() error { _, err := Verify(tok, resolve, time.Time{}, 0); return err },
		"negative skew": func() error { _, err := Verify(tok, resolve, testNow, -time.Second); return err },
		"nil keys":      func() error { _, err := Verify(tok, nil, testNow, 0); return err },
	} {
		if err := f(); err == nil || countSentinels(err) != 0 {
			t.Errorf("%s: %v, want an argument error wrapping no sentinel", name, err)
		}
	}
	// Keys that are not usable public keys are a failed signature check, not a panic.
	for name, key := range map[string]any{
		"nil":                  nil,
		"nil *JSONWebKey":      (*jose.JSONWebKey)(nil),
		"nil *ecdsa key":       (*ecdsa.PublicKey)(nil),
		"private key":          p.priv,
		"JWK of a private key": jose.JSONWebKey{Key: p.priv},
		"short Ed25519 key":    ed25519.PublicKey{1, 2, 3},
		"string":               "key",
	} {
		_, err := Verify(tok, func(string) (any, error) { return key, nil }, testNow, 0)
		if !errors.Is(err, ErrSignature) {
			t.Errorf("key %s: %v, want ErrSignature", name, err)
		}
	}
	for name, key := range map[string]any{
		"ed25519.PublicKey": p.publicKey,
		"JSONWebKey":        jose.JSONWebKey{Key: p.publicKey},
		"*JSONWebKey":       &jose.JSONWebKey{Key: p.publicKey},
	} {
		if _, err := Verify(tok, func(string) (any, error) { return key, nil }, testNow, 0); err != nil {
			t.Errorf("key %s: %v", name, err)
		}
	}
	// The key lookup's own error stays visible.
	errLookup := errors.New("lookup failed")
	_, err = Verify(tok, func(string) (any, error) { return nil, errLookup }, testNow, 0)
	if !errors.Is(err, ErrSignature) || !errors.Is(err, errLookup) {
		t.Errorf("Verify with a failing lookup = %v, want ErrSignature and the lookup's error", err)
	}
}

func TestSignRejects(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	other := edParty(t, 2)
	good := testCredential(p.did)
	mod := func(f func(*Credential)) Credential {
		c := testCredential(p.did)
		f(&c)
		return c
	}
	otherSigner := func(typ string) jose.Signer { return other.signer(t, typ) }
	for _, s := range signers {
		for name, tc := range map[string]struct {
			c      Credential
			signer jose.Signer
		}{
			"wrong typ":              {good, p.signer(t, map[string]string{TypeVCDM2: TypeJWT, TypeJWT: TypeVCDM2}[s.typ])},
			"kid of another DID":     {good, otherSigner(s.typ)},
			"nil signer":             {good, nil},
			"issuer not a DID":       {mod(func(c *Credential) { c.Issuer = "https://issuer.example" }), p.signer(t, s.typ)},
			"id in claims":           {mod(func(c *Credential) { c.Claims["id"] = "x" }), p.signer(t, s.typ)},
			"empty subject":          {mod(func(c *Credential) { c.Subject, c.Claims = "", nil }), p.signer(t, s.typ)},
			"base context repeated":  {mod(func(c *Credential) { c.Context = []string{ContextV2, ContextV1} }), p.signer(t, s.typ)},
			"base type repeated":     {mod(func(c *Credential) { c.Types = []string{TypeCredential} }), p.signer(t, s.typ)},
			"until before from":      {mod(func(c *Credential) { c.ValidUntil = c.ValidFrom.Add(-time.Hour) }), p.signer(t, s.typ)},
			"unencodable claim":      {mod(func(c *Credential) { c.Claims["f"] = func() {} }), p.signer(t, s.typ)},
			"JWT-VC needs ValidFrom": {mod(func(c *Credential) { c.ValidFrom = time.Time{} }), p.signer(t, s.typ)},
		} {
			if name == "JWT-VC needs ValidFrom" && s.typ != TypeJWT {
				continue
			}
			if _, err := s.sign(tc.c, tc.signer); err == nil {
				t.Errorf("%s/%s: signed", s.name, name)
			}
		}
	}
}

func TestNewSignerRejects(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	if _, err := NewSigner(p.priv, "vc+sd-jwt", p.kid); err == nil {
		t.Error("typ vc+sd-jwt accepted")
	}
	if _, err := NewSigner(p.priv, TypeVCDM2, ""); err == nil {
		t.Error("empty kid accepted")
	}
	if _, err := NewSigner(nil, TypeVCDM2, p.kid); err == nil {
		t.Error("nil key accepted")
	}
}
