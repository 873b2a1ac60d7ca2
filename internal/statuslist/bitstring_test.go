package statuslist

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testListCredential = "https://issuer.example.gov.tw/status/revocation/1"
	testIssuer         = "did:web:issuer.example.gov.tw"
)

func credentialSigner(t testing.TB, priv ed25519.PrivateKey) jose.Signer {
	t.Helper()
	s, err := NewCredentialSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, testIssuer+"#key-1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testBitstring is a minimum-size bitstring with entries 0, 7, 9 and the last one set.
func testBitstring(t testing.TB) *Bitstring {
	t.Helper()
	b, err := NewBitstring(MinBitstringEntries)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 7, 9, MinBitstringEntries - 1} {
		if err := b.Set(i, true); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestBitstringOrdering checks the W3C bit order: entry 0 is the left-most (most significant) bit
// of byte 0, the opposite of the Token Status List.
func TestBitstringOrdering(t *testing.T) {
	t.Parallel()
	b := testBitstring(t)
	data := b.Bytes()
	want := []byte{0x81, 0x40} // entries 0 and 7 in byte 0, entry 9 in byte 1
	if !bytes.Equal(data[:2], want) || data[len(data)-1] != 0x01 {
		t.Errorf("bytes = %x...%x, want %x...01", data[:2], data[len(data)-1:], want)
	}
	for i, want := range map[int]bool{0: true, 1: false, 7: true, 8: false, 9: true, MinBitstringEntries - 1: true} {
		if got, err := b.Get(i); err != nil || got != want {
			t.Errorf("Get(%d) = %v, %v, want %v", i, got, err, want)
		}
	}
	if err := b.Set(7, false); err != nil {
		t.Fatal(err)
	}
	if got := b.Bytes()[0]; got != 0x80 {
		t.Errorf("after clearing entry 7, byte 0 = %#x, want 0x80", got)
	}
	for _, i := range []int{-1, MinBitstringEntries} {
		if _, err := b.Get(i); !errors.Is(err, ErrIndex) {
			t.Errorf("Get(%d) error = %v, want ErrIndex", i, err)
		}
		if err := b.Set(i, true); !errors.Is(err, ErrIndex) {
			t.Errorf("Set(%d) error = %v, want ErrIndex", i, err)
		}
	}
}

func TestNewBitstringRejects(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -8, MinBitstringEntries - 8, MinBitstringEntries + 1} {
		if _, err := NewBitstring(n); !errors.Is(err, ErrMalformed) {
			t.Errorf("NewBitstring(%d) error = %v, want ErrMalformed", n, err)
		}
	}
}

// TestW3CExample decodes the encodedList of the W3C Bitstring Status List v1.0 example
// credential: 131,072 clear entries.
func TestW3CExample(t *testing.T) {
	t.Parallel()
	s, err := os.ReadFile(filepath.Join("testdata", "w3c-bitstring-example-encodedlist.txt"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeList(string(s), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != MinBitstringEntries || bytes.Count(b.Bytes(), []byte{0}) != MinBitstringEntries/8 {
		t.Errorf("Len() = %d, want %d clear entries", b.Len(), MinBitstringEntries)
	}
}

func TestEncodeDecodeList(t *testing.T) {
	t.Parallel()
	b := testBitstring(t)
	s, err := b.EncodeList()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "u") {
		t.Fatalf("EncodeList() = %q, want the multibase prefix u", s)
	}
	back, err := DecodeList(s, MinBitstringEntries)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Bytes(), b.Bytes()) {
		t.Error("DecodeList(EncodeList()) differs")
	}
	again, _ := b.EncodeList()
	if again != s {
		t.Error("EncodeList is not deterministic")
	}
}

func gzipB64(t testing.TB, data []byte, extra ...byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return "u" + b64.EncodeToString(append(buf.Bytes(), extra...))
}

func TestDecodeListRejects(t *testing.T) {
	t.Parallel()
	good, err := testBitstring(t).EncodeList()
	if err != nil {
		t.Fatal(err)
	}
	min := make([]byte, MinBitstringEntries/8)
	var two bytes.Buffer // two concatenated GZIP members
	for range 2 {
		zw := gzip.NewWriter(&two)
		zw.Write(min)
		zw.Close()
	}
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want error
	}{
		{"no prefix", good[1:], 1 << 20, ErrMalformed},
		{"base58btc prefix", "z" + good[1:], 1 << 20, ErrMalformed},
		{"padding", good + "=", 1 << 20, ErrMalformed},
		{"standard alphabet", strings.ReplaceAll(strings.ReplaceAll(good, "-", "+"), "_", "/") + "+", 1 << 20, ErrMalformed},
		{"line break", good[:10] + "\n" + good[10:], 1 << 20, ErrMalformed},
		{"zlib not gzip", "u" + "eNrbuRgAAhcBXQ", 1 << 20, ErrMalformed},
		{"empty", "u", 1 << 20, ErrMalformed},
		{"too short", gzipB64(t, min[:len(min)-1]), 1 << 20, ErrMalformed},
		{"trailing garbage", gzipB64(t, min, 0), 1 << 20, ErrMalformed},
		{"two members", "u" + b64.EncodeToString(two.Bytes()), 1 << 20, ErrMalformed},
		{"over limit", good, MinBitstringEntries - 8, ErrTooLarge},
		{"zero limit", good, 0, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeList(tc.in, tc.max)
			t.Log(err)
			if !errors.Is(err, tc.want) {
				t.Errorf("DecodeList() error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGzipBomb(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for range 100 {
		zw.Write(chunk)
	}
	zw.Close()
	if _, err := DecodeList("u"+b64.EncodeToString(buf.Bytes()), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeList(100 MiB bomb) error = %v, want ErrTooLarge", err)
	}
}

func TestBitstringCredential(t *testing.T) {
	t.Parallel()
	priv := edKey(1)
	b := testBitstring(t)
	cred, err := BitstringCredential(testListCredential, testIssuer, PurposeRevocation, testNow, b)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignBitstringCredential(cred, credentialSigner(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	got, purpose, id, err := VerifyBitstringCredential(tok, priv.Public(), testNow, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if purpose != PurposeRevocation || id != testListCredential || !bytes.Equal(got.Bytes(), b.Bytes()) {
		t.Errorf("VerifyBitstringCredential() = %q, %q, equal list %v", purpose, id, bytes.Equal(got.Bytes(), b.Bytes()))
	}

	if _, err := BitstringCredential(testListCredential, testIssuer, "message", testNow, b); !errors.Is(err, ErrMalformed) {
		t.Errorf("purpose message: %v, want ErrMalformed", err)
	}
	if _, err := BitstringCredential("", testIssuer, PurposeRevocation, testNow, b); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty id: %v, want ErrMalformed", err)
	}
	if _, err := SignBitstringCredential(cred, tokenSigner(t, priv)); !errors.Is(err, ErrMalformed) {
		t.Errorf("signer with typ statuslist+jwt: %v, want ErrMalformed", err)
	}
}

func TestVerifyBitstringCredentialRejects(t *testing.T) {
	t.Parallel()
	priv := edKey(1)
	pub := priv.Public()
	b := testBitstring(t)
	cred := func(edit func(c, subject map[string]any)) map[string]any {
		c, err := BitstringCredential(testListCredential, testIssuer, PurposeSuspension, testNow, b)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(c, c["credentialSubject"].(map[string]any))
		}
		return c
	}
	vcHeader := map[jose.HeaderKey]any{"typ": CredentialType, "cty": CredentialContentType}
	sign := func(c any) string { return rawJWS(t, jose.EdDSA, priv, vcHeader, c) }
	good := sign(cred(nil))
	for _, tc := range []struct {
		name string
		tok  string
		key  any
		now  time.Time
		want error
	}{
		{"wrong typ", rawJWS(t, jose.EdDSA, priv, map[jose.HeaderKey]any{"typ": TokenType}, cred(nil)), pub, testNow, ErrSignature},
		{"wrong cty", rawJWS(t, jose.EdDSA, priv, map[jose.HeaderKey]any{"typ": CredentialType, "cty": "vp"}, cred(nil)), pub, testNow, ErrSignature},
		{"HS256", rawJWS(t, jose.HS256, bytes.Repeat([]byte{1}, 32), vcHeader, cred(nil)), pub, testNow, ErrSignature},
		{"wrong key", good, edKey(2).Public(), testNow, ErrSignature},
		{"not yet valid", good, pub, testNow.Add(-time.Second), ErrNotYetValid},
		{"expired", sign(cred(func(c, _ map[string]any) { c["validUntil"] = "2026-01-01T01:00:00Z" })), pub, testNow.Add(time.Hour), ErrExpired},
		{"JWT exp passed", sign(cred(func(c, _ map[string]any) { c["exp"] = testNow.Unix() })), pub, testNow, ErrExpired},
		{"bad validFrom", sign(cred(func(c, _ map[string]any) { c["validFrom"] = "yesterday" })), pub, testNow, ErrMalformed},
		{"VCDM 1.1 context", sign(cred(func(c, _ map[string]any) { c["@context"] = []any{"https://www.w3.org/2018/credentials/v1"} })), pub, testNow, ErrMalformed},
		{"wrong type", sign(cred(func(c, _ map[string]any) { c["type"] = []any{"VerifiableCredential"} })), pub, testNow, ErrMalformed},
		{"no id", sign(cred(func(c, _ map[string]any) { delete(c, "id") })), pub, testNow, ErrMalformed},
		{"subject array", sign(cred(func(c, s map[string]any) { c["credentialSubject"] = []any{s} })), pub, testNow, ErrMalformed},
		{"subject type", sign(cred(func(_, s map[string]any) { s["type"] = "StatusList2021" })), pub, testNow, ErrMalformed},
		{"purpose message", sign(cred(func(_, s map[string]any) { s["statusPurpose"] = "message" })), pub, testNow, ErrMalformed},
		{"statusSize 2", sign(cred(func(_, s map[string]any) { s["statusSize"] = 2 })), pub, testNow, ErrMalformed},
		{"encodedList missing", sign(cred(func(_, s map[string]any) { delete(s, "encodedList") })), pub, testNow, ErrMalformed},
		{"duplicate member", sign([]byte(`{"id":"a","id":"b"}`)), pub, testNow, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := VerifyBitstringCredential(tc.tok, tc.key, tc.now, 1<<20)
			t.Log(err)
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifyBitstringCredential() error = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("list over limit", func(t *testing.T) {
		if _, _, _, err := VerifyBitstringCredential(good, pub, testNow, MinBitstringEntries-8); !errors.Is(err, ErrTooLarge) {
			t.Errorf("error = %v, want ErrTooLarge", err)
		}
	})
}

func TestBitstringEntry(t *testing.T) {
	t.Parallel()
	e := BitstringEntry(testListCredential, 94567, PurposeRevocation)
	want := `{"id":"` + testListCredential + `#94567","statusListCredential":"` + testListCredential + `","statusListIndex":"94567","statusPurpose":"revocation","type":"BitstringStatusListEntry"}`
	if got := jsonOf(t, e); got != want {
		t.Errorf("BitstringEntry JSON = %s, want %s", got, want)
	}
	var v any
	json.Unmarshal([]byte(want), &v)
	cred, idx, purpose, err := ParseBitstringEntry(v)
	if err != nil || cred != testListCredential || idx != 94567 || purpose != PurposeRevocation {
		t.Errorf("ParseBitstringEntry() = %q, %d, %q, %v", cred, idx, purpose, err)
	}
	for _, tc := range []struct{ name, in string }{
		{"not an object", `"x"`},
		{"wrong type", `{"type":"StatusList2021Entry","statusPurpose":"revocation","statusListIndex":"1","statusListCredential":"c"}`},
		{"index number", `{"type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":1,"statusListCredential":"c"}`},
		{"index leading zero", `{"type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"01","statusListCredential":"c"}`},
		{"index negative", `{"type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"-1","statusListCredential":"c"}`},
		{"index plus", `{"type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"+1","statusListCredential":"c"}`},
		{"no credential", `{"type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"1"}`},
		{"bad purpose", `{"type":"BitstringStatusListEntry","statusPurpose":"nope","statusListIndex":"1","statusListCredential":"c"}`},
		{"statusSize 2", `{"type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"1","statusListCredential":"c","statusSize":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := ParseBitstringEntry(v); !errors.Is(err, ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
		})
	}
}
