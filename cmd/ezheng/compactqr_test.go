package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/demo"
)

// checkCompactQR checks the walk's counter QR: it is the compact form, it expands to a
// presentation disclosing exactly the three counter claims, the verifier accepts its text,
// and the same QR carrying a changed claim, or a KB-JWT signature of someone else, fails
// the named check.
func checkCompactQR(t *testing.T, w *demo.World, text string) {
	t.Helper()
	if !strings.HasPrefix(text, compactqr.Prefix) {
		t.Fatalf("the walk's QR %.20q… is not the compact form", text)
	}
	plain, err := compactqr.Decode(text)
	if err != nil {
		t.Fatalf("the walk's QR does not decode: %v", err)
	}
	if n := strings.Count(plain, "~"); n != 4 {
		t.Errorf("the QR's presentation has %d '~' separators, want 4 (3 disclosures + KB-JWT)", n)
	}
	if vr := verifyText(t, w, text); !vr.Valid {
		t.Errorf("compact QR text does not verify: %v", vr.failed())
	}

	// The licence class changed to A1 in its disclosure: not what the issuer signed.
	parts := strings.Split(plain, "~")
	changed := false
	for i := 1; i < len(parts)-1; i++ {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[i])
		var d []any
		if json.Unmarshal(raw, &d) == nil && len(d) == 3 && d[1] == "licence_class" {
			b, _ := json.Marshal([]any{d[0], d[1], "A1"})
			parts[i] = base64.RawURLEncoding.EncodeToString(b)
			changed = true
		}
	}
	if !changed {
		t.Fatal("no licence_class disclosure in the QR")
	}
	tampered, err := compactqr.Encode(strings.Join(parts, "~"))
	if err != nil {
		t.Fatal(err)
	}
	if vr := verifyText(t, w, tampered); vr.Valid || !hasFailed(vr, "signature", "disclosure") {
		t.Errorf("compact QR with a changed claim: valid %v, failed %v; want signature to fail", vr.Valid, vr.failed())
	}

	// The KB-JWT's signature replaced by the issuer's: the holder binding no longer holds.
	parts = strings.Split(plain, "~")
	kb := strings.Split(parts[len(parts)-1], ".")
	kb[2] = strings.Split(parts[0], ".")[2]
	parts[len(parts)-1] = strings.Join(kb, ".")
	if tampered, err = compactqr.Encode(strings.Join(parts, "~")); err != nil {
		t.Fatal(err)
	}
	if vr := verifyText(t, w, tampered); vr.Valid || !hasFailed(vr, "holder_binding", "") {
		t.Errorf("compact QR with a foreign KB-JWT signature: valid %v, failed %v; want holder_binding to fail", vr.Valid, vr.failed())
	}
}

// hasFailed reports whether the check name failed, with reason containing why.
func hasFailed(vr verifyResult, name, why string) bool {
	for _, c := range vr.Checks {
		if c.Name == name && !c.OK && !c.Skipped && strings.Contains(c.Reason, why) {
			return true
		}
	}
	return false
}

// TestQRValidity30s: a server started with --qr-validity 30s (issue #5's 30-60 s range) makes
// counter QRs valid for 30 s, and the walk verifies.
func TestQRValidity30s(t *testing.T) {
	dir := t.TempDir()
	w, _ := startServe(t, dir, "--qr-validity", "30s")
	_, vr := walk(t, dir)
	if !vr.Valid {
		t.Fatalf("walk with --qr-validity 30s not valid: %v", vr.failed())
	}
	list := bridgeCredentials(t, w)
	if len(list) == 0 {
		t.Fatal("the walk left no credential in the wallet")
	}
	var out struct {
		QR        string    `json:"qr"`
		Form      string    `json:"form"`
		IssuedAt  time.Time `json:"issued_at"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := bridgeJSON(context.Background(), http.DefaultClient, w.Citizen, http.MethodPost, w.BaseURL+"/bridge/v1/credentials/"+list[0].ID+"/qr",
		map[string]any{"disclose": w.Counter.Disclose, "audience": w.Counter.ID}, http.StatusOK, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.ExpiresAt.Sub(out.IssuedAt); got != 30*time.Second || out.Form != "compact" {
		t.Errorf("QR valid for %s in form %q, want 30s, compact", got, out.Form)
	}
}
