package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"maps"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// goJoseHolderKey is what HolderKey did before publicJWK: a round trip through go-jose.
func goJoseHolderKey(raw map[string]any) (*jose.JSONWebKey, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	if !jwk.Valid() {
		return nil, errInvalid
	}
	if _, _, err := jwkKey(&jwk); err != nil {
		return nil, err
	}
	return &jwk, nil
}

var errInvalid = errors.New("invalid JWK")

// TestPublicJWKAgreesWithGoJose: for holder keys good and bad, publicJWK accepts exactly what
// go-jose's JWK parsing (plus our algorithm rules) accepted, and yields the same key.
func TestPublicJWKAgreesWithGoJose(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwkMap := func(k any) map[string]any {
		b, _ := json.Marshal(jose.JSONWebKey{Key: k})
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	ecm, edm := jwkMap(&ec.PublicKey), jwkMap(edPub)
	with := func(m map[string]any, k string, v any) map[string]any {
		c := maps.Clone(m)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherY := jwkMap(&other.PublicKey)["y"]
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, m := range map[string]map[string]any{
		"EC":               ecm,
		"OKP":              edm,
		"EC alg":           with(ecm, "alg", "ES256"),
		"OKP alg":          with(edm, "alg", "EdDSA"),
		"EC wrong alg":     with(ecm, "alg", "EdDSA"),
		"EC kid":           with(ecm, "kid", "k1"),
		"EC kid number":    with(ecm, "kid", 7.0),
		"EC use":           with(ecm, "use", "sig"),
		"EC off the curve": with(ecm, "y", otherY),
		"EC short x":       with(ecm, "x", "AAAA"),
		"EC no y":          with(ecm, "y", nil),
		"EC x number":      with(ecm, "x", 1.0),
		"EC P-384":         jwkMap(&p384.PublicKey),
		"EC crv X":         with(ecm, "crv", "P-257"),
		"OKP short":        with(edm, "x", "AAAA"),
		"OKP X25519":       with(edm, "crv", "X25519"),
		"RSA":              {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
		"oct":              {"kty": "oct", "k": "AAAA"},
		"no kty":           with(ecm, "kty", nil),
	} {
		got, gerr := publicJWK(m)
		want, werr := goJoseHolderKey(m)
		if (gerr == nil) != (werr == nil) {
			t.Errorf("%s: publicJWK error %v, go-jose error %v", name, gerr, werr)
			continue
		}
		if gerr != nil {
			continue
		}
		gt, _ := got.Thumbprint(crypto.SHA256)
		wt, _ := want.Thumbprint(crypto.SHA256)
		if string(gt) != string(wt) || got.KeyID != want.KeyID || got.Algorithm != want.Algorithm {
			t.Errorf("%s: publicJWK %+v, go-jose %+v", name, got, want)
		}
	}
}
