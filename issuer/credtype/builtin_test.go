package credtype

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var builtinNames = []string{
	"BusinessLicence", "DegreeCertificate", "DrivingLicence", "HealthCode", "ResidencePermit", "VaccinationCertificate",
}

// TestBuiltin guarantees that Builtin never panics: every embedded type loads, and is the
// type the issue asks for.
func TestBuiltin(t *testing.T) {
	r := Builtin()
	var got []string
	for _, ty := range r.All() {
		got = append(got, ty.Name)
	}
	if !slices.Equal(got, builtinNames) {
		t.Fatalf("All() names = %v, want %v", got, builtinNames)
	}
	for _, name := range builtinNames {
		ty, err := r.Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if want := VCTPrefix + name; ty.VCT != want {
			t.Errorf("%s: VCT = %q, want %q", name, ty.VCT, want)
		}
		if byVCT, err := r.ByVCT(ty.VCT); err != nil || byVCT != ty {
			t.Errorf("ByVCT(%q) = %v, %v; want the %s type", ty.VCT, byVCT, err, name)
		}
	}
	if _, err := r.Lookup("Passport"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("Lookup(Passport) error = %v, want ErrUnknownType", err)
	}
	if _, err := r.ByVCT("urn:ezheng:vct:Passport"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("ByVCT(Passport) error = %v, want ErrUnknownType", err)
	}
}

// TestBuiltinExamples checks each type's example validates, and fails naming the claim when
// any one required claim is removed.
func TestBuiltinExamples(t *testing.T) {
	t.Parallel()
	for _, ty := range Builtin().All() {
		t.Run(ty.Name, func(t *testing.T) {
			t.Parallel()
			if err := ty.Validate(ty.Example()); err != nil {
				t.Fatalf("example does not validate: %v", err)
			}
			if len(ty.Required) == 0 {
				t.Fatal("no required claims")
			}
			for _, req := range ty.Required {
				ex := ty.Example()
				delete(ex, req)
				err := ty.Validate(ex)
				var ce *ClaimsError
				if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidClaims) {
					t.Fatalf("without %s: error = %v, want a *ClaimsError", req, err)
				}
				want := []Violation{{Path: "/" + req, Reason: "required"}}
				if !slices.Equal(ce.Violations, want) {
					t.Errorf("without %s: violations = %v, want %v", req, ce.Violations, want)
				}
			}
		})
	}
}

// TestBuiltinHygiene holds the shipped types to the house rules: every string has a
// maxLength, every property is labelled in zh-CN and en, every display has colours and a
// logo.
func TestBuiltinHygiene(t *testing.T) {
	t.Parallel()
	for _, ty := range Builtin().All() {
		t.Run(ty.Name, func(t *testing.T) {
			walkSchema(t, "schema", ty.Schema)
			labelled := map[string]bool{}
			for _, c := range ty.Claims {
				labelled[strings.Join(c.Path, "/")] = true
			}
			for _, p := range ty.Properties {
				if !labelled[p] {
					t.Errorf("claim %s has no labels", p)
				}
			}
			for _, d := range ty.Display {
				if d.BackgroundColor == "" || d.TextColor == "" || d.Logo == nil || d.Description == "" {
					t.Errorf("display %s: want description, colours and logo", d.Lang)
				}
			}
			if len(ty.DisclosableClaims) == 0 {
				t.Error("no disclosable claims")
			}
		})
	}
}

func walkSchema(t *testing.T, at string, s map[string]any) {
	t.Helper()
	if s["type"] == "string" || s["enum"] != nil || s["pattern"] != nil || s["format"] != nil {
		if _, ok := s["maxLength"]; !ok {
			t.Errorf("%s: string without maxLength", at)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, p := range props {
			if ps, ok := p.(map[string]any); ok {
				walkSchema(t, at+"."+name, ps)
			}
		}
	}
}

func TestHealthCode(t *testing.T) {
	t.Parallel()
	hc, err := Builtin().Lookup("HealthCode")
	if err != nil {
		t.Fatal(err)
	}
	if hc.Validity.Hours() != 24 || hc.Refresh.Hours() != 24 {
		t.Errorf("validity, refresh = %v, %v; want 24h, 24h", hc.Validity, hc.Refresh)
	}
	for _, status := range []string{"green", "yellow", "red"} {
		c := map[string]any{"family_name": "张", "given_name": "三", "health_status": status}
		if err := hc.Validate(c); err != nil {
			t.Errorf("%s: %v", status, err)
		}
	}
	err = hc.Validate(map[string]any{"family_name": "张", "given_name": "三", "health_status": "blue"})
	if !errors.Is(err, ErrInvalidClaims) || !strings.Contains(err.Error(), "/health_status") {
		t.Errorf("blue: error = %v, want /health_status violation", err)
	}
}

// TestDemoClaims keeps the demo walk's DrivingLicence claims valid.
func TestDemoClaims(t *testing.T) {
	t.Parallel()
	dl, err := Builtin().Lookup("DrivingLicence")
	if err != nil {
		t.Fatal(err)
	}
	demo := map[string]any{
		"family_name":    "张",
		"given_name":     "三",
		"birth_date":     "1990-05-17",
		"licence_number": "330106199005170012",
		"licence_class":  "C1",
		"issue_date":     "2024-03-01",
		"address":        "浙江省杭州市西湖区文三路 100 号",
	}
	if err := dl.Validate(demo); err != nil {
		t.Fatal(err)
	}
	want := []string{"address", "birth_date", "family_name", "given_name", "issue_date", "licence_class", "licence_number"}
	if got := dl.Disclosable(demo); !slices.Equal(got, want) {
		t.Errorf("Disclosable = %v, want %v", got, want)
	}
}
