package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestVerifierServiceCLI: `ezheng verifier service add` registers a service whose token
// creates OpenID4VP requests, `list` shows it and its tokens without secrets, `token create`
// mints another token and `token revoke` stops the first one; an agency's token may do none
// of it.
func TestVerifierServiceCLI(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	root := w.RootAuthority.Token
	if w.Service.Token == "" || w.Service.Name != "demo online service" {
		t.Fatalf("demo.json service: %+v", w.Service)
	}
	create := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, w.BaseURL+"/verifier/v1/oid4vp/requests", strings.NewReader(`{"type":"DrivingLicence","claims":["family_name"]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := create(w.Service.Token); got != http.StatusCreated {
		t.Fatalf("request with the demo service's token: HTTP %d", got)
	}

	out, err := runCLI(t, "verifier", "service", "add", "Car rental", "--server", w.BaseURL, "--token", root)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	var added struct {
		Service struct{ ID, Name string }
		TokenID string `json:"token_id"`
		Token   string `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Service.ID == "" || added.Service.Name != "Car rental" || added.Token == "" {
		t.Fatalf("add printed %s", out)
	}
	if got := create(added.Token); got != http.StatusCreated {
		t.Fatalf("request with the new token: HTTP %d", got)
	}

	out, err = runCLI(t, "verifier", "service", "token", "create", added.Service.ID, "--server", w.BaseURL, "--token", root)
	var second struct {
		TokenID string `json:"token_id"`
		Token   string `json:"token"`
	}
	if err != nil || json.Unmarshal([]byte(out), &second) != nil || second.Token == "" || second.TokenID == added.TokenID {
		t.Fatalf("token create: %v %s", err, out)
	}
	if out, err = runCLI(t, "verifier", "service", "token", "revoke", added.Service.ID, added.TokenID, "--server", w.BaseURL, "--token", root); err != nil {
		t.Fatalf("token revoke: %v %s", err, out)
	}
	if got := create(added.Token); got != http.StatusUnauthorized {
		t.Fatalf("request with the revoked token: HTTP %d, want 401", got)
	}
	if got := create(second.Token); got != http.StatusCreated {
		t.Fatalf("request with the second token: HTTP %d", got)
	}

	out, err = runCLI(t, "verifier", "service", "list", "--server", w.BaseURL, "--token", root)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var list struct {
		Services []struct {
			ID, Name string
			Tokens   []struct {
				ID        string  `json:"id"`
				RevokedAt *string `json:"revoked_at"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Services) != 2 || strings.Contains(out, second.Token) || strings.Contains(out, added.Token) {
		t.Fatalf("list printed %s", out)
	}
	if s := list.Services[1]; s.ID != added.Service.ID || len(s.Tokens) != 2 || s.Tokens[0].ID != added.TokenID || s.Tokens[0].RevokedAt == nil || s.Tokens[1].RevokedAt != nil {
		t.Fatalf("listed %+v", s)
	}

	psb := w.Agencies[0].Token
	for _, args := range [][]string{
		{"add", "Other"}, {"list"}, {"token", "create", added.Service.ID}, {"token", "revoke", added.Service.ID, second.TokenID},
	} {
		if _, err := runCLI(t, append(append([]string{"verifier", "service"}, args...), "--server", w.BaseURL, "--token", psb)...); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("%v with an agency token: %v, want HTTP 403", args, err)
		}
	}
	if _, err := runCLI(t, "verifier", "service", "token", "revoke", added.Service.ID, added.TokenID, "--server", w.BaseURL, "--token", root); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("revoke twice: %v, want HTTP 404", err)
	}
}
