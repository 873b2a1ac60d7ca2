package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAgencyAddListClientCLI: `ezheng issuer agency add` with the root authority's token
// makes an agency whose token works, `list` shows it, a demo agency's token may do neither,
// and `client create|delete` makes an OAuth client whose secret gets a token until deleted.
func TestAgencyAddListClientCLI(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	root := w.RootAuthority.Token
	out, err := runCLI(t, "issuer", "agency", "add", "--server", w.BaseURL, "--token", root, "--name", "Transport Bureau", "--type", "DrivingLicence", "--type", "HealthCode")
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	var added struct {
		Agency struct {
			DID   string   `json:"did"`
			Types []string `json:"types"`
		} `json:"agency"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Token == "" || len(added.Agency.Types) != 2 {
		t.Fatalf("add printed %s", out)
	}
	if out, err := runCLI(t, "issuer", "agency", "show", "--server", w.BaseURL, "--token", added.Token); err != nil || !strings.Contains(out, added.Agency.DID) {
		t.Fatalf("show with the new token: %v %s", err, out)
	}
	if out, err := runCLI(t, "issuer", "agency", "list", "--server", w.BaseURL, "--token", root); err != nil || !strings.Contains(out, added.Agency.DID) {
		t.Fatalf("list: %v %s", err, out)
	}
	psb := w.Agencies[0].Token
	if _, err := runCLI(t, "issuer", "agency", "list", "--server", w.BaseURL, "--token", psb); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("list with an agency token: %v, want HTTP 403", err)
	}
	if _, err := runCLI(t, "issuer", "agency", "add", "--server", w.BaseURL, "--token", root, "--name", "Transport Bureau", "--type", "DrivingLicence"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("add a duplicate: %v, want HTTP 409", err)
	}

	out, err = runCLI(t, "issuer", "agency", "client", "create", "--server", w.BaseURL, "--token", psb)
	if err != nil {
		t.Fatalf("client create: %v", err)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ID == "" || c.Secret == "" {
		t.Fatalf("client create printed %s", out)
	}
	grant := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, w.BaseURL+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ID, c.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := grant(); got != http.StatusOK {
		t.Fatalf("token for the new client: HTTP %d", got)
	}
	if _, err := runCLI(t, "issuer", "agency", "client", "delete", c.ID, "--server", w.BaseURL, "--token", psb); err != nil {
		t.Fatalf("client delete: %v", err)
	}
	if got := grant(); got != http.StatusUnauthorized {
		t.Fatalf("token for a deleted client: HTTP %d, want 401", got)
	}
}
