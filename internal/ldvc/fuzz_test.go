package ldvc

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
)

// FuzzVerify checks that Verify never panics, that every error wraps one of
// our sentinels, and that whatever it accepts is byte-for-byte a credential
// signed by the test key (no accepted mutation of the golden file changes
// a signed claim). Seeded from testdata/.
func FuzzVerify(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"@context":"https://www.w3.org/ns/credentials/v2"}`))
	f.Add([]byte(`"eyJhbGciOiJub25lIn0.e30."`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]`))

	sentinels := []error{ErrMalformed, ErrUndefinedTerm, ErrNoProof, ErrSignature,
		ErrExpired, ErrNotYetValid, ErrIssuerMismatch}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := Verify(raw, keys, validNow)
		if err != nil {
			if v != nil {
				t.Fatal("result with error")
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if v.Issuer != issuerDID || v.VerificationMethod != issuerVM {
			t.Fatalf("accepted a credential from %s / %s", v.Issuer, v.VerificationMethod)
		}
	})
}

// TestAriesAloneTraps documents why the wrapper exists: aries'
// ParseCredential with a document loader and a key fetcher, but without
// our checks, accepts each of these.
func TestAriesAloneTraps(t *testing.T) {
	t.Parallel()
	signed := mustSign(t, drivingLicence())
	unsigned, _ := json.Marshal(drivingLicence())
	tamperedUndefined := mutate(t, signUnchecked(t, func() map[string]any {
		m := drivingLicence()
		m["credentialSubject"].(map[string]any)["blood_type"] = "O"
		return m
	}()), func(m map[string]any) { m["credentialSubject"].(map[string]any)["blood_type"] = "AB" })

	fetch := verifiable.SingleKey(testKey.Public().(ed25519.PublicKey), "Ed25519VerificationKey2020")
	for name, raw := range map[string][]byte{
		"unsigned":                          unsigned,
		"expired (aries has no clock)":      signed,
		"undefined claim changed after sig": tamperedUndefined,
	} {
		if _, err := verifiable.ParseCredential(raw,
			verifiable.WithJSONLDDocumentLoader(Loader()),
			verifiable.WithPublicKeyFetcher(fetch),
			verifiable.WithCredDisableValidation(),
		); err != nil {
			t.Errorf("%s: aries alone now rejects it (%v); the trap list in DEPENDENCIES.md may be outdated", name, err)
		}
	}
}

// FuzzTamperClaim sets one claim of the signed golden credential to a fuzzed
// value, without re-signing, and checks that Verify accepts the result only
// when the value is unchanged.
func FuzzTamperClaim(f *testing.F) {
	signed, err := os.ReadFile(filepath.Join("testdata", "driving-licence.signed.json"))
	if err != nil {
		f.Fatal(err)
	}
	terms := []string{"id", "type"}
	for k := range licenceTerms {
		terms = append(terms, k)
	}
	slices.Sort(terms)
	f.Add(uint8(0), "did:example:holder-7")
	f.Add(uint8(3), "C2")
	f.Add(uint8(7), "1990-05-17")
	f.Fuzz(func(t *testing.T, idx uint8, value string) {
		term := terms[int(idx)%len(terms)]
		var m map[string]any
		if err := json.Unmarshal(signed, &m); err != nil {
			t.Fatal(err)
		}
		subj := m["credentialSubject"].(map[string]any)
		old, had := subj[term]
		subj[term] = value
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Verify(raw, keys, validNow)
		if err != nil {
			return
		}
		if !had || old != value {
			t.Fatalf("accepted %s changed from %v (present %v) to %q", term, old, had, value)
		}
		if v.Subject[term] != value {
			t.Fatalf("Subject[%s] = %v", term, v.Subject[term])
		}
	})
}
