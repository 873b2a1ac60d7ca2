package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/oid4vp"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierhttp"
	"github.com/ezheng/ezheng/wallet"
)

// The tests here play the phone of a citizen whose holder key never leaves it: they register
// the key, then sign what the bridge hands them.

// deviceThumbprint returns the JWK thumbprint of a phone's DPoP device key.
func deviceThumbprint(t *testing.T, c demo.Citizen) string {
	t.Helper()
	k, err := c.DeviceSigner()
	if err != nil {
		t.Fatal(err)
	}
	tp, err := dpop.Thumbprint(jose.JSONWebKey{Key: k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// holderKeyProof is the registration proof of key for aud and nonce, issued at iat.
func holderKeyProof(t *testing.T, key crypto.Signer, typ, aud, nonce string, iat time.Time) string {
	t.Helper()
	alg := jose.ES256
	if _, ok := key.(ed25519.PrivateKey); ok {
		alg = jose.EdDSA
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"aud": aud, "iat": iat.Unix(), "nonce": nonce})
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// registerHolderKey registers key as a holder key of the phone's citizen.
func (f *fixture) registerHolderKey(t *testing.T, phone demo.Citizen, key crypto.Signer) wallet.HolderKey {
	t.Helper()
	proof := holderKeyProof(t, key, wallet.HolderKeyProofType, f.url+"/bridge/v1/holder-keys", deviceThumbprint(t, phone), f.clock.Now())
	r := f.doJSON(http.MethodPost, "/bridge/v1/holder-keys", phone.Token, map[string]any{"proof": proof})
	if r.status != http.StatusCreated {
		t.Fatalf("register holder key: HTTP %d %s", r.status, r.body)
	}
	var hk wallet.HolderKey
	if err := json.Unmarshal(r.body, &hk); err != nil {
		t.Fatal(err)
	}
	return hk
}

// signInput signs a JWS signing input as the phone does: the 64-byte JWS signature, base64url.
func signInput(t *testing.T, key crypto.Signer, input string) string {
	t.Helper()
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return base64.RawURLEncoding.EncodeToString(ed25519.Sign(k, []byte(input)))
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return base64.RawURLEncoding.EncodeToString(sig)
	}
	t.Fatalf("unsupported key %T", key)
	return ""
}

// receiveHeld stores an issued credential through the bridge and returns its id.
func (f *fixture) receiveHeld(t *testing.T, token, credential string) string {
	t.Helper()
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", token, map[string]any{"credential": credential})
	if r.status != http.StatusCreated {
		t.Fatalf("receive: HTTP %d %s", r.status, r.body)
	}
	var held struct{ ID string }
	json.Unmarshal(r.body, &held)
	return held.ID
}

// startPresentation asks for a device-signed counter presentation.
func (f *fixture) startPresentation(t *testing.T, token, credID string) wallet.PresentationRequest {
	t.Helper()
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+credID+"/presentations", token,
		map[string]any{"disclose": counterClaims, "audience": f.world.Counter.ID})
	if r.status != http.StatusCreated {
		t.Fatalf("start presentation: HTTP %d %s", r.status, r.body)
	}
	var p wallet.PresentationRequest
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func completePath(credID, id string) string {
	return "/bridge/v1/credentials/" + credID + "/presentations/" + id + "/complete"
}

func wantProblem(t *testing.T, what string, r response, status int, typ string) {
	t.Helper()
	if r.status != status || r.problemType() != "/problems/"+typ || !strings.HasPrefix(r.ctype, "application/problem+json") {
		t.Errorf("%s: HTTP %d %s %s, want %d %s", what, r.status, r.ctype, r.body, status, typ)
	}
}

// TestDeviceHolderKeyShowAtCounter: a citizen registers a holder key their phone keeps; a
// licence bound to it is shown at a counter in two steps (the bridge gives the SD-JWT and the
// KB-JWT signing input, the phone signs, the bridge assembles and checks) and the verifier
// accepts it. A wrong signature, another citizen, another device, a replay and a late answer
// are refused with problems; the one-step QR refuses the device-bound licence, and the
// citizen's wallet-held licence still works as before.
func TestDeviceHolderKeyShowAtCounter(t *testing.T) {
	f := newFixture(t)
	phone := f.newCitizen("王五")
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hk := f.registerHolderKey(t, phone, holder)
	if !strings.HasPrefix(hk.DID, "did:jwk:") || hk.Alg != "ES256" || hk.DeviceID != phone.DeviceID || !hk.Key.IsPublic() {
		t.Fatalf("holder key = %+v", hk)
	}
	if hk.DID == phone.DID {
		t.Fatal("the device holder key is the wallet-held one")
	}
	// Registering it again changes nothing.
	proof := holderKeyProof(t, holder, wallet.HolderKeyProofType, f.url+"/bridge/v1/holder-keys", deviceThumbprint(t, phone), f.clock.Now())
	if r := f.doJSON(http.MethodPost, "/bridge/v1/holder-keys", phone.Token, map[string]any{"proof": proof}); r.status != http.StatusOK || !strings.Contains(string(r.body), hk.ID) {
		t.Errorf("register again: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/bridge/v1/holder-keys", phone.Token, "", nil); r.status != http.StatusOK || strings.Count(string(r.body), `"id"`) != 1 || strings.Contains(string(r.body), `"d"`) {
		t.Errorf("list: HTTP %d %s", r.status, r.body)
	}

	onDevice := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", hk.DID, licence))
	onServer := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", phone.DID, licence))

	// Each credential goes its own way.
	qrBody := map[string]any{"disclose": counterClaims, "audience": f.world.Counter.ID}
	wantProblem(t, "one-step QR of a device-bound licence", f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+onDevice+"/qr", phone.Token, qrBody),
		http.StatusConflict, "holder-key-on-device")
	wantProblem(t, "device presentation of a wallet-bound licence", f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+onServer+"/presentations", phone.Token, qrBody),
		http.StatusConflict, "holder-key-on-server")
	var plain qrAnswer
	if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+onServer+"/qr?form=plain", phone.Token, qrBody); r.status != http.StatusOK || json.Unmarshal(r.body, &plain) != nil {
		t.Fatalf("server-held QR: HTTP %d %s", r.status, r.body)
	}
	if res := f.verify(plain.QR, f.world.Counter.ID); !res.Valid {
		t.Fatalf("server-held QR: %v", res.failed())
	}
	wantProblem(t, "unknown claim", f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+onDevice+"/presentations", phone.Token,
		map[string]any{"disclose": []string{"shoe_size"}}), http.StatusUnprocessableEntity, "unknown-claim")

	// Step 1: what to sign.
	p := f.startPresentation(t, phone.Token, onDevice)
	var kbPayload struct {
		Aud    string `json:"aud"`
		Iat    int64  `json:"iat"`
		Nonce  string `json:"nonce"`
		SDHash string `json:"sd_hash"`
	}
	if err := json.Unmarshal(p.Payload, &kbPayload); err != nil {
		t.Fatal(err)
	}
	h, pl, _ := strings.Cut(p.SigningInput, ".")
	if string(p.Header) != `{"alg":"ES256","typ":"kb+jwt"}` || h != base64.RawURLEncoding.EncodeToString(p.Header) || pl != base64.RawURLEncoding.EncodeToString(p.Payload) {
		t.Errorf("signing input %q does not encode header %s and payload %s", p.SigningInput, p.Header, p.Payload)
	}
	if kbPayload.SDHash != sdjwt.SDHash(p.SDJWT) || kbPayload.Aud != f.world.Counter.ID || kbPayload.Nonce == "" || kbPayload.Iat != f.clock.Now().Unix() {
		t.Errorf("KB-JWT payload = %+v", kbPayload)
	}
	if strings.Count(p.SDJWT, "~") != len(counterClaims)+1 || p.HolderKey != hk.ID {
		t.Errorf("presentation request: %d disclosures, holder key %s", strings.Count(p.SDJWT, "~")-1, p.HolderKey)
	}

	// Refusals change nothing: the request can still be completed afterwards.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wantProblem(t, "signed by another key", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": signInput(t, other, p.SigningInput)}),
		http.StatusUnprocessableEntity, "invalid-device-signature")
	wantProblem(t, "not a signature", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": "c2lnbmF0dXJl"}),
		http.StatusUnprocessableEntity, "invalid-device-signature")
	wantProblem(t, "no signature", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{}),
		http.StatusBadRequest, "malformed-request")
	good := signInput(t, holder, p.SigningInput)
	intruder := f.newCitizen("赵六")
	wantProblem(t, "another citizen", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), intruder.Token, map[string]any{"signature": good}),
		http.StatusNotFound, "not-found")
	secondPhone := f.addDevice(phone.ID, phone.Name, phone.DID)
	wantProblem(t, "another device of the citizen", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), secondPhone.Token, map[string]any{"signature": good}),
		http.StatusNotFound, "not-found")
	wantProblem(t, "another credential's path", f.doJSON(http.MethodPost, completePath(onServer, p.ID), phone.Token, map[string]any{"signature": good}),
		http.StatusNotFound, "not-found")

	// Step 2: the signature; the counter QR comes back, compact by default.
	r := f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": good})
	var a qrAnswer
	if r.status != http.StatusOK || json.Unmarshal(r.body, &a) != nil {
		t.Fatalf("complete: HTTP %d %s", r.status, r.body)
	}
	if a.Form != "compact" || !compactqr.IsCompact(a.QR) || a.PNG == "" || a.QRVersion == 0 {
		t.Fatalf("complete: form %q %.20q…", a.Form, a.QR)
	}
	res := f.verify(a.QR, f.world.Counter.ID)
	if !res.Valid {
		t.Fatalf("the counter refused the device-signed QR: %v", res.failed())
	}
	for _, c := range res.Checks {
		if c.Name == "holder_binding" && !c.OK {
			t.Errorf("holder_binding: %s", c.Reason)
		}
	}
	if res.Claims["family_name"] != "张" || len(res.Claims) != len(counterClaims) {
		t.Errorf("claims shown: %v", res.Claims)
	}
	// The phone-signed presentation is in the citizen's history like a wallet-signed one.
	hr := f.do(http.MethodGet, "/bridge/v1/history?limit=50", phone.Token, "", nil)
	var page wallet.HistoryPage
	if hr.status != http.StatusOK || json.Unmarshal(hr.body, &page) != nil {
		t.Fatalf("history: HTTP %d %s", hr.status, hr.body)
	}
	found := false
	for _, h := range page.Presentations {
		found = found || h.CredentialID == onDevice && strings.Join(h.Claims, ",") == strings.Join(counterClaims, ",")
	}
	if !found {
		t.Fatalf("the device presentation is not in the history: %s", hr.body)
	}
	// The app's list says which credentials are bound to a key on this phone.
	lr := f.do(http.MethodGet, "/bridge/v1/credentials", phone.Token, "", nil)
	var listed struct {
		Credentials []struct {
			ID        string `json:"id"`
			HolderKey string `json:"holder_key"`
		} `json:"credentials"`
	}
	if lr.status != http.StatusOK || json.Unmarshal(lr.body, &listed) != nil {
		t.Fatalf("list: HTTP %d %s", lr.status, lr.body)
	}
	bound := map[string]string{}
	for _, c := range listed.Credentials {
		bound[c.ID] = c.HolderKey
	}
	if bound[onDevice] == "" || bound[onServer] != "" {
		t.Fatalf("listed holder keys = %v (phone-bound %s, wallet-held %s)", bound, onDevice, onServer)
	}
	wantProblem(t, "replayed", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": good}),
		http.StatusConflict, "signing-request-used")

	// Plain text and PNG, like the one-step QR.
	p = f.startPresentation(t, phone.Token, onDevice)
	r = f.doJSON(http.MethodPost, completePath(onDevice, p.ID)+"?form=plain", phone.Token, map[string]any{"signature": signInput(t, holder, p.SigningInput)})
	if r.status != http.StatusOK || json.Unmarshal(r.body, &a) != nil || a.Form != "plain" || !strings.HasPrefix(a.QR, p.SDJWT) {
		t.Fatalf("plain: HTTP %d %.200s", r.status, r.body)
	}
	if res := f.verify(a.QR, f.world.Counter.ID); !res.Valid {
		t.Errorf("plain device-signed QR: %v", res.failed())
	}
	p = f.startPresentation(t, phone.Token, onDevice)
	r = f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": signInput(t, holder, p.SigningInput)}, "Accept", "image/png")
	if r.status != http.StatusOK || r.ctype != "image/png" {
		t.Errorf("PNG: HTTP %d %s", r.status, r.ctype)
	}

	// Too late: the QR would be stale by the time it is shown.
	p = f.startPresentation(t, phone.Token, onDevice)
	f.clock.Add(61 * time.Second)
	wantProblem(t, "expired", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": signInput(t, holder, p.SigningInput)}),
		http.StatusGone, "signing-request-expired")

	// The phone is reset: the citizen removes the key (nobody else can). Its pending requests
	// go with it, and its credential can no longer be shown.
	p = f.startPresentation(t, phone.Token, onDevice)
	if r := f.do(http.MethodDelete, "/bridge/v1/holder-keys/"+hk.ID, intruder.Token, "", nil); r.status != http.StatusNotFound {
		t.Errorf("another citizen removes the key: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/bridge/v1/holder-keys/"+hk.ID, phone.Token, "", nil); r.status != http.StatusNoContent {
		t.Fatalf("remove: HTTP %d %s", r.status, r.body)
	}
	wantProblem(t, "completed after the key was removed", f.doJSON(http.MethodPost, completePath(onDevice, p.ID), phone.Token, map[string]any{"signature": signInput(t, holder, p.SigningInput)}),
		http.StatusNotFound, "not-found")
	wantProblem(t, "shown after the key was removed", f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+onDevice+"/presentations", phone.Token, qrBody),
		http.StatusUnprocessableEntity, "credential-not-bound")
	wantProblem(t, "removed twice", f.do(http.MethodDelete, "/bridge/v1/holder-keys/"+hk.ID, phone.Token, "", nil), http.StatusNotFound, "not-found")
}

