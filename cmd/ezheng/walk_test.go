package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/sqlitedb"
)

// TestWalk runs the real server and the whole walk over HTTP: issue → wallet → QR → verify.
func TestWalk(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	res, vr := walk(t, dir)

	psb, _ := w.Agency("DrivingLicence")
	if res.Issuer != psb.DID || res.Holder != w.Citizen.DID {
		t.Errorf("issuer/holder = %s / %s, want %s / %s", res.Issuer, res.Holder, psb.DID, w.Citizen.DID)
	}
	if !strings.HasSuffix(res.Credential, "~") || strings.Count(res.Credential, "~") != len(demo.DrivingLicenceClaims)+1 {
		t.Errorf("credential is not an SD-JWT with %d disclosures: %.80s…", len(demo.DrivingLicenceClaims), res.Credential)
	}
	if !vr.Valid || len(vr.failed()) != 0 || len(vr.Checks) != 6 {
		t.Fatalf("walk result not valid: %+v", vr)
	}
	wantClaims := map[string]any{"family_name": "张", "given_name": "三", "licence_class": "C1"}
	if !reflect.DeepEqual(vr.Claims, wantClaims) {
		t.Errorf("disclosed claims = %v, want exactly %v", vr.Claims, wantClaims)
	}
	if vr.Type != "urn:ezheng:vct:DrivingLicence" {
		t.Errorf("type = %q", vr.Type)
	}
	// The PNG holds exactly the QR text.
	png, err := os.ReadFile(res.QRPNG)
	if err != nil {
		t.Fatal(err)
	}
	text, err := qr.Decode(png)
	if err != nil || text != res.QR {
		t.Fatalf("QR PNG decodes to %.40q (err %v), want the walk's qr", text, err)
	}
	// Only the three counter claims are disclosed in the QR itself.
	if n := strings.Count(res.QR, "~"); n != 4 {
		t.Errorf("QR has %d '~' separators, want 4 (3 disclosures + KB-JWT)", n)
	}
}

// TestQRSizeThreeClaimLicence measures the counter QR of a 3-claim DrivingLicence (the target
// comes with the compact QR format; here it is reported).
func TestQRSizeThreeClaimLicence(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir)
	res, _ := walk(t, dir)
	v, err := qr.Version(res.QR)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counter QR for a 3-claim DrivingLicence: %d bytes, QR version %d (level M, byte mode)", len(res.QR), v)
	if v < 1 || v > 40 {
		t.Fatalf("version %d out of range", v)
	}
}

// TestRestart stops the server and starts it again on the same data dir: the credential is
// still in the wallet and still verifies, and the demo world is not seeded twice.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	w1, stop := startServe(t, dir)
	first, _ := walk(t, dir)
	stop()
	world1, _ := os.ReadFile(filepath.Join(dir, demo.FileName))

	// Same address: credentials carry status list URLs under the server's public URL.
	w2, stop := startServe(t, dir, "--addr", strings.TrimPrefix(w1.BaseURL, "http://"))
	if w2.Citizen.Token != w1.Citizen.Token || w2.Agencies[0].Token != w1.Agencies[0].Token {
		t.Error("restart minted new tokens: the demo world was seeded again")
	}
	// The credential from before the restart is in the wallet and makes a valid QR.
	list := bridgeCredentials(t, w2)
	if len(list) != 1 {
		t.Fatalf("wallet holds %d credentials after restart, want 1", len(list))
	}
	_, vr := walk(t, dir) // issues a second credential and verifies it
	if !vr.Valid {
		t.Fatalf("walk after restart not valid: %+v", vr)
	}
	qrText := counterQR(t, w2, list[0].ID)
	if got := verifyText(t, w2, qrText); !got.Valid {
		t.Fatalf("credential issued before the restart no longer verifies: %+v", got)
	}
	stop()
	if first.Credential == "" || len(world1) == 0 {
		t.Fatal("first run produced nothing")
	}
	// Exactly one demo world in the databases.
	for file, q := range map[string]string{
		"issuer.db": `SELECT COUNT(*) FROM agencies`,
		"wallet.db": `SELECT COUNT(*) FROM citizens`,
	} {
		db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, file)))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
		want := map[string]int{"issuer.db": 4, "wallet.db": 1}[file]
		if n != want {
			t.Errorf("%s: %s = %d, want %d", file, q, n, want)
		}
	}
}

type heldCredential struct {
	ID     string   `json:"id"`
	Type   string   `json:"type"`
	Claims []string `json:"claims"`
}

func bridgeCredentials(t *testing.T, w *demo.World) []heldCredential {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, w.BaseURL+"/bridge/v1/credentials", nil)
	req.Header.Set("Authorization", "Bearer "+w.Citizen.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Credentials []heldCredential `json:"credentials"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
		t.Fatalf("list credentials: HTTP %d", resp.StatusCode)
	}
	sort.Slice(body.Credentials, func(i, j int) bool { return body.Credentials[i].ID < body.Credentials[j].ID })
	return body.Credentials
}

func counterQR(t *testing.T, w *demo.World, id string) string {
	t.Helper()
	var out struct {
		QR string `json:"qr"`
	}
	status := doJSON(t, http.MethodPost, w.BaseURL+"/bridge/v1/credentials/"+id+"/qr", w.Citizen.Token,
		map[string]any{"disclose": w.Counter.Disclose, "audience": w.Counter.ID}, &out)
	if status != 200 {
		t.Fatalf("counter QR: HTTP %d", status)
	}
	return out.QR
}

func verifyText(t *testing.T, w *demo.World, text string) verifyResult {
	t.Helper()
	var vr verifyResult
	if status := doJSON(t, http.MethodPost, w.BaseURL+"/verifier/v1/verify", "", map[string]any{"qr": text, "counter": w.Counter.ID}, &vr); status != 200 {
		t.Fatalf("verify: HTTP %d", status)
	}
	return vr
}

func doJSON(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}
