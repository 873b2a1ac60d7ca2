package sdjwt

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// fuzzSeeds returns the SD-JWTs in testdata: the golden issued and presented tokens and the
// RFC 9901 section 5.2 presentation.
func fuzzSeeds(f *testing.F) []string {
	f.Helper()
	var seeds []string
	for _, name := range []string{"issued.golden", "presented.golden", "rfc9901-5.2-presentation.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, regexp.MustCompile(`\s+`).ReplaceAllString(string(b), ""))
	}
	return seeds
}

// FuzzParse checks that Parse never panics, fails only with ErrSyntax or ErrTooLarge, and that
// whatever it accepts re-encodes to exactly the input.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
		jwt, ds, _ := parts(s)
		f.Add(join(jwt, ds, ""))
	}
	for _, s := range []string{"", "~", "a.b.c~", "eyJhbGciOiJFZERTQSJ9.e30.~", "eyJhbGciOiJFZERTQSJ9.e30.~WyJhIiwiYiIsMV0~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sd, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Parse error %v wraps neither ErrSyntax nor ErrTooLarge", err)
			}
			return
		}
		if got := sd.Encode(); got != s {
			t.Fatalf("Encode(Parse(s)) != s\n s   %q\n got %q", s, got)
		}
		for _, d := range sd.Disclosures {
			if d.Digest != SDHash(d.Encoded) {
				t.Fatalf("digest of %q", d.Encoded)
			}
		}
	})
}

// FuzzVerify mutates the golden presentation (testdata/presented.golden: Ed25519 issuer and
// holder, whose signatures are not malleable) by replacing del bytes at off with ins, and checks
// that the result passes both the issuer signature and the key binding checks only when it is
// the unchanged presentation.
func FuzzVerify(f *testing.F) {
	seeds := fuzzSeeds(f)
	valid := seeds[1]
	issuerKey := edParty(1).pub
	if _, err := verifyAll(valid, issuerKey, testOpts); err != nil {
		f.Fatalf("golden presentation does not verify: %v", err)
	}
	f.Add(uint16(0), uint8(0), "")  // unchanged
	f.Add(uint16(0), uint8(1), "f") // header
	f.Add(uint16(60), uint8(4), "") // payload
	f.Add(uint16(len(valid)-1), uint8(1), "A")
	f.Add(uint16(len(valid)/2), uint8(0), "~")
	for i, c := range valid {
		if c == '~' {
			f.Add(uint16(i), uint8(1), "~~") // empty disclosure
			f.Add(uint16(i+1), uint8(0), "WyJhIiwiYiIsMV0~")
		}
	}
	f.Fuzz(func(t *testing.T, off uint16, del uint8, ins string) {
		o := int(off) % (len(valid) + 1)
		end := min(o+int(del), len(valid))
		s := valid[:o] + ins + valid[end:]
		_, err := verifyAll(s, issuerKey, testOpts)
		if s == valid {
			if err != nil {
				t.Fatalf("unchanged presentation rejected: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("mutated presentation verified:\n %q", s)
		}
	})
}