// TestDeviceHolderKeyReceivesFromOffer: a citizen whose holder key is on the phone redeems an
// OpenID4VCI offer in two steps (the bridge runs the token request and hands the phone the
// proof JWT to sign); a wrong signature is refused before anything is sent or stored; the
// signed proof gets a licence bound to the phone's key, which the counter accepts.
func TestDeviceHolderKeyReceivesFromOffer(t *testing.T) {
	f := newFixture(t)
	phone := f.newCitizen("孙七")
	_, holder, _ := ed25519.GenerateKey(rand.Reader)
	hk := f.registerHolderKey(t, phone, holder)
	if hk.Alg != "EdDSA" {
		t.Fatalf("alg %s", hk.Alg)
	}
	uri, _, tx := f.createOffer("DrivingLicence", licence, true)
	start := func() wallet.SigningRequest {
		t.Helper()
		r := f.doJSON(http.MethodPost, "/bridge/v1/device-offers", phone.Token, map[string]any{"offer_uri": uri, "tx_code": tx, "holder_key": hk.ID})
		if r.status != http.StatusCreated {
			t.Fatalf("start: HTTP %d %s", r.status, r.body)
		}
		var sr wallet.SigningRequest
		json.Unmarshal(r.body, &sr)
		return sr
	}
	wantProblem(t, "unknown holder key", f.doJSON(http.MethodPost, "/bridge/v1/device-offers", phone.Token, map[string]any{"offer_uri": uri, "tx_code": tx, "holder_key": "hk_nope"}),
		http.StatusNotFound, "not-found")
	sr := start()
	var header struct {
		Alg string          `json:"alg"`
		Typ string          `json:"typ"`
		JWK jose.JSONWebKey `json:"jwk"`
	}
	var payload struct {
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Nonce string `json:"nonce"`
	}
	if json.Unmarshal(sr.Header, &header) != nil || json.Unmarshal(sr.Payload, &payload) != nil {
		t.Fatalf("signing request: %+v", sr)
	}
	if header.Typ != "openid4vci-proof+jwt" || header.Alg != "EdDSA" || !header.JWK.IsPublic() || payload.Aud != f.url || payload.Nonce == "" || payload.Iat != f.clock.Now().Unix() {
		t.Errorf("proof to sign: header %s payload %s", sr.Header, sr.Payload)
	}

	_, held := f.counts()
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)
	wantProblem(t, "wrong signature", f.doJSON(http.MethodPost, "/bridge/v1/device-offers/"+sr.ID+"/complete", phone.Token, map[string]any{"signature": signInput(t, wrong, sr.SigningInput)}),
		http.StatusUnprocessableEntity, "invalid-device-signature")
	intruder := f.newCitizen("周八")
	wantProblem(t, "another citizen", f.doJSON(http.MethodPost, "/bridge/v1/device-offers/"+sr.ID+"/complete", intruder.Token, map[string]any{"signature": signInput(t, holder, sr.SigningInput)}),
		http.StatusNotFound, "not-found")
	if _, h := f.counts(); h != held {
		t.Fatalf("refused signatures stored %d credentials", h-held)
	}

	good := signInput(t, holder, sr.SigningInput)
	r := f.doJSON(http.MethodPost, "/bridge/v1/device-offers/"+sr.ID+"/complete", phone.Token, map[string]any{"signature": good})
	if r.status != http.StatusCreated {
		t.Fatalf("complete: HTTP %d %s", r.status, r.body)
	}
	var got struct {
		Credentials []wallet.Credential `json:"credentials"`
	}
	json.Unmarshal(r.body, &got)
	if len(got.Credentials) != 1 || got.Credentials[0].Type != "urn:ezheng:vct:DrivingLicence" {
		t.Fatalf("received: %s", r.body)
	}
	if _, h := f.counts(); h != held+1 {
		t.Errorf("held %d credentials, want %d", h, held+1)
	}
	wantProblem(t, "replayed", f.doJSON(http.MethodPost, "/bridge/v1/device-offers/"+sr.ID+"/complete", phone.Token, map[string]any{"signature": good}),
		http.StatusConflict, "signing-request-used")

	// Bound to the phone's key: shown in two steps, accepted at the counter.
	id := got.Credentials[0].ID
	p := f.startPresentation(t, phone.Token, id)
	r = f.doJSON(http.MethodPost, completePath(id, p.ID), phone.Token, map[string]any{"signature": signInput(t, holder, p.SigningInput)})
	var a qrAnswer
	if r.status != http.StatusOK || json.Unmarshal(r.body, &a) != nil {
		t.Fatalf("complete presentation: HTTP %d %s", r.status, r.body)
	}
	if res := f.verify(a.QR, f.world.Counter.ID); !res.Valid {
		t.Fatalf("counter: %v", res.failed())
	}

	// A signing request for a receipt expires too.
	uri, _, tx = f.createOffer("DrivingLicence", licence, true)
	sr = start()
	f.clock.Add(wallet.ReceiptValidity)
	wantProblem(t, "expired", f.doJSON(http.MethodPost, "/bridge/v1/device-offers/"+sr.ID+"/complete", phone.Token, map[string]any{"signature": signInput(t, holder, sr.SigningInput)}),
		http.StatusGone, "signing-request-expired")
}

