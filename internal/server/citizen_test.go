package server_test

import (
	"bufio"
	"context"
	"crypto"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/wallet"
)

// Tests of "The citizen stays in control" (issue #5) through the bridge: history, backup and
// restore, the event stream, and problem titles in the language of Accept-Language.

// cheapKDF makes backups fast in tests; production keeps wallet.DefaultBackupKDF.
func cheapKDF(c *server.Config) {
	c.WalletControl.BackupKDF = wallet.KDFParams{MemoryKiB: 64, Passes: 1, Lanes: 1}
	c.EventHeartbeat = 50 * time.Millisecond
	c.CredentialWatch = -1 // the tests run the check themselves
}

// receiveLicence issues a DrivingLicence (with a status entry) to phone's holder and has the
// phone receive it; it returns the wallet's credential id and the issuer's credential.
func (f *fixture) receiveLicence(phone demo.Citizen) (string, issued) {
	f.t.Helper()
	is := f.issueWithStatus("DrivingLicence", phone.DID, licence)
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", phone.Token, map[string]any{"credential": is.Credential})
	if r.status != http.StatusCreated {
		f.t.Fatalf("receive: HTTP %d %s", r.status, r.body)
	}
	var held struct{ ID string }
	json.Unmarshal(r.body, &held)
	return held.ID, is
}

func TestBridgeHistory(t *testing.T) {
	f := newFixture(t, cheapKDF)
	alice, bob := f.newCitizen("alice"), f.newCitizen("bob")
	id, _ := f.receiveLicence(alice)
	for _, aud := range []string{"urn:counter:a", "urn:counter:b"} {
		if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+id+"/qr", alice.Token, map[string]any{"disclose": counterClaims, "audience": aud}); r.status != http.StatusOK {
			t.Fatalf("qr: HTTP %d %s", r.status, r.body)
		}
	}
	r := f.do(http.MethodGet, "/bridge/v1/history?limit=10", alice.Token, "", nil)
	var page wallet.HistoryPage
	if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
		t.Fatalf("history: HTTP %d %s", r.status, r.body)
	}
	if len(page.Presentations) != 2 || page.Presentations[0].Audience != "urn:counter:b" || page.Presentations[0].CredentialID != id ||
		strings.Join(page.Presentations[0].Claims, ",") != strings.Join(counterClaims, ",") {
		t.Fatalf("history = %s", r.body)
	}

	r = f.do(http.MethodGet, "/bridge/v1/history/export?format=csv", alice.Token, "", nil)
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if r.status != http.StatusOK || !strings.HasPrefix(r.ctype, "text/csv") || err != nil || len(rows) != 3 || rows[1][3] != "urn:counter:a" {
		t.Fatalf("csv export: HTTP %d %s %q", r.status, r.ctype, r.body)
	}
	r = f.do(http.MethodGet, "/bridge/v1/history/export", alice.Token, "", nil)
	var ex wallet.HistoryExport
	if r.status != http.StatusOK || json.Unmarshal(r.body, &ex) != nil || len(ex.Presentations) != 2 || ex.Citizen != alice.DID {
		t.Fatalf("json export: HTTP %d %s", r.status, r.body)
	}

	// Bob sees none of it.
	for _, path := range []string{"/bridge/v1/history", "/bridge/v1/history/export?format=json"} {
		r := f.do(http.MethodGet, path, bob.Token, "", nil)
		if r.status != http.StatusOK || strings.Contains(string(r.body), "urn:counter") {
			t.Errorf("bob %s: HTTP %d %s", path, r.status, r.body)
		}
	}
	bad := []struct{ path, want string }{
		{"/bridge/v1/history?limit=5000", "/problems/malformed-request"},
		{"/bridge/v1/history?before=-1", "/problems/malformed-request"},
		{"/bridge/v1/history/export?format=xml", "/problems/malformed-request"},
	}
	for _, b := range bad {
		if r := f.do(http.MethodGet, b.path, alice.Token, "", nil); r.status != http.StatusBadRequest || r.problemType() != b.want {
			t.Errorf("%s: HTTP %d %s", b.path, r.status, r.body)
		}
	}
}

