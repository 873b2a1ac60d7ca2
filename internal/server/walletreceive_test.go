package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/issuer/issuerhttp"
	"github.com/ezheng/ezheng/wallet"
)

// walletProblem is a problem answer with its detail.
type walletProblem struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// heldDetail is GET /bridge/v1/credentials/{id}.
type heldDetail struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Issuer string `json:"issuer"`
	Digest string `json:"digest"`
	Anchor *struct {
		State     string          `json:"state"`
		Attempts  int             `json:"attempts"`
		Log       string          `json:"log"`
		LeafIndex *uint64         `json:"leaf_index"`
		TreeSize  uint64          `json:"tree_size"`
		Reason    string          `json:"reason"`
		Receipt   json.RawMessage `json:"receipt"`
	} `json:"anchor"`
}

func (f *fixture) heldDetail(token, id string) heldDetail {
	f.t.Helper()
	r := f.do(http.MethodGet, "/bridge/v1/credentials/"+id, token, "", nil)
	if r.status != http.StatusOK {
		f.t.Fatalf("credential detail: HTTP %d %s", r.status, r.body)
	}
	var d heldDetail
	if err := json.Unmarshal(r.body, &d); err != nil || d.Anchor == nil {
		f.t.Fatalf("credential detail: %v %s", err, r.body)
	}
	return d
}

// issueWithID issues a credential of typ to holder and returns its issuer-side id and text.
func (f *fixture) issueWithID(typ, holder string, claims map[string]any) (id, credential string) {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", f.token(typ), map[string]any{"type": typ, "holder": holder, "claims": claims})
	if r.status != http.StatusCreated {
		f.t.Fatalf("issue %s: HTTP %d %s", typ, r.status, r.body)
	}
	var c struct{ ID, Credential string }
	json.Unmarshal(r.body, &c)
	return c.ID, c.Credential
}

// holderJWK returns the public JWK a did:jwk holder DID stands for.
func holderJWK(t testing.TB, holderDID string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(holderDID, "did:jwk:"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// foreignIssuer is an OpenID4VCI 1.0 credential issuer that is not ezheng: standard messages
// only (issuer and authorization server metadata, the pre-authorized code grant with a
// tx_code, a nonce endpoint, a credential endpoint taking openid4vci-proof+jwt), issuing an
// SD-JWT VC it builds by hand with go-jose, signed with a did:jwk key.
type foreignIssuer struct {
	t    testing.TB
	srv  *httptest.Server
	key  *ecdsa.PrivateKey
	did  string
	kid  string
	vct  string
	now  func() time.Time
	mu   sync.Mutex
	code string
	tx   string
	tok  string
	// nonces handed out and not used yet.
	nonces map[string]bool
	// validity of the credentials it issues.
	validity time.Duration
}

const foreignVCT = "urn:example:vct:LibraryCard"

func newForeignIssuer(t testing.TB, now func() time.Time) *foreignIssuer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, kid, err := did.NewJWK(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	fi := &foreignIssuer{t: t, key: key, did: d, kid: kid, vct: foreignVCT, now: now, code: "pre-" + randHex(), tx: "4711",
		tok: "at-" + randHex(), nonces: map[string]bool{}, validity: 365 * 24 * time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-credential-issuer", fi.metadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", fi.asMetadata)
	mux.HandleFunc("POST /token", fi.token)
	mux.HandleFunc("POST /nonce", fi.nonce)
	mux.HandleFunc("POST /credential", fi.credential)
	fi.srv = httptest.NewServer(mux)
	t.Cleanup(fi.srv.Close)
	return fi
}

// offer is the credential offer by value, as a deep link.
func (fi *foreignIssuer) offer() string {
	o, _ := json.Marshal(map[string]any{
		"credential_issuer":            fi.srv.URL,
		"credential_configuration_ids": []string{"LibraryCard"},
		"grants": map[string]any{"urn:ietf:params:oauth:grant-type:pre-authorized_code": map[string]any{
			"pre-authorized_code": fi.code, "tx_code": map[string]any{"length": 4, "input_mode": "numeric"}}},
	})
	return "openid-credential-offer://?credential_offer=" + url.QueryEscape(string(o))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (fi *foreignIssuer) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{
		"credential_issuer":   fi.srv.URL,
		"credential_endpoint": fi.srv.URL + "/credential",
		"nonce_endpoint":      fi.srv.URL + "/nonce",
		"credential_configurations_supported": map[string]any{"LibraryCard": map[string]any{
			"format": "dc+sd-jwt", "vct": fi.vct,
			"cryptographic_binding_methods_supported": []string{"jwk"},
			"credential_signing_alg_values_supported": []string{"ES256"},
			"proof_types_supported":                   map[string]any{"jwt": map[string]any{"proof_signing_alg_values_supported": []string{"ES256", "EdDSA"}}},
		}},
	})
}

func (fi *foreignIssuer) asMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{"issuer": fi.srv.URL, "token_endpoint": fi.srv.URL + "/token",
		"grant_types_supported": []string{"urn:ietf:params:oauth:grant-type:pre-authorized_code"}, "pre-authorized_grant_anonymous_access_supported": true})
}

