package vcjwt_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/vcjwt"
)

// Example issues a VCDM 2.0 credential as a vc+jwt with an Ed25519 did:key issuer and verifies
// it, resolving the kid locally.
func Example() {
	key := ed25519.NewKeyFromSeed([]byte(strings.Repeat("\x01", 32)))
	issuer, kid, err := did.NewKey(key.Public())
	if err != nil {
		panic(err)
	}
	signer, err := vcjwt.NewSigner(key, vcjwt.TypeVCDM2, kid)
	if err != nil {
		panic(err)
	}
	token, err := vcjwt.SignVCDM2(vcjwt.Credential{
		Issuer:     issuer,
		Subject:    "did:example:holder-0001",
		Types:      []string{"DrivingLicenceCredential"},
		ValidFrom:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
		Claims:     map[string]any{"givenName": "Mei"},
	}, signer)
	if err != nil {
		panic(err)
	}

	keys := func(kid string) (any, error) {
		return did.ResolveKey(context.Background(), did.Local{}, kid, did.AssertionMethod)
	}
	v, err := vcjwt.Verify(token, keys, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Format, v.Credential.Types, v.Credential.Claims["givenName"])

	_, err = vcjwt.Verify(token, keys, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	fmt.Println(errors.Is(err, vcjwt.ErrExpired))
	// Output:
	// vc+jwt [DrivingLicenceCredential] Mei
	// true
}
