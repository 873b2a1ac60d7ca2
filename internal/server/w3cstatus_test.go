package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/issuer"
)

// w3cList is a W3C Bitstring Status List as served and verified.
type w3cList struct {
	body []byte
	bits *statuslist.Bitstring
	seq  uint64 // the ledger's newest seq for the list's URL
}

// getW3CList fetches the W3C list at uri, checks its media type and caching headers, verifies
// it with key, checks its purpose and id, and checks that the ledger's newest digest for uri
// is the digest of the bytes served.
func (f *fixture) getW3CList(t *testing.T, uri, purpose string, key any) w3cList {
	t.Helper()
	r, h := f.getList(uri)
	if r.status != http.StatusOK || r.ctype != "application/vc+jwt" {
		t.Fatalf("GET %s: HTTP %d %q %s", uri, r.status, r.ctype, r.body)
	}
	age, err := strconv.Atoi(strings.TrimPrefix(h.Get("Cache-Control"), "max-age="))
	if h.Get("ETag") == "" || err != nil || age <= 0 || age > int(issuer.DefaultStatusTTL/time.Second) {
		t.Fatalf("GET %s: ETag %q, Cache-Control %q", uri, h.Get("ETag"), h.Get("Cache-Control"))
	}
	if r2, _ := f.getList(uri, "If-None-Match", h.Get("ETag")); r2.status != http.StatusNotModified {
		t.Fatalf("GET %s with If-None-Match: HTTP %d", uri, r2.status)
	}
	b, gotPurpose, id, err := statuslist.VerifyBitstringCredential(string(r.body), key, f.clock.Now(), issuer.StatusListSize)
	if err != nil {
		t.Fatalf("%s does not verify with the agency's key: %v", uri, err)
	}
	if gotPurpose != purpose || id != uri {
		t.Fatalf("%s: purpose %q id %q", uri, gotPurpose, id)
	}
	rec, err := f.srv.Ledger.StatusList(t.Context(), uri)
	if err != nil {
		t.Fatalf("ledger status of %s: %v", uri, err)
	}
	if !bytes.Equal(rec.Digest, statuslist.Digest(r.body)) {
		t.Fatalf("ledger digest of %s is not the digest of the served list", uri)
	}
	return w3cList{body: r.body, bits: b, seq: rec.Seq}
}

