package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"mime/multipart"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/qr"
)

// qrAnswer is the bridge's counter QR answer.
type qrAnswer struct {
	QR        string `json:"qr"`
	Form      string `json:"form"`
	QRVersion int    `json:"qr_version"`
	PNG       string `json:"png"`
}

// TestCompactCounterQR: the bridge makes the compact QR by default (text and PNG) and the
// plain one on request; the verifier gives the compact form the same verdict as the plain
// one through every input it takes (JSON text, PNG body, multipart image); a compact QR with
// a changed claim fails the signature check, and one that does not decode is not a
// presentation.
func TestCompactCounterQR(t *testing.T) {
	f := newFixture(t)
	tok, counter := f.world.Citizen.Token, f.world.Counter.ID
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": f.issue("DrivingLicence", f.world.Citizen.DID, licence)})
	if r.status != http.StatusCreated {
		t.Fatalf("receive: HTTP %d %s", r.status, r.body)
	}
	var held struct{ ID string }
	json.Unmarshal(r.body, &held)
	path := "/bridge/v1/credentials/" + held.ID + "/qr"
	body := map[string]any{"disclose": counterClaims, "audience": counter}
	makeQR := func(query string) qrAnswer {
		t.Helper()
		r := f.doJSON(http.MethodPost, path+query, tok, body)
		if r.status != http.StatusOK {
			t.Fatalf("QR%s: HTTP %d %s", query, r.status, r.body)
		}
		var a qrAnswer
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		png, err := base64.StdEncoding.DecodeString(a.PNG)
		if err != nil {
			t.Fatal(err)
		}
		if text, err := qr.Decode(png); err != nil || text != a.QR {
			t.Fatalf("QR%s: the PNG holds %.30q (%v), not the text", query, text, err)
		}
		if v, _ := qr.Version(a.QR); v != a.QRVersion {
			t.Errorf("QR%s: qr_version %d, the text needs %d", query, a.QRVersion, v)
		}
		return a
	}

	compact := makeQR("")
	if compact.Form != "compact" || !strings.HasPrefix(compact.QR, compactqr.Prefix) {
		t.Fatalf("default QR is %q %.20q…, want the compact form", compact.Form, compact.QR)
	}
	if len(compact.QR) > 1000 {
		t.Errorf("compact QR of 3 claims is %d characters, the target is at most 1,000", len(compact.QR))
	}
	if again := makeQR("?form=compact"); again.Form != "compact" || !compactqr.IsCompact(again.QR) {
		t.Errorf("form=compact gave %q", again.Form)
	}
	plain := makeQR("?form=plain")
	if plain.Form != "plain" || compactqr.IsCompact(plain.QR) || strings.Count(plain.QR, "~") != 4 {
		t.Fatalf("form=plain gave %q %.20q…", plain.Form, plain.QR)
	}
	if compact.QRVersion >= plain.QRVersion {
		t.Errorf("compact QR version %d, plain %d", compact.QRVersion, plain.QRVersion)
	}
	t.Logf("3-claim counter QR: plain %d bytes (version %d), compact %d characters (version %d)", len(plain.QR), plain.QRVersion, len(compact.QR), compact.QRVersion)

	expanded, err := compactqr.Decode(compact.QR)
	if err != nil || strings.Count(expanded, "~") != 4 {
		t.Fatalf("compact QR does not expand to a 3-claim presentation: %v", err)
	}
	want := f.verify(expanded, counter)
	if !want.Valid {
		t.Fatalf("the expanded presentation is not valid: %v", want.failed())
	}
	// The checks' verdicts, but for anchor: the anchoring batcher may anchor the credential
	// between two verifications, which turns the anchor check from skipped to passed.
	checks := func(res result) string {
		var cs []any
		for _, c := range res.Checks {
			if c.Name != "anchor" {
				cs = append(cs, c)
			}
		}
		b, _ := json.Marshal(cs)
		return string(b)
	}

	// Every way a counter can send it.
	r = f.doJSON(http.MethodPost, path, tok, body, "Accept", "image/png")
	if r.status != http.StatusOK || r.ctype != "image/png" {
		t.Fatalf("PNG QR: HTTP %d %s", r.status, r.ctype)
	}
	if text, err := qr.Decode(r.body); err != nil || !compactqr.IsCompact(text) {
		t.Fatalf("the bare PNG holds %.30q (%v), want a compact QR", text, err)
	}
	png := r.body
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("image", "qr.png")
	fw.Write(png)
	mw.WriteField("counter", counter)
	mw.Close()
	for name, got := range map[string]response{
		"JSON text":         f.doJSON(http.MethodPost, "/verifier/v1/verify", "", map[string]any{"qr": compact.QR, "counter": counter}),
		"JSON text, padded": f.doJSON(http.MethodPost, "/verifier/v1/verify", "", map[string]any{"qr": " " + compact.QR + "\n", "counter": counter}),
		"PNG body":          f.do(http.MethodPost, "/verifier/v1/verify?counter="+counter, "", "image/png", png),
		"multipart image":   f.do(http.MethodPost, "/verifier/v1/verify", "", mw.FormDataContentType(), mp.Bytes()),
	} {
		var res result
		if got.status != http.StatusOK || json.Unmarshal(got.body, &res) != nil {
			t.Errorf("%s: HTTP %d %s", name, got.status, got.body)
			continue
		}
		if !res.Valid || checks(res) != checks(want) || !reflect.DeepEqual(res.Claims, want.Claims) {
			t.Errorf("%s: compact verdict %s, plain %s", name, checks(res), checks(want))
		}
	}

	// A changed claim, carried compactly, fails the issuer's signature.
	tampered, err := compactqr.Encode(replaceDisclosure(t, expanded, "licence_class", "A1"))
	if err != nil {
		t.Fatal(err)
	}
	if res := f.verify(tampered, counter); res.Valid || len(res.failed()) == 0 || !strings.HasPrefix(res.failed()[0], "signature") {
		t.Errorf("tampered compact QR: valid %v, failed %v; want the signature check to fail", res.Valid, res.failed())
	}

	// A photo does not fit a QR code in either form: the app must disclose fewer claims.
	photo := make([]byte, 15000)
	rand.Read(photo)
	withPhoto := maps.Clone(licence)
	withPhoto["photo"] = base64.StdEncoding.EncodeToString(photo)
	r = f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": f.issue("DrivingLicence", f.world.Citizen.DID, withPhoto)})
	if r.status != http.StatusCreated {
		t.Fatalf("receive the licence with a photo: HTTP %d %s", r.status, r.body)
	}
	json.Unmarshal(r.body, &held)
	for _, form := range []string{"compact", "plain"} {
		r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+held.ID+"/qr?form="+form, tok, map[string]any{"disclose": []string{"photo"}})
		if r.status != http.StatusBadRequest || r.problemType() != "/problems/malformed-request" || !strings.Contains(string(r.body), "do not fit a QR code") {
			t.Errorf("QR of a photo, form %s: HTTP %d %s", form, r.status, r.body)
		}
	}

	// Bad form, and compact QRs that do not decode.
	if r := f.doJSON(http.MethodPost, path+"?form=jpeg", tok, body); r.status != http.StatusBadRequest || r.problemType() != "/problems/malformed-request" {
		t.Errorf("form=jpeg: HTTP %d %s", r.status, r.problemType())
	}
	for text, detail := range map[string]string{
		compact.QR[:len(compact.QR)-30]:            "compactqr",
		"EZ1:" + strings.ToLower(compact.QR[4:40]): "base45",
		"EZ7:" + compact.QR[4:]:                    "unsupported version",
	} {
		r := f.doJSON(http.MethodPost, "/verifier/v1/verify", "", map[string]any{"qr": text, "counter": counter})
		var p struct{ Detail string }
		json.Unmarshal(r.body, &p)
		if r.status != http.StatusBadRequest || r.problemType() != "/problems/not-a-presentation" || !strings.Contains(p.Detail, detail) {
			t.Errorf("broken compact QR %.12q…: HTTP %d %s %q, want 400 not-a-presentation saying %q", text, r.status, r.problemType(), p.Detail, detail)
		}
	}
}
