package server_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/server"
	"github.com/ezheng/ezheng/internal/sqlitedb"
)

// TestAgencyAuditLog: administrative and status actions land in the acting agency's audit log
// with who (API token or OAuth client), when, what and why; an agency reads its own log only,
// page by page; the log cannot be changed.
func TestAgencyAuditLog(t *testing.T) {
	var dir string
	f := newFixture(t, func(c *server.Config) { dir = c.DataDir })
	dl, hc := f.token("DrivingLicence"), f.token("HealthCode")
	root := f.world.RootAuthority.Token
	dlAgency, _ := f.world.Agency("DrivingLicence")
	hcAgency, _ := f.world.Agency("HealthCode")

	clientID, secret := f.newClient(dl)
	_, access, _ := f.tokenRequest(url.Values{"grant_type": {"client_credentials"}}, clientID, secret)
	c1 := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	c2 := f.issueWithStatus("DrivingLicence", f.holderDID, licence)
	if r := f.setStatus(access.AccessToken, c1.ID, map[string]any{"action": "revoke", "reason": "keyCompromise", "note": "ticket 42"}); r.status != 200 {
		t.Fatalf("revoke: HTTP %d %s", r.status, r.body)
	}
	if r := f.setStatus(dl, c2.ID, map[string]any{"action": "suspend", "reason": "certificateHold"}); r.status != 200 {
		t.Fatalf("suspend: HTTP %d %s", r.status, r.body)
	}
	if r := f.setStatus(dl, c2.ID, map[string]any{"action": "reinstate", "reason": "removeFromCRL"}); r.status != 200 {
		t.Fatalf("reinstate: HTTP %d %s", r.status, r.body)
	}
	if r := f.setStatus(dl, c2.ID, map[string]any{"action": "reinstate"}); r.status != 409 { // refused: not audited
		t.Fatalf("reinstate a valid credential: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/issuer/v1/agency/keys/rotate", dl, "", nil); r.status != 200 {
		t.Fatalf("rotate: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, "/issuer/v1/types", dl, "application/yaml", []byte(fishingLicence)); r.status != 201 {
		t.Fatalf("type add: HTTP %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/issuer/v1/agency/clients/"+clientID, dl, "", nil); r.status != 204 {
		t.Fatalf("delete client: HTTP %d %s", r.status, r.body)
	}
	r := f.doJSON(http.MethodPost, "/issuer/v1/agencies", root, map[string]any{"name": "Fisheries Bureau", "types": []string{"HealthCode"}})
	if r.status != 201 {
		t.Fatalf("add agency: HTTP %d %s", r.status, r.body)
	}
	var created agencyCreated
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}

	log := f.auditLog(dl) // read two at a time, following next
	type row struct{ actor, action, target, reason string }
	var got []row
	for _, e := range log {
		if e.AgencyID != dlAgency.ID {
			t.Errorf("entry of agency %s in %s's log", e.AgencyID, dlAgency.ID)
		}
		if !e.At.Equal(f.clock.Now().Truncate(1e9)) {
			t.Errorf("%s at %s, want the injected clock %s", e.Action, e.At, f.clock.Now())
		}
		actor := e.Actor
		if strings.HasPrefix(actor, "token:") && len(actor) == len("token:")+12 {
			actor = "token"
		}
		got = append(got, row{actor, e.Action, e.Target, e.Reason})
	}
	want := []row{
		{"token", "client.create", clientID, ""},
		{"client:" + clientID, "credential.revoke", c1.ID, "keyCompromise"},
		{"token", "credential.suspend", c2.ID, "certificateHold"},
		{"token", "credential.reinstate", c2.ID, "removeFromCRL"},
		{"token", "agency.rotate-key", dlAgency.ID, ""},
		{"token", "type.add", "FishingLicence", ""},
		{"token", "client.delete", clientID, ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log\n got %v\nwant %v", got, want)
	}
	if d := log[1].Detail; d["note"] != "ticket 42" || d["list"] == "" || d["to"] != "1" {
		t.Errorf("revocation detail %v", d)
	}
	if d := log[4].Detail; !strings.HasSuffix(d["kid"], "#key-2") {
		t.Errorf("rotation detail %v", d)
	}
	for _, e := range log {
		for _, secretish := range []string{secret, access.AccessToken, dl} {
			if strings.Contains(e.Actor+e.Target+e.Reason, secretish) {
				t.Errorf("a secret in the audit log: %+v", e)
			}
		}
	}

	// The root authority's log and the new agency's both hold the addition.
	rootLog := f.auditActions(root)
	newLog := f.auditActions(created.Token)
	if !slices.Equal(rootLog, []string{"agency.add " + created.Agency.ID}) || !slices.Equal(newLog, rootLog) {
		t.Errorf("root's log %v, new agency's %v", rootLog, newLog)
	}

	// Another agency sees nothing of this.
	for _, e := range f.auditLog(hc) {
		if e.AgencyID != hcAgency.ID || e.Target == c1.ID || e.Target == clientID {
			t.Errorf("the HealthCode agency reads %+v", e)
		}
	}
	if r := f.do(http.MethodGet, "/issuer/v1/audit?agency_id="+dlAgency.ID, hc, "", nil); r.status != 200 || strings.Contains(string(r.body), c1.ID) {
		t.Errorf("agency_id=… shows another agency's log: HTTP %d %s", r.status, r.body)
	}

	for _, tc := range []struct {
		name, query, token string
		status             int
		problem            string
	}{
		{"no token", "", "", 401, "/problems/unauthorized"},
		{"wrong token", "", "ezt_nope", 401, "/problems/unauthorized"},
		{"negative after", "?after=-1", dl, 400, "/problems/malformed-request"},
		{"after not a number", "?after=x", dl, 400, "/problems/malformed-request"},
		{"limit zero", "?limit=0", dl, 400, "/problems/malformed-request"},
		{"limit too large", "?limit=1001", dl, 400, "/problems/malformed-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(http.MethodGet, "/issuer/v1/audit"+tc.query, tc.token, "", nil)
			if r.status != tc.status || r.problemType() != tc.problem {
				t.Fatalf("HTTP %d %s, want %d %s", r.status, r.body, tc.status, tc.problem)
			}
		})
	}

	// Append-only, down to the database.
	db, err := sql.Open("sqlite", sqlitedb.DSN(filepath.Join(dir, "issuer.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`UPDATE audit_log SET reason = 'x'`, `DELETE FROM audit_log`} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if again := f.auditLog(dl); len(again) != len(log) {
		t.Errorf("log has %d entries, had %d", len(again), len(log))
	}
}
