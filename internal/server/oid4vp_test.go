package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/oid4vp"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierhttp"
	"github.com/ezheng/ezheng/wallet"
)

// shareClaims are the two DrivingLicence claims the online service asks for.
var shareClaims = []string{"family_name", "licence_class"}

// vpCreate has the demo online service create an OpenID4VP request for shareClaims.
func (f *fixture) vpCreate() verifierhttp.VPCreated {
	f.t.Helper()
	return f.vpCreateAs(f.world.Service.Token)
}

// vpCreateAs has the online service with API token tok create an OpenID4VP request for
// shareClaims.
func (f *fixture) vpCreateAs(tok string) verifierhttp.VPCreated {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/verifier/v1/oid4vp/requests", tok, map[string]any{
		"type": "DrivingLicence", "claims": shareClaims, "purpose": "Check that you may drive the car you hire",
	})
	if r.status != http.StatusCreated {
		f.t.Fatalf("create request: HTTP %d %s", r.status, r.body)
	}
	var c verifierhttp.VPCreated
	if err := json.Unmarshal(r.body, &c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) vpSession(id string) verifier.VPSession {
	f.t.Helper()
	r := f.do(http.MethodGet, "/verifier/v1/oid4vp/sessions/"+id, f.world.Service.Token, "", nil)
	if r.status != http.StatusOK {
		f.t.Fatalf("session: HTTP %d %s", r.status, r.body)
	}
	var s verifier.VPSession
	if err := json.Unmarshal(r.body, &s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

// fetchRequest fetches a session's request object as a wallet would and returns it with
// its (unverified) payload.
func (f *fixture) fetchRequest(c verifierhttp.VPCreated) (string, oid4vp.AuthorizationRequest) {
	f.t.Helper()
	resp, err := http.Get(c.RequestURI)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != oid4vp.ContentTypeRequestObject {
		f.t.Fatalf("request object: HTTP %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
	jwt := b.String()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		f.t.Fatal(err)
	}
	var ar oid4vp.AuthorizationRequest
	if err := json.Unmarshal(payload, &ar); err != nil {
		f.t.Fatal(err)
	}
	return jwt, ar
}

// postResponse posts a direct_post form to the verifier.
func (f *fixture) postResponse(form url.Values) response {
	f.t.Helper()
	return f.do(http.MethodPost, verifier.ResponsePath, "", "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// citizenLicence issues a DrivingLicence to the demo citizen and stores it in the wallet.
func (f *fixture) citizenLicence() {
	f.t.Helper()
	cred := f.issue("DrivingLicence", f.world.Citizen.DID, licence)
	if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", f.world.Citizen.Token, map[string]any{"credential": cred}); r.status != http.StatusCreated {
		f.t.Fatalf("receive: HTTP %d %s", r.status, r.body)
	}
}

func TestOpenID4VPShareTwoClaims(t *testing.T) {
	f := newFixture(t)
	f.citizenLicence()
	tok := f.world.Citizen.Token

	created := f.vpCreate()
	if !strings.HasPrefix(created.URI, "openid4vp://?client_id=decentralized_identifier%3Adid%3Ajwk%3A") || created.PNG == "" {
		t.Fatalf("link %q, png %d bytes", created.URI, len(created.PNG))
	}
	if s := f.vpSession(created.ID); s.Status != verifier.VPCreated || s.Result != nil {
		t.Fatalf("new session: %+v", s)
	}

	// The citizen's app scans the QR: the wallet fetches and verifies the request.
	r := f.doJSON(http.MethodPost, "/bridge/v1/share-requests", tok, map[string]any{"uri": created.URI})
	if r.status != http.StatusOK {
		t.Fatalf("open: HTTP %d %s", r.status, r.body)
	}
	var view wallet.ShareRequest
	if err := json.Unmarshal(r.body, &view); err != nil {
		t.Fatal(err)
	}
	if view.Verifier.DID != f.srv.OpenID4VP.DID() || view.Verifier.ClientID != f.srv.OpenID4VP.ClientID() ||
		view.Verifier.Name != demo.ServiceName || view.Purpose == "" || !view.Satisfiable {
		t.Fatalf("consent view: %+v", view)
	}
	if len(view.Credentials) != 1 || len(view.Credentials[0].Options) != 1 ||
		!slices.Equal(view.Credentials[0].Options[0].Disclose, shareClaims) {
		t.Fatalf("consent view credentials: %+v", view.Credentials)
	}
	if s := f.vpSession(created.ID); s.Status != verifier.VPFetched {
		t.Fatalf("after fetch: %s", s.Status)
	}

	// The citizen consents.
	r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent", tok, map[string]any{"request": view.Request})
	if r.status != http.StatusOK {
		t.Fatalf("consent: HTTP %d %s", r.status, r.body)
	}
	var shared wallet.ShareResult
	json.Unmarshal(r.body, &shared)
	if len(shared.Shared) != 1 || !slices.Equal(shared.Shared[0].Disclosed, shareClaims) {
		t.Fatalf("shared: %+v", shared)
	}

	// The service polls: verified, with exactly the two claims of the licence.
	s := f.vpSession(created.ID)
	if s.Status != verifier.VPVerified || s.Result == nil || !s.Result.Valid || len(s.Result.Credentials) != 1 {
		t.Fatalf("session: %+v %+v", s, s.Result)
	}
	claims := s.Result.Credentials[0].Result.Claims
	for k, v := range licence {
		_, got := claims[k]
		if want := slices.Contains(shareClaims, k); got != want {
			t.Errorf("claim %s shown=%v, want %v", k, got, want)
		} else if want && claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}

	// Subscribers see the final state at once.
	req, _ := http.NewRequest(http.MethodGet, f.url+"/verifier/v1/oid4vp/sessions/"+created.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+f.world.Service.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || lines[0] != "event: session" || !strings.Contains(lines[1], `"status":"verified"`) {
		t.Fatalf("events: %q", lines)
	}

	// The request object was for one wallet only; the session takes one answer only.
	if r := f.do(http.MethodGet, strings.TrimPrefix(created.RequestURI, f.url), "", "", nil); r.status != http.StatusGone || !strings.HasSuffix(r.problemType(), "/request-object-used") {
		t.Fatalf("second fetch: %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent", tok, map[string]any{"request": view.Request})
	if r.status != http.StatusBadGateway || !strings.HasSuffix(r.problemType(), "/share-refused") {
		t.Fatalf("second consent: HTTP %d %s", r.status, r.body)
	}
	if s := f.vpSession(created.ID); s.Status != verifier.VPVerified {
		t.Fatalf("after second answer: %s", s.Status)
	}
}

func TestOpenID4VPWalletRefusesTamperedRequest(t *testing.T) {
	f := newFixture(t)
	f.citizenLicence()
	tok := f.world.Citizen.Token
	created := f.vpCreate()
	jwt, _ := f.fetchRequest(created)
	parts := strings.Split(jwt, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	evil := strings.Replace(string(payload), verifier.ResponsePath, "/collect", 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(evil)) + "." + parts[2]

	// A man in the middle serves the altered request object on 127.0.0.1.
	var collected bool
	mitm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			collected = true
		}
		w.Header().Set("Content-Type", oid4vp.ContentTypeRequestObject)
		w.Write([]byte(tampered))
	}))
	defer mitm.Close()
	// And another verifier's identity claims the genuine request object.
	other := "decentralized_identifier:did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6IjExcVlBWUt4Q3JmVlNfN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm8ifQ"
	genuine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", oid4vp.ContentTypeRequestObject)
		w.Write([]byte(jwt))
	}))
	defer genuine.Close()

	for _, tc := range []struct{ name, link string }{
		{"tampered payload", "openid4vp://?client_id=" + url.QueryEscape(f.srv.OpenID4VP.ClientID()) + "&request_uri=" + url.QueryEscape(mitm.URL+"/r")},
		{"other client_id", "openid4vp://?client_id=" + url.QueryEscape(other) + "&request_uri=" + url.QueryEscape(genuine.URL+"/r")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.doJSON(http.MethodPost, "/bridge/v1/share-requests", tok, map[string]any{"uri": tc.link})
			if r.status != http.StatusUnprocessableEntity || !strings.HasSuffix(r.problemType(), "/verifier-not-authentic") {
				t.Fatalf("HTTP %d %s", r.status, r.body)
			}
			// Nor does consent with the tampered object send anything.
			r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent", tok, map[string]any{"request": tampered})
			if r.status != http.StatusUnprocessableEntity || !strings.HasSuffix(r.problemType(), "/verifier-not-authentic") {
				t.Fatalf("consent: HTTP %d %s", r.status, r.body)
			}
		})
	}
	if collected {
		t.Fatal("the wallet posted to the tampered response_uri")
	}
	if s := f.vpSession(created.ID); s.Status != verifier.VPFetched {
		t.Fatalf("session %s", s.Status)
	}
}