func (fi *foreignIssuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:pre-authorized_code" {
		writeJSON(w, 400, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	if r.PostForm.Get("pre-authorized_code") != fi.code || r.PostForm.Get("tx_code") != fi.tx {
		writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": fi.tok, "token_type": "Bearer", "expires_in": 300})
}

func (fi *foreignIssuer) nonce(w http.ResponseWriter, _ *http.Request) {
	n := "n-" + randHex()
	fi.mu.Lock()
	fi.nonces[n] = true
	fi.mu.Unlock()
	writeJSON(w, 200, map[string]any{"c_nonce": n})
}

func (fi *foreignIssuer) credential(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+fi.tok {
		writeJSON(w, 401, map[string]any{"error": "invalid_token"})
		return
	}
	var req struct {
		ConfigID string `json:"credential_configuration_id"`
		Proofs   struct {
			JWT []string `json:"jwt"`
		} `json:"proofs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ConfigID != "LibraryCard" || len(req.Proofs.JWT) != 1 {
		writeJSON(w, 400, map[string]any{"error": "invalid_credential_request"})
		return
	}
	holder, err := fi.checkProof(req.Proofs.JWT[0])
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": "invalid_proof", "error_description": err.Error()})
		return
	}
	now := fi.now()
	cred := fi.issue(holder, now, now.Add(fi.validity), map[string]any{"holder_name": "Zhang San", "card_number": "L-0042"})
	writeJSON(w, 200, map[string]any{"credentials": []any{map[string]any{"credential": cred}}})
}

// checkProof verifies an openid4vci-proof+jwt (OpenID4VCI 1.0 Appendix F.1) and returns the
// holder's public JWK from its header.
func (fi *foreignIssuer) checkProof(proof string) (map[string]any, error) {
	jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		return nil, err
	}
	h := jws.Signatures[0].Protected
	if h.ExtraHeaders[jose.HeaderType] != "openid4vci-proof+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return nil, errTest("proof header")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return nil, err
	}
	var c struct {
		Aud   string `json:"aud"`
		Nonce string `json:"nonce"`
		IAT   int64  `json:"iat"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Aud != fi.srv.URL || c.IAT == 0 {
		return nil, errTest("proof claims")
	}
	fi.mu.Lock()
	ok := fi.nonces[c.Nonce]
	delete(fi.nonces, c.Nonce)
	fi.mu.Unlock()
	if !ok {
		return nil, errTest("proof nonce")
	}
	b, _ := h.JSONWebKey.MarshalJSON()
	var jwk map[string]any
	json.Unmarshal(b, &jwk)
	return jwk, nil
}

// issue builds an SD-JWT VC (RFC 9901, SD-JWT VC) by hand: every claim in disclosed as a
// salted disclosure, signed ES256 with the issuer's did:jwk key.
func (fi *foreignIssuer) issue(holder map[string]any, iat, exp time.Time, disclosed map[string]any) string {
	fi.t.Helper()
	names := make([]string, 0, len(disclosed))
	for n := range disclosed {
		names = append(names, n)
	}
	sort.Strings(names)
	var digests, encoded []string
	for _, n := range names {
		d, _ := json.Marshal([]any{randHex(), n, disclosed[n]})
		e := base64.RawURLEncoding.EncodeToString(d)
		sum := sha256.Sum256([]byte(e))
		digests = append(digests, base64.RawURLEncoding.EncodeToString(sum[:]))
		encoded = append(encoded, e)
	}
	payload, _ := json.Marshal(map[string]any{"iss": fi.did, "vct": fi.vct, "iat": iat.Unix(), "exp": exp.Unix(),
		"cnf": map[string]any{"jwk": holder}, "_sd": digests, "_sd_alg": "sha-256"})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: fi.key},
		(&jose.SignerOptions{}).WithType("dc+sd-jwt").WithHeader("kid", fi.kid))
	if err != nil {
		fi.t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		fi.t.Fatal(err)
	}
	compact, _ := jws.CompactSerialize()
	return compact + "~" + strings.Join(encoded, "~") + "~"
}

type errTest string

func (e errTest) Error() string { return string(e) }

// accredit has the root authority accredit issuerDID for vct on the ledger
// (POST /issuer/v1/accreditations: from a minute ago, for a year).
func (f *fixture) accredit(issuerDID, vct string) {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/issuer/v1/accreditations", f.world.RootAuthority.Token,
		map[string]any{"issuer": issuerDID, "types": []string{vct}, "valid_days": 365})
	if r.status != http.StatusNoContent {
		f.t.Fatalf("accredit %s: HTTP %d %s", issuerDID, r.status, r.body)
	}
}

