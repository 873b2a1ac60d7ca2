package sdjwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenIssue issues the credential of testdata/issued.golden: Ed25519 issuer and holder keys from
// fixed seeds, fixed claims, two decoys, and fixedReader(1) as randomness.
func goldenIssue(t testing.TB) string {
	t.Helper()
	issuer := edParty(1)
	holder := edParty(2)
	issued, err := Issue(mustSigner(t, issuer.priv, TypeSDJWTVC, "issuer-1"), testClaims(holder.pub), testDisclosable, 2, fixedReader(1))
	if err != nil {
		t.Fatal(err)
	}
	return issued
}

// goldenPresent presents given_name and licence_number of issued, bound with the holder key at
// testNow for testAud and testNonce: testdata/presented.golden.
func goldenPresent(t testing.TB, issued string) string {
	t.Helper()
	pres, err := Present(issued, []string{"given_name", "licence_number"}, mustSigner(t, edParty(2).priv, TypeKB, ""), testAud, testNonce, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return pres
}

// checkGolden compares got with testdata/name, or rewrites the file under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed: the bytes Issue/Present produce have drifted.\n got  %s\n want %s\nIf the change is intended, run go test -run TestGolden -update and review the diff.", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	issued := goldenIssue(t)
	checkGolden(t, "issued.golden", issued)
	pres := goldenPresent(t, issued)
	checkGolden(t, "presented.golden", pres)

	// Determinism: the same inputs give the same bytes.
	if again := goldenIssue(t); again != issued {
		t.Error("Issue is not deterministic for a fixed key and reader")
	}

	// The golden presentation verifies, and carries exactly what was kept.
	claims, err := verifyAll(pres, edParty(1).pub, testOpts)
	if err != nil {
		t.Fatalf("golden presentation does not verify: %v", err)
	}
	if claims["given_name"] != "Mei" || claims["licence_number"] != json.Number("9007199254740993") || claims["family_name"] != nil {
		t.Errorf("golden presentation claims: %v", claims)
	}
}

// rfcDisclosures are the object-property Disclosures of RFC 9901 with their digests: section
// 4.2.1 and 4.2.3 (family_name "Möbius"), and section 5.1 (the example SD-JWT's claims).
var rfcDisclosures = []struct {
	section, encoded, digest, salt, name string
	value                                any
}{
	{"4.2.3", "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0", "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0", "_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius"},
	{"5.1", "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd", "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4", "2GLC42sKQveCfGfryNRN9w", "given_name", "John"},
	{"5.1", "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd", "TGf4oLbgwd5JQaHyKVQZU9UdGE0w5rtDsrZzfUaomLo", "eluV5Og3gSNII8EYnsxA_A", "family_name", "Doe"},
	{"5.1", "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgImVtYWlsIiwgImpvaG5kb2VAZXhhbXBsZS5jb20iXQ", "JzYjH4svliH0R3PyEMfeZu6Jt69u5qehZo7F7EPYlSE", "6Ij7tM-a5iVPGboS5tmvVA", "email", "johndoe@example.com"},
	{"5.1", "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgInBob25lX251bWJlciIsICIrMS0yMDItNTU1LTAxMDEiXQ", "PorFbpKuVu6xymJagvkFsFXAbRoc2JGlAUA2BA4o7cI", "eI8ZWm9QnKPpNPeNenHdhQ", "phone_number", "+1-202-555-0101"},
	{"5.1", "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgInBob25lX251bWJlcl92ZXJpZmllZCIsIHRydWVd", "XQ_3kPKt1XyX7KANkqVR6yZ2Va5NrPIvPYbyMvRKBMM", "Qg_O64zqAxe412a108iroA", "phone_number_verified", true},
	{"5.1", "WyJQYzMzSk0yTGNoY1VfbEhnZ3ZfdWZRIiwgImJpcnRoZGF0ZSIsICIxOTQwLTAxLTAxIl0", "gbOsI4Edq2x2Kw-w5wPEzakob9hV1cRD0ATN3oQL9JM", "Pc33JM2LchcU_lHggv_ufQ", "birthdate", "1940-01-01"},
	{"5.1", "WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgInVwZGF0ZWRfYXQiLCAxNTcwMDAwMDAwXQ", "CrQe7S5kqBAHt-nMYXgc6bdt2SH5aTY1sU_M-PgkjPI", "G02NSrQfjFXQ7Io09syajA", "updated_at", json.Number("1570000000")},
}

