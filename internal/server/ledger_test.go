package server_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// newDIDOp makes a signed create operation with fresh keys.
func newDIDOp(t *testing.T) (id, op string, update ed25519.PrivateKey) {
	t.Helper()
	_, signing, _ := ed25519.GenerateKey(rand.Reader)
	_, update, _ = ed25519.GenerateKey(rand.Reader)
	_, recovery, _ := ed25519.GenerateKey(rand.Reader)
	create, err := ledger.NewCreate(ledger.NewDocument(signing.Public()), update.Public(), recovery.Public())
	if err != nil {
		t.Fatal(err)
	}
	op, err = ledger.SignOp(create, update, "")
	if err != nil {
		t.Fatal(err)
	}
	return ledger.DIDOf(create), op, update
}

// TestLedgerAPI: submit, read back, checkpoint and proofs over HTTP; every bad operation is
// refused with its result code and changes nothing.
func TestLedgerAPI(t *testing.T) {
	f := newFixture(t)
	status := func() (size uint64) {
		var s struct {
			TreeSize uint64 `json:"tree_size"`
		}
		json.Unmarshal(f.do(http.MethodGet, "/ledger/v1/status", "", "", nil).body, &s)
		return s.TreeSize
	}
	id, op, update := newDIDOp(t)
	r := f.doJSON(http.MethodPost, "/ledger/v1/operations", "", map[string]string{"operation": op})
	if r.status != http.StatusCreated {
		t.Fatalf("submit create: HTTP %d %s", r.status, r.body)
	}
	var sub struct {
		LeafIndex uint64 `json:"leaf_index"`
	}
	json.Unmarshal(r.body, &sub)
	if got := f.do(http.MethodGet, "/ledger/v1/operations/"+itoa(sub.LeafIndex), "", "", nil); got.status != 200 || string(got.body) != op {
		t.Fatalf("read back leaf %d: HTTP %d", sub.LeafIndex, got.status)
	}

	// The checkpoint is a signed note that verifies with the ledger key, and the operation's
	// inclusion proof holds against it.
	cp := f.do(http.MethodGet, "/ledger/v1/checkpoint", "", "", nil)
	if cp.status != 200 || !strings.HasPrefix(cp.ctype, "text/plain") {
		t.Fatalf("checkpoint: HTTP %d %s", cp.status, cp.ctype)
	}
	v, err := note.NewVerifier(f.srv.LedgerKey)
	if err != nil {
		t.Fatal(err)
	}
	head, err := merklelog.OpenCheckpoint(cp.body, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	var proof struct{ Hashes [][]byte }
	pr := f.do(http.MethodGet, "/ledger/v1/proofs/inclusion?index="+itoa(sub.LeafIndex)+"&tree_size="+itoa(head.Size), "", "", nil)
	json.Unmarshal(pr.body, &proof)
	if err := merklelog.VerifyInclusion(merklelog.LeafHash([]byte(op)), sub.LeafIndex, head.Size, proof.Hashes, head.Root); err != nil {
		t.Fatalf("inclusion proof over HTTP: %v", err)
	}
	if pr := f.do(http.MethodGet, "/ledger/v1/proofs/consistency?from=1&tree_size="+itoa(head.Size), "", "", nil); pr.status != 200 {
		t.Fatalf("consistency proof: HTTP %d", pr.status)
	}

	// The new DID resolves through the DID Resolution endpoint, with its versionId.
	res := f.do(http.MethodGet, "/1.0/identifiers/"+url.PathEscape(id), "", "", nil)
	if res.status != 200 || !bytes.Contains(res.body, []byte(`"versionId":"`+ledger.VersionID(op)+`"`)) {
		t.Fatalf("resolve %s: HTTP %d %s", id, res.status, res.body)
	}

	// Bad operations: each refused with its code, nothing appended.
	before := status()
	replayed := op
	updateWrongPrev, _ := ledger.SignOp(ledger.NewUpdate(id, ledger.VersionID("some other operation"), ledger.Patch{Action: ledger.ActionRemoveServices, IDs: []string{"#x"}}), update, "")
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	updateWrongKey, _ := ledger.SignOp(ledger.NewUpdate(id, ledger.VersionID(op), ledger.Patch{Action: ledger.ActionSetRelationships, Authentication: []string{"#key-1"}, AssertionMethod: []string{"#key-1"}}), stranger, "")
	selfAccredit, _ := ledger.SignOp(ledger.NewAccredit(id, []string{"urn:ezheng:vct:DrivingLicence"}, time.Now(), time.Now().Add(time.Hour), 1), stranger, id+"#key-1")
	_, fresh, _ := newDIDOp(t)
	parts := strings.Split(fresh, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"ez-op+jwt"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + parts[1] + "." + flip(parts[2])
	for _, tt := range []struct {
		name, op, code string
	}{
		{"replayed create", replayed, "duplicate"},
		{"update with a stale prev", updateWrongPrev, "stale-prev"},
		{"update signed by a stranger", updateWrongKey, "bad-signature"},
		{"issuer accrediting itself", selfAccredit, "not-root"},
		{"alg none", algNone, "bad-signature"},
		{"tampered signature", tampered, "bad-signature"},
		{"not a JWS", "hello", "malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.doJSON(http.MethodPost, "/ledger/v1/operations", "", map[string]string{"operation": tt.op})
			if r.status != http.StatusUnprocessableEntity || r.problemType() != "/problems/operation-rejected" {
				t.Fatalf("HTTP %d %s: %s", r.status, r.problemType(), r.body)
			}
			var p struct{ Detail string }
			json.Unmarshal(r.body, &p)
			if !strings.HasPrefix(p.Detail, tt.code+":") {
				t.Fatalf("detail %q, want code %s", p.Detail, tt.code)
			}
		})
	}
	for _, tt := range []struct {
		name, method, path, ctype, body string
		status                          int
		ptype                           string
	}{
		{"oversized operation", http.MethodPost, "/ledger/v1/operations", "application/json", `{"operation":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "/problems/too-large"},
		{"malformed body", http.MethodPost, "/ledger/v1/operations", "application/json", `{"operation":`, 400, "/problems/malformed-request"},
		{"empty operation", http.MethodPost, "/ledger/v1/operations", "application/json", `{"operation":""}`, 400, "/problems/malformed-request"},
		{"bad index", http.MethodGet, "/ledger/v1/operations/-1", "", "", 400, "/problems/malformed-request"},
		{"unknown leaf", http.MethodGet, "/ledger/v1/operations/999999", "", "", 404, "/problems/not-found"},
		{"proof beyond the tree", http.MethodGet, "/ledger/v1/proofs/inclusion?index=5&tree_size=99999", "", "", 400, "/problems/out-of-range"},
		{"proof without size", http.MethodGet, "/ledger/v1/proofs/inclusion?index=0", "", "", 400, "/problems/malformed-request"},
		{"accreditation without type", http.MethodGet, "/ledger/v1/accreditations/" + id, "", "", 400, "/problems/malformed-request"},
		{"not accredited", http.MethodGet, "/ledger/v1/accreditations/" + id + "?type=urn:ezheng:vct:DrivingLicence", "", "", 404, "/problems/not-accredited"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(tt.method, tt.path, "", tt.ctype, []byte(tt.body))
			if r.status != tt.status || r.problemType() != tt.ptype {
				t.Fatalf("HTTP %d %q, want %d %q: %.200s", r.status, r.problemType(), tt.status, tt.ptype, r.body)
			}
		})
	}
	if after := status(); after != before {
		t.Fatalf("rejected operations changed the log: %d → %d", before, after)
	}

	// The demo agencies are accredited on the ledger.
	psb, _ := f.world.Agency("DrivingLicence")
	if r := f.do(http.MethodGet, "/ledger/v1/accreditations/"+psb.DID+"?type=urn:ezheng:vct:DrivingLicence&at="+f.clock.Now().Format(time.RFC3339), "", "", nil); r.status != 200 {
		t.Fatalf("PSB accreditation: HTTP %d %s", r.status, r.body)
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// flip changes the first character of a base64url string to another valid one.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
