package compactqr

import (
	"errors"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/sdjwt"
)

// FuzzDecode feeds Decode arbitrary text, seeded with the golden compact QR and broken
// variants of it. Properties: no panic; an error always wraps one of the package's errors;
// a success is an SD-JWT within MaxPresentation that Encode carries again and that its
// compact form decodes back to.
func FuzzDecode(f *testing.F) {
	golden := readTestdata(f, "drivinglicence-3claims.ez1")
	f.Add(golden)
	f.Add(golden[:len(golden)/2])
	f.Add(golden + "00")
	f.Add("EZ2:" + golden[4:])
	f.Add(Prefix)
	f.Add(Prefix + "GGW")
	f.Add(readTestdata(f, "drivinglicence-3claims.txt"))
	known := []error{ErrPrefix, ErrVersion, ErrBase45, ErrMalformed, ErrTooLarge, ErrReference}
	f.Fuzz(func(t *testing.T, text string) {
		out, err := Decode(text)
		if err != nil {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("Decode error %v wraps none of the package's errors", err)
		}
		if len(out) > MaxPresentation || !strings.Contains(out, "~") {
			t.Fatalf("Decode returned %d bytes that are not an SD-JWT", len(out))
		}
		c, err := Encode(out)
		if errors.Is(err, ErrTooLarge) {
			return // a hand-made envelope can be denser than Encode's
		}
		if err != nil {
			t.Fatalf("Encode of a decoded presentation: %v", err)
		}
		if again, err := Decode(c); err != nil || again != out {
			t.Fatalf("re-encoded compact QR decodes to something else (err %v)", err)
		}
	})
}

// FuzzRoundTrip builds SD-JWT-shaped text from arbitrary bytes (with the digest of its first
// disclosure in the payload and, optionally, a KB-JWT whose payload holds the true sd_hash,
// so the shortcuts are exercised) and checks that Encode's output decodes to exactly that
// text. It also feeds Encode the raw fuzz string itself.
func FuzzRoundTrip(f *testing.F) {
	plain := readTestdata(f, "drivinglicence-3claims.txt")
	f.Add(plain, []byte(`{"alg":"EdDSA"}`), []byte(`{"iat":1795245717,"_sd":[`), []byte(`["abc","n",1]`), []byte(`{"nonce":"2AHLAJnwvDQZgM-d"}`), true)
	f.Add("", []byte{0xf8, 0xff}, []byte{0xfd, 0x01}, []byte("\xfb\x10"), []byte{}, false)
	f.Fuzz(func(t *testing.T, text string, header, payload, disc, kbPayload []byte, withKB bool) {
		if c, err := Encode(text); err == nil {
			if got, err := Decode(c); err != nil || got != text {
				t.Fatalf("Encode(%.40q) does not decode back (err %v)", text, err)
			}
		}
		d := enc(disc)
		p := append(append([]byte(nil), payload...), sdjwt.SDHash(d)...)
		s := enc(header) + "." + enc(p) + "." + enc(header) + "~" + d + "~"
		if withKB {
			kb := append(append([]byte(nil), kbPayload...), sdjwt.SDHash(s)...)
			s += enc([]byte(`{"alg":"ES256","typ":"kb+jwt"}`)) + "." + enc(kb) + "." + enc(disc)
		}
		c, err := Encode(s)
		if errors.Is(err, ErrTooLarge) {
			return
		}
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if got, err := Decode(c); err != nil || got != s {
			t.Fatalf("round trip changed the text (err %v)", err)
		}
	})
}