// holderPresentation issues a licence to the test's holder key and presents shareClaims for
// aud and nonce.
func (f *fixture) holderPresentation(issued, aud, nonce string) string {
	f.t.Helper()
	p, err := sdjwt.Present(issued, shareClaims, mustSigner(f.t, f.holder.Signer(), "kb+jwt", ""), aud, nonce, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func vpForm(id, presentation, state string) url.Values {
	tok, _ := json.Marshal(map[string][]string{id: {presentation}})
	return url.Values{"vp_token": {string(tok)}, "state": {state}}
}

func TestOpenID4VPVerifierRefuses(t *testing.T) {
	f := newFixture(t)
	issued := f.issue("DrivingLicence", f.holderDID, licence)
	clientID := f.srv.OpenID4VP.ClientID()

	t.Run("wrong nonce, wrong aud, replay", func(t *testing.T) {
		cases := []struct {
			name       string
			aud, nonce func(ar oid4vp.AuthorizationRequest) string
		}{
			{"wrong nonce", func(oid4vp.AuthorizationRequest) string { return clientID }, func(oid4vp.AuthorizationRequest) string { return "not-the-nonce" }},
			{"wrong aud", func(oid4vp.AuthorizationRequest) string { return "decentralized_identifier:did:web:other.example" }, func(ar oid4vp.AuthorizationRequest) string { return ar.Nonce }},
			{"client_id without prefix", func(oid4vp.AuthorizationRequest) string { return f.srv.OpenID4VP.DID() }, func(ar oid4vp.AuthorizationRequest) string { return ar.Nonce }},
		}
		for _, tc := range cases {
			c := f.vpCreate()
			_, ar := f.fetchRequest(c)
			p := f.holderPresentation(issued, tc.aud(ar), tc.nonce(ar))
			if r := f.postResponse(vpForm("credential", p, ar.State)); r.status != http.StatusOK {
				t.Fatalf("%s: HTTP %d %s", tc.name, r.status, r.body)
			}
			s := f.vpSession(c.ID)
			if s.Status != verifier.VPRejected || s.Result.Valid || len(s.Result.Credentials) != 1 ||
				!slices.Contains(s.Result.Credentials[0].Result.Failed(), verifier.CheckHolderBinding) {
				t.Fatalf("%s: %+v %+v", tc.name, s, s.Result)
			}
		}

		// A genuine answer to session A verifies; replayed to session B it fails.
		a, b := f.vpCreate(), f.vpCreate()
		_, arA := f.fetchRequest(a)
		_, arB := f.fetchRequest(b)
		p := f.holderPresentation(issued, arA.ClientID, arA.Nonce)
		if r := f.postResponse(vpForm("credential", p, arA.State)); r.status != http.StatusOK {
			t.Fatalf("A: HTTP %d %s", r.status, r.body)
		}
		if s := f.vpSession(a.ID); s.Status != verifier.VPVerified {
			t.Fatalf("A: %+v %+v", s, s.Result)
		}
		if r := f.postResponse(vpForm("credential", p, arB.State)); r.status != http.StatusOK {
			t.Fatalf("B: HTTP %d %s", r.status, r.body)
		}
		s := f.vpSession(b.ID)
		if s.Status != verifier.VPRejected || !slices.Contains(s.Result.Credentials[0].Result.Failed(), verifier.CheckHolderBinding) {
			t.Fatalf("replay to B: %+v %+v", s, s.Result)
		}
		// And A takes no second answer.
		if r := f.postResponse(vpForm("credential", p, arA.State)); r.status != http.StatusConflict || !strings.HasSuffix(r.problemType(), "/session-answered") {
			t.Fatalf("second answer to A: HTTP %d %s", r.status, r.body)
		}
	})

	t.Run("not what was asked", func(t *testing.T) {
		c := f.vpCreate()
		_, ar := f.fetchRequest(c)
		p, err := sdjwt.Present(issued, []string{"family_name"}, mustSigner(t, f.holder.Signer(), "kb+jwt", ""), ar.ClientID, ar.Nonce, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.postResponse(vpForm("credential", p, ar.State))
		if s := f.vpSession(c.ID); s.Status != verifier.VPRejected || !strings.Contains(s.Result.Reason, "not satisfied") {
			t.Fatalf("%+v %+v", s, s.Result)
		}
	})

	t.Run("bad input stores nothing", func(t *testing.T) {
		c := f.vpCreate()
		_, ar := f.fetchRequest(c)
		good := vpForm("credential", f.holderPresentation(issued, ar.ClientID, ar.Nonce), ar.State)
		huge := vpForm("credential", strings.Repeat("a", oid4vp.MaxVPTokenSize), ar.State)
		cases := []struct {
			name   string
			ctype  string
			body   string
			status int
			typ    string
		}{
			{"vp_token not JSON", "application/x-www-form-urlencoded", url.Values{"vp_token": {"eyJ"}, "state": {ar.State}}.Encode(), 400, "/malformed-request"},
			{"vp_token string values", "application/x-www-form-urlencoded", url.Values{"vp_token": {`{"credential":"x"}`}, "state": {ar.State}}.Encode(), 400, "/malformed-request"},
			{"no state", "application/x-www-form-urlencoded", url.Values{"vp_token": good["vp_token"]}.Encode(), 400, "/malformed-request"},
			{"repeated state", "application/x-www-form-urlencoded", good.Encode() + "&state=x", 400, "/malformed-request"},
			{"unknown state", "application/x-www-form-urlencoded", vpForm("credential", "x~", "unknown").Encode(), 404, "/not-found"},
			{"oversized vp_token", "application/x-www-form-urlencoded", huge.Encode(), 413, "/too-large"},
			{"JSON body", "application/json", `{"vp_token":{}}`, 415, "/unsupported-media-type"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := f.do(http.MethodPost, verifier.ResponsePath, "", tc.ctype, []byte(tc.body))
				if r.status != tc.status || !strings.HasSuffix(r.problemType(), tc.typ) || !strings.HasPrefix(r.ctype, "application/problem+json") {
					t.Fatalf("HTTP %d %s %s", r.status, r.ctype, r.body)
				}
				if s := f.vpSession(c.ID); s.Status != verifier.VPFetched || s.Result != nil {
					t.Fatalf("stored: %+v", s)
				}
			})
		}
		// The session still takes the genuine answer.
		if r := f.postResponse(good); r.status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.status, r.body)
		}
		if s := f.vpSession(c.ID); s.Status != verifier.VPVerified {
			t.Fatalf("%+v %+v", s, s.Result)
		}
	})

	t.Run("unknown session and request", func(t *testing.T) {
		for _, p := range []string{"/verifier/v1/oid4vp/sessions/vps_unknown", "/verifier/v1/oid4vp/sessions/vps_unknown/events", verifier.RequestPath + "unknown"} {
			if r := f.do(http.MethodGet, p, f.world.Service.Token, "", nil); r.status != http.StatusNotFound || !strings.HasSuffix(r.problemType(), "/not-found") {
				t.Fatalf("%s: HTTP %d %s", p, r.status, r.body)
			}
		}
	})

	t.Run("request by DCQL, as PNG", func(t *testing.T) {
		q := `{"credentials":[{"id":"dl","format":"dc+sd-jwt","meta":{"vct_values":["urn:ezheng:vct:DrivingLicence"]},"claims":[{"id":"n","path":["family_name"]},{"id":"c","path":["licence_class"]}],"claim_sets":[["n","c"],["n"]]}]}`
		r := f.do(http.MethodPost, "/verifier/v1/oid4vp/requests", f.world.Service.Token, "application/json", []byte(`{"dcql_query":`+q+`}`), "Accept", "image/png")
		if r.status != http.StatusCreated || r.ctype != "image/png" || !bytes.HasPrefix(r.body, []byte("\x89PNG")) {
			t.Fatalf("HTTP %d %s", r.status, r.ctype)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, body := range []map[string]any{
			{},
			{"type": "DrivingLicence", "claims": []string{"a"}, "dcql_query": map[string]any{"credentials": []any{}}},
			{"dcql_query": map[string]any{"credentials": []any{map[string]any{"id": "x", "format": "dc+sd-jwt", "meta": map[string]any{}}}}},
			{"type": "DrivingLicence", "policy": "no-such-policy"},
			// The name the citizen sees is the service's registered one, never the request's.
			{"type": "DrivingLicence", "claims": []string{"family_name"}, "client_name": "Your Bank"},
		} {
			r := f.doJSON(http.MethodPost, "/verifier/v1/oid4vp/requests", f.world.Service.Token, body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%v: HTTP %d %s", body, r.status, r.body)
			}
		}
	})
}

func TestOpenID4VPDeclineHistoryAndExpiry(t *testing.T) {
	f := newFixture(t)
	f.citizenLicence()
	tok := f.world.Citizen.Token
	ctx := t.Context()
	cit := wallet.Citizen{ID: f.world.Citizen.ID}

	c := f.vpCreate()
	r := f.doJSON(http.MethodPost, "/bridge/v1/share-requests", tok, map[string]any{"uri": c.URI})
	var view wallet.ShareRequest
	json.Unmarshal(r.body, &view)
	if r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/decline", tok, map[string]any{"request": view.Request}); r.status != http.StatusNoContent {
		t.Fatalf("decline: HTTP %d %s", r.status, r.body)
	}
	if s := f.vpSession(c.ID); s.Status != verifier.VPDeclined || s.Result == nil || s.Result.Reason != oid4vp.ErrorAccessDenied {
		t.Fatalf("declined session: %+v %+v", s, s.Result)
	}

	// A shared one is in the history with exactly the disclosed claims.
	c2 := f.vpCreate()
	r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests", tok, map[string]any{"uri": c2.URI})
	json.Unmarshal(r.body, &view)
	if r = f.doJSON(http.MethodPost, "/bridge/v1/share-requests/consent", tok, map[string]any{"request": view.Request}); r.status != http.StatusOK {
		t.Fatalf("consent: HTTP %d %s", r.status, r.body)
	}
	page, err := f.srv.Wallet.History(ctx, cit, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, p := range page.Presentations {
		if p.Channel != wallet.ChannelOpenID4VP || p.Audience != f.srv.OpenID4VP.ClientID() || p.Verifier != demo.ServiceName {
			t.Fatalf("record %+v", p)
		}
		results = append(results, p.Result)
		if p.Result == wallet.ResultPresented && !slices.Equal(p.Claims, shareClaims) {
			t.Fatalf("record claims %v", p.Claims)
		}
	}
	if !slices.Equal(results, []string{wallet.ResultPresented, wallet.ResultDeclined}) {
		t.Fatalf("history results %v", results)
	}

	// Requests expire: unfetched, then fetched but unanswered.
	unfetched, fetched := f.vpCreate(), f.vpCreate()
	_, ar := f.fetchRequest(fetched)
	f.clock.Add(6 * time.Minute)
	if r := f.do(http.MethodGet, strings.TrimPrefix(unfetched.RequestURI, f.url), "", "", nil); r.status != http.StatusGone || !strings.HasSuffix(r.problemType(), "/session-expired") {
		t.Fatalf("expired fetch: HTTP %d %s", r.status, r.body)
	}
	if r := f.postResponse(vpForm("credential", "x~", ar.State)); r.status != http.StatusGone || !strings.HasSuffix(r.problemType(), "/session-expired") {
		t.Fatalf("expired response: HTTP %d %s", r.status, r.body)
	}
	for _, id := range []string{unfetched.ID, fetched.ID} {
		if s := f.vpSession(id); s.Status != verifier.VPExpired || s.Result != nil {
			t.Fatalf("expired session: %+v", s)
		}
	}
}
