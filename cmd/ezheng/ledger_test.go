package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/sqlitedb"
)

// runCLI runs the ezheng command line and returns its standard output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out, io.Discard, testEnv(nil))
	return out.String(), err
}

// TestWalkReceiptVerifiesOffline: the walk's credential carries an anchor receipt that
// `ezheng ledger verify-receipt` checks with nothing but the ledger key — and refuses for
// another credential, a tampered receipt or another key. After the node stops, `ezheng ledger
// audit` replays its log and finds it consistent.
func TestWalkReceiptVerifiesOffline(t *testing.T) {
	dir := t.TempDir()
	w, stop := startServe(t, dir)
	res, _ := walk(t, dir)
	if len(res.Receipt) == 0 || res.LedgerKey == "" || res.LedgerKey != w.LedgerKey {
		t.Fatalf("walk output lacks receipt or ledger_key: %q", res.LedgerKey)
	}
	stop()

	files := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	receipt := write("receipt.json", string(res.Receipt))
	cred := write("credential.txt", res.Credential)
	out, err := runCLI(t, "ledger", "verify-receipt", "--receipt", receipt, "--credential", cred, "--ledger-key", res.LedgerKey)
	if err != nil {
		t.Fatalf("verify-receipt: %v", err)
	}
	var ok struct{ Valid bool }
	if json.Unmarshal([]byte(out), &ok); !ok.Valid {
		t.Fatalf("verify-receipt output: %s", out)
	}

	var r map[string]any
	json.Unmarshal(res.Receipt, &r)
	r["leaf_index"] = r["leaf_index"].(float64) + 1
	tampered, _ := json.Marshal(r)
	otherKey := "ezheng.local/ledger+0badc0de+AZLXZQ2kTGeWnT6S+ZW+rsWxH1q5AHB7pCZ5Cq3y7iFD"
	for name, args := range map[string][]string{
		"another credential": {"--receipt", receipt, "--credential", write("other.txt", res.Credential[:len(res.Credential)-2]+"~"), "--ledger-key", res.LedgerKey},
		"tampered receipt":   {"--receipt", write("tampered.json", string(tampered)), "--credential", cred, "--ledger-key", res.LedgerKey},
		"another ledger key": {"--receipt", receipt, "--credential", cred, "--ledger-key", otherKey},
	} {
		if _, err := runCLI(t, append([]string{"ledger", "verify-receipt"}, args...)...); err == nil {
			t.Errorf("%s: verify-receipt accepted it", name)
		}
	}

	out, err = runCLI(t, "ledger", "audit", "--data", dir)
	if err != nil {
		t.Fatalf("audit of a good ledger: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"ok": true`) {
		t.Fatalf("audit report: %s", out)
	}

	// Rewrite history on disk: the audit finds it.
	db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, "ledger.db")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE ops SET jws = jws || 'x' WHERE leaf_index = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCLI(t, "ledger", "audit", "--data", dir)
	if err == nil || !strings.Contains(out, `"ok": false`) || !strings.Contains(out, "first_divergent_height") {
		t.Fatalf("audit of a tampered ledger: err %v\n%s", err, out)
	}
}

// TestDIDLifecycleCLI drives `ezheng did` against a running server: create, update, rotate
// (old version still resolvable), recover, deactivate, and an update after deactivation
// refused.
func TestDIDLifecycleCLI(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	server := w.BaseURL
	keys := filepath.Join(t.TempDir(), "keys.json")

	out, err := runCLI(t, "did", "create", "--server", server, "--keys", keys, "--service", "#site,LinkedDomains,https://psb.example")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var created struct{ DID string }
	json.Unmarshal([]byte(out), &created)
	if !strings.HasPrefix(created.DID, "did:ez:Ei") {
		t.Fatalf("created DID %q", created.DID)
	}
	if st, err := os.Stat(keys); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if _, err := runCLI(t, "did", "create", "--server", server, "--keys", keys); err == nil {
		t.Fatal("create overwrote an existing key file")
	}

	doc := func(args ...string) (keyIDs []string, versionID string, deactivated bool) {
		t.Helper()
		out, err := runCLI(t, append([]string{"did", "resolve", created.DID, "--server", server}, args...)...)
		if err != nil {
			t.Fatalf("resolve %v: %v", args, err)
		}
		var res struct {
			Doc struct {
				VM []struct{ ID string } `json:"verificationMethod"`
			} `json:"didDocument"`
			Meta struct {
				VersionID   string `json:"versionId"`
				Deactivated bool   `json:"deactivated"`
				Updated     string `json:"updated"`
			} `json:"didDocumentMetadata"`
		}
		json.Unmarshal([]byte(out), &res)
		for _, vm := range res.Doc.VM {
			keyIDs = append(keyIDs, vm.ID[strings.Index(vm.ID, "#"):])
		}
		return keyIDs, res.Meta.VersionID, res.Meta.Deactivated
	}
	k, v1, _ := doc()
	if len(k) != 1 || k[0] != "#key-1" || v1 == "" {
		t.Fatalf("after create: keys %v version %q", k, v1)
	}
	if _, err := runCLI(t, "did", "update", "--server", server, "--keys", keys, "--add-service", "#api,CredentialIssuer,https://psb.example/issuer"); err != nil {
		t.Fatalf("update: %v", err)
	}
	_, v2, _ := doc()
	if _, err := runCLI(t, "did", "rotate", "--server", server, "--keys", keys); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if k, _, _ := doc(); len(k) != 1 || k[0] != "#key-2" {
		t.Fatalf("after rotate: keys %v", k)
	}
	if k, v, _ := doc("--version-id", v2); len(k) != 1 || k[0] != "#key-1" || v != v2 {
		t.Fatalf("version %s: keys %v (version %s), want the old #key-1", v2, k, v)
	}
	if _, err := runCLI(t, "did", "recover", "--server", server, "--keys", keys); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if k, _, _ := doc(); len(k) != 1 || k[0] != "#key-1" {
		t.Fatalf("after recover: keys %v", k)
	}
	if _, err := runCLI(t, "did", "deactivate", "--server", server, "--keys", keys); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	if _, _, deactivated := doc(); !deactivated {
		t.Fatal("not deactivated")
	}
	if _, err := runCLI(t, "did", "update", "--server", server, "--keys", keys, "--remove-service", "#site"); err == nil {
		t.Fatal("update after deactivation accepted")
	}
}

