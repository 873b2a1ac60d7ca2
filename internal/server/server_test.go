package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/server"
)

// clock is an injected clock the tests move by hand.
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

// fixture is a real server (SQLite in a temp dir, HTTP on 127.0.0.1) with the demo world and
// a holder key the test controls, so it can build presentations of its own.
type fixture struct {
	t         testing.TB
	srv       *server.Server
	url       string
	world     *demo.World
	clock     *clock
	holder    *keys.Key
	holderDID string
	// citizens are the citizens the test made with newCitizen, by token: f.do signs their
	// bridge calls (and the demo citizen's) with DPoP proofs.
	citizens map[string]demo.Citizen
	cfg      server.Config
}

func newFixture(t testing.TB, mod ...func(*server.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	// Listen first: the server's public URL (credential issuer id, status list URLs) is the
	// test server's address.
	hs := httptest.NewUnstartedServer(nil)
	cfg := server.Config{DataDir: t.TempDir(), MasterKey: bytes.Repeat([]byte{9}, 32), Now: clk.Now, PublicURL: "http://" + hs.Listener.Addr().String()}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs.Config.Handler = srv.Echo
	hs.Start()
	t.Cleanup(hs.Close)
	w, _, err := demo.Seed(ctx, demo.Services{Issuer: srv.Issuer, Wallet: srv.Wallet, Verifier: srv.Verifier, OpenID4VP: srv.OpenID4VP, LedgerKey: srv.LedgerKey}, t.TempDir(), hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	holder, _ := keys.Generate(keys.ES256, nil)
	holderDID, _, _ := did.NewJWK(holder.Public())
	return &fixture{t: t, srv: srv, url: hs.URL, world: w, clock: clk, holder: holder, holderDID: holderDID, citizens: map[string]demo.Citizen{}, cfg: cfg}
}

func (f *fixture) token(typ string) string {
	a, ok := f.world.Agency(typ)
	if !ok {
		f.t.Fatalf("no agency for %s", typ)
	}
	return a.Token
}

// response is a decoded HTTP answer.
type response struct {
	status int
	ctype  string
	body   []byte
}

func (r response) problemType() string {
	var p struct {
		Type string `json:"type"`
	}
	json.Unmarshal(r.body, &p)
	return p.Type
}

func (f *fixture) do(method, path, token, ctype string, body []byte, headers ...string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cit, ok := f.bridgeCitizen(token); ok && strings.HasPrefix(path, "/bridge/") {
		// The citizen's phone: DPoP-bound token plus a fresh proof of the device key.
		if err := cit.Authorize(req, f.clock.Now()); err != nil {
			f.t.Fatal(err)
		}
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
}

func (f *fixture) doJSON(method, path, token string, body any, headers ...string) response {
	b, err := json.Marshal(body)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.do(method, path, token, "application/json", b, headers...)
}

// issue has the agency for typ issue a credential to holder and returns the SD-JWT VC.
func (f *fixture) issue(typ, holder string, claims map[string]any) string {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", f.token(typ), map[string]any{"type": typ, "holder": holder, "claims": claims})
	if r.status != http.StatusCreated {
		f.t.Fatalf("issue %s: HTTP %d %s", typ, r.status, r.body)
	}
	var c struct {
		Credential string `json:"credential"`
	}
	json.Unmarshal(r.body, &c)
	return c.Credential
}

// present makes a presentation of issued with the test's holder key (or signer when given).
func (f *fixture) present(issued string, keep []string, signer jose.Signer, aud string) string {
	f.t.Helper()
	if signer == nil {
		signer = mustSigner(f.t, f.holder.Signer(), "kb+jwt", "")
	}
	p, err := sdjwt.Present(issued, keep, signer, aud, "n-"+randHex(), f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

type result struct {
	Valid  bool `json:"valid"`
	Checks []struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Skipped bool   `json:"skipped"`
		Reason  string `json:"reason"`
	} `json:"checks"`
	Claims map[string]any `json:"claims"`
}

func (r result) failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			out = append(out, c.Name+": "+c.Reason)
		}
	}
	return out
}

func (f *fixture) verify(text, counter string) result {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/verifier/v1/verify", "", map[string]any{"qr": text, "counter": counter})
	if r.status != http.StatusOK {
		f.t.Fatalf("verify: HTTP %d %s", r.status, r.body)
	}
	var res result
	if err := json.Unmarshal(r.body, &res); err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) counts() (issued, held int) {
	f.t.Helper()
	issued, held, err := f.srv.Counts(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return issued, held
}

func mustSigner(t testing.TB, k crypto.Signer, typ, kid string) jose.Signer {
	t.Helper()
	s, err := sdjwt.NewSigner(k, typ, kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var licence = demo.DrivingLicenceClaims

var counterClaims = []string{"family_name", "given_name", "licence_class"}

// blankPNG is a valid image with no QR code in it.
func blankPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 64)))
	return b.Bytes()
}

// rogueIssuer signs an SD-JWT VC for holder with a did:key nobody accredited.
func rogueIssuer(t testing.TB, holder *keys.Key, override ...map[string]any) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	d, kid, _ := did.NewKey(priv.Public())
	signer, err := sdjwt.NewSigner(priv, "dc+sd-jwt", kid)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	claims := map[string]any{"iss": d, "vct": "urn:ezheng:vct:DrivingLicence", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"cnf": map[string]any{"jwk": holder.PublicJWK()}}
	for k, v := range licence {
		claims[k] = v
	}
	for _, o := range override {
		for k, v := range o {
			claims[k] = v
		}
	}
	raw, err := sdjwt.Issue(signer, claims, []string{"family_name", "given_name", "licence_class"}, 0, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func sameThumb(a, b interface {
	Thumbprint(crypto.Hash) ([]byte, error)
}) bool {
	ta, err1 := a.Thumbprint(crypto.SHA256)
	tb, err2 := b.Thumbprint(crypto.SHA256)
	return err1 == nil && err2 == nil && string(ta) == string(tb)
}
