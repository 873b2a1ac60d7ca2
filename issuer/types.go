package issuer

import (
	"fmt"
	"sort"
	"time"
)

// CredentialType describes a kind of credential an agency can issue: its SD-JWT VC type
// (vct), the claims it carries, which of them the holder may disclose selectively, and how
// long a credential stays valid.
type CredentialType struct {
	Name        string        // e.g. "DrivingLicence"
	VCT         string        // SD-JWT VC "vct" value
	Required    []string      // claims every credential of this type must have
	Optional    []string      // claims it may have
	Disclosable []string      // claims that become selective disclosures (all claims here)
	Validity    time.Duration // default validity
	DisplayZH   string
	DisplayEN   string
}

// VCTPrefix prefixes the vct of ezheng's own credential types.
const VCTPrefix = "urn:ezheng:vct:"

// The credential types the spine ships. Declarative type files replace this table later.
var builtinTypes = []CredentialType{
	{
		Name:      "DrivingLicence",
		Required:  []string{"family_name", "given_name", "birth_date", "licence_number", "licence_class", "issue_date"},
		Optional:  []string{"expiry_date", "address", "photo"},
		Validity:  6 * 365 * 24 * time.Hour,
		DisplayZH: "机动车驾驶证",
		DisplayEN: "Driving licence",
	},
	{
		Name:      "HealthCode",
		Required:  []string{"family_name", "given_name", "health_status"},
		Optional:  []string{"id_number_hash", "region"},
		Validity:  24 * time.Hour,
		DisplayZH: "健康码",
		DisplayEN: "Health code",
	},
	{
		Name:      "BusinessLicence",
		Required:  []string{"company_name", "unified_social_credit_code", "legal_representative", "registered_capital", "established"},
		Optional:  []string{"address", "business_scope"},
		Validity:  5 * 365 * 24 * time.Hour,
		DisplayZH: "营业执照",
		DisplayEN: "Business licence",
	},
}

func init() {
	for i := range builtinTypes {
		t := &builtinTypes[i]
		t.VCT = VCTPrefix + t.Name
		t.Disclosable = append(append([]string(nil), t.Required...), t.Optional...)
		sort.Strings(t.Disclosable)
	}
}

// Types returns the credential types this issuer knows.
func Types() []CredentialType { return append([]CredentialType(nil), builtinTypes...) }

// LookupType returns the credential type called name, or an error wrapping ErrUnknownType.
func LookupType(name string) (CredentialType, error) {
	for _, t := range builtinTypes {
		if t.Name == name {
			return t, nil
		}
	}
	return CredentialType{}, fmt.Errorf("%w: %q", ErrUnknownType, name)
}

// maxClaimLen bounds one claim value (a photo is the largest claim we expect, base64).
const maxClaimLen = 48 << 10

// validateClaims checks claims against t: every required claim present, no claim t does not
// know, every value a non-empty string within maxClaimLen.
func (t CredentialType) validateClaims(claims map[string]any) error {
	known := map[string]bool{}
	for _, n := range t.Disclosable {
		known[n] = true
	}
	var names []string
	for n := range claims {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !known[n] {
			return &ClaimError{Claim: n, Reason: "not a claim of " + t.Name}
		}
		s, ok := claims[n].(string)
		if !ok || s == "" {
			return &ClaimError{Claim: n, Reason: "must be a non-empty string"}
		}
		if len(s) > maxClaimLen {
			return &ClaimError{Claim: n, Reason: fmt.Sprintf("longer than %d bytes", maxClaimLen)}
		}
	}
	for _, n := range t.Required {
		if _, ok := claims[n]; !ok {
			return &ClaimError{Claim: n, Reason: "required"}
		}
	}
	return nil
}
