package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/verifierstore"
)

// issued is a credential as the issuer answered, with its status entry.
type issued struct {
	ID, Credential string
	URI            string
	Idx            int
}

func (f *fixture) issueWithStatus(typ, holder string, claims map[string]any) issued {
	f.t.Helper()
	r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", f.token(typ), map[string]any{"type": typ, "holder": holder, "claims": claims})
	if r.status != http.StatusCreated {
		f.t.Fatalf("issue %s: HTTP %d %s", typ, r.status, r.body)
	}
	var c issued
	json.Unmarshal(r.body, &c)
	sd, err := sdjwt.Parse(c.Credential)
	if err != nil {
		f.t.Fatal(err)
	}
	if c.URI, c.Idx, err = statuslist.ParseStatusClaim(sd.Payload["status"]); err != nil {
		f.t.Fatalf("status claim: %v", err)
	}
	return c
}

func (f *fixture) setStatus(token, id string, body any) response {
	f.t.Helper()
	return f.doJSON(http.MethodPost, "/issuer/v1/credentials/"+id+"/status", token, body)
}

// statusCheck returns the status check of a verification result.
func statusCheck(t *testing.T, res result) (ok bool, reason string) {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == "status" {
			return c.OK, c.Reason
		}
	}
	t.Fatalf("no status check in %+v", res.Checks)
	return false, ""
}

// getList fetches a status list through the public endpoint.
func (f *fixture) getList(uri string, headers ...string) (response, http.Header) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, uri, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b.Bytes()}, resp.Header
}

// anchored checks that the ledger's newest digest for uri is the digest of the list served
// now, and returns its seq.
func (f *fixture) anchored(t *testing.T, uri string) uint64 {
	t.Helper()
	r, _ := f.getList(uri)
	if r.status != http.StatusOK {
		t.Fatalf("GET list: HTTP %d %s", r.status, r.body)
	}
	rec, err := f.srv.Ledger.StatusList(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Digest, statuslist.Digest(r.body)) {
		t.Fatalf("ledger digest of %s is not the digest of the served list", uri)
	}
	return rec.Seq
}

// TestStatusLifecycle: suspend, reinstate and revoke a credential; the same presentation
// follows, each change is anchored with an increasing seq.
func TestStatusLifecycle(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	if !strings.HasPrefix(c.URI, f.url+"/issuer/v1/status/") || c.Idx < 0 || c.Idx >= issuer.StatusListSize {
		t.Fatalf("status claim %s #%d", c.URI, c.Idx)
	}
	qr := f.present(c.Credential, counterClaims, nil, f.world.Counter.ID)
	verify := func() result { return f.verify(qr, f.world.Counter.ID) }

	if res := verify(); !res.Valid {
		t.Fatalf("fresh credential: failed %q", res.failed())
	}
	seq := f.anchored(t, c.URI)

	steps := []struct {
		action, reason, want string // want: status after the change
		valid                bool
		checkReason          string
	}{
		{"suspend", "certificateHold", "suspended", false, "suspended"},
		{"reinstate", "removeFromCRL", "valid", true, ""},
		{"suspend", "", "suspended", false, "suspended"},
		{"revoke", "privilegeWithdrawn", "revoked", false, "revoked ("},
	}
	for _, st := range steps {
		r := f.setStatus(dl, c.ID, map[string]any{"action": st.action, "reason": st.reason, "note": "ticket 4711"})
		if r.status != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", st.action, r.status, r.body)
		}
		var got issuer.StatusResult
		json.Unmarshal(r.body, &got)
		if got.Status != st.want || got.List != c.URI || got.Index != c.Idx || !got.ChangedAt.Equal(f.clock.Now().Truncate(time.Second)) {
			t.Fatalf("%s: answer %s", st.action, r.body)
		}
		res := verify()
		ok, reason := statusCheck(t, res)
		if res.Valid != st.valid || ok != st.valid || !strings.Contains(reason, st.checkReason) {
			t.Fatalf("after %s: valid %v, status check %v %q; failed %q", st.action, res.Valid, ok, reason, res.failed())
		}
		if !st.valid && (len(res.failed()) != 1 || !strings.HasPrefix(res.failed()[0], "status:")) {
			t.Fatalf("after %s: failed %q, want only status", st.action, res.failed())
		}
		next := f.anchored(t, c.URI)
		if next <= seq {
			t.Fatalf("after %s: ledger seq %d, was %d", st.action, next, seq)
		}
		seq = next
	}
	if n, err := statusEvents(f, c.ID); err != nil || n != len(steps) {
		t.Fatalf("%d audit records (%v), want %d", n, err, len(steps))
	}
}