// TestCitizenRoutesNeedTheDevice: every new route refuses a call without the device's proof,
// and a stolen token with a Bearer scheme.
func TestCitizenRoutesNeedTheDevice(t *testing.T) {
	f := newFixture(t, cheapKDF)
	alice := f.newCitizen("alice")
	routes := []struct{ method, path string }{
		{http.MethodGet, "/bridge/v1/history"},
		{http.MethodGet, "/bridge/v1/history/export"},
		{http.MethodPost, "/bridge/v1/backup"},
		{http.MethodPost, "/bridge/v1/restore"},
		{http.MethodGet, "/bridge/v1/events"},
	}
	// A proof sent twice is refused the second time.
	proof := f.proof(mustDeviceKey(t, alice), http.MethodGet, "/bridge/v1/history", alice.Token)
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		r := f.raw(http.MethodGet, "/bridge/v1/history", nil, "Authorization", "DPoP "+alice.Token, "DPoP", proof)
		if r.status != want || (i == 1 && r.problemType() != "/problems/dpop-proof-replayed") {
			t.Errorf("proof use %d: HTTP %d %s", i+1, r.status, r.body)
		}
	}
	for _, rt := range routes {
		for name, hdr := range map[string][]string{
			"no credentials": nil,
			"bearer token":   {"Authorization", "Bearer " + alice.Token},
			"token no proof": {"Authorization", "DPoP " + alice.Token},
		} {
			r := f.raw(rt.method, rt.path, []byte(`{"passphrase":"correct horse battery staple"}`), hdr...)
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s, %s: HTTP %d %s", rt.method, rt.path, name, r.status, r.body)
			}
		}
	}
}

func TestBridgeBackupRestore(t *testing.T) {
	f := newFixture(t, cheapKDF)
	alice, bob := f.newCitizen("alice"), f.newCitizen("bob")
	id, _ := f.receiveLicence(alice)
	f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+id+"/qr", alice.Token, map[string]any{"disclose": counterClaims})
	const pass = "correct horse battery staple"
	if r := f.doJSON(http.MethodPost, "/bridge/v1/backup", alice.Token, map[string]any{"passphrase": "short"}); r.status != 400 || r.problemType() != "/problems/weak-passphrase" {
		t.Fatalf("weak: HTTP %d %s", r.status, r.body)
	}
	r := f.doJSON(http.MethodPost, "/bridge/v1/backup", alice.Token, map[string]any{"passphrase": pass})
	if r.status != http.StatusOK || r.ctype != wallet.BackupMediaType {
		t.Fatalf("backup: HTTP %d %s %s", r.status, r.ctype, r.body)
	}
	file := string(r.body)

	// Alice's new phone: a new account (enrolled like any other), empty.
	newPhone := f.newCitizen("alice on her new phone")
	held := func(c demo.Citizen) int {
		r := f.do(http.MethodGet, "/bridge/v1/credentials", c.Token, "", nil)
		var out struct{ Credentials []wallet.Credential }
		json.Unmarshal(r.body, &out)
		return len(out.Credentials)
	}
	tampered := []byte(file)
	i := strings.LastIndexByte(strings.TrimSuffix(file, "\n"), '\n') + 40 // inside the ciphertext
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	failures := []struct {
		name        string
		phone       demo.Citizen
		body        map[string]any
		status      int
		problemType string
	}{
		{"wrong passphrase", newPhone, map[string]any{"backup": file, "passphrase": "incorrect horse battery"}, 422, "/problems/backup-passphrase-wrong"},
		{"tampered", newPhone, map[string]any{"backup": string(tampered), "passphrase": pass}, 422, "/problems/backup-tampered"},
		{"not a backup", newPhone, map[string]any{"backup": "hello", "passphrase": pass}, 400, "/problems/backup-malformed"},
		{"no passphrase", newPhone, map[string]any{"backup": file}, 400, "/problems/malformed-request"},
		{"into a wallet with credentials", alice, map[string]any{"backup": file, "passphrase": pass}, 409, "/problems/restore-conflict"},
		{"oversized", newPhone, map[string]any{"backup": strings.Repeat("A", 2<<20), "passphrase": pass}, 413, "/problems/too-large"},
		{"unknown member", newPhone, map[string]any{"backup": file, "passphrase": pass, "target": alice.ID}, 400, "/problems/malformed-request"},
	}
	for _, tt := range failures {
		before := held(tt.phone)
		r := f.doJSON(http.MethodPost, "/bridge/v1/restore", tt.phone.Token, tt.body)
		if r.status != tt.status || r.problemType() != tt.problemType {
			t.Errorf("%s: HTTP %d %s", tt.name, r.status, r.body)
		}
		if after := held(tt.phone); after != before {
			t.Errorf("%s: %d credentials, had %d", tt.name, after, before)
		}
	}

	r = f.doJSON(http.MethodPost, "/bridge/v1/restore", newPhone.Token, map[string]any{"backup": file, "passphrase": pass})
	var got wallet.RestoreResult
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Credentials != 1 || got.Presentations != 1 || got.HolderDID != alice.DID {
		t.Fatalf("restore: HTTP %d %s", r.status, r.body)
	}
	// The new phone now shows the licence at a counter, bound to the same holder key, and the
	// counter accepts it.
	r = f.do(http.MethodGet, "/bridge/v1/credentials", newPhone.Token, "", nil)
	var list struct{ Credentials []wallet.Credential }
	json.Unmarshal(r.body, &list)
	if len(list.Credentials) != 1 {
		t.Fatalf("after restore: %s", r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/credentials/"+list.Credentials[0].ID+"/qr?form=plain", newPhone.Token,
		map[string]any{"disclose": counterClaims, "audience": f.world.Counter.ID})
	var q struct{ QR string }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &q) != nil {
		t.Fatalf("qr after restore: HTTP %d %s", r.status, r.body)
	}
	if res := f.verify(q.QR, f.world.Counter.ID); !res.Valid {
		t.Fatalf("counter refuses the restored wallet's QR: %q", res.failed())
	}
	// Bob's backup holds none of Alice's wallet, and restoring it touches only the caller's.
	r = f.doJSON(http.MethodPost, "/bridge/v1/backup", bob.Token, map[string]any{"passphrase": pass})
	other := f.newCitizen("carol")
	r = f.doJSON(http.MethodPost, "/bridge/v1/restore", other.Token, map[string]any{"backup": string(r.body), "passphrase": pass})
	json.Unmarshal(r.body, &got)
	if r.status != http.StatusOK || got.Credentials != 0 || got.HolderDID != bob.DID {
		t.Errorf("bob's backup restored: HTTP %d %s", r.status, r.body)
	}
	if n := held(alice); n != 1 {
		t.Errorf("alice holds %d credentials after others restored", n)
	}
}

