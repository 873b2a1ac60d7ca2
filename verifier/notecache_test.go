package verifier

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// countingVerifier counts the signature checks that reach it.
type countingVerifier struct {
	note.Verifier
	n *int
}

func (v countingVerifier) Verify(msg, sig []byte) bool { *v.n++; return v.Verifier.Verify(msg, sig) }

type countingVerifiers struct {
	v note.Verifier
	n *int
}

func (c countingVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	if name != c.v.Name() || hash != c.v.KeyHash() {
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	}
	return countingVerifier{c.v, c.n}, nil
}

// TestCachedNoteVerifiers: a checkpoint's signature is checked once however often it is
// opened; a forged signature or another text is checked (and refused) every time.
func TestCachedNoteVerifiers(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "ledger.example")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	n := 0
	vs := cacheNoteVerifiers(countingVerifiers{v, &n})
	signed, err := note.Sign(&note.Note{Text: "ledger.example\n5\nroot\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := note.Open(signed, vs); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 {
		t.Fatalf("%d signature checks for one checkpoint opened three times", n)
	}
	forged := append([]byte(nil), signed...)
	i := bytes.LastIndexByte(forged[:len(forged)-1], ' ') + 10 // inside the signature's base64
	forged[i] = map[bool]byte{true: 'A', false: 'B'}[forged[i] != 'A']
	for range 2 {
		if _, err := note.Open(forged, vs); err == nil {
			t.Fatal("a forged signature verified")
		}
	}
	if n != 3 {
		t.Fatalf("%d checks, want the forged note checked each time", n)
	}
}