// TestRFC9901Disclosures checks our digest and disclosure decoding against the RFC's examples.
func TestRFC9901Disclosures(t *testing.T) {
	t.Parallel()
	for _, v := range rfcDisclosures {
		t.Run(v.section+"/"+v.name, func(t *testing.T) {
			t.Parallel()
			if got := SDHash(v.encoded); got != v.digest {
				t.Errorf("digest = %s, want %s", got, v.digest)
			}
			d, err := parseDisclosure(v.encoded, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d.Salt != v.salt || d.Name != v.name || d.Value != v.value || d.Digest != v.digest || d.Encoded != v.encoded {
				t.Errorf("parsed %+v, want salt %q name %q value %#v", d, v.salt, v.name, v.value)
			}
		})
	}
}

// TestRFC9901KeyBinding verifies the SD-JWT+KB of RFC 9901 section 5.2 (testdata/rfc9901-5.2-presentation.txt):
// its sd_hash, and its ES256 KB-JWT signature with the holder key from the issuer payload's
// cnf.jwk. The whole presentation does not Parse, because it carries an array-element
// disclosure, which this package does not support; that is checked too.
func TestRFC9901KeyBinding(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "rfc9901-5.2-presentation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pres := regexp.MustCompile(`\s+`).ReplaceAllString(string(raw), "") // the RFC wraps lines
	jwt, ds, kb := parts(pres)

	const wantSDHash = "G3I8z-cFMATAK2ep8MXWk-vnjI3X6-aahYeU9Tvzz3E"
	if got := SDHash(pres[:strings.LastIndexByte(pres, '~')+1]); got != wantSDHash {
		t.Fatalf("sd_hash = %s, want %s", got, wantSDHash)
	}

	if _, err := Parse(pres); err == nil || !strings.Contains(err.Error(), "array-element") {
		t.Errorf("Parse(RFC 5.2 presentation) = %v, want an unsupported array-element disclosure error", err)
	}

	// Without the array-element disclosure the SD-JWT parses; take the holder key from it.
	objOnly, err := Parse(join(jwt, ds[:3], ""))
	if err != nil {
		t.Fatal(err)
	}
	hk, err := HolderKey(objOnly.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sd := &SDJWT{IssuerJWT: jwt, KeyBinding: kb}
	for _, d := range ds {
		sd.Disclosures = append(sd.Disclosures, Disclosure{Encoded: d})
	}
	opts := KeyBindingOptions{
		Audience: "https://verifier.example.org",
		Nonce:    "1234567890",
		Now:      time.Unix(1748537243, 0),
		MaxAge:   time.Minute,
	}
	if err := sd.VerifyKeyBinding(hk, opts); err != nil {
		t.Fatalf("VerifyKeyBinding(RFC 9901 5.2) = %v", err)
	}
	// Any change to the disclosures breaks it.
	sd.Disclosures = sd.Disclosures[1:]
	if err := sd.VerifyKeyBinding(hk, opts); err == nil || !strings.Contains(err.Error(), "sd_hash mismatch") {
		t.Errorf("VerifyKeyBinding with a disclosure dropped = %v, want sd_hash mismatch", err)
	}
}

// TestGoldenFilesHaveNoNewline guards against editors appending a newline to the golden files:
// the files hold exactly the bytes Issue and Present return.
func TestGoldenFilesHaveNoNewline(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"issued.golden", "presented.golden"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(b, "\r\n \t") {
			t.Errorf("testdata/%s contains white space", name)
		}
	}
}

// TestIssuerMatchesIssue: an Issuer gives byte for byte what Issue gives (the golden file) for
// an Ed25519 key, and a P-256 Issuer's credentials verify; it refuses a key-binding typ.
func TestIssuerMatchesIssue(t *testing.T) {
	issuer, holder := edParty(1), edParty(2)
	is, err := NewIssuer(issuer.priv, TypeSDJWTVC, "issuer-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := is.Issue(testClaims(holder.pub), testDisclosable, 2, fixedReader(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := goldenIssue(t); got != want {
		t.Fatalf("Issuer.Issue:\n%s\nIssue:\n%s", got, want)
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is, err = NewIssuer(ec, TypeSDJWTVC, "issuer-ec")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := is.Issue(testClaims(holder.pub), testDisclosable, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.VerifyIssuer(&ec.PublicKey); err != nil {
		t.Fatalf("P-256 Issuer credential: %v", err)
	}
	if sd.Header["kid"] != "issuer-ec" || sd.Header["typ"] != TypeSDJWTVC {
		t.Fatalf("header %v", sd.Header)
	}
	if _, err := NewIssuer(issuer.priv, TypeKB, ""); err == nil {
		t.Fatal("NewIssuer accepted typ kb+jwt")
	}
}

// TestVerifyKeepsItsOwnCopy: what a caller does to the decoded fields of a parsed SD-JWT,
// or to the claims VerifyIssuer returned, never reaches what the verify methods see.
func TestVerifyKeepsItsOwnCopy(t *testing.T) {
	issuer := edParty(1)
	sd, err := Parse(goldenIssue(t))
	if err != nil {
		t.Fatal(err)
	}
	want, err := sd.VerifyIssuer(issuer.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	sd.Payload["iss"] = "https://forged.example"
	sd.Payload["cnf"].(map[string]any)["jwk"] = "forged"
	for i := range sd.Disclosures {
		sd.Disclosures[i].Value = "forged"
		sd.Disclosures[i].Name = "forged"
	}
	want["given_name"] = "forged"
	want["address"].(map[string]any)["locality"] = "forged"
	got, err := sd.VerifyIssuer(issuer.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got["iss"] != "https://issuer.example.gov.tw" || got["given_name"] != "Mei" {
		t.Fatalf("a change to the decoded fields reached VerifyIssuer: %v", got)
	}
	if jwk, _ := got["cnf"].(map[string]any)["jwk"].(map[string]any); jwk == nil {
		t.Fatalf("cnf = %v", got["cnf"])
	}
	if got["address"].(map[string]any)["locality"] != "Taipei" {
		t.Fatalf("a change to earlier claims reached VerifyIssuer: %v", got["address"])
	}
}
