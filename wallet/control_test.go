package wallet_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/wallet"
	"github.com/ezheng/ezheng/wallet/walletstore"
)

// clock is an injected clock moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testKDF is a cheap Argon2id cost for tests (production uses wallet.DefaultBackupKDF).
var testKDF = wallet.KDFParams{MemoryKiB: 64, Passes: 1, Lanes: 1}

type env struct {
	t     *testing.T
	ctx   context.Context
	clk   *clock
	store *walletstore.Store
	w     *wallet.Service
	iss   *issuerKey
}

// newEnv is a wallet on a real SQLite file with an injected clock, and an issuer (did:jwk).
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := walletstore.Open(ctx, filepath.Join(t.TempDir(), "wallet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := keys.NewSealer(bytes.Repeat([]byte{7}, 32), "wallet")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	w, err := wallet.New(wallet.Config{Store: st, Sealer: sealer, Resolver: did.Methods{"jwk": did.Local{}, "key": did.Local{}},
		Checker: trusting{}, Now: clk.Now, AccountSecret: bytes.Repeat([]byte{1}, 32), Control: wallet.ControlConfig{BackupKDF: testKDF, EventLog: 5}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, clk: clk, store: st, w: w, iss: newIssuer(t)}
}

// trusting stands in for the verifier (a remote component) that checks credentials before
// the wallet keeps them: these tests are about what happens after.
type trusting struct{}

func (trusting) CheckCredential(context.Context, string) ([]wallet.CheckOutcome, error) {
	var out []wallet.CheckOutcome
	for _, n := range wallet.ReceiveChecks {
		out = append(out, wallet.CheckOutcome{Name: n, OK: true})
	}
	return out, nil
}

type issuerKey struct {
	priv     ed25519.PrivateKey
	did, kid string
}

func newIssuer(t *testing.T) *issuerKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	d, kid, err := did.NewJWK(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &issuerKey{priv: priv, did: d, kid: kid}
}

