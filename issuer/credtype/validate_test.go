package credtype

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
	"testing"
)

func mustType(t testing.TB, name string) *Type {
	t.Helper()
	ty, err := Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

// TestValidateListsEveryViolation breaks a driving licence several ways at once and wants
// one violation per problem, sorted by path.
func TestValidateListsEveryViolation(t *testing.T) {
	t.Parallel()
	dl := mustType(t, "DrivingLicence")
	claims := dl.Example()
	claims["family_name"] = 42                      // wrong type
	claims["licence_number"] = "33010619900517001Y" // pattern
	claims["licence_class"] = "Z9"                  // pattern
	claims["birth_date"] = "1990-13-45"             // format date
	claims["address"] = strings.Repeat("路", 201)    // maxLength 200
	claims["sex"] = "unknown"                       // enum
	claims["blood_type"] = "AB"                     // extra property
	claims["photo"] = "not base64!"                 // contentEncoding
	delete(claims, "given_name")                    // required
	err := dl.Validate(claims)
	var ce *ClaimsError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidClaims) {
		t.Fatalf("Validate = %v, want *ClaimsError", err)
	}
	want := []Violation{
		{"/address", "longer than 200 characters"},
		{"/birth_date", "is not a valid date"},
		{"/blood_type", "not a claim of DrivingLicence"},
		{"/family_name", "must be string, not number"},
		{"/given_name", "required"},
		{"/licence_class", "does not match pattern ^(A1|A2|A3|B1|B2|C1|C2|C3|C4|C5|C6|D|E|F|M|N|P)+$"},
		{"/licence_number", "does not match pattern ^[0-9]{17}[0-9X]$"},
		{"/photo", "is not base64"},
		{"/sex", "value must be one of 'male', 'female'"},
	}
	if !slices.Equal(ce.Violations, want) {
		t.Errorf("violations:\n got %v\nwant %v", ce.Violations, want)
	}
	// The message names claims and rules but never echoes personal data.
	for _, secret := range []string{"33010619900517001Y", "1990-13-45", "unknown", "路路", "not base64!"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q echoes the value %q", err, secret)
		}
	}
}

func TestValidateTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		typ    string
		modify func(map[string]any)
		want   []Violation // nil: valid
	}{
		{"example", "VaccinationCertificate", func(map[string]any) {}, nil},
		{"integer as json.Number", "VaccinationCertificate", func(c map[string]any) { c["dose_number"] = json.Number("1") }, nil},
		{"integer as Go int", "VaccinationCertificate", func(c map[string]any) { c["dose_number"] = 2 }, nil},
		{"integer as string", "VaccinationCertificate", func(c map[string]any) { c["dose_number"] = "2" },
			[]Violation{{"/dose_number", "must be integer, not string"}}},
		{"integer out of range", "VaccinationCertificate", func(c map[string]any) { c["dose_number"] = 0; c["total_doses"] = 11 },
			[]Violation{{"/dose_number", "must be at least 1"}, {"/total_doses", "must be at most 10"}}},
		{"fraction", "VaccinationCertificate", func(c map[string]any) { c["dose_number"] = 1.5 },
			[]Violation{{"/dose_number", "must be integer, not number"}}},
		{"credit code bad charset", "BusinessLicence", func(c map[string]any) { c["unified_social_credit_code"] = "91330106MA2H12345I" },
			[]Violation{{"/unified_social_credit_code", "does not match pattern ^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"}}},
		{"credit code short", "BusinessLicence", func(c map[string]any) { c["unified_social_credit_code"] = "91330106MA2H1234" },
			[]Violation{{"/unified_social_credit_code", "does not match pattern ^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"}, {"/unified_social_credit_code", "shorter than 18 characters"}}},
		{"null claim", "HealthCode", func(c map[string]any) { c["region"] = nil },
			[]Violation{{"/region", "must be string, not null"}}},
		{"nested object", "HealthCode", func(c map[string]any) { c["region"] = map[string]any{"a": "b"} },
			[]Violation{{"/region", "must be string, not object"}}},
		{"empty string", "DegreeCertificate", func(c map[string]any) { c["major"] = "" },
			[]Violation{{"/major", "must not be empty"}}},
		{"date-time", "HealthCode", func(c map[string]any) { c["assessed_at"] = "yesterday" },
			[]Violation{{"/assessed_at", "is not a valid date-time"}}},
		{"photo oversized", "ResidencePermit", func(c map[string]any) { c["photo"] = strings.Repeat("QUFB", 12289) },
			[]Violation{{"/photo", "longer than 49152 characters"}}},
		{"photo valid", "ResidencePermit", func(c map[string]any) { c["photo"] = "/9j/4AAQSkZJRgABAQAAAQABAAD/2w==" }, nil},
		{"claims too large", "HealthCode", func(c map[string]any) { c["x"] = strings.Repeat("x", MaxClaimsSize) },
			[]Violation{{"", "larger than 262144 bytes as JSON"}}},
		{"not JSON", "HealthCode", func(c map[string]any) { c["region"] = math.NaN() },
			[]Violation{{"", "not encodable as JSON"}}},
		{"huge exponent", "VaccinationCertificate", func(c map[string]any) {
			c["dose_number"] = json.Number("1e999999999")
			c["x"] = []any{json.Number("1E-401")}
		},
			[]Violation{{"/dose_number", "number exponent beyond ±400"}, {"/x/0", "number exponent beyond ±400"}}},
		{"long number", "VaccinationCertificate", func(c map[string]any) { c["dose_number"] = json.Number("1" + strings.Repeat("0", 64)) },
			[]Violation{{"/dose_number", "number longer than 64 characters"}}},
		{"key needing escape", "HealthCode", func(c map[string]any) { c["a/b~c"] = "x" },
			[]Violation{{"/a~1b~0c", "not a claim of HealthCode"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ty := mustType(t, tt.typ)
			claims := ty.Example()
			tt.modify(claims)
			err := ty.Validate(claims)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ce *ClaimsError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v, want *ClaimsError", err)
			}
			if !slices.Equal(ce.Violations, tt.want) {
				t.Errorf("violations:\n got %v\nwant %v", ce.Violations, tt.want)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	t.Parallel()
	if err := mustType(t, "HealthCode").Validate(nil); !errors.Is(err, ErrInvalidClaims) {
		t.Errorf("Validate(nil) = %v, want ErrInvalidClaims", err)
	}
}

func TestExampleIsACopy(t *testing.T) {
	t.Parallel()
	dl := mustType(t, "DrivingLicence")
	ex := dl.Example()
	ex["family_name"] = "李"
	delete(ex, "given_name")
	if again := dl.Example(); again["family_name"] != "张" || again["given_name"] != "三" {
		t.Errorf("Example() after modifying a copy = %v", again)
	}
}

func TestDisclosable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    string
		claims map[string]any
		want   []string
	}{
		{"DrivingLicence", map[string]any{"licence_class": "C1", "family_name": "张", "unknown": 1}, []string{"family_name", "licence_class"}},
		{"HealthCode", map[string]any{"family_name": "张", "given_name": "三", "health_status": "green"}, []string{"family_name", "given_name", "health_status"}},
		{"BusinessLicence", mustType(t, "BusinessLicence").Example(), []string{"address", "business_scope", "legal_representative", "registered_capital"}},
		{"DegreeCertificate", nil, []string{}},
	}
	for _, tt := range tests {
		if got := mustType(t, tt.typ).Disclosable(tt.claims); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Disclosable = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	dl := mustType(b, "DrivingLicence")
	claims := dl.Example()
	for b.Loop() {
		if err := dl.Validate(claims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateInvalid(b *testing.B) {
	dl := mustType(b, "DrivingLicence")
	claims := dl.Example()
	claims["licence_number"] = "x"
	claims["extra"] = true
	for b.Loop() {
		if err := dl.Validate(claims); err == nil {
			b.Fatal("valid")
		}
	}
}

func BenchmarkBuiltinLoad(b *testing.B) {
	sub, err := fs.Sub(builtinFS, "types")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(sub); err != nil {
			b.Fatal(err)
		}
	}
}

// TestValidateConcurrent documents that a Type is safe for concurrent use (run with -race).
func TestValidateConcurrent(t *testing.T) {
	t.Parallel()
	dl := mustType(t, "DrivingLicence")
	done := make(chan error)
	for i := range 8 {
		go func() {
			c := dl.Example()
			if i%2 == 1 {
				c["licence_class"] = "Z"
			}
			err := dl.Validate(c)
			if (err == nil) != (i%2 == 0) {
				done <- fmt.Errorf("goroutine %d: %v", i, err)
				return
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestValidateUnloadedType(t *testing.T) {
	t.Parallel()
	if err := (&Type{Name: "X"}).Validate(map[string]any{}); !errors.Is(err, ErrInvalidClaims) {
		t.Errorf("Validate on a Type not made by Load = %v, want ErrInvalidClaims", err)
	}
}
