package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	parties := []party{edParty(1), p256Party(t)}
	holders := []party{edParty(2), p256Party(t)}
	keeps := [][]string{
		nil,
		{"given_name"},
		{"licence_number", "address"},
		testDisclosable,
	}
	for _, iss := range parties {
		for _, hol := range holders {
			f := newFixture(t, iss, hol)
			for _, keep := range keeps {
				t.Run(fmt.Sprintf("issuer=%s/holder=%s/keep=%d", iss.name, hol.name, len(keep)), func(t *testing.T) {
					t.Parallel()
					pres := f.present(t, keep...)
					claims, err := verifyAll(pres, iss.pub, testOpts)
					if err != nil {
						t.Fatalf("verify: %v", err)
					}

					want := testClaims(hol.pub)
					for _, name := range testDisclosable {
						if !slices.Contains(keep, name) {
							delete(want, name)
						}
					}
					wantJSON, gotJSON := canonical(t, want), canonical(t, claims)
					if string(gotJSON) != string(wantJSON) {
						t.Errorf("claims:\n got  %s\n want %s", gotJSON, wantJSON)
					}
					if slices.Contains(keep, "licence_number") && claims["licence_number"] != json.Number("9007199254740993") {
						t.Errorf("licence_number = %#v, want json.Number 9007199254740993", claims["licence_number"])
					}

					// Parse is the inverse of Encode, and the SD-JWT part is what sd_hash covers.
					sd, err := Parse(pres)
					if err != nil {
						t.Fatal(err)
					}
					if got := sd.Encode(); got != pres {
						t.Errorf("Encode() differs from the parsed input")
					}
					if got, want := len(sd.Disclosures), len(keep); got != want {
						t.Errorf("%d disclosures, want %d", got, want)
					}
				})
			}
		}
	}
}

func TestIssueWithoutKeyBinding(t *testing.T) {
	t.Parallel()
	f := newFixture(t, edParty(1), edParty(2))
	pres, err := Present(f.issued, []string{"given_name"}, nil, "", "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(pres, "~") || strings.Count(pres, "~") != 2 {
		t.Fatalf("presentation without KB = %q, want <jws>~<d>~", pres)
	}
	sd, err := Parse(pres)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := sd.VerifyIssuer(f.issuer.pub)
	if err != nil {
		t.Fatal(err)
	}
	if claims["given_name"] != "Mei" {
		t.Errorf("given_name = %v", claims["given_name"])
	}
	// A verifier whose policy requires key binding must still reject it.
	if err := sd.VerifyKeyBinding(edParty(2).pub, testOpts); !errors.Is(err, ErrKeyBinding) {
		t.Errorf("VerifyKeyBinding without KB-JWT = %v, want ErrKeyBinding", err)
	}
}

