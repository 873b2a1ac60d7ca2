package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/demo"
)

// TestCitizenDay is the README's "A citizen's day", command by command, against a real
// server on 127.0.0.1: a new citizen enrols with `ezheng citizen`, an agency makes an offer,
// the citizen receives it from the offer's QR picture, shows a QR that a counter verifies
// offline, shares two claims with an online service that sees them verified, and finds both
// presentations in the history.
func TestCitizenDay(t *testing.T) {
	dir, files := t.TempDir(), t.TempDir()
	w, stop := startServe(t, dir)
	defer stop()
	path := func(name string) string { return filepath.Join(files, name) }
	profile := path("li.json")
	citizen, must, decode := citizenCommands(t, profile)

	// Enrol: the code comes from the demo server's dev outbox; the token stays in the profile.
	if _, err := citizen("history"); err == nil || !strings.Contains(err.Error(), "no citizen profile") {
		t.Fatalf("history before enrolment: err = %v, want no citizen profile", err)
	}
	out := must(citizen("enrol", "--server", w.BaseURL, "--phone", "+8613800138001", "--name", "李四", "--id-number", "11010519491231002X"))
	var enrolled struct {
		Created bool `json:"created"`
		Citizen struct {
			ID        string `json:"id"`
			HolderDID string `json:"holder_did"`
		} `json:"citizen"`
		Device struct {
			ID string `json:"id"`
		} `json:"device"`
	}
	decode(out, &enrolled)
	if !enrolled.Created || enrolled.Citizen.ID == "" || enrolled.Device.ID == "" {
		t.Fatalf("enrol output: %s", out)
	}
	if strings.Contains(out, "ezw_") || strings.Contains(out, "access_token") {
		t.Errorf("enrol printed the access token:\n%s", out)
	}
	if fi, err := os.Stat(profile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("profile: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if _, err := citizen("enrol", "--server", w.BaseURL, "--phone", "+8613800138001"); err == nil || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("enrol over an enrolled profile: err = %v", err)
	}
	if err := os.Chmod(profile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := citizen("devices"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a profile others may read: err = %v, want a refusal", err)
	}
	if err := os.Chmod(profile, 0o600); err != nil {
		t.Fatal(err)
	}
	var devices struct {
		Current string `json:"current"`
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
	}
	decode(must(citizen("devices")), &devices)
	if devices.Current != enrolled.Device.ID || len(devices.Devices) != 1 {
		t.Errorf("devices: %+v, want only %s", devices, enrolled.Device.ID)
	}

	// The agency makes an offer for Li Si's licence; the citizen scans its QR.
	psb, ok := w.Agency("DrivingLicence")
	if !ok {
		t.Fatal("no DrivingLicence agency in the demo world")
	}
	var claims map[string]any
	decode(must(runCLI(t, "issuer", "type", "show", "DrivingLicence", "--example")), &claims)
	claims["family_name"], claims["given_name"] = "李", "四"
	cb, _ := json.Marshal(claims)
	if err := os.WriteFile(path("claims.json"), cb, 0o600); err != nil {
		t.Fatal(err)
	}
	var offer struct {
		URI    string `json:"offer_uri"`
		TxCode string `json:"tx_code"`
	}
	decode(must(runCLI(t, "issuer", "offer", "--server", w.BaseURL, "--token", psb.Token, "--type", "DrivingLicence",
		"--claims", path("claims.json"), "--qr-png", path("offer.png"))), &offer)
	if offer.TxCode == "" {
		t.Fatalf("offer without a tx_code: %+v", offer)
	}
	if _, err := citizen("receive", offer.URI, "--qr", path("offer.png")); err == nil {
		t.Error("receive with both a link and --qr succeeded")
	}
	wrong := offer.TxCode[:len(offer.TxCode)-1] + string('0'+(offer.TxCode[len(offer.TxCode)-1]-'0'+1)%10)
	if _, err := citizen("receive", "--qr", path("offer.png"), "--tx-code", wrong); err == nil {
		t.Error("receive with a wrong tx code succeeded")
	}
	var received struct {
		Credentials []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"credentials"`
	}
	decode(must(citizen("receive", "--qr", path("offer.png"), "--tx-code", offer.TxCode)), &received)
	if len(received.Credentials) != 1 || received.Credentials[0].Type != "urn:ezheng:vct:DrivingLicence" {
		t.Fatalf("received: %+v", received)
	}
	credID := received.Credentials[0].ID
	var held struct {
		Credentials []struct {
			ID string `json:"id"`
		} `json:"credentials"`
	}
	decode(must(citizen("credentials")), &held)
	if len(held.Credentials) != 1 || held.Credentials[0].ID != credID {
		t.Errorf("credentials: %+v, want %s", held, credID)
	}

	// At the counter: the citizen shows the QR, the counter verifies it offline.
	if _, err := citizen("qr", credID); err == nil {
		t.Error("qr without --disclose succeeded")
	}
	var shown struct {
		QR        string   `json:"qr"`
		Form      string   `json:"form"`
		Disclosed []string `json:"disclosed"`
		PNG       string   `json:"png"`
	}
	decode(must(citizen("qr", credID, "--disclose", "family_name,given_name,licence_class", "--audience", "counter-traffic-police-1",
		"--png", path("qr.png"))), &shown)
	if !strings.HasPrefix(shown.QR, "EZ1:") || shown.Form != "compact" || shown.PNG != path("qr.png") || len(shown.Disclosed) != 3 {
		t.Fatalf("qr output: %+v", shown)
	}
	must(runCLI(t, "verifier", "bundle", "export", "--server", w.BaseURL, "--out", path("counter.ezb")))
	var vr verifyResult
	decode(must(runCLI(t, "verify", path("qr.png"), "--bundle", path("counter.ezb"), "--counter", "counter-traffic-police-1")), &vr)
	if !vr.Valid || vr.Claims["family_name"] != "李" || len(vr.Claims) != 3 {
		t.Fatalf("counter: valid %v, failed %v, claims %v", vr.Valid, vr.failed(), vr.Claims)
	}

	// Online: a service asks for two claims; the citizen sees who asks, then shares.
	svc := serviceToken(t, dir)
	var vp struct {
		ID  string `json:"id"`
		URI string `json:"uri"`
	}
	status, body := serviceCall(t, svc, http.MethodPost, w.BaseURL+"/verifier/v1/oid4vp/requests",
		`{"type":"DrivingLicence","claims":["family_name","licence_class"],"purpose":"Check that you may drive the car you hire"}`)
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("create request: HTTP %d: %s", status, body)
	}
	decode(string(body), &vp)
	if _, err := citizen("share", "--yes"); err == nil || !strings.Contains(err.Error(), "no request waiting") {
		t.Errorf("share --yes with nothing pending: err = %v", err)
	}
	out = must(citizen("share", vp.URI))
	var view struct {
		Request     *string `json:"request"`
		Satisfiable bool    `json:"satisfiable"`
		Verifier    struct {
			DID string `json:"did"`
		} `json:"verifier"`
		Credentials []struct {
			Options []struct {
				CredentialID string   `json:"credential_id"`
				Disclose     []string `json:"disclose"`
			} `json:"options"`
		} `json:"credentials"`
	}
	decode(out, &view)
	if !view.Satisfiable || view.Request != nil || view.Verifier.DID == "" || len(view.Credentials) != 1 ||
		len(view.Credentials[0].Options) != 1 || view.Credentials[0].Options[0].CredentialID != credID ||
		!slices.Equal(view.Credentials[0].Options[0].Disclose, []string{"family_name", "licence_class"}) {
		t.Fatalf("consent view: %s", out)
	}
	var shared struct {
		Shared []struct {
			CredentialID string   `json:"credential_id"`
			Disclosed    []string `json:"disclosed"`
		} `json:"shared"`
	}
	decode(must(citizen("share", "--yes")), &shared)
	if len(shared.Shared) != 1 || shared.Shared[0].CredentialID != credID || len(shared.Shared[0].Disclosed) != 2 {
		t.Fatalf("shared: %+v", shared)
	}
	if _, err := citizen("share", "--yes"); err == nil {
		t.Error("a second share --yes succeeded: the answered request was kept")
	}

	// The service sees the two claims, verified.
	var session struct {
		Status string `json:"status"`
		Result struct {
			Valid       bool `json:"valid"`
			Credentials []struct {
				Result verifyResult `json:"result"`
			} `json:"credentials"`
		} `json:"result"`
	}
	status, body = serviceCall(t, svc, http.MethodGet, w.BaseURL+"/verifier/v1/oid4vp/sessions/"+vp.ID, "")
	if status != http.StatusOK {
		t.Fatalf("session: HTTP %d: %s", status, body)
	}
	decode(string(body), &session)
	if session.Status != "verified" || !session.Result.Valid || len(session.Result.Credentials) != 1 {
		t.Fatalf("session: %s", body)
	}
	if got := session.Result.Credentials[0].Result.Claims; len(got) != 2 || got["family_name"] != "李" || got["licence_class"] != "C1" {
		t.Errorf("service saw claims %v, want family_name 李 and licence_class C1", got)
	}

	// The history shows both presentations, newest first.
	var history struct {
		Presentations []struct {
			Channel      string   `json:"channel"`
			CredentialID string   `json:"credential_id"`
			Claims       []string `json:"claims"`
		} `json:"presentations"`
	}
	decode(must(citizen("history")), &history)
	var channels []string
	for _, p := range history.Presentations {
		channels = append(channels, p.Channel)
		if p.CredentialID != credID {
			t.Errorf("history record of %s, want %s", p.CredentialID, credID)
		}
	}
	if !slices.Equal(channels, []string{"openid4vp", "counter-qr"}) {
		t.Errorf("history channels %v, want [openid4vp counter-qr]", channels)
	}

	// One step: consent given with the link; the answer names what was asked and shared.
	status, body = serviceCall(t, svc, http.MethodPost, w.BaseURL+"/verifier/v1/oid4vp/requests", `{"type":"DrivingLicence","claims":["licence_class"]}`)
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("create request: HTTP %d: %s", status, body)
	}
	decode(string(body), &vp)
	var oneStep struct {
		Request struct {
			Satisfiable bool `json:"satisfiable"`
		} `json:"request"`
		Shared []struct {
			Disclosed []string `json:"disclosed"`
		} `json:"shared"`
	}
	decode(must(citizen("share", vp.URI, "--yes")), &oneStep)
	if !oneStep.Request.Satisfiable || len(oneStep.Shared) != 1 || !slices.Equal(oneStep.Shared[0].Disclosed, []string{"licence_class"}) {
		t.Errorf("share --yes with the link: %+v", oneStep)
	}

	// The notification stream opens and ends when --for has passed.
	if _, err := citizen("events", "--for", "200ms"); err != nil {
		t.Errorf("events: %v", err)
	}
	if _, err := citizen("events", "--for", "0s"); err == nil {
		t.Error("events --for 0s succeeded")
	}
}

// serviceToken returns the demo online service's API token from demo.json ("" if the demo
// world has none: creating OpenID4VP requests was open before services had tokens).
func serviceToken(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, demo.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Service struct {
			Token string `json:"token"`
		} `json:"service"`
	}
	json.Unmarshal(b, &w)
	return w.Service.Token
}

// serviceCall makes one verifier API call as the online service (body "" sends none).
func serviceCall(t *testing.T, token, method, url, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, rb
}

// TestPrintEvents: the server-sent events reader prints each event's data as a line,
// skips comments and ends at a shutdown event.
func TestPrintEvents(t *testing.T) {
	in := "retry: 5000\n: ezheng events for en\n\nid: 1\nevent: offer\ndata: {\"id\":1}\n\n: heartbeat\n\n" +
		"id: 2\nevent: credential-status\ndata: {\"id\":2}\n\nevent: shutdown\ndata: {}\n\nid: 3\ndata: {\"id\":3}\n\n"
	var out bytes.Buffer
	if err := printEvents(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "{\"id\":1}\n{\"id\":2}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCitizenEvents: `ezheng citizen events` reads the real notification stream. The demo
// citizen's phone (device key and token from demo.json) is written as a profile; the agency
// suspends the walk's licence, the wallet's status watch notices, and events --after 0
// replays the stored credential-status event, in Chinese when asked.
func TestCitizenEvents(t *testing.T) {
	dir := t.TempDir()
	w, stop := startServe(t, dir, "--credential-watch", "100ms")
	defer stop()
	res, _ := walk(t, dir)
	profile := filepath.Join(t.TempDir(), "zhang.json")
	p := citizenProfile{Server: w.BaseURL, CitizenID: w.Citizen.ID, DeviceID: w.Citizen.DeviceID, Token: w.Citizen.Token, DeviceKey: w.Citizen.DeviceKey}
	if err := p.save(profile); err != nil {
		t.Fatal(err)
	}
	psb, _ := w.Agency("DrivingLicence")
	if out, err := runCLI(t, "issuer", "suspend", res.ID, "--reason", "certificateHold", "--server", w.BaseURL, "--token", psb.Token); err != nil {
		t.Fatalf("suspend: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second) // the watch runs every 100 ms; this only bounds the test
	for {
		out, err := runCLI(t, "citizen", "--profile", profile, "events", "--after", "0", "--for", "300ms", "--lang", "zh-CN")
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var ev struct {
				Type  string `json:"type"`
				Lang  string `json:"lang"`
				Title string `json:"title"`
				Data  struct {
					Status string `json:"status"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("event line is not JSON: %v: %q", err, line)
			}
			if ev.Type == "credential-status" && ev.Data.Status == "suspended" {
				if ev.Lang != "zh-CN" || ev.Title == "" {
					t.Errorf("event in %q with title %q, want zh-CN", ev.Lang, ev.Title)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no credential-status event after the suspension; last output:\n%s", out)
		}
	}
}
