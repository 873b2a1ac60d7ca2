package ldvc

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const (
	issuerDID = "did:example:transport-bureau"
	issuerVM  = issuerDID + "#key-1"
)

var (
	// testKey is derived from a fixed seed so the golden file is stable.
	testKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	testPub  = testKey.Public().(ed25519.PublicKey)
	created  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	validNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

func keys(vm string) (ed25519.PublicKey, error) {
	if vm != issuerVM {
		return nil, fmt.Errorf("unknown verification method %s", vm)
	}
	return testPub, nil
}

// drivingLicence returns a fresh unsigned DrivingLicence credential.
func drivingLicence() map[string]any {
	return map[string]any{
		"@context":       []any{ContextCredentialsV1, ContextEd25519Signature2020, ContextLicenceV1},
		"id":             "urn:uuid:3f1c2a9e-6b1d-4c1e-9a57-5d0f4b0e8a11",
		"type":           []any{"VerifiableCredential", "DrivingLicence"},
		"issuer":         issuerDID,
		"issuanceDate":   "2026-01-02T03:04:05Z",
		"expirationDate": "2032-01-02T03:04:05Z",
		"credentialSubject": map[string]any{
			"id":             "did:example:holder-7",
			"family_name":    "Zheng",
			"given_name":     "Er",
			"birth_date":     "1990-05-17",
			"licence_number": "440300199005170011",
			"licence_class":  "C1",
			"issue_date":     "2026-01-02",
			"expiry_date":    "2032-01-02",
			"address":        "1 Shennan Road, Shenzhen",
		},
	}
}

func mustSign(t testing.TB, cred map[string]any) []byte {
	t.Helper()
	out, err := Sign(cred, testKey, issuerVM, created)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out
}

// mutate decodes signed, applies f, and re-encodes without re-signing.
func mutate(t testing.TB, signed []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(signed, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	signed := mustSign(t, drivingLicence())
	v, err := Verify(signed, keys, validNow)
	if err != nil {
		t.Fatalf("Verify: %v\n%s", err, signed)
	}
	if v.Issuer != issuerDID || v.VerificationMethod != issuerVM {
		t.Errorf("issuer %q vm %q", v.Issuer, v.VerificationMethod)
	}
	if got, want := strings.Join(v.Types, ","), "VerifiableCredential,DrivingLicence"; got != want {
		t.Errorf("Types = %s, want %s", got, want)
	}
	if v.Subject["licence_number"] != "440300199005170011" || v.Subject["family_name"] != "Zheng" {
		t.Errorf("Subject = %v", v.Subject)
	}
	if !v.IssuanceDate.Equal(created) || !v.ExpirationDate.Equal(time.Date(2032, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("dates %v %v", v.IssuanceDate, v.ExpirationDate)
	}
	if _, ok := v.Credential["proof"]; !ok {
		t.Error("Credential lacks its proof")
	}
}

// TestAwkwardClaimValues signs values that resemble other formats aries
// sniffs for (SD-JWT "~" separators, JWS dots) and non-ASCII text.
func TestAwkwardClaimValues(t *testing.T) {
	t.Parallel()
	for _, val := range []string{"a~b~", "eyJhbGciOiJub25lIn0.e30.", "深圳市南山区 1号", "", `quote " and \\ backslash`} {
		cred := drivingLicence()
		cred["credentialSubject"].(map[string]any)["address"] = val
		v, err := Verify(mustSign(t, cred), keys, validNow)
		if err != nil {
			t.Errorf("address %q: %v", val, err)
			continue
		}
		if got := v.Subject["address"]; got != val {
			t.Errorf("address = %q, want %q", got, val)
		}
	}
}

func TestSignDoesNotModifyInputAndAddsSuiteContext(t *testing.T) {
	t.Parallel()
	cred := drivingLicence()
	cred["@context"] = []any{ContextCredentialsV1, ContextLicenceV1}
	signed := mustSign(t, cred)
	if got := len(cred["@context"].([]any)); got != 2 {
		t.Errorf("input @context changed: %d entries", got)
	}
	if _, err := Verify(signed, keys, validNow); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestEveryTypeRoundTrips signs one credential of each of our types with all
// of its claims, so that every term of the licence context is exercised.
func TestEveryTypeRoundTrips(t *testing.T) {
	t.Parallel()
	subjects := map[string]map[string]any{
		"HealthCode": {"family_name": "Li", "given_name": "Na", "health_status": "green",
			"region": "Guangdong", "id_number_hash": "sha256:8f4e", "photo": "data:image/png;base64,iVBORw0KGgo="},
		"BusinessLicence": {"company_name": "Shenzhen Example Co., Ltd.",
			"unified_social_credit_code": "91440300MA5EXAMPLE", "legal_representative": "Wang Wei",
			"registered_capital": "1000000 CNY", "established": "2015-03-01",
			"business_scope": "Software development", "address": "Nanshan, Shenzhen"},
		"ResidencePermit": {"family_name": "Smith", "given_name": "Ann", "permit_number": "RP-001",
			"nationality": "GBR", "residence_address": "Futian, Shenzhen", "birth_date": "1985-02-03",
			"issue_date": "2025-01-01", "expiry_date": "2030-01-01"},
		"VaccinationCertificate": {"family_name": "Chen", "given_name": "Jie",
			"vaccine_product": "Example-Vax", "dose_number": 2, "vaccination_date": "2021-06-01",
			"certificate_number": "VC-778"},
		"DegreeCertificate": {"family_name": "Zhou", "given_name": "Min", "degree_name": "Bachelor of Engineering",
			"major": "Computer Science", "institution": "Example University", "conferral_date": "2012-07-01",
			"certificate_number": "DC-1"},
	}
	for typ, subj := range subjects {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			cred := drivingLicence()
			cred["type"] = []any{"VerifiableCredential", typ}
			subj["id"] = "did:example:holder-7"
			cred["credentialSubject"] = subj
			if typ == "DegreeCertificate" {
				delete(cred, "expirationDate") // documented: optional
			}
			v, err := Verify(mustSign(t, cred), keys, validNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if len(v.Subject) != len(subj) {
				t.Errorf("Subject has %d members, want %d", len(v.Subject), len(subj))
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	signed := mustSign(t, drivingLicence())

	resign := func(f func(m map[string]any)) []byte {
		// Recompute the proof over a modified credential with aries
		// directly, bypassing Sign's own validation.
		m := drivingLicence()
		f(m)
		return signUnchecked(t, m)
	}

	tests := []struct {
		name string
		raw  []byte
		now  time.Time
		want error
	}{
		{"unsigned", func() []byte { b, _ := json.Marshal(drivingLicence()); return b }(), validNow, ErrNoProof},
		{"proof null", mutate(t, signed, func(m map[string]any) { m["proof"] = nil }), validNow, ErrNoProof},
		{"claim changed after signing", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["licence_class"] = "A1"
		}), validNow, ErrSignature},
		{"expiry changed after signing", mutate(t, signed, func(m map[string]any) {
			m["expirationDate"] = "2099-01-01T00:00:00Z"
		}), validNow, ErrSignature},
		{"undefined claim added after signing", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["blood_type"] = "O"
		}), validNow, ErrUndefinedTerm},
		{"undefined claim with recomputed proof", resign(func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["blood_type"] = "O"
		}), validNow, ErrUndefinedTerm},
		{"undefined top-level member with recomputed proof", resign(func(m map[string]any) {
			m["note"] = "unsigned"
		}), validNow, ErrUndefinedTerm},
		{"undefined term inside array, recomputed proof then tampered", mutate(t, resign(func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["address"] = []any{map[string]any{"blood_type": "O"}, "x"}
		}), func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["address"].([]any)[0].(map[string]any)["blood_type"] = "AB"
		}), validNow, ErrUndefinedTerm},
		{"claim reshaped to an array", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["licence_class"] = []any{"C1"}
		}), validNow, ErrMalformed},
		{"claim as value object", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["licence_class"] = map[string]any{"@value": "C1"}
		}), validNow, ErrUndefinedTerm},
		{"compact IRI member", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["https://example.com/#x"] = "y"
		}), validNow, ErrUndefinedTerm},
		{"keyword member", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["@id"] = "did:example:other"
		}), validNow, ErrUndefinedTerm},
		{"undefined subject type", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["type"] = "Person"
		}), validNow, ErrUndefinedTerm},
		{"undefined type", mutate(t, signed, func(m map[string]any) {
			m["type"] = []any{"VerifiableCredential", "DrivingLicence", "PilotLicence"}
		}), validNow, ErrUndefinedTerm},
		{"expired", signed, time.Date(2032, 1, 2, 3, 4, 5, 0, time.UTC), ErrExpired},
		{"not yet valid", signed, time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), ErrNotYetValid},
		{"issuer changed", mutate(t, signed, func(m map[string]any) { m["issuer"] = "did:example:other" }),
			validNow, ErrIssuerMismatch},
		{"proof purpose authentication", mutate(t, signed, func(m map[string]any) {
			m["proof"].(map[string]any)["proofPurpose"] = "authentication"
		}), validNow, ErrSignature},
		{"proof created changed", mutate(t, signed, func(m map[string]any) {
			m["proof"].(map[string]any)["created"] = "2026-01-02T03:04:06Z"
		}), validNow, ErrSignature},
		{"proof value changed", mutate(t, signed, func(m map[string]any) {
			pv := m["proof"].(map[string]any)["proofValue"].(string)
			m["proof"].(map[string]any)["proofValue"] = pv[:len(pv)-2] + "11"
		}), validNow, ErrSignature},
		{"other proof type", mutate(t, signed, func(m map[string]any) {
			m["proof"].(map[string]any)["type"] = "Ed25519Signature2018"
		}), validNow, ErrNoProof},
		{"two proofs", mutate(t, signed, func(m map[string]any) {
			m["proof"] = []any{m["proof"], m["proof"]}
		}), validNow, ErrMalformed},
		{"proof with extra member", mutate(t, signed, func(m map[string]any) {
			m["proof"].(map[string]any)["domain"] = "example.com"
		}), validNow, ErrMalformed},
		{"credentialSchema", mutate(t, signed, func(m map[string]any) {
			m["credentialSchema"] = map[string]any{"id": "https://example.com/schema.json", "type": "JsonSchemaValidator2018"}
		}), validNow, ErrCredentialSchema},
		{"VCDM 2.0", mutate(t, signed, func(m map[string]any) {
			m["@context"] = []any{"https://www.w3.org/ns/credentials/v2", ContextLicenceV1}
		}), validNow, ErrVCDM2},
		{"unknown context", mutate(t, signed, func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), "https://example.com/ctx/v1")
		}), validNow, ErrUnknownContext},
		{"inline context", mutate(t, signed, func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), map[string]any{"@vocab": "https://example.com/#"})
		}), validNow, ErrMalformed},
		{"missing suite context", mutate(t, signed, func(m map[string]any) {
			m["@context"] = []any{ContextCredentialsV1, ContextLicenceV1}
		}), validNow, ErrMalformed},
		{"relative subject id", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"].(map[string]any)["id"] = "holder-7"
		}), validNow, ErrMalformed},
		{"jwt member", mutate(t, signed, func(m map[string]any) { m["jwt"] = "eyJhbGciOiJub25lIn0.e30." }),
			validNow, ErrMalformed},
		{"alg none JWT", []byte(`"eyJhbGciOiJub25lIn0.eyJ2YyI6e319."`), validNow, ErrMalformed},
		{"duplicate member", bytes.Replace(signed, []byte(`"issuer":`), []byte(`"issuer":"did:example:x","issuer":`), 1),
			validNow, ErrMalformed},
		{"too deep", mutate(t, signed, func(m map[string]any) {
			var v any = "x"
			for range MaxDepth {
				v = []any{v}
			}
			m["credentialSubject"].(map[string]any)["address"] = v
		}), validNow, ErrMalformed},
		{"too large", append(signed[:len(signed)-1], []byte(`,"pad":"`+strings.Repeat("a", MaxCredentialSize)+`"}`)...),
			validNow, ErrMalformed},
		{"garbage", []byte("\x00\xff{not json"), validNow, ErrMalformed},
		{"empty", nil, validNow, ErrMalformed},
		{"trailing data", append(append([]byte{}, signed...), []byte("{}")...), validNow, ErrMalformed},
		{"missing issuanceDate", mutate(t, signed, func(m map[string]any) { delete(m, "issuanceDate") }),
			validNow, ErrMalformed},
		{"date without zone", mutate(t, signed, func(m map[string]any) { m["expirationDate"] = "2099-01-01T00:00:00" }),
			validNow, ErrMalformed},
		{"subject array", mutate(t, signed, func(m map[string]any) {
			m["credentialSubject"] = []any{m["credentialSubject"]}
		}), validNow, ErrMalformed},
		{"unknown key", mutate(t, signed, func(m map[string]any) {
			m["issuer"] = "did:example:nobody"
			m["proof"].(map[string]any)["verificationMethod"] = "did:example:nobody#key-1"
		}), validNow, ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := Verify(tc.raw, keys, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
			if v != nil {
				t.Errorf("Verify returned a result with an error")
			}
		})
	}
}