// issue makes a DrivingLicence SD-JWT VC for c's holder key, expiring at exp, with a status
// claim pointing at entry idx of statusURI when statusURI is not empty.
func (e *env) issue(c wallet.Citizen, exp time.Time, statusURI string, idx int) string {
	e.t.Helper()
	hk, err := did.ResolveKey(e.ctx, did.Local{}, c.HolderKID, did.Authentication)
	if err != nil {
		e.t.Fatal(err)
	}
	hkJSON, _ := hk.MarshalJSON()
	var cnf map[string]any
	json.Unmarshal(hkJSON, &cnf)
	claims := map[string]any{"iss": e.iss.did, "vct": "urn:ezheng:vct:DrivingLicence", "iat": e.clk.Now().Unix(), "exp": exp.Unix(),
		"cnf": map[string]any{"jwk": cnf}, "name": "张三", "class": "C1", "birthdate": "1990-01-01"}
	if statusURI != "" {
		claims["status"] = statuslist.StatusClaim(statusURI, idx)
	}
	signer, err := sdjwt.NewSigner(e.iss.priv, "dc+sd-jwt", e.iss.kid)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := sdjwt.Issue(signer, claims, []string{"name", "class", "birthdate"}, 0, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

func (e *env) citizen(name string) wallet.Citizen {
	e.t.Helper()
	c, err := e.w.CreateCitizen(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) receive(c wallet.Citizen, raw string) wallet.Credential {
	e.t.Helper()
	cr, _, err := e.w.Receive(e.ctx, c, raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return cr
}

// TestHistoryRecordsCounterPresentations: Present records who, which claims, when; the
// history pages newest first; other citizens see none of it; exports hold the same.
func TestHistoryRecordsCounterPresentations(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.citizen("alice"), e.citizen("bob")
	cr := e.receive(alice, e.issue(alice, e.clk.Now().Add(365*24*time.Hour), "", 0))
	for i, aud := range []string{"urn:counter:1", "=HYPERLINK(\"x\")", "urn:counter:3"} {
		if _, err := e.w.Present(e.ctx, alice, cr.ID, []string{"name", "class"}[:1+i%2], aud); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(time.Minute)
	}
	page, err := e.w.History(e.ctx, alice, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Presentations) != 2 || page.Next == 0 {
		t.Fatalf("first page: %+v", page)
	}
	newest := page.Presentations[0]
	if newest.Audience != "urn:counter:3" || newest.Channel != wallet.ChannelCounterQR || newest.CredentialID != cr.ID ||
		newest.Result != wallet.ResultPresented || strings.Join(newest.Claims, ",") != "name" || !newest.At.Equal(time.Date(2026, 11, 21, 9, 2, 0, 0, time.UTC)) {
		t.Errorf("newest record = %+v", newest)
	}
	rest, err := e.w.History(e.ctx, alice, page.Next, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Presentations) != 1 || rest.Next != 0 || rest.Presentations[0].Audience != "urn:counter:1" {
		t.Fatalf("second page: %+v", rest)
	}
	if got, _ := e.w.History(e.ctx, bob, 0, 0); len(got.Presentations) != 0 {
		t.Errorf("bob sees %d of alice's records", len(got.Presentations))
	}

	body, ctype, err := e.w.ExportHistory(e.ctx, alice, wallet.ExportCSV)
	if err != nil || !strings.HasPrefix(ctype, "text/csv") {
		t.Fatal(ctype, err)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "id" || rows[1][3] != "urn:counter:1" || rows[2][3] != `'=HYPERLINK("x")` || rows[2][8] != "name;class" {
		t.Errorf("csv = %q", rows)
	}
	body, _, err = e.w.ExportHistory(e.ctx, alice, wallet.ExportJSON)
	if err != nil {
		t.Fatal(err)
	}
	var ex wallet.HistoryExport
	if err := json.Unmarshal(body, &ex); err != nil || len(ex.Presentations) != 3 || ex.Presentations[0].Audience != "urn:counter:1" || ex.Citizen != alice.HolderDID {
		t.Errorf("json export = %s (%v)", body, err)
	}
	if _, _, err := e.w.ExportHistory(e.ctx, alice, "xml"); !errors.Is(err, wallet.ErrInvalidRequest) {
		t.Errorf("xml export: %v", err)
	}
}

// TestRecordPresentationHook: the hook for OpenID4VP records a presentation and its result;
// a citizen cannot set the result of another's record.
func TestRecordPresentationHook(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.citizen("alice"), e.citizen("bob")
	rec, err := e.w.RecordPresentation(e.ctx, alice, wallet.PresentationRecord{Channel: wallet.ChannelOpenID4VP, Audience: "x509_san_dns:bank.example",
		Verifier: "Example Bank", Claims: []string{"name", "birthdate"}, Purpose: "Open an account"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.SetPresentationResult(e.ctx, bob, rec.ID, wallet.ResultRejected, ""); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("bob sets alice's result: %v", err)
	}
	if _, err := e.w.SetPresentationResult(e.ctx, alice, rec.ID, wallet.ResultAccepted, ""); err != nil {
		t.Fatal(err)
	}
	page, _ := e.w.History(e.ctx, alice, 0, 0)
	if len(page.Presentations) != 1 || page.Presentations[0].Result != wallet.ResultAccepted || page.Presentations[0].Purpose != "Open an account" {
		t.Errorf("history = %+v", page.Presentations)
	}
	for name, bad := range map[string]wallet.PresentationRecord{
		"no audience":  {Channel: wallet.ChannelOpenID4VP},
		"long purpose": {Channel: wallet.ChannelOpenID4VP, Audience: "a", Purpose: strings.Repeat("x", 2000)},
	} {
		if _, err := e.w.RecordPresentation(e.ctx, alice, bad); !errors.Is(err, wallet.ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBackupRestore: a backup restores into a new, empty account: the same credentials, the
// history, the holder key (a presentation made after restoring verifies against it); a wrong
// passphrase, a tampered file, a malformed one and a non-empty target change nothing.
func TestBackupRestore(t *testing.T) {
	e := newEnv(t)
	alice := e.citizen("alice")
	cr := e.receive(alice, e.issue(alice, e.clk.Now().Add(365*24*time.Hour), "", 0))
	if _, err := e.w.Present(e.ctx, alice, cr.ID, []string{"name"}, "urn:counter:1"); err != nil {
		t.Fatal(err)
	}
	const pass = "correct horse battery staple"
	if _, err := e.w.Backup(e.ctx, alice, "short"); !errors.Is(err, wallet.ErrWeakPassphrase) {
		t.Fatalf("weak passphrase: %v", err)
	}
	file, err := e.w.Backup(e.ctx, alice, pass)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(file), "\n")
	if lines[0] != wallet.BackupMagic || !strings.Contains(lines[1], `"kdf":"argon2id","m":64,"t":1,"p":1`) {
		t.Fatalf("backup header: %q", lines[:2])
	}
	if bytes.Contains(file, []byte("张三")) || bytes.Contains(file, []byte(cr.ID)) {
		t.Fatal("backup holds clear text")
	}

	// The new phone: a new, empty account.
	newAcct := e.citizen("alice-new-phone")
	full := e.citizen("someone-with-credentials")
	e.receive(full, e.issue(full, e.clk.Now().Add(time.Hour), "", 0))

	tampered := []byte(string(file))
	i := len(lines[0]) + len(lines[1]) + 2 + 10 // a byte of the ciphertext
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	tamperedHeader := bytes.Replace(file, []byte(`"created_at":"2026`), []byte(`"created_at":"2027`), 1)
	tests := []struct {
		name   string
		target wallet.Citizen
		file   []byte
		pass   string
		want   error
	}{
		{"wrong passphrase", newAcct, file, "incorrect horse battery staple", wallet.ErrBackupPassphrase},
		{"tampered ciphertext", newAcct, tampered, pass, wallet.ErrBackupTampered},
		{"tampered header", newAcct, tamperedHeader, pass, wallet.ErrBackupTampered},
		{"truncated header", newAcct, file[:len(lines[0])+20], pass, wallet.ErrBackupMalformed},
		{"truncated ciphertext", newAcct, file[:len(file)-5], pass, wallet.ErrBackupTampered},
		{"not a backup", newAcct, []byte("hello"), pass, wallet.ErrBackupMalformed},
		{"costly KDF", newAcct, bytes.Replace(file, []byte(`"m":64,`), []byte(`"m":4194304,`), 1), pass, wallet.ErrBackupMalformed},
		{"target holds credentials", full, file, pass, wallet.ErrRestoreConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := e.w.Credentials(e.ctx, tt.target)
			if _, err := e.w.Restore(e.ctx, tt.target, tt.file, tt.pass); !errors.Is(err, tt.want) {
				t.Fatalf("Restore = %v, want %v", err, tt.want)
			}
			after, _ := e.w.Credentials(e.ctx, tt.target)
			me, _ := e.w.CitizenByName(e.ctx, tt.target.Name)
			if len(after) != len(before) || me.HolderDID != tt.target.HolderDID {
				t.Errorf("changed: %d → %d credentials, holder %s → %s", len(before), len(after), tt.target.HolderDID, me.HolderDID)
			}
		})
	}

	got, err := e.w.Restore(e.ctx, newAcct, file, pass)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credentials != 1 || got.Presentations != 1 || got.HolderDID != alice.HolderDID {
		t.Fatalf("restore = %+v", got)
	}
	restored, err := e.w.CitizenByName(e.ctx, newAcct.Name)
	if err != nil {
		t.Fatal(err)
	}
	if restored.HolderDID != alice.HolderDID {
		t.Fatalf("holder DID %s, want %s", restored.HolderDID, alice.HolderDID)
	}
	creds, _ := e.w.Credentials(e.ctx, restored)
	if len(creds) != 1 || creds[0].Digest != cr.Digest || creds[0].ID == cr.ID {
		t.Fatalf("credentials = %+v", creds)
	}
	// The restored holder key signs presentations of the restored credential.
	p, err := e.w.Present(e.ctx, restored, creds[0].ID, []string{"class"}, "urn:counter:2")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := sdjwt.Parse(p.Text)
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := did.ResolveKey(e.ctx, did.Local{}, alice.HolderKID, did.Authentication)
	if err := sd.VerifyKeyBinding(hk, sdjwt.KeyBindingOptions{Audience: "urn:counter:2", Nonce: nonceOf(t, p.Text), Now: e.clk.Now(), MaxAge: time.Minute}); err != nil {
		t.Errorf("key binding after restore: %v", err)
	}
	page, _ := e.w.History(e.ctx, restored, 0, 0)
	if len(page.Presentations) != 2 || page.Presentations[1].Audience != "urn:counter:1" {
		t.Errorf("history after restore: %+v", page.Presentations)
	}
	// Restoring twice: the wallet is no longer empty.
	if _, err := e.w.Restore(e.ctx, restored, file, pass); !errors.Is(err, wallet.ErrRestoreConflict) {
		t.Errorf("second restore: %v", err)
	}
}

// nonceOf reads the nonce of a presentation's KB-JWT.
func nonceOf(t *testing.T, pres string) string {
	t.Helper()
	parts := strings.Split(pres, "~")
	kb := strings.Split(parts[len(parts)-1], ".")
	var claims struct {
		Nonce string `json:"nonce"`
	}
	b, err := b64dec(kb[1])
	if err != nil || json.Unmarshal(b, &claims) != nil {
		t.Fatalf("kb-jwt: %v", err)
	}
	return claims.Nonce
}

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// memLists serves status list tokens from memory: the issuer's server in these tests.
type memLists struct {
	mu   sync.Mutex
	toks map[string]string
	fail bool
}

func (m *memLists) StatusList(_ context.Context, uri string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return nil, errors.New("connection refused")
	}
	tok, ok := m.toks[uri]
	if !ok {
		return nil, fmt.Errorf("GET %s: 404", uri)
	}
	return []byte(tok), nil
}

func (e *env) publish(m *memLists, uri string, statuses map[int]uint8) {
	e.t.Helper()
	l, _ := statuslist.New(16, 2)
	for i, v := range statuses {
		l.Set(i, v)
	}
	signer, err := statuslist.NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: e.iss.priv}, e.iss.kid)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := statuslist.SignToken(l, uri, e.clk.Now(), time.Hour, signer)
	if err != nil {
		e.t.Fatal(err)
	}
	m.mu.Lock()
	m.toks[uri] = tok
	m.mu.Unlock()
}

// TestCredentialWatch: the status check notices revocation, suspension and reinstatement
// once each, tells the citizen a credential expires soon once, keeps a status it cannot read,
// and notifies only the holder; the event log is bounded.
func TestCredentialWatch(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.citizen("alice"), e.citizen("bob")
	const uri = "https://issuer.example/status/1"
	lists := &memLists{toks: map[string]string{}}
	e.publish(lists, uri, nil)
	cr := e.receive(alice, e.issue(alice, e.clk.Now().Add(60*24*time.Hour), uri, 3))
	e.receive(bob, e.issue(bob, e.clk.Now().Add(365*24*time.Hour), uri, 4))

	check := func(want wallet.CheckReport) {
		t.Helper()
		rep, err := e.w.CheckCredentials(e.ctx, lists)
		if err != nil {
			t.Fatal(err)
		}
		if rep != want {
			t.Fatalf("report %+v, want %+v", rep, want)
		}
	}
	check(wallet.CheckReport{Checked: 2})
	e.publish(lists, uri, map[int]uint8{3: statuslist.Suspended})
	check(wallet.CheckReport{Checked: 2, Changed: 1})
	check(wallet.CheckReport{Checked: 2}) // once only
	lists.fail = true
	check(wallet.CheckReport{Checked: 2, Failed: 2})
	lists.fail = false
	e.publish(lists, uri, map[int]uint8{3: statuslist.Valid})
	check(wallet.CheckReport{Checked: 2, Changed: 1})
	e.publish(lists, uri, map[int]uint8{3: statuslist.Invalid})
	e.clk.Add(31 * 24 * time.Hour) // alice's expires in 29 days
	e.publish(lists, uri, map[int]uint8{3: statuslist.Invalid})
	check(wallet.CheckReport{Checked: 2, Changed: 1, Expiring: 1})
	check(wallet.CheckReport{Checked: 2})

	evs, err := e.w.Events(e.ctx, alice, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+":"+ev.Data.Status)
		if ev.Data.CredentialID != cr.ID {
			t.Errorf("event about %s", ev.Data.CredentialID)
		}
	}
	want := "credential-status:suspended credential-status:valid credential-status:revoked credential-expiring:"
	if strings.Join(got, " ") != want {
		t.Errorf("events = %v, want %s", got, want)
	}
	if evs, _ := e.w.Events(e.ctx, bob, 0, 0); len(evs) != 0 {
		t.Errorf("bob got %d events", len(evs))
	}
	// Resume after the second event.
	if rest, _ := e.w.Events(e.ctx, alice, evs[1].ID, 0); len(rest) != 2 || rest[0].ID != evs[2].ID {
		t.Errorf("resume after %d: %+v", evs[1].ID, rest)
	}
	// The log keeps the newest 5 (EventLog).
	for i := 0; i < 7; i++ {
		if _, err := e.w.NotifyOffer(e.ctx, alice, fmt.Sprintf("openid-credential-offer://?credential_offer_uri=https://i.example/o/%d", i), "Issuer"); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ = e.w.Events(e.ctx, alice, 0, 0)
	if len(evs) != 5 || !strings.HasSuffix(evs[4].Data.OfferURI, "/o/6") {
		t.Errorf("bounded log: %d events, last %+v", len(evs), evs[len(evs)-1])
	}
}

// TestSubscribeWakesOnlyTheCitizen: a notification wakes the citizen's subscriptions, not
// another's; CloseEvents ends them.
func TestSubscribeWakesOnlyTheCitizen(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.citizen("alice"), e.citizen("bob")
	sa, sb := e.w.Subscribe(alice), e.w.Subscribe(bob)
	defer sa.Close()
	defer sb.Close()
	if _, err := e.w.NotifyRequest(e.ctx, alice, "openid4vp://?request_uri=https://v.example/r/1", "Example Bank", "KYC"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sa.Wake():
	default:
		t.Fatal("alice not woken")
	}
	select {
	case <-sb.Wake():
		t.Fatal("bob woken")
	default:
	}
	e.w.CloseEvents()
	select {
	case <-sa.Done():
	default:
		t.Fatal("not closed")
	}
	if s := e.w.Subscribe(alice); s.Done() == nil {
		t.Fatal("nil done")
	}
}