// TestWalletChecksBeforeStoring: every credential the wallet receives is checked with the
// verifier's engine before it is kept; a refused one gets credential-not-trusted naming the
// failed check, and nothing is stored.
func TestWalletChecksBeforeStoring(t *testing.T) {
	f := newFixture(t)
	tok := f.world.Citizen.Token
	holder := holderJWK(t, f.world.Citizen.DID)
	now := f.clock.Now()

	_, good := f.issueWithID("DrivingLicence", f.world.Citizen.DID, licence)
	revokedID, revoked := f.issueWithID("DrivingLicence", f.world.Citizen.DID, licence)
	if r := f.doJSON(http.MethodPost, "/issuer/v1/credentials/"+revokedID+"/status", f.token("DrivingLicence"), map[string]any{"action": "revoke", "reason": "keyCompromise"}); r.status != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}
	// The issuer JWT's signature with one byte changed.
	jwt, rest, _ := strings.Cut(good, "~")
	sig := []byte(jwt[strings.LastIndex(jwt, ".")+1:])
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	tampered := jwt[:strings.LastIndex(jwt, ".")+1] + string(sig) + "~" + rest

	unaccredited := newForeignIssuer(t, f.clock.Now) // never accredited
	accredited := newForeignIssuer(t, f.clock.Now)
	accredited.vct = "urn:example:vct:Membership"
	f.accredit(accredited.did, accredited.vct)
	// Issued after the accreditation began (a minute ago), expired beyond the 30 s skew.
	expired := accredited.issue(holder, now.Add(-50*time.Second), now.Add(-40*time.Second), map[string]any{"holder_name": "Zhang San"})

	tests := []struct {
		name, credential string
		failed           []string // the checks the problem must name
	}{
		{"tampered issuer signature", tampered, []string{"signature"}},
		{"revoked", revoked, []string{"status"}},
		{"issuer not accredited", unaccredited.issue(holder, now, now.Add(time.Hour), map[string]any{"holder_name": "Zhang San"}), []string{"accreditation"}},
		{"expired", expired, []string{"validity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := f.counts()
			r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": tt.credential})
			var p walletProblem
			json.Unmarshal(r.body, &p)
			if r.status != http.StatusUnprocessableEntity || p.Type != "/problems/credential-not-trusted" {
				t.Fatalf("HTTP %d %s, want 422 credential-not-trusted", r.status, r.body)
			}
			for _, c := range tt.failed {
				if !strings.Contains(p.Detail, "failed checks: "+c) && !strings.Contains(p.Detail, "; "+c) {
					t.Errorf("detail %q does not name check %s", p.Detail, c)
				}
			}
			if _, after := f.counts(); after != before {
				t.Fatalf("a refused credential was stored (%d → %d)", before, after)
			}
		})
	}

	// The good one, and a valid one from an accredited foreign issuer, are kept.
	for _, cred := range []string{good, accredited.issue(holder, now, now.Add(time.Hour), map[string]any{"holder_name": "Zhang San"})} {
		if r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": cred}); r.status != http.StatusCreated {
			t.Fatalf("receive: HTTP %d %s", r.status, r.body)
		}
	}
}

