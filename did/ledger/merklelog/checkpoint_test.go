package merklelog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// goldenCheckpoint is the checkpoint of testdata/checkpoint.golden.
func goldenCheckpoint() Checkpoint {
	root := sha256.Sum256([]byte("golden root"))
	block := sha256.Sum256([]byte("golden block"))
	return Checkpoint{Origin: testOrigin, Size: 123456, Root: root[:], Height: 789, Block: block[:]}
}

func TestCheckpointGolden(t *testing.T) {
	t.Parallel()
	signer, verifiers := ledgerKey(t)
	signed, err := SignCheckpoint(goldenCheckpoint(), signer)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "checkpoint.golden", signed)
	got, err := OpenCheckpoint(signed, verifiers)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, goldenCheckpoint()) {
		t.Errorf("OpenCheckpoint = %+v, want %+v", got, goldenCheckpoint())
	}
}

func TestCheckpointText(t *testing.T) {
	t.Parallel()
	c := goldenCheckpoint()
	want := testOrigin + "\n123456\n" + base64.StdEncoding.EncodeToString(c.Root) + "\nheight 789\nblock " +
		base64.StdEncoding.EncodeToString(c.Block) + "\n"
	if got := string(c.Text()); got != want {
		t.Errorf("Text() =\n%s\nwant\n%s", got, want)
	}
	c.Block, c.Height = nil, 0
	want = testOrigin + "\n123456\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
	if got := string(c.Text()); got != want {
		t.Errorf("Text() without block =\n%s\nwant\n%s", got, want)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	t.Parallel()
	signer, verifiers := ledgerKey(t)
	g := goldenCheckpoint()
	tests := map[string]Checkpoint{
		"golden":          g,
		"empty log":       {Origin: testOrigin, Size: 0, Root: EmptyRoot(), Height: 0, Block: g.Block},
		"no extensions":   {Origin: testOrigin, Size: 5, Root: g.Root},
		"largest numbers": {Origin: testOrigin, Size: math.MaxUint64, Root: g.Root, Height: math.MaxUint64, Block: g.Block},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			signed, err := SignCheckpoint(c, signer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := OpenCheckpoint(signed, verifiers)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip = %+v, want %+v", got, c)
			}
			again, _ := SignCheckpoint(got, signer)
			if !bytes.Equal(again, signed) {
				t.Error("signing the same checkpoint twice gave different bytes")
			}
		})
	}
}

// signText signs arbitrary note text with signer, bypassing SignCheckpoint's checks.
func signText(t *testing.T, text string, signer note.Signer) []byte {
	t.Helper()
	signed, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestOpenCheckpointRejects(t *testing.T) {
	t.Parallel()
	signer, verifiers := ledgerKey(t)
	otherSigner, otherVerifiers := testKey(t, testOrigin, "another ledger key")
	wrongNameSigner, wrongNameVerifiers := testKey(t, "other.example/log", "merklelog test ledger key")
	g := goldenCheckpoint()
	good, err := SignCheckpoint(g, signer)
	if err != nil {
		t.Fatal(err)
	}
	root := base64.StdEncoding.EncodeToString(g.Root)
	block := base64.StdEncoding.EncodeToString(g.Block)
	text := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	replace := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }

	// Flip one character of the signature, keeping it valid base64.
	sigAt := bytes.LastIndex(good, []byte(" ")) + 10
	badSig := bytes.Clone(good)
	badSig[sigAt] ^= 0x01

	tests := []struct {
		name      string
		signed    []byte
		verifiers note.Verifiers
	}{
		{"tampered signature", badSig, verifiers},
		{"tampered size", replace("\n123456\n", "\n123457\n"), verifiers},
		{"tampered height", replace("height 789", "height 788"), verifiers},
		{"unknown key", good, otherVerifiers},
		{"nil verifiers", good, nil},
		{"signed by another key of the same name", signText(t, string(g.Text()), otherSigner), verifiers},
		{"origin is not the key name", signText(t, string(g.Text()), wrongNameSigner), wrongNameVerifiers},
		{"origin of another log", signText(t, strings.Replace(string(g.Text()), testOrigin, "ezheng.example/ledger/other", 1), signer), verifiers},
		{"empty origin", signText(t, text("", "1", root), signer), verifiers},
		{"size with leading zero", signText(t, text(testOrigin, "0123456", root, "height 789", "block "+block), signer), verifiers},
		{"size with plus", signText(t, text(testOrigin, "+1", root), signer), verifiers},
		{"size negative", signText(t, text(testOrigin, "-1", root), signer), verifiers},
		{"size overflows", signText(t, text(testOrigin, "18446744073709551616", root), signer), verifiers},
		{"size with space", signText(t, text(testOrigin, "1 ", root), signer), verifiers},
		{"root too short", signText(t, text(testOrigin, "1", base64.StdEncoding.EncodeToString(g.Root[:31])), signer), verifiers},
		{"root unpadded", signText(t, text(testOrigin, "1", strings.TrimRight(root, "=")), signer), verifiers},
		{"root base64url", signText(t, text(testOrigin, "1", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))), signer), verifiers},
		{"root non-canonical padding bits", signText(t, text(testOrigin, "1", root[:42]+"B="), signer), verifiers},
		{"two lines", signText(t, text(testOrigin, "1"), signer), verifiers},
		{"unknown extension", signText(t, text(testOrigin, "1", root, "timestamp 5"), signer), verifiers},
		{"height without block", signText(t, text(testOrigin, "1", root, "height 5"), signer), verifiers},
		{"block before height", signText(t, text(testOrigin, "1", root, "block "+block, "height 5"), signer), verifiers},
		{"extra line after block", signText(t, text(testOrigin, "1", root, "height 5", "block "+block, "x"), signer), verifiers},
		{"height leading zero", signText(t, text(testOrigin, "1", root, "height 05", "block "+block), signer), verifiers},
		{"block too short", signText(t, text(testOrigin, "1", root, "height 5", "block "+base64.StdEncoding.EncodeToString(g.Block[:20])), signer), verifiers},
		{"double space", signText(t, text(testOrigin, "1", root, "height  5", "block "+block), signer), verifiers},
		{"no signature", []byte(string(g.Text()) + "\n"), verifiers},
		{"oversized", append(bytes.Repeat([]byte("x"), MaxCheckpointSize), good...), verifiers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if c, err := OpenCheckpoint(tc.signed, tc.verifiers); !errors.Is(err, ErrCheckpoint) {
				t.Errorf("OpenCheckpoint = %+v, %v; want ErrCheckpoint", c, err)
			}
		})
	}
	// A cosignature by a key the verifier does not know is ignored.
	cosigned := signText(t, string(g.Text()), signer)
	n, err := note.Open(cosigned, verifiers)
	if err != nil {
		t.Fatal(err)
	}
	if cosigned, err = note.Sign(n, otherSigner); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(cosigned, verifiers); err != nil {
		t.Errorf("checkpoint with an unknown cosignature: %v", err)
	}
}