func statusEvents(f *fixture, id string) (int, error) {
	return f.srv.StatusEvents(context.Background(), id)
}

// TestStatusBadRequests: rejected changes answer with their problem type and change nothing.
func TestStatusBadRequests(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	revoked := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	if r := f.setStatus(dl, revoked.ID, map[string]any{"action": "revoke", "reason": "superseded"}); r.status != 200 {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}
	tests := []struct {
		name, token, id string
		body            any
		status          int
		ptype           string
	}{
		{"revoke twice", dl, revoked.ID, map[string]any{"action": "revoke", "reason": "superseded"}, 409, "/problems/invalid-status-transition"},
		{"reinstate a revoked credential", dl, revoked.ID, map[string]any{"action": "reinstate"}, 409, "/problems/invalid-status-transition"},
		{"suspend a revoked credential", dl, revoked.ID, map[string]any{"action": "suspend"}, 409, "/problems/invalid-status-transition"},
		{"reinstate a valid credential", dl, c.ID, map[string]any{"action": "reinstate"}, 409, "/problems/invalid-status-transition"},
		{"another agency's token", f.token("HealthCode"), c.ID, map[string]any{"action": "revoke"}, 404, "/problems/not-found"},
		{"no token", "", c.ID, map[string]any{"action": "revoke"}, 401, "/problems/unauthorized"},
		{"wrong token", "ezt_nope", c.ID, map[string]any{"action": "revoke"}, 401, "/problems/unauthorized"},
		{"unknown credential", dl, "cred_nope", map[string]any{"action": "revoke"}, 404, "/problems/not-found"},
		{"bad action", dl, c.ID, map[string]any{"action": "delete"}, 400, "/problems/malformed-request"},
		{"no action", dl, c.ID, map[string]any{"reason": "superseded"}, 400, "/problems/malformed-request"},
		{"bad reason", dl, c.ID, map[string]any{"action": "revoke", "reason": "because"}, 400, "/problems/malformed-request"},
		{"hold reason to revoke", dl, c.ID, map[string]any{"action": "revoke", "reason": "certificateHold"}, 400, "/problems/malformed-request"},
		{"note too long", dl, c.ID, map[string]any{"action": "revoke", "note": strings.Repeat("x", 300)}, 400, "/problems/malformed-request"},
		{"unknown field", dl, c.ID, map[string]any{"action": "revoke", "when": "now"}, 400, "/problems/malformed-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.anchored(t, c.URI)
			lb, _ := f.getList(c.URI)
			r := f.setStatus(tt.token, tt.id, tt.body)
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %q, want %d %q: %s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
			la, _ := f.getList(c.URI)
			if after := f.anchored(t, c.URI); after != before || !bytes.Equal(lb.body, la.body) {
				t.Fatalf("a rejected change published the list (seq %d → %d)", before, after)
			}
			if n, _ := statusEvents(f, c.ID); n != 0 {
				t.Fatalf("a rejected change was audited")
			}
		})
	}
	if res := f.verify(f.present(c.Credential, counterClaims, nil, f.world.Counter.ID), f.world.Counter.ID); !res.Valid {
		t.Fatalf("untouched credential: failed %q", res.failed())
	}
}

