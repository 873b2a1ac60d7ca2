package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cliFishingLicence = `name: FishingLicence
vct: https://fisheries.example.gov.cn/vct/fishing-licence
validity: 1y
formats: [dc+sd-jwt]
disclosable: [holder_name]
schema:
  type: object
  additionalProperties: false
  required: [holder_name, licence_number]
  properties:
    holder_name: {type: string, maxLength: 64}
    licence_number: {type: string, pattern: "^FL[0-9]{6}$"}
display:
  - {lang: zh-CN, name: 捕捞许可证}
  - {lang: en, name: Fishing licence}
example: {holder_name: 王五, licence_number: FL000123}
`

// TestTypeAddAuditCLI: `ezheng issuer type add` uploads an agency's own type (a bad file is
// refused with every field named); `type list|show --token` shows it to that agency only; the
// root authority accredits it with `agency accredit`; `ezheng issuer audit` prints the log.
func TestTypeAddAuditCLI(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	psb, other := w.Agencies[0], w.Agencies[1]
	files := t.TempDir()
	good := filepath.Join(files, "fishing.yaml")
	bad := filepath.Join(files, "bad.yaml")
	os.WriteFile(good, []byte(cliFishingLicence), 0o600)
	os.WriteFile(bad, []byte(strings.Replace(strings.Replace(cliFishingLicence, "  - {lang: en, name: Fishing licence}\n", "", 1), "validity: 1y", "validity: soon", 1)), 0o600)
	srv := []string{"--server", w.BaseURL, "--token", psb.Token}

	_, err := runCLI(t, append([]string{"issuer", "type", "add", bad}, srv...)...)
	if err == nil || !strings.Contains(err.Error(), "invalid-type-file") || !strings.Contains(err.Error(), "validity:") || !strings.Contains(err.Error(), "display:") {
		t.Fatalf("bad file: %v", err)
	}
	out, err := runCLI(t, append([]string{"issuer", "type", "add", good}, srv...)...)
	if err != nil || !strings.Contains(out, "https://fisheries.example.gov.cn/vct/fishing-licence") {
		t.Fatalf("add: %v %s", err, out)
	}
	if out, err := runCLI(t, append([]string{"issuer", "type", "list"}, srv...)...); err != nil || !strings.Contains(out, "FishingLicence") || !strings.Contains(out, "DrivingLicence") {
		t.Fatalf("list: %v %s", err, out)
	}
	if out, err := runCLI(t, "issuer", "type", "list", "--server", w.BaseURL, "--token", other.Token); err != nil || strings.Contains(out, "FishingLicence") {
		t.Fatalf("another agency's list: %v %s", err, out)
	}
	if out, err := runCLI(t, append([]string{"issuer", "type", "show", "FishingLicence", "--example"}, srv...)...); err != nil || !strings.Contains(out, "FL000123") {
		t.Fatalf("show --example: %v %s", err, out)
	}
	if _, err := runCLI(t, "issuer", "type", "show", "FishingLicence", "--server", w.BaseURL, "--token", other.Token); err == nil || !strings.Contains(err.Error(), "unknown-credential-type") {
		t.Fatalf("another agency's show: %v", err)
	}
	if _, err := runCLI(t, "issuer", "type", "show", "FishingLicence"); err == nil { // local: built-in types only
		t.Fatal("show without a server found an agency's type")
	}
	if out, err := runCLI(t, "issuer", "agency", "accredit", psb.ID, "--type", "FishingLicence", "--server", w.BaseURL, "--token", w.RootAuthority.Token); err != nil || !strings.Contains(out, "accredited") {
		t.Fatalf("accredit: %v %s", err, out)
	}

	out, err = runCLI(t, append([]string{"issuer", "audit"}, srv...)...)
	if err != nil || !strings.Contains(out, "type.add") || !strings.Contains(out, "agency.accredit") || !strings.Contains(out, "token:") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "issuer", "audit", "--json", "--limit", "1", "--server", w.BaseURL, "--token", other.Token); err != nil || strings.Contains(out, "FishingLicence") {
		t.Fatalf("another agency's audit: %v %s", err, out)
	}
}
