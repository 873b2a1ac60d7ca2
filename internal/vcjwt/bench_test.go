package vcjwt

import "testing"

func BenchmarkSignVCDM2(b *testing.B) {
	p := edParty(b, 1)
	c, s := testCredential(p.did), p.signer(b, TypeVCDM2)
	for b.Loop() {
		if _, err := SignVCDM2(c, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, kind := range []string{"Ed25519", "P-256"} {
		b.Run(kind, func(b *testing.B) {
			p := newParty(b, kind, "key")
			tok, err := SignVCDM2(testCredential(p.did), p.signer(b, TypeVCDM2))
			if err != nil {
				b.Fatal(err)
			}
			keys := func(string) (any, error) { return p.publicKey, nil }
			for b.Loop() {
				if _, err := Verify(tok, keys, testNow, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