// TestUnknownContextNoNetwork serves a context (and a schema) from a local
// HTTP server and checks that neither Verify nor the loader ever asks for it.
func TestUnknownContextNoNetwork(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/ld+json")
		fmt.Fprint(w, `{"@context":{"@vocab":"https://example.com/#"}}`)
	}))
	defer srv.Close()
	ctxURL := srv.URL + "/ctx/v1"

	if _, err := Loader().LoadDocument(ctxURL); !errors.Is(err, ErrUnknownContext) {
		t.Errorf("LoadDocument(%s) error = %v, want ErrUnknownContext", ctxURL, err)
	}
	// Straight to aries, bypassing precheck, to prove the loader is what stops it.
	m := drivingLicence()
	m["@context"] = append(m["@context"].([]any), ctxURL)
	raw, _ := json.Marshal(m)
	if err := validateLD(raw); !errors.Is(err, ErrUnknownContext) {
		t.Errorf("validateLD error = %v, want ErrUnknownContext", err)
	}
	signed := mutate(t, mustSign(t, drivingLicence()), func(m map[string]any) {
		m["@context"] = append(m["@context"].([]any), ctxURL)
	})
	if _, err := Verify(signed, keys, validNow); !errors.Is(err, ErrUnknownContext) {
		t.Errorf("Verify error = %v, want ErrUnknownContext", err)
	}
	withSchema := mutate(t, mustSign(t, drivingLicence()), func(m map[string]any) {
		m["credentialSchema"] = map[string]any{"id": srv.URL + "/schema.json", "type": "JsonSchemaValidator2018"}
	})
	if _, err := Verify(withSchema, keys, validNow); !errors.Is(err, ErrCredentialSchema) {
		t.Errorf("Verify with credentialSchema: error = %v, want ErrCredentialSchema", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the local server was asked %d times", n)
	}
}