func mustDeviceKey(t *testing.T, c demo.Citizen) crypto.Signer {
	t.Helper()
	k, err := c.DeviceSigner()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// stream is an open event stream read line by line.
type stream struct {
	t     *testing.T
	resp  *http.Response
	lines chan string
}

func (f *fixture) openEvents(phone demo.Citizen, headers ...string) *stream {
	f.t.Helper()
	t := f.t.(*testing.T)
	req, err := http.NewRequest(http.MethodGet, f.url+"/bridge/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.Authorize(req, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // bounds the whole test
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: t, resp: resp, lines: make(chan string, 256)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// sse is one server-sent event.
type sse struct {
	id, event string
	data      map[string]any
}

// next returns the next event (skipping comments), failing after a bounded wait. With
// comment set, it returns the next comment line instead, as an event with that text.
func (s *stream) next(comment bool) sse {
	s.t.Helper()
	var ev sse
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatal("stream ended")
			}
			switch {
			case strings.HasPrefix(line, ":"):
				if comment {
					return sse{event: strings.TrimSpace(line[1:])}
				}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.data)
			case line == "" && ev.event != "":
				if !comment {
					return ev
				}
				ev = sse{}
			}
		case <-timeout:
			s.t.Fatal("no event in time")
		}
	}
}

// ended reports whether the stream ends (EOF) within a bounded wait.
func (s *stream) ended() bool {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.lines:
			if !ok {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

func TestBridgeEvents(t *testing.T) {
	f := newFixture(t, cheapKDF)
	ctx := context.Background()
	alice, bob := f.newCitizen("alice"), f.newCitizen("bob")
	_, is := f.receiveLicence(alice)
	lists := func() wallet.StatusLists {
		return verifier.NewStatusFetcher(verifier.StatusFetcherConfig{Now: f.clock.Now})
	}
	if _, err := f.srv.Wallet.CheckCredentials(ctx, lists()); err != nil {
		t.Fatal(err)
	}

	as := f.openEvents(alice, "Accept-Language", "en;q=0.3, zh-CN;q=0.9")
	bs := f.openEvents(bob)
	if hb := as.next(true); hb.event != "ezheng events for zh-CN" {
		t.Fatalf("first comment %q", hb.event)
	}
	if hb := as.next(true); hb.event != "heartbeat" {
		t.Fatalf("heartbeat: %q", hb.event)
	}

	// An offer, then the issuer revokes the licence and the background check notices.
	if _, err := f.srv.Wallet.NotifyOffer(ctx, wallet.Citizen{ID: alice.ID}, "openid-credential-offer://?credential_offer_uri=x", "Public Security Bureau"); err != nil {
		t.Fatal(err)
	}
	if r := f.setStatus(f.token("DrivingLicence"), is.ID, map[string]any{"action": "revoke", "reason": "privilegeWithdrawn"}); r.status != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}
	if rep, err := f.srv.Wallet.CheckCredentials(ctx, lists()); err != nil || rep.Changed != 1 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	offer := as.next(false)
	if offer.event != wallet.EventOffer || offer.data["title"] != "新的证照可领取" || offer.data["lang"] != "zh-CN" {
		t.Fatalf("offer event %+v", offer)
	}
	revoked := as.next(false)
	if revoked.event != wallet.EventStatus || revoked.data["title"] != "证照已被撤销" || revoked.data["body"] != "您的驾驶证已被签发机关撤销。" {
		t.Fatalf("status event %+v", revoked)
	}
	if d, _ := revoked.data["data"].(map[string]any); d["status"] != "revoked" || d["previous_status"] != "valid" {
		t.Fatalf("status data %+v", revoked.data)
	}

	// Bob's stream got none of it: his first event is his own.
	if _, err := f.srv.Wallet.NotifyRequest(ctx, wallet.Citizen{ID: bob.ID}, "openid4vp://?request_uri=y", "Example Bank", "KYC"); err != nil {
		t.Fatal(err)
	}
	if ev := bs.next(false); ev.event != wallet.EventRequest || ev.data["title"] != "Request to share" {
		t.Fatalf("bob's first event %+v", ev)
	}

	// Resuming after the offer replays the revocation from the log.
	resumed := f.openEvents(alice, "Last-Event-ID", offer.id)
	if ev := resumed.next(false); ev.id != revoked.id || ev.event != wallet.EventStatus || ev.data["title"] != "Credential revoked" {
		t.Fatalf("resumed: %+v", ev)
	}
	// A malformed Last-Event-ID is a problem, in the language asked for.
	r := f.do(http.MethodGet, "/bridge/v1/events", alice.Token, "", nil, "Last-Event-ID", "x", "Accept-Language", "zh-CN")
	var p struct{ Type, Title string }
	json.Unmarshal(r.body, &p)
	if r.status != http.StatusBadRequest || p.Type != "/problems/malformed-request" || p.Title != "请求格式错误" {
		t.Fatalf("bad Last-Event-ID: HTTP %d %s", r.status, r.body)
	}

	// Shutdown ends every stream cleanly.
	f.srv.Wallet.CloseEvents()
	for _, s := range []*stream{as, bs, resumed} {
		if ev := s.next(false); ev.event != "shutdown" {
			t.Fatalf("at shutdown: %+v", ev)
		}
		if !s.ended() {
			t.Fatal("stream still open after shutdown")
		}
	}
}

// TestBridgeProblemLanguage: problem titles on bridge routes follow Accept-Language, types
// and statuses do not; other routes stay in English.
func TestBridgeProblemLanguage(t *testing.T) {
	f := newFixture(t, cheapKDF)
	alice := f.newCitizen("alice")
	tests := []struct {
		name, method, path, token, lang string
		body                            any
		status                          int
		typ, title                      string
	}{
		{"default english", http.MethodGet, "/bridge/v1/credentials/nope/qr", "", "", nil, 405, "/problems/method-not-allowed", "Method not allowed"},
		{"chinese not found", http.MethodPost, "/bridge/v1/credentials/nope/qr", alice.Token, "zh-CN,zh;q=0.9,en;q=0.8", map[string]any{"disclose": []string{"x"}}, 404, "/problems/not-found", "未找到"},
		{"q-values prefer english", http.MethodPost, "/bridge/v1/credentials/nope/qr", alice.Token, "zh-CN;q=0.4,en;q=0.8", map[string]any{"disclose": []string{"x"}}, 404, "/problems/not-found", "Not found"},
		{"bridge rule in chinese", http.MethodPost, "/bridge/v1/backup", alice.Token, "zh", map[string]any{"passphrase": "short"}, 400, "/problems/weak-passphrase", "备份口令强度不足"},
		{"unauthorized in chinese", http.MethodGet, "/bridge/v1/history", "", "zh-CN", nil, 401, "/problems/dpop-required", "需要绑定设备的 DPoP 访问令牌和 DPoP 证明"},
		{"not a bridge route", http.MethodGet, "/problems/nope", "", "zh-CN", nil, 404, "/problems/not-found", "Not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			var hdr []string
			if tt.lang != "" {
				hdr = []string{"Accept-Language", tt.lang}
			}
			if tt.body != nil {
				r = f.doJSON(tt.method, tt.path, tt.token, tt.body, hdr...)
			} else {
				r = f.do(tt.method, tt.path, tt.token, "", nil, hdr...)
			}
			var p struct {
				Type, Title string
				Status      int
			}
			json.Unmarshal(r.body, &p)
			if r.status != tt.status || p.Status != tt.status || p.Type != tt.typ || p.Title != tt.title {
				t.Errorf("HTTP %d %s", r.status, r.body)
			}
		})
	}
}
