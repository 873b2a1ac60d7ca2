package credtype

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestTypeMetadataGolden pins the SD-JWT VC type metadata served for DrivingLicence.
func TestTypeMetadataGolden(t *testing.T) {
	got, err := json.MarshalIndent(mustType(t, "DrivingLicence").TypeMetadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "type-metadata-DrivingLicence.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("TypeMetadata drifted from %s (run go test -update if intended):\n%s", golden, got)
	}
}

func TestTypeMetadata(t *testing.T) {
	t.Parallel()
	for _, ty := range Builtin().All() {
		md := ty.TypeMetadata()
		if md["vct"] != ty.VCT || md["name"] == "" {
			t.Errorf("%s: vct, name = %v, %v", ty.Name, md["vct"], md["name"])
		}
		var locales []string
		for _, d := range md["display"].([]any) {
			locales = append(locales, d.(map[string]any)["locale"].(string))
		}
		if !slices.Contains(locales, "zh-CN") || !slices.Contains(locales, "en") {
			t.Errorf("%s: display locales = %v", ty.Name, locales)
		}
		claims := md["claims"].([]any)
		if len(claims) != len(ty.Properties) {
			t.Errorf("%s: %d claims metadata entries for %d properties", ty.Name, len(claims), len(ty.Properties))
		}
		for _, c := range claims {
			c := c.(map[string]any)
			name := c["path"].([]any)[0].(string)
			wantSD := "never"
			if slices.Contains(ty.DisclosableClaims, name) {
				wantSD = "always"
			}
			if c["sd"] != wantSD || c["mandatory"] != slices.Contains(ty.Required, name) {
				t.Errorf("%s.%s: sd %v mandatory %v", ty.Name, name, c["sd"], c["mandatory"])
			}
		}
		if _, err := json.Marshal(md); err != nil {
			t.Errorf("%s: %v", ty.Name, err)
		}
	}
}

func TestOpenID4VCIConfiguration(t *testing.T) {
	t.Parallel()
	bl := mustType(t, "BusinessLicence")
	tests := []struct {
		format string
		want   map[string]any // members checked; nil: want a nil configuration
	}{
		{FormatSDJWTVC, map[string]any{"format": "dc+sd-jwt", "vct": "urn:ezheng:vct:BusinessLicence"}},
		{FormatJWTVCJSON, map[string]any{"format": "jwt_vc_json", "credential_definition": map[string]any{"type": []any{"VerifiableCredential", "BusinessLicence"}}}},
		{FormatLDPVC, map[string]any{"format": "ldp_vc", "credential_signing_alg_values_supported": []any{"Ed25519Signature2020", "JsonWebSignature2020"}}},
		{FormatVCJWT, nil},
		{"mso_mdoc", nil},
	}
	for _, tt := range tests {
		c := bl.OpenID4VCIConfiguration(tt.format)
		if tt.want == nil {
			if c != nil {
				t.Errorf("%s: got %v, want nil", tt.format, c)
			}
			continue
		}
		for k, v := range tt.want {
			if !jsonEqual(c[k], v) {
				t.Errorf("%s: %s = %v, want %v", tt.format, k, c[k], v)
			}
		}
		for _, k := range []string{"scope", "cryptographic_binding_methods_supported", "credential_signing_alg_values_supported", "proof_types_supported", "credential_metadata"} {
			if c[k] == nil {
				t.Errorf("%s: no %s", tt.format, k)
			}
		}
		if got := c["proof_types_supported"]; !jsonEqual(got, map[string]any{"jwt": map[string]any{"proof_signing_alg_values_supported": []any{"EdDSA", "ES256"}}}) {
			t.Errorf("%s: proof_types_supported = %v", tt.format, got)
		}
	}
	// HealthCode is issued as dc+sd-jwt only.
	if c := mustType(t, "HealthCode").OpenID4VCIConfiguration(FormatJWTVCJSON); c != nil {
		t.Errorf("HealthCode jwt_vc_json = %v, want nil", c)
	}
	hc := mustType(t, "HealthCode").OpenID4VCIConfiguration(FormatSDJWTVC)
	display := hc["credential_metadata"].(map[string]any)["display"].([]any)
	want := map[string]any{
		"locale": "zh-CN", "name": "健康码", "description": "个人健康状态码，每日更新，当日有效。",
		"background_color": "#1aad19", "text_color": "#ffffff",
		"logo": map[string]any{"uri": "https://ezheng.example.gov.cn/logos/health-code.svg", "alt_text": "健康码标识"},
	}
	if !jsonEqual(display[0], want) {
		t.Errorf("HealthCode display[0] = %v, want %v", display[0], want)
	}
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