// TestRegisterHolderKeyRefusals: a registration proof that is not the key's own, stale, for
// another audience or device, or of a DPoP device key or another citizen's key, is refused
// and stores nothing.
func TestRegisterHolderKeyRefusals(t *testing.T) {
	f := newFixture(t)
	phone := f.newCitizen("吴九")
	aud, nonce, now := f.url+"/bridge/v1/holder-keys", deviceThumbprint(t, phone), f.clock.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	taken, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.registerHolderKey(t, f.newCitizen("郑十"), taken)
	deviceKey, _ := phone.DeviceSigner()

	tampered := holderKeyProof(t, key, wallet.HolderKeyProofType, aud, nonce, now)
	i := strings.LastIndexByte(tampered, '.')
	tampered = tampered[:i+1] + signInput(t, taken, tampered[:i])

	tests := []struct {
		name   string
		proof  string
		status int
		typ    string
	}{
		{"signed by another key", tampered, 400, "invalid-holder-key-proof"},
		{"wrong typ", holderKeyProof(t, key, "dpop+jwt", aud, nonce, now), 400, "invalid-holder-key-proof"},
		{"another audience", holderKeyProof(t, key, wallet.HolderKeyProofType, f.url+"/bridge/v1/devices", nonce, now), 400, "invalid-holder-key-proof"},
		{"another device", holderKeyProof(t, key, wallet.HolderKeyProofType, aud, "another-device", now), 400, "invalid-holder-key-proof"},
		{"stale", holderKeyProof(t, key, wallet.HolderKeyProofType, aud, nonce, now.Add(-10*time.Minute)), 400, "invalid-holder-key-proof"},
		{"from the future", holderKeyProof(t, key, wallet.HolderKeyProofType, aud, nonce, now.Add(10*time.Minute)), 400, "invalid-holder-key-proof"},
		{"not a JWS", "hello", 400, "invalid-holder-key-proof"},
		{"oversized", strings.Repeat("a", wallet.MaxHolderKeyProof+1), 400, "invalid-holder-key-proof"},
		{"the DPoP device key", holderKeyProof(t, deviceKey, wallet.HolderKeyProofType, aud, nonce, now), 400, "holder-key-is-device-key"},
		{"another citizen's key", holderKeyProof(t, taken, wallet.HolderKeyProofType, aud, nonce, now), 409, "holder-key-in-use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.doJSON(http.MethodPost, "/bridge/v1/holder-keys", phone.Token, map[string]any{"proof": tt.proof})
			wantProblem(t, tt.name, r, tt.status, tt.typ)
		})
	}
	if r := f.do(http.MethodGet, "/bridge/v1/holder-keys", phone.Token, "", nil); r.status != http.StatusOK || string(r.body) != "{\"holder_keys\":[]}\n" {
		t.Errorf("after refusals: HTTP %d %s", r.status, r.body)
	}
	// Erasing the account removes its holder keys and signing requests.
	hk := f.registerHolderKey(t, phone, key)
	held := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", hk.DID, licence))
	f.startPresentation(t, phone.Token, held)
	if r := f.do(http.MethodDelete, "/bridge/v1/me", phone.Token, "", nil); r.status != http.StatusOK {
		t.Fatalf("erase: HTTP %d %s", r.status, r.body)
	}
	db := openWalletDB(t, f)
	for _, table := range []string{"device_holder_keys", "device_signings"} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE citizen_id = ?`, phone.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s after erasure: %d rows (%v)", table, n, err)
		}
	}
}

// TestDeviceHolderKeyDeferredOffer: an offer an officer must approve, redeemed for a holder key
// on the phone, waits like any other (202 pending); once approved, collecting it stores the
// credential bound to the phone's key.
func TestDeviceHolderKeyDeferredOffer(t *testing.T) {
	f := newFixture(t)
	phone := f.newCitizen("钱二")
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hk := f.registerHolderKey(t, phone, holder)
	uri, _, tx := f.createOffer("BusinessLicence", businessLicence, true)
	r := f.doJSON(http.MethodPost, "/bridge/v1/device-offers", phone.Token, map[string]any{"offer_uri": uri, "tx_code": tx, "holder_key": hk.ID})
	var sr wallet.SigningRequest
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &sr) != nil {
		t.Fatalf("start: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/device-offers/"+sr.ID+"/complete", phone.Token, map[string]any{"signature": signInput(t, holder, sr.SigningInput)})
	if r.status != http.StatusAccepted {
		t.Fatalf("complete: HTTP %d %s", r.status, r.body)
	}
	id := decodePending(t, r).Pending[0].ID
	q := f.officerPending("BusinessLicence")
	if len(q.Pending) != 1 {
		t.Fatalf("officer queue: %+v", q)
	}
	if r := f.do(http.MethodPost, "/issuer/v1/offers/"+q.Pending[0].OfferID+"/approve", f.token("BusinessLicence"), "", nil); r.status != http.StatusOK {
		t.Fatalf("approve: HTTP %d %s", r.status, r.body)
	}
	r = f.do(http.MethodPost, "/bridge/v1/pending/"+id+"/collect", phone.Token, "", nil)
	var got struct {
		Credentials []wallet.Credential `json:"credentials"`
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &got) != nil || len(got.Credentials) != 1 {
		t.Fatalf("collect: HTTP %d %s", r.status, r.body)
	}
	// It is bound to the phone's key: the one-step QR refuses it, the two-step one works.
	wantProblem(t, "one-step QR", f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+got.Credentials[0].ID+"/qr", phone.Token, map[string]any{"disclose": got.Credentials[0].Claims[:1]}),
		http.StatusConflict, "holder-key-on-device")
	r = f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+got.Credentials[0].ID+"/presentations", phone.Token, map[string]any{"disclose": got.Credentials[0].Claims[:1]})
	var p wallet.PresentationRequest
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &p) != nil {
		t.Fatalf("start presentation: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, completePath(got.Credentials[0].ID, p.ID)+"?form=plain", phone.Token, map[string]any{"signature": signInput(t, holder, p.SigningInput)})
	var a qrAnswer
	if r.status != http.StatusOK || json.Unmarshal(r.body, &a) != nil {
		t.Fatalf("complete presentation: HTTP %d %s", r.status, r.body)
	}
	if res := f.verify(a.QR, ""); !res.Valid {
		t.Errorf("counter: %v", res.failed())
	}
}

// TestDeviceHolderKeyShareOnline: a citizen holds two licences, one bound to a holder key on
// the phone and one to the wallet-held key. Sharing the wallet-held one stays one step.
// Sharing the phone-bound one is two: consent answers 202 with the KB-JWT to sign (aud = the
// verifier's client_id, nonce = the request's, sd_hash of the SD-JWT shown), the phone signs,
// the wallet checks and posts, and the online service's session is verified with exactly the
// two claims. A wrong or missing signature, another citizen or device, a replay and a late
// answer are refused with problems and send nothing to the verifier.
func TestDeviceHolderKeyShareOnline(t *testing.T) {
	f := newFixture(t)
	phone := f.newCitizen("冯一")
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hk := f.registerHolderKey(t, phone, holder)
	onDevice := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", hk.DID, licence))
	onServer := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", phone.DID, licence))

	// The app may cache the phone-bound licence's text (its key never leaves the phone); the
	// wallet-held one's text stays in the wallet.
	for _, tc := range []struct {
		id       string
		onDevice bool
	}{{onDevice, true}, {onServer, false}} {
		r := f.do(http.MethodGet, "/bridge/v1/credentials/"+tc.id, phone.Token, "", nil)
		var cr wallet.Credential
		if r.status != http.StatusOK || json.Unmarshal(r.body, &cr) != nil {
			t.Fatalf("detail: HTTP %d %s", r.status, r.body)
		}
		if got := cr.Text != "" && cr.HolderKey == hk.ID; got != tc.onDevice || !tc.onDevice && (cr.Text != "" || cr.HolderKey != "") {
			t.Errorf("detail of %s: holder_key %q, credential %.30q; want the text %v", tc.id, cr.HolderKey, cr.Text, tc.onDevice)
		}
		if tc.onDevice {
			if sd, err := sdjwt.Parse(cr.Text); err != nil || len(sd.Disclosures) != len(licence) || sd.KeyBinding != "" {
				t.Errorf("cached text: %v", err)
			}
		}
	}
	wantProblem(t, "another citizen's credential", f.do(http.MethodGet, "/bridge/v1/credentials/"+onDevice, f.newCitizen("褚三").Token, "", nil),
		http.StatusNotFound, "not-found")

	// open opens a new request of the online service and returns the consent view.
	open := func() (verifierhttp.VPCreated, wallet.ShareRequest, oid4vp.AuthorizationRequest) {
		t.Helper()
		created := f.vpCreate()
		r := f.doJSON(http.MethodPost, "/bridge/v1/share-requests", phone.Token, map[string]any{"uri": created.URI})
		var view wallet.ShareRequest
		if r.status != http.StatusOK || json.Unmarshal(r.body, &view) != nil || !view.Satisfiable || len(view.Credentials[0].Options) != 2 {
			t.Fatalf("open: HTTP %d %s", r.status, r.body)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(view.Request, ".")[1])
		var ar oid4vp.AuthorizationRequest
		if err := json.Unmarshal(payload, &ar); err != nil {
			t.Fatal(err)
		}
		return created, view, ar
	}
	consent := func(view wallet.ShareRequest, credID string) response {
		t.Helper()
		return f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent", phone.Token,
			map[string]any{"request": view.Request, "choose": map[string]string{view.Credentials[0].QueryID: credID}})
	}
	sessionIs := func(what, id, want string) {
		t.Helper()
		if s := f.vpSession(id); s.Status != want {
			t.Fatalf("%s: session %s, want %s", what, s.Status, want)
		}
	}

	// The wallet-held licence: one step, as before.
	created, view, _ := open()
	if r := consent(view, onServer); r.status != http.StatusOK {
		t.Fatalf("one-step consent: HTTP %d %s", r.status, r.body)
	}
	sessionIs("wallet-held licence", created.ID, verifier.VPVerified)

	// The phone-bound licence: consent answers with what to sign, and sends nothing yet.
	created, view, ar := open()
	r := consent(view, onDevice)
	var sign wallet.ShareSigning
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &sign) != nil || len(sign.Sign) != 1 {
		t.Fatalf("consent: HTTP %d %s", r.status, r.body)
	}
	sessionIs("waiting for the phone", created.ID, verifier.VPFetched)
	kb := sign.Sign[0]
	var kbPayload struct {
		Aud    string `json:"aud"`
		Iat    int64  `json:"iat"`
		Nonce  string `json:"nonce"`
		SDHash string `json:"sd_hash"`
	}
	if err := json.Unmarshal(kb.Payload, &kbPayload); err != nil {
		t.Fatal(err)
	}
	if kbPayload.Aud != f.srv.OpenID4VP.ClientID() || kbPayload.Nonce != ar.Nonce || kbPayload.SDHash != sdjwt.SDHash(kb.SDJWT) ||
		kbPayload.Iat != f.clock.Now().Unix() || string(kb.Header) != `{"alg":"ES256","typ":"kb+jwt"}` {
		t.Errorf("KB-JWT to sign: header %s payload %s", kb.Header, kb.Payload)
	}
	if kb.CredentialID != onDevice || kb.HolderKey != hk.ID || strings.Count(kb.SDJWT, "~") != len(shareClaims)+1 ||
		len(sign.Shared) != 1 || !slices.Equal(sign.Shared[0].Disclosed, shareClaims) || sign.Verifier.ClientID != f.srv.OpenID4VP.ClientID() {
		t.Errorf("share signing: %s", r.body)
	}

	// Refusals send nothing; the request can still be completed afterwards.
	path := "/bridge/v1/share-requests/consent/" + sign.ID + "/complete"
	good := signInput(t, holder, kb.SigningInput)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sigs := func(sig string) map[string]any {
		return map[string]any{"signatures": map[string]string{kb.QueryID: sig}}
	}
	wantProblem(t, "signed by another key", f.doJSON(http.MethodPost, path, phone.Token, sigs(signInput(t, other, kb.SigningInput))),
		http.StatusUnprocessableEntity, "invalid-device-signature")
	wantProblem(t, "the signature of another input", f.doJSON(http.MethodPost, path, phone.Token, sigs(signInput(t, holder, kb.SigningInput+"x"))),
		http.StatusUnprocessableEntity, "invalid-device-signature")
	wantProblem(t, "no signatures", f.doJSON(http.MethodPost, path, phone.Token, map[string]any{}), http.StatusBadRequest, "malformed-request")
	wantProblem(t, "a query not asked", f.doJSON(http.MethodPost, path, phone.Token,
		map[string]any{"signatures": map[string]string{kb.QueryID: good, "other": good}}), http.StatusBadRequest, "malformed-request")
	intruder := f.newCitizen("陈二")
	wantProblem(t, "another citizen", f.doJSON(http.MethodPost, path, intruder.Token, sigs(good)), http.StatusNotFound, "not-found")
	secondPhone := f.addDevice(phone.ID, phone.Name, phone.DID)
	wantProblem(t, "another device of the citizen", f.doJSON(http.MethodPost, path, secondPhone.Token, sigs(good)), http.StatusNotFound, "not-found")
	wantProblem(t, "a counter presentation's path", f.doJSON(http.MethodPost, completePath(onDevice, sign.ID), phone.Token, map[string]any{"signature": good}),
		http.StatusNotFound, "not-found")
	sessionIs("after refusals", created.ID, verifier.VPFetched)

	// The phone's signature: the wallet posts, the service sees the two claims verified.
	r = f.doJSON(http.MethodPost, path, phone.Token, sigs(good))
	var shared wallet.ShareResult
	if r.status != http.StatusOK || json.Unmarshal(r.body, &shared) != nil || len(shared.Shared) != 1 || shared.Shared[0].CredentialID != onDevice {
		t.Fatalf("complete: HTTP %d %s", r.status, r.body)
	}
	s := f.vpSession(created.ID)
	if s.Status != verifier.VPVerified || s.Result == nil || !s.Result.Valid || len(s.Result.Credentials) != 1 {
		t.Fatalf("session: %+v %+v", s, s.Result)
	}
	if claims := s.Result.Credentials[0].Result.Claims; len(claims) != len(shareClaims) || claims["family_name"] != licence["family_name"] {
		t.Errorf("the service saw %v", claims)
	}
	wantProblem(t, "replayed", f.doJSON(http.MethodPost, path, phone.Token, sigs(good)), http.StatusConflict, "signing-request-used")

	// The history has it, like a wallet-signed share.
	page, err := f.srv.Wallet.History(t.Context(), wallet.Citizen{ID: phone.ID}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Presentations) != 2 || page.Presentations[0].CredentialID != onDevice || page.Presentations[0].Channel != wallet.ChannelOpenID4VP ||
		page.Presentations[0].Result != wallet.ResultPresented || !slices.Equal(page.Presentations[0].Claims, shareClaims) {
		t.Errorf("history: %+v", page.Presentations)
	}

	// Too late: the KB-JWT would be stale at the verifier; nothing is sent.
	created, view, _ = open()
	r = consent(view, onDevice)
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &sign) != nil {
		t.Fatalf("consent: HTTP %d %s", r.status, r.body)
	}
	f.clock.Add(61 * time.Second)
	wantProblem(t, "expired", f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent/"+sign.ID+"/complete", phone.Token,
		map[string]any{"signatures": map[string]string{sign.Sign[0].QueryID: signInput(t, holder, sign.Sign[0].SigningInput)}}),
		http.StatusGone, "signing-request-expired")
	sessionIs("expired signing request", created.ID, verifier.VPFetched)
}

// TestDeviceHolderKeyShareMixed: one request answered by a wallet-held licence and a
// phone-bound one: the wallet signs its own at once, the phone signs only the other, and the
// service verifies both presentations of the one response.
func TestDeviceHolderKeyShareMixed(t *testing.T) {
	f := newFixture(t)
	phone := f.newCitizen("卫四")
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hk := f.registerHolderKey(t, phone, holder)
	onDevice := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", hk.DID, licence))
	onServer := f.receiveHeld(t, phone.Token, f.issue("DrivingLicence", phone.DID, licence))
	q := `{"credentials":[` +
		`{"id":"held","format":"dc+sd-jwt","meta":{"vct_values":["urn:ezheng:vct:DrivingLicence"]},"claims":[{"path":["family_name"]}]},` +
		`{"id":"phone","format":"dc+sd-jwt","meta":{"vct_values":["urn:ezheng:vct:DrivingLicence"]},"claims":[{"path":["licence_class"]}]}]}`
	r := f.doJSON(http.MethodPost, "/verifier/v1/oid4vp/requests", f.world.Service.Token, map[string]any{"dcql_query": json.RawMessage(q)})
	var created verifierhttp.VPCreated
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &created) != nil {
		t.Fatalf("create request: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests", phone.Token, map[string]any{"uri": created.URI})
	var view wallet.ShareRequest
	if r.status != http.StatusOK || json.Unmarshal(r.body, &view) != nil || !view.Satisfiable {
		t.Fatalf("open: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent", phone.Token,
		map[string]any{"request": view.Request, "choose": map[string]string{"held": onServer, "phone": onDevice}})
	var sign wallet.ShareSigning
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &sign) != nil || len(sign.Sign) != 1 || sign.Sign[0].QueryID != "phone" || len(sign.Shared) != 2 {
		t.Fatalf("consent: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent/"+sign.ID+"/complete", phone.Token,
		map[string]any{"signatures": map[string]string{"phone": signInput(t, holder, sign.Sign[0].SigningInput)}})
	if r.status != http.StatusOK {
		t.Fatalf("complete: HTTP %d %s", r.status, r.body)
	}
	s := f.vpSession(created.ID)
	if s.Status != verifier.VPVerified || s.Result == nil || !s.Result.Valid || len(s.Result.Credentials) != 2 {
		t.Fatalf("session: %+v %+v", s, s.Result)
	}
}
