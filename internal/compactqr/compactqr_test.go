package compactqr

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

var update = flag.Bool("update", false, "rewrite the golden compact QR in testdata")

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// noise returns n random bytes: data deflate cannot shrink.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	edIssuer, edHolder := edParty(1), edParty(2)
	p256Issuer, p256Holder := p256Party(t), p256Party(t)
	licence := issue(t, edIssuer, p256Holder, 0)
	withDecoys := issue(t, edIssuer, p256Holder, 5)
	edBound := issue(t, edIssuer, edHolder, 0)
	p256Signed := issue(t, p256Issuer, p256Holder, 0)
	foreign := enc([]byte(`["c2FsdHNhbHRzYWx0","licence_class","A1"]`))
	weird := enc([]byte("{\"x\":\"\xf8\xff\xfa\x00\"}")) // not UTF-8: every escape byte carried

	tests := []struct {
		name         string
		text         string
		issuer       party
		holder       party
		noVerify     bool // the presentation is broken on purpose; only the bytes must survive
		maxCompactSz int  // 0: only shorter than the plain text
	}{
		{name: "3 claims, P-256 holder (the counter QR)", text: present(t, licence, counterClaims, &p256Holder), issuer: edIssuer, holder: p256Holder, maxCompactSz: 1000},
		{name: "1 claim", text: present(t, licence, []string{"licence_class"}, &p256Holder), issuer: edIssuer, holder: p256Holder},
		{name: "all claims", text: present(t, licence, allClaims, &p256Holder), issuer: edIssuer, holder: p256Holder},
		{name: "no claims", text: present(t, licence, nil, &p256Holder), issuer: edIssuer, holder: p256Holder},
		{name: "5 decoy digests", text: present(t, withDecoys, counterClaims, &p256Holder), issuer: edIssuer, holder: p256Holder},
		{name: "Ed25519 holder", text: present(t, edBound, counterClaims, &edHolder), issuer: edIssuer, holder: edHolder},
		{name: "P-256 issuer", text: present(t, p256Signed, counterClaims, &p256Holder), issuer: p256Issuer, holder: p256Holder},
		{name: "no KB-JWT", text: present(t, licence, counterClaims, nil), issuer: edIssuer, holder: p256Holder},
		{name: "issued credential, every disclosure", text: licence, issuer: edIssuer, holder: p256Holder},
		{name: "golden presentation from a demo walk", text: readTestdata(t, "drivinglicence-3claims.txt"), noVerify: true},
		{name: "disclosure the issuer never signed", text: present(t, licence+foreign+"~", append(counterClaims[:2:2], "licence_class"), &p256Holder), noVerify: true},
		{name: "same disclosure twice", text: func() string {
			p := present(t, licence, []string{"family_name"}, nil)
			d := strings.Split(p, "~")[1]
			return p + d + "~"
		}(), noVerify: true},
		{name: "sd_hash of other disclosures", text: func() string {
			a := present(t, licence, counterClaims, &p256Holder)
			b := present(t, licence, []string{"family_name"}, &p256Holder)
			return a[:strings.LastIndexByte(a, '~')+1] + b[strings.LastIndexByte(b, '~')+1:]
		}(), noVerify: true},
		{name: "bytes 0xF8-0xFF in every part", text: weird + "." + weird + "." + weird + "~" + weird + "~" + weird + "." + weird + "." + weird, noVerify: true},
		{name: "unsigned, empty parts", text: enc([]byte(`{"alg":"none"}`)) + "..~", noVerify: true},
		{name: "bare issuer JWT and '~'", text: strings.Split(licence, "~")[0] + "~", noVerify: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !tt.noVerify {
				if err := verify(t, tt.text, tt.issuer, tt.holder); err != nil {
					t.Fatalf("test presentation does not verify before encoding: %v", err)
				}
			}
			c, err := Encode(tt.text)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !strings.HasPrefix(c, Prefix) || !IsCompact(c) {
				t.Errorf("compact text %.20q… lacks the prefix %q", c, Prefix)
			}
			if i := strings.IndexFunc(c[len(Prefix):], func(r rune) bool { return !strings.ContainsRune(base45Alphabet, r) }); i >= 0 {
				t.Errorf("compact text has a character outside the QR alphanumeric set at %d", i)
			}
			if strings.TrimSpace(c) != c {
				t.Error("compact text starts or ends with white space")
			}
			got, err := Decode(c)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tt.text {
				t.Fatalf("round trip changed the text:\n got  %s\n want %s", got, tt.text)
			}
			if !tt.noVerify {
				if err := verify(t, got, tt.issuer, tt.holder); err != nil {
					t.Errorf("decoded presentation does not verify: %v", err)
				}
			}
			if len(tt.text) > 200 && len(c) >= len(tt.text) {
				t.Errorf("compact form is %d characters, the plain text %d", len(c), len(tt.text))
			}
			if tt.maxCompactSz > 0 && len(c) > tt.maxCompactSz {
				t.Errorf("compact form is %d characters, want at most %d", len(c), tt.maxCompactSz)
			}
			if again, err := Encode(got); err != nil || again != c {
				t.Errorf("Encode is not deterministic: %v", err)
			}
		})
	}
}