// TestIssuerTypeCLI: `ezheng issuer type list` shows the six types; `show --example` prints
// claims that the issuer accepts for that type.
func TestIssuerTypeCLI(t *testing.T) {
	out, err := runCLI(t, "issuer", "type", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"DrivingLicence", "HealthCode", "BusinessLicence", "ResidencePermit", "VaccinationCertificate", "DegreeCertificate"} {
		if !strings.Contains(out, name) {
			t.Errorf("type list lacks %s:\n%s", name, out)
		}
	}
	out, err = runCLI(t, "issuer", "type", "show", "DrivingLicence", "--example")
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(out), &claims); err != nil || claims["licence_class"] == nil {
		t.Fatalf("example: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "issuer", "type", "show", "PilotLicence"); err == nil {
		t.Fatal("unknown type shown")
	}
}

// TestIssuerOfferCLI: `ezheng issuer offer` prints the contract JSON, and the offer redeems in
// the demo citizen's wallet through the bridge.
func TestIssuerOfferCLI(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir)
	psb, _ := w.Agency("DrivingLicence")
	example, err := runCLI(t, "issuer", "type", "show", "DrivingLicence", "--example")
	if err != nil {
		t.Fatal(err)
	}
	claims := filepath.Join(t.TempDir(), "claims.json")
	os.WriteFile(claims, []byte(example), 0o600)
	png := filepath.Join(t.TempDir(), "offer.png")
	out, err := runCLI(t, "issuer", "offer", "--server", w.BaseURL, "--token", psb.Token, "--type", "DrivingLicence", "--claims", claims, "--qr-png", png)
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	var o struct{ OfferURI, TxCode, QRPNG string }
	json.Unmarshal([]byte(out), &struct {
		OfferURI *string `json:"offer_uri"`
		TxCode   *string `json:"tx_code"`
		QRPNG    *string `json:"qr_png"`
	}{&o.OfferURI, &o.TxCode, &o.QRPNG})
	if !strings.HasPrefix(o.OfferURI, "openid-credential-offer://") || len(o.TxCode) != 6 || o.QRPNG != png || !fileExists(png) {
		t.Fatalf("offer output: %s", out)
	}
	if err := bridgeJSON(context.Background(), http.DefaultClient, w.Citizen, http.MethodPost, w.BaseURL+"/bridge/v1/offers",
		map[string]string{"offer_uri": o.OfferURI, "tx_code": o.TxCode}, http.StatusCreated, nil); err != nil {
		t.Fatalf("redeem: %v", err)
	}
}

// TestBenchCLI runs the load generator briefly against the in-process server: every request
// succeeds and the JSON result counts them (no timing is asserted).
func TestBenchCLI(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir)
	for _, target := range []string{"issue", "verify"} {
		out, err := runCLI(t, "bench", target, "--data", dir, "--rate", "40", "--duration", "500ms", "--concurrency", "4")
		if err != nil {
			t.Fatalf("bench %s: %v", target, err)
		}
		var r struct {
			Result struct{ Requests, OK, Errors, Dropped int }
		}
		json.Unmarshal([]byte(out), &r)
		if r.Result.Requests+r.Result.Dropped != 20 || r.Result.Errors != 0 || r.Result.OK != r.Result.Requests {
			t.Fatalf("bench %s: %s", target, out)
		}
	}
}
