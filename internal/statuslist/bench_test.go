package statuslist

import (
	"crypto/sha256"
	"testing"
	"time"
)

// benchList is a 1,000,000-entry 2-bit list with one entry in a thousand revoked, at scattered
// indices, as a list in production would look.
func benchList(b *testing.B) *List {
	b.Helper()
	l, err := New(1_000_000, 2)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < l.Size(); i += 997 {
		l.Set(i, Invalid)
	}
	return l
}

// BenchmarkRevoke measures what one revocation costs the issuer: Set one entry of a 1,000,000-entry
// 2-bit list, then Encode the whole list again for re-publishing.
func BenchmarkRevoke(b *testing.B) {
	l := benchList(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % l.Size()
		if err := l.Set(i, Invalid); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Encode(); err != nil {
			b.Fatal(err)
		}
		l.Set(i, Valid) // keep the list the same size for every iteration
	}
	m, _ := l.Encode()
	b.ReportMetric(float64(len(m["lst"].(string))), "lst-bytes")
}

// BenchmarkRevokeSigned is BenchmarkRevoke plus signing the Status List Token (Ed25519).
func BenchmarkRevokeSigned(b *testing.B) {
	l := benchList(b)
	signer := tokenSigner(b, edKey(1))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % l.Size()
		l.Set(i, Invalid)
		if _, err := SignToken(l, testURI, testNow, time.Hour, signer); err != nil {
			b.Fatal(err)
		}
		l.Set(i, Valid)
	}
}

// BenchmarkDecode measures a verifier decoding that list.
func BenchmarkDecode(b *testing.B) {
	m, err := benchList(b).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(m, 1_000_000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyToken measures a verifier checking and decoding the signed list.
func BenchmarkVerifyToken(b *testing.B) {
	tok, err := SignToken(benchList(b), testURI, testNow, time.Hour, tokenSigner(b, edKey(1)))
	if err != nil {
		b.Fatal(err)
	}
	pub := edKey(1).Public()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := VerifyToken(tok, pub, testURI, testNow, 1_000_000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigest is the bare SHA-256 of the encoded list, for comparison: the digest anchored on
// the ledger costs this much per re-publication.
func BenchmarkDigest(b *testing.B) {
	tok, err := SignToken(benchList(b), testURI, testNow, time.Hour, tokenSigner(b, edKey(1)))
	if err != nil {
		b.Fatal(err)
	}
	served := []byte(tok)
	b.SetBytes(int64(len(served)))
	for b.Loop() {
		_ = sha256.Sum256(served)
	}
}

// BenchmarkDigestRaw is SHA-256 of the uncompressed 250,000-byte array, an upper bound.
func BenchmarkDigestRaw(b *testing.B) {
	data := benchList(b).Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_ = Digest(data)
	}
}