// TestWalletFetchesAnchorReceipt: after storing a credential the wallet asks the issuer for
// its anchor receipt by digest (by the injected clock, with backoff), verifies it to the
// ledger's signed checkpoint and keeps it; the bridge shows the anchor state and receipt. A
// credential from an issuer that never anchors is given up on.
func TestWalletFetchesAnchorReceipt(t *testing.T) {
	// The anchoring batcher runs only when the test says so.
	f := newFixture(t, func(c *server.Config) { c.AnchorInterval = time.Hour })
	ctx := context.Background()
	tok := f.world.Citizen.Token
	_, issued := f.issueWithID("DrivingLicence", f.world.Citizen.DID, licence)
	r := f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": issued})
	if r.status != http.StatusCreated {
		t.Fatalf("receive: HTTP %d %s", r.status, r.body)
	}
	var held struct{ ID, Digest string }
	json.Unmarshal(r.body, &held)
	sum := sha256.Sum256(sdjwt.AnchoredForm(issued))
	if held.Digest != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest %s", held.Digest)
	}

	// Not anchored yet: the wallet asks and waits.
	if d := f.heldDetail(tok, held.ID); d.Anchor.State != "pending" {
		t.Fatalf("anchor state before any attempt = %+v", d.Anchor)
	}
	if _, err := f.srv.Wallet.FetchAnchorReceipts(ctx); err != nil {
		t.Fatal(err)
	}
	d := f.heldDetail(tok, held.ID)
	if d.Anchor.State != "pending" || d.Anchor.Attempts < 1 || d.Anchor.Receipt != nil {
		t.Fatalf("anchor before anchoring = %+v", d.Anchor)
	}
	if r := f.do(http.MethodGet, "/issuer/v1/receipts/"+held.Digest, "", "", nil); r.status != http.StatusNotFound || r.problemType() != "/problems/not-anchored" {
		t.Fatalf("receipt by digest before anchoring: HTTP %d %s", r.status, r.body)
	}

	// The issuer anchors; the wallet finds the receipt at its next attempt (after the backoff).
	if n, err := f.srv.Issuer.AnchorPending(ctx, 100); err != nil || n == 0 {
		t.Fatalf("anchor: %d, %v", n, err)
	}
	if _, err := f.srv.Wallet.FetchAnchorReceipts(ctx); err != nil {
		t.Fatal(err)
	}
	if d := f.heldDetail(tok, held.ID); d.Anchor.State != "pending" {
		t.Fatalf("asked again before the backoff: %+v", d.Anchor)
	}
	f.clock.Add(3 * time.Second)
	if _, err := f.srv.Wallet.FetchAnchorReceipts(ctx); err != nil {
		t.Fatal(err)
	}
	d = f.heldDetail(tok, held.ID)
	if d.Anchor.State != "anchored" || d.Anchor.LeafIndex == nil || d.Anchor.TreeSize == 0 || d.Anchor.Log != server.DefaultLedgerOrigin || d.Anchor.Receipt == nil {
		t.Fatalf("anchor after anchoring = %+v", d.Anchor)
	}
	// The list shows the same state (without the receipt, which only the detail carries).
	lr := f.do(http.MethodGet, "/bridge/v1/credentials", tok, "", nil)
	var listed struct {
		Credentials []struct {
			ID     string
			Anchor *struct {
				State   string          `json:"state"`
				Receipt json.RawMessage `json:"receipt"`
			} `json:"anchor"`
		}
	}
	if lr.status != http.StatusOK || json.Unmarshal(lr.body, &listed) != nil {
		t.Fatalf("list: HTTP %d %s", lr.status, lr.body)
	}
	for _, c := range listed.Credentials {
		if c.ID == held.ID && (c.Anchor == nil || c.Anchor.State != "anchored" || c.Anchor.Receipt != nil) {
			t.Fatalf("listed anchor of %s = %+v", c.ID, c.Anchor)
		}
	}
	// The receipt the wallet keeps verifies offline with only the ledger's key, and is the
	// one the issuer serves by digest.
	v, err := note.NewVerifier(f.srv.LedgerKey)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := merklelog.ParseReceipt(d.Anchor.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := merklelog.VerifyReceipt(rc, sdjwt.AnchoredForm(issued), note.VerifierList(v)); err != nil {
		t.Fatalf("kept receipt: %v", err)
	}
	byDigest := f.do(http.MethodGet, "/issuer/v1/receipts/"+held.Digest, "", "", nil)
	if byDigest.status != http.StatusOK {
		t.Fatalf("receipt by digest: HTTP %d %s", byDigest.status, byDigest.body)
	}
	rc2, err := merklelog.ParseReceipt(byDigest.body)
	if err != nil || !slices.Equal(rc2.Digest, rc.Digest) || rc2.LeafIndex != rc.LeafIndex {
		t.Fatalf("issuer's receipt differs: %v", err)
	}
	// The same over HTTP, for a wallet that runs apart from the issuer.
	rcl := issuerhttp.ReceiptClient{BaseURL: f.url, NotFound: wallet.ErrNotFound}
	if b, err := rcl.Receipt(ctx, sum[:]); err != nil || string(b) != string(byDigest.body) {
		t.Fatalf("ReceiptClient: %v", err)
	}
	if _, err := rcl.Receipt(ctx, make([]byte, 32)); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("ReceiptClient for an unknown digest: %v", err)
	}
	for path, want := range map[string]int{
		"/issuer/v1/receipts/" + strings.Repeat("0", 64):  http.StatusNotFound,
		"/issuer/v1/receipts/abc":                         http.StatusBadRequest,
		"/issuer/v1/receipts/" + strings.Repeat("zz", 32): http.StatusBadRequest,
	} {
		if r := f.do(http.MethodGet, path, "", "", nil); r.status != want {
			t.Errorf("GET %s: HTTP %d, want %d", path, r.status, want)
		}
	}
	// Another citizen cannot see it.
	if r := f.do(http.MethodGet, "/bridge/v1/credentials/"+held.ID, f.newCitizen("Li Si").Token, "", nil); r.status != http.StatusNotFound {
		t.Fatalf("another citizen's credential: HTTP %d", r.status)
	}

	// An accredited issuer that does not anchor on this ledger: after a week, given up.
	foreign := newForeignIssuer(t, f.clock.Now)
	f.accredit(foreign.did, foreign.vct)
	fc := foreign.issue(holderJWK(t, f.world.Citizen.DID), f.clock.Now(), f.clock.Now().Add(30*24*time.Hour), map[string]any{"holder_name": "Zhang San"})
	r = f.doJSON(http.MethodPost, "/bridge/v1/credentials", tok, map[string]any{"credential": fc})
	if r.status != http.StatusCreated {
		t.Fatalf("receive foreign: HTTP %d %s", r.status, r.body)
	}
	json.Unmarshal(r.body, &held)
	for range 3 {
		if _, err := f.srv.Wallet.FetchAnchorReceipts(ctx); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(time.Hour)
	}
	if d := f.heldDetail(tok, held.ID); d.Anchor.State != "pending" {
		t.Fatalf("foreign credential after 3 h: %+v", d.Anchor)
	}
	f.clock.Add(8 * 24 * time.Hour)
	if _, err := f.srv.Wallet.FetchAnchorReceipts(ctx); err != nil {
		t.Fatal(err)
	}
	if d := f.heldDetail(tok, held.ID); d.Anchor.State != "not_anchored" || d.Anchor.Reason == "" {
		t.Fatalf("foreign credential after 8 days: %+v", d.Anchor)
	}
}

