package vcjwt

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzVerify feeds Verify mutations of the golden tokens (and a few hand-made seeds) and checks
// that it never panics, that every rejection names exactly one failed check, and that nothing but
// the golden tokens themselves verifies: any change to a signed token must be caught.
func FuzzVerify(f *testing.F) {
	golden := map[string]bool{}
	for _, g := range goldens {
		b, err := os.ReadFile(filepath.Join("testdata", g.file))
		if err != nil {
			f.Fatal(err)
		}
		golden[string(b)] = true
		f.Add(string(b), int64(0))
		f.Add(string(b), int64(testUntil.Sub(testNow)))
	}
	f.Add("", int64(0))
	f.Add("a.b.c", int64(0))
	f.Add("eyJhbGciOiJub25lIn0.e30.", int64(0))

	p := edParty(f, 1)
	keys := func(kid string) (any, error) {
		if kid != p.kid {
			return nil, errors.New("unknown kid")
		}
		return p.publicKey, nil
	}
	f.Fuzz(func(t *testing.T, token string, offset int64) {
		now := testNow.Add(time.Duration(offset))
		if now.IsZero() {
			return
		}
		v, err := Verify(token, keys, now, time.Minute)
		if err != nil {
			if v != nil {
				t.Fatalf("Verify returned both %v and %v", v, err)
			}
			if n := countSentinels(err); n != 1 {
				t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
			}
			return
		}
		if !golden[token] {
			t.Fatalf("a token that is not a golden token verified: %q", token)
		}
		if v.KID != p.kid || v.Credential.Issuer != p.did {
			t.Fatalf("verified golden token with KID %q issuer %q", v.KID, v.Credential.Issuer)
		}
	})
}
