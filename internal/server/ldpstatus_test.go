package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/issuer"
)

// messageList is the two-bit W3C list the ldp_vc points at, as served and verified.
type messageList struct {
	body []byte
	bits *statuslist.Bitstring
	seq  uint64
}

// value returns the two-bit status of entry i.
func (l messageList) value(t *testing.T, i int) int {
	t.Helper()
	hi, err1 := l.bits.Get(2 * i)
	lo, err2 := l.bits.Get(2*i + 1)
	if err1 != nil || err2 != nil {
		t.Fatalf("entry %d: %v %v", i, err1, err2)
	}
	v := 0
	if hi {
		v += 2
	}
	if lo {
		v++
	}
	return v
}

// getMessageList fetches the message list at uri, verifies its signature with key, checks
// its purpose and that the ledger holds its digest.
func (f *fixture) getMessageList(t *testing.T, uri string, key any) messageList {
	t.Helper()
	r, _ := f.getList(uri)
	if r.status != http.StatusOK || r.ctype != "application/vc+jwt" {
		t.Fatalf("GET %s: HTTP %d %q %s", uri, r.status, r.ctype, r.body)
	}
	jws, err := jose.ParseSigned(string(r.body), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		t.Fatalf("%s does not verify with the agency's key: %v", uri, err)
	}
	var cred struct {
		ID      string   `json:"id"`
		Type    []string `json:"type"`
		Subject struct {
			Type          string `json:"type"`
			StatusPurpose string `json:"statusPurpose"`
			EncodedList   string `json:"encodedList"`
		} `json:"credentialSubject"`
	}
	if err := json.Unmarshal(payload, &cred); err != nil {
		t.Fatal(err)
	}
	s := cred.Subject
	if cred.ID != uri || s.Type != "BitstringStatusList" || s.StatusPurpose != "message" {
		t.Fatalf("message list %s", payload)
	}
	b, err := statuslist.DecodeList(s.EncodedList, 2*issuer.StatusListSize)
	if err != nil || b.Len() != 2*issuer.StatusListSize {
		t.Fatalf("encodedList: %v", err)
	}
	rec, err := f.srv.Ledger.StatusList(t.Context(), uri)
	if err != nil || !bytes.Equal(rec.Digest, statuslist.Digest(r.body)) {
		t.Fatalf("the ledger does not hold the digest of %s: %v", uri, err)
	}
	return messageList{body: r.body, bits: b, seq: rec.Seq}
}

// TestLDPVCStatus: the ldp_vc of a credential carries one BitstringStatusListEntry (purpose
// message) at its Token Status List index in the agency's two-bit W3C list, covered by its
// proof; suspend, reinstate and revoke reach that list, each change signed and anchored.
func TestLDPVCStatus(t *testing.T) {
	f := newFixture(t)
	bl := f.token("BusinessLicence")
	c, status := f.issueFormats("BusinessLicence", businessLicence)
	if status != http.StatusCreated {
		t.Fatalf("issue: HTTP %d", status)
	}
	sd, err := sdjwt.Parse(c.Credential)
	if err != nil {
		t.Fatal(err)
	}
	tokenList, idx, err := statuslist.ParseStatusClaim(sd.Payload["status"])
	if err != nil {
		t.Fatal(err)
	}
	f.verifyLDP(t, c.Formats["ldp_vc"], c.Issuer, "BusinessLicence")
	v, err := ldvc.Verify(c.Formats["ldp_vc"], f.resolveEd25519, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	uri, gotIdx, purpose, err := parseMessageEntry(v.Credential["credentialStatus"])
	if err != nil || uri != tokenList+"/w3c/message" || gotIdx != idx || purpose != "message" {
		t.Fatalf("ldp_vc credentialStatus %v: %s #%d %s %v", v.Credential["credentialStatus"], uri, gotIdx, purpose, err)
	}
	entry := v.Credential["credentialStatus"].(map[string]any)
	msgs, _ := json.Marshal(entry["statusMessage"])
	if entry["statusSize"] != float64(2) || string(msgs) != `[{"message":"valid","status":"0x0"},{"message":"revoked","status":"0x1"},{"message":"suspended","status":"0x2"},{"message":"unassigned","status":"0x3"}]` {
		t.Fatalf("ldp_vc entry size %v messages %s", entry["statusSize"], msgs)
	}
	key, err := did.ResolveKey(t.Context(), ledgerResolver{f.srv.Ledger}, sd.Header["kid"].(string), did.AssertionMethod)
	if err != nil {
		t.Fatal(err)
	}
	list := f.getMessageList(t, uri, key)
	if got := list.value(t, idx); got != 0 {
		t.Fatalf("fresh credential: status %d", got)
	}
	for _, st := range []struct {
		action, reason string
		want           int
	}{
		{"suspend", "certificateHold", 2},
		{"reinstate", "removeFromCRL", 0},
		{"revoke", "keyCompromise", 1},
	} {
		if r := f.setStatus(bl, c.ID, map[string]any{"action": st.action, "reason": st.reason}); r.status != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", st.action, r.status, r.body)
		}
		next := f.getMessageList(t, uri, key)
		if got := next.value(t, idx); got != st.want || next.seq <= list.seq {
			t.Fatalf("after %s: status %d (want %d), seq %d → %d", st.action, got, st.want, list.seq, next.seq)
		}
		list = next
	}
	if r := f.setStatus(bl, c.ID, map[string]any{"action": "suspend"}); r.status != http.StatusConflict {
		t.Fatalf("suspend a revoked credential: HTTP %d", r.status)
	}
	if again := f.getMessageList(t, uri, key); !bytes.Equal(again.body, list.body) || again.seq != list.seq {
		t.Fatal("a refused change changed the message list")
	}
}

// parseMessageEntry reads a BitstringStatusListEntry of purpose message (statuslist's parser
// knows only one-bit purposes).
func parseMessageEntry(v any) (uri string, idx int, purpose string, err error) {
	m, _ := v.(map[string]any)
	if m["type"] != "BitstringStatusListEntry" {
		return "", 0, "", errBadEntry
	}
	e := map[string]any{}
	for k, x := range m {
		e[k] = x
	}
	e["statusPurpose"] = statuslist.PurposeSuspension
	delete(e, "statusSize")
	delete(e, "statusMessage")
	uri, idx, _, err = statuslist.ParseBitstringEntry(e)
	purpose, _ = m["statusPurpose"].(string)
	return uri, idx, purpose, err
}

var errBadEntry = errors.New("not a BitstringStatusListEntry")
