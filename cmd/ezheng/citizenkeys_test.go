package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/compactqr"
)

// TestCitizenPhoneHeldKey: `ezheng citizen` as an app whose holder key never leaves the phone,
// against a real server on 127.0.0.1. It registers a holder key, receives a licence bound to
// it from an offer, shares two claims of it with an online service (the phone signs the
// KB-JWT; the service's session is verified), caches it with sync, and — after the server
// has stopped — makes the counter QR offline, which a counter verifies from its trust bundle.
func TestCitizenPhoneHeldKey(t *testing.T) {
	dir, files := t.TempDir(), t.TempDir()
	w, stop := startServe(t, dir)
	defer stop()
	path := func(name string) string { return filepath.Join(files, name) }
	profile := path("zhou.json")
	citizen, must, decode := citizenCommands(t, profile)
	must(citizen("enrol", "--server", w.BaseURL, "--phone", "+8613800138002", "--name", "周九", "--id-number", "11010519491231002X"))

	// Without a holder key, nothing phone-bound can be done.
	if _, err := citizen("sync"); err == nil || !strings.Contains(err.Error(), "holder-key register") {
		t.Errorf("sync without a holder key: err = %v", err)
	}

	// The phone makes its holder key and registers it; registering again returns it.
	var hk struct {
		ID  string `json:"id"`
		DID string `json:"did"`
		JWK struct {
			D string `json:"d"`
		} `json:"jwk"`
	}
	decode(must(citizen("holder-key", "register")), &hk)
	if hk.ID == "" || !strings.HasPrefix(hk.DID, "did:jwk:") || hk.JWK.D != "" {
		t.Fatalf("registered holder key: %+v", hk)
	}
	var again struct {
		ID string `json:"id"`
	}
	decode(must(citizen("holder-key", "register")), &again)
	if again.ID != hk.ID {
		t.Errorf("registering again gave %s, want %s", again.ID, hk.ID)
	}

	// An offer received on the device: the phone signs the OpenID4VCI proof.
	psb, _ := w.Agency("DrivingLicence")
	var claims map[string]any
	decode(must(runCLI(t, "issuer", "type", "show", "DrivingLicence", "--example")), &claims)
	claims["family_name"], claims["given_name"] = "周", "九"
	cb, _ := json.Marshal(claims)
	if err := os.WriteFile(path("claims.json"), cb, 0o600); err != nil {
		t.Fatal(err)
	}
	var offer struct {
		URI    string `json:"offer_uri"`
		TxCode string `json:"tx_code"`
	}
	decode(must(runCLI(t, "issuer", "offer", "--server", w.BaseURL, "--token", psb.Token, "--type", "DrivingLicence",
		"--claims", path("claims.json"))), &offer)
	var received struct {
		Credentials []struct {
			ID string `json:"id"`
		} `json:"credentials"`
	}
	decode(must(citizen("receive", offer.URI, "--tx-code", offer.TxCode, "--on-device")), &received)
	if len(received.Credentials) != 1 {
		t.Fatalf("received: %+v", received)
	}
	credID := received.Credentials[0].ID
	// Online, the counter QR is two steps too: the bridge prepares, the phone signs.
	var online struct {
		QR   string `json:"qr"`
		Form string `json:"form"`
	}
	decode(must(citizen("qr", credID, "--disclose", "family_name", "--plain")), &online)
	if online.Form != "plain" || strings.Count(online.QR, "~") != 2 {
		t.Errorf("online qr of a phone-bound licence: %+v", online)
	}

	// Online: two claims to a service; the phone signs the KB-JWT, the session is verified.
	svc := serviceToken(t, dir)
	status, body := serviceCall(t, svc, http.MethodPost, w.BaseURL+"/verifier/v1/oid4vp/requests",
		`{"type":"DrivingLicence","claims":["family_name","licence_class"],"purpose":"Check that you may drive the car you hire"}`)
	if status != http.StatusCreated {
		t.Fatalf("create request: HTTP %d: %s", status, body)
	}
	var vp struct {
		ID  string `json:"id"`
		URI string `json:"uri"`
	}
	decode(string(body), &vp)
	var shared struct {
		Shared []struct {
			CredentialID string   `json:"credential_id"`
			Disclosed    []string `json:"disclosed"`
		} `json:"shared"`
	}
	decode(must(citizen("share", vp.URI, "--yes")), &shared)
	if len(shared.Shared) != 1 || shared.Shared[0].CredentialID != credID || !slices.Equal(shared.Shared[0].Disclosed, []string{"family_name", "licence_class"}) {
		t.Fatalf("shared: %+v", shared)
	}
	status, body = serviceCall(t, svc, http.MethodGet, w.BaseURL+"/verifier/v1/oid4vp/sessions/"+vp.ID, "")
	var session struct {
		Status string `json:"status"`
		Result struct {
			Credentials []struct {
				Result verifyResult `json:"result"`
			} `json:"credentials"`
		} `json:"result"`
	}
	decode(string(body), &session)
	if status != http.StatusOK || session.Status != "verified" || len(session.Result.Credentials) != 1 {
		t.Fatalf("session: HTTP %d %s", status, body)
	}
	if got := session.Result.Credentials[0].Result.Claims; len(got) != 2 || got["family_name"] != "周" {
		t.Errorf("the service saw %v", got)
	}

	// Before it goes offline the phone caches the licence, and the counter its trust bundle.
	if _, err := citizen("qr", credID, "--offline", "--disclose", "family_name"); err == nil || !strings.Contains(err.Error(), "citizen sync") {
		t.Errorf("qr --offline before sync: err = %v", err)
	}
	var synced struct {
		Cached []struct {
			ID string `json:"id"`
		} `json:"cached"`
	}
	decode(must(citizen("sync")), &synced)
	if len(synced.Cached) != 1 || synced.Cached[0].ID != credID {
		t.Fatalf("sync: %+v", synced)
	}
	must(runCLI(t, "verifier", "bundle", "export", "--server", w.BaseURL, "--out", path("counter.ezb")))

	// No network from here on.
	stop()
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(w.BaseURL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("the server still answers")
	}
	if _, err := citizen("credentials"); err == nil {
		t.Fatal("an online call succeeded with the server stopped")
	}
	for _, bad := range [][]string{
		{"qr", credID, "--offline", "--disclose", "shoe_size"},
		{"qr", "wc_not_cached", "--offline", "--disclose", "family_name"},
	} {
		if _, err := citizen(bad...); err == nil {
			t.Errorf("%v succeeded", bad)
		}
	}
	var shown struct {
		QR        string   `json:"qr"`
		Form      string   `json:"form"`
		Version   int      `json:"qr_version"`
		Disclosed []string `json:"disclosed"`
		PNG       string   `json:"png"`
		Offline   bool     `json:"offline"`
	}
	decode(must(citizen("qr", credID, "--offline", "--disclose", "family_name,given_name,licence_class", "--audience", w.Counter.ID,
		"--png", path("qr.png"))), &shown)
	if !compactqr.IsCompact(shown.QR) || shown.Form != "compact" || !shown.Offline || shown.Version == 0 || shown.PNG != path("qr.png") || len(shown.Disclosed) != 3 {
		t.Fatalf("offline qr: %+v", shown)
	}
	out, _, err := cli(t, "verify", path("qr.png"), "--bundle", path("counter.ezb"), "--counter", w.Counter.ID)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	var vr verifyResult
	decode(out, &vr)
	if !vr.Valid || len(vr.Claims) != 3 || vr.Claims["given_name"] != "九" {
		t.Fatalf("counter: valid %v, failed %v, claims %v", vr.Valid, vr.failed(), vr.Claims)
	}
	for _, c := range vr.Checks {
		if c.Name == "holder_binding" && (!c.OK || c.Skipped) {
			t.Errorf("holder_binding: ok %v skipped %v %s", c.OK, c.Skipped, c.Reason)
		}
	}
	// Another counter's QR is refused there (the KB-JWT names its audience).
	out, _, _ = cli(t, "verify", path("qr.png"), "--bundle", path("counter.ezb"), "--counter", "another-counter")
	decode(out, &vr)
	if vr.Valid {
		t.Error("the QR made for one counter is valid at another")
	}
}
