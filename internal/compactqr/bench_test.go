package compactqr

import "testing"

// BenchmarkEncode makes the compact form of the 3-claim counter QR (the wallet's cost per QR,
// on top of signing the KB-JWT).
func BenchmarkEncode(b *testing.B) {
	plain := readTestdata(b, "drivinglicence-3claims.txt")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(plain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode expands it again (the verifier's cost per scan, before any check).
func BenchmarkDecode(b *testing.B) {
	c, err := Encode(readTestdata(b, "drivinglicence-3claims.txt"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(c); err != nil {
			b.Fatal(err)
		}
	}
}