func TestIssuedPayload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, edParty(1), edParty(2))
	sd, err := Parse(f.issued)
	if err != nil {
		t.Fatal(err)
	}
	if got := sd.Header["typ"]; got != TypeSDJWTVC {
		t.Errorf("typ = %v", got)
	}
	if got := sd.Header["kid"]; got != "issuer-1" {
		t.Errorf("kid = %v", got)
	}
	if got := sd.Payload["_sd_alg"]; got != "sha-256" {
		t.Errorf("_sd_alg = %v", got)
	}
	sdArr, _ := sd.Payload["_sd"].([]any)
	if got, want := len(sdArr), len(testDisclosable)+3; got != want {
		t.Errorf("%d digests in _sd, want %d (claims + 3 decoys)", got, want)
	}
	if !slices.IsSortedFunc(sdArr, func(a, b any) int { return strings.Compare(a.(string), b.(string)) }) {
		t.Errorf("_sd is not sorted")
	}
	for _, name := range testDisclosable {
		if _, ok := sd.Payload[name]; ok {
			t.Errorf("disclosable claim %q is in the clear", name)
		}
	}
	for i, d := range sd.Disclosures {
		if d.Name != testDisclosable[i] {
			t.Errorf("disclosure %d is %q, want %q", i, d.Name, testDisclosable[i])
		}
		salt, err := decodeB64(d.Salt)
		if err != nil || len(salt) != 16 {
			t.Errorf("salt %q is not 128 bits of base64url", d.Salt)
		}
		if d.Digest != SDHash(d.Encoded) {
			t.Errorf("digest of %q", d.Name)
		}
	}
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	ed := edParty(1)
	p256 := p256Party(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     crypto.Signer
		pub     crypto.PublicKey
		wantAlg string
		wantErr bool
	}{
		{"Ed25519", ed.priv, ed.pub, "EdDSA", false},
		{"P-256", p256.priv, p256.pub, "ES256", false},
		{"opaque Ed25519", opaque{ed.priv}, ed.pub, "EdDSA", false},
		{"opaque P-256", opaque{p256.priv}, p256.pub, "ES256", false},
		{"P-384", p384, nil, "", true},
		{"opaque P-384", opaque{p384}, nil, "", true},
		{"RSA", rsaKey, nil, "", true},
		{"nil", nil, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSigner(tt.key, TypeSDJWTVC, "k1")
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewSigner succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			issued, err := Issue(s, map[string]any{"a": 1, "b": 2}, []string{"a"}, 0, fixedReader(9))
			if err != nil {
				t.Fatal(err)
			}
			sd, err := Parse(issued)
			if err != nil {
				t.Fatal(err)
			}
			if got := sd.Header["alg"]; got != tt.wantAlg {
				t.Errorf("alg = %v, want %v", got, tt.wantAlg)
			}
			if _, err := sd.VerifyIssuer(tt.pub); err != nil {
				t.Errorf("VerifyIssuer: %v", err)
			}
		})
	}
}

// opaque hides the concrete key type, like a hardware-backed crypto.Signer.
type opaque struct{ crypto.Signer }

func TestIssueErrors(t *testing.T) {
	t.Parallel()
	ed := edParty(1)
	good := mustSigner(t, ed.priv, TypeSDJWTVC, "")
	claims := testClaims(edParty(2).pub)
	tests := []struct {
		name        string
		signer      jose.Signer
		claims      map[string]any
		disclosable []string
		decoys      int
		rnd         func() *strings.Reader
	}{
		{"nil signer", nil, claims, nil, 0, nil},
		{"signer without typ", mustSigner(t, ed.priv, "", ""), claims, nil, 0, nil},
		{"signer with KB typ", mustSigner(t, ed.priv, TypeKB, ""), claims, nil, 0, nil},
		{"missing claim", good, claims, []string{"nickname"}, 0, nil},
		{"listed twice", good, claims, []string{"given_name", "given_name"}, 0, nil},
		{"reserved exp", good, claims, []string{"exp"}, 0, nil},
		{"reserved cnf", good, claims, []string{"cnf"}, 0, nil},
		{"reserved vct", good, claims, []string{"vct"}, 0, nil},
		{"reserved status", good, map[string]any{"status": 1}, []string{"status"}, 0, nil},
		{"reserved _sd", good, map[string]any{"_sd": 1}, []string{"_sd"}, 0, nil},
		{"claims with _sd", good, map[string]any{"_sd": []any{}}, nil, 0, nil},
		{"claims with _sd_alg", good, map[string]any{"_sd_alg": "sha-256"}, nil, 0, nil},
		{"claims with nested _sd", good, map[string]any{"a": map[string]any{"_sd": []any{}}}, nil, 0, nil},
		{"claims with ... element", good, map[string]any{"a": []any{map[string]any{"...": "x"}}}, nil, 0, nil},
		{"claims not JSON", good, map[string]any{"f": func() {}}, nil, 0, nil},
		{"negative decoys", good, claims, nil, -1, nil},
		{"short randomness", good, claims, []string{"given_name", "family_name"}, 0, func() *strings.Reader { return strings.NewReader("only twenty bytes...") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rnd := fixedReader(1)
			if tt.rnd != nil {
				rnd = tt.rnd()
			}
			if _, err := Issue(tt.signer, tt.claims, tt.disclosable, tt.decoys, rnd); err == nil {
				t.Fatal("Issue succeeded, want error")
			}
		})
	}

	t.Run("too many disclosable", func(t *testing.T) {
		t.Parallel()
		big := map[string]any{}
		var names []string
		for i := range MaxDisclosures + 1 {
			n := fmt.Sprintf("c%d", i)
			big[n] = i
			names = append(names, n)
		}
		if _, err := Issue(good, big, names, 0, fixedReader(1)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Issue = %v, want ErrTooLarge", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		big := map[string]any{"blob": strings.Repeat("x", MaxSize)}
		if _, err := Issue(good, big, []string{"blob"}, 0, fixedReader(1)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Issue = %v, want ErrTooLarge", err)
		}
	})
	t.Run("claims untouched", func(t *testing.T) {
		t.Parallel()
		c := map[string]any{"a": 1, "b": "x"}
		if _, err := Issue(good, c, []string{"a"}, 1, fixedReader(1)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, map[string]any{"a": 1, "b": "x"}) {
			t.Errorf("Issue modified claims: %v", c)
		}
	})
}

func TestPresentErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, edParty(1), edParty(2))
	kb := mustSigner(t, f.holder.priv, TypeKB, "")
	bound := f.present(t, "given_name")
	tests := []struct {
		name   string
		issued string
		keep   []string
		signer jose.Signer
		aud    string
		nonce  string
	}{
		{"unknown claim", f.issued, []string{"nickname"}, kb, testAud, testNonce},
		{"plain claim", f.issued, []string{"iss"}, kb, testAud, testNonce},
		{"signer typ not kb+jwt", f.issued, nil, mustSigner(t, f.holder.priv, TypeSDJWTVC, ""), testAud, testNonce},
		{"no aud", f.issued, nil, kb, "", testNonce},
		{"no nonce", f.issued, nil, kb, testAud, ""},
		{"already bound", bound, nil, kb, testAud, testNonce},
		{"garbage", "not an sd-jwt", nil, kb, testAud, testNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Present(tt.issued, tt.keep, tt.signer, tt.aud, tt.nonce, testNow); err == nil {
				t.Fatal("Present succeeded, want error")
			}
		})
	}
}