// TestRedeemFromForeignIssuer: the wallet redeems an offer from an OpenID4VCI issuer that is
// not ezheng (standard messages only, a did:jwk issuer key). Not accredited on the ledger for
// its type, the credential is refused and nothing is stored; once the root authority has
// accredited the issuer's DID, the same flow stores it.
func TestRedeemFromForeignIssuer(t *testing.T) {
	f := newFixture(t)
	tok := f.world.Citizen.Token
	fi := newForeignIssuer(t, f.clock.Now)

	_, before := f.counts()
	r := f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": fi.offer()})
	if r.status != http.StatusBadRequest || r.problemType() != "/problems/tx-code-required" {
		t.Fatalf("without tx_code: HTTP %d %s", r.status, r.body)
	}
	r = f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": fi.offer(), "tx_code": fi.tx})
	var p walletProblem
	json.Unmarshal(r.body, &p)
	if r.status != http.StatusUnprocessableEntity || p.Type != "/problems/credential-not-trusted" || !strings.Contains(p.Detail, "accreditation") {
		t.Fatalf("unaccredited issuer: HTTP %d %s", r.status, r.body)
	}
	if _, after := f.counts(); after != before {
		t.Fatalf("a credential from an unaccredited issuer was stored (%d → %d)", before, after)
	}

	// Only the root authority accredits, and only DIDs it can name on the ledger.
	for _, tt := range []struct {
		token, issuer string
		status        int
		ptype         string
	}{
		{f.token("DrivingLicence"), fi.did, http.StatusForbidden, "/problems/forbidden"},
		{f.world.RootAuthority.Token, "did:example:123", http.StatusBadRequest, "/problems/malformed-request"},
		{f.world.RootAuthority.Token, "https://issuer.example", http.StatusBadRequest, "/problems/malformed-request"},
	} {
		r := f.doJSON(http.MethodPost, "/issuer/v1/accreditations", tt.token, map[string]any{"issuer": tt.issuer, "types": []string{fi.vct}})
		if r.status != tt.status || r.problemType() != tt.ptype {
			t.Errorf("accredit %s: HTTP %d %s, want %d %s", tt.issuer, r.status, r.body, tt.status, tt.ptype)
		}
	}
	f.accredit(fi.did, fi.vct)
	r = f.doJSON(http.MethodPost, "/bridge/v1/offers", tok, map[string]any{"offer_uri": fi.offer(), "tx_code": fi.tx})
	if r.status != http.StatusCreated {
		t.Fatalf("accredited issuer: HTTP %d %s", r.status, r.body)
	}
	var got struct {
		Credentials []struct {
			ID, Type, Issuer string
			Claims           []string
		}
	}
	json.Unmarshal(r.body, &got)
	if len(got.Credentials) != 1 || got.Credentials[0].Type != fi.vct || got.Credentials[0].Issuer != fi.did ||
		!slices.Equal(got.Credentials[0].Claims, []string{"card_number", "holder_name"}) {
		t.Fatalf("stored: %s", r.body)
	}
	if _, after := f.counts(); after != before+1 {
		t.Fatalf("held %d, want %d", after, before+1)
	}
	if d := f.heldDetail(tok, got.Credentials[0].ID); d.Issuer != fi.did || d.Anchor.State != "pending" {
		t.Fatalf("detail: %+v", d)
	}
	// The offline trust bundle is still made; it leaves the foreign issuer out (no DID
	// history on the ledger to carry).
	if r := f.do(http.MethodGet, "/verifier/v1/bundle", "", "", nil); r.status != http.StatusOK || strings.Contains(string(r.body), fi.did) {
		t.Fatalf("bundle after accrediting a foreign issuer: HTTP %d %.300s", r.status, r.body)
	}
}