// TestSize measures counter QRs against their plain form, in characters and QR versions
// (level M): the figures docs/compact-qr.md reports (go test -run TestSize -v).
func TestSize(t *testing.T) {
	t.Parallel()
	holder := edParty(2)
	licence := issue(t, edParty(1), holder, 0)
	for _, tt := range []struct {
		name string
		text string
	}{
		{"demo walk, P-256 holder", readTestdata(t, "drivinglicence-3claims.txt")},
		{"generated, Ed25519 holder", present(t, licence, counterClaims, &holder)},
		{"generated, 1 claim", present(t, licence, []string{"licence_class"}, &holder)},
		{"generated, all 7 claims", present(t, licence, allClaims, &holder)},
		{"generated, no KB-JWT", present(t, licence, counterClaims, nil)},
	} {
		c, err := Encode(tt.text)
		if err != nil {
			t.Fatal(err)
		}
		pv, err1 := qr.Version(tt.text)
		cv, err2 := qr.Version(c)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		t.Logf("%s: plain %d bytes, QR version %d; compact %d characters, QR version %d (level M)", tt.name, len(tt.text), pv, len(c), cv)
		if cv >= pv {
			t.Errorf("%s: compact QR version %d is not below the plain %d", tt.name, cv, pv)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	licence := issue(t, edParty(1), edParty(2), 0)
	jws := strings.Split(licence, "~")[0]
	tests := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", ErrUnsupported},
		{"no '~'", jws, ErrUnsupported},
		{"issuer JWT of two parts", "abc.def~", ErrUnsupported},
		{"padding", jws + "=~", ErrUnsupported},
		{"standard base64 alphabet", strings.Replace(jws, ".", ".+", 1) + "~", ErrUnsupported},
		{"non-canonical trailing bits", enc([]byte("{}"))[:2] + "f.e30.~", ErrUnsupported},
		{"disclosure with a line break", jws + "~WyJh\nIl0~", ErrUnsupported},
		{"KB-JWT of two parts", licence + "abc.def", ErrUnsupported},
		{"over MaxPresentation", jws + "~" + strings.Repeat("A", MaxPresentation) + "~", ErrTooLarge},
		{"too many disclosures", jws + strings.Repeat("~", sdjwt.MaxDisclosures+2), ErrTooLarge},
		{"compact form too long", jws + "~" + enc(noise(7000)) + "~", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Encode(tt.text)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Encode = %.30q, %v; want an error wrapping %v", c, err, tt.want)
			}
		})
	}
}

