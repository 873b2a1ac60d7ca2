package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAgencyRotateKeyCLI: `ezheng issuer agency rotate-key` moves the agency to #key-2, `show`
// reports it, and the walk (issue with the new key, verify) still succeeds.
func TestAgencyRotateKeyCLI(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	ag, _ := w.Agency("DrivingLicence")
	kid := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, append([]string{"issuer", "agency"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var a struct {
			DID string `json:"did"`
			KID string `json:"kid"`
		}
		if err := json.Unmarshal([]byte(out), &a); err != nil || a.DID != ag.DID {
			t.Fatalf("%v printed %s", args, out)
		}
		return a.KID
	}
	if got := kid("show", "--server", w.BaseURL, "--token", ag.Token); got != ag.DID+"#key-1" {
		t.Fatalf("kid = %s, want #key-1", got)
	}
	if got := kid("rotate-key", "--server", w.BaseURL, "--token", ag.Token); got != ag.DID+"#key-2" {
		t.Fatalf("rotate-key printed kid %s, want #key-2", got)
	}
	if got := kid("show", "--server", w.BaseURL, "--token", ag.Token); got != ag.DID+"#key-2" {
		t.Fatalf("kid after rotation = %s, want #key-2", got)
	}
	if _, err := runCLI(t, "issuer", "agency", "rotate-key", "--server", w.BaseURL, "--token", "ezt_wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("rotate-key with a wrong token: %v, want HTTP 401", err)
	}
	if _, vr := walk(t, dir); !vr.Valid {
		t.Fatalf("walk after rotation not valid: %+v", vr)
	}
}
