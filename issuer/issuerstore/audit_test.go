package issuerstore

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ezheng/ezheng/internal/sqlitedb"
	"github.com/ezheng/ezheng/issuer"
)

// migrationsUpTo returns the embedded migrations numbered at most last.
func migrationsUpTo(t *testing.T, last string) fs.FS {
	t.Helper()
	sub, _ := fs.Sub(migrations, "migrations")
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() <= last {
			b, _ := fs.ReadFile(sub, e.Name())
			out[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return out
}

// TestAuditMigratesStatusEvents: the status changes audited before migration 0012 (in
// status_events) are in the audit log after it, as credential.<action> entries with their facts.
func TestAuditMigratesStatusEvents(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "issuer.db")
	db, err := sqlitedb.Open(ctx, file, migrationsUpTo(t, "0010_w3cstatus.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO agencies(id, name, did, kid, types, sealed_key, created_at) VALUES ('ag_a', 'A', 'did:ez:a', 'did:ez:a#key-1', '[]', x'01', 1)`,
		`INSERT INTO credentials(id, agency_id, type, format, holder, sealed_raw, digest, request_hash, issued_at, expires_at)
			VALUES ('cred_1', 'ag_a', 'HealthCode', 'dc+sd-jwt', 'did:jwk:x', x'01', 'ab', x'01', 1, 2)`,
		`INSERT INTO status_lists(id, agency_id, size, bits, created_at) VALUES ('sl_1', 'ag_a', 131072, 2, 1)`,
		`INSERT INTO status_events(agency_id, credential_id, list_id, idx, action, from_status, to_status, reason, note, seq, at)
			VALUES ('ag_a', 'cred_1', 'sl_1', 7, 'suspend', 0, 2, 'certificateHold', 'ticket 1', 3, 1700000000)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, more, err := s.AuditLog(ctx, "ag_a", 0, 10)
	if err != nil || more || len(got) != 1 {
		t.Fatalf("audit log %+v more %v: %v", got, more, err)
	}
	e := got[0]
	want := map[string]string{"list": "sl_1", "idx": "7", "from": "0", "to": "2", "seq": "3", "note": "ticket 1"}
	if e.Action != "credential.suspend" || e.Target != "cred_1" || e.Reason != "certificateHold" || e.Actor != "system" ||
		!e.At.Equal(time.Unix(1700000000, 0)) || len(e.Detail) != len(want) {
		t.Fatalf("migrated entry %+v", e)
	}
	for k, v := range want {
		if e.Detail[k] != v {
			t.Errorf("detail %s = %q, want %q", k, e.Detail[k], v)
		}
	}
	if n, err := s.StatusEvents(ctx, "cred_1"); err != nil || n != 1 {
		t.Errorf("StatusEvents = %d, %v", n, err)
	}
}

// TestAuditLogPages: entries come back per agency, oldest first, a page at a time; the log
// refuses updates and deletes.
func TestAuditLogPages(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"ag_a", "ag_b"} {
		if err := s.CreateAgency(ctx, issuer.Agency{ID: id, Name: id, DID: "did:ez:" + id, KID: "did:ez:" + id + "#key-1", CreatedAt: at}, issuer.AgencySecrets{Signing: []byte{1}, Update: []byte{2}, Recovery: []byte{3}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		for _, id := range []string{"ag_a", "ag_b"} {
			if err := s.AppendAudit(ctx, issuer.AuditEntry{AgencyID: id, At: at, Actor: "token:0011", Action: issuer.AuditClientCreate, Target: id + "/" + string(rune('0'+i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var targets []string
	after := int64(0)
	for {
		page, more, err := s.AuditLog(ctx, "ag_a", after, 2)
		if err != nil || len(page) > 2 {
			t.Fatalf("page after %d: %d entries, %v", after, len(page), err)
		}
		for _, e := range page {
			if e.AgencyID != "ag_a" || e.Seq <= after || e.Detail != nil {
				t.Fatalf("entry %+v", e)
			}
			targets = append(targets, e.Target)
			after = e.Seq
		}
		if !more {
			break
		}
	}
	if want := []string{"ag_a/0", "ag_a/1", "ag_a/2", "ag_a/3", "ag_a/4"}; !slices.Equal(targets, want) {
		t.Fatalf("targets %v, want %v", targets, want)
	}
	for _, q := range []string{`UPDATE audit_log SET reason = 'x'`, `DELETE FROM audit_log WHERE agency_id = 'ag_a'`} {
		if _, err := s.db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
}