// TestVerifyRejects is the table of attacks and mistakes: each case builds a presentation from a
// valid one and names the sentinel the verifier must return.
func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, edParty(1), edParty(2))
	issuerSigner := mustSigner(t, f.issuer.priv, TypeSDJWTVC, "issuer-1")
	holderKB := mustSigner(t, f.holder.priv, TypeKB, "")
	other := edParty(3)
	otherKB := mustSigner(t, other.priv, TypeKB, "")
	pres := f.present(t, "given_name", "family_name")
	jwt, ds, kb := parts(pres)
	issuedJWT, issuedDs, _ := parts(f.issued)
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	hmacSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, (&jose.SignerOptions{}).WithType(TypeSDJWTVC))
	if err != nil {
		t.Fatal(err)
	}
	hmacKBSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, (&jose.SignerOptions{}).WithType(TypeKB))
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := Parse(pres)
	payload := sd.Payload // unverified, but we signed it: a template for hand-made tokens
	holderJWK := payload["cnf"]

	// bind appends a fresh valid KB-JWT for the SD-JWT part sdPart.
	bind := func(sdPart string) string { return sdPart + kbFor(t, holderKB, sdPart, nil) }
	// reissue signs a payload made from the template with changes (nil deletes) and returns it
	// with the given disclosures, bound.
	reissue := func(changes map[string]any, disclosures ...string) string {
		p := map[string]any{}
		for k, v := range payload {
			p[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return bind(join(signJSON(t, issuerSigner, p), disclosures, ""))
	}
	withSD := func(ds ...string) []any {
		a := []any{}
		for _, d := range ds {
			a = append(a, SDHash(d))
		}
		return a
	}
	changed := func(d string, value any) string {
		x, err := parseDisclosure(d, 0)
		if err != nil {
			t.Fatal(err)
		}
		return disclosure(t, x.Salt, x.Name, value)
	}
	dGiven := ds[0]
	dExtra := disclosure(t, "c2FsdHNhbHRzYWx0c2FsdA", "is_admin", true)
	dSub := disclosure(t, "c2FsdHNhbHRzYWx0c2FsdA", "sub", "someone-else")
	dExp := disclosure(t, "c2FsdHNhbHRzYWx0c2FsdA", "exp", 4102444800)
	dSD := disclosure(t, "c2FsdHNhbHRzYWx0c2FsdA", "_sd", []any{})
	dGiven2 := disclosure(t, "b3RoZXJzYWx0b3RoZXJzYWw", "given_name", "Eve")
	dNested := disclosure(t, "c2FsdHNhbHRzYWx0c2FsdA", "address", map[string]any{"_sd": []any{"x"}})

	opts := func(change func(*KeyBindingOptions)) KeyBindingOptions {
		o := testOpts
		change(&o)
		return o
	}

	tests := []struct {
		name      string
		pres      string
		issuerKey any // nil: the fixture's issuer key
		opts      KeyBindingOptions
		want      error
		msg       string // substring of the error message, if set
	}{
		// Baseline: the unmodified presentation verifies (want nil).
		{name: "valid", pres: pres},

		// Disclosures.
		{name: "changed disclosure value", pres: bind(join(jwt, []string{changed(dGiven, "Eve"), ds[1]}, "")), want: ErrDisclosure, msg: `"given_name"`},
		{name: "changed disclosure value, stale KB", pres: join(jwt, []string{changed(dGiven, "Eve"), ds[1]}, kb), want: ErrDisclosure},
		{name: "added disclosure never signed", pres: bind(join(jwt, append([]string{dExtra}, ds...), "")), want: ErrDisclosure, msg: "is_admin"},
		{name: "duplicate disclosure", pres: bind(join(jwt, []string{dGiven, dGiven}, "")), want: ErrDisclosure, msg: "repeats"},
		{name: "disclosure overriding plain claim", pres: reissue(map[string]any{"_sd": withSD(dSub)}, dSub), want: ErrDisclosure, msg: "override a plain claim"},
		{name: "reserved name exp", pres: reissue(map[string]any{"_sd": withSD(dExp), "exp": nil}, dExp), want: ErrDisclosure, msg: `"exp"`},
		{name: "reserved name _sd", pres: reissue(map[string]any{"_sd": withSD(dSD)}, dSD), want: ErrDisclosure},
		{name: "two disclosures for one name", pres: reissue(map[string]any{"_sd": withSD(dGiven, dGiven2)}, dGiven, dGiven2), want: ErrDisclosure, msg: "two different"},
		{name: "digest twice in _sd", pres: reissue(map[string]any{"_sd": withSD(dGiven, dGiven)}, dGiven), want: ErrDisclosure},
		{name: "_sd not an array", pres: reissue(map[string]any{"_sd": "x"}), want: ErrDisclosure},
		{name: "_sd_alg sha-512", pres: reissue(map[string]any{"_sd_alg": "sha-512"}, dGiven), want: ErrDisclosure, msg: "_sd_alg"},
		{name: "_sd_alg absent", pres: reissue(map[string]any{"_sd_alg": nil, "_sd": withSD(dGiven)}, dGiven)},
		{name: "nested _sd in payload", pres: reissue(map[string]any{"address": map[string]any{"_sd": []any{}}}), want: ErrDisclosure, msg: "address._sd"},
		{name: "array-element digest in payload", pres: reissue(map[string]any{"nat": []any{map[string]any{"...": "x"}}}), want: ErrDisclosure},
		{name: "recursive disclosure", pres: reissue(map[string]any{"_sd": withSD(dNested)}, dNested), want: ErrDisclosure, msg: "recursive"},

		// Issuer signature.
		{name: "wrong issuer key", pres: pres, issuerKey: other.pub, want: ErrSignature},
		{name: "issuer key of wrong type", pres: pres, issuerKey: p256Party(t).pub, want: ErrSignature, msg: "does not match"},
		{name: "HMAC bytes as issuer key", pres: pres, issuerKey: hmacKey, want: ErrSignature},
		{name: "private key as issuer key", pres: pres, issuerKey: &jose.JSONWebKey{Key: f.issuer.priv}, want: ErrSignature},
		{name: "alg none issuer JWT", pres: bind(join(unsigned(`{"alg":"none","typ":"dc+sd-jwt"}`, mustJSON(t, payload)), ds, "")), want: ErrSignature, msg: `"none"`},
		{name: "HS256 issuer JWT", pres: bind(join(signJSON(t, hmacSigner, payload), ds, "")), want: ErrSignature, msg: `"HS256"`},
		{name: "HS256 issuer JWT verified with the HMAC key", pres: bind(join(signJSON(t, hmacSigner, payload), ds, "")), issuerKey: hmacKey, want: ErrSignature},
		{name: "issuer typ JWT", pres: bind(join(signJSON(t, mustSigner(t, f.issuer.priv, "JWT", ""), payload), ds, "")), want: ErrSignature, msg: "typ"},
		{name: "issuer typ kb+jwt", pres: bind(join(signJSON(t, mustSigner(t, f.issuer.priv, TypeKB, ""), payload), ds, "")), want: ErrSignature, msg: "typ"},
		{name: "issuer crit header", pres: bind(join(signJSON(t, critSigner(t, f.issuer.priv), payload), ds, "")), want: ErrSignature, msg: "crit"},
		{name: "issuer payload swapped", pres: bind(join(swapPayload(jwt, mustJSON(t, map[string]any{"iss": "x"})), nil, "")), want: ErrSignature, msg: "signature"},
		{name: "legacy typ vc+sd-jwt accepted", pres: bind(join(signJSON(t, mustSigner(t, f.issuer.priv, TypeSDJWTVCLegacy, ""), payload), ds, ""))},

		// Key binding.
		{name: "missing KB-JWT", pres: join(jwt, ds, ""), want: ErrKeyBinding, msg: "no KB-JWT"},
		{name: "KB-JWT signed by another key", pres: join(jwt, ds, kbFor(t, otherKB, join(jwt, ds, ""), nil)), want: ErrKeyBinding, msg: "signature"},
		{name: "KB-JWT signed by the issuer", pres: join(jwt, ds, kbFor(t, mustSigner(t, f.issuer.priv, TypeKB, ""), join(jwt, ds, ""), nil)), want: ErrKeyBinding},
		{name: "KB-JWT too old", pres: pres, opts: opts(func(o *KeyBindingOptions) { o.Now = testNow.Add(75 * time.Second) }), want: ErrKeyBinding, msg: "kb-jwt expired: issued 75s ago, max 60s"},
		{name: "KB-JWT old but within skew", pres: pres, opts: opts(func(o *KeyBindingOptions) { o.Now = testNow.Add(64 * time.Second) })},
		{name: "KB-JWT in the future", pres: pres, opts: opts(func(o *KeyBindingOptions) { o.Now = testNow.Add(-30 * time.Second) }), want: ErrKeyBinding, msg: "future: iat 30s ahead"},
		{name: "KB-JWT exp passed", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"exp": testNow.Unix() - 10})), want: ErrKeyBinding, msg: "exp"},
		{name: "KB-JWT nbf ahead", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"nbf": testNow.Unix() + 60})), want: ErrKeyBinding, msg: "nbf"},
		{name: "KB-JWT iat missing", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"iat": nil})), want: ErrKeyBinding, msg: "iat"},
		{name: "KB-JWT iat a string", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"iat": "now"})), want: ErrKeyBinding, msg: "iat"},
		{name: "wrong aud", pres: pres, opts: opts(func(o *KeyBindingOptions) { o.Audience = "https://evil.example" }), want: ErrKeyBinding, msg: "aud mismatch"},
		{name: "any aud", pres: pres, opts: opts(func(o *KeyBindingOptions) { o.Audience = "" })},
		{name: "aud as array", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"aud": []any{testAud}})), want: ErrKeyBinding, msg: "aud"},
		{name: "aud missing, any aud accepted", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"aud": nil})), opts: opts(func(o *KeyBindingOptions) { o.Audience = "" }), want: ErrKeyBinding, msg: "aud"},
		{name: "wrong nonce", pres: pres, opts: opts(func(o *KeyBindingOptions) { o.Nonce = "another-nonce" }), want: ErrKeyBinding, msg: "nonce mismatch"},
		{name: "nonce missing, any nonce accepted", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"nonce": nil})), opts: opts(func(o *KeyBindingOptions) { o.Nonce = "" }), want: ErrKeyBinding, msg: "nonce"},
		{name: "sd_hash mismatch: disclosure removed after KB signing", pres: join(jwt, ds[:1], kb), want: ErrKeyBinding, msg: "sd_hash mismatch"},
		{name: "sd_hash mismatch: disclosures reordered", pres: join(jwt, []string{ds[1], ds[0]}, kb), want: ErrKeyBinding, msg: "sd_hash mismatch"},
		{name: "sd_hash mismatch: KB-JWT moved to the issued SD-JWT", pres: join(issuedJWT, issuedDs, kb), want: ErrKeyBinding, msg: "sd_hash mismatch"},
		{name: "sd_hash missing", pres: join(jwt, ds, kbFor(t, holderKB, join(jwt, ds, ""), map[string]any{"sd_hash": nil})), want: ErrKeyBinding, msg: "sd_hash"},
		{name: "alg none KB-JWT", pres: join(jwt, ds, unsigned(`{"alg":"none","typ":"kb+jwt"}`, mustJSON(t, map[string]any{"aud": testAud, "nonce": testNonce, "iat": testNow.Unix(), "sd_hash": SDHash(join(jwt, ds, ""))}))), want: ErrKeyBinding, msg: `"none"`},
		{name: "HS256 KB-JWT", pres: join(jwt, ds, kbFor(t, hmacKBSigner, join(jwt, ds, ""), nil)), want: ErrKeyBinding, msg: `"HS256"`},
		{name: "wrong KB typ", pres: join(jwt, ds, kbFor(t, mustSigner(t, f.holder.priv, "JWT", ""), join(jwt, ds, ""), nil)), want: ErrKeyBinding, msg: "typ"},
		{name: "KB typ missing", pres: join(jwt, ds, kbFor(t, mustSigner(t, f.holder.priv, "", ""), join(jwt, ds, ""), nil)), want: ErrKeyBinding, msg: "typ"},
		{name: "issuer JWT as KB-JWT", pres: join(jwt, ds, jwt), want: ErrKeyBinding, msg: "typ"},

		// Syntax and size.
		{name: "duplicate JSON keys in issuer payload", pres: bind(join(signRaw(t, issuerSigner, []byte(`{"iss":"https://issuer.example.gov.tw","iss":"https://evil.example","cnf":`+mustJSON(t, holderJWK)+`}`)), nil, "")), want: ErrSyntax, msg: "duplicate member name \"iss\""},
		{name: "duplicate JSON keys via escapes", pres: bind(join(signRaw(t, issuerSigner, []byte(`{"sub":"a","\u0073ub":"b"}`)), nil, "")), want: ErrSyntax, msg: "duplicate"},
		{name: "duplicate JSON keys in issuer header", pres: bind(join(b64.EncodeToString([]byte(`{"alg":"EdDSA","alg":"none","typ":"dc+sd-jwt"}`))+jwt[strings.Index(jwt, "."):], ds, "")), want: ErrSyntax},
		{name: "duplicate JSON keys in disclosure", pres: join(jwt, []string{b64.EncodeToString([]byte(`["salt","a",{"x":1,"x":2}]`))}, kb), want: ErrSyntax},
		{name: "duplicate JSON keys in KB-JWT", pres: join(jwt, ds, signRaw(t, holderKB, []byte(`{"aud":"a","aud":"b"}`))), want: ErrSyntax},
		{name: "too deep JSON", pres: bind(join(signRaw(t, issuerSigner, []byte(`{"a":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`)), nil, "")), want: ErrTooLarge},
		{name: "array-element disclosure", pres: join(jwt, []string{b64.EncodeToString([]byte(`["salt","US"]`))}, kb), want: ErrSyntax, msg: "array-element"},
		{name: "non-canonical base64 in signature", pres: join(flipTrailingBits(jwt), ds, kb), want: ErrSyntax, msg: "canonical"},
		{name: "line break in disclosure", pres: join(jwt, []string{ds[0][:10] + "\n" + ds[0][10:], ds[1]}, kb), want: ErrSyntax},
		{name: "padding in disclosure", pres: join(jwt, []string{ds[0] + "=", ds[1]}, kb), want: ErrSyntax},
		{name: "empty disclosure", pres: join(jwt, []string{ds[0], "", ds[1]}, kb), want: ErrSyntax},
		{name: "oversize input", pres: pres + strings.Repeat("A", MaxSize), want: ErrTooLarge},
		{name: "too many disclosures", pres: join(jwt, slices.Repeat([]string{dGiven}, MaxDisclosures+1), ""), want: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := tt.issuerKey
			if key == nil {
				key = f.issuer.pub
			}
			o := tt.opts
			if o.Now.IsZero() {
				o = testOpts
			}
			_, err := verifyAll(tt.pres, key, o)
			t.Logf("err: %v", err)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("verify = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("verify = %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrSyntax, ErrTooLarge, ErrSignature, ErrDisclosure, ErrKeyBinding} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("error %q also matches %v: one sentinel per check", err, other)
				}
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestParseGarbage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrSyntax},
		{"~", ErrSyntax},
		{"~~", ErrSyntax},
		{"a~", ErrSyntax},
		{"a.b~", ErrSyntax},
		{"a.b.c~", ErrSyntax},
		{"a.b.c.d~", ErrSyntax},
		{"..~", ErrSyntax},
		{"eyJhbGciOiJFZERTQSJ9", ErrSyntax},
		{"eyJhbGciOiJFZERTQSJ9.e30.~", nil},       // well-formed: see below
		{"eyJhbGciOiJFZERTQSJ9.W10.~", ErrSyntax}, // payload is an array
		{"e30.e30.~", ErrSyntax},                  // header without alg
		{"eyJhbGciOjF9.e30.~", ErrSyntax},         // alg is a number
		{"bnVsbA.e30.~", ErrSyntax},               // header is null
		{"eyJhbGciOiJFZERTQSJ9.e30.~WyJhIiwiYiJd~", ErrSyntax},
		{"eyJhbGciOiJFZERTQSJ9.e30.~WyJhIiwiYiIsMSwyXQ~", ErrSyntax}, // 4 elements
		{"eyJhbGciOiJFZERTQSJ9.e30.~WzEsImIiLDFd~", ErrSyntax},       // salt is a number
		{"eyJhbGciOiJFZERTQSJ9.e30.~WyJhIiwxLDFd~", ErrSyntax},       // name is a number
		{"eyJhbGciOiJFZERTQSJ9.e30.~e30~", ErrSyntax},                // disclosure is an object
		{"eyJhbGciOiJFZERTQSJ9.e30.~_-_-~", ErrSyntax},               // not JSON
		{"eyJhbGciOiJFZERTQSJ9.e30.~garbage", ErrSyntax},             // KB-JWT not a JWS
		{"eyJhbGciOiJFZERTQSJ9.e30.~" + b64.EncodeToString([]byte("[\"a\",\"\xff\",1]")) + "~", ErrSyntax},
		{"eyJhbGciOiJFZERTQSJ9.e30.~" + b64.EncodeToString([]byte(`["a","b",1] x`)) + "~", ErrSyntax},
		{"eyJhbGciOiJFZERTQSJ9.e30.~" + b64.EncodeToString([]byte(`["a","b",1`)) + "~", ErrSyntax},
		{" eyJhbGciOiJFZERTQSJ9.e30.~", ErrSyntax},
		{"eyJhbGciOiJFZERTQSJ9.e30.~\n", ErrSyntax},
		{"\x00\x01\x02~", ErrSyntax},
		{strings.Repeat("~", MaxDisclosures+2), ErrTooLarge},
		{strings.Repeat("x", MaxSize+1), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40q", tt.in), func(t *testing.T) {
			t.Parallel()
			sd, err := Parse(tt.in)
			if tt.want == nil {
				// The smallest well-formed SD-JWT: {"alg":"EdDSA"}, {}, no signature, no
				// disclosures. Parse accepts it; VerifyIssuer must not.
				if err != nil {
					t.Fatalf("Parse = %v", err)
				}
				if _, err := sd.VerifyIssuer(edParty(1).pub); !errors.Is(err, ErrSignature) {
					t.Fatalf("VerifyIssuer = %v, want ErrSignature", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHolderKey(t *testing.T) {
	t.Parallel()
	ed := edParty(2)
	p256 := p256Party(t)
	jwkMap := func(k any) map[string]any {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	withAlg := jwkMap(jose.JSONWebKey{Key: ed.pub})
	withAlg["alg"] = "ES256"
	tests := []struct {
		name    string
		payload map[string]any
		wantErr bool
	}{
		{"Ed25519", map[string]any{"cnf": map[string]any{"jwk": jwkMap(jose.JSONWebKey{Key: ed.pub})}}, false},
		{"P-256", map[string]any{"cnf": map[string]any{"jwk": jwkMap(jose.JSONWebKey{Key: p256.pub})}}, false},
		{"no cnf", map[string]any{}, true},
		{"cnf not an object", map[string]any{"cnf": "x"}, true},
		{"no jwk", map[string]any{"cnf": map[string]any{"jkt": "abc"}}, true},
		{"private key", map[string]any{"cnf": map[string]any{"jwk": jwkMap(jose.JSONWebKey{Key: ed.priv})}}, true},
		{"symmetric key", map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}}}, true},
		{"RSA key", map[string]any{"cnf": map[string]any{"jwk": jwkMap(jose.JSONWebKey{Key: &rsaKey.PublicKey})}}, true},
		{"alg mismatch", map[string]any{"cnf": map[string]any{"jwk": withAlg}}, true},
		{"bad point", map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}}, true},
		{"garbage", map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": 7}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := HolderKey(tt.payload)
			if tt.wantErr {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("HolderKey = %v, want ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !k.IsPublic() {
				t.Error("key is not public")
			}
		})
	}
}

func TestKeyBindingOptionsRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, edParty(1), edParty(2))
	sd, err := Parse(f.present(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []KeyBindingOptions{
		{},
		{Now: testNow},
		{Now: testNow, MaxAge: time.Minute, Skew: -time.Second},
	} {
		err := sd.VerifyKeyBinding(f.holder.pub, o)
		if err == nil || errors.Is(err, ErrKeyBinding) {
			t.Errorf("VerifyKeyBinding(%+v) = %v, want an options error", o, err)
		}
	}
	// The raw key types work as well as a JWK.
	if err := sd.VerifyKeyBinding(f.holder.pub, testOpts); err != nil {
		t.Errorf("VerifyKeyBinding(ed25519.PublicKey) = %v", err)
	}
	if err := sd.VerifyKeyBinding(jose.JSONWebKey{Key: f.holder.pub}, testOpts); err != nil {
		t.Errorf("VerifyKeyBinding(jose.JSONWebKey) = %v", err)
	}
}

// TestVerifyIgnoresDecodedFields checks that the verifier works from the encoded strings, not
// from decoded fields a caller might have changed.
func TestVerifyIgnoresDecodedFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, edParty(1), edParty(2))
	sd, err := Parse(f.present(t, "given_name"))
	if err != nil {
		t.Fatal(err)
	}
	sd.Disclosures[0].Value = "Eve"
	sd.Disclosures[0].Name = "is_admin"
	sd.Payload["is_admin"] = true
	claims, err := sd.VerifyIssuer(f.issuer.pub)
	if err != nil {
		t.Fatal(err)
	}
	if claims["given_name"] != "Mei" || claims["is_admin"] != nil {
		t.Errorf("claims taken from decoded fields: %v", claims)
	}
}

// canonical encodes v with sorted keys at every level (jose.JSONWebKey writes its own order).
func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	d, err := decodeJSON(b, "test value")
	if err != nil {
		t.Fatal(err)
	}
	return mustJSON(t, d)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// critSigner returns an issuer signer whose protected header carries a critical extension.
func critSigner(t testing.TB, key crypto.Signer) jose.Signer {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(TypeSDJWTVC).WithHeader("crit", []string{"exp"}).WithHeader("exp", 1)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// swapPayload replaces the payload of a compact JWS, keeping header and signature.
func swapPayload(jws, payloadJSON string) string {
	p := strings.Split(jws, ".")
	return p[0] + "." + b64.EncodeToString([]byte(payloadJSON)) + "." + p[2]
}

// flipTrailingBits changes the unused low bits of the last character of a compact JWS: the
// decoded bytes stay the same, the string does not.
func flipTrailingBits(jws string) string {
	last := jws[len(jws)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, last)
	return jws[:len(jws)-1] + string(alphabet[i^1])
}
