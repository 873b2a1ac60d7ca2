package sdjwt_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/sdjwt"
)

// Example shows the whole life of a credential: the issuer issues it with two selectively
// disclosable claims, the holder presents one of them bound to the verifier's nonce, and the
// verifier checks everything.
func Example() {
	_, issuerKey, _ := ed25519.GenerateKey(rand.Reader)
	holderPub, holderKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()

	// Issuer.
	signer, err := sdjwt.NewSigner(issuerKey, sdjwt.TypeSDJWTVC, "issuer-key-1")
	if err != nil {
		panic(err)
	}
	issued, err := sdjwt.Issue(signer, map[string]any{
		"iss":         "https://issuer.example.gov.tw",
		"vct":         "https://ezheng.example/credentials/driving-licence",
		"exp":         now.Add(365 * 24 * time.Hour).Unix(),
		"cnf":         map[string]any{"jwk": jose.JSONWebKey{Key: holderPub}},
		"given_name":  "Mei",
		"family_name": "Zheng",
	}, []string{"given_name", "family_name"}, 0, rand.Reader)
	if err != nil {
		panic(err)
	}

	// Holder: reveal only given_name to the verifier that sent this nonce.
	kbSigner, err := sdjwt.NewSigner(holderKey, sdjwt.TypeKB, "")
	if err != nil {
		panic(err)
	}
	pres, err := sdjwt.Present(issued, []string{"given_name"}, kbSigner, "https://verifier.example", "nonce-123", now)
	if err != nil {
		panic(err)
	}

	// Verifier.
	sd, err := sdjwt.Parse(pres)
	if err != nil {
		panic(err)
	}
	claims, err := sd.VerifyIssuer(issuerKey.Public())
	if err != nil {
		panic(err)
	}
	hk, err := sdjwt.HolderKey(claims)
	if err != nil {
		panic(err)
	}
	err = sd.VerifyKeyBinding(hk, sdjwt.KeyBindingOptions{
		Audience: "https://verifier.example",
		Nonce:    "nonce-123",
		Now:      now,
		MaxAge:   time.Minute,
		Skew:     5 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(claims["given_name"], claims["family_name"])
	// Output: Mei <nil>
}
