package verifier_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/verifier"
)

// BenchmarkVerifyQR verifies a holder-bound counter QR (three claims) under the default
// policy with the seams in memory, as from a trust bundle: two signatures, status, schema and
// policy, as the plain SD-JWT+KB text and as the compact QR (EZ1). BenchmarkEd25519Verify is
// the bare rate beside it; the holder key is P-256, so the signature floor is one Ed25519 and
// one P-256 verification (BenchmarkECDSAP256Verify in internal/sdjwt).
func BenchmarkVerifyQR(b *testing.B) {
	w := newWorld(b)
	s := w.service(nil)
	plain := w.present(w.sdJWT(w.key1, "#key-1", tIssue), []string{"family_name", "given_name", "licence_class"}, w.holder)
	compact, err := compactqr.Encode(plain)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, qr string }{{"plain", plain}, {"compact", compact}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := s.Verify(ctx, tc.qr, verifier.Options{})
				if err != nil || !res.Valid {
					b.Fatalf("%v %v", err, res.Failed())
				}
			}
		})
	}
}

// BenchmarkVerifyJWTVC verifies a W3C JWT-VC with its Bitstring status under the credential
// policy.
func BenchmarkVerifyJWTVC(b *testing.B) {
	w := newWorld(b)
	s := w.service(nil)
	tok := w.vcJWT(true, w.key1, "#key-1", tIssue, validIdx)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Verify(ctx, tok, verifier.Options{Policy: "credential"})
		if err != nil || !res.Valid {
			b.Fatalf("%v %v", err, res.Failed())
		}
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 600)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}
