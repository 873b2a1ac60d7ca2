package vcjwt

import (
	"errors"
	"reflect"
	"testing"
)

// TestVerifyVariants checks encodings other issuers produce: a JWT-VC that keeps the data-model
// members in "vc" beside the registered claims (VCDM 1.1 allows both), one without typ or nbf,
// and a vc+jwt with an issuer object and the optional JWT claims.
func TestVerifyVariants(t *testing.T) {
	t.Parallel()
	p := edParty(t, 1)
	want := testCredential(p.did)
	v11 := func(drop string, vc map[string]any) map[string]any {
		c := map[string]any{
			"iss": p.did, "sub": want.Subject, "nbf": testFrom.Unix(), "exp": testUntil.Unix(), "jti": want.ID,
			"vc": vc,
		}
		delete(c, drop)
		return c
	}
	baseVC := func(extra map[string]any) map[string]any {
		subj := want.subject()
		vc := map[string]any{
			"@context":          []any{ContextV1, want.Context[0]},
			"type":              []any{TypeCredential, want.Types[0]},
			"credentialSubject": subj,
			"credentialStatus":  want.Status,
			"credentialSchema":  want.Schema,
		}
		for k, v := range extra {
			vc[k] = v
		}
		return vc
	}
	full := map[string]any{
		"issuer":         map[string]any{"id": p.did, "name": "Motor Vehicles Office"},
		"issuanceDate":   "2025-12-31T00:00:00Z",
		"expirationDate": "2031-01-01T00:00:00Z",
		"id":             want.ID,
	}
	v2 := func(extra map[string]any) map[string]any {
		c := map[string]any{
			"@context":          []any{ContextV2, want.Context[0]},
			"id":                want.ID,
			"type":              []any{want.Types[0], TypeCredential}, // base type need not be first
			"issuer":            map[string]any{"id": p.did, "name": "Motor Vehicles Office"},
			"validFrom":         "2025-12-31T08:00:00+08:00",
			"validUntil":        "2031-01-01T00:00:00Z",
			"credentialSubject": want.subject(),
			"credentialStatus":  want.Status,
			"credentialSchema":  want.Schema,
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	kid := map[string]any{"kid": p.kid}
	withTyp := func(typ string) map[string]any { return map[string]any{"kid": p.kid, "typ": typ} }

	for _, tc := range []struct {
		name    string
		header  map[string]any
		payload map[string]any
		want    error
	}{
		{"JWT-VC with data-model members kept", withTyp(TypeJWT), v11("", baseVC(full)), nil},
		{"JWT-VC without typ", kid, v11("", baseVC(nil)), nil},
		{"JWT-VC with typ jwt", withTyp("jwt"), v11("", baseVC(nil)), nil},
		{"JWT-VC with typ application/jwt", withTyp("application/JWT"), v11("", baseVC(nil)), nil},
		{"JWT-VC with issuanceDate instead of nbf", kid, v11("nbf", baseVC(map[string]any{"issuanceDate": "2025-12-31T00:00:00Z"})), nil},
		{"JWT-VC with issuer instead of iss", kid, v11("iss", baseVC(map[string]any{"issuer": p.did})), nil},
		{"vc+jwt with typ VC+JWT", withTyp("VC+JWT"), v2(nil), nil},
		{"vc+jwt with issuer object and JWT claims", withTyp("application/vc+jwt"), v2(map[string]any{"iss": p.did, "nbf": testFrom.Unix(), "exp": testUntil.Unix()}), nil},
		{"JWT-VC issuanceDate contradicting nbf", kid, v11("", baseVC(map[string]any{"issuanceDate": "2025-12-30T00:00:00Z"})), ErrMalformed},
		{"JWT-VC vc.id contradicting jti", kid, v11("", baseVC(map[string]any{"id": "urn:uuid:other"})), ErrMalformed},
		{"JWT-VC expirationDate not a date", kid, v11("", baseVC(map[string]any{"expirationDate": 1924992000})), ErrMalformed},
		{"vc+jwt nbf contradicting validFrom", withTyp(TypeVCDM2), v2(map[string]any{"nbf": testFrom.Unix() - 1}), ErrMalformed},
		{"vc+jwt inline @context object", withTyp(TypeVCDM2), v2(map[string]any{"@context": []any{ContextV2, map[string]any{"x": "y"}}}), ErrMalformed},
		{"vc+jwt status array with a non-object", withTyp(TypeVCDM2), v2(map[string]any{"credentialStatus": []any{want.Status, "x"}}), ErrMalformed},
		{"vc+jwt issuer without id", withTyp(TypeVCDM2), v2(map[string]any{"issuer": map[string]any{"name": "x"}}), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := rawSign(t, p.priv, tc.header, []byte(mustJSON(t, tc.payload)))
			got, err := Verify(tok, resolve, testNow, 0)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got.Credential, want) {
				t.Errorf("got  %#v\nwant %#v", got.Credential, want)
			}
		})
	}
}
