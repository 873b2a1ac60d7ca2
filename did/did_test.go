package did

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestLocalRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		new  func(any) (string, string, error)
		pub  any
	}{
		{"did:key Ed25519", func(p any) (string, string, error) { return NewKey(p) }, edPriv.Public()},
		{"did:key P-256", func(p any) (string, string, error) { return NewKey(p) }, ecPriv.Public()},
		{"did:jwk Ed25519", func(p any) (string, string, error) { return NewJWK(p) }, edPriv.Public()},
		{"did:jwk P-256", func(p any) (string, string, error) { return NewJWK(p) }, ecPriv.Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, kid, err := tc.new(tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Local{}.Resolve(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if doc.ID != d {
				t.Fatalf("doc.ID = %s, want %s", doc.ID, d)
			}
			for _, rel := range []Relationship{AssertionMethod, Authentication} {
				jwk, err := ResolveKey(ctx, Local{}, kid, rel)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := jwk.Thumbprint(crypto.SHA256)
				want, _ := (&jose.JSONWebKey{Key: tc.pub}).Thumbprint(crypto.SHA256)
				if len(got) == 0 || !bytes.Equal(got, want) {
					t.Fatalf("%s key differs from the key the DID was made from", rel)
				}
			}
			if _, err := doc.Key(d+"#other", AssertionMethod); !errors.Is(err, ErrKeyNotFound) {
				t.Fatalf("unknown fragment: err = %v", err)
			}
		})
	}
}

// An Ed25519 example from the did:key method specification (W3C CCG, "Ed25519" test vectors):
// the DID decodes to the key with x = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik".
func TestDIDKeySpecVector(t *testing.T) {
	const d = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	doc, err := Local{}.Resolve(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := doc.VerificationMethod[0].PublicKeyJwk.MarshalJSON()
	if !strings.Contains(string(b), `"x":"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"`) {
		t.Fatalf("public key = %s", b)
	}
}

func TestParseAndResolveErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrInvalidDID},
		{"did:", ErrInvalidDID},
		{"did:key", ErrInvalidDID},
		{"did:KEY:z6Mk", ErrInvalidDID},
		{"did:key:abc:", ErrInvalidDID},
		{"did:key:a b", ErrInvalidDID},
		{"did:key:%zz", ErrInvalidDID},
		{"did:key:" + strings.Repeat("z", MaxLength), ErrInvalidDID},
		{"did:key:zzzz", ErrInvalidDID},
		{"did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", ErrInvalidDID},
		{"did:jwk:!!!", ErrInvalidDID},
		{"did:jwk:eyJrdHkiOiJvY3QiLCJrIjoiYWJjZCJ9", ErrInvalidDID}, // a symmetric key
		{"did:web:example.com", ErrMethodNotSupported},
		{"did:ez:abc", ErrMethodNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 40)], func(t *testing.T) {
			if _, err := (Local{}).Resolve(ctx, tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("Resolve(%q) err = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "did:jwk:eyJrdHkiOiJPS1AifQ", "did:web:a%3A8080:b", "did:x:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, d.String())
		}
		d2, err := Parse(d.String())
		if err != nil || d2 != d {
			t.Fatalf("not idempotent: %v", err)
		}
		_, _ = Local{}.Resolve(context.Background(), s) // must not panic
	})
}

func TestMethods(t *testing.T) {
	ctx := context.Background()
	m := Methods{"key": Local{}}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	dk, _, _ := NewKey(priv.Public())
	if _, err := m.Resolve(ctx, dk); err != nil {
		t.Fatalf("did:key through Methods: %v", err)
	}
	dj, _, _ := NewJWK(priv.Public())
	if _, err := m.Resolve(ctx, dj); !errors.Is(err, ErrMethodNotSupported) {
		t.Fatalf("did:jwk not configured: err = %v", err)
	}
	if _, err := m.Resolve(ctx, "nope"); !errors.Is(err, ErrInvalidDID) {
		t.Fatalf("bad DID: err = %v", err)
	}
}
