package sdjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// benchKeep is the three claims disclosed in the benchmark presentation.
var benchKeep = []string{"given_name", "family_name", "birthdate"}

// BenchmarkVerify measures what a verifier does with a presentation of three disclosed claims:
// Parse, VerifyIssuer, HolderKey and VerifyKeyBinding.
func BenchmarkVerify(b *testing.B) {
	for _, p := range []struct {
		name           string
		issuer, holder party
	}{
		{"Ed25519", edParty(1), edParty(2)},
		{"P-256", p256Party(b), p256Party(b)},
	} {
		b.Run(p.name, func(b *testing.B) {
			f := newFixture(b, p.issuer, p.holder)
			pres := f.present(b, benchKeep...)
			b.SetBytes(int64(len(pres)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := verifyAll(pres, p.issuer.pub, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse measures the syntax checks alone on the same presentation.
func BenchmarkParse(b *testing.B) {
	f := newFixture(b, edParty(1), edParty(2))
	pres := f.present(b, benchKeep...)
	b.SetBytes(int64(len(pres)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(pres); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssue measures issuing the test credential with six disclosable claims and three decoys.
func BenchmarkIssue(b *testing.B) {
	for _, p := range []party{edParty(1), p256Party(b)} {
		b.Run(p.name, func(b *testing.B) {
			signer := mustSigner(b, p.priv, TypeSDJWTVC, "issuer-1")
			claims := testClaims(edParty(2).pub)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Issue(signer, claims, testDisclosable, 3, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPresent measures a holder building a key-bound presentation of three claims.
func BenchmarkPresent(b *testing.B) {
	f := newFixture(b, edParty(1), edParty(2))
	kb := mustSigner(b, f.holder.priv, TypeKB, "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Present(f.issued, benchKeep, kb, testAud, testNonce, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// The bare standard library, for comparison: one signature over a 1 KiB message.

func BenchmarkEd25519Sign(b *testing.B) {
	k := ed25519.NewKeyFromSeed(seed32(1))
	msg := make([]byte, 1024)
	for b.Loop() {
		ed25519.Sign(k, msg)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	k := ed25519.NewKeyFromSeed(seed32(1))
	msg := make([]byte, 1024)
	sig := ed25519.Sign(k, msg)
	pub := k.Public().(ed25519.PublicKey)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkECDSAP256Verify(b *testing.B) {
	k := p256Party(b).priv.(*ecdsa.PrivateKey)
	h := sha256.Sum256(make([]byte, 1024))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h := sha256.Sum256(make([]byte, 1024))
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkIssuer is BenchmarkIssue through an Issuer (header encoded once, Ed25519 signed
// directly), the bulk path.
func BenchmarkIssuer(b *testing.B) {
	issuer, holder := edParty(1), edParty(2)
	is, err := NewIssuer(issuer.priv, TypeSDJWTVC, "issuer-1")
	if err != nil {
		b.Fatal(err)
	}
	claims := testClaims(holder.pub)
	for b.Loop() {
		if _, err := is.Issue(claims, testDisclosable, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}
