package compactqr

import (
	"fmt"
	"strings"
)

// base45Alphabet is the alphabet of RFC 9285, section 4: the 45 characters of the QR code
// alphanumeric mode, in value order.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its base45 value, or -1 for a byte outside the alphabet.
var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// base45Encode encodes b as RFC 9285 base45: each two bytes n = b0*256 + b1 become the three
// characters c, d, e with n = c + d*45 + e*45², least significant first; a final single byte
// becomes two characters. The output never ends in a space: the last character of a triple
// is at most 65535/2025 = 32 and that of a pair at most 255/45 = 5.
func base45Encode(b []byte) string {
	var s strings.Builder
	s.Grow(len(b)/2*3 + len(b)%2*2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45%45])
		s.WriteByte(base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45])
	}
	return s.String()
}

// base45Decode decodes RFC 9285 base45 strictly: every character must be in the alphabet (no
// lower case, no other white space), the length must not leave a single character over, a
// triple must not exceed 65535 and a final pair must not exceed 255 (RFC 9285, section 4.2).
// Errors wrap ErrBase45 and name the offset.
func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves one character over", ErrBase45, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+len(s)%3/2)
	for i := 0; i < len(s); i += 3 {
		k := min(3, len(s)-i)
		n := 0
		mul := 1
		for j := 0; j < k; j++ {
			v := base45Value[s[i+j]]
			if v < 0 {
				return nil, fmt.Errorf("%w: byte %#x at offset %d is not in the base45 alphabet", ErrBase45, s[i+j], i+j)
			}
			n += int(v) * mul
			mul *= 45
		}
		if k == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("%w: triple at offset %d is %d, over 65535", ErrBase45, i, n)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, fmt.Errorf("%w: final pair at offset %d is %d, over 255", ErrBase45, i, n)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
