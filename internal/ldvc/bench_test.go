package ldvc

import (
	"crypto/ed25519"
	"testing"
)

// BenchmarkVerify measures a full Verify of the golden DrivingLicence
// (structural checks, strict JSON-LD validation, URDNA2015 canonicalisation
// of document and proof options, Ed25519).
func BenchmarkVerify(b *testing.B) {
	signed := mustSign(b, drivingLicence())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(signed, keys, validNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the bare signature check, for comparison.
func BenchmarkEd25519Verify(b *testing.B) {
	msg := make([]byte, 64) // Ed25519Signature2020 signs two SHA-256 digests
	sig := ed25519.Sign(testKey, msg)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(testPub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkSign measures Sign of the same credential.
func BenchmarkSign(b *testing.B) {
	cred := drivingLicence()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(cred, testKey, issuerVM, created); err != nil {
			b.Fatal(err)
		}
	}
}