// TestStatusListServing: the list is a statuslist+jwt with an ETag, a max-age of at most
// its ttl, 304 for a matching If-None-Match, and public.
func TestStatusListServing(t *testing.T) {
	f := newFixture(t)
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	r, h := f.getList(c.URI)
	if r.status != 200 || r.ctype != "application/statuslist+jwt" {
		t.Fatalf("HTTP %d %q", r.status, r.ctype)
	}
	etag := h.Get("ETag")
	age, err := strconv.Atoi(strings.TrimPrefix(h.Get("Cache-Control"), "max-age="))
	if etag == "" || err != nil || age <= 0 || age > int(issuer.DefaultStatusTTL/time.Second) {
		t.Fatalf("ETag %q, Cache-Control %q", etag, h.Get("Cache-Control"))
	}
	if r2, _ := f.getList(c.URI, "If-None-Match", etag); r2.status != http.StatusNotModified || len(r2.body) != 0 {
		t.Fatalf("If-None-Match: HTTP %d", r2.status)
	}
	if r2, _ := f.getList(c.URI, "If-None-Match", `"other"`); r2.status != 200 {
		t.Fatalf("other ETag: HTTP %d", r2.status)
	}
	if r2, _ := f.getList(f.url + "/issuer/v1/status/sl_nope"); r2.status != 404 || r2.problemType() != "/problems/not-found" {
		t.Fatalf("unknown list: HTTP %d", r2.status)
	}
	// Past half its ttl the list is re-signed (and anchored again); past its ttl the old copy
	// no longer verifies.
	seq := f.anchored(t, c.URI)
	f.clock.Add(issuer.DefaultStatusTTL/2 + time.Second)
	r3, _ := f.getList(c.URI)
	if bytes.Equal(r3.body, r.body) || f.anchored(t, c.URI) <= seq {
		t.Fatal("list not refreshed past half its ttl")
	}
	sd, _ := sdjwt.Parse(c.Credential)
	agency, _ := f.world.Agency("DrivingLicence")
	key, err := did.ResolveKey(t.Context(), ledgerResolver{f.srv.Ledger}, sd.Header["kid"].(string), did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := statuslist.VerifyToken(string(r3.body), key, c.URI, f.clock.Now(), issuer.StatusListSize); err != nil {
		t.Fatalf("served list does not verify with %s's key: %v", agency.DID, err)
	}
	f.clock.Add(issuer.DefaultStatusTTL)
	if _, _, err := statuslist.VerifyToken(string(r.body), key, c.URI, f.clock.Now(), issuer.StatusListSize); !errors.Is(err, statuslist.ErrExpired) {
		t.Fatalf("stale list: %v, want expired", err)
	}
}

// TestStatusIndexesDistinct: 200 credentials get 200 distinct entries of one list.
func TestStatusIndexesDistinct(t *testing.T) {
	f := newFixture(t)
	seen := map[int]bool{}
	var uri string
	for range 200 {
		c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
		if seen[c.Idx] {
			t.Fatalf("index %d handed out twice", c.Idx)
		}
		seen[c.Idx] = true
		if uri != "" && c.URI != uri {
			t.Fatalf("second list %s before the first (%s) is full", c.URI, uri)
		}
		uri = c.URI
	}
}

type ledgerResolver struct{ l *ledger.Ledger }

func (r ledgerResolver) Resolve(ctx context.Context, d string) (*did.Document, error) {
	return r.l.ResolveDID(ctx, d)
}

// fakeLists serves one fixed token for every URI.
type fakeLists struct{ token []byte }

func (f fakeLists) StatusList(context.Context, string) ([]byte, error) { return f.token, nil }

// TestStatusForgedList: a verifier handed a tampered list, or one signed by another key,
// fails the status check.
func TestStatusForgedList(t *testing.T) {
	f := newFixture(t)
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	real, _ := f.getList(c.URI)
	sd, _ := sdjwt.Parse(c.Credential)
	kid := sd.Header["kid"].(string)

	sign := func(priv ed25519.PrivateKey, kid string) string {
		l, _ := statuslist.New(issuer.StatusListSize, issuer.StatusListBits)
		s, err := statuslist.NewTokenSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, kid)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := statuslist.SignToken(l, c.URI, f.clock.Now(), time.Minute, s)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKID, _ := did.NewKey(other.Public())
	parts := strings.Split(string(real.body), ".")
	sig := []byte(parts[2])
	sig[3] ^= 'A' ^ 'B'
	if sig[3] == parts[2][3] {
		sig[3]++
	}
	tampered := parts[0] + "." + parts[1] + "." + string(sig)

	tests := []struct {
		name, token, reason string
	}{
		{"the real list", string(real.body), ""},
		{"tampered signature", tampered, "status list unavailable"},
		{"signed by another key under the issuer's kid", sign(other, kid), "status list unavailable"},
		{"signed by another DID", sign(other, otherKID), "not the issuer"},
		{"not a token", "hello", "status list unavailable"},
	}
	vs, err := verifierstore.Open(t.Context(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer vs.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verifier.New(verifier.Config{Store: vs, Trust: f.srv.Ledger, Resolver: ledgerResolver{f.srv.Ledger}, Now: f.clock.Now,
				StatusLists: fakeLists{[]byte(tt.token)}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(t.Context(), f.present(c.Credential, counterClaims, nil, verifier.GenericAudience), verifier.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got verifier.Check
			for _, ch := range res.Checks {
				if ch.Name == verifier.CheckStatus {
					got = ch
				}
			}
			if tt.reason == "" {
				if !res.Valid || !got.OK {
					t.Fatalf("real list: failed %q", res.Failed())
				}
				return
			}
			if res.Valid || got.OK || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("valid %v, status %+v; want failure mentioning %q", res.Valid, got, tt.reason)
			}
		})
	}
}

// TestStatusNoClaim: a credential without a status claim passes the status check with the
// note "no status list".
func TestStatusNoClaim(t *testing.T) {
	f := newFixture(t)
	res := f.verify(f.present(rogueIssuer(t, f.holder), counterClaims, nil, f.world.Counter.ID), f.world.Counter.ID)
	ok, reason := statusCheck(t, res)
	if !ok || reason != "no status list" {
		t.Fatalf("status check %v %q", ok, reason)
	}
}

// BenchmarkRevoke is the end-to-end latency of one revocation over HTTP: authenticate,
// update the status, rebuild and sign the 131,072-entry list, anchor its digest on the
// ledger (a block committed), commit.
func BenchmarkRevoke(b *testing.B) {
	f := newFixture(b)
	dl := f.token("DrivingLicence")
	var ids []string
	for range b.N {
		r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, map[string]any{"type": "DrivingLicence", "holder": f.holderDID, "claims": licence})
		var c issued
		json.Unmarshal(r.body, &c)
		ids = append(ids, c.ID)
	}
	b.ResetTimer()
	for i := range b.N {
		if r := f.setStatus(dl, ids[i], map[string]any{"action": "revoke", "reason": "superseded"}); r.status != 200 {
			b.Fatalf("revoke: HTTP %d %s", r.status, r.body)
		}
	}
}

// TestStatusRecoversUsedSeq: a publication anchored on the ledger but never committed (a crash
// between the two) does not block the next change: it is published above the ledger's seq.
func TestStatusRecoversUsedSeq(t *testing.T) {
	var dir string
	f := newFixture(t, func(c *server.Config) { dir = c.DataDir })
	dl := f.token("DrivingLicence")
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	seq := f.anchored(t, c.URI)

	db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, "issuer.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var token, uri string
	var exp int64
	if err := db.QueryRow(`SELECT token, token_uri, token_expires FROM status_lists`).Scan(&token, &uri, &exp); err != nil {
		t.Fatal(err)
	}
	if r := f.setStatus(dl, c.ID, map[string]any{"action": "suspend"}); r.status != 200 {
		t.Fatalf("suspend: HTTP %d %s", r.status, r.body)
	}
	// Undo the commit, as if the process died after the ledger accepted the operation.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE status_lists SET seq = ?, token = ?, token_uri = ?, token_expires = ?`, []any{seq, token, uri, exp}},
		{`UPDATE credential_status SET status = 0, changed_at = NULL`, nil},
		// The audit log is append-only (triggers refuse deletes); an uncommitted change left
		// no entry, so lift the trigger to take this one out, and put it back.
		{`DROP TRIGGER audit_log_no_delete`, nil},
		{`DELETE FROM audit_log WHERE action LIKE 'credential.%'`, nil},
		{`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`, nil},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if res := f.verify(f.present(c.Credential, counterClaims, nil, f.world.Counter.ID), f.world.Counter.ID); !res.Valid {
		t.Fatalf("after the simulated crash the old status must hold: failed %q", res.failed())
	}
	if r := f.setStatus(dl, c.ID, map[string]any{"action": "suspend"}); r.status != 200 {
		t.Fatalf("suspend after the crash: HTTP %d %s", r.status, r.body)
	}
	if got := f.anchored(t, c.URI); got != seq+2 {
		t.Fatalf("ledger seq %d, want %d (one lost to the crash)", got, seq+2)
	}
	res := f.verify(f.present(c.Credential, counterClaims, nil, f.world.Counter.ID), f.world.Counter.ID)
	if ok, reason := statusCheck(t, res); ok || reason != "suspended" {
		t.Fatalf("status check %v %q", ok, reason)
	}
}

// TestStatusConcurrentRevoke: of two simultaneous revocations one wins and one is refused.
func TestStatusConcurrentRevoke(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() {
			codes[i] = f.setStatus(dl, c.ID, map[string]any{"action": "revoke", "reason": "superseded"}).status
		})
	}
	wg.Wait()
	slices.Sort(codes)
	if codes[0] != 200 || codes[1] != 409 {
		t.Fatalf("statuses %v, want one 200 and one 409", codes)
	}
	if n, _ := statusEvents(f, c.ID); n != 1 {
		t.Fatalf("%d audit records, want 1", n)
	}
}
