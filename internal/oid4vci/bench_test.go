package oid4vci

import (
	"context"
	"testing"
)

func BenchmarkVerifyProofEd25519(b *testing.B) {
	jwt := buildTestProof(b, testEd25519Key(), "")
	opts := proofOpts()
	for b.Loop() {
		if _, err := VerifyProof(context.Background(), jwt, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyProofP256(b *testing.B) {
	jwt := buildTestProof(b, testP256Key(b), "")
	opts := proofOpts()
	for b.Loop() {
		if _, err := VerifyProof(context.Background(), jwt, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOfferURI(b *testing.B) {
	s, err := EncodeOfferURI(testOffer())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := ParseOfferURI(s); err != nil {
			b.Fatal(err)
		}
	}
}