func TestIsCompact(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"EZ1:ABC":    true,
		"EZ1:":       true,
		"EZ2:ABC":    true, // a later version: Decode says which
		"EZ1234:X":   true,
		"EZ12345:X":  false,
		"EZ:ABC":     false,
		"EZ1":        false,
		"ez1:ABC":    false,
		"HC1:ABC":    false,
		"eyJhbGci~":  false,
		"":           false,
		"EZX:ABC":    false,
		" EZ1:ABC":   false,
		"EZ1;ABC":    false,
		"EZ1:EZ1:AB": true,
	} {
		if got := IsCompact(text); got != want {
			t.Errorf("IsCompact(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestDecodeRejects: every way an envelope can be broken gets its own error.
func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good, err := Encode(readTestdata(t, "drivinglicence-3claims.txt"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := base45Decode(good[len(Prefix):])
	if err != nil {
		t.Fatal(err)
	}
	withEnv := func(b []byte) string { return Prefix + base45Encode(b) }
	sig := bytes.Repeat([]byte{7}, 64)
	// rec returns a record of one issuer JWT with the given payload text part and n
	// disclosures "[]"; its signature is the 64 raw bytes of sig.
	rec := func(n byte, payload []byte, tail ...byte) []byte {
		r := []byte{0, n, partText, 2, '{', '}', partText, byte(len(payload))}
		r = append(r, payload...)
		r = append(r, partRaw, 64)
		for range n {
			r = append(r, partText, 2, '[', ']')
		}
		return append(r, tail...)
	}
	tests := []struct {
		name string
		text string
		want error
		msg  string
	}{
		{"bad prefix", "HC1:" + good[len(Prefix):], ErrPrefix, `want the prefix "EZ1:"`},
		{"plain SD-JWT", readTestdata(t, "drivinglicence-3claims.txt"), ErrPrefix, "prefix"},
		{"wrong version", "EZ2:" + good[len(Prefix):], ErrVersion, "EZ2"},
		{"version with a leading zero", "EZ01:" + good[len(Prefix):], ErrVersion, "EZ01"},
		{"lower case base45", good[:len(good)-3] + "abc", ErrBase45, "not in the base45 alphabet"},
		{"base45 with a line break", good[:20] + "\n" + good[21:], ErrBase45, "not in the base45 alphabet"},
		{"base45 length", Prefix + "ABCD", ErrBase45, "one character over"},
		{"base45 triple over 65535", Prefix + "GGW", ErrBase45, "over 65535"},
		{"base45 pair over 255", Prefix + "::", ErrBase45, "over 255"},
		{"empty", Prefix, ErrMalformed, "truncated"},
		{"truncated envelope", withEnv(env[:len(env)-12]), ErrMalformed, "deflate stream"},
		{"truncated raw section", withEnv(env[:200]), ErrMalformed, "raw section"},
		{"trailing bytes", withEnv(append(bytes.Clone(env), 0)), ErrMalformed, "after the deflate stream"},
		{"oversized inflate", envelope(t, nil, make([]byte, MaxRecord+1)), ErrTooLarge, "inflates to more than"},
		{"text over MaxText", Prefix + strings.Repeat("0", MaxText), ErrTooLarge, "characters"},
		{"reference to a missing disclosure", envelope(t, sig, rec(1, []byte{'"', escDigest, 1, '"'})), ErrReference, "digest of disclosure 2, the envelope carries 1"},
		{"digest reference outside the issuer payload", envelope(t, sig, []byte{0, 1, partText, 2, escDigest, 0}), ErrReference, "only in the issuer payload"},
		{"sd_hash outside the KB-JWT", envelope(t, sig, rec(0, []byte{escSDHash})), ErrReference, "only in the KB-JWT payload"},
		{"repeat of a raw value not yet taken", envelope(t, sig, rec(0, []byte{escAgain, 1})), ErrReference, "raw value 1 repeated"},
		{"unknown escape", envelope(t, sig, rec(0, []byte{0xfe})), ErrMalformed, "unknown escape code 0xfe"},
		{"number cut short", envelope(t, sig, rec(0, []byte{escNumber, 0x80})), ErrMalformed, "bad number"},
		{"number not minimally encoded", envelope(t, sig, rec(0, []byte{escNumber, 0x81, 0x00})), ErrMalformed, "bad number"},
		{"needless escape", envelope(t, sig, rec(0, []byte{escByte, 'a'})), ErrMalformed, "escaped needlessly"},
		{"escape at the end", envelope(t, sig, rec(0, []byte{escByte})), ErrMalformed, "escape at the end"},
		{"unknown part code", envelope(t, sig, []byte{0, 0, 7}), ErrMalformed, "unknown part code 0x7"},
		{"unknown header index", envelope(t, sig, []byte{0, 0, partTable, 9}), ErrMalformed, "no known header 9"},
		{"unknown flags", envelope(t, sig, []byte{0x80, 0}), ErrMalformed, "unknown flags"},
		{"non-minimal length", envelope(t, sig, []byte{0, 0x80, 0x00}), ErrMalformed, "not minimally encoded"},
		{"part longer than the record", envelope(t, sig, []byte{0, 0, partText, 50, '{'}), ErrMalformed, "only 1 left in the record"},
		{"raw part longer than the raw section", envelope(t, sig, []byte{0, 0, partText, 0, partText, 0, partRaw, 65}), ErrMalformed, "65 raw bytes wanted, 64 left"},
		{"raw bytes left over", envelope(t, append(bytes.Clone(sig), 1), rec(0, []byte("{}"))), ErrMalformed, "not used by any part"},
		{"record bytes left over", envelope(t, sig, rec(0, []byte("{}"), 0)), ErrMalformed, "after the last part"},
		{"KB flag without a KB-JWT", envelope(t, sig, append([]byte{flagKB}, rec(0, []byte("{}"))[1:]...)), ErrMalformed, "truncated before the KB-JWT header"},
		{"too many disclosures", envelope(t, sig, []byte{0, 0x81, 0x02}), ErrTooLarge, "257 disclosures"},
		{"amplifying repeats", func() string {
			big := bytes.Repeat([]byte{0x5a}, 2000)
			payload := []byte{escRaw, 0xd0, 0x0f} // 2000 raw bytes
			for range 40 {
				payload = append(payload, escAgain, 0)
			}
			r := []byte{0, 0, partText, 2, '{', '}', partText, byte(len(payload))}
			r = append(append(r, payload...), partRaw, 64)
			return envelope(t, append(big, sig...), r)
		}(), ErrTooLarge, "would exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(tt.text)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %.40q, %v; want an error wrapping %v", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

// TestDecodeHandBuilt decodes an envelope written byte by byte from the spec, each escape
// code once, so that the format is pinned by more than the encoder's own output.
func TestDecodeHandBuilt(t *testing.T) {
	t.Parallel()
	disc := []byte(`["salt","n","v"]`)
	discText := enc(disc)
	raw := []byte{1, 2, 3, 0xfb, 0xfc, 0xfd, 9, 9, 9}
	rec := []byte{flagKB, 1}
	rec = append(rec, partText, 7, '{', escByte, 0xff, escRaw, 3, escAgain, 0) // header: "{" 0xff AQID AQID
	payload := []byte{'[', '"', escDigest, 0, '"', ']'}
	rec = append(rec, partText, byte(len(payload)))
	rec = append(rec, payload...)
	rec = append(rec, partRaw, 3)                                                             // signature: fb fc fd
	rec = append(rec, partText, byte(len(disc)))                                              // the disclosure
	rec = append(rec, disc...)                                                                //
	rec = append(rec, partTable, 0)                                                           // KB header
	rec = append(rec, partText, 9, '[', escNumber, 0xe8, 0x07, ',', '"', escSDHash, '"', ']') // KB payload
	rec = append(rec, partRaw, 3)                                                             // KB signature: 09 09 09
	got, err := Decode(envelope(t, raw, rec))
	if err != nil {
		t.Fatal(err)
	}
	sdPart := enc([]byte("{\xffAQIDAQID")) + "." + enc([]byte(`["`+sdjwt.SDHash(discText)+`"]`)) + "." + enc([]byte{0xfb, 0xfc, 0xfd}) + "~" + discText + "~"
	want := sdPart + enc([]byte(`{"alg":"ES256","typ":"kb+jwt"}`)) + "." + enc([]byte(`[1000,"`+sdjwt.SDHash(sdPart)+`"]`)) + "." + enc([]byte{9, 9, 9})
	if got != want {
		t.Errorf("Decode =\n %s\nwant\n %s", got, want)
	}
}

// TestGolden pins the version-1 format on a presentation from a real demo walk: the checked-in
// compact text must always decode to it (a decoder change that breaks this breaks QR codes in
// the field), and Encode must still produce exactly that text.
func TestGolden(t *testing.T) {
	plain := readTestdata(t, "drivinglicence-3claims.txt")
	c, err := Encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "drivinglicence-3claims.ez1")
	if *update {
		if err := os.WriteFile(path, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readTestdata(t, "drivinglicence-3claims.ez1")
	got, err := Decode(golden)
	if err != nil || got != plain {
		t.Fatalf("the golden compact QR no longer decodes to its presentation (err %v)", err)
	}
	if c != golden {
		t.Errorf("Encode output drifted from %s (a compress/flate change can do that; the old text still decodes).\nIf intended, run go test ./internal/compactqr -run TestGolden -update and review.\n got  %s\n want %s", path, c, golden)
	}
}

// TestDictionaryFrozen: the preset dictionary is part of version 1.
func TestDictionaryFrozen(t *testing.T) {
	sum := sha256.Sum256(dictionary)
	const want = "cf4075a2030bbc53cadb8e50d238dbf261af77f7600e67cd3b33b88663c0e99e"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("the version-1 dictionary changed: SHA-256 %s, want %s (%d bytes). A new dictionary needs a new version.", got, want, len(dictionary))
	}
}
