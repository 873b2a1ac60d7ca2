package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/wallet"
)

// bridgeCitizen returns the phone (device key and token) of the citizen owning token.
func (f *fixture) bridgeCitizen(token string) (demo.Citizen, bool) {
	if token == "" {
		return demo.Citizen{}, false
	}
	if token == f.world.Citizen.Token {
		return f.world.Citizen, true
	}
	c, ok := f.citizens[token]
	return c, ok
}

// newCitizen makes a citizen (without enrolment) with a registered device key; f.do signs
// the bridge calls made with its token.
func (f *fixture) newCitizen(name string) demo.Citizen {
	f.t.Helper()
	ctx := context.Background()
	c, err := f.srv.Wallet.CreateCitizen(ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.addDevice(c.ID, c.Name, c.HolderDID)
}

// addDevice registers a new P-256 device key for a citizen and returns its phone.
func (f *fixture) addDevice(id, name, did string) demo.Citizen {
	f.t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dev, tok, err := f.srv.Wallet.RegisterDevice(context.Background(), id, jose.JSONWebKey{Key: k.Public()}, "test phone")
	if err != nil {
		f.t.Fatal(err)
	}
	priv, _ := jose.JSONWebKey{Key: k}.MarshalJSON()
	c := demo.Citizen{ID: id, Name: name, DID: did, Token: tok, DeviceID: dev.ID, DeviceKey: priv}
	f.citizens[tok] = c
	return c
}

func (f *fixture) dataDir() string { return f.cfg.DataDir }

// raw sends a request with exactly the headers given (no automatic DPoP).
func (f *fixture) raw(method, path string, body []byte, headers ...string) response {
	f.t.Helper()
	return f.do(method, path, "", "application/json", body, headers...)
}

// proof makes a DPoP proof with key for method and path on the fixture's server.
func (f *fixture) proof(key crypto.Signer, method, path, token string) string {
	f.t.Helper()
	p, err := dpop.NewProof(key, method, f.url+path, token, "", f.clock.Now(), secret.String(12))
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

const phone = "+8613800138000"

// validID is a resident identity number with a right GB 11643 check digit.
const validID = "11010519491231002X"

// code asks for a one-time code for phone and reads it from the dev outbox.
func (f *fixture) code(phone string) string {
	f.t.Helper()
	if r := f.doJSON(http.MethodPost, "/bridge/v1/enrolment/code", "", map[string]any{"phone": phone}); r.status != http.StatusAccepted {
		f.t.Fatalf("request code: %d %s", r.status, r.body)
	}
	r := f.do(http.MethodGet, "/bridge/v1/dev/outbox?phone="+strings.ReplaceAll(phone, "+", "%2B"), "", "", nil)
	var out struct {
		Messages []wallet.OutboxMessage `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Messages) == 0 {
		f.t.Fatalf("outbox: %d %s", r.status, r.body)
	}
	return out.Messages[0].Code
}

// enrol posts an enrolment signed with key and returns the answer.
func (f *fixture) enrol(key crypto.Signer, body map[string]any) response {
	f.t.Helper()
	b, _ := json.Marshal(body)
	return f.raw(http.MethodPost, "/bridge/v1/enrolment", b, "DPoP", f.proof(key, http.MethodPost, "/bridge/v1/enrolment", ""))
}

// phoneOf turns an enrolment answer into a phone f.do can sign for.
func (f *fixture) phoneOf(r response, key crypto.Signer) (demo.Citizen, wallet.Enrolment) {
	f.t.Helper()
	var e wallet.Enrolment
	if err := json.Unmarshal(r.body, &e); err != nil {
		f.t.Fatal(err)
	}
	priv, _ := jose.JSONWebKey{Key: key}.MarshalJSON()
	c := demo.Citizen{ID: e.Citizen.ID, DID: e.Citizen.HolderDID, Token: e.AccessToken, DeviceID: e.Device.ID, DeviceKey: priv}
	f.citizens[c.Token] = c
	return c, e
}

func TestEnrolAndLoginOnASecondDevice(t *testing.T) {
	f := newFixture(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	r := f.enrol(edKey, map[string]any{"phone": phone, "code": f.code(phone), "name": "李四", "id_number": validID, "device_name": "Li's phone"})
	if r.status != http.StatusCreated {
		t.Fatalf("enrol: %d %s", r.status, r.body)
	}
	cit, e := f.phoneOf(r, edKey)
	if !e.Created || e.TokenType != "DPoP" || e.Device.Alg != "EdDSA" || e.Device.Name != "Li's phone" {
		t.Errorf("enrolment = %+v", e)
	}
	var me wallet.Citizen
	if r := f.do(http.MethodGet, "/bridge/v1/me", cit.Token, "", nil); r.status != 200 || json.Unmarshal(r.body, &me) != nil || me.Name != "李四" || me.ID != e.Citizen.ID {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	// A login on a second phone: a new code (after the resend gap), no identity again.
	f.clock.Add(wallet.DefaultCodeGap + time.Second)
	second, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r = f.enrol(second, map[string]any{"phone": phone, "code": f.code(phone), "device_name": "tablet"})
	if r.status != http.StatusCreated {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	cit2, e2 := f.phoneOf(r, second)
	if e2.Created || e2.Citizen.ID != e.Citizen.ID || e2.Device.Alg != "ES256" {
		t.Errorf("login = %+v", e2)
	}
	var list struct {
		Devices []wallet.Device `json:"devices"`
		Current string          `json:"current"`
	}
	if r := f.do(http.MethodGet, "/bridge/v1/devices", cit2.Token, "", nil); r.status != 200 || json.Unmarshal(r.body, &list) != nil {
		t.Fatalf("devices: %d %s", r.status, r.body)
	}
	if len(list.Devices) != 2 || list.Current != e2.Device.ID || list.Devices[0].Thumbprint != e.Device.Thumbprint {
		t.Errorf("devices = %+v", list)
	}
	tp, _ := dpop.Thumbprint(jose.JSONWebKey{Key: edKey.Public()})
	if list.Devices[0].Thumbprint != tp {
		t.Errorf("jkt = %s, want the key's thumbprint %s", list.Devices[0].Thumbprint, tp)
	}
}

func TestEnrolRefusesBadCodesAndIdentities(t *testing.T) {
	f := newFixture(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := func(code string) map[string]any {
		return map[string]any{"phone": phone, "code": code, "name": "王五", "id_number": validID}
	}
	wrong := func(code string) string {
		if code == "000000" {
			return "000001"
		}
		return "000000"
	}
	check := func(name string, r response, status int, typ string) {
		t.Helper()
		if r.status != status || r.problemType() != typ {
			t.Errorf("%s: %d %s, want %d %s", name, r.status, r.body, status, typ)
		}
	}
	noAccount := func(name string) {
		t.Helper()
		var n int
		db := openWalletDB(t, f)
		db.QueryRow(`SELECT COUNT(*) FROM citizens WHERE phone_hash IS NOT NULL`).Scan(&n)
		if n != 0 {
			t.Errorf("%s: %d enrolled accounts, want none", name, n)
		}
	}

	check("invalid phone", f.doJSON(http.MethodPost, "/bridge/v1/enrolment/code", "", map[string]any{"phone": "12345"}), 400, "/problems/invalid-phone")
	code := f.code(phone)
	check("asking again at once", f.doJSON(http.MethodPost, "/bridge/v1/enrolment/code", "", map[string]any{"phone": phone}), 429, "/problems/code-too-soon")
	check("no proof", f.raw(http.MethodPost, "/bridge/v1/enrolment", mustJSON(good(code))), 401, "/problems/dpop-required")
	check("wrong code", f.enrol(key, good(wrong(code))), 400, "/problems/invalid-code")
	bad := good(code)
	bad["id_number"] = "110105194912310021"
	check("identity not proven", f.enrol(key, bad), 422, "/problems/identity-not-proven")
	noName := good(code)
	delete(noName, "name")
	check("new account without a name", f.enrol(key, noName), 400, "/problems/malformed-request")
	noAccount("after refusals")
	// The code still works after a wrong try and a failed proofing; then it is used up.
	if r := f.enrol(key, good(code)); r.status != http.StatusCreated {
		t.Fatalf("enrol with the right code: %d %s", r.status, r.body)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check("reused code", f.enrol(other, good(code)), 400, "/problems/invalid-code")

	// Expired.
	const phone2 = "+8613900139000"
	code2 := f.code(phone2)
	f.clock.Add(wallet.DefaultCodeTTL + time.Second)
	check("expired code", f.enrol(other, map[string]any{"phone": phone2, "code": code2, "name": "赵六", "id_number": validID}), 400, "/problems/code-expired")

	// Attempt-limited: after DefaultMaxAttempts wrong codes even the right one is refused.
	code3 := f.code(phone2)
	body := map[string]any{"phone": phone2, "name": "赵六", "id_number": validID}
	for i := range wallet.DefaultMaxAttempts {
		body["code"] = wrong(code3)
		r := f.enrol(other, body)
		if want := "/problems/invalid-code"; i == wallet.DefaultMaxAttempts-1 {
			check("last wrong code", r, 429, "/problems/code-attempts-exceeded")
		} else {
			check("wrong code", r, 400, want)
		}
	}
	body["code"] = code3
	check("right code after too many", f.enrol(other, body), 429, "/problems/code-attempts-exceeded")

	// The device key of one account cannot enrol another.
	f.clock.Add(wallet.DefaultCodeGap + time.Second)
	body["code"] = f.code(phone2)
	check("device key of another account", f.enrol(key, body), 409, "/problems/device-key-in-use")
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestStolenTokenIsUseless: the access token without a proof of its device key, or with a
// proof that does not fit the request, gets a 401 problem and changes nothing.
func TestStolenTokenIsUseless(t *testing.T) {
	f := newFixture(t)
	tok := f.world.Citizen.Token
	devKey, err := f.world.Citizen.DeviceSigner()
	if err != nil {
		t.Fatal(err)
	}
	thief, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cred := f.issue("DrivingLicence", f.world.Citizen.DID, licence)
	body := mustJSON(map[string]any{"credential": cred})
	const path = "/bridge/v1/credentials"
	replayed := f.proof(devKey, http.MethodPost, path, tok)
	if r := f.raw(http.MethodPost, path, body, "Authorization", "DPoP "+tok, "DPoP", replayed); r.status != http.StatusCreated {
		t.Fatalf("the phone itself: %d %s", r.status, r.body)
	}
	cred2 := f.issue("DrivingLicence", f.world.Citizen.DID, licence)
	body2 := mustJSON(map[string]any{"credential": cred2})
	old := func() string {
		p, _ := dpop.NewProof(devKey, http.MethodPost, f.url+path, tok, "", f.clock.Now().Add(-2*time.Minute), "old")
		return p
	}()
	tests := []struct {
		name    string
		headers []string
		typ     string
	}{
		{"bearer token alone", []string{"Authorization", "Bearer " + tok}, "/problems/dpop-required"},
		{"DPoP token without a proof", []string{"Authorization", "DPoP " + tok}, "/problems/dpop-required"},
		{"proof signed by the thief's key", []string{"Authorization", "DPoP " + tok, "DPoP", f.proof(thief, http.MethodPost, path, tok)}, "/problems/invalid-dpop-proof"},
		{"replayed proof (same jti)", []string{"Authorization", "DPoP " + tok, "DPoP", replayed}, "/problems/dpop-proof-replayed"},
		{"proof for another method", []string{"Authorization", "DPoP " + tok, "DPoP", f.proof(devKey, http.MethodGet, path, tok)}, "/problems/invalid-dpop-proof"},
		{"proof for another URL", []string{"Authorization", "DPoP " + tok, "DPoP", f.proof(devKey, http.MethodPost, "/bridge/v1/offers", tok)}, "/problems/invalid-dpop-proof"},
		{"proof without ath", []string{"Authorization", "DPoP " + tok, "DPoP", f.proof(devKey, http.MethodPost, path, "")}, "/problems/invalid-dpop-proof"},
		{"proof too old", []string{"Authorization", "DPoP " + tok, "DPoP", old}, "/problems/invalid-dpop-proof"},
		{"garbage proof", []string{"Authorization", "DPoP " + tok, "DPoP", "a.b.c"}, "/problems/invalid-dpop-proof"},
		{"unknown token with a good proof", []string{"Authorization", "DPoP ezw_nope", "DPoP", f.proof(devKey, http.MethodPost, path, "ezw_nope")}, "/problems/unauthorized"},
	}
	_, held0, _ := f.srv.Counts(context.Background())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.raw(http.MethodPost, path, body2, tt.headers...)
			if r.status != http.StatusUnauthorized || r.problemType() != tt.typ {
				t.Fatalf("%d %s, want 401 %s", r.status, r.body, tt.typ)
			}
			if ct := r.ctype; !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("content type %q", ct)
			}
		})
	}
	if _, held, _ := f.srv.Counts(context.Background()); held != held0 {
		t.Errorf("wallet holds %d credentials, want %d: a refused call stored something", held, held0)
	}
	// The challenge says DPoP.
	req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "DPoP ") || !strings.Contains(got, `algs="ES256 EdDSA"`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

func TestRemovedDeviceStopsAtOnce(t *testing.T) {
	f := newFixture(t)
	w := f.world.Citizen
	second := f.addDevice(w.ID, w.Name, w.DID)
	if r := f.do(http.MethodGet, "/bridge/v1/credentials", second.Token, "", nil); r.status != 200 {
		t.Fatalf("second device: %d %s", r.status, r.body)
	}
	// Another citizen cannot see or remove Zhang San's devices.
	li := f.newCitizen("Li Si")
	if r := f.do(http.MethodDelete, "/bridge/v1/devices/"+second.DeviceID, li.Token, "", nil); r.status != 404 || r.problemType() != "/problems/not-found" {
		t.Fatalf("Li Si removed Zhang San's device: %d %s", r.status, r.body)
	}
	var list struct{ Devices []wallet.Device }
	json.Unmarshal(f.do(http.MethodGet, "/bridge/v1/devices", li.Token, "", nil).body, &list)
	if len(list.Devices) != 1 || list.Devices[0].ID != li.DeviceID {
		t.Fatalf("Li Si sees devices %+v", list.Devices)
	}
	// Zhang San removes his second device from the first.
	if r := f.do(http.MethodDelete, "/bridge/v1/devices/"+second.DeviceID, w.Token, "", nil); r.status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/bridge/v1/credentials", second.Token, "", nil); r.status != 401 || r.problemType() != "/problems/unauthorized" {
		t.Fatalf("removed device's token: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/bridge/v1/credentials", w.Token, "", nil); r.status != 200 {
		t.Fatalf("first device after removing the second: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/bridge/v1/devices/"+second.DeviceID, w.Token, "", nil); r.status != 404 {
		t.Fatalf("removing twice: %d", r.status)
	}
}

func openWalletDB(t *testing.T, f *fixture) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(f.dataDir(), "wallet.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump returns every value of every table of the wallet database as text.
func dump(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for _, v := range vals {
				fmt.Fprintf(&b, "%s|%v\n", table, v)
				if bs, ok := v.([]byte); ok {
					b.Write(bs)
					b.WriteByte('\n')
				}
			}
		}
		rows.Close()
	}
	return b.String()
}

func TestEraseAccountLeavesNothing(t *testing.T) {
	f := newFixture(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := f.enrol(key, map[string]any{"phone": phone, "code": f.code(phone), "name": "孙七", "id_number": validID})
	if r.status != http.StatusCreated {
		t.Fatalf("enrol: %d %s", r.status, r.body)
	}
	cit, e := f.phoneOf(r, key)
	cred := f.issue("DrivingLicence", e.Citizen.HolderDID, licence)
	if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", cit.Token, map[string]any{"credential": cred}); r.status != http.StatusCreated {
		t.Fatalf("receive: %d %s", r.status, r.body)
	}
	// Another citizen cannot erase Sun Qi: DELETE /me acts on the caller only.
	li := f.newCitizen("Li Si")
	if r := f.do(http.MethodDelete, "/bridge/v1/me", li.Token, "", nil); r.status != 200 {
		t.Fatalf("Li Si erasing himself: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodGet, "/bridge/v1/credentials", cit.Token, "", nil); r.status != 200 || !bytes.Contains(r.body, []byte("DrivingLicence")) {
		t.Fatalf("Sun Qi after Li Si's erasure: %d %s", r.status, r.body)
	}

	r = f.do(http.MethodDelete, "/bridge/v1/me", cit.Token, "", nil)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	var er wallet.Erasure
	json.Unmarshal(r.body, &er)
	if er.Credentials != 1 || er.Devices != 1 || er.Tokens != 1 || !strings.HasPrefix(er.Subject, "sub_") {
		t.Errorf("erasure = %+v", er)
	}
	if r := f.do(http.MethodGet, "/bridge/v1/me", cit.Token, "", nil); r.status != 401 {
		t.Errorf("token after erasure: %d", r.status)
	}
	all := dump(t, openWalletDB(t, f))
	for _, s := range []string{e.Citizen.ID, e.Citizen.HolderDID, e.Device.ID, e.Device.Thumbprint, "孙七", phone, validID, li.ID} {
		if strings.Contains(all, s) {
			t.Errorf("the wallet database still holds %q", s)
		}
	}
	if !strings.Contains(all, f.world.Citizen.ID) {
		t.Error("the demo citizen was erased too")
	}
	db := openWalletDB(t, f)
	var action, subject, detail string
	if err := db.QueryRow(`SELECT action, subject, detail FROM audit WHERE action = 'account.erased' ORDER BY seq DESC LIMIT 1`).Scan(&action, &subject, &detail); err != nil {
		t.Fatal(err)
	}
	if subject != er.Subject || !strings.Contains(detail, `"credentials":1`) {
		t.Errorf("audit = %s %s %s", action, subject, detail)
	}
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM enrolment_codes`).Scan(&n)
	if n != 0 {
		t.Errorf("%d enrolment codes left", n)
	}
}

// TestPreexistingWalletIsResealed: credentials sealed with the wallet key before per-citizen
// data keys (key version 0) are re-sealed at start-up and still work.
func TestPreexistingWalletIsResealed(t *testing.T) {
	f := newFixture(t)
	cred := f.issue("DrivingLicence", f.world.Citizen.DID, licence)
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", f.world.Citizen.Token, map[string]any{"credential": cred})
	var held struct{ ID string }
	json.Unmarshal(r.body, &held)
	ctx := context.Background()
	// Turn the wallet back into what 0002 left: the credential sealed with the wallet key, no
	// data key.
	cit, err := f.srv.Wallet.Authenticate(ctx, f.world.Citizen.Token)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.srv.Wallet.Credential(ctx, cit, held.ID)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := keys.NewSealer(f.cfg.MasterKey, "wallet")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(f.dataDir(), "wallet.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE credentials SET sealed_raw = ?, key_version = 0 WHERE id = ?`, sealer.Seal([]byte(raw.Raw), []byte(cit.ID+"/"+held.ID)), held.ID); err != nil {
		t.Fatal(err)
	}
	// The holder key back under the wallet key (version 0), the data key gone.
	var sealedDK, sealedHK []byte
	if err := db.QueryRow(`SELECT sealed_data_key, sealed_key FROM citizens WHERE id = ?`, cit.ID).Scan(&sealedDK, &sealedHK); err != nil {
		t.Fatal(err)
	}
	dk, err := sealer.Open(sealedDK, []byte(cit.ID+"/data-key"))
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := keys.NewSealer(dk, "wallet/citizen")
	hk, err := ds.OpenKey(sealedHK, []byte(cit.ID+"/holder-key"))
	if err != nil {
		t.Fatal(err)
	}
	legacyHK, _ := sealer.SealKey(hk, []byte(cit.ID))
	if _, err := db.Exec(`UPDATE citizens SET sealed_data_key = NULL, sealed_key = ?, holder_key_version = 0 WHERE id = ?`, legacyHK, cit.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A restart re-seals.
	cfg := f.cfg
	f.srv.Close()
	srv2, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	got, err := srv2.Wallet.Credential(ctx, cit, held.ID)
	if err != nil || got.Raw != raw.Raw {
		t.Fatalf("after re-sealing: %v", err)
	}
	if got.KeyVersion != 1 {
		t.Errorf("key version %d, want 1", got.KeyVersion)
	}
	// The holder key was re-sealed too, and still signs a presentation.
	var v int
	db2 := openWalletDB(t, f)
	if err := db2.QueryRow(`SELECT holder_key_version FROM citizens WHERE id = ?`, cit.ID).Scan(&v); err != nil || v != 1 {
		t.Errorf("holder key version %d (%v), want 1", v, err)
	}
	if _, err := srv2.Wallet.Present(ctx, cit, held.ID, []string{"family_name"}, ""); err != nil {
		t.Errorf("present after re-sealing: %v", err)
	}
}

// TestDPoPNonce: with server nonces on, a proof without one is answered use-dpop-nonce with a
// DPoP-Nonce header; the retry with that nonce goes through.
func TestDPoPNonce(t *testing.T) {
	f := newFixture(t, func(c *server.Config) { c.DPoPNonces = true })
	tok := f.world.Citizen.Token
	key, _ := f.world.Citizen.DeviceSigner()
	const path = "/bridge/v1/credentials"
	req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", f.proof(key, http.MethodGet, path, tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || nonce == "" || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		t.Fatalf("without nonce: %d, nonce %q, challenge %q", resp.StatusCode, nonce, resp.Header.Get("WWW-Authenticate"))
	}
	p, err := dpop.NewProof(key, http.MethodGet, f.url+path, tok, nonce, f.clock.Now(), "with-nonce")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.raw(http.MethodGet, path, nil, "Authorization", "DPoP "+tok, "DPoP", p); r.status != 200 {
		t.Fatalf("with the nonce: %d %s", r.status, r.body)
	}
	p, _ = dpop.NewProof(key, http.MethodGet, f.url+path, tok, "made-up", f.clock.Now(), "bad-nonce")
	if r := f.raw(http.MethodGet, path, nil, "Authorization", "DPoP "+tok, "DPoP", p); r.status != 401 || r.problemType() != "/problems/use-dpop-nonce" {
		t.Fatalf("with a made-up nonce: %d %s", r.status, r.body)
	}
}
