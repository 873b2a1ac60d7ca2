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

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/verifier"
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
	if !vr.Valid || len(vr.failed()) != 0 || len(vr.Checks) != len(verifier.CheckNames) {
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
	// The QR is the compact form of a presentation with only the three counter claims, and
	// it verifies as such; tampered, it does not (compactqr_test.go).
	checkCompactQR(t, w, res.QR)
}

// TestQRSizeThreeClaimLicence measures the counter QR of a 3-claim DrivingLicence, compact
// (the walk's "qr") and plain (what it expands to), and holds the compact form to issue #5's
// target: at most 1,000 characters, so at most the QR version 1,000 characters need.
func TestQRSizeThreeClaimLicence(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir)
	res, _ := walk(t, dir)
	plain, err := compactqr.Decode(res.QR)
	if err != nil {
		t.Fatalf("the walk's QR is not a compact QR: %v", err)
	}
	v, err := qr.Version(res.QR)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := qr.Version(plain)
	if err != nil {
		t.Fatal(err)
	}
	limit, _ := qr.Version(compactqr.Prefix + strings.Repeat("A", 1000-len(compactqr.Prefix))) // all alphanumeric, like base45
	t.Logf("counter QR for a 3-claim DrivingLicence: compact %d characters, QR version %d (level M, alphanumeric mode); plain %d bytes, QR version %d (byte mode)",
		len(res.QR), v, len(plain), pv)
	if len(res.QR) > 1000 || v > limit {
		t.Errorf("compact QR is %d characters, version %d; the target is at most 1,000 characters (version %d)", len(res.QR), v, limit)
	}
	if v >= pv {
		t.Errorf("compact QR version %d is not below the plain form's %d", v, pv)
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
	var body struct {
		Credentials []heldCredential `json:"credentials"`
	}
	if err := bridgeJSON(context.Background(), http.DefaultClient, w.Citizen, http.MethodGet, w.BaseURL+"/bridge/v1/credentials", nil, http.StatusOK, &body); err != nil {
		t.Fatalf("list credentials: %v", err)
	}
	sort.Slice(body.Credentials, func(i, j int) bool { return body.Credentials[i].ID < body.Credentials[j].ID })
	return body.Credentials
}

func counterQR(t *testing.T, w *demo.World, id string) string {
	t.Helper()
	var out struct {
		QR string `json:"qr"`
	}
	if err := bridgeJSON(context.Background(), http.DefaultClient, w.Citizen, http.MethodPost, w.BaseURL+"/bridge/v1/credentials/"+id+"/qr",
		map[string]any{"disclose": w.Counter.Disclose, "audience": w.Counter.ID}, http.StatusOK, &out); err != nil {
		t.Fatalf("counter QR: %v", err)
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
