package ldvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// withStatus returns a DrivingLicence carrying a BitstringStatusListEntry, as the issuer
// writes it for ldp_vc.
func withStatus() map[string]any {
	c := drivingLicence()
	c["@context"] = append(c["@context"].([]any), ContextStatusV1)
	c["credentialStatus"] = map[string]any{
		"id":                   "https://issuer.example/status/sl_1/w3c/message#94567",
		"type":                 "BitstringStatusListEntry",
		"statusPurpose":        "message",
		"statusListIndex":      "94567",
		"statusListCredential": "https://issuer.example/status/sl_1/w3c/message",
		"statusSize":           2,
		"statusMessage": []any{
			map[string]any{"status": "0x0", "message": "valid"},
			map[string]any{"status": "0x1", "message": "revoked"},
			map[string]any{"status": "0x2", "message": "suspended"},
			map[string]any{"status": "0x3", "message": "unassigned"},
		},
	}
	return c
}

// TestStatusEntryRoundTrip: a credential with a BitstringStatusListEntry signs and verifies
// offline, and the proof covers the entry: changing its index, list or purpose breaks it.
func TestStatusEntryRoundTrip(t *testing.T) {
	raw, err := Sign(withStatus(), testKey, issuerVM, created)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(raw, keys, validNow)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := v.Credential["credentialStatus"].(map[string]any)
	if st["statusListIndex"] != "94567" || st["statusPurpose"] != "message" || st["type"] != "BitstringStatusListEntry" {
		t.Fatalf("credentialStatus %v", v.Credential["credentialStatus"])
	}
	for _, tc := range []struct{ name, old, new string }{
		{"index", `"statusListIndex":"94567"`, `"statusListIndex":"94568"`},
		{"list", `/sl_1/w3c/message"`, `/sl_2/w3c/message"`},
		{"purpose", `"statusPurpose":"message"`, `"statusPurpose":"refresh"`},
		{"size", `"statusSize":2`, `"statusSize":1`},
		{"message", `"message":"revoked"`, `"message":"valid!!"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(raw, []byte(tc.old)) {
				t.Fatalf("signed credential has no %s", tc.old)
			}
			tampered := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
			if _, err := Verify(tampered, keys, validNow); !errors.Is(err, ErrSignature) {
				t.Fatalf("tampered %s: %v, want ErrSignature", tc.name, err)
			}
		})
	}
}

// TestStatusEntryRejects: status terms count only inside an entry of a known status type, and
// only with the status context; otherwise the proof would not cover them.
func TestStatusEntryRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c map[string]any)
		want error
	}{
		{"no status context", func(c map[string]any) {
			c["@context"] = []any{ContextCredentialsV1, ContextEd25519Signature2020, ContextLicenceV1}
		}, ErrUndefinedTerm},
		{"unknown entry type", func(c map[string]any) {
			c["credentialStatus"].(map[string]any)["type"] = "StatusList2021Entry"
		}, ErrUndefinedTerm},
		{"member the entry does not define", func(c map[string]any) {
			c["credentialStatus"].(map[string]any)["encodedList"] = "uH4sI"
		}, ErrUndefinedTerm},
		{"undefined member inside statusMessage", func(c map[string]any) {
			c["credentialStatus"].(map[string]any)["statusMessage"].([]any)[1].(map[string]any)["colour"] = "red"
		}, ErrUndefinedTerm},
		{"statusMessage term outside statusMessage", func(c map[string]any) {
			c["credentialStatus"].(map[string]any)["message"] = "hello"
		}, ErrUndefinedTerm},
		{"status term outside an entry", func(c map[string]any) {
			c["credentialSubject"].(map[string]any)["statusPurpose"] = "revocation"
		}, ErrUndefinedTerm},
		{"status term at the top", func(c map[string]any) {
			c["statusListIndex"] = "1"
		}, ErrUndefinedTerm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withStatus()
			tc.edit(c)
			if _, err := Sign(c, testKey, issuerVM, created); !errors.Is(err, tc.want) {
				t.Fatalf("Sign: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestGoldenStatus pins the signed form of a credential with a status entry, as TestGolden
// does for one without (refresh with -update after finding out why it drifted).
func TestGoldenStatus(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "driving-licence-status.signed.json")
	got, err := Sign(withStatus(), testKey, issuerVM, created)
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := Verify(want, keys, validNow); err != nil {
		t.Errorf("golden file does not verify: %v", err)
	}
}
