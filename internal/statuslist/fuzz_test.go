package statuslist

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bits and lst to Decode. It must not panic, must fail only with
// ErrMalformed or ErrTooLarge, and whatever it accepts must survive Encode and Decode again with
// the same bits and byte array.
func FuzzDecode(f *testing.F) {
	for _, v := range loadIETFVectors(f) {
		f.Add(v.Bits, v.Lst)
	}
	f.Add(1, "eNrbuRgAAhcBXQ==")
	f.Add(8, "eNoDAAAAAAE")
	l, _ := New(1000, 2)
	l.Set(3, Suspended)
	m, _ := l.Encode()
	f.Add(2, m["lst"].(string))
	const maxSize = 1 << 16
	f.Fuzz(func(t *testing.T, bits int, lst string) {
		l, err := Decode(map[string]any{"bits": bits, "lst": lst}, maxSize)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		if l.Bits() != bits || l.Size() <= 0 || len(l.Bytes())*8/bits != l.Size() {
			t.Fatalf("accepted list has bits %d, size %d, %d bytes", l.Bits(), l.Size(), len(l.Bytes()))
		}
		m, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(m, maxSize)
		if err != nil {
			t.Fatalf("Decode(Encode(accepted)): %v", err)
		}
		if back.Bits() != l.Bits() || !bytes.Equal(back.Bytes(), l.Bytes()) {
			t.Fatal("Decode(Encode(l)) differs from l")
		}
		// Encode is canonical for our own output.
		m2, _ := back.Encode()
		if m2["lst"] != m["lst"] {
			t.Fatal("Encode is not deterministic")
		}
	})
}

// FuzzDecodeList feeds arbitrary strings to DecodeList with the same properties as FuzzDecode.
func FuzzDecodeList(f *testing.F) {
	if s, err := os.ReadFile(filepath.Join("testdata", "w3c-bitstring-example-encodedlist.txt")); err == nil {
		f.Add(string(s))
	}
	b, _ := NewBitstring(MinBitstringEntries)
	b.Set(5, true)
	s, _ := b.EncodeList()
	f.Add(s)
	f.Add("u")
	f.Add("uH4sI")
	const maxEntries = 4 * MinBitstringEntries
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeList(s, maxEntries)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		if !strings.HasPrefix(s, "u") || b.Len() < MinBitstringEntries || b.Len() > maxEntries {
			t.Fatalf("accepted %d entries from %.20q", b.Len(), s)
		}
		enc, err := b.EncodeList()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeList(enc, maxEntries)
		if err != nil || !bytes.Equal(back.Bytes(), b.Bytes()) {
			t.Fatalf("DecodeList(EncodeList(accepted)) = %v", err)
		}
	})
}

// FuzzVerifyToken mutates the golden Status List Token: anything but the original must be
// rejected with one of the package's errors, and nothing may panic.
func FuzzVerifyToken(f *testing.F) {
	good := goldenToken(f)
	f.Add(good)
	f.Add(good[:len(good)-1])
	pub := edKey(1).Public()
	f.Fuzz(func(t *testing.T, tok string) {
		l, _, err := VerifyToken(tok, pub, testURI, testNow, 1<<16)
		if err == nil {
			if tok != good {
				t.Fatalf("a mutated token verified: %q", tok)
			}
			if l == nil {
				t.Fatal("nil list without error")
			}
			return
		}
		for _, want := range []error{ErrMalformed, ErrTooLarge, ErrSignature, ErrExpired, ErrNotYetValid, ErrSubject} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("error %v wraps none of the package's sentinels", err)
	})
}
