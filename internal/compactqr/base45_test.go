package compactqr

import (
	"bytes"
	"errors"
	"testing"
)

// TestBase45RFC9285 checks the examples of RFC 9285, sections 4.3 and 4.4.
func TestBase45RFC9285(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ raw, b45 string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
		{"\xff\xff", "FGW"},
		{"\x00", "00"},
		{"\xff", "U5"},
	} {
		if got := base45Encode([]byte(tt.raw)); got != tt.b45 {
			t.Errorf("base45Encode(%q) = %q, want %q", tt.raw, got, tt.b45)
		}
		got, err := base45Decode(tt.b45)
		if err != nil || string(got) != tt.raw {
			t.Errorf("base45Decode(%q) = %q, %v; want %q", tt.b45, got, err, tt.raw)
		}
	}
}

func TestBase45Rejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"GGW",     // 65536: RFC 9285 section 6 says a decoder must reject it
		"A",       // one character left over
		"ABCD",    // likewise after a triple
		"bb8",     // lower case
		"BB8\n",   // white space other than the space character
		"BB8=",    // not in the alphabet
		"V5",      // final pair 45*5+31 = 256
		"::",      // final pair 44*45+44
		":::",     // triple 91124
		"BB\x008", // NUL
	} {
		if got, err := base45Decode(s); !errors.Is(err, ErrBase45) {
			t.Errorf("base45Decode(%q) = %q, %v; want an ErrBase45", s, got, err)
		}
	}
}

func TestBase45AllPairs(t *testing.T) {
	t.Parallel()
	b := make([]byte, 0, 2*65536+1)
	for n := 0; n < 65536; n++ {
		b = append(b, byte(n>>8), byte(n))
	}
	b = append(b, 0xff)
	s := base45Encode(b)
	if len(s) != 65536*3+2 || s[len(s)-1] == ' ' {
		t.Fatalf("encoded length %d, last character %q", len(s), s[len(s)-1])
	}
	got, err := base45Decode(s)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("round trip of every pair failed: %v", err)
	}
}