func TestSignCheckpointRejects(t *testing.T) {
	t.Parallel()
	signer, _ := ledgerKey(t)
	g := goldenCheckpoint()
	tests := map[string]func(c *Checkpoint){
		"empty origin":           func(c *Checkpoint) { c.Origin = "" },
		"origin with newline":    func(c *Checkpoint) { c.Origin = testOrigin + "\n5" },
		"origin with space":      func(c *Checkpoint) { c.Origin = "ezheng example" },
		"origin not key name":    func(c *Checkpoint) { c.Origin = "ezheng.example/ledger/other" },
		"short root":             func(c *Checkpoint) { c.Root = c.Root[:31] },
		"short block":            func(c *Checkpoint) { c.Block = c.Block[:31] },
		"height without a block": func(c *Checkpoint) { c.Block = nil },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := goldenCheckpoint()
			c.Root, c.Block = bytes.Clone(g.Root), bytes.Clone(g.Block)
			change(&c)
			if _, err := SignCheckpoint(c, signer); !errors.Is(err, ErrCheckpoint) {
				t.Errorf("SignCheckpoint err = %v, want ErrCheckpoint", err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	s1, v1, err := KeyFromSeed(testOrigin, seed("k"))
	if err != nil {
		t.Fatal(err)
	}
	s2, v2, _ := KeyFromSeed(testOrigin, seed("k"))
	if s1 != s2 || v1 != v2 {
		t.Error("KeyFromSeed is not deterministic")
	}
	if !strings.HasPrefix(s1, "PRIVATE+KEY+"+testOrigin+"+") || !strings.HasPrefix(v1, testOrigin+"+") {
		t.Errorf("KeyFromSeed encodings %q / %q", s1, v1)
	}
	for name, call := range map[string]func() error{
		"short seed":      func() error { _, _, err := KeyFromSeed(testOrigin, make([]byte, 31)); return err },
		"name with plus":  func() error { _, _, err := KeyFromSeed("a+b", seed("k")); return err },
		"name with space": func() error { _, _, err := NewKey("a b"); return err },
		"empty name":      func() error { _, _, err := NewKey(""); return err },
	} {
		if call() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	skey, vkey, err := NewKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if skey == s1 {
		t.Error("NewKey returned the seeded key")
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := SignCheckpoint(goldenCheckpoint(), signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(signed, note.VerifierList(verifier)); err != nil {
		t.Errorf("checkpoint signed with NewKey: %v", err)
	}
}