// TestW3CStatusLifecycle: the JWT-VC of a DrivingLicence points at the agency's W3C revocation
// and suspension lists, at the index its SD-JWT VC has in the Token Status List; suspend,
// reinstate and revoke
// flip the bits of the revocation and suspension lists, each change anchored; a refused change
// publishes nothing.
func TestW3CStatusLifecycle(t *testing.T) {
	f := newFixture(t)
	dl := f.token("DrivingLicence")
	r := f.doJSON(http.MethodPost, "/issuer/v1/credentials", dl, map[string]any{"type": "DrivingLicence", "holder": f.holderDID, "claims": licence})
	if r.status != http.StatusCreated {
		t.Fatalf("issue: HTTP %d %s", r.status, r.body)
	}
	var c issuedFormats
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	sd, err := sdjwt.Parse(c.Credential)
	if err != nil {
		t.Fatal(err)
	}
	tokenList, idx, err := statuslist.ParseStatusClaim(sd.Payload["status"])
	if err != nil {
		t.Fatal(err)
	}
	v, err := vcjwt.Verify(stringOf(t, c.Formats["jwt_vc_json"]), f.resolveKey, f.clock.Now(), time.Minute)
	if err != nil {
		t.Fatalf("jwt_vc_json: %v", err)
	}
	revURI, susURI := tokenList+"/w3c/revocation", tokenList+"/w3c/suspension"
	if len(v.Credential.Statuses) != 2 {
		t.Fatalf("jwt_vc_json credentialStatus %v %v, want two entries", v.Credential.Status, v.Credential.Statuses)
	}
	for i, want := range []struct{ uri, purpose string }{{revURI, statuslist.PurposeRevocation}, {susURI, statuslist.PurposeSuspension}} {
		uri, i2, purpose, err := statuslist.ParseBitstringEntry(v.Credential.Statuses[i])
		if err != nil || uri != want.uri || i2 != idx || purpose != want.purpose {
			t.Fatalf("credentialStatus[%d] %s #%d %s (%v); want %s #%d %s", i, uri, i2, purpose, err, want.uri, idx, want.purpose)
		}
	}
	key, err := did.ResolveKey(t.Context(), ledgerResolver{f.srv.Ledger}, sd.Header["kid"].(string), did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	lists := func() (rev, sus w3cList) {
		return f.getW3CList(t, revURI, statuslist.PurposeRevocation, key), f.getW3CList(t, susURI, statuslist.PurposeSuspension, key)
	}
	bit := func(l w3cList) bool {
		t.Helper()
		b, err := l.bits.Get(idx)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rev, sus := lists()
	if bit(rev) || bit(sus) {
		t.Fatalf("fresh credential: revocation bit %v, suspension bit %v", bit(rev), bit(sus))
	}

	steps := []struct {
		action, reason string
		revoked, susp  bool // bits after the change
	}{
		{"suspend", "certificateHold", false, true},
		{"reinstate", "removeFromCRL", false, false},
		{"suspend", "", false, true},
		{"revoke", "privilegeWithdrawn", true, false},
	}
	for _, st := range steps {
		if r := f.setStatus(dl, c.ID, map[string]any{"action": st.action, "reason": st.reason}); r.status != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", st.action, r.status, r.body)
		}
		nrev, nsus := lists()
		if bit(nrev) != st.revoked || bit(nsus) != st.susp {
			t.Fatalf("after %s: revocation bit %v, suspension bit %v; want %v, %v", st.action, bit(nrev), bit(nsus), st.revoked, st.susp)
		}
		// A list is re-signed and anchored exactly when its bit changed.
		for _, p := range []struct {
			name       string
			old, new   w3cList
			oldB, newB bool
		}{{"revocation", rev, nrev, bit(rev), bit(nrev)}, {"suspension", sus, nsus, bit(sus), bit(nsus)}} {
			changed := !bytes.Equal(p.old.body, p.new.body)
			if changed != (p.oldB != p.newB) || (changed && p.new.seq <= p.old.seq) || (!changed && p.new.seq != p.old.seq) {
				t.Fatalf("after %s: %s list changed %v (seq %d → %d), bit %v → %v", st.action, p.name, changed, p.old.seq, p.new.seq, p.oldB, p.newB)
			}
		}
		rev, sus = nrev, nsus
	}

	// Revoking twice is refused and changes no list.
	if r := f.setStatus(dl, c.ID, map[string]any{"action": "revoke", "reason": "superseded"}); r.status != http.StatusConflict {
		t.Fatalf("revoke twice: HTTP %d %s", r.status, r.body)
	}
	nrev, nsus := lists()
	if !bytes.Equal(nrev.body, rev.body) || !bytes.Equal(nsus.body, sus.body) || nrev.seq != rev.seq || nsus.seq != sus.seq {
		t.Fatal("a refused revocation changed a W3C list")
	}

	// Unknown purposes and lists are not found.
	for _, u := range []string{tokenList + "/w3c/refresh", f.url + "/issuer/v1/status/sl_nope/w3c/revocation"} {
		if r, _ := f.getList(u); r.status != http.StatusNotFound {
			t.Fatalf("GET %s: HTTP %d", u, r.status)
		}
	}
}

// TestW3CStatusKeyRotation: after the agency rotates its key, a published W3C list is served
// re-signed with the new key and anchored again.
func TestW3CStatusKeyRotation(t *testing.T) {
	f := newFixture(t)
	tok := f.token("DrivingLicence")
	c := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	uri := c.URI + "/w3c/revocation"
	sd, _ := sdjwt.Parse(c.Credential)
	oldKey, err := did.ResolveKey(t.Context(), ledgerResolver{f.srv.Ledger}, sd.Header["kid"].(string), did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	before := f.getW3CList(t, uri, statuslist.PurposeRevocation, oldKey)

	f.clock.Add(time.Minute)
	if r := f.do(http.MethodPost, "/issuer/v1/agency/keys/rotate", tok, "", nil); r.status != http.StatusOK {
		t.Fatalf("rotate: HTTP %d %s", r.status, r.body)
	}
	kid := f.agency(tok).KID
	newKey, err := did.ResolveKey(t.Context(), ledgerResolver{f.srv.Ledger}, kid, did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	after := f.getW3CList(t, uri, statuslist.PurposeRevocation, newKey)
	if after.seq <= before.seq || bytes.Equal(after.body, before.body) {
		t.Fatalf("W3C list not re-signed at the rotation (seq %d → %d)", before.seq, after.seq)
	}
}
