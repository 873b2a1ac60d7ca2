package ldvc_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/internal/ldvc"
)

func Example() {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	const vm = "did:example:transport-bureau#key-1"

	signed, err := ldvc.Sign(map[string]any{
		"@context":       []any{ldvc.ContextCredentialsV1, ldvc.ContextEd25519Signature2020, ldvc.ContextLicenceV1},
		"type":           []any{"VerifiableCredential", "DrivingLicence"},
		"issuer":         "did:example:transport-bureau",
		"issuanceDate":   "2026-01-02T00:00:00Z",
		"expirationDate": "2032-01-02T00:00:00Z",
		"credentialSubject": map[string]any{
			"family_name":    "Zheng",
			"licence_number": "440300199005170011",
			"licence_class":  "C1",
		},
	}, key, vm, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}

	keys := func(v string) (ed25519.PublicKey, error) {
		if v != vm {
			return nil, fmt.Errorf("unknown key %s", v)
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	v, err := ldvc.Verify(signed, keys, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Types, v.Issuer, v.Subject["licence_class"])
	// Output: [VerifiableCredential DrivingLicence] did:example:transport-bureau C1
}