func TestLoaderServesOnlyEmbedded(t *testing.T) {
	t.Parallel()
	for _, u := range []string{ContextCredentialsV1, ContextEd25519Signature2020, ContextLicenceV1} {
		if _, err := Loader().LoadDocument(u); err != nil {
			t.Errorf("LoadDocument(%s): %v", u, err)
		}
		if _, ok := ContextDocument(u); !ok {
			t.Errorf("ContextDocument(%s) missing", u)
		}
	}
	for _, u := range []string{"https://www.w3.org/ns/credentials/v2", "https://w3id.org/security/v2",
		ContextLicenceV1 + "/", "http://www.w3.org/2018/credentials/v1", ""} {
		if _, err := Loader().LoadDocument(u); !errors.Is(err, ErrUnknownContext) {
			t.Errorf("LoadDocument(%q) error = %v, want ErrUnknownContext", u, err)
		}
	}
}

func TestSignRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(m map[string]any)
		vm   string
		want error
	}{
		{"undefined claim", func(m map[string]any) { m["credentialSubject"].(map[string]any)["blood_type"] = "O" },
			issuerVM, ErrUndefinedTerm},
		{"credentialSchema", func(m map[string]any) {
			m["credentialSchema"] = map[string]any{"id": "https://example.com/s.json", "type": "JsonSchemaValidator2018"}
		}, issuerVM, ErrCredentialSchema},
		{"VCDM 2.0", func(m map[string]any) { m["@context"] = []any{"https://www.w3.org/ns/credentials/v2"} },
			issuerVM, ErrVCDM2},
		{"already has proof", func(m map[string]any) { m["proof"] = map[string]any{} }, issuerVM, ErrMalformed},
		{"vm not a DID URL", func(map[string]any) {}, "https://example.com/key", ErrMalformed},
		{"vm of another DID", func(map[string]any) {}, "did:example:other#key-1", ErrIssuerMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := drivingLicence()
			tc.f(m)
			if _, err := Sign(m, testKey, tc.vm, created); !errors.Is(err, tc.want) {
				t.Errorf("Sign error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestGolden pins the bytes of a signed DrivingLicence. Ed25519 signatures
// are deterministic and URDNA2015 canonicalisation is too, so a fixed key,
// credential and created time always give the same proofValue; a change
// here means the signed form drifted. Refresh with: go test -run TestGolden -update
func TestGolden(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "driving-licence.signed.json")
	got := mustSign(t, drivingLicence())
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("signed credential drifted from %s:\ngot:\n%s\nwant:\n%s", path, pretty.Bytes(), want)
	}
	// The checked-in file verifies on its own, indented as it is.
	if _, err := Verify(want, keys, validNow); err != nil {
		t.Errorf("golden file does not verify: %v", err)
	}
}

func TestVerifyKeyFuncErrors(t *testing.T) {
	t.Parallel()
	signed := mustSign(t, drivingLicence())
	errNotFound := errors.New("did not found")
	_, err := Verify(signed, func(string) (ed25519.PublicKey, error) { return nil, errNotFound }, validNow)
	if !errors.Is(err, ErrSignature) || !errors.Is(err, errNotFound) {
		t.Errorf("error = %v, want ErrSignature wrapping the key function's error", err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if _, err := Verify(signed, func(string) (ed25519.PublicKey, error) { return other, nil }, validNow); !errors.Is(err, ErrSignature) {
		t.Errorf("wrong key: error = %v, want ErrSignature", err)
	}
	if _, err := Verify(signed, func(string) (ed25519.PublicKey, error) { return other[:5], nil }, validNow); !errors.Is(err, ErrSignature) {
		t.Errorf("short key: error = %v, want ErrSignature", err)
	}
	// A panic below Verify (here in the key function, called from inside
	// aries) comes back as an error.
	if _, err := Verify(signed, func(string) (ed25519.PublicKey, error) { panic("boom") }, validNow); !errors.Is(err, ErrMalformed) {
		t.Errorf("panic: error = %v, want ErrMalformed", err)
	}
}

func TestVerifyBoundaries(t *testing.T) {
	t.Parallel()
	signed := mustSign(t, drivingLicence())
	issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	expires := time.Date(2032, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		now  time.Time
		want error
	}{
		{issued.Add(-time.Second), ErrNotYetValid},
		{issued, nil},
		{expires.Add(-time.Second), nil},
		{expires, ErrExpired},
	} {
		if _, err := Verify(signed, keys, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("now %s: error = %v, want %v", tc.now, err, tc.want)
		}
	}
}
